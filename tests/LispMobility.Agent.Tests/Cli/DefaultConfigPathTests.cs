using LispMobility.Agent.Cli;

namespace LispMobility.Agent.Tests.Cli;

/// <summary>The CLI's default <c>--config</c> is where each OS's installer writes the config.</summary>
public sealed class DefaultConfigPathTests
{
    [Fact]
    public void Linux_and_other_unixes_read_the_etc_file_install_sh_writes() =>
        Assert.Equal("/etc/lispmobility/appsettings.json", ClientCommands.DefaultConfigFor(windows: false, programData: "/usr/share"));

    [Theory]
    [InlineData(@"C:\ProgramData")]
    [InlineData(@"C:\ProgramData\")]
    public void Windows_reads_the_ProgramData_file_install_ps1_writes(string programData) =>
        Assert.Equal(@"C:\ProgramData\LispMobility\appsettings.json", ClientCommands.DefaultConfigFor(windows: true, programData));

    [Fact]
    public void The_default_follows_the_os_this_runs_on()
    {
        var expected = OperatingSystem.IsWindows()
            ? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.CommonApplicationData), "LispMobility", "appsettings.json")
            : "/etc/lispmobility/appsettings.json";

        Assert.Equal(expected, ClientCommands.DefaultConfig);
    }
}
