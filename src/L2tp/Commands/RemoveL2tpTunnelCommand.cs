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
        var backend = GetBackend(create: false)
            ?? throw new L2tpException("L2tp.TunnelNotFound", L2tpErrorKind.ObjectNotFound, TunnelId, $"There is no tunnel {TunnelId}.");
        if (backend.GetTunnels(TunnelId).Count == 0)
            throw new L2tpException("L2tp.TunnelNotFound", L2tpErrorKind.ObjectNotFound, TunnelId, $"There is no tunnel {TunnelId}.");
        var sessions = backend.GetSessions(TunnelId);
        if (sessions.Count > 0 && !Force)
            throw new L2tpException("L2tp.TunnelHasSessions", L2tpErrorKind.InvalidOperation, TunnelId,
                $"Tunnel {TunnelId} still has {sessions.Count} session(s) ({string.Join(", ", sessions.Select(s => s.SessionId))}). " +
                "Remove them first, or use -Force to remove them with the tunnel.");
        string what = sessions.Count > 0 ? $"tunnel {TunnelId} and its {sessions.Count} session(s)" : $"tunnel {TunnelId}";
        if (!ShouldProcess(what, "Remove L2TP tunnel"))
            return;
        for (int i = 0; i < sessions.Count; i++)
        {
            if (sessions.Count > 20 && i % 10 == 0)
                WriteProgress(new ProgressRecord(1, $"Removing tunnel {TunnelId}", $"session {sessions[i].SessionId}")
                    { PercentComplete = i * 100 / sessions.Count });
            backend.DeleteSession(sessions[i].TunnelId, sessions[i].SessionId);
        }
        if (sessions.Count > 20)
            WriteProgress(new ProgressRecord(1, $"Removing tunnel {TunnelId}", "done") { RecordType = ProgressRecordType.Completed });
        backend.DeleteTunnel(TunnelId);
    }
}
