using System.Net;
using L2tp.Forwarder.Dataplane;
using L2tp.Protocol;

namespace L2tp.Fuzz;

/// <summary>
/// Target "rx": received datagrams through RxLoop.Receive (IPv4 header skip, UDP GRO split, L2TP header, session
/// demux, cookie, sublayer, sequencing) to sessions whose TAPs are record sockets.
/// Input: a mode byte, then records of [u16 length][u16 UDP GRO segment size][datagram], all one receive batch.
/// Mode bits 0-1 pick the tunnel: UDP, IP, IP with the IPv4 header in front, or UDP with vnet-header TAPs (so the
/// receive coalescer takes the frames); bit 2 gives the sessions a 576-byte MTU instead of 1500.
/// </summary>
internal static class RxTarget
{
    /// <summary>The sessions every tunnel has: each combination of cookie, sublayer and sequencing the demux branches on.</summary>
    public static readonly (uint Id, byte[] PeerCookie, L2SpecType L2Spec, SequencingMode Seq)[] Sessions =
    {
        (1, [], L2SpecType.Default, SequencingMode.None),
        (2, [0xca, 0xfe, 0xf0, 0x0d], L2SpecType.None, SequencingMode.None),
        (3, [1, 2, 3, 4, 5, 6, 7, 8], L2SpecType.Default, SequencingMode.Recv),
        (4, [0xde, 0xad, 0xbe, 0xef], L2SpecType.Default, SequencingMode.Both),
        (0xFFFFFFFF, [], L2SpecType.None, SequencingMode.None),
    };

    public const int MaxDatagrams = 64;   // one recvmmsg batch

    private static readonly RecordTap[] Taps = Sessions.Select(_ => new RecordTap()).ToArray();
    private static readonly RxCoalescer Gro = new();

    public static void Run(ReadOnlySpan<byte> data)
    {
        var input = new FuzzInput(data);
        byte mode = input.U8();
        int kind = mode & 3;
        var encap = kind is 1 or 2 ? Encapsulation.Ip : Encapsulation.Udp;
        bool vnet = kind == 3;
        int mtu = (mode & 4) != 0 ? 576 : 1500;

        var tunnelSpec = new TunnelSpec
        {
            TunnelId = 7, PeerTunnelId = 8, Encapsulation = encap, Local = IPAddress.Parse("192.0.2.1"),
            Remote = IPAddress.Parse("192.0.2.2"), SourcePort = 1701, DestinationPort = 1701,
        };
        var tunnelCounters = new Counters();
        var runtimes = new SessionRuntime[Sessions.Length];
        var byId = new System.Collections.Concurrent.ConcurrentDictionary<uint, SessionRuntime>();
        for (int i = 0; i < Sessions.Length; i++)
        {
            var (id, cookie, l2, seq) = Sessions[i];
            var spec = new SessionSpec { TunnelId = 7, SessionId = id, PeerSessionId = id, PeerCookie = cookie, L2SpecType = l2, Sequencing = seq };
            runtimes[i] = SessionRuntime.Create(tunnelSpec, spec, Taps[i].WriteFd, -1, new Counters(), tunnelCounters, vnet);
            runtimes[i].MaxFrame = SessionRuntime.MaxFrameFor(mtu);
            byId[id] = runtimes[i];
        }
        var tunnel = new TunnelRuntime
        {
            TunnelId = 7, SocketFd = -1, Encapsulation = encap, SkipIpHeader = kind == 2, Counters = tunnelCounters, Sessions = byId,
        };

        var packets = new List<byte[]>();   // every L2TP packet of the input, for the vnet checks at the end
        long inputBytes = 0, units = 0;
        for (int n = 0; n < MaxDatagrams && !input.IsEmpty; n++)
        {
            int length = input.U16();
            int segment = input.U16();
            var datagram = input.Take(length);
            inputBytes += datagram.Length;

            // The L2TP packets this datagram holds, worked out here from the socket's rules, not RxLoop's code.
            var expected = new List<byte[]>();
            var rest = datagram;
            bool badIp = false;
            if (tunnel.SkipIpHeader)
            {
                int ihl = rest.IsEmpty ? 0 : (rest[0] & 0x0f) * 4;
                badIp = ihl < 20 || ihl > rest.Length;
                rest = badIp ? default : rest[ihl..];
            }
            if (!badIp)
            {
                if (segment == 0 || segment >= rest.Length)
                    expected.Add(rest.ToArray());
                else
                    for (int off = 0; off < rest.Length; off += segment)
                        expected.Add(rest.Slice(off, Math.Min(segment, rest.Length - off)).ToArray());
            }
            packets.AddRange(expected);
            units += badIp ? 1 : expected.Count;

            long before = Outcomes(tunnel, runtimes), delivered = runtimes.Sum(s => s.Counters.RxPackets);
            RxLoop.Receive(tunnel, datagram, segment, vnet ? Gro : null);
            if (!vnet)
            {
                // Every L2TP packet (or the one bad IP datagram) counted exactly once: delivered, an error, or invalid.
                Check.Equal(badIp ? 1 : expected.Count, Outcomes(tunnel, runtimes) - before, "packets counted for one datagram");
                long writes = 0;
                for (int i = 0; i < Sessions.Length; i++)
                    foreach (var frame in Taps[i].Records())
                    {
                        CheckPlainFrame(runtimes[i], frame, expected, "plain TAP");
                        writes++;
                    }
                Check.Equal(runtimes.Sum(s => s.Counters.RxPackets) - delivered, writes, "frames counted as delivered vs frames written");
            }
        }
        if (vnet)
        {
            Gro.Flush();
            long written = 0;
            for (int i = 0; i < Sessions.Length; i++)
                foreach (var record in Taps[i].Records())
                    written += CheckVnetRecord(runtimes[i], record, packets);
            Check.Equal(runtimes.Sum(s => s.Counters.RxPackets), written, "frames counted as delivered vs frames written");
        }
        // With the coalescer, a frame is counted when its run is written: only the whole input adds up.
        Check.Equal(units, Outcomes(tunnel, runtimes), "packets counted for the whole input");
        CheckCounters(tunnel, runtimes, inputBytes);
    }

