using System.Management.Automation;

namespace L2tp.Commands;

/// <summary>Remove-L2tpSession: `ip l2tp del session`, removing its interface.</summary>
[Cmdlet(VerbsCommon.Remove, "L2tpSession", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(void))]
public sealed class RemoveL2tpSessionCommand : L2tpCmdlet
{
    /// <summary>The session's tunnel.</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
    [Alias("tunnel_id")]
    [ArgumentCompleter(typeof(TunnelIdCompleter))]
    public uint TunnelId { get; set; }

    /// <summary>The session to remove.</summary>
    [Parameter(Mandatory = true, Position = 1, ValueFromPipelineByPropertyName = true)]
    [Alias("session_id")]
    [ArgumentCompleter(typeof(SessionIdCompleter))]
    public uint SessionId { get; set; }

    /// <inheritdoc/>
    protected override void ProcessL2tpRecord()
    {
        if (ShouldProcess($"session {SessionId} in tunnel {TunnelId}", "Remove L2TP session"))
            Pseudowires.RemoveSession(TunnelId, SessionId);
    }
}
