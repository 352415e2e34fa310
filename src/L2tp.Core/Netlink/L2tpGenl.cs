using System.Net;
using System.Net.Sockets;
using L2tp.Protocol;

namespace L2tp.Netlink;

/// <summary>
/// The `l2tp` generic-netlink family of include/uapi/linux/l2tp.h: its numbers, and the translation between its
/// messages and this module's specs and objects. The kernel backend and the managed forwarder both speak it.
/// </summary>
internal static class L2tpGenl
{
    public const string FamilyName = "l2tp";
    public const byte Version = 1;

    public const byte CMD_NOOP = 0, CMD_TUNNEL_CREATE = 1, CMD_TUNNEL_DELETE = 2, CMD_TUNNEL_MODIFY = 3, CMD_TUNNEL_GET = 4,
        CMD_SESSION_CREATE = 5, CMD_SESSION_DELETE = 6, CMD_SESSION_MODIFY = 7, CMD_SESSION_GET = 8;

    /// <summary>A spec field as a request names it (its L2TP_ATTR_*), for the forwarder's wording of a broken rule.</summary>
    public static string AttributeName(string field) => field switch
    {
        "TunnelId" => "tunnel id (L2TP_ATTR_CONN_ID)",
        "PeerTunnelId" => "peer tunnel id (L2TP_ATTR_PEER_CONN_ID)",
        "SessionId" => "session id (L2TP_ATTR_SESSION_ID)",
        "PeerSessionId" => "peer session id (L2TP_ATTR_PEER_SESSION_ID)",
        "Encapsulation" => "encapsulation (L2TP_ATTR_ENCAP_TYPE)",
        "Local" => "local address (L2TP_ATTR_IP_SADDR/IP6_SADDR)",
        "Remote" => "remote address (L2TP_ATTR_IP_DADDR/IP6_DADDR)",
        "SourcePort" => "source port (L2TP_ATTR_UDP_SPORT)",
        "DestinationPort" => "destination port (L2TP_ATTR_UDP_DPORT)",
        "Cookie" => "cookie (L2TP_ATTR_COOKIE)",
        "PeerCookie" => "peer cookie (L2TP_ATTR_PEER_COOKIE)",
        "L2SpecType" => "sublayer (L2TP_ATTR_L2SPEC_TYPE)",
        "Sequencing" => "sequencing (L2TP_ATTR_SEND_SEQ/RECV_SEQ)",
        "InterfaceName" => "interface name (L2TP_ATTR_IFNAME)",
        "ReorderTimeout" => "reorder timeout (L2TP_ATTR_RECV_TIMEOUT)",
        _ => field,
    };

    /// <summary>The kernel's name of a command (L2TP_CMD_*), for -Verbose and logs.</summary>
    public static string CommandName(byte cmd) => cmd switch
    {
        CMD_NOOP => "NOOP",
        CMD_TUNNEL_CREATE => "TUNNEL_CREATE",
        CMD_TUNNEL_DELETE => "TUNNEL_DELETE",
        CMD_TUNNEL_MODIFY => "TUNNEL_MODIFY",
        CMD_TUNNEL_GET => "TUNNEL_GET",
        CMD_SESSION_CREATE => "SESSION_CREATE",
        CMD_SESSION_DELETE => "SESSION_DELETE",
        CMD_SESSION_MODIFY => "SESSION_MODIFY",
        CMD_SESSION_GET => "SESSION_GET",
        _ => $"command {cmd}",
    };

