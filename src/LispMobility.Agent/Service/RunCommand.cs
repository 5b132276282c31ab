using LispMobility.Agent.Hosting;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Quartz;

namespace LispMobility.Agent.Service;

/// <summary><c>lispmobility run --config FILE</c>: the agent as a service.</summary>
internal static class RunCommand
{
    public static Task<int> RunAsync(FileInfo file, CancellationToken cancellationToken) => RunAsync(file, null, cancellationToken);

    /// <summary>Runs the agent on <paramref name="file"/> until cancelled; <paramref name="time"/> is the clock it reads (the system's when null).</summary>
    public static async Task<int> RunAsync(FileInfo file, TimeProvider? time, CancellationToken cancellationToken)
    {
        // The same validation as `config validate`: a file it rejects never half-starts an agent.
        var invalid = Configuration.ConfigValidator.Validate(file, out _);
        if (invalid.Count > 0)
        {
            foreach (var e in invalid) await Console.Error.WriteLineAsync($"{file.Name}: {e}").ConfigureAwait(false);
            await Console.Error.WriteLineAsync($"{invalid.Count} configuration error(s); nothing was started").ConfigureAwait(false);
            return 2;
        }

        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { ContentRootPath = AppContext.BaseDirectory });
        builder.Configuration.Sources.Clear();
        builder.Configuration.AddJsonFile(file.FullName, optional: false).AddEnvironmentVariables("LISPMOBILITY_");
        var errors = new List<string>();
        var config = AgentConfiguration.Load(builder.Configuration, errors);
        errors.AddRange(builder.AddServicePlumbing());
        if (errors.Count > 0 || config is null)
        {
            foreach (var e in errors) await Console.Error.WriteLineAsync($"{file.Name}: {e}").ConfigureAwait(false);
            await Console.Error.WriteLineAsync($"{errors.Count} configuration error(s); nothing was started").ConfigureAwait(false);
            return 2;
        }

        // The journal is opened once before anything starts: a corrupt or unwritable database is one line and exit 1, not a
        // host that fails half-started with a stack trace.
        try
        {
            using (new Mobility.Persistence.MobilityStore(config.Mobility.Database)) { }
        }
        catch (Mobility.Persistence.MobilityStoreException e)
        {
            await Console.Error.WriteLineAsync($"lispmobility: {e.Message}").ConfigureAwait(false);
            return 1;
        }

        if (time is not null) builder.Services.Replace(ServiceDescriptor.Singleton(time));
        builder.Services.AddLispMobility(config);
        builder.Services.AddHealthChecks().AddCheck<MobilityHealthCheck>("mobility");
        // AddQuartz only registers the scheduler; without the hosted service nothing starts it and no job ever fires.
        builder.Services.AddQuartzHostedService(o => o.WaitForJobsToComplete = true);
        builder.Services.AddQuartz(q =>
        {
            q.ScheduleJob<AuditRetentionJob>(t => t.WithCronSchedule(config.Runtime.RetentionCron), j => j.WithIdentity("audit-retention"));
            q.ScheduleJob<MobilityReconciliationJob>(t => t.StartAt(DateTimeOffset.UtcNow + config.Mobility.ReconcileInterval)
                .WithSimpleSchedule(x => x.WithInterval(config.Mobility.ReconcileInterval).RepeatForever()), j => j.WithIdentity("mobility-reconciliation"));
            if (config.VCenter is not null)
            {
                q.ScheduleJob<ReconciliationJob>(t => t.WithCronSchedule(config.Runtime.ReconciliationCron), j => j.WithIdentity("vcenter-reconciliation"));
            }

            for (var i = 0; i < config.Runtime.Drills.Count; i++)
            {
                var d = config.Runtime.Drills[i];
                var identity = $"dr-drill-{i}"; // not i in the lambda: a for loop's variable is shared by every iteration
                q.ScheduleJob<DrillJob>(t => t.WithCronSchedule(d.Cron).UsingJobData("from", d.From).UsingJobData("to", d.To), j => j.WithIdentity(identity));
            }
        });

        await using var app = builder.Build();
        AgentApi.Map(app.MapManagementApi(), app.Services.GetRequiredService<MobilityAgent>());
        // Taken now: RunAsync disposes the services when start-up fails.
        var startup = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("LispMobility.Agent");
        try
        {
            await app.RunAsync(cancellationToken).ConfigureAwait(false);
            return 0;
        }
        catch (Exception e) when (e is InvalidOperationException or IOException or System.Net.Sockets.SocketException)
        {
            // Kestrel reports a taken management port as an IOException, the transport a taken UDP port as InvalidOperationException.
            startup.LogCritical(e, "The agent could not start");
            await Console.Error.WriteLineAsync($"lispmobility: {Cli.OperatorErrors.Describe(e)}").ConfigureAwait(false);
            return 1;
        }
    }
}
