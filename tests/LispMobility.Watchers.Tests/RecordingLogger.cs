using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace LispMobility.Watchers.Tests;

/// <summary>Keeps every formatted log line, so tests can check what an operator would read (and that no secret is in it).</summary>
internal sealed class RecordingLogger<T> : ILogger<T>
{
    public ConcurrentQueue<(LogLevel Level, EventId Id, string Message)> Lines { get; } = new();

    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => true;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
        Lines.Enqueue((logLevel, eventId, formatter(state, exception) + (exception is null ? "" : " | " + exception)));

    public string All => string.Join(Environment.NewLine, Lines.Select(l => $"{l.Level} {l.Id.Id} {l.Message}"));
}
