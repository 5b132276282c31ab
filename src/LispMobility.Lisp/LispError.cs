using System.Globalization;

namespace LispMobility.Lisp;

/// <summary>How a buffer failed to decode.</summary>
public enum LispErrorKind : byte
{
    /// <summary>No error.</summary>
    None = 0,
    /// <summary>The buffer ends before a field the message declares.</summary>
    Truncated,
    /// <summary>A field holds a value the RFC does not allow.</summary>
    Invalid,
    /// <summary>A well-formed value this implementation does not handle (an unknown AFI, say).</summary>
    Unsupported,
}

/// <summary>
/// What went wrong while reading, and where: the field and its byte offset from the start of the
/// datagram. A struct of constants and integers so that a failed read allocates nothing; the text
/// is built only when someone asks for it.
/// </summary>
public readonly struct LispError : IEquatable<LispError>
{
    private LispError(LispErrorKind kind, string field, int offset, long value, int recordIndex, int recordCount, string? detail)
    {
        Kind = kind;
        Field = field;
        Offset = offset;
        Value = value;
        RecordIndex = recordIndex;
        RecordCount = recordCount;
        Detail = detail;
    }

    /// <summary>The kind of failure; <see cref="LispErrorKind.None"/> when there is none.</summary>
    public LispErrorKind Kind { get; }

    /// <summary>The field being read, as the RFC names it.</summary>
    public string Field { get; }

    /// <summary>Byte offset of the field from the start of the datagram.</summary>
    public int Offset { get; }

    /// <summary>The offending value (for <see cref="LispErrorKind.Invalid"/> and <see cref="LispErrorKind.Unsupported"/>), or the declared length.</summary>
    public long Value { get; }

    /// <summary>Zero-based index of the record being read when the error happened, or -1.</summary>
    public int RecordIndex { get; }

    /// <summary>The record count the header declared, when <see cref="RecordIndex"/> is set.</summary>
    public int RecordCount { get; }

    /// <summary>A constant explanation, when the field name alone does not say enough.</summary>
    public string? Detail { get; }

    /// <summary>True when this is an error.</summary>
    public bool IsError => Kind != LispErrorKind.None;

    /// <summary>A buffer ending at <paramref name="offset"/> while <paramref name="field"/> needed <paramref name="needed"/> bytes.</summary>
    public static LispError Truncated(string field, int offset, int needed) =>
        new(LispErrorKind.Truncated, field, offset, needed, -1, 0, null);

    /// <summary>A field with a value the RFC does not allow.</summary>
    public static LispError Invalid(string field, int offset, long value, string? detail = null) =>
        new(LispErrorKind.Invalid, field, offset, value, -1, 0, detail);

    /// <summary>A value that is well-formed but not handled here.</summary>
    public static LispError Unsupported(string field, int offset, long value, string? detail = null) =>
        new(LispErrorKind.Unsupported, field, offset, value, -1, 0, detail);

    /// <summary>The same error, placed inside record <paramref name="index"/> of <paramref name="count"/>.</summary>
    public LispError InRecord(int index, int count) =>
        new(Kind, Field, Offset, Value, index, count, Detail);

    /// <inheritdoc />
    public override string ToString()
    {
        var ci = CultureInfo.InvariantCulture;
        if (Kind == LispErrorKind.None) return "no error";
        if (Kind == LispErrorKind.Truncated && RecordIndex >= 0)
        {
            return string.Format(ci, "RecordCount says {0}, buffer ends in record {1} at offset {2} ({3} needs {4} bytes)",
                RecordCount, RecordIndex + 1, Offset, Field, Value);
        }

        var where = RecordIndex >= 0 ? string.Format(ci, " in record {0} of {1}", RecordIndex + 1, RecordCount) : string.Empty;
        return Kind switch
        {
            LispErrorKind.Truncated => string.Format(ci, "buffer ends at offset {0}: {1} needs {2} bytes{3}", Offset, Field, Value, where),
            LispErrorKind.Invalid => string.Format(ci, "{0} is invalid ({1}) at offset {2}{3}{4}", Field, Value, Offset, where, Detail is null ? "" : ": " + Detail),
            _ => string.Format(ci, "{0} {1} is not supported at offset {2}{3}{4}", Field, Value, Offset, where, Detail is null ? "" : ": " + Detail),
        };
    }

    /// <inheritdoc />
    public bool Equals(LispError other) =>
        Kind == other.Kind && Field == other.Field && Offset == other.Offset && Value == other.Value &&
        RecordIndex == other.RecordIndex && RecordCount == other.RecordCount && Detail == other.Detail;

    /// <inheritdoc />
    public override bool Equals(object? obj) => obj is LispError e && Equals(e);

    /// <inheritdoc />
    public override int GetHashCode() => HashCode.Combine(Kind, Field, Offset, Value, RecordIndex);

    /// <summary>Equality.</summary>
    public static bool operator ==(LispError left, LispError right) => left.Equals(right);

    /// <summary>Inequality.</summary>
    public static bool operator !=(LispError left, LispError right) => !left.Equals(right);
}
