using LispMobility.MappingSystem.Configuration;
using Microsoft.Extensions.Logging;

namespace LispMobility.MappingSystem.Tests;

/// <summary>The one mapping from Serilog's level names (Log:MinimumLevel) to Microsoft.Extensions.Logging levels.</summary>
public sealed class LogLevelNamesTests
{
    [Theory]
    [InlineData("Verbose", LogLevel.Trace)]
    [InlineData("Debug", LogLevel.Debug)]
    [InlineData("information", LogLevel.Information)]
    [InlineData("WARNING", LogLevel.Warning)]
    [InlineData("Error", LogLevel.Error)]
    [InlineData("Fatal", LogLevel.Critical)]
    public void Each_serilog_name_maps_to_its_level_whatever_its_case(string name, LogLevel expected)
    {
        Assert.True(LogLevelNames.TryParse(name, out var level));
        Assert.Equal(expected, level);
    }

    [Theory]
    [InlineData("Loud")]
    [InlineData("Trace")]
    [InlineData("Critical")]
    [InlineData("2")]
    [InlineData("")]
    [InlineData(null)]
    public void Anything_else_is_refused(string? name) => Assert.False(LogLevelNames.TryParse(name, out _));
}
