using System.Collections.Concurrent;
using L2tp.Protocol;

namespace L2tp.Forwarder.Dataplane;

/// <summary>What the packet loops need of one session: fds, header bytes, cookie, sequencing and counters.</summary>
internal sealed class SessionRuntime
{
    public required uint TunnelId { get; init; }
    public required uint SessionId { get; init; }
    public required int TapFd { get; init; }
    /// <summary>The TAP exchanges frames with a <see cref="VnetHdr"/> in front (offloads on).</summary>
    public bool TapVnetHeader { get; init; }

    /// <summary>
    /// The segments of a TAP super-frame leave in one UDP GSO send (UDP_SEGMENT). Only where the socket sends UDP
    /// checksums (the kernel refuses GSO without them); turned off for good when the kernel refuses it anyway.
    /// </summary>
    public bool UdpGso { get; set; }
    public required int SocketFd { get; init; }
    public required Encapsulation Encapsulation { get; init; }
    public required byte[] PeerCookie { get; init; }
    public required L2SpecType L2SpecType { get; init; }
    /// <summary>The header every sent packet starts with; the sequence word is patched per packet.</summary>
    public required byte[] HeaderTemplate { get; init; }
    /// <summary>Offset of the default sublayer word in the header, or -1 with no sublayer.</summary>
    public required int SublayerOffset { get; init; }
    public required Sequencer Sequencer { get; init; }
    public required Counters Counters { get; init; }
    public required Counters TunnelCounters { get; init; }

    private int _maxFrame = 1500 + 18;

    /// <summary>
    /// The longest frame delivered to the TAP: its MTU plus Ethernet header and one VLAN tag, the limit l2tp_eth's
    /// dev_forward_skb applies (a TAP takes longer writes). The control thread refreshes it as the MTU changes.
    /// </summary>
    public int MaxFrame
    {
        get => Volatile.Read(ref _maxFrame);
        set => Volatile.Write(ref _maxFrame, value);
    }

    public static int MaxFrameFor(int mtu) => mtu + 14 + 4;

    public static SessionRuntime Create(TunnelSpec tunnel, SessionSpec s, int tapFd, int socketFd, Counters counters, Counters tunnelCounters,
        bool tapVnetHeader = false)
    {
        var header = new byte[L2tpHeader.Length(tunnel.Encapsulation, s.Cookie.Length, s.L2SpecType)];
        L2tpHeader.Write(header, tunnel.Encapsulation, s.PeerSessionId, s.Cookie, s.L2SpecType, false, 0);
        return new SessionRuntime
        {
            TunnelId = s.TunnelId,
            SessionId = s.SessionId,
            TapFd = tapFd,
            TapVnetHeader = tapVnetHeader,
            UdpGso = tapVnetHeader && tunnel.Encapsulation == Encapsulation.Udp && (tunnel.IsIPv6 ? tunnel.Udp6ChecksumTx : tunnel.UdpChecksum),
            SocketFd = socketFd,
            Encapsulation = tunnel.Encapsulation,
            PeerCookie = s.PeerCookie,
            L2SpecType = s.L2SpecType,
            HeaderTemplate = header,
            SublayerOffset = s.L2SpecType == L2SpecType.Default ? header.Length - 4 : -1,
            Sequencer = new Sequencer(s.SendSequence, s.RecvSequence, s.ReorderTimeoutMs),
            Counters = counters,
            TunnelCounters = tunnelCounters,
        };
    }
}

/// <summary>What the receive loop needs of one tunnel socket: its sessions by id and the tunnel's counters.</summary>
internal sealed class TunnelRuntime
{
    public required uint TunnelId { get; init; }
    public required int SocketFd { get; init; }
    public required Encapsulation Encapsulation { get; init; }
    /// <summary>Packets start with an IPv4 header to skip (IPv4 raw sockets for IP encapsulation).</summary>
    public required bool SkipIpHeader { get; init; }
    public required Counters Counters { get; init; }
    /// <summary>What arrived that could not be delivered (unknown ids, cookies, sublayers ...), for DIAGNOSE.</summary>
    public L2tp.Protocol.DiagnosisTable Diagnosis { get; } = new();
    /// <summary>Changed in place by the control thread (through <see cref="DataplaneMap"/>), read without locks by the loops.</summary>
    public required ConcurrentDictionary<uint, SessionRuntime> Sessions { get; init; }
}

/// <summary>
/// Where the packet loops find a tunnel by its socket and a session by its TAP or id. The control thread changes it in
/// place, one entry per change, so a change costs the same at 10 sessions or 10,000 (rebuilding a whole picture per
/// change made creating N sessions cost N²). The loops read it without locks: a concurrent dictionary's lookups take
/// none and allocate nothing. An entry removed may still be in use by an iteration that looked it up before; the
/// control thread waits that out (PacketLoop.Quiesce) before closing the entry's fd.
/// </summary>
internal sealed class DataplaneMap
{
    public ConcurrentDictionary<int, TunnelRuntime> BySocket { get; } = new();
    public ConcurrentDictionary<int, SessionRuntime> ByTap { get; } = new();

    /// <summary>Entries written or removed over the map's life: what a test counts to see a change stay O(1).</summary>
    public long EntriesWritten { get; private set; }

    public void AddTunnel(TunnelRuntime t)
    {
        BySocket[t.SocketFd] = t;
        EntriesWritten++;
    }

    public void RemoveTunnel(TunnelRuntime t)
    {
        BySocket.TryRemove(t.SocketFd, out _);
        EntriesWritten++;
    }

    public void AddSession(TunnelRuntime t, SessionRuntime s)
    {
        t.Sessions[s.SessionId] = s;
        ByTap[s.TapFd] = s;
        EntriesWritten += 2;
    }

    public void RemoveSession(TunnelRuntime t, SessionRuntime s)
    {
        t.Sessions.TryRemove(s.SessionId, out _);
        ByTap.TryRemove(s.TapFd, out _);
        EntriesWritten += 2;
    }
}
