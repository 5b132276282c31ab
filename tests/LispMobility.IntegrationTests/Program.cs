namespace LispMobility.IntegrationTests;

/// <summary>
/// Entry point outside the test run: <c>measure</c> runs the lab measurements of docs/benchmarks.md (System test).
/// </summary>
public static class Program
{
    public static async Task<int> Main(string[] args)
    {
        switch (args.FirstOrDefault())
        {
            case "measure":
                return await Measurements.RunAsync(args.Skip(1).ToArray(), Console.Out);
            default:
                Console.Error.WriteLine("usage: dotnet LispMobility.IntegrationTests.dll measure [--runs N] [--eids N]");
                return 2;
        }
    }
}
