using System.Net.Sockets;

namespace LispMobility.Agent.Cli;

/// <summary>An unexpected exception as the one line an operator reads: what went wrong and what to do; the stack trace only with <c>--debug</c>.</summary>
internal static class OperatorErrors
{
    public static string Describe(Exception e)
    {
        if (Find<SocketException>(e) is { SocketErrorCode: SocketError.AddressAlreadyInUse })
        {
            return $"{e.Message}: another process holds that address and port — most likely a second `lispmobility run` on the same configuration " +
                   "(systemctl status lispmobility); stop it, or give this one other Xtr.Listen / MapServer.Listen / ManagementApi.Port values";
        }

        if (Find<SocketException>(e) is { SocketErrorCode: SocketError.AddressNotAvailable })
        {
            return $"{e.Message}: that address is not on this host; use one `ip addr` lists (or 0.0.0.0) in the Listen settings";
        }

        if (Find<HttpRequestException>(e) is { } http)
        {
            return $"the agent's management API does not answer: {http.Message} (is `lispmobility run` running, and is ManagementApi in --config the same as the agent's?)";
        }

        return $"{Logging.OperatorLogEnricher.Messages(e)} (run again with --debug for the stack trace)";
    }

    private static T? Find<T>(Exception e) where T : Exception
    {
        for (Exception? x = e; x is not null; x = x.InnerException)
        {
            if (x is T t) return t;
        }

        return null;
    }
}
