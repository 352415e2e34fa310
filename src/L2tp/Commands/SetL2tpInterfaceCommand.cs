using System.Management.Automation;
using L2tp.Services;

namespace L2tp.Commands;

/// <summary>Set-L2tpInterface: `ip link set ... up mtu N` and `ip addr add ... peer ...` for a session's (or any) interface.</summary>
[Cmdlet(VerbsCommon.Set, "L2tpInterface", SupportsShouldProcess = true)]
[OutputType(typeof(L2tpInterface))]
public sealed class SetL2tpInterfaceCommand : L2tpCmdlet
{
    /// <summary>The interface; binds from a piped L2tpSession or L2tpInterface.</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
    [Alias("dev", "Name")]
    [ArgumentCompleter(typeof(InterfaceNameCompleter))]
    public string InterfaceName { get; set; } = "";

    /// <inheritdoc/>
    protected override object? ErrorTarget => InterfaceName;

    /// <summary>Bring the interface up.</summary>
    [Parameter] public SwitchParameter Up { get; set; }

    /// <summary>Take the interface down.</summary>
    [Parameter] public SwitchParameter Down { get; set; }

    /// <summary>A number, or Auto: the MTU that fits the session's encapsulation over its underlay (SuggestedMtu).</summary>
    [Parameter]
    [ArgumentCompleter(typeof(MtuCompleter))]
    public string? Mtu { get; set; }

    /// <summary>Address to add, with optional prefix (198.51.100.1/24).</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)] public string? Address { get; set; }

    /// <summary>Peer address for the point-to-point form `ip addr add LOCAL peer PEER`.</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)] public string? PeerAddress { get; set; }

    /// <summary>MAC address to set (aa:bb:cc:dd:ee:ff).</summary>
    [Parameter] public string? MacAddress { get; set; }

    /// <inheritdoc/>
    protected override void ProcessL2tpRecord()
    {
        var apply = Interfaces.PlanSet(InterfaceName, new InterfaceChange(Up, Down, Mtu, Address, PeerAddress, MacAddress), Pseudowires.SuggestedMtu);
        WriteObject(ShouldProcess(InterfaceName, "Set interface") ? apply() : Interfaces.Interface(InterfaceName));
    }
}
