using System.Buffers.Binary;
using System.Runtime.InteropServices;
using L2tp.Native;

namespace L2tp.Forwarder.Dataplane;

/// <summary>
/// Software GRO on the receive path: consecutive TCP segments of one flow, from one batch of received packets, are
/// written to the session's TAP as one super-frame (a virtio_net_hdr with TCP GSO), so the stack behind the TAP takes
/// up to 64 KB in one write instead of some 45. The rules are the kernel's own GRO rules (tcp_gro_receive): same
/// addresses, ports, ack, window and options, contiguous sequence numbers, equal segment sizes with a shorter or
/// PSH-marked segment closing the run; anything else is written as it came. A segment whose TCP checksum does not
/// verify is never merged (a super-frame is handed over with its checksum marked partial, so nobody checks it again).
/// Consecutive UDP datagrams of one flow and one size (a shorter one closing the run) are joined the same way, as a
/// UDP GSO super-frame that the stack cuts back into the very datagrams (consecutive IPv4 ids, their checksums):
/// small frames then cost one TAP write per run, not one each.
/// </summary>
internal sealed unsafe class RxCoalescer : IDisposable
{
    private const int EthHeader = 14;
    private const byte Fin = 0x01, Syn = 0x02, Rst = 0x04, Psh = 0x08, Ack = 0x10, Urg = 0x20, Ece = 0x40, Cwr = 0x80;
    /// <summary>An IPv4 total length (and an IPv6 payload length) is 16 bits.</summary>
    private const int MaxIpLength = 65535;

    /// <summary>The kernel's UDP GSO takes up to 64 segments in every version that has it (UDP_MAX_SEGMENTS).</summary>
    private const int MaxUdpSegments = 64;

    /// <summary>Whether UDP runs are joined; L2TP_FORWARDER_UDP_GRO=0 turns it off, for comparison in Bench.</summary>
    internal static readonly bool UdpGroEnabled = Environment.GetEnvironmentVariable("L2TP_FORWARDER_UDP_GRO") != "0";

    private readonly byte* _buffer;
    private byte* Frame => _buffer + VnetHdr.Size;
    private readonly int _room = EthHeader + MaxIpLength;

    private SessionRuntime? _session;
    private int _length, _segments, _mss, _headerLength, _l4Offset;
    private bool _ipv6, _closed, _udp;
    private uint _nextSeq;
    private ushort _nextId;
    private long _l2tpBytes;
    private readonly bool? _udpRuns;

    /// <summary>A coalescer; <paramref name="udp"/> fixes whether UDP runs are joined (by default: when the kernel and the environment allow).</summary>
    public RxCoalescer(bool? udp = null)
    {
        _udpRuns = udp;
        _buffer = (byte*)NativeMemory.AlignedAlloc((nuint)(VnetHdr.Size + _room), 64);
    }

    private bool UdpRuns => _udpRuns ?? (UdpGroEnabled && TapDevice.UdpGsoWrites);

    /// <summary>
    /// Takes a frame for a session whose TAP has a vnet header: merged with the run held, or starting a new one, or
    /// (not TCP, or not mergeable) written at once. Counts it as delivered once it is written.
    /// </summary>
    public void Add(SessionRuntime s, ReadOnlySpan<byte> frame, int l2tpBytes)
    {
        if (_session is not null && (_session != s || !TryAppend(frame, l2tpBytes)))
            Flush();
        if (_session is not null)
            return;
        if (TryStart(s, frame, l2tpBytes))
            return;
        Count(s, 1, l2tpBytes, WritePlain(s, frame) >= 0);
    }

