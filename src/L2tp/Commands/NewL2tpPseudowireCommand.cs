using System.Management.Automation;
using L2tp.Services;

namespace L2tp.Commands;

/// <summary>New-L2tpPseudowire: the tunnel and session at this end and, over PowerShell remoting, the mirror image at the peer; both or neither.</summary>
[Cmdlet(VerbsCommon.New, "L2tpPseudowire", SupportsShouldProcess = true, DefaultParameterSetName = "PeerSession")]
[OutputType(typeof(L2tpPseudowire))]
public sealed class NewL2tpPseudowireCommand : L2tpPeerCmdlet
{
    /// <summary>This end's underlay address (the peer's -Remote).</summary>
    [Parameter(Mandatory = true)]
    public string Local { get; set; } = "";

    /// <summary>The peer's underlay address (the peer's -Local).</summary>
    [Parameter(Mandatory = true)]
    public string Remote { get; set; } = "";

    /// <summary>Udp (default) or Ip, at both ends.</summary>
    [Parameter]
    [Alias("encap")]
    public Encapsulation Encapsulation { get; set; } = Encapsulation.Udp;

    /// <summary>This end's tunnel id; by default the lowest from 3000 free at both ends.</summary>
    [Parameter] public uint TunnelId { get; set; }

    /// <summary>The peer's tunnel id; by default the same as -TunnelId when that is free there.</summary>
    [Parameter] public uint PeerTunnelId { get; set; }

    /// <summary>This end's session id; by default the lowest from 1000 free at both ends.</summary>
    [Parameter] public uint SessionId { get; set; }

    /// <summary>The peer's session id; by default the same as -SessionId when that is free there.</summary>
    [Parameter] public uint PeerSessionId { get; set; }

    /// <summary>This end's UDP port (the peer's destination); by default the lowest from 1701 free at both ends.</summary>
    [Parameter] public ushort SourcePort { get; set; }

    /// <summary>The peer's UDP port; by default the same as -SourcePort when that is free there.</summary>
    [Parameter] public ushort DestinationPort { get; set; }

    /// <summary>No cookies; by default each direction gets a fresh random 8-byte cookie.</summary>
    [Parameter] public SwitchParameter NoCookie { get; set; }

    /// <summary>Default (Linux's default) or None (Cisco's), at both ends.</summary>
    [Parameter]
    [Alias("l2spec_type")]
    public L2SpecType L2SpecType { get; set; } = L2SpecType.Default;

    /// <summary>None (default), Send, Recv or Both, at both ends.</summary>
    [Parameter]
    [Alias("seq")]
    public SequencingMode Sequencing { get; set; } = SequencingMode.None;

    /// <summary>Address (with prefix) for this end's session interface.</summary>
    [Parameter] public string? Address { get; set; }

    /// <summary>Address (with prefix) for the peer's session interface.</summary>
    [Parameter] public string? PeerAddress { get; set; }

    /// <summary>An existing bridge at this end to add the session interface to.</summary>
    [Parameter]
    [BridgeNameTransformation]
    public string? Bridge { get; set; }

    /// <summary>An existing bridge at the peer to add its session interface to.</summary>
    [Parameter] public string? PeerBridge { get; set; }

    /// <inheritdoc/>
    protected override void ProcessL2tpRecord()
    {
        var request = new PseudowireRequest
        {
            Local = Local, Remote = Remote, Encapsulation = Encapsulation,
            TunnelId = Given(nameof(TunnelId), TunnelId), PeerTunnelId = Given(nameof(PeerTunnelId), PeerTunnelId),
            SessionId = Given(nameof(SessionId), SessionId), PeerSessionId = Given(nameof(PeerSessionId), PeerSessionId),
            SourcePort = MyInvocation.BoundParameters.ContainsKey(nameof(SourcePort)) ? SourcePort : null,
            DestinationPort = MyInvocation.BoundParameters.ContainsKey(nameof(DestinationPort)) ? DestinationPort : null,
            NoCookie = NoCookie, L2SpecType = L2SpecType, Sequencing = Sequencing,
            Address = Address, PeerAddress = PeerAddress, Bridge = Bridge, PeerBridge = PeerBridge,
        };
        if (ShouldProcess($"{Local} <-> {Remote} ({PeerName})", "Create L2TP pseudowire at both ends"))
            WriteObject(BothEnds.New(Peer, request, CopyModule, ModuleBase));
    }

    private uint? Given(string name, uint value) => MyInvocation.BoundParameters.ContainsKey(name) ? value : null;
}