    public const ushort ATTR_PW_TYPE = 1, ATTR_ENCAP_TYPE = 2, ATTR_OFFSET = 3, ATTR_DATA_SEQ = 4, ATTR_L2SPEC_TYPE = 5,
        ATTR_L2SPEC_LEN = 6, ATTR_PROTO_VERSION = 7, ATTR_IFNAME = 8, ATTR_CONN_ID = 9, ATTR_PEER_CONN_ID = 10,
        ATTR_SESSION_ID = 11, ATTR_PEER_SESSION_ID = 12, ATTR_UDP_CSUM = 13, ATTR_VLAN_ID = 14, ATTR_COOKIE = 15,
        ATTR_PEER_COOKIE = 16, ATTR_DEBUG = 17, ATTR_RECV_SEQ = 18, ATTR_SEND_SEQ = 19, ATTR_LNS_MODE = 20,
        ATTR_USING_IPSEC = 21, ATTR_RECV_TIMEOUT = 22, ATTR_FD = 23, ATTR_IP_SADDR = 24, ATTR_IP_DADDR = 25,
        ATTR_UDP_SPORT = 26, ATTR_UDP_DPORT = 27, ATTR_MTU = 28, ATTR_MRU = 29, ATTR_STATS = 30, ATTR_IP6_SADDR = 31,
        ATTR_IP6_DADDR = 32, ATTR_UDP_ZERO_CSUM6_TX = 33, ATTR_UDP_ZERO_CSUM6_RX = 34, ATTR_PAD = 35;

    /// <summary>
    /// Forwarder-only attributes of a TUNNEL_GET reply: the tunnel's send state (u8: 1 up, 2 failing), the errno of the
    /// failed send (u32) and its time (u64, Unix milliseconds). In a private range far above the kernel's
    /// L2TP_ATTR_MAX (35 in Linux 6.x) so that no kernel attribute to come can collide; the kernel never sends them,
    /// so a kernel tunnel's State reads Unknown.
    /// </summary>
    public const ushort ATTR_FWD_TX_STATE = 0x100, ATTR_FWD_TX_ERRNO = 0x101, ATTR_FWD_TX_ERROR_TIME = 0x102;
    public const byte FWD_TX_STATE_UP = 1, FWD_TX_STATE_FAILING = 2;

    /// <summary>
    /// Forwarder-only attributes of a SESSION_GET reply, in the same private range: when the session last delivered a
    /// received packet and last sent one (u64, Unix milliseconds; absent: never). The kernel has no such times.
    /// </summary>
    public const ushort ATTR_FWD_LAST_RX = 0x103, ATTR_FWD_LAST_TX = 0x104;

    public const ushort STATS_TX_PACKETS = 1, STATS_TX_BYTES = 2, STATS_TX_ERRORS = 3, STATS_RX_PACKETS = 4,
        STATS_RX_BYTES = 5, STATS_RX_SEQ_DISCARDS = 6, STATS_RX_OOS_PACKETS = 7, STATS_RX_ERRORS = 8, STATS_PAD = 9,
        STATS_RX_COOKIE_DISCARDS = 10, STATS_RX_INVALID = 11;

    public const ushort PWTYPE_ETH = 0x0005;

    /// <summary>TUNNEL_CREATE attributes as `ip l2tp add tunnel` sends them (an unmanaged tunnel: no socket fd).</summary>
    public static void WriteTunnelCreate(NetlinkWriter w, TunnelSpec t)
    {
        w.U32(ATTR_CONN_ID, t.TunnelId);
        w.U32(ATTR_PEER_CONN_ID, t.PeerTunnelId);
        w.U8(ATTR_PROTO_VERSION, 3);
        w.U16(ATTR_ENCAP_TYPE, (ushort)t.Encapsulation);
        WriteAddresses(w, t.BindAddress, t.Remote!);
        // The kernel tests UDP_CSUM for presence only: a request sends it just when checksums are on.
        WriteUdpOptions(w, t, checksumAlways: false);
    }

    /// <summary>Ports and checksum options of a UDP tunnel; replies carry UDP_CSUM with its value, requests only when on.</summary>
    private static void WriteUdpOptions(NetlinkWriter w, TunnelSpec t, bool checksumAlways)
    {
        if (t.Encapsulation != Encapsulation.Udp)
            return;
        w.U16(ATTR_UDP_SPORT, t.SourcePort);
        w.U16(ATTR_UDP_DPORT, t.DestinationPort);
        if (t.IsIPv6)
        {
            if (!t.Udp6ChecksumTx) w.Flag(ATTR_UDP_ZERO_CSUM6_TX);
            if (!t.Udp6ChecksumRx) w.Flag(ATTR_UDP_ZERO_CSUM6_RX);
        }
        else if (checksumAlways || t.UdpChecksum)
        {
            w.U8(ATTR_UDP_CSUM, t.UdpChecksum ? (byte)1 : (byte)0);
        }
    }

