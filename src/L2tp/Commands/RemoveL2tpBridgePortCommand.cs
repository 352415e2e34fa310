using System.Management.Automation;
using L2tp.Services;

namespace L2tp.Commands;

/// <summary>Remove-L2tpBridgePort: `ip link set DEV nomaster`.</summary>
[Cmdlet(VerbsCommon.Remove, "L2tpBridgePort", SupportsShouldProcess = true)]
[OutputType(typeof(void))]
public sealed class RemoveL2tpBridgePortCommand : L2tpNetnsCmdlet
{
    /// <summary>The port to take out of its bridge.</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
    [Alias("dev")]
    [ArgumentCompleter(typeof(InterfaceNameCompleter))]
    public string InterfaceName { get; set; } = "";

    /// <inheritdoc/>
    protected override object? ErrorTarget => InterfaceName;

    /// <inheritdoc/>
    protected override void ProcessL2tpRecord()
    {
        var port = Interfaces.RequirePort(InterfaceName);
        if (ShouldProcess(InterfaceName, "Remove from its bridge"))
            Interfaces.SetMaster(port, null);
    }
}
