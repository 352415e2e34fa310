using System.Net;

namespace L2tp;

/// <summary>An L2TPv3 tunnel as `ip l2tp show tunnel` describes it, from either backend.</summary>
public sealed class L2tpTunnel
{
    /// <summary>Local tunnel id (tunnel_id).</summary>
    public uint TunnelId { get; set; }
    /// <summary>The peer's tunnel id (peer_tunnel_id).</summary>
    public uint PeerTunnelId { get; set; }
    /// <summary>UDP or IP encapsulation (encap).</summary>
    public Encapsulation Encapsulation { get; set; }
    /// <summary>Local address packets are sent from and accepted on (local).</summary>
    public IPAddress? Local { get; set; }
    /// <summary>Peer address (remote).</summary>
    public IPAddress? Remote { get; set; }
    /// <summary>Local UDP port (udp_sport); 0 with IP encapsulation.</summary>
    public ushort SourcePort { get; set; }
    /// <summary>Peer UDP port (udp_dport); 0 with IP encapsulation.</summary>
    public ushort DestinationPort { get; set; }
    /// <summary>IPv4 UDP checksums on (udp_csum).</summary>
    public bool UdpChecksum { get; set; }
    /// <summary>IPv6 UDP checksums computed on send (udp6_csum_tx).</summary>
    public bool Udp6ChecksumTx { get; set; } = true;
    /// <summary>IPv6 UDP checksums required on receive (udp6_csum_rx).</summary>
    public bool Udp6ChecksumRx { get; set; } = true;
    /// <summary>
    /// Up or SendFailing: whether the last packet the managed forwarder sent on this tunnel went out; Unknown with the
    /// kernel backend. It turns Up again by itself with the first send that succeeds.
    /// </summary>
    public L2tpTunnelState State { get; set; }
    /// <summary>Why the last send failed while <see cref="State"/> is SendFailing, e.g. "Network is unreachable (ENETUNREACH)"; empty otherwise.</summary>
    public string LastSendError { get; set; } = "";
    /// <summary>When that send failed (UTC); null while the tunnel sends.</summary>
    public DateTime? LastSendErrorTime { get; set; }
    /// <summary>Counters summed over the tunnel's sessions and its own drops.</summary>
    public L2tpStatistics Statistics { get; set; } = new();
    /// <summary>The backend that carries this tunnel.</summary>
    public BackendKind Backend { get; set; }
    /// <summary>The network namespace (name under /run/netns) the tunnel lives in; empty for the caller's own.</summary>
    public string NetworkNamespace { get; set; } = "";

    /// <inheritdoc/>
    public override string ToString() => $"Tunnel {TunnelId}, encap {Encapsulation.ToString().ToUpperInvariant()}";
}