    private static void WriteAddresses(NetlinkWriter w, IPAddress local, IPAddress remote)
    {
        if (remote.AddressFamily == AddressFamily.InterNetworkV6)
        {
            w.Address(ATTR_IP6_SADDR, local);
            w.Address(ATTR_IP6_DADDR, remote);
        }
        else
        {
            w.Address(ATTR_IP_SADDR, local);
            w.Address(ATTR_IP_DADDR, remote);
        }
    }

    /// <summary>Reads a TUNNEL_CREATE request back into a spec (the forwarder's side).</summary>
    public static TunnelSpec ReadTunnelCreate(NetlinkAttributes a)
    {
        var remote = a.Address(ATTR_IP6_DADDR) ?? a.Address(ATTR_IP_DADDR);
        return new TunnelSpec
        {
            TunnelId = a.U32OrNull(ATTR_CONN_ID) ?? 0,
            PeerTunnelId = a.U32OrNull(ATTR_PEER_CONN_ID) ?? 0,
            Encapsulation = (Encapsulation)(a.U16OrNull(ATTR_ENCAP_TYPE) ?? 0),
            Local = a.Address(ATTR_IP6_SADDR) ?? a.Address(ATTR_IP_SADDR),
            Remote = remote,
            SourcePort = a.U16OrNull(ATTR_UDP_SPORT) ?? 0,
            DestinationPort = a.U16OrNull(ATTR_UDP_DPORT) ?? 0,
            UdpChecksum = a.Has(ATTR_UDP_CSUM),
            Udp6ChecksumTx = !a.Has(ATTR_UDP_ZERO_CSUM6_TX),
            Udp6ChecksumRx = !a.Has(ATTR_UDP_ZERO_CSUM6_RX),
        };
    }

    /// <summary>A tunnel as TUNNEL_GET replies describe it; the forwarder adds its send state (errno 0: sending).</summary>
    public static void WriteTunnel(NetlinkWriter w, TunnelSpec t, L2tpStatistics s, (int Errno, long UnixMilliseconds)? sendError = null)
    {
        w.U32(ATTR_CONN_ID, t.TunnelId);
        w.U32(ATTR_PEER_CONN_ID, t.PeerTunnelId);
        w.U8(ATTR_PROTO_VERSION, 3);
        w.U16(ATTR_ENCAP_TYPE, (ushort)t.Encapsulation);
        WriteStats(w, s);
        WriteUdpOptions(w, t, checksumAlways: true);
        WriteAddresses(w, t.BindAddress, t.Remote!);
        if (sendError is { } e)
        {
            w.U8(ATTR_FWD_TX_STATE, e.Errno == 0 ? FWD_TX_STATE_UP : FWD_TX_STATE_FAILING);
            if (e.Errno != 0)
            {
                w.U32(ATTR_FWD_TX_ERRNO, (uint)e.Errno);
                w.U64(ATTR_FWD_TX_ERROR_TIME, (ulong)e.UnixMilliseconds);
            }
        }
    }