    /// <summary>Writes the run held, as one super-frame (or as the one frame it is), and forgets it.</summary>
    public void Flush()
    {
        var s = _session;
        if (s is null)
            return;
        _session = null;
        long rc;
        if (_segments == 1)
        {
            rc = WritePlain(s, new ReadOnlySpan<byte>(Frame, _length));
        }
        else
        {
            var frame = new Span<byte>(Frame, _length);
            var ip = frame[EthHeader..];
            int l4Length = _length - _l4Offset;
            TxOffload.SetIpLength(ip, _ipv6, _l4Offset - EthHeader, _length - EthHeader);
            // CHECKSUM_PARTIAL, as the kernel's own TSO output: the field holds the pseudo-header sum only. The UDP
            // length is the whole run's: the kernel's cut takes each datagram's length and sum from it.
            if (_udp)
                BinaryPrimitives.WriteUInt16BigEndian(frame[(_l4Offset + 4)..], (ushort)l4Length);
            int field = _udp ? 6 : 16;
            BinaryPrimitives.WriteUInt16BigEndian(frame[(_l4Offset + field)..],
                InetChecksum.Partial(InetChecksum.PseudoHeader(ip, _ipv6, _udp ? (byte)17 : (byte)6, l4Length)));
            byte gso = _udp ? VnetHdr.GsoUdpL4 : _ipv6 ? VnetHdr.GsoTcpV6 : VnetHdr.GsoTcpV4;
            new VnetHdr(VnetHdr.FlagNeedsCsum, gso, (ushort)_headerLength, (ushort)_mss, (ushort)_l4Offset, (ushort)field)
                .Write(new Span<byte>(_buffer, VnetHdr.Size));
            rc = Sys.Write(s.TapFd, new ReadOnlySpan<byte>(_buffer, VnetHdr.Size + _length));
        }
        Count(s, _segments, _l2tpBytes, rc >= 0);
    }

    /// <summary>Counts packets as delivered (rx_bytes from the start of the L2TP header, as the kernel) or, unwritten, as errors.</summary>
    internal static void Count(SessionRuntime s, int packets, long bytes, bool written)
    {
        if (!written)
        {
            s.Counters.RxErrors += packets;
            return;
        }
        s.Counters.RxPackets += packets;
        s.Counters.RxBytes += bytes;
        // Read before written: a batch writes the time once, not per packet.
        long now = CoarseClock.Rx;
        if (s.Counters.LastRxTick != now)
            s.Counters.LastRxTick = now;
        s.TunnelCounters.RxPackets += packets;
        s.TunnelCounters.RxBytes += bytes;
    }

    /// <summary>A frame with an all-zero vnet header: the stack checks its checksums itself.</summary>
    internal static long WritePlain(SessionRuntime s, ReadOnlySpan<byte> frame)
    {
        byte* hdr = stackalloc byte[VnetHdr.Size];
        new Span<byte>(hdr, VnetHdr.Size).Clear();
        fixed (byte* p = frame)
        {
            var iov = stackalloc Tmds.Linux.iovec[2];
            iov[0].iov_base = hdr;
            iov[0].iov_len = VnetHdr.Size;
            iov[1].iov_base = p;
            iov[1].iov_len = (Tmds.Linux.size_t)(ulong)frame.Length;
            return Sys.WriteV(s.TapFd, iov, 2);
        }
    }

    /// <summary>
    /// Where the transport header of an IPv4 or IPv6 packet of the given protocol starts, with room for l4Min bytes of
    /// it: IPv4 without options, not a fragment, with an intact header (a super-frame gets a new header checksum that
    /// would hide a bad one); and no Ethernet padding (the IP length agrees with the frame's).
    /// </summary>
    private static bool TryParseIp(ReadOnlySpan<byte> frame, byte protocol, int l4Min, out bool ipv6, out int l4Offset)
    {
        ipv6 = false; l4Offset = 0;
        if (frame.Length < EthHeader + 20 + l4Min)
            return false;
        ushort type = BinaryPrimitives.ReadUInt16BigEndian(frame[12..]);
        var ip = frame[EthHeader..];
        int ipLength;
        if (type == 0x0800)
        {
            if (ip[0] != 0x45 || ip[9] != protocol || (BinaryPrimitives.ReadUInt16BigEndian(ip[6..]) & 0x3fff) != 0
                || !InetChecksum.Verifies(InetChecksum.Add(ip[..20], 0)))
                return false;
            ipLength = BinaryPrimitives.ReadUInt16BigEndian(ip[2..]);
            l4Offset = EthHeader + 20;
        }
        else if (type == 0x86dd)
        {
            if (frame.Length < EthHeader + 40 + l4Min || ip[0] >> 4 != 6 || ip[6] != protocol)
                return false;
            ipLength = 40 + BinaryPrimitives.ReadUInt16BigEndian(ip[4..]);
            l4Offset = EthHeader + 40;
            ipv6 = true;
        }
        else
        {
            return false;
        }
        return ipLength == frame.Length - EthHeader;
    }

