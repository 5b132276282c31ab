using System.Text.Json;
using LispMobility.Watchers.VCenter;

namespace LispMobility.Watchers.Tests.VCenter;

/// <summary>The pieces of the Refit client that need no simulator: the legacy rewrite and the JSON forms of both generations.</summary>
public sealed class VsphereWireTests
{
    [Theory]
    [InlineData("https://vc/api/vcenter/vm?hosts=host-21", "https://vc/rest/vcenter/vm?filter.hosts=host-21")]
    [InlineData("https://vc/api/vcenter/host?clusters=domain-c7&clusters=domain-c8", "https://vc/rest/vcenter/host?filter.clusters=domain-c7&filter.clusters=domain-c8")]
    [InlineData("https://vc/prefix/api/vcenter/vm/vm-57", "https://vc/prefix/rest/vcenter/vm/vm-57")]
    public void Legacy_rewrite_moves_api_to_rest_and_prefixes_the_filters(string modern, string legacy) =>
        Assert.Equal(new Uri(legacy), VsphereSessionHandler.ToLegacy(new Uri(modern)));

    [Fact]
    public void Session_token_is_the_json_string_without_its_quotes_and_never_shows()
    {
        var token = JsonSerializer.Deserialize("\"b00f1e55cafe\"", VsphereJson.Default.VsphereSessionToken)!;
        Assert.Equal("b00f1e55cafe", token.Value);
        Assert.DoesNotContain("b00f", token.ToString(), StringComparison.Ordinal);
        Assert.Equal("b00f1e55cafe", JsonSerializer.Deserialize("{\"value\":\"b00f1e55cafe\"}", VsphereJson.Default.VsphereValueVsphereSessionToken)!.Value.Value);
        Assert.Throws<JsonException>(() => JsonSerializer.Deserialize("\"\"", VsphereJson.Default.VsphereSessionToken));
    }

    [Fact]
    public void Vm_nics_read_as_a_map_on_api_and_as_key_value_entries_on_rest()
    {
        var modern = JsonSerializer.Deserialize("""{"name":"web","power_state":"POWERED_ON","nics":{"4000":{"label":"Network adapter 1","mac_address":"00:50:56:aa:bb:cc"}}}""",
            VsphereJson.Default.VsphereVmInfo)!;
        var legacy = JsonSerializer.Deserialize("""{"name":"web","power_state":"POWERED_ON","nics":[{"key":"4000","value":{"label":"Network adapter 1","mac_address":"00:50:56:aa:bb:cc"}}]}""",
            VsphereJson.Default.VsphereVmInfo)!;
        Assert.Equal("00:50:56:aa:bb:cc", modern.Nics!["4000"].MacAddress);
        Assert.Equal("00:50:56:aa:bb:cc", legacy.Nics!["4000"].MacAddress);
        Assert.Null(JsonSerializer.Deserialize("""{"name":"web","power_state":"POWERED_OFF","nics":null}""", VsphereJson.Default.VsphereVmInfo)!.Nics);
    }
}
