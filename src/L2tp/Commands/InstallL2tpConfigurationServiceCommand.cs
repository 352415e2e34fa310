using System.Management.Automation;
using L2tp.Services;

namespace L2tp.Commands;

/// <summary>Install-L2tpConfigurationService: the systemd unit that applies a configuration file at boot, written and enabled.</summary>
[Cmdlet(VerbsLifecycle.Install, "L2tpConfigurationService", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(FileInfo))]
public sealed class InstallL2tpConfigurationServiceCommand : L2tpCmdletBase
{
    /// <summary>The configuration file the unit applies at boot.</summary>
    [Parameter(Position = 0)]
    public string Path { get; set; } = "/etc/l2tp/l2tp.json";

    /// <summary>Where the unit file goes.</summary>
    [Parameter]
    public string UnitDirectory { get; set; } = "/etc/systemd/system";

    /// <inheritdoc/>
    protected override void ProcessL2tpRecord()
    {
        // The PowerShell that runs this cmdlet runs the unit: pwsh itself, or dotnet with pwsh.dll (a dotnet tool).
        string host = Environment.ProcessPath ?? "/usr/bin/pwsh";
        var pwsh = System.IO.Path.GetFileNameWithoutExtension(host) == "dotnet"
            ? new[] { host, System.IO.Path.Combine(System.IO.Path.GetDirectoryName(typeof(PSObject).Assembly.Location)!, "pwsh.dll") }
            : new[] { host };
        string text = ConfigurationService.UnitText(pwsh, GetUnresolvedProviderPathFromPSPath(Path));
        string directory = GetUnresolvedProviderPathFromPSPath(UnitDirectory);
        if (!ShouldProcess(System.IO.Path.Combine(directory, ConfigurationService.UnitName), "Write and enable the systemd unit that runs Sync-L2tpConfiguration at boot"))
            return;
        var (unit, warning) = ConfigurationService.InstallUnit(text, directory, enable: true);
        if (warning is not null)
            WriteWarning(warning);
        WriteObject(new FileInfo(unit));
    }
}