    public static L2tpTunnel ReadTunnel(NetlinkAttributes a, BackendKind backend, string netns) => new()
    {
        TunnelId = a.U32(ATTR_CONN_ID),
        PeerTunnelId = a.U32OrNull(ATTR_PEER_CONN_ID) ?? 0,
        Encapsulation = (Encapsulation)(a.U16OrNull(ATTR_ENCAP_TYPE) ?? 0),
        Local = a.Address(ATTR_IP6_SADDR) ?? a.Address(ATTR_IP_SADDR),
        Remote = a.Address(ATTR_IP6_DADDR) ?? a.Address(ATTR_IP_DADDR),
        SourcePort = a.U16OrNull(ATTR_UDP_SPORT) ?? 0,
        DestinationPort = a.U16OrNull(ATTR_UDP_DPORT) ?? 0,
        UdpChecksum = (a.U8OrNull(ATTR_UDP_CSUM) ?? 0) != 0,
        Udp6ChecksumTx = !a.Has(ATTR_UDP_ZERO_CSUM6_TX),
        Udp6ChecksumRx = !a.Has(ATTR_UDP_ZERO_CSUM6_RX),
        Statistics = ReadStats(a.Nested(ATTR_STATS)),
        State = a.U8OrNull(ATTR_FWD_TX_STATE) switch
        {
            FWD_TX_STATE_UP => L2tpTunnelState.Up,
            FWD_TX_STATE_FAILING => L2tpTunnelState.SendFailing,
            _ => L2tpTunnelState.Unknown,
        },
        LastSendError = a.U32OrNull(ATTR_FWD_TX_ERRNO) is { } e and > 0 ? Native.ErrnoText.Describe((int)e) : "",
        LastSendErrorTime = a.U64OrNull(ATTR_FWD_TX_ERROR_TIME) is { } ms and > 0
            ? DateTimeOffset.FromUnixTimeMilliseconds((long)ms).UtcDateTime : null,
        Backend = backend,
        NetworkNamespace = netns,
    };

    /// <summary>SESSION_CREATE attributes as `ip l2tp add session` sends them.</summary>
    public static void WriteSessionCreate(NetlinkWriter w, SessionSpec s)
    {
        w.U32(ATTR_CONN_ID, s.TunnelId);
        w.U32(ATTR_SESSION_ID, s.SessionId);
        w.U32(ATTR_PEER_SESSION_ID, s.PeerSessionId);
        w.U16(ATTR_PW_TYPE, PWTYPE_ETH);
        w.U8(ATTR_L2SPEC_TYPE, (byte)s.L2SpecType);
        w.U8(ATTR_L2SPEC_LEN, s.L2SpecType == L2SpecType.Default ? (byte)4 : (byte)0);
        if (s.RecvSequence) w.U8(ATTR_RECV_SEQ, 1);
        if (s.SendSequence) w.U8(ATTR_SEND_SEQ, 1);
        if (s.Cookie.Length > 0) w.Attr(ATTR_COOKIE, s.Cookie);
        if (s.PeerCookie.Length > 0) w.Attr(ATTR_PEER_COOKIE, s.PeerCookie);
        if (!string.IsNullOrEmpty(s.InterfaceName)) w.StringZ(ATTR_IFNAME, s.InterfaceName);
        if (s.ReorderTimeoutMs != 0) w.U64(ATTR_RECV_TIMEOUT, s.ReorderTimeoutMs);
    }

    public static SessionSpec ReadSessionCreate(NetlinkAttributes a)
    {
        bool recv = (a.U8OrNull(ATTR_RECV_SEQ) ?? 0) != 0, send = (a.U8OrNull(ATTR_SEND_SEQ) ?? 0) != 0;
        return new SessionSpec
        {
            TunnelId = a.U32OrNull(ATTR_CONN_ID) ?? 0,
            SessionId = a.U32OrNull(ATTR_SESSION_ID) ?? 0,
            PeerSessionId = a.U32OrNull(ATTR_PEER_SESSION_ID) ?? 0,
            L2SpecType = (L2SpecType)(a.U8OrNull(ATTR_L2SPEC_TYPE) ?? 1),
            Sequencing = (send ? SequencingMode.Send : 0) | (recv ? SequencingMode.Recv : 0),
            Cookie = a.Bytes(ATTR_COOKIE)?.ToArray() ?? Array.Empty<byte>(),
            PeerCookie = a.Bytes(ATTR_PEER_COOKIE)?.ToArray() ?? Array.Empty<byte>(),
            InterfaceName = a.String(ATTR_IFNAME),
            ReorderTimeoutMs = a.U64OrNull(ATTR_RECV_TIMEOUT) ?? 0,
        };
    }

    /// <summary>What a SESSION_MODIFY asks to change; null leaves a setting as it is.</summary>
    internal sealed record SessionChange(uint TunnelId, uint SessionId, SequencingMode? Sequencing, ulong? ReorderTimeoutMs);

