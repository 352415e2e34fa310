using System.Management.Automation;

namespace L2tp.Commands;

/// <summary>Remove-L2tpPseudowire: removes a pseudowire's session (and its tunnel, once empty) at this end and at the peer.</summary>
[Cmdlet(VerbsCommon.Remove, "L2tpPseudowire", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium, DefaultParameterSetName = "PeerSession")]
[OutputType(typeof(void))]
public sealed class RemoveL2tpPseudowireCommand : L2tpPeerCmdlet
{
    /// <summary>This end's tunnel; binds from a piped L2tpPseudowire.</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
    [ArgumentCompleter(typeof(TunnelIdCompleter))]
    public uint TunnelId { get; set; }

    /// <summary>This end's session; the peer's ids are read from it.</summary>
    [Parameter(Mandatory = true, Position = 1, ValueFromPipelineByPropertyName = true)]
    [ArgumentCompleter(typeof(SessionIdCompleter))]
    public uint SessionId { get; set; }

    /// <inheritdoc/>
    protected override void ProcessL2tpRecord()
    {
        if (ShouldProcess($"session {SessionId} in tunnel {TunnelId} and its peer at {PeerName}", "Remove L2TP pseudowire at both ends"))
            BothEnds.Remove(Peer, TunnelId, SessionId, CopyModule, ModuleBase);
    }
}
