using System.Globalization;
using System.Text;
using System.Text.Json;

namespace LispMobility.Agent.Configuration;

/// <summary>One value of a configuration file with where it stands in the file, so an error can name its line and column.</summary>
internal sealed class ConfigNode
{
    public JsonValueKind Kind { get; init; }

    /// <summary>A scalar's text as the configuration binder would see it (numbers and booleans as written); null for null.</summary>
    public string? Text { get; init; }

    public int Line { get; init; }

    public int Column { get; init; }

    /// <summary>An object's members in file order (a list, not a dictionary: duplicates are reported, not lost).</summary>
    public List<ConfigMember> Members { get; } = [];

    public List<ConfigNode> Items { get; } = [];

    public bool IsScalar => Kind is not (JsonValueKind.Object or JsonValueKind.Array);

    public string Describe() => Kind switch
    {
        JsonValueKind.Object => "an object { }",
        JsonValueKind.Array => "a list [ ]",
        JsonValueKind.Null => "null",
        _ => $"'{Text}'",
    };
}

/// <summary>A key of an object, where it is written, and its value.</summary>
internal sealed record ConfigMember(string Key, int Line, int Column, ConfigNode Value);

/// <summary>Reads a configuration file the way the JSON configuration provider does (comments and trailing commas allowed), keeping positions.</summary>
internal static class ConfigDocument
{
    /// <summary>The file's root object, or null with a syntax error naming line and column.</summary>
    public static ConfigNode? Parse(byte[] utf8, out ConfigError? error)
    {
        error = null;
        if (utf8.All(b => b is (byte)' ' or (byte)'\t' or (byte)'\r' or (byte)'\n'))
        {
            error = new ConfigError("(syntax)", "the file is empty; write one JSON object { \"Xtr\": { ... }, ... } (see config/appsettings.example.json)", 1, 1);
            return null;
        }

        var reader = new Utf8JsonReader(utf8, new JsonReaderOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
        try
        {
            reader.Read();
            var root = ReadValue(ref reader, utf8);
            if (reader.Read()) throw new JsonException("text after the closing }", null, reader.CurrentState.Options.MaxDepth, 0);
            if (root.Kind != JsonValueKind.Object)
            {
                error = new ConfigError("(root)", "the file must be one JSON object { \"Xtr\": { ... }, ... }", root.Line, root.Column);
                return null;
            }

            return root;
        }
        catch (JsonException e)
        {
            // The reader's line and byte position are zero-based; editors count from 1.
            var line = (int)(e.LineNumber ?? 0) + 1;
            var column = (int)(e.BytePositionInLine ?? 0) + 1;
            error = new ConfigError("(syntax)", $"not valid JSON: {FirstSentence(e.Message)}; check for a missing comma, quote or bracket just before", line, column);
            return null;
        }
    }

    private static string FirstSentence(string message)
    {
        var cut = message.IndexOf(" LineNumber:", StringComparison.Ordinal);
        return (cut > 0 ? message[..cut] : message).TrimEnd(' ', '.');
    }

    private static ConfigNode ReadValue(ref Utf8JsonReader reader, byte[] utf8)
    {
        var (line, column) = Position(utf8, (int)reader.TokenStartIndex);
        switch (reader.TokenType)
        {
            case JsonTokenType.StartObject:
            {
                var node = new ConfigNode { Kind = JsonValueKind.Object, Line = line, Column = column };
                while (reader.Read() && reader.TokenType != JsonTokenType.EndObject)
                {
                    var key = reader.GetString()!;
                    var (keyLine, keyColumn) = Position(utf8, (int)reader.TokenStartIndex);
                    reader.Read();
                    node.Members.Add(new ConfigMember(key, keyLine, keyColumn, ReadValue(ref reader, utf8)));
                }

                return node;
            }

            case JsonTokenType.StartArray:
            {
                var node = new ConfigNode { Kind = JsonValueKind.Array, Line = line, Column = column };
                while (reader.Read() && reader.TokenType != JsonTokenType.EndArray) node.Items.Add(ReadValue(ref reader, utf8));
                return node;
            }

            case JsonTokenType.String:
                return new ConfigNode { Kind = JsonValueKind.String, Text = reader.GetString(), Line = line, Column = column };
            case JsonTokenType.Number:
                return new ConfigNode { Kind = JsonValueKind.Number, Text = Encoding.UTF8.GetString(reader.ValueSpan), Line = line, Column = column };
            case JsonTokenType.True or JsonTokenType.False:
                return new ConfigNode { Kind = reader.TokenType == JsonTokenType.True ? JsonValueKind.True : JsonValueKind.False,
                    Text = reader.GetBoolean().ToString(CultureInfo.InvariantCulture), Line = line, Column = column };
            default:
                return new ConfigNode { Kind = JsonValueKind.Null, Line = line, Column = column };
        }
    }

    private static (int Line, int Column) Position(byte[] utf8, int offset)
    {
        int line = 1, start = 0;
        for (var i = 0; i < offset && i < utf8.Length; i++)
        {
            if (utf8[i] == (byte)'\n')
            {
                line++;
                start = i + 1;
            }
        }

        // Columns count characters, not UTF-8 bytes, as editors do.
        return (line, Encoding.UTF8.GetCharCount(utf8, start, Math.Max(0, Math.Min(offset, utf8.Length) - start)) + 1);
    }
}

/// <summary>One configuration problem: where (JSON path, and line/column when the file shows it) and what to do.</summary>
internal sealed record ConfigError(string Path, string Message, int? Line = null, int? Column = null)
{
    /// <inheritdoc />
    public override string ToString() => Line is { } l
        ? string.Create(CultureInfo.InvariantCulture, $"{Path} (line {l}, column {Column}): {Message}")
        : $"{Path}: {Message}";
}
