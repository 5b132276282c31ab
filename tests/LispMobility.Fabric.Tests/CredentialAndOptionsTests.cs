using LispMobility.Fabric.Credentials;
using Microsoft.Extensions.Options;

namespace LispMobility.Fabric.Tests;

public sealed class CredentialAndOptionsTests : IDisposable
{
    private readonly TestDevices _devices = new();

    [Fact]
    public void Reads_the_secret_file()
    {
        var credentials = CredentialReader.Read(new CredentialSource { SecretFile = _devices.SecretFile("ops", "pa:ss word") }, "Fabric:NxApi:Credentials");
        Assert.Equal("ops", credentials.Username);
        Assert.Equal("pa:ss word", credentials.Password);
        Assert.Equal("ops:***", credentials.ToString());
    }

    [Fact]
    public void Refuses_a_secret_file_others_can_read()
    {
        var path = _devices.SecretFile("ops", "topsecret", UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
        var e = Assert.Throws<CredentialException>(() => CredentialReader.Read(new CredentialSource { SecretFile = path }, "Fabric:NxApi:Credentials"));
        Assert.Contains("Fabric:NxApi:Credentials.SecretFile", e.Message, StringComparison.Ordinal);
        Assert.Contains("chmod 600", e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("topsecret", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Missing_or_short_secret_files_are_named()
    {
        var missing = Path.Combine(Path.GetTempPath(), $"lm-none-{Guid.NewGuid():N}");
        var e = Assert.Throws<CredentialException>(() => CredentialReader.Read(new CredentialSource { SecretFile = missing }, "X"));
        Assert.Equal($"X.SecretFile: {missing} does not exist.", e.Message);

        var path = _devices.SecretFile("only-user", "");
        File.WriteAllText(path, "only-user\n");
        e = Assert.Throws<CredentialException>(() => CredentialReader.Read(new CredentialSource { SecretFile = path }, "X"));
        Assert.Contains("username on line 1 and the password on line 2", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Reads_environment_variables_and_names_a_missing_one()
    {
        var env = new Dictionary<string, string?> { ["NX_USER"] = "ops", ["NX_PASS"] = "pw" };
        var source = new CredentialSource { UsernameVariable = "NX_USER", PasswordVariable = "NX_PASS" };
        var credentials = CredentialReader.Read(source, "Fabric:NxApi:Credentials", n => env.GetValueOrDefault(n));
        Assert.Equal(("ops", "pw"), (credentials.Username, credentials.Password));

        env.Remove("NX_PASS");
        var e = Assert.Throws<CredentialException>(() => CredentialReader.Read(source, "Fabric:NxApi:Credentials", n => env.GetValueOrDefault(n)));
        Assert.Equal("Fabric:NxApi:Credentials.PasswordVariable: environment variable NX_PASS is not set or empty.", e.Message);
    }

    [Fact]
    public void Options_report_every_error_with_its_config_path()
    {
        var options = new NxApiOptions
        {
            BaseAddress = new Uri("http://leaf1/"),
            Credentials = new CredentialSource { SecretFile = "/x", UsernameVariable = "U" },
            PinnedCertificateSha256 = "AB:CD",
            RequestTimeout = TimeSpan.Zero,
            MaxRetryAttempts = 11,
            Path = "ins",
        };
        var e = Assert.Throws<OptionsValidationException>(() => options.ThrowIfInvalid("Fabric:Sites:0:NxApi"));
        Assert.Equal(
        [
            "Fabric:Sites:0:NxApi.BaseAddress must be an absolute https:// address, not 'http://leaf1/'.",
            "Fabric:Sites:0:NxApi.Credentials: set either SecretFile or UsernameVariable/PasswordVariable, not both.",
            "Fabric:Sites:0:NxApi.PinnedCertificateSha256 must be 64 hex digits (SHA-256 of the certificate), got 4 characters.",
            "Fabric:Sites:0:NxApi.RequestTimeout must be between 0 and 5 minutes, not 00:00:00.",
            "Fabric:Sites:0:NxApi.MaxRetryAttempts must be 0–10, not 11.",
            "Fabric:Sites:0:NxApi.Path must start with '/', not 'ins'.",
        ], e.Failures);
    }

    [Fact]
    public void Linux_options_validate_the_macvlan_prefix()
    {
        var errors = new LinuxGatewayOptions { MacvlanPrefix = "much-too-long-prefix" }.Validate("Fabric:Linux");
        Assert.Equal(["Fabric:Linux.MacvlanPrefix must be 1–10 letters, digits, '-' or '_', not 'much-too-long-prefix'."], errors);
        Assert.Empty(new LinuxGatewayOptions().Validate("Fabric:Linux"));
    }

    public void Dispose() => _devices.Dispose();
}
