using System.Management.Automation;
using L2tp.Services;

namespace L2tp.Commands;

/// <summary>Add-L2tpBridgePort: `ip link set DEV master BRIDGE`, for a session interface from the pipeline or any interface by name.</summary>
[Cmdlet(VerbsCommon.Add, "L2tpBridgePort", SupportsShouldProcess = true)]
[OutputType(typeof(L2tpInterface))]
public sealed class AddL2tpBridgePortCommand : L2tpNetnsCmdlet
{
    /// <summary>The bridge, by name or as an L2tpBridge object.</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
    [BridgeNameTransformation]
    [ArgumentCompleter(typeof(BridgeNameCompleter))]
    public string Bridge { get; set; } = "";

    /// <summary>The interface to enslave; binds from a piped L2tpSession or L2tpInterface.</summary>
    [Parameter(Mandatory = true, Position = 1, ValueFromPipelineByPropertyName = true)]
    [Alias("dev")]
    [ArgumentCompleter(typeof(InterfaceNameCompleter))]
    public string InterfaceName { get; set; } = "";

    /// <inheritdoc/>
    protected override object? ErrorTarget => InterfaceName;

    /// <summary>Write the port's L2tpInterface object.</summary>
    [Parameter] public SwitchParameter PassThru { get; set; }

    /// <inheritdoc/>
    protected override void ProcessL2tpRecord()
    {
        var (bridge, port) = Interfaces.PlanAddPort(Bridge, InterfaceName);
        if (!ShouldProcess(InterfaceName, $"Add to bridge {Bridge}"))
            return;
        Interfaces.SetMaster(port, bridge);
        if (PassThru)
            WriteObject(Interfaces.Interface(InterfaceName));
    }
}
