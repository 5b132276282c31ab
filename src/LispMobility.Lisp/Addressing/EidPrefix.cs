using System.Globalization;
using System.Net;

namespace LispMobility.Lisp.Addressing;

/// <summary>An EID-prefix: an address (with its instance ID, if any) and a mask length; host bits are always zero.</summary>
public readonly struct EidPrefix : IEquatable<EidPrefix>
{
    /// <summary>Builds a prefix, clearing the host bits of <paramref name="address"/>.</summary>
    public EidPrefix(LispAddress address, int maskLength)
    {
        if (address.IsIp && (maskLength < 0 || maskLength > address.MaxMaskLength))
        {
            throw new ArgumentOutOfRangeException(nameof(maskLength), $"mask length {maskLength} does not fit a {address.Kind} address");
        }

        if (maskLength is < 0 or > 255) throw new ArgumentOutOfRangeException(nameof(maskLength));
        Address = address.Mask(maskLength);
        MaskLength = (byte)maskLength;
    }

    /// <summary>The prefix address (host bits zero).</summary>
    public LispAddress Address { get; }

    /// <summary>The mask length in bits.</summary>
    public byte MaskLength { get; }

    /// <summary>The instance ID, or null.</summary>
    public uint? InstanceId => Address.HasInstanceId ? Address.InstanceId : null;

    /// <summary>True for a /32 (IPv4) or /128 (IPv6).</summary>
    public bool IsHost => Address.IsIp && MaskLength == Address.MaxMaskLength;

    /// <summary>The host prefix (/32 or /128) of an address.</summary>
    public static EidPrefix Host(LispAddress address) => new(address, address.MaxMaskLength);

    /// <summary>The host prefix of an IP address, optionally in an instance.</summary>
    public static EidPrefix Host(IPAddress address, uint? instanceId = null) =>
        Host(LispAddress.FromIPAddress(address).WithInstanceId(instanceId));

    /// <summary>True when <paramref name="address"/> lies inside this prefix (same family and instance).</summary>
    public bool Contains(LispAddress address) => Address.SharesPrefix(address, MaskLength);

    /// <summary>True when <paramref name="other"/> is this prefix or a more specific one inside it.</summary>
    public bool Contains(EidPrefix other) => other.MaskLength >= MaskLength && Contains(other.Address);

    /// <summary>Parses "10.1.0.0/16", "[1000]10.1.0.0/16", "2001:db8::/32"; a bare address is a host prefix.</summary>
    public static bool TryParse(string? text, out EidPrefix prefix)
    {
        prefix = default;
        if (string.IsNullOrWhiteSpace(text)) return false;
        var slash = text.LastIndexOf('/');
        var addressText = slash < 0 ? text : text[..slash];
        if (!LispAddress.TryParse(addressText, out var address)) return false;
        var length = address.MaxMaskLength;
        if (slash >= 0 && (!int.TryParse(text.AsSpan(slash + 1), NumberStyles.None, CultureInfo.InvariantCulture, out length) || length > address.MaxMaskLength))
        {
            return false;
        }

        prefix = new EidPrefix(address, length);
        return true;
    }

    /// <summary>Parses like <see cref="TryParse"/>, throwing <see cref="FormatException"/> otherwise.</summary>
    public static EidPrefix Parse(string text) =>
        TryParse(text, out var p) ? p : throw new FormatException($"'{text}' is not an EID prefix such as 10.1.0.0/16 or [1000]10.1.0.0/16");

    /// <inheritdoc />
    public bool Equals(EidPrefix other) => MaskLength == other.MaskLength && Address.Equals(other.Address);

    /// <inheritdoc />
    public override bool Equals(object? obj) => obj is EidPrefix p && Equals(p);

    /// <inheritdoc />
    public override int GetHashCode() => HashCode.Combine(Address, MaskLength);

    /// <summary>Equality.</summary>
    public static bool operator ==(EidPrefix left, EidPrefix right) => left.Equals(right);

    /// <summary>Inequality.</summary>
    public static bool operator !=(EidPrefix left, EidPrefix right) => !left.Equals(right);

    /// <summary>"[iid]address/len".</summary>
    public override string ToString() => Address.IsIp || Address.Kind == AddressKind.None
        ? string.Create(CultureInfo.InvariantCulture, $"{Address}/{MaskLength}")
        : Address.ToString();
}
