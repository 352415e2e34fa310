namespace L2tp;

/// <summary>An L2TPv3 Ethernet session (pseudowire) and its network interface, as `ip l2tp show session` describes it.</summary>
public sealed class L2tpSession
{
    /// <summary>The tunnel the session belongs to (tunnel_id).</summary>
    public uint TunnelId { get; set; }
    /// <summary>The peer's tunnel id, copied from the tunnel.</summary>
    public uint PeerTunnelId { get; set; }
    /// <summary>Local session id (session_id).</summary>
    public uint SessionId { get; set; }
    /// <summary>The peer's session id (peer_session_id), written in every packet sent.</summary>
    public uint PeerSessionId { get; set; }
    /// <summary>The session's Ethernet interface (l2tpethN unless named).</summary>
    public string InterfaceName { get; set; } = "";
    /// <summary>Cookie sent in each packet, as hex digits; empty for none.</summary>
    public string Cookie { get; set; } = "";
    /// <summary>Cookie required in each received packet, as hex digits; empty for none.</summary>
    public string PeerCookie { get; set; } = "";
    /// <summary>The L2-specific sublayer (l2spec_type); null where the backend does not report it (the kernel's replies omit it).</summary>
    public L2SpecType? L2SpecType { get; set; }
    /// <summary>Sequence numbering (seq).</summary>
    public SequencingMode Sequencing { get; set; }
    /// <summary>
    /// How long an out-of-order packet waits for the ones before it (the kernel's reorder_timeout,
    /// L2TP_ATTR_RECV_TIMEOUT); zero when out-of-order packets are dropped, the default.
    /// </summary>
    public TimeSpan ReorderTimeout { get; set; }
    /// <summary>
    /// The interface MTU that fits this session's encapsulation over the route to the peer (what l2tp_eth sets at
    /// creation, and what Set-L2tpInterface -Mtu Auto applies): 1446 for UDP/IPv4, default sublayer, 1500 underlay.
    /// </summary>
    public int SuggestedMtu { get; set; }
    /// <summary>The session interface's current MTU.</summary>
    public int Mtu { get; set; }
    /// <summary>Session counters.</summary>
    public L2tpStatistics Statistics { get; set; } = new();
    /// <summary>
    /// When a packet from the peer was last delivered (UTC); null when never or not known. Managed: stamped by the
    /// forwarder per received batch. Kernel: sampled, the time this process last saw RxPackets grow (null at the first look).
    /// </summary>
    public DateTime? LastReceived { get; set; }
    /// <summary>When a packet was last sent (UTC); null when never or not known (sampled like LastReceived on Kernel).</summary>
    public DateTime? LastSent { get; set; }
    /// <summary>Up: heard from within the silence limit (10 s by default); Silent: we send but hear nothing; Unknown otherwise.</summary>
    public L2tpPeerState PeerState { get; set; }
    /// <summary>The backend that carries this session.</summary>
    public BackendKind Backend { get; set; }
    /// <summary>The network namespace (name under /run/netns) the session lives in; empty for the caller's own.</summary>
    public string NetworkNamespace { get; set; } = "";

    /// <inheritdoc/>
    public override string ToString() => $"Session {SessionId} in tunnel {TunnelId} ({InterfaceName})";
}
