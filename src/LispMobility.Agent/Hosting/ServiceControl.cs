namespace LispMobility.Agent.Hosting;

/// <summary>SERVICE_STATUS.dwCurrentState values of the Windows Service Control Manager.</summary>
public enum ServiceState
{
    /// <summary>SERVICE_STOPPED.</summary>
    Stopped = 1,

    /// <summary>SERVICE_START_PENDING.</summary>
    StartPending = 2,

    /// <summary>SERVICE_STOP_PENDING.</summary>
    StopPending = 3,

    /// <summary>SERVICE_RUNNING.</summary>
    Running = 4,
}

/// <summary>SERVICE_STATUS.dwControlsAccepted flags.</summary>
[Flags]
public enum ServiceAccepts
{
    /// <summary>No control is accepted (while starting or stopping).</summary>
    None = 0,

    /// <summary>SERVICE_ACCEPT_STOP.</summary>
    Stop = 0x1,

    /// <summary>SERVICE_ACCEPT_SHUTDOWN.</summary>
    Shutdown = 0x4,
}

/// <summary>The control codes the agent acts on (SERVICE_CONTROL_*).</summary>
public enum ServiceControlCode
{
    /// <summary>SERVICE_CONTROL_STOP.</summary>
    Stop = 1,

    /// <summary>SERVICE_CONTROL_INTERROGATE.</summary>
    Interrogate = 4,

    /// <summary>SERVICE_CONTROL_SHUTDOWN.</summary>
    Shutdown = 5,
}

/// <summary>One status report to the Service Control Manager, as SetServiceStatus receives it.</summary>
public readonly record struct ServiceStatus(ServiceState State, ServiceAccepts Accepts, int Win32ExitCode, int CheckPoint, int WaitHintMs);

/// <summary>The connection to the Service Control Manager: Advapi32 on Windows, a recording fake in tests.</summary>
public interface IServiceControlChannel
{
    /// <summary>Connects to the SCM and dispatches until the service reports <see cref="ServiceState.Stopped"/>
    /// (StartServiceCtrlDispatcher). <paramref name="serviceMain"/> runs once the SCM starts the service, with
    /// <paramref name="onControl"/> registered for its controls (it returns false for a control it does not handle).
    /// Returns false at once when the process was not started by the SCM.</summary>
    bool Run(string serviceName, Action serviceMain, Func<ServiceControlCode, bool> onControl);

    /// <summary>Reports a status (SetServiceStatus); only valid after <c>serviceMain</c> was called.</summary>
    void SetStatus(ServiceStatus status);
}
