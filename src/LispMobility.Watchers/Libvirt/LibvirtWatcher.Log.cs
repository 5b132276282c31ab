using Microsoft.Extensions.Logging;

namespace LispMobility.Watchers.Libvirt;

// Event ids 4300-4399: the libvirt watcher (WatcherEventIds.md).
public sealed partial class LibvirtWatcher
{
    [LoggerMessage(EventId = 4300, Level = LogLevel.Information, Message = "libvirt: watching {Host} (site {Site}): {Running} running domain(s) read")]
    private partial void LogConnected(string host, string site, int running);

    [LoggerMessage(EventId = 4301, Level = LogLevel.Warning, Message = "libvirt: {Uri}: {Reason}; retrying in {Seconds} s, then with back-off")]
    private partial void LogConnectFailed(string uri, string reason, double seconds);

    [LoggerMessage(EventId = 4302, Level = LogLevel.Debug, Message = "libvirt: {Uri} still refused ({Reason}), attempt {Attempt}; next in {Seconds} s")]
    private partial void LogConnectRetry(string uri, string reason, int attempt, double seconds);

    [LoggerMessage(EventId = 4303, Level = LogLevel.Warning, Message = "libvirt: the connection to {Uri} dropped; reconnecting in {Seconds} s, then a full inventory")]
    private partial void LogDropped(string uri, double seconds);

    [LoggerMessage(EventId = 4304, Level = LogLevel.Error, Message = "libvirt: {Uri}: {Reason}; reconnecting")]
    private partial void LogHostFailed(string uri, string reason);

    [LoggerMessage(EventId = 4305, Level = LogLevel.Debug, Message = "libvirt: {Domain} on {Host}: event {Event} detail {Detail}: {Meaning}")]
    private partial void LogLifecycle(string domain, string host, int @event, int detail, string meaning);

    [LoggerMessage(EventId = 4306, Level = LogLevel.Error, Message = "libvirt: {Reason}; install Debian's libvirt0 (apt-get install libvirt0)")]
    private partial void LogLibraryMissing(string reason);
}