    /// <summary>Where a mergeable TCP segment's parts are; false for anything GRO would not take.</summary>
    internal static bool TryParse(ReadOnlySpan<byte> frame, out bool ipv6, out int tcpOffset, out int headerLength, out int payload)
    {
        headerLength = payload = 0;
        if (!TryParseIp(frame, 6, 20, out ipv6, out tcpOffset))
            return false;
        headerLength = tcpOffset + (frame[tcpOffset + 12] >> 4) * 4;
        byte flags = frame[tcpOffset + 13];
        if (headerLength < tcpOffset + 20 || headerLength >= frame.Length
            || (flags & (Fin | Syn | Rst | Urg | Ece | Cwr)) != 0 || (flags & Ack) == 0)
            return false;
        payload = frame.Length - headerLength;
        // The segment must be intact before its checksum is marked as the sender's business.
        ulong sum = InetChecksum.PseudoHeader(frame[EthHeader..], ipv6, 6, frame.Length - tcpOffset);
        return InetChecksum.Verifies(InetChecksum.Add(frame[tcpOffset..], sum));
    }

    /// <summary>
    /// Where a joinable UDP datagram's parts are: no IP options, not a fragment, lengths that agree with the frame, a
    /// payload, and a checksum that is there and verifies (the super-frame's is computed afresh, per datagram).
    /// </summary>
    internal static bool TryParseUdp(ReadOnlySpan<byte> frame, out bool ipv6, out int udpOffset, out int payload)
    {
        payload = 0;
        if (!TryParseIp(frame, 17, 8, out ipv6, out udpOffset))
            return false;
        int udpLength = frame.Length - udpOffset;
        if (BinaryPrimitives.ReadUInt16BigEndian(frame[(udpOffset + 4)..]) != udpLength
            || udpLength <= 8 || BinaryPrimitives.ReadUInt16BigEndian(frame[(udpOffset + 6)..]) == 0)
            return false;
        payload = udpLength - 8;
        ulong sum = InetChecksum.PseudoHeader(frame[EthHeader..], ipv6, 17, udpLength);
        return InetChecksum.Verifies(InetChecksum.Add(frame[udpOffset..], sum));
    }

    private bool TryStart(SessionRuntime s, ReadOnlySpan<byte> frame, int l2tpBytes)
    {
        if (TryParse(frame, out bool v6, out int tcpOffset, out int headerLength, out int payload))
        {
            Hold(s, frame, l2tpBytes, udp: false, v6, tcpOffset, headerLength, payload);
            _nextSeq = BinaryPrimitives.ReadUInt32BigEndian(frame[(tcpOffset + 4)..]) + (uint)payload;
            _closed = (frame[tcpOffset + 13] & Psh) != 0;
            return true;
        }
        if (!UdpRuns || !TryParseUdp(frame, out v6, out int udpOffset, out payload))
            return false;
        Hold(s, frame, l2tpBytes, udp: true, v6, udpOffset, udpOffset + 8, payload);
        _nextId = v6 ? (ushort)0 : (ushort)(BinaryPrimitives.ReadUInt16BigEndian(frame[(EthHeader + 4)..]) + 1);
        return true;
    }

    /// <summary>Starts a run with this frame.</summary>
    private void Hold(SessionRuntime s, ReadOnlySpan<byte> frame, int l2tpBytes, bool udp, bool v6, int l4Offset, int headerLength, int payload)
    {
        frame.CopyTo(new Span<byte>(Frame, _room));
        _udp = udp;
        _session = s;
        _length = frame.Length;
        _segments = 1;
        _mss = payload;
        _ipv6 = v6;
        _l4Offset = l4Offset;
        _headerLength = headerLength;
        _closed = false;
        _l2tpBytes = l2tpBytes;
    }