    /// <summary>
    /// SESSION_MODIFY: the settings l2tp_nl_cmd_session_modify changes on a live session (RECV_SEQ, SEND_SEQ,
    /// RECV_TIMEOUT; LNS_MODE too, which static pseudowires leave off). Both seq flags go together, as -Sequencing sets both.
    /// </summary>
    public static void WriteSessionModify(NetlinkWriter w, SessionChange c)
    {
        w.U32(ATTR_CONN_ID, c.TunnelId);
        w.U32(ATTR_SESSION_ID, c.SessionId);
        if (c.Sequencing is { } seq)
        {
            w.U8(ATTR_RECV_SEQ, seq is SequencingMode.Recv or SequencingMode.Both ? (byte)1 : (byte)0);
            w.U8(ATTR_SEND_SEQ, seq is SequencingMode.Send or SequencingMode.Both ? (byte)1 : (byte)0);
        }
        if (c.ReorderTimeoutMs is { } ms)
            w.U64(ATTR_RECV_TIMEOUT, ms);
    }

    /// <summary>
    /// A SESSION_MODIFY request read back (the forwarder's side) against the session's current sequencing: each seq
    /// flag changes only its own direction, as in the kernel.
    /// </summary>
    public static SessionChange ReadSessionModify(NetlinkAttributes a, SequencingMode current)
    {
        SequencingMode? seq = null;
        if (a.Has(ATTR_RECV_SEQ) || a.Has(ATTR_SEND_SEQ))
        {
            bool recv = a.U8OrNull(ATTR_RECV_SEQ) is { } r ? r != 0 : current is SequencingMode.Recv or SequencingMode.Both;
            bool send = a.U8OrNull(ATTR_SEND_SEQ) is { } sn ? sn != 0 : current is SequencingMode.Send or SequencingMode.Both;
            seq = (send ? SequencingMode.Send : 0) | (recv ? SequencingMode.Recv : 0);
        }
        return new SessionChange(a.U32(ATTR_CONN_ID), a.U32(ATTR_SESSION_ID), seq, a.U64OrNull(ATTR_RECV_TIMEOUT));
    }

    /// <summary>The attributes a SESSION_MODIFY may carry; the kernel ignores others, the forwarder refuses them.</summary>
    public static readonly ushort[] SessionModifiable = { ATTR_CONN_ID, ATTR_SESSION_ID, ATTR_RECV_SEQ, ATTR_SEND_SEQ, ATTR_LNS_MODE, ATTR_RECV_TIMEOUT, ATTR_DEBUG };

    /// <summary>A session as SESSION_GET replies describe it.</summary>
    public static void WriteSession(NetlinkWriter w, SessionSpec s, uint peerTunnelId, string ifname, L2tpStatistics st,
        (long LastRx, long LastTx)? times = null)
    {
        w.U32(ATTR_CONN_ID, s.TunnelId);
        w.U32(ATTR_SESSION_ID, s.SessionId);
        w.U32(ATTR_PEER_CONN_ID, peerTunnelId);
        w.U32(ATTR_PEER_SESSION_ID, s.PeerSessionId);
        w.U16(ATTR_PW_TYPE, PWTYPE_ETH);
        w.StringZ(ATTR_IFNAME, ifname);
        if (s.Cookie.Length > 0) w.Attr(ATTR_COOKIE, s.Cookie);
        if (s.PeerCookie.Length > 0) w.Attr(ATTR_PEER_COOKIE, s.PeerCookie);
        w.U8(ATTR_RECV_SEQ, s.RecvSequence ? (byte)1 : (byte)0);
        w.U8(ATTR_SEND_SEQ, s.SendSequence ? (byte)1 : (byte)0);
        w.U8(ATTR_LNS_MODE, 0);
        w.U8(ATTR_L2SPEC_TYPE, (byte)s.L2SpecType);
        // As the kernel: only a timeout in force is reported.
        if (s.ReorderTimeoutMs != 0) w.U64(ATTR_RECV_TIMEOUT, s.ReorderTimeoutMs);
        WriteStats(w, st);
        if (times is { } t)
        {
            if (t.LastRx > 0) w.U64(ATTR_FWD_LAST_RX, (ulong)t.LastRx);
            if (t.LastTx > 0) w.U64(ATTR_FWD_LAST_TX, (ulong)t.LastTx);
        }
    }

