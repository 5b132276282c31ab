using Microsoft.Extensions.Configuration;

namespace LispMobility.Agent.Hosting;

/// <summary>Where the agent's metrics go besides the management API's <c>/metrics</c> (config section <c>Metrics</c>).</summary>
public sealed record MetricsOptions
{
    /// <summary>The configuration section these options come from.</summary>
    public const string SectionName = "Metrics";

    /// <summary>An OTLP collector to push the metrics to as well, e.g. <c>http://collector:4317</c>; null (the default) pushes nothing.</summary>
    public Uri? OtlpEndpoint { get; init; }

    /// <summary>The OTLP transport: <c>grpc</c> (the default, port 4317) or <c>http/protobuf</c> (port 4318; then
    /// <see cref="OtlpEndpoint"/> is the full URL, path <c>/v1/metrics</c> included).</summary>
    public string OtlpProtocol { get; init; } = "grpc";

    /// <summary>How often the OTLP exporter pushes, in seconds.</summary>
    public int OtlpExportIntervalSeconds { get; init; } = 60;

    /// <summary>Reads the section, collecting every problem (each naming its config path).</summary>
    /// <returns>The options, or null with <paramref name="errors"/> filled.</returns>
    public static MetricsOptions? FromConfiguration(IConfiguration configuration, out IReadOnlyList<string> errors)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var section = configuration.GetSection(SectionName);
        var problems = new List<string>();
        var options = new MetricsOptions();
        if (section[nameof(OtlpEndpoint)] is { Length: > 0 } endpoint)
        {
            if (Uri.TryCreate(endpoint, UriKind.Absolute, out var uri) && (uri.Scheme == Uri.UriSchemeHttp || uri.Scheme == Uri.UriSchemeHttps))
                options = options with { OtlpEndpoint = uri };
            else problems.Add($"{SectionName}:{nameof(OtlpEndpoint)}: '{endpoint}' is not an http:// or https:// URL");
        }
        if (section[nameof(OtlpProtocol)] is { } protocol)
        {
            if (protocol is "grpc" or "http/protobuf") options = options with { OtlpProtocol = protocol };
            else problems.Add($"{SectionName}:{nameof(OtlpProtocol)}: '{protocol}' must be grpc or http/protobuf");
        }
        if (section[nameof(OtlpExportIntervalSeconds)] is { } interval)
        {
            if (int.TryParse(interval, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var s) && s is >= 1 and <= 3600)
                options = options with { OtlpExportIntervalSeconds = s };
            else problems.Add($"{SectionName}:{nameof(OtlpExportIntervalSeconds)}: '{interval}' must be a whole number of seconds, 1-3600");
        }
        errors = problems;
        return problems.Count == 0 ? options : null;
    }
}
