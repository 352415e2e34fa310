using System.Management.Automation;
using L2tp.Services;

namespace L2tp.Commands;

/// <summary>Get-L2tpBridge: the bridges of the namespace with their ports.</summary>
[Cmdlet(VerbsCommon.Get, "L2tpBridge")]
[OutputType(typeof(L2tpBridge))]
public sealed class GetL2tpBridgeCommand : L2tpNetnsCmdlet
{
    /// <summary>Only this bridge; all when omitted.</summary>
    [Parameter(Position = 0, ValueFromPipelineByPropertyName = true)]
    [ArgumentCompleter(typeof(BridgeNameCompleter))]
    public string? Name { get; set; }

    /// <inheritdoc/>
    protected override object? ErrorTarget => Name;

    /// <inheritdoc/>
    protected override void ProcessL2tpRecord() => WriteObject(Interfaces.GetBridges(Name), enumerateCollection: true);
}
