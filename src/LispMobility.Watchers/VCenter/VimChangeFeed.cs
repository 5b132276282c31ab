using System.Globalization;
using System.Net;
using System.Text;
using System.Xml;
using System.Xml.Linq;
using Microsoft.Extensions.Logging;

namespace LispMobility.Watchers.VCenter;

/// <summary>One VM's change from the PropertyCollector: only the properties that changed are set.</summary>
public sealed record VimVmUpdate(string Vm, string Kind, string? Name, string? HostId, string? PowerState, IReadOnlyList<VimGuestNic>? GuestNet);

/// <summary>One entry of a VM's <c>guest.net</c>: its MAC and the IPs the guest reports on it.</summary>
public sealed record VimGuestNic(string? MacAddress, IReadOnlyList<IPAddress> Addresses);

/// <summary>
/// The vim25 change feed over SOAP: Login, a ContainerView of every VirtualMachine, a PropertyFilter on
/// <c>name</c>, <c>runtime.host</c>, <c>runtime.powerState</c>, <c>guest.net</c>, then <c>WaitForUpdatesEx</c>
/// long-polls. Filters belong to the session: after a lost session, open a new feed.
/// </summary>
public sealed partial class VimChangeFeed : IAsyncDisposable
{
    private static readonly XNamespace Soap = "http://schemas.xmlsoap.org/soap/envelope/";
    private static readonly XNamespace Vim = "urn:vim25";
    private static readonly XNamespace Xsi = "http://www.w3.org/2001/XMLSchema-instance";
    private static readonly string[] Properties = ["name", "runtime.host", "runtime.powerState", "guest.net"];

    private readonly HttpClient _http;
    private readonly VCenterCredentials _credentials;
    private readonly ILogger _logger;
    private readonly TimeSpan _requestTimeout;
    private string? _cookie;
    private string _propertyCollector = "propertyCollector";
    private string _sessionManager = "SessionManager";
    private string _version = "";

    /// <summary>Creates a feed; <paramref name="http"/> has the vCenter's base address.</summary>
    public VimChangeFeed(HttpClient http, VCenterCredentials credentials, ILogger logger, TimeSpan requestTimeout)
    {
        ArgumentNullException.ThrowIfNull(http);
        ArgumentNullException.ThrowIfNull(credentials);
        ArgumentNullException.ThrowIfNull(logger);
        _http = http;
        _credentials = credentials;
        _logger = logger;
        _requestTimeout = requestTimeout;
    }

    /// <summary>The SOAP session key (the vmware_soap_session cookie's value); tests terminate it to provoke NotAuthenticated.</summary>
    internal string? SessionKey => _cookie?.Split('=', 2)[1].Trim('"');

    /// <summary>Logs in and creates the view and the filter; the first <see cref="WaitAsync"/> then returns every VM ("enter").</summary>
    public async Task OpenAsync(CancellationToken ct)
    {
        var content = await Call(new XElement(Vim + "RetrieveServiceContent", This("ServiceInstance", "ServiceInstance")), _requestTimeout, ct).ConfigureAwait(false);
        string Ref(string name) => content.Descendants(Vim + name).FirstOrDefault()?.Value
            ?? throw new VsphereException($"vCenter's ServiceContent has no {name}");
        var root = Ref("rootFolder");
        var viewManager = Ref("viewManager");
        _propertyCollector = Ref("propertyCollector");
        _sessionManager = Ref("sessionManager");

        await Call(new XElement(Vim + "Login", This("SessionManager", _sessionManager),
            new XElement(Vim + "userName", _credentials.UserName), new XElement(Vim + "password", _credentials.Password)), _requestTimeout, ct).ConfigureAwait(false);
        var view = (await Call(new XElement(Vim + "CreateContainerView", This("ViewManager", viewManager),
            new XElement(Vim + "container", new XAttribute("type", "Folder"), root),
            new XElement(Vim + "type", "VirtualMachine"), new XElement(Vim + "recursive", "true")), _requestTimeout, ct).ConfigureAwait(false))
            .Descendants(Vim + "returnval").First().Value;
        await Call(new XElement(Vim + "CreateFilter", This("PropertyCollector", _propertyCollector),
            new XElement(Vim + "spec",
                new XElement(Vim + "propSet", new XElement(Vim + "type", "VirtualMachine"), new XElement(Vim + "all", "false"),
                    Properties.Select(p => new XElement(Vim + "pathSet", p))),
                new XElement(Vim + "objectSet",
                    new XElement(Vim + "obj", new XAttribute("type", "ContainerView"), view),
                    new XElement(Vim + "skip", "true"),
                    new XElement(Vim + "selectSet", new XAttribute(Xsi + "type", "TraversalSpec"),
                        new XElement(Vim + "name", "view"), new XElement(Vim + "type", "ContainerView"),
                        new XElement(Vim + "path", "view"), new XElement(Vim + "skip", "false")))),
            new XElement(Vim + "partialUpdates", "false")), _requestTimeout, ct).ConfigureAwait(false);
        _version = "";
        LogFeedOpened(_logger, _credentials.UserName);
    }

    /// <summary>Waits up to <paramref name="maxWait"/> for changes; empty when none came.</summary>
    public async Task<IReadOnlyList<VimVmUpdate>> WaitAsync(TimeSpan maxWait, CancellationToken ct)
    {
        var body = await Call(new XElement(Vim + "WaitForUpdatesEx", This("PropertyCollector", _propertyCollector),
            new XElement(Vim + "version", _version),
            new XElement(Vim + "options", new XElement(Vim + "maxWaitSeconds", ((int)Math.Ceiling(maxWait.TotalSeconds)).ToString(CultureInfo.InvariantCulture)))),
            maxWait + _requestTimeout, ct).ConfigureAwait(false);
        var set = body.Descendants(Vim + "returnval").FirstOrDefault();
        if (set is null) return [];
        _version = set.Element(Vim + "version")?.Value ?? _version;
        return set.Descendants(Vim + "objectSet").Select(Parse).OfType<VimVmUpdate>().ToArray();
    }

