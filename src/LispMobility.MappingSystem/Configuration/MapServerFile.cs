using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.Extensions.Logging;

namespace LispMobility.MappingSystem.Configuration;

/// <summary>
/// Reads a Map-Server's configuration file (its "MapServer" and "Log:MinimumLevel") without reflection, for the native
/// (ahead-of-time compiled) Map-Server, where configuration binding is not available: the binder's source generator left
/// the init-only <see cref="MapServerOptions.Sites"/> empty without a word (issue #18). Keys are matched as the agent's
/// binder matches them (case-insensitively, unknown keys refused); the other sections of an agent's file are ignored.
/// </summary>
public static class MapServerFile
{
    /// <summary>Reads and validates <paramref name="path"/>; null with every error when anything is wrong.</summary>
    public static MapServerOptions? Load(string path, out LogLevel minimumLevel, List<string> errors)
    {
        ArgumentNullException.ThrowIfNull(errors);
        minimumLevel = LogLevel.Information;
        MapServerFileRoot? root;
        try
        {
            using var stream = File.OpenRead(path);
            root = JsonSerializer.Deserialize(stream, MapServerFileContext.Default.MapServerFileRoot);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            errors.Add($"cannot read {path}: {e.Message}");
            return null;
        }
        catch (JsonException e)
        {
            errors.Add($"{e.Path}: {e.InnerException?.Message ?? e.Message}");
            return null;
        }

        if (root?.MapServer is not { } options)
        {
            errors.Add("MapServer: section missing");
            return null;
        }

        var level = root.Log?.MinimumLevel;
        if (level is not null && !LogLevelNames.TryParse(level, out minimumLevel))
        {
            errors.Add($"Log.MinimumLevel: '{level}' is not one of {LogLevelNames.Expected}");
        }

        errors.AddRange(options.Validate());
        return errors.Count == 0 ? options : null;
    }
}

/// <summary>The sections of a configuration file the Map-Server reads.</summary>
internal sealed record MapServerFileRoot
{
    public MapServerOptions? MapServer { get; init; }

    public MapServerFileLog? Log { get; init; }

    /// <summary>An agent's other sections (Xtr, Mobility, …): not the Map-Server's to check.</summary>
    /// <remarks>Settable: the source generator binds init-only properties as constructor parameters, extension data cannot be one.</remarks>
    [JsonExtensionData]
    public Dictionary<string, JsonElement>? Other { get; set; }
}

/// <summary>The part of the "Log" section the Map-Server reads.</summary>
internal sealed record MapServerFileLog
{
    public string? MinimumLevel { get; init; }

    /// <summary>The agent's other logging settings (file, retention, …).</summary>
    [JsonExtensionData]
    public Dictionary<string, JsonElement>? Other { get; set; }
}

[JsonSourceGenerationOptions(
    PropertyNameCaseInsensitive = true, UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow, UseStringEnumConverter = true,
    ReadCommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true, NumberHandling = JsonNumberHandling.AllowReadingFromString)]
[JsonSerializable(typeof(MapServerFileRoot))]
internal sealed partial class MapServerFileContext : JsonSerializerContext;
