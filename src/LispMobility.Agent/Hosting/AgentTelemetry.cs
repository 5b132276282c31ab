using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry.Exporter;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;

namespace LispMobility.Agent.Hosting;

/// <summary>The agent's metrics pipeline: every <c>LispMobility.*</c> meter, exported by OpenTelemetry to the Prometheus
/// scrape endpoint and, when configured, to an OTLP collector.</summary>
/// <remarks>
/// Each component owns a <see cref="System.Diagnostics.Metrics.Meter"/> made by the host's <c>IMeterFactory</c>
/// (docs/metrics.md lists them); instrument names are the exposed Prometheus names, so nothing is renamed on the way.
/// </remarks>
public static class AgentTelemetry
{
    /// <summary>The meters exported: every meter whose name starts with <c>LispMobility.</c>.</summary>
    public const string MeterWildcard = "LispMobility.*";

    /// <summary>The <c>service.name</c> resource attribute (Prometheus's <c>target_info</c>, OTLP's resource).</summary>
    public const string ServiceName = "lispmobility";

    /// <summary>Registers the OpenTelemetry meter provider with the Prometheus exporter (and OTLP when configured).</summary>
    public static IServiceCollection AddAgentMetrics(this IServiceCollection services, MetricsOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        options ??= new MetricsOptions();
        services.AddMetrics();
        services.AddOpenTelemetry().ConfigureResource(r => r.AddService(ServiceName)).WithMetrics(metrics =>
        {
            metrics.AddMeter(MeterWildcard);
            // OpenTelemetry listens to meters by name, process-wide: a second host in the same process (tests run several
            // agents at once) would otherwise show its numbers here too. Keep the instruments of this host's meter factory.
            ((IDeferredMeterProviderBuilder)metrics).Configure((sp, builder) =>
            {
                var own = sp.GetRequiredService<IMeterFactory>();
                builder.AddView(instrument => ReferenceEquals(instrument.Meter.Scope, own) ? null : MetricStreamConfiguration.Drop);
            });
            metrics.AddPrometheusExporter(o =>
            {
                // A scrape sees the values of that moment: the default 300 ms answer cache would hide a change just made.
                o.ScrapeResponseCacheDurationMilliseconds = 0;
                // The series keep the labels they always had; the meter (scope) name travels with OTLP only.
                o.ScopeInfoEnabled = false;
            });
            if (options.OtlpEndpoint is { } endpoint)
            {
                metrics.AddOtlpExporter((exporter, reader) =>
                {
                    exporter.Endpoint = endpoint;
                    exporter.Protocol = options.OtlpProtocol == "grpc" ? OtlpExportProtocol.Grpc : OtlpExportProtocol.HttpProtobuf;
                    reader.PeriodicExportingMetricReaderOptions.ExportIntervalMilliseconds = options.OtlpExportIntervalSeconds * 1000;
                });
            }
        });
        return services;
    }
}
