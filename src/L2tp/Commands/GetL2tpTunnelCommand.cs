using System.Management.Automation;

namespace L2tp.Commands;

/// <summary>Get-L2tpTunnel: `ip l2tp show tunnel` as objects.</summary>
[Cmdlet(VerbsCommon.Get, "L2tpTunnel")]
[OutputType(typeof(L2tpTunnel))]
public sealed class GetL2tpTunnelCommand : L2tpCmdlet
{
    /// <summary>Only this tunnel; all when omitted.</summary>
    [Parameter(Position = 0, ValueFromPipelineByPropertyName = true)]
    [Alias("tunnel_id")]
    [ArgumentCompleter(typeof(TunnelIdCompleter))]
    public uint? TunnelId { get; set; }

    /// <inheritdoc/>
    protected override void ProcessL2tpRecord() => WriteObject(Pseudowires.GetTunnels(TunnelId), enumerateCollection: true);
}
