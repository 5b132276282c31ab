namespace LispMobility.Lisp.Addressing;

/// <summary>Address Family Identifiers LISP uses (IANA "Address Family Numbers").</summary>
public enum Afi : ushort
{
    /// <summary>No address (RFC 9301 allows AFI 0 for an absent source EID).</summary>
    None = 0,
    /// <summary>IPv4.</summary>
    IPv4 = 1,
    /// <summary>IPv6.</summary>
    IPv6 = 2,
    /// <summary>LISP Canonical Address Format (RFC 8060).</summary>
    Lcaf = 16387,
}

/// <summary>LCAF types (RFC 8060 §3) that are parsed; any other type is carried opaquely.</summary>
public enum LcafType : byte
{
    /// <summary>Type 1: a list of addresses of different AFIs.</summary>
    AfiList = 1,
    /// <summary>Type 2: a 24-bit instance ID qualifying the address after it.</summary>
    InstanceId = 2,
}

/// <summary>What a <see cref="LispAddress"/> holds.</summary>
public enum AddressKind : byte
{
    /// <summary>AFI 0.</summary>
    None = 0,
    /// <summary>An IPv4 address.</summary>
    IPv4,
    /// <summary>An IPv6 address.</summary>
    IPv6,
    /// <summary>LCAF type 1: several addresses.</summary>
    AfiList,
    /// <summary>An LCAF of a type not parsed here, kept as raw bytes so it can be written back unchanged.</summary>
    OpaqueLcaf,
}
