namespace LispMobility.Lisp.Records;

/// <summary>ACT field of a mapping record: what an ITR does with a negative entry (RFC 9301 §5.4).</summary>
public enum MapReplyAction : byte
{
    /// <summary>No action (a positive record, or drop silently for a negative one).</summary>
    NoAction = 0,
    /// <summary>Forward natively, without encapsulation.</summary>
    NativelyForward = 1,
    /// <summary>Send a Map-Request.</summary>
    SendMapRequest = 2,
    /// <summary>Drop: no reason given.</summary>
    Drop = 3,
    /// <summary>Drop: policy denied.</summary>
    DropPolicyDenied = 4,
    /// <summary>Drop: authentication failure.</summary>
    DropAuthFailure = 5,
}
