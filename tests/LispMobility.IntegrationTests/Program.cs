namespace LispMobility.IntegrationTests;

/// <summary>
/// Entry point outside the test run: <c>measure</c> runs the lab measurements of docs/benchmarks.md (System test), <c>measure-outage</c> the data plane's live-move outage.
/// </summary>
public static class Program
{
    public static async Task<int> Main(string[] args)
    {
        switch (args.FirstOrDefault())
        {
            case "measure":
                return await Measurements.RunAsync(args.Skip(1).ToArray(), Console.Out);
            case "measure-outage":
                return await DataPlaneMeasurements.RunAsync(args.Skip(1).ToArray(), Console.Out);
            default:
                Console.Error.WriteLine("usage: dotnet LispMobility.IntegrationTests.dll measure [--runs N] [--eids N] | measure-outage [--moves 20] [--settle SECONDS] [--logs DIR] [--device tun|veth]");
                return 2;
        }
    }
}
