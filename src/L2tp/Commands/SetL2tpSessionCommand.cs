using System.Management.Automation;
using L2tp.Protocol;

namespace L2tp.Commands;

/// <summary>Set-L2tpSession: changes sequencing and the reorder timeout of a live session (L2TP_CMD_SESSION_MODIFY).</summary>
[Cmdlet(VerbsCommon.Set, "L2tpSession", SupportsShouldProcess = true)]
[OutputType(typeof(L2tpSession))]
public sealed class SetL2tpSessionCommand : L2tpSessionCmdlet
{
    /// <summary>None, Send, Recv or Both, as New-L2tpSession takes it; not bound from the pipeline, so only what is given changes.</summary>
    [Parameter]
    [Alias("seq")]
    public SequencingMode? Sequencing { get; set; }

    /// <summary>How long an out-of-order packet waits: a number of milliseconds or a TimeSpan; 0 turns reordering off.</summary>
    [Parameter]
    [MillisecondsTransformation]
    public TimeSpan? ReorderTimeout { get; set; }

    /// <summary>Writes the session as it is after the change.</summary>
    [Parameter]
    public SwitchParameter PassThru { get; set; }

    /// <inheritdoc/>
    protected override void ProcessL2tpRecord()
    {
        if (Sequencing is null && ReorderTimeout is null)
            throw new L2tpException("L2tp.NothingToChange", L2tpErrorKind.InvalidArgument, SessionId,
                "Give -Sequencing or -ReorderTimeout: they are what a live session can change.");
        if (ReorderTimeout is { } t)
            SessionSpec.ReorderTimeoutFrom(t);
        if (!ShouldProcess($"session {SessionId} in tunnel {TunnelId}", "Set L2TP session"))
            return;
        var session = Pseudowires.SetSession(TunnelId, SessionId, Sequencing, ReorderTimeout);
        if (PassThru)
            WriteObject(session);
    }
}
