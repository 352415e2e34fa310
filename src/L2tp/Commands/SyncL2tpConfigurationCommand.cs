using System.Management.Automation;
using L2tp.Services;

namespace L2tp.Commands;

/// <summary>Sync-L2tpConfiguration: makes the namespaces a configuration file names match it, step by step.</summary>
[Cmdlet(VerbsData.Sync, "L2tpConfiguration", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(L2tpConfigurationStep))]
public sealed class SyncL2tpConfigurationCommand : L2tpCmdletBase
{
    /// <summary>The configuration file (JSON, L2tpConfiguration.schema.json).</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
    [Alias("FullName")]
    public string Path { get; set; } = "";

    /// <summary>Also remove the tunnels, sessions, addresses, bridges and bridge ports the file does not name.</summary>
    [Parameter]
    public SwitchParameter Prune { get; set; }

    /// <inheritdoc/>
    protected override object? ErrorTarget => Path;

    /// <inheritdoc/>
    protected override void ProcessL2tpRecord()
    {
        string file = GetUnresolvedProviderPathFromPSPath(Path);
        var config = L2tpConfiguration.Read(file);
        using var service = new ConfigurationService(WriteVerbose, Cancellation);
        try
        {
            service.Sync(config, Prune,
                step => ShouldProcess(step.NetworkNamespace.Length > 0 ? $"{step.Target} in network namespace '{step.NetworkNamespace}'" : step.Target,
                    step.Detail.Length > 0 ? $"{step.Action} ({step.Detail})" : step.Action.ToString()),
                step => WriteObject(step));
        }
        finally
        {
            foreach (var warning in service.TakeWarnings())
                WriteWarning(warning);
        }
    }
}
