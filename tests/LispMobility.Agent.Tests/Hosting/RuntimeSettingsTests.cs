using System.Text.Json;

namespace LispMobility.Agent.Tests.Hosting;

/// <summary>The JIT settings the agent ships with (src/AgentRuntime.props), as its runtimeconfig.json hands them to the runtime.</summary>
public sealed class RuntimeSettingsTests
{
    [Fact]
    public void The_agent_re_compiles_a_method_after_its_second_call_and_without_dynamic_PGO()
    {
        // The agent's build output is copied next to this test's; the runtime reads these two properties at start.
        using var config = JsonDocument.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "lispmobility.runtimeconfig.json")));
        var properties = config.RootElement.GetProperty("runtimeOptions").GetProperty("configProperties");

        Assert.Equal(2, properties.GetProperty("System.Runtime.TieredCompilation.CallCountThreshold").GetInt32());
        Assert.False(properties.GetProperty("System.Runtime.TieredPGO").GetBoolean());
    }
}