    private bool TryAppendUdp(ReadOnlySpan<byte> frame, int l2tpBytes)
    {
        if (_segments >= MaxUdpSegments || !TryParseUdp(frame, out bool v6, out int udpOffset, out int payload)
            || v6 != _ipv6 || udpOffset != _l4Offset || payload > _mss
            || _length + payload > _room || _length - EthHeader + payload > MaxIpLength)
            return false;
        var held = new ReadOnlySpan<byte>(Frame, _length);
        var ip = frame[EthHeader..]; var heldIp = held[EthHeader..];
        // Same Ethernet header, ports and IP header but for lengths, checksum and (IPv4) an id one on from the last:
        // the kernel's cut numbers the datagrams on from the first, so each comes out as it went in.
        if (!frame[..EthHeader].SequenceEqual(held[..EthHeader])
            || (_ipv6
                ? !ip[..4].SequenceEqual(heldIp[..4]) || !ip[6..40].SequenceEqual(heldIp[6..40])
                : ip[1] != heldIp[1] || BinaryPrimitives.ReadUInt16BigEndian(ip[4..]) != _nextId
                    || !ip[6..10].SequenceEqual(heldIp[6..10]) || !ip[12..20].SequenceEqual(heldIp[12..20]))
            || !frame.Slice(udpOffset, 4).SequenceEqual(held.Slice(udpOffset, 4)))
            return false;
        frame[_headerLength..].CopyTo(new Span<byte>(Frame + _length, payload));
        _length += payload;
        _segments++;
        _nextId++;
        _l2tpBytes += l2tpBytes;
        if (payload < _mss)
            _closed = true;
        return true;
    }

    private bool TryAppend(ReadOnlySpan<byte> frame, int l2tpBytes)
    {
        if (_closed || frame.Length < _headerLength)
            return false;
        if (_udp)
            return TryAppendUdp(frame, l2tpBytes);
        var held = new ReadOnlySpan<byte>(Frame, _length);
        int t = _l4Offset;
        if (!TryParse(frame, out bool v6, out int tcpOffset, out int headerLength, out int payload)
            || v6 != _ipv6 || tcpOffset != t || headerLength != _headerLength
            || payload > _mss || _length + payload > _room || _length - EthHeader + payload > MaxIpLength)
            return false;
        // Same Ethernet header; same IP header but for lengths, id and checksum; same ports, ack, window and options.
        if (!frame[..EthHeader].SequenceEqual(held[..EthHeader]))
            return false;
        var ip = frame[EthHeader..]; var heldIp = held[EthHeader..];
        if (_ipv6
                ? !ip[..4].SequenceEqual(heldIp[..4]) || !ip[6..40].SequenceEqual(heldIp[6..40])
                : ip[1] != heldIp[1] || ip[6] != heldIp[6] || !ip[8..10].SequenceEqual(heldIp[8..10]) || !ip[12..20].SequenceEqual(heldIp[12..20]))
            return false;
        if (!frame.Slice(t, 4).SequenceEqual(held.Slice(t, 4))
            || BinaryPrimitives.ReadUInt32BigEndian(frame[(t + 4)..]) != _nextSeq
            || !frame.Slice(t + 8, 4).SequenceEqual(held.Slice(t + 8, 4))
            || frame[t + 12] != held[t + 12] || (frame[t + 13] & ~Psh) != (held[t + 13] & ~Psh)
            || !frame.Slice(t + 14, 2).SequenceEqual(held.Slice(t + 14, 2))
            || !frame[(t + 20)..headerLength].SequenceEqual(held[(t + 20)..headerLength]))
            return false;
        frame[headerLength..].CopyTo(new Span<byte>(Frame + _length, payload));
        _length += payload;
        _segments++;
        _nextSeq += (uint)payload;
        _l2tpBytes += l2tpBytes;
        if ((frame[t + 13] & Psh) != 0)
        {
            Frame[t + 13] |= Psh;
            _closed = true;
        }
        if (payload < _mss)
            _closed = true;
        return true;
    }

    public void Dispose() => NativeMemory.AlignedFree(_buffer);
}
