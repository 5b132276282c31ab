using Microsoft.Extensions.Logging.Testing;

namespace LispMobility.Watchers.Tests;

internal static class FakeLogs
{
    /// <summary>Every record as an operator would read it, exceptions included, so tests can check that no secret is in it.</summary>
    public static string Text(this FakeLogger logger) =>
        string.Join(Environment.NewLine, logger.Collector.GetSnapshot().Select(r =>
            $"{r.Level} {r.Id.Id} {r.Message}{(r.Exception is null ? "" : " | " + r.Exception)}"));
}