    /// <summary>Packets a tunnel has counted one way or another: delivered, a session error, or invalid.</summary>
    private static long Outcomes(TunnelRuntime t, SessionRuntime[] sessions) =>
        t.Counters.RxInvalid + sessions.Sum(s => s.Counters.RxPackets + s.Counters.RxErrors);

    /// <summary>The L2TP header length of a session's packets: RFC 3931 section 4.1 and RFC 4719.</summary>
    private static int HeaderLength(SessionRuntime s) =>
        (s.Encapsulation == Encapsulation.Udp ? 8 : 4) + s.PeerCookie.Length + (s.L2SpecType == L2SpecType.Default ? 4 : 0);

    /// <summary>A frame written as received: an Ethernet frame the TAP takes, and exactly what followed the header of one packet.</summary>
    private static void CheckPlainFrame(SessionRuntime s, ReadOnlySpan<byte> frame, List<byte[]> packets, string where)
    {
        Check.True(frame.Length >= 14 && frame.Length <= s.MaxFrame,
            $"{where}: session {s.SessionId} got a {frame.Length}-byte frame (limits 14..{s.MaxFrame})");
        int header = HeaderLength(s);
        foreach (var p in packets)
            if (p.Length - header == frame.Length && p.AsSpan(header).SequenceEqual(frame))
                return;
        throw new FuzzInvariantException($"{where}: session {s.SessionId} got a {frame.Length}-byte frame that is not the payload of any packet sent to it");
    }

    /// <summary>One write to a vnet-header TAP: a plain frame behind a zero header, or a TCP super-frame. Returns the packets it stands for.</summary>
    private static int CheckVnetRecord(SessionRuntime s, byte[] record, List<byte[]> packets)
    {
        Check.True(record.Length >= VnetHdr.Size, "a vnet-header TAP write shorter than the header");
        var h = VnetHdr.Read(record);
        var frame = record.AsSpan(VnetHdr.Size);
        if (h.GsoType == VnetHdr.GsoNone)
        {
            Check.True(record.AsSpan(0, VnetHdr.Size).IndexOfAnyExcept((byte)0) < 0, "a plain frame behind a non-zero vnet header");
            CheckPlainFrame(s, frame, packets, "vnet TAP");
            return 1;
        }
        // A super-frame: the coalescer's own checks are the gro target's business; here only its bounds.
        Check.True(h.GsoType is VnetHdr.GsoTcpV4 or VnetHdr.GsoTcpV6 && h.GsoSize > 0 && h.HdrLen < frame.Length,
            $"vnet header gso {h.GsoType} size {h.GsoSize} hdr {h.HdrLen} for a {frame.Length}-byte frame");
        Check.True(frame.Length <= 14 + 65535, $"super-frame of {frame.Length} bytes");
        int payload = frame.Length - h.HdrLen;
        return (payload + h.GsoSize - 1) / h.GsoSize;
    }

    private static void CheckCounters(TunnelRuntime t, SessionRuntime[] sessions, long inputBytes)
    {
        Check.Equal(sessions.Sum(s => s.Counters.RxPackets), t.Counters.RxPackets, "tunnel rx_packets vs the sum of its sessions'");
        Check.Equal(sessions.Sum(s => s.Counters.RxBytes), t.Counters.RxBytes, "tunnel rx_bytes vs the sum of its sessions'");
        Check.True(t.Counters.RxBytes <= inputBytes, $"rx_bytes {t.Counters.RxBytes} more than the {inputBytes} bytes received");
        foreach (var s in sessions)
        {
            var c = s.Counters;
            Check.True(c.RxCookieDiscards + c.RxSeqDiscards <= c.RxErrors,
                $"session {s.SessionId}: cookie {c.RxCookieDiscards} + seq {c.RxSeqDiscards} discards exceed rx_errors {c.RxErrors}");
            Check.True(c.RxBytes >= c.RxPackets * (HeaderLength(s) + 14),
                $"session {s.SessionId}: {c.RxPackets} packets in only {c.RxBytes} bytes");
            Check.True(c.TxPackets == 0 && c.RxOosPackets == 0 && c.RxInvalid == 0, $"session {s.SessionId}: a counter the receive path never touches moved");
        }
        Check.True(t.Counters.RxErrors == 0 && t.Counters.RxCookieDiscards == 0 && t.Counters.RxSeqDiscards == 0,
            "a session counter moved on the tunnel");
    }
}
