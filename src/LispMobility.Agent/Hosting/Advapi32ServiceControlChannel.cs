using System.ComponentModel;
using System.Runtime.InteropServices;
using System.Runtime.Versioning;

namespace LispMobility.Agent.Hosting;

/// <summary>The Service Control Manager through advapi32: StartServiceCtrlDispatcherW, RegisterServiceCtrlHandlerExW, SetServiceStatus.</summary>
[SupportedOSPlatform("windows")]
internal sealed class Advapi32ServiceControlChannel : IServiceControlChannel
{
    private const int ServiceWin32OwnProcess = 0x10;
    private const int ErrorFailedServiceControllerConnect = 1063;
    private const int NoError = 0;
    private const int ErrorCallNotImplemented = 120;

    // The SCM calls back through these; fields keep the delegates alive for as long as native code holds them.
    private ServiceMainCallback? _serviceMain;
    private HandlerExCallback? _handler;
    private IntPtr _statusHandle;

    private delegate void ServiceMainCallback(int argc, IntPtr argv);

    private delegate int HandlerExCallback(int control, int eventType, IntPtr eventData, IntPtr context);

    public bool Run(string serviceName, Action serviceMain, Func<ServiceControlCode, bool> onControl)
    {
        _handler = (control, _, _, _) => onControl((ServiceControlCode)control) ? NoError : ErrorCallNotImplemented;
        _serviceMain = (_, _) =>
        {
            _statusHandle = RegisterServiceCtrlHandlerExW(serviceName, _handler, IntPtr.Zero);
            // Without a status handle nothing can be reported, and the SCM would kill a service stuck in
            // START_PENDING after its timeout anyway; an exception cannot cross this native callback, so end now, saying why.
            if (_statusHandle == IntPtr.Zero)
                Environment.FailFast($"RegisterServiceCtrlHandlerEx for service {serviceName} failed with Win32 error {Marshal.GetLastPInvokeError()}");
            serviceMain();
        };
        var name = Marshal.StringToHGlobalUni(serviceName);
        try
        {
            var table = new[]
            {
                new ServiceTableEntry { ServiceName = name, ServiceProc = Marshal.GetFunctionPointerForDelegate(_serviceMain) },
                default, // the table ends with an empty entry
            };
            if (StartServiceCtrlDispatcherW(table)) return true;
            var error = Marshal.GetLastPInvokeError();
            if (error == ErrorFailedServiceControllerConnect) return false;
            throw new Win32Exception(error);
        }
        finally
        {
            Marshal.FreeHGlobal(name);
        }
    }

    public void SetStatus(ServiceStatus status)
    {
        var native = new NativeServiceStatus
        {
            ServiceType = ServiceWin32OwnProcess,
            CurrentState = (int)status.State,
            ControlsAccepted = (int)status.Accepts,
            Win32ExitCode = status.Win32ExitCode,
            CheckPoint = status.CheckPoint,
            WaitHint = status.WaitHintMs,
        };
        if (!SetServiceStatus(_statusHandle, ref native)) throw new Win32Exception(Marshal.GetLastPInvokeError());
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct ServiceTableEntry
    {
        public IntPtr ServiceName;
        public IntPtr ServiceProc;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct NativeServiceStatus
    {
        public int ServiceType;
        public int CurrentState;
        public int ControlsAccepted;
        public int Win32ExitCode;
        public int ServiceSpecificExitCode;
        public int CheckPoint;
        public int WaitHint;
    }

    [DllImport("advapi32.dll", SetLastError = true)]
    [DefaultDllImportSearchPaths(DllImportSearchPath.System32)]
    [return: MarshalAs(UnmanagedType.Bool)]
    private static extern bool StartServiceCtrlDispatcherW([In] ServiceTableEntry[] serviceTable);

    [DllImport("advapi32.dll", SetLastError = true, CharSet = CharSet.Unicode)]
    [DefaultDllImportSearchPaths(DllImportSearchPath.System32)]
    private static extern IntPtr RegisterServiceCtrlHandlerExW(string serviceName, HandlerExCallback handler, IntPtr context);

    [DllImport("advapi32.dll", SetLastError = true)]
    [DefaultDllImportSearchPaths(DllImportSearchPath.System32)]
    [return: MarshalAs(UnmanagedType.Bool)]
    private static extern bool SetServiceStatus(IntPtr statusHandle, ref NativeServiceStatus status);
}
