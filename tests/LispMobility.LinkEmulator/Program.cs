using System.Runtime.InteropServices;

namespace LispMobility.LinkEmulator;

/// <summary>
/// Entry point: <c>dotnet LispMobility.LinkEmulator.dll --queue N --delay-ms 50 --loss-percent 30</c>, started inside a
/// namespace whose iptables rules send packets to NFQUEUE queue N. Runs until SIGTERM or SIGINT.
/// </summary>
public static class Program
{
    /// <summary>0 after a stop, 1 when the queue could not be served, 2 on a bad command line.</summary>
    public static int Main(string[] args)
    {
        var options = LinkEmulatorOptions.Parse(args, out var errors);
        if (errors.Count > 0)
        {
            foreach (var e in errors) Console.Error.WriteLine($"link emulator: {e}");
            Console.Error.WriteLine(LinkEmulatorOptions.Usage);
            return 2;
        }

        using var stop = new CancellationTokenSource();
        void Stop(PosixSignalContext context)
        {
            context.Cancel = true; // the receive loop ends within its receive timeout and reports what it did
            stop.Cancel();
        }

        using var term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Stop);
        using var interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, Stop);
        return new NfQueueEmulator(options, Console.Out, Console.Error, TimeProvider.System).Run(stop.Token);
    }
}
