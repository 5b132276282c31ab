namespace LispMobility.Lisp.Messages;

/// <summary>LISP control message types (RFC 9301 §5.1, the first 4 bits of every message).</summary>
public enum LispMessageType : byte
{
    /// <summary>Reserved.</summary>
    Reserved = 0,
    /// <summary>Map-Request.</summary>
    MapRequest = 1,
    /// <summary>Map-Reply.</summary>
    MapReply = 2,
    /// <summary>Map-Register.</summary>
    MapRegister = 3,
    /// <summary>Map-Notify.</summary>
    MapNotify = 4,
    /// <summary>Map-Notify-Ack.</summary>
    MapNotifyAck = 5,
    /// <summary>Map-Referral (LISP-DDT); recognised, not handled.</summary>
    MapReferral = 6,
    /// <summary>Encapsulated Control Message.</summary>
    EncapsulatedControlMessage = 8,
}

/// <summary>UDP ports of LISP (RFC 9300/9301).</summary>
public static class LispPorts
{
    /// <summary>The control-plane port.</summary>
    public const int Control = 4342;

    /// <summary>The data-plane port.</summary>
    public const int Data = 4341;
}
