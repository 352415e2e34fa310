using System.Management.Automation;
using L2tp.Protocol;

namespace L2tp.Commands;

/// <summary>New-L2tpSession: `ip l2tp add session`, making the session's Ethernet interface.</summary>
[Cmdlet(VerbsCommon.New, "L2tpSession", SupportsShouldProcess = true)]
[OutputType(typeof(L2tpSession))]
public sealed class NewL2tpSessionCommand : L2tpCmdlet
{
    /// <summary>The tunnel to add the session to; binds from a piped L2tpTunnel.</summary>
    [Parameter(Mandatory = true, ValueFromPipelineByPropertyName = true)]
    [Alias("tunnel_id")]
    [ArgumentCompleter(typeof(TunnelIdCompleter))]
    public uint TunnelId { get; set; }

    /// <summary>Local session id, 1..4294967295; binds by property name, as every parameter here (a CSV row, a session object).</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
    [Alias("session_id")]
    public uint SessionId { get; set; }

    /// <summary>The peer's session id.</summary>
    [Parameter(Mandatory = true, ValueFromPipelineByPropertyName = true)]
    [Alias("peer_session_id")]
    public uint PeerSessionId { get; set; }

    /// <summary>Interface name; l2tpethN (lowest free N) when omitted.</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    [Alias("InterfaceName")]
    public string? Name { get; set; }

    /// <summary>Cookie to send: 8 or 16 hex digits.</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    public string? Cookie { get; set; }

    /// <summary>Cookie required on receive: 8 or 16 hex digits.</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    [Alias("peer_cookie")]
    public string? PeerCookie { get; set; }

    /// <summary>Default (Linux's default) or None (Cisco's).</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    [Alias("l2spec_type")]
    public L2SpecType L2SpecType { get; set; } = L2SpecType.Default;

    /// <summary>None (default), Send, Recv or Both.</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    [Alias("seq")]
    public SequencingMode Sequencing { get; set; } = SequencingMode.None;

    /// <summary>How long an out-of-order packet waits for those before it: milliseconds or a TimeSpan; 0 (default) drops it.</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    [MillisecondsTransformation]
    public TimeSpan ReorderTimeout { get; set; }

    /// <inheritdoc/>
    protected override void ProcessL2tpRecord()
    {
        var spec = new SessionSpec
        {
            TunnelId = TunnelId,
            SessionId = SessionId,
            PeerSessionId = PeerSessionId,
            InterfaceName = string.IsNullOrEmpty(Name) ? null : Name,
            Cookie = Protocol.Cookie.Parse(Cookie, nameof(Cookie)),
            PeerCookie = Protocol.Cookie.Parse(PeerCookie, nameof(PeerCookie)),
            L2SpecType = L2SpecType,
            Sequencing = Sequencing,
            ReorderTimeoutMs = SessionSpec.ReorderTimeoutFrom(ReorderTimeout),
        };
        spec.Validate();
        if (ShouldProcess($"session {SessionId} in tunnel {TunnelId}", "Create L2TP session"))
            WriteObject(Pseudowires.NewSession(spec));
    }
}
