using System.Management.Automation;

namespace L2tp.Commands;

/// <summary>Remove-L2tpTunnel: `ip l2tp del tunnel`; with -Force its sessions go first.</summary>
[Cmdlet(VerbsCommon.Remove, "L2tpTunnel", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(void))]
public sealed class RemoveL2tpTunnelCommand : L2tpCmdlet
{
    /// <summary>The tunnel to remove.</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
    [Alias("tunnel_id")]
    [ArgumentCompleter(typeof(TunnelIdCompleter))]
    public uint TunnelId { get; set; }

    /// <summary>Remove the tunnel's sessions too (the kernel does this silently; we ask for it).</summary>
    [Parameter]
    public SwitchParameter Force { get; set; }

    /// <inheritdoc/>
    protected override void ProcessL2tpRecord()
    {
        var sessions = Pseudowires.SessionsToRemoveWith(TunnelId, Force);
        string what = sessions.Count > 0 ? $"tunnel {TunnelId} and its {sessions.Count} session(s)" : $"tunnel {TunnelId}";
        if (!ShouldProcess(what, "Remove L2TP tunnel"))
            return;
        var activity = $"Removing tunnel {TunnelId}";
        Pseudowires.RemoveTunnel(TunnelId, sessions, sessions.Count <= 20 ? null : i =>
        {
            if (i % 10 == 0)
                WriteProgress(new ProgressRecord(1, activity, $"session {sessions[i].SessionId}") { PercentComplete = i * 100 / sessions.Count });
        });
        if (sessions.Count > 20)
            WriteProgress(new ProgressRecord(1, activity, "done") { RecordType = ProgressRecordType.Completed });
    }
}
