namespace LispMobility.TestSupport;

/// <summary>The programs on PATH that tests and measurements run.</summary>
public static class Executables
{
    /// <summary>The full path of <paramref name="name"/> in the first PATH directory that has it, or null.</summary>
    public static string? Find(string name)
    {
        var path = Environment.GetEnvironmentVariable("PATH") ?? "/usr/bin:/bin";
        foreach (var dir in path.Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
        {
            var candidate = Path.Combine(dir, name);
            if (File.Exists(candidate)) return candidate;
        }

        return null;
    }
}
