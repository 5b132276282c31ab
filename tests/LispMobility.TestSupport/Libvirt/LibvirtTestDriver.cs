using System.Runtime.InteropServices;

namespace LispMobility.TestSupport.Libvirt;

/// <summary>
/// libvirt's own test driver, driven the way a hypervisor would be: the tests open a connection of their own to
/// test:///default (whose state every connection of the process shares) and define, start, suspend, resume, destroy and
/// undefine domains there; the watcher sees libvirt's real events. No mock of libvirt.
/// </summary>
public sealed partial class LibvirtTestDriver : IDisposable
{
    private const string Lib = "libvirt.so.0";
    private readonly nint _conn;

    public LibvirtTestDriver(string uri = "test:///default")
    {
        _conn = virConnectOpen(uri);
        if (_conn == 0) throw new InvalidOperationException($"cannot open {uri} (is Debian's libvirt0 installed? scripts/test.sh installs it)");
    }

    /// <summary>Defines a domain with one interface per MAC on the test driver's "default" network (192.168.122.0/24).</summary>
    public Domain Define(string name, params string[] macs)
    {
        var interfaces = string.Concat(macs.Select(m => $"<interface type='network'><mac address='{m}'/><source network='default'/></interface>"));
        var dom = virDomainDefineXML(_conn, $"<domain type='test'><name>{name}</name><memory>1048576</memory><os><type>hvm</type></os><devices>{interfaces}</devices></domain>");
        if (dom == 0) throw new InvalidOperationException($"cannot define {name}");
        return new Domain(dom);
    }

    public void Dispose() => virConnectClose(_conn);

    /// <summary>A domain of the test driver.</summary>
    public sealed class Domain(nint dom) : IDisposable
    {
        public void Start() => Check(virDomainCreate(dom), "start");
        public void Suspend() => Check(virDomainSuspend(dom), "suspend");
        public void Resume() => Check(virDomainResume(dom), "resume");
        public void Destroy() => Check(virDomainDestroy(dom), "destroy");
        public void Undefine() => Check(virDomainUndefine(dom), "undefine");
        public void Dispose() => virDomainFree(dom);

        private static void Check(int result, string what)
        {
            if (result < 0) throw new InvalidOperationException($"libvirt could not {what} the domain");
        }
    }

    [LibraryImport(Lib, StringMarshalling = StringMarshalling.Utf8)] private static partial nint virConnectOpen(string uri);
    [LibraryImport(Lib)] private static partial int virConnectClose(nint conn);
    [LibraryImport(Lib, StringMarshalling = StringMarshalling.Utf8)] private static partial nint virDomainDefineXML(nint conn, string xml);
    [LibraryImport(Lib)] private static partial int virDomainCreate(nint dom);
    [LibraryImport(Lib)] private static partial int virDomainSuspend(nint dom);
    [LibraryImport(Lib)] private static partial int virDomainResume(nint dom);
    [LibraryImport(Lib)] private static partial int virDomainDestroy(nint dom);
    [LibraryImport(Lib)] private static partial int virDomainUndefine(nint dom);
    [LibraryImport(Lib)] private static partial int virDomainFree(nint dom);
}
