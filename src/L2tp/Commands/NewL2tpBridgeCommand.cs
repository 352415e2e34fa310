using System.Management.Automation;
using L2tp.Services;

namespace L2tp.Commands;

/// <summary>New-L2tpBridge: `ip link add NAME type bridge` (and up).</summary>
[Cmdlet(VerbsCommon.New, "L2tpBridge", SupportsShouldProcess = true)]
[OutputType(typeof(L2tpBridge))]
public sealed class NewL2tpBridgeCommand : L2tpNetnsCmdlet
{
    /// <summary>Bridge name.</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
    public string Name { get; set; } = "";

    /// <summary>Bring the bridge up.</summary>
    [Parameter] public SwitchParameter Up { get; set; }

    /// <inheritdoc/>
    protected override object? ErrorTarget => Name;

    /// <inheritdoc/>
    protected override void ProcessL2tpRecord()
    {
        Protocol.SessionSpec.CheckInterfaceName(Name);
        if (ShouldProcess(Name, "Create bridge"))
            WriteObject(Interfaces.NewBridge(Name, Up));
    }
}
