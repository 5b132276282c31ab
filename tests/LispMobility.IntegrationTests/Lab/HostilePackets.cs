using System.Net;
using System.Text;
using LispMobility.Lisp.Addressing;
using LispMobility.Lisp.Messages;
using LispMobility.Lisp.Records;

namespace LispMobility.IntegrationTests.Lab;

/// <summary>Control messages an attacker (or a broken peer) on the core could send, built with the product's own wire library.</summary>
public static class HostilePackets
{
    /// <summary>A signed Map-Register of <paramref name="eid"/>/32 at <paramref name="rloc"/> (M bit set, as a moving xTR sends it).</summary>
    public static byte[] MapRegister(string eid, string rloc, string key, ulong nonce, UInt128? xtrId = null) => new MapRegister
    {
        Nonce = nonce, KeyId = 1, WantMapNotify = true, XtrId = xtrId,
        Records = [new MappingRecord { Eid = EidPrefix.Host(IPAddress.Parse(eid)), Ttl = 1440, Authoritative = true, Locators = [new Locator(LispAddress.FromIPAddress(IPAddress.Parse(rloc)))] }],
    }.ToSignedArray(Encoding.UTF8.GetBytes(key));

    /// <summary>A Map-Notify telling an xTR that <paramref name="eid"/> moved to <paramref name="rloc"/>, signed with a key nobody configured.</summary>
    public static byte[] ForgedMapNotify(string eid, string rloc, ulong nonce) => new MapNotify
    {
        Nonce = nonce, KeyId = 1,
        Records = [new MappingRecord { Eid = EidPrefix.Host(IPAddress.Parse(eid)), Ttl = 1440, Locators = [new Locator(LispAddress.FromIPAddress(IPAddress.Parse(rloc)))] }],
    }.ToSignedArray(Encoding.UTF8.GetBytes("not-the-key"));

    /// <summary>A mix for floods: garbage, truncated and wrongly keyed registers, forged notifies, a Map-Request header cut short.</summary>
    public static IReadOnlyList<byte[]> FloodMix()
    {
        var random = new Random(4342);
        var garbage = new byte[64];
        random.NextBytes(garbage);
        var register = MapRegister("172.16.4.10", "198.18.0.66", "wrong-key", 0x1234);
        return
        [
            garbage,
            register[..10],
            register,
            ForgedMapNotify("172.16.4.10", "198.18.0.66", 0x5678),
            [0x10, 0x00, 0x00, 0x01, 0xde, 0xad],
        ];
    }
}
