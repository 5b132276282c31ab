using LispMobility.Agent.Logging;
using LispMobility.Agent.Security;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Serilog;

namespace LispMobility.Agent.Hosting;

/// <summary>One call that gives <c>lispmobility run</c> its service plumbing: logging, systemd / Windows service lifetime,
/// and the management API with its token.</summary>
/// <remarks>
/// Usage: <c>var errors = builder.AddServicePlumbing(); if (errors.Count &gt; 0) { print them; exit 1 }</c>, then after
/// <c>Build()</c> call <c>app.MapManagementApi()</c> and add <c>/api</c> endpoints to the group it returns.
/// Every configuration problem is collected first (each naming its config path), so an operator fixes them in one go
/// and nothing is half set up.
/// </remarks>
public static class ServicePlumbing
{
    /// <summary>The service name install.ps1 registers.</summary>
    public const string WindowsServiceName = "LispMobility";

    /// <summary>The errors in the <c>Log</c>, <c>ManagementApi</c> and <c>Metrics</c> sections, each naming its config path; no file is
    /// touched, so <c>config validate</c> can run it on any machine.</summary>
    public static IReadOnlyList<string> ValidateConfiguration(Microsoft.Extensions.Configuration.IConfiguration configuration, Configuration.TargetOs? os = null)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        LogOptions.FromConfiguration(configuration, out var logErrors, os);
        ManagementApiOptions.FromConfiguration(configuration, out var apiErrors, os);
        MetricsOptions.FromConfiguration(configuration, out var metricsErrors);
        return [.. logErrors, .. apiErrors, .. metricsErrors];
    }

    /// <summary>Validates the <c>Log</c>, <c>ManagementApi</c> and <c>Metrics</c> sections and the token file, then wires everything.</summary>
    /// <param name="builder">The host builder, with the configuration already loaded.</param>
    /// <param name="logging">Where we run, for choosing sinks; defaults to this process's environment.</param>
    /// <param name="watchdog">The systemd watchdog interval; defaults to this process's environment.</param>
    /// <returns>The configuration errors; empty when everything was wired.</returns>
    public static IReadOnlyList<string> AddServicePlumbing(this WebApplicationBuilder builder,
        LoggingEnvironment? logging = null, SystemdWatchdogEnvironment? watchdog = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var errors = new List<string>();
        var log = LogOptions.FromConfiguration(builder.Configuration, out var logErrors);
        errors.AddRange(logErrors);
        var api = ManagementApiOptions.FromConfiguration(builder.Configuration, out var apiErrors);
        errors.AddRange(apiErrors);
        var metrics = MetricsOptions.FromConfiguration(builder.Configuration, out var metricsErrors);
        errors.AddRange(metricsErrors);
        ApiToken? token = null;
        if (api is not null)
        {
            try
            {
                token = ApiToken.Read(api.TokenFile);
            }
            catch (ApiTokenException e)
            {
                errors.Add($"{ManagementApiOptions.SectionName}:{nameof(ManagementApiOptions.TokenFile)}: {e.Message}");
            }
        }
        if (errors.Count > 0 || log is null || api is null || metrics is null || token is null) return errors;

        var levels = new Serilog.Core.LoggingLevelSwitch();
        var logger = LoggingSetup.CreateLogger(log, logging ?? LoggingEnvironment.Detect(), builder.Configuration, levels);
        // The management API's /api/log-level changes it at run time.
        builder.Services.AddSingleton(levels);
        builder.Logging.ClearProviders();
        // Microsoft.Extensions.Logging filters at Information by default before Serilog sees anything: Log.MinimumLevel
        // (applied by the Serilog logger) is the one filter.
        builder.Logging.SetMinimumLevel(LogLevel.Trace);
        builder.Services.AddSerilog(logger, dispose: true);
        // The libraries decide where we run: UseSystemd is active only when the parent is systemd (READY=1, STOPPING=1),
        // UseWindowsService only when the Service Control Manager started us; elsewhere both leave the console lifetime.
        builder.Host.UseSystemd();
        builder.Host.UseWindowsService(o => o.ServiceName = WindowsServiceName);
        builder.Services.AddSystemdWatchdog(watchdog);
        builder.AddManagementApi(api, token, metrics);
        return errors;
    }
}
