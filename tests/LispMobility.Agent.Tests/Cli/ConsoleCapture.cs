namespace LispMobility.Agent.Tests.Cli;

/// <summary>Tests that read what a verb writes to the process's console run alone: Console.SetOut/SetError are process-wide.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ConsoleCollection
{
    public const string Name = "console";
}

/// <summary>Captures stdout and stderr while a verb runs.</summary>
internal static class ConsoleCapture
{
    public static async Task<(int Exit, string Out, string Error)> RunAsync(Func<Task<int>> verb)
    {
        var (savedOut, savedError) = (Console.Out, Console.Error);
        var (output, error) = (new StringWriter(), new StringWriter());
        Console.SetOut(output);
        Console.SetError(error);
        try
        {
            var exit = await verb();
            return (exit, output.ToString(), error.ToString());
        }
        finally
        {
            Console.SetOut(savedOut);
            Console.SetError(savedError);
        }
    }
}
