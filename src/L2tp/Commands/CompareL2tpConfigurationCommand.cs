using System.Management.Automation;
using L2tp.Services;

namespace L2tp.Commands;

/// <summary>Compare-L2tpConfiguration: how the namespaces a configuration file names differ from it, field by field.</summary>
[Cmdlet(VerbsData.Compare, "L2tpConfiguration")]
[OutputType(typeof(L2tpConfigurationDrift))]
public sealed class CompareL2tpConfigurationCommand : L2tpCmdletBase
{
    /// <summary>The configuration file (JSON, L2tpConfiguration.schema.json).</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
    [Alias("FullName")]
    public string Path { get; set; } = "";

    /// <inheritdoc/>
    protected override object? ErrorTarget => Path;

    /// <inheritdoc/>
    protected override void ProcessL2tpRecord()
    {
        var config = L2tpConfiguration.Read(GetUnresolvedProviderPathFromPSPath(Path));
        using var service = new ConfigurationService(WriteVerbose, Cancellation);
        WriteObject(service.Compare(config), enumerateCollection: true);
        foreach (var warning in service.TakeWarnings())
            WriteWarning(warning);
    }
}
