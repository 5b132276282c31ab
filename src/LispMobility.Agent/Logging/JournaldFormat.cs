using System.Buffers.Binary;
using System.Globalization;
using System.Text;
using Serilog.Events;

namespace LispMobility.Agent.Logging;

/// <summary>The journald native protocol (systemd.journal-fields(7), "Native Journal Protocol"): one datagram of fields.</summary>
/// <remarks>
/// A field is <c>NAME=value\n</c>, or — when the value holds a newline — <c>NAME\n</c>, the value's length as a
/// little-endian 64-bit integer, the value, <c>\n</c>. Names are A–Z, 0–9 and '_', at most 64 characters, and may not
/// start with '_' (those are the journal's trusted fields) or a digit.
/// </remarks>
internal static class JournaldFormat
{
    public const int MaxFieldNameLength = 64;

    // journald's own limit is far larger, but a datagram must fit the socket's send buffer (net.core.wmem_default,
    // about 208 KiB); capping each value keeps one huge exception from costing the whole event.
    public const int MaxValueBytes = 48 * 1024;

    public static void AppendField(Stream output, string name, string value)
    {
        var bytes = Encoding.UTF8.GetBytes(value);
        var length = Math.Min(bytes.Length, MaxValueBytes);
        output.Write(Encoding.ASCII.GetBytes(name));
        if (Array.IndexOf(bytes, (byte)'\n', 0, length) < 0)
        {
            output.WriteByte((byte)'=');
            output.Write(bytes, 0, length);
        }
        else
        {
            output.WriteByte((byte)'\n');
            Span<byte> size = stackalloc byte[sizeof(ulong)];
            BinaryPrimitives.WriteUInt64LittleEndian(size, (ulong)length);
            output.Write(size);
            output.Write(bytes, 0, length);
        }
        output.WriteByte((byte)'\n');
    }

    /// <summary>syslog(3) priorities: debug 7, info 6, warning 4, err 3, crit 2.</summary>
    public static int Priority(LogEventLevel level) => level switch
    {
        LogEventLevel.Verbose or LogEventLevel.Debug => 7,
        LogEventLevel.Information => 6,
        LogEventLevel.Warning => 4,
        LogEventLevel.Error => 3,
        _ => 2,
    };

    /// <summary>A journal field name for a property: <c>SourceContext</c> → <c>SOURCE_CONTEXT</c>; null when nothing usable is left.</summary>
    public static string? FieldName(string propertyName)
    {
        var builder = new StringBuilder(propertyName.Length + 4);
        for (var i = 0; i < propertyName.Length; i++)
        {
            var c = propertyName[i];
            // A word boundary in camel case (vmName, EidPrefix, Ipv4Address) becomes an underscore.
            if (char.IsAsciiLetterUpper(c) && i > 0 && (char.IsAsciiLetterLower(propertyName[i - 1]) || char.IsAsciiDigit(propertyName[i - 1])))
                builder.Append('_');
            builder.Append(char.IsAsciiLetterOrDigit(c) ? char.ToUpperInvariant(c) : '_');
        }
        var name = builder.ToString().TrimStart('_');
        if (name.Length == 0) return null;
        if (char.IsAsciiDigit(name[0])) name = "F_" + name;
        return name.Length > MaxFieldNameLength ? name[..MaxFieldNameLength] : name;
    }

    /// <summary>The message as an operator reads it: string values without Serilog's quotes (the <c>:lj</c> format).</summary>
    public static string RenderMessage(LogEvent logEvent, IFormatProvider? formatProvider)
    {
        using var writer = new StringWriter(CultureInfo.InvariantCulture);
        new Serilog.Formatting.Display.MessageTemplateTextFormatter("{Message:lj}", formatProvider).Format(logEvent, writer);
        return writer.ToString();
    }

    /// <summary>A property value as plain text: strings without Serilog's quotes, numbers in the invariant culture.</summary>
    public static string Render(LogEventPropertyValue value) => value switch
    {
        ScalarValue { Value: null } => "",
        ScalarValue { Value: string s } => s,
        ScalarValue { Value: IFormattable f } => f.ToString(null, CultureInfo.InvariantCulture),
        ScalarValue scalar => scalar.Value.ToString() ?? "",
        _ => value.ToString(null, CultureInfo.InvariantCulture),
    };
}
