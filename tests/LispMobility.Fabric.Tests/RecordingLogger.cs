using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace LispMobility.Fabric.Tests;

/// <summary>Keeps every formatted log line with its event id and structured fields, to check what a driver logs.</summary>
internal sealed class RecordingLogger<T> : ILogger<T>
{
    public ConcurrentQueue<(int EventId, LogLevel Level, string Message, string Fields)> Entries { get; } = new();

    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => true;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        var fields = state is IEnumerable<KeyValuePair<string, object?>> pairs ? string.Join(";", pairs.Select(p => $"{p.Key}={p.Value}")) : "";
        Entries.Enqueue((eventId.Id, logLevel, formatter(state, exception), fields + ";" + exception));
    }
}
