using Microsoft.Extensions.Logging;

namespace LispMobility.MappingSystem.Configuration;

/// <summary>
/// Serilog's level names, which <c>Log:MinimumLevel</c> takes in every configuration file, and the Microsoft.Extensions.Logging
/// level each stands for: the native Map-Server and the agent's <c>map-server</c> verb log through the latter.
/// </summary>
public static class LogLevelNames
{
    /// <summary>The accepted names, as an error message lists them.</summary>
    public const string Expected = "Verbose, Debug, Information, Warning, Error, Fatal";

    /// <summary>The level <paramref name="name"/> (case-insensitive) stands for; false for anything else, numbers included.</summary>
    public static bool TryParse(string? name, out LogLevel level)
    {
        level = name?.ToUpperInvariant() switch
        {
            "VERBOSE" => LogLevel.Trace,
            "DEBUG" => LogLevel.Debug,
            "INFORMATION" => LogLevel.Information,
            "WARNING" => LogLevel.Warning,
            "ERROR" => LogLevel.Error,
            "FATAL" => LogLevel.Critical,
            _ => LogLevel.None,
        };
        return level != LogLevel.None;
    }
}
