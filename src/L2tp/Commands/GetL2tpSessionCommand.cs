using System.Management.Automation;

namespace L2tp.Commands;

/// <summary>Get-L2tpSession: `ip l2tp show session` as objects.</summary>
[Cmdlet(VerbsCommon.Get, "L2tpSession")]
[OutputType(typeof(L2tpSession))]
public sealed class GetL2tpSessionCommand : L2tpCmdlet
{
    /// <summary>Only sessions of this tunnel; binds from a piped L2tpTunnel.</summary>
    [Parameter(Position = 0, ValueFromPipelineByPropertyName = true)]
    [Alias("tunnel_id")]
    [ArgumentCompleter(typeof(TunnelIdCompleter))]
    public uint? TunnelId { get; set; }

    /// <summary>Only this session id.</summary>
    [Parameter(Position = 1, ValueFromPipelineByPropertyName = true)]
    [Alias("session_id")]
    [ArgumentCompleter(typeof(SessionIdCompleter))]
    public uint? SessionId { get; set; }

    /// <summary>Seconds without a received packet, while sending, after which PeerState reads Silent (10 by default).</summary>
    [Parameter]
    public double SilentSeconds { get; set; } = 10;

    /// <inheritdoc/>
    protected override void ProcessL2tpRecord() =>
        WriteObject(Pseudowires.GetSessions(TunnelId, SessionId, TimeSpan.FromSeconds(SilentSeconds)), enumerateCollection: true);
}
