using System.Management.Automation;

namespace L2tp.Commands;

/// <summary>Remove-L2tpSession: `ip l2tp del session`, removing its interface.</summary>
[Cmdlet(VerbsCommon.Remove, "L2tpSession", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(void))]
public sealed class RemoveL2tpSessionCommand : L2tpSessionCmdlet
{
    /// <inheritdoc/>
    protected override void ProcessL2tpRecord()
    {
        if (ShouldProcess($"session {SessionId} in tunnel {TunnelId}", "Remove L2TP session"))
            Pseudowires.RemoveSession(TunnelId, SessionId);
    }
}