    public static L2tpSession ReadSession(NetlinkAttributes a, BackendKind backend, string netns)
    {
        bool recv = (a.U8OrNull(ATTR_RECV_SEQ) ?? 0) != 0, send = (a.U8OrNull(ATTR_SEND_SEQ) ?? 0) != 0;
        static DateTime? Time(ulong? ms) => ms is { } v and > 0 ? DateTimeOffset.FromUnixTimeMilliseconds((long)v).UtcDateTime : null;
        var lastRx = Time(a.U64OrNull(ATTR_FWD_LAST_RX));
        var lastTx = Time(a.U64OrNull(ATTR_FWD_LAST_TX));
        return new L2tpSession
        {
            LastReceived = lastRx,
            LastSent = lastTx,
            PeerState = Liveness.PeerState(lastRx, lastTx, DateTime.UtcNow, Liveness.DefaultSilentAfter),
            TunnelId = a.U32(ATTR_CONN_ID),
            SessionId = a.U32(ATTR_SESSION_ID),
            PeerTunnelId = a.U32OrNull(ATTR_PEER_CONN_ID) ?? 0,
            PeerSessionId = a.U32OrNull(ATTR_PEER_SESSION_ID) ?? 0,
            InterfaceName = a.String(ATTR_IFNAME) ?? "",
            Cookie = Protocol.Cookie.Format(a.Bytes(ATTR_COOKIE).GetValueOrDefault().Span),
            PeerCookie = Protocol.Cookie.Format(a.Bytes(ATTR_PEER_COOKIE).GetValueOrDefault().Span),
            L2SpecType = a.U8OrNull(ATTR_L2SPEC_TYPE) is { } l2 ? (L2SpecType)l2 : null,
            Sequencing = (send ? SequencingMode.Send : 0) | (recv ? SequencingMode.Recv : 0),
            ReorderTimeout = TimeSpan.FromMilliseconds(Math.Min(a.U64OrNull(ATTR_RECV_TIMEOUT) ?? 0, (ulong)TimeSpan.MaxValue.TotalMilliseconds)),
            Statistics = ReadStats(a.Nested(ATTR_STATS)),
            Backend = backend,
            NetworkNamespace = netns,
        };
    }

    public static void WriteStats(NetlinkWriter w, L2tpStatistics s)
    {
        w.BeginNested(ATTR_STATS);
        w.U64(STATS_TX_PACKETS, s.TxPackets);
        w.U64(STATS_TX_BYTES, s.TxBytes);
        w.U64(STATS_TX_ERRORS, s.TxErrors);
        w.U64(STATS_RX_PACKETS, s.RxPackets);
        w.U64(STATS_RX_BYTES, s.RxBytes);
        w.U64(STATS_RX_SEQ_DISCARDS, s.RxSeqDiscards);
        w.U64(STATS_RX_OOS_PACKETS, s.RxOosPackets);
        w.U64(STATS_RX_ERRORS, s.RxErrors);
        w.U64(STATS_RX_COOKIE_DISCARDS, s.RxCookieDiscards);
        w.U64(STATS_RX_INVALID, s.RxInvalid);
        w.EndNested();
    }

    public static L2tpStatistics ReadStats(NetlinkAttributes a) => new()
    {
        TxPackets = a.U64OrZero(STATS_TX_PACKETS),
        TxBytes = a.U64OrZero(STATS_TX_BYTES),
        TxErrors = a.U64OrZero(STATS_TX_ERRORS),
        RxPackets = a.U64OrZero(STATS_RX_PACKETS),
        RxBytes = a.U64OrZero(STATS_RX_BYTES),
        RxSeqDiscards = a.U64OrZero(STATS_RX_SEQ_DISCARDS),
        RxOosPackets = a.U64OrZero(STATS_RX_OOS_PACKETS),
        RxErrors = a.U64OrZero(STATS_RX_ERRORS),
        RxCookieDiscards = a.U64OrZero(STATS_RX_COOKIE_DISCARDS),
        RxInvalid = a.U64OrZero(STATS_RX_INVALID),
    };
}
