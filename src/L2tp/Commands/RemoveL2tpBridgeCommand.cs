using System.Management.Automation;
using L2tp.Services;

namespace L2tp.Commands;

/// <summary>Remove-L2tpBridge: `ip link del NAME` for a bridge (its ports stay, unenslaved).</summary>
[Cmdlet(VerbsCommon.Remove, "L2tpBridge", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(void))]
public sealed class RemoveL2tpBridgeCommand : L2tpNetnsCmdlet
{
    /// <summary>The bridge; binds from a piped L2tpBridge.</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
    [ArgumentCompleter(typeof(BridgeNameCompleter))]
    public string Name { get; set; } = "";

    /// <inheritdoc/>
    protected override object? ErrorTarget => Name;

    /// <inheritdoc/>
    protected override void ProcessL2tpRecord()
    {
        var bridge = Interfaces.RequireBridge(Name);
        if (ShouldProcess(Name, "Remove bridge"))
            Interfaces.RemoveBridge(bridge);
    }
}
