using System.Management.Automation;

namespace L2tp.Commands;

/// <summary>Test-L2tpPseudowire: compares both ends of a pseudowire field by field, then checks that frames cross both ways.</summary>
[Cmdlet(VerbsDiagnostic.Test, "L2tpPseudowire", DefaultParameterSetName = "PeerSession")]
[OutputType(typeof(L2tpPseudowireTestResult))]
public sealed class TestL2tpPseudowireCommand : L2tpPeerCmdlet
{
    /// <summary>This end's tunnel; binds from a piped L2tpPseudowire.</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
    [ArgumentCompleter(typeof(TunnelIdCompleter))]
    public uint TunnelId { get; set; }

    /// <summary>This end's session; the peer's tunnel and session are found from it.</summary>
    [Parameter(Mandatory = true, Position = 1, ValueFromPipelineByPropertyName = true)]
    [ArgumentCompleter(typeof(SessionIdCompleter))]
    public uint SessionId { get; set; }

    /// <inheritdoc/>
    protected override void ProcessL2tpRecord() => WriteObject(BothEnds.Test(Peer, TunnelId, SessionId, CopyModule, ModuleBase));
}
