namespace LispMobility.Agent.Tests.Installer;

/// <summary>Packages the agent stopped using are gone from its project and the central versions, not left to ship.</summary>
public sealed class PackageReferenceTests
{
    [Theory]
    [InlineData("Spectre.Console")]
    public void A_package_the_cli_no_longer_uses_is_not_referenced(string package)
    {
        Assert.DoesNotContain($"\"{package}\"", File.ReadAllText(RepositoryPaths.File("Directory.Packages.props")), StringComparison.Ordinal);
        Assert.DoesNotContain($"\"{package}\"", File.ReadAllText(RepositoryPaths.File("src", "LispMobility.Agent", "LispMobility.Agent.csproj")), StringComparison.Ordinal);
        Assert.DoesNotContain(package, File.ReadAllText(RepositoryPaths.File("docs", "packages.md")), StringComparison.Ordinal);
    }
}
