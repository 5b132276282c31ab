namespace LispMobility.MappingSystem.Tests;

/// <summary>
/// A fact about the published native Map-Server (src/LispMobility.MapServer): scripts/test.sh publishes it and names it in
/// LISPMOBILITY_NATIVE_MAP_SERVER; a plain <c>dotnet test</c> skips these (the publish takes a minute), saying so. Set but missing, the test fails.
/// </summary>
public sealed class NativeMapServerFactAttribute : FactAttribute
{
    /// <summary>The executable, when given.</summary>
    public static string? Executable => Environment.GetEnvironmentVariable("LISPMOBILITY_NATIVE_MAP_SERVER");

    /// <summary>Skips without the executable.</summary>
    public NativeMapServerFactAttribute()
    {
        if (string.IsNullOrEmpty(Executable)) Skip = "LISPMOBILITY_NATIVE_MAP_SERVER is not set (scripts/test.sh publishes the native Map-Server and sets it)";
    }
}
