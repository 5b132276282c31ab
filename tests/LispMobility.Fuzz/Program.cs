using LispMobility.Fuzz;

// lispmobility-fuzz TARGET               the afl++ loop (started by afl-fuzz through scripts/fuzz.sh)
// lispmobility-fuzz TARGET FILE|DIR...   each input once, in process; exit 1 at the first that breaks the target
// lispmobility-fuzz --list               the targets
if (args.Length == 1 && args[0] == "--list")
{
    foreach (var name in FuzzTargets.Names) Console.WriteLine(name);
    return 0;
}

if (args.Length == 0 || !FuzzTargets.Names.Contains(args[0]))
{
    Console.Error.WriteLine($"usage: lispmobility-fuzz TARGET [FILE|DIR...]; targets: {string.Join(", ", FuzzTargets.Names)}");
    return 2;
}

var target = args[0];
if (args.Length == 1)
{
    SharpFuzz.Fuzzer.OutOfProcess.Run(stream =>
    {
        using var buffer = new MemoryStream();
        stream.CopyTo(buffer);
        FuzzTargets.Run(target, buffer.GetBuffer().AsSpan(0, (int)buffer.Length));
    });
    return 0;
}

var files = args.Skip(1).SelectMany(p => Directory.Exists(p) ? Directory.EnumerateFiles(p, "*", SearchOption.AllDirectories) : [p]).Order(StringComparer.Ordinal);
var count = 0;
foreach (var file in files)
{
    try
    {
        FuzzTargets.Run(target, File.ReadAllBytes(file));
        count++;
    }
    catch (Exception e) when (e is not OutOfMemoryException)
    {
        Console.Error.WriteLine($"{target}: {file}: {e.GetType().Name}: {e.Message}");
        return 1;
    }
}

Console.WriteLine($"{target}: {count} inputs ran clean");
return 0;
