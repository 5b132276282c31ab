using System.Runtime.InteropServices;
using LispMobility.MappingSystem.Configuration;
using LispMobility.MappingSystem.Hosting;
using Microsoft.Extensions.Logging;

// lispmobility-map-server --config FILE: the agent's `map-server` verb as a native executable.
if (args is not ["--config", var path])
{
    await Console.Error.WriteLineAsync("usage: lispmobility-map-server --config FILE (the agent's configuration file: its MapServer and Log:MinimumLevel)").ConfigureAwait(false);
    return 64;
}

var errors = new List<string>();
var options = MapServerFile.Load(path, out var level, errors);
if (options is null)
{
    foreach (var e in errors) await Console.Error.WriteLineAsync($"{Path.GetFileName(path)}: {e}").ConfigureAwait(false);
    return 2;
}

using var stop = new CancellationTokenSource();
using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, Stop);
using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Stop);
using var loggers = LoggerFactory.Create(b => b.AddSimpleConsole(o => o.SingleLine = true).SetMinimumLevel(level));
await StandaloneMapServer.RunAsync(options, loggers, Console.Out, stop.Token).ConfigureAwait(false);
return 0;

void Stop(PosixSignalContext context)
{
    context.Cancel = true;
    stop.Cancel();
}