    /// <summary>Logs out (best effort: the session may already be gone).</summary>
    public async ValueTask DisposeAsync()
    {
        if (_cookie is null) return;
        try
        {
            await Call(new XElement(Vim + "Logout", This("SessionManager", _sessionManager)), _requestTimeout, CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception e) when (e is VsphereException or HttpRequestException or OperationCanceledException)
        {
            // The session dies with the vCenter, or expires: nothing to clean up.
        }
        _cookie = null;
    }

    private static VimVmUpdate? Parse(XElement objectSet)
    {
        var obj = objectSet.Element(Vim + "obj");
        if (obj is null || (string?)obj.Attribute("type") != "VirtualMachine") return null;
        string? name = null, host = null, power = null;
        IReadOnlyList<VimGuestNic>? net = null;
        foreach (var change in objectSet.Elements(Vim + "changeSet"))
        {
            var value = change.Element(Vim + "val");
            switch (change.Element(Vim + "name")?.Value)
            {
                case "name": name = value?.Value; break;
                case "runtime.host": host = value?.Value; break;
                case "runtime.powerState": power = value?.Value; break;
                case "guest.net": net = value is null ? [] : value.Elements(Vim + "GuestNicInfo").Select(ParseNic).ToArray(); break;
            }
        }
        return new VimVmUpdate(obj.Value, objectSet.Element(Vim + "kind")?.Value ?? "modify", name, host, power, net);
    }

    // ipConfig carries every address with its prefix; the older ipAddress list is the fallback.
    private static VimGuestNic ParseNic(XElement nic)
    {
        var texts = nic.Element(Vim + "ipConfig")?.Elements(Vim + "ipAddress").Select(a => a.Element(Vim + "ipAddress")?.Value).ToList() ?? [];
        if (texts.Count == 0) texts = nic.Elements(Vim + "ipAddress").Select(a => (string?)a.Value).ToList();
        var addresses = texts.Select(t => IPAddress.TryParse(t, out var ip) ? ip : null).OfType<IPAddress>().Distinct().ToArray();
        return new VimGuestNic(nic.Element(Vim + "macAddress")?.Value, addresses);
    }

    private static XElement This(string type, string value) => new(Vim + "_this", new XAttribute("type", type), value);

    private async Task<XElement> Call(XElement operation, TimeSpan timeout, CancellationToken ct)
    {
        var envelope = new XDocument(new XElement(Soap + "Envelope",
            new XAttribute(XNamespace.Xmlns + "soapenv", Soap), new XAttribute(XNamespace.Xmlns + "xsi", Xsi),
            new XElement(Soap + "Body", operation)));
        using var request = new HttpRequestMessage(HttpMethod.Post, "sdk")
        {
            Content = new StringContent(envelope.ToString(SaveOptions.DisableFormatting), Encoding.UTF8, "text/xml"),
        };
        request.Headers.Add("SOAPAction", "urn:vim25/6.5");
        if (_cookie is not null) request.Headers.Add("Cookie", _cookie);
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(ct);
        deadline.CancelAfter(timeout);
        HttpResponseMessage response;
        try
        {
            response = await _http.SendAsync(request, deadline.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException e) when (!ct.IsCancellationRequested)
        {
            throw new VsphereException($"vCenter did not answer {operation.Name.LocalName} within {timeout.TotalSeconds:0.#} s", inner: e);
        }
        using (response)
        {
            if (response.Headers.TryGetValues("Set-Cookie", out var cookies)
                && cookies.FirstOrDefault(c => c.StartsWith("vmware_soap_session=", StringComparison.Ordinal)) is { } cookie)
                _cookie = cookie.Split(';')[0];
            var text = await response.Content.ReadAsStringAsync(deadline.Token).ConfigureAwait(false);
            XElement body;
            try
            {
                body = XDocument.Parse(text).Root?.Element(Soap + "Body") ?? throw new XmlException("no SOAP Body");
            }
            catch (XmlException e)
            {
                throw new VsphereException($"vCenter's answer to {operation.Name.LocalName} is not SOAP ({(int)response.StatusCode}): {e.Message}", response.StatusCode, inner: e);
            }
            if (body.Element(Soap + "Fault") is { } fault) throw Fault(operation.Name.LocalName, fault, response.StatusCode);
            return body;
        }
    }

    private VsphereException Fault(string operation, XElement fault, HttpStatusCode status)
    {
        var kind = fault.Element("detail")?.Elements().FirstOrDefault()?.Name.LocalName.Replace("Fault", "", StringComparison.Ordinal) ?? "unknown";
        var text = fault.Element("faultstring")?.Value;
        var message = $"vCenter fault {kind} on {operation}{(string.IsNullOrEmpty(text) ? "" : ": " + text)}";
        return kind switch
        {
            "InvalidLogin" => new VsphereAuthenticationException($"vCenter rejected the credentials of user {_credentials.UserName} ({kind})", status),
            "NotAuthenticated" => new VimSessionLostException(message),
            // A server-side fault is the server's trouble: worth a retry.
            _ => new VsphereException(message, kind is "SystemError" or "HostCommunication" ? HttpStatusCode.InternalServerError : HttpStatusCode.BadRequest, kind),
        };
    }
}

/// <summary>The SOAP session is gone (NotAuthenticated): log in again and recreate the filter.</summary>
public sealed class VimSessionLostException(string message) : VsphereException(message, HttpStatusCode.Unauthorized, "NotAuthenticated");
