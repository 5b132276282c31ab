using System.Globalization;
using System.Net;
using LispMobility.Lisp.Addressing;

namespace LispMobility.MappingSystem.Registrations;

/// <summary>Who registered: the xTR-ID when the Map-Register carried one, else the registrant's address.</summary>
public readonly record struct RegistrantId(UInt128 Value, bool IsXtrId)
{
    /// <summary>The identity of a registrant without xTR-ID.</summary>
    public static RegistrantId FromAddress(IPAddress address)
    {
        var a = LispAddress.FromIPAddress(address);
        return a.Kind == AddressKind.IPv4 ? new RegistrantId(a.IPv4Value, false) : new RegistrantId(new UInt128(a.IPv6High, a.IPv6Low), false);
    }

    /// <inheritdoc />
    public override string ToString() => IsXtrId ? "xtr-id " + Value.ToString("x32", CultureInfo.InvariantCulture) : "address " + Value.ToString(CultureInfo.InvariantCulture);
}
