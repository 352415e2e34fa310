namespace L2tp;

/// <summary>Whether the far end of a session is heard: what its receive times say against its send times.</summary>
public enum L2tpPeerState
{
    /// <summary>Not known: nothing was sent or received lately, or the backend cannot tell yet (a first kernel sample).</summary>
    Unknown = 0,
    /// <summary>A packet arrived within the silence limit (10 s unless told otherwise).</summary>
    Up = 1,
    /// <summary>We sent within the silence limit but nothing arrived for longer than it.</summary>
    Silent = 2,
}

/// <summary>Test-L2tpSession's one-word answer.</summary>
public enum L2tpVerdict
{
    /// <summary>Packets arrive and are delivered, and nothing undeliverable was seen lately.</summary>
    Healthy = 0,
    /// <summary>Packets arrive that this session (or its tunnel) cannot deliver: the two ends are configured differently.</summary>
    Mismatch = 1,
    /// <summary>We send but nothing arrives from the peer, not even something undeliverable.</summary>
    Silent = 2,
    /// <summary>Nothing was sent or received while we looked: there is no traffic to judge by.</summary>
    Idle = 3,
}

/// <summary>What kind of undeliverable (or missing) traffic a finding is about.</summary>
public enum L2tpFindingKind
{
    /// <summary>Packets name a session id that does not exist in the tunnel.</summary>
    UnknownSession = 1,
    /// <summary>Packets carry a cookie other than the session's PeerCookie.</summary>
    CookieMismatch = 2,
    /// <summary>Packets carry no cookie where the session requires one.</summary>
    CookieMissing = 3,
    /// <summary>Packets carry a cookie where the session expects none.</summary>
    CookieUnexpected = 4,
    /// <summary>Packets have no L2-specific sublayer where the session expects the default one.</summary>
    SublayerMissing = 5,
    /// <summary>Packets carry the default L2-specific sublayer where the session expects none.</summary>
    SublayerUnexpected = 6,
    /// <summary>Packets carry no sequence number where the session requires them (-Sequencing Recv or Both).</summary>
    SequenceMissing = 7,
    /// <summary>Sequenced packets arrived out of order and were dropped.</summary>
    OutOfOrder = 8,
    /// <summary>L2TPv3 packets arrive from an address or port other than the tunnel's Remote and DestinationPort.</summary>
    WrongSource = 9,
    /// <summary>L2TPv3 packets from the peer arrive at a UDP port other than the tunnel's SourcePort.</summary>
    WrongPort = 10,
    /// <summary>The peer sends over UDP where the tunnel uses IP protocol 115, or the opposite.</summary>
    WrongEncapsulation = 11,
    /// <summary>The peer sends L2TP control messages, which static tunnels never exchange.</summary>
    ControlMessage = 12,
    /// <summary>The peer sends another L2TP version (L2TPv2, say).</summary>
    WrongVersion = 13,
    /// <summary>Frames arrive longer than the session interface's MTU takes.</summary>
    FrameTooLong = 14,
    /// <summary>We send but nothing arrives from the peer.</summary>
    Silent = 15,
}

/// <summary>One thing Test-L2tpSession found: what was expected, what arrived, how often and when last.</summary>
public sealed class L2tpFinding
{
    /// <summary>What kind of mismatch (or silence) this is.</summary>
    public L2tpFindingKind Kind { get; set; }
    /// <summary>The setting it concerns, named as the cmdlet parameter (PeerCookie, SessionId, SourcePort ...).</summary>
    public string Field { get; set; } = "";
    /// <summary>What this end is configured to receive.</summary>
    public string Expected { get; set; } = "";
    /// <summary>What arrived instead.</summary>
    public string Actual { get; set; } = "";
    /// <summary>Packets seen of this kind.</summary>
    public long Count { get; set; }
    /// <summary>When such a packet was last seen (UTC); null where not known.</summary>
    public DateTime? LastSeen { get; set; }
    /// <summary>The finding in words: who sends what, and what this end expects.</summary>
    public string Message { get; set; } = "";

    /// <inheritdoc/>
    public override string ToString() => Message;
}

/// <summary>Test-L2tpSession's result for one session: a verdict and the findings behind it.</summary>
public sealed class L2tpDiagnosis
{
    /// <summary>The tunnel of the session.</summary>
    public uint TunnelId { get; set; }
    /// <summary>The session diagnosed.</summary>
    public uint SessionId { get; set; }
    /// <summary>The one-word answer.</summary>
    public L2tpVerdict Verdict { get; set; }
    /// <summary>What was found; empty for a healthy session.</summary>
    public L2tpFinding[] Findings { get; set; } = Array.Empty<L2tpFinding>();
    /// <summary>Packets the session delivered while we looked.</summary>
    public ulong ReceivedPackets { get; set; }
    /// <summary>Packets the session sent while we looked.</summary>
    public ulong SentPackets { get; set; }
    /// <summary>How long we looked.</summary>
    public TimeSpan Duration { get; set; }
    /// <summary>The backend of the session.</summary>
    public BackendKind Backend { get; set; }
    /// <summary>The network namespace of the session; empty for the caller's own.</summary>
    public string NetworkNamespace { get; set; } = "";

    /// <inheritdoc/>
    public override string ToString() => $"Session {SessionId} in tunnel {TunnelId}: {Verdict}";
}

/// <summary>One Watch-L2tpSession sample of one session: rates over the last interval.</summary>
public sealed class L2tpSessionSample
{
    /// <summary>When the sample was taken (UTC).</summary>
    public DateTime Time { get; set; }
    /// <summary>The tunnel of the session.</summary>
    public uint TunnelId { get; set; }
    /// <summary>The session.</summary>
    public uint SessionId { get; set; }
    /// <summary>The session's interface.</summary>
    public string InterfaceName { get; set; } = "";
    /// <summary>Packets per second received (delivered) over the interval.</summary>
    public double RxPacketsPerSecond { get; set; }
    /// <summary>Bits per second received over the interval (the L2TP payload, as RxBytes counts it).</summary>
    public double RxBitsPerSecond { get; set; }
    /// <summary>Packets per second sent over the interval.</summary>
    public double TxPacketsPerSecond { get; set; }
    /// <summary>Bits per second sent over the interval.</summary>
    public double TxBitsPerSecond { get; set; }
    /// <summary>Receive and send errors over the interval.</summary>
    public ulong Errors { get; set; }
    /// <summary>Packets discarded over the interval (sequence and cookie discards).</summary>
    public ulong Discards { get; set; }
    /// <summary>When a packet last arrived (UTC); null when not known.</summary>
    public DateTime? LastReceived { get; set; }
    /// <summary>The peer's state at the sample.</summary>
    public L2tpPeerState PeerState { get; set; }
    /// <summary>The interval the rates are over.</summary>
    public TimeSpan Interval { get; set; }
}
