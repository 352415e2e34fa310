using System.Buffers.Binary;
using System.Net;
using L2tp.Forwarder.Dataplane;
using L2tp.Protocol;

namespace L2tp.Fuzz;

/// <summary>
/// Target "gro": Ethernet frames through the receive coalescer (software GRO) to vnet-header TAPs, and frames read
/// from a vnet-header TAP through the transmit offloads (checksum completion, TSO).
/// Input: records of [u8 op][u16 length][bytes]. Op bit 0 sets the frame's IP length fields to its length and bit 1
/// computes its IPv4 and TCP checksums (so mutations get past the coalescer's checks); bit 2 sends it to the second
/// session; bit 3 flushes the coalescer after it; bit 4 makes the record a TAP read instead ([vnet header][frame]
/// through TxOffload).
/// The coalescer's writes must cut back (TxOffload.WriteSegment, what the kernel's TSO does) into exactly the frames
/// that went in, but for the fields GRO is allowed to lose: IPv4 id and checksums, and the urgent pointer. A UDP
/// super-frame, cut here as the kernel's UDP GSO cuts one, must give back the very datagrams, every byte.
/// </summary>
internal static class GroTarget
{
    private const int EthHeader = 14;
    private const byte Psh = 0x08;
    /// <summary>The largest frame TxLoop reads from a TAP (Batch.SlotSize less its headroom).</summary>
    private const int FrameRoom = Batch.SlotSize - Batch.Headroom;
    public const int MaxRecords = 256;

    private static readonly RecordTap[] Taps = { new(), new() };
    private static readonly RxCoalescer Gro = new(udp: true);
    private static readonly byte[] Segment = new byte[FrameRoom];

    public static void Run(ReadOnlySpan<byte> data)
    {
        var tunnelSpec = new TunnelSpec
        {
            TunnelId = 1, PeerTunnelId = 2, Local = IPAddress.Parse("192.0.2.1"), Remote = IPAddress.Parse("192.0.2.2"),
            SourcePort = 1701, DestinationPort = 1701,
        };
        var tunnelCounters = new Counters();
        var sessions = new SessionRuntime[2];
        for (int i = 0; i < 2; i++)
        {
            var spec = new SessionSpec { TunnelId = 1, SessionId = (uint)(i + 1), PeerSessionId = (uint)(i + 1) };
            sessions[i] = SessionRuntime.Create(tunnelSpec, spec, Taps[i].WriteFd, -1, new Counters(), tunnelCounters, tapVnetHeader: true);
        }
        var added = new List<byte[]>[] { new(), new() };
        long l2tpBytes = 0;

        var input = new FuzzInput(data);
        for (int n = 0; n < MaxRecords && !input.IsEmpty; n++)
        {
            byte op = input.U8();
            var bytes = input.Take(input.U16()).ToArray();
            if ((op & 0x10) != 0)
            {
                Transmit(bytes);
                continue;
            }
            if ((op & 1) != 0)
                FixLengths(bytes);
            if ((op & 2) != 0)
                FixChecksums(bytes);
            int which = (op >> 2) & 1;
            added[which].Add(bytes);
            // As RxLoop passes it: the whole L2TP packet's length, here a 16-byte UDP header's worth more.
            Gro.Add(sessions[which], bytes, bytes.Length + 16);
            l2tpBytes += bytes.Length + 16;
            if ((op & 8) != 0)
                Gro.Flush();
        }
        Gro.Flush();

        for (int i = 0; i < 2; i++)
        {
            var c = sessions[i].Counters;
            Check.Equal(added[i].Count, c.RxPackets + c.RxErrors, $"session {i + 1}: frames added vs counted");
            Check.Equal(0, c.RxErrors, $"session {i + 1}: a write to the TAP failed");
            CheckWrites(Taps[i].Records(), added[i], i + 1);
        }
        Check.Equal(sessions.Sum(s => s.Counters.RxPackets), tunnelCounters.RxPackets, "tunnel rx_packets vs its sessions'");
        Check.Equal(l2tpBytes, tunnelCounters.RxBytes, "rx_bytes vs the L2TP bytes of the frames added");
    }

    /// <summary>The writes of one session, in order, must account for its frames, in order.</summary>
    private static void CheckWrites(List<byte[]> records, List<byte[]> frames, int session)
    {
        int next = 0;
        foreach (var record in records)
        {
            Check.True(record.Length >= VnetHdr.Size, $"session {session}: a write shorter than a vnet header");
            var h = VnetHdr.Read(record);
            var written = record.AsSpan(VnetHdr.Size);
            Check.True(next < frames.Count, $"session {session}: more written than added");
            if (h.GsoType == VnetHdr.GsoNone)
            {
                Check.True(record.AsSpan(0, VnetHdr.Size).IndexOfAnyExcept((byte)0) < 0, $"session {session}: plain frame behind a non-zero vnet header");
                Check.True(written.SequenceEqual(frames[next]), $"session {session}: write is not frame {next} as it came");
                next++;
                continue;
            }
            next += CheckSuperFrame(written, h, frames, next, session);
        }
        Check.Equal(frames.Count, next, $"session {session}: frames written");
    }

    /// <summary>Cuts a super-frame as the kernel's TSO would and compares the pieces with the frames it was made of.</summary>
    private static int CheckSuperFrame(ReadOnlySpan<byte> super, VnetHdr h, List<byte[]> frames, int first, int session)
    {
        string at = $"session {session}, super-frame from frame {first}";
        if (h.GsoType == VnetHdr.GsoUdpL4)
            return CheckUdpSuperFrame(super, h, frames, first, at);
        Check.True(super.Length <= EthHeader + 65535, $"{at}: {super.Length} bytes, more than an IP packet can be");
        Check.True(h.Flags == VnetHdr.FlagNeedsCsum && h.CsumOffset == 16, $"{at}: flags {h.Flags}, csum offset {h.CsumOffset}");
        Check.True(TxOffload.TryParseTcp(super, h, out var f), $"{at}: the super-frame does not parse as TCP GSO");
        Check.True(f.TcpOffset == h.CsumStart && f.HeaderLength == h.HdrLen, $"{at}: csum_start {h.CsumStart} / hdr_len {h.HdrLen} are not the TCP header's");
        int segments = f.Segments;
        Check.True(segments >= 2 && first + segments <= frames.Count, $"{at}: {segments} segments, {frames.Count - first} frames left");

        var ip = super[EthHeader..];
        if (f.IPv6)
            Check.Equal(super.Length - EthHeader - 40, BinaryPrimitives.ReadUInt16BigEndian(ip[4..]), $"{at}: IPv6 payload length");
        else
        {
            Check.Equal(super.Length - EthHeader, BinaryPrimitives.ReadUInt16BigEndian(ip[2..]), $"{at}: IPv4 total length");
            Check.True(Rfc1071.Sum(ip[..20]) == 0xffff, $"{at}: IPv4 header checksum");
        }
        // CHECKSUM_PARTIAL: the field holds the pseudo-header sum, so summing the segment from csum_start verifies
        // once complemented by the receiver.
        var tcp = super[f.TcpOffset..];
        ushort partial = BinaryPrimitives.ReadUInt16BigEndian(tcp[16..]);
        Check.Equal(Rfc1071.Sum([], Rfc1071.Pseudo(ip, f.IPv6, tcp.Length)), partial, $"{at}: partial TCP checksum");

        for (int k = 0; k < segments; k++)
        {
            int len = TxOffload.WriteSegment(super, f, k, Segment);
            var original = frames[first + k];
            var cut = Segment.AsSpan(0, len);
            Check.Equal(original.Length, len, $"{at}: segment {k} length");
            Check.True(SameBut(original, cut, f), $"{at}: segment {k} differs from the frame that went in");
        }
        return segments;
    }

    /// <summary>
    /// A UDP super-frame cut as the kernel's __udp_gso_segment cuts one: gso_size bytes of payload each (the last may be
    /// shorter) behind a copy of the headers, IPv4 ids numbered on from the first, lengths and checksums of each
    /// datagram. Every piece must be the frame that went in, byte for byte.
    /// </summary>
    private static int CheckUdpSuperFrame(ReadOnlySpan<byte> super, VnetHdr h, List<byte[]> frames, int first, string at)
    {
        Check.True(super.Length <= EthHeader + 65535, $"{at}: {super.Length} bytes, more than an IP packet can be");
        Check.True(super.Length > EthHeader + 28 && (super[12] << 8 | super[13]) is 0x0800 or 0x86dd, $"{at}: not IP");
        bool v6 = super[12] == 0x86;
        int udp = EthHeader + (v6 ? 40 : 20);
        Check.True(h.Flags == VnetHdr.FlagNeedsCsum && h.CsumStart == udp && h.CsumOffset == 6 && h.HdrLen == udp + 8 && h.GsoSize > 0,
            $"{at}: vnet header flags {h.Flags}, csum {h.CsumStart}+{h.CsumOffset}, hdr_len {h.HdrLen}, gso_size {h.GsoSize}");
        var ip = super[EthHeader..];
        int l4 = super.Length - udp;
        Check.Equal(l4, BinaryPrimitives.ReadUInt16BigEndian(super[(udp + 4)..]), $"{at}: UDP length");
        if (v6)
            Check.Equal(super.Length - EthHeader - 40, BinaryPrimitives.ReadUInt16BigEndian(ip[4..]), $"{at}: IPv6 payload length");
        else
        {
            Check.Equal(super.Length - EthHeader, BinaryPrimitives.ReadUInt16BigEndian(ip[2..]), $"{at}: IPv4 total length");
            Check.True(Rfc1071.Sum(ip[..20]) == 0xffff, $"{at}: IPv4 header checksum");
        }
        Check.Equal(Rfc1071.Sum([], Rfc1071.Pseudo(ip, v6, l4, 17)), BinaryPrimitives.ReadUInt16BigEndian(super[(udp + 6)..]), $"{at}: partial UDP checksum");
        int payload = l4 - 8, segments = (payload + h.GsoSize - 1) / h.GsoSize;
        Check.True(segments >= 2 && segments <= 64 && first + segments <= frames.Count, $"{at}: {segments} segments, {frames.Count - first} frames left");
        ushort id = BinaryPrimitives.ReadUInt16BigEndian(ip[4..]);
        for (int k = 0; k < segments; k++)
        {
            int size = Math.Min(h.GsoSize, payload - k * h.GsoSize);
            var cut = new byte[udp + 8 + size];
            super[..(udp + 8)].CopyTo(cut);
            super.Slice(udp + 8 + k * h.GsoSize, size).CopyTo(cut.AsSpan(udp + 8));
            var cutIp = cut.AsSpan(EthHeader);
            if (v6)
                BinaryPrimitives.WriteUInt16BigEndian(cutIp[4..], (ushort)(cut.Length - EthHeader - 40));
            else
            {
                BinaryPrimitives.WriteUInt16BigEndian(cutIp[2..], (ushort)(cut.Length - EthHeader));
                BinaryPrimitives.WriteUInt16BigEndian(cutIp[4..], (ushort)(id + k));
                Rfc1071.FixIpv4(cutIp[..20]);
            }
            BinaryPrimitives.WriteUInt16BigEndian(cut.AsSpan(udp + 4), (ushort)(8 + size));
            Rfc1071.FixUdp(cutIp, v6, cut.AsSpan(udp));
            Check.True(cut.AsSpan().SequenceEqual(frames[first + k]), $"{at}: datagram {k} differs from the frame that went in");
        }
        return segments;
    }

    /// <summary>Equal but for the IPv4 id and header checksum, the TCP checksum and urgent pointer, and PSH on all but the last.</summary>
    private static bool SameBut(ReadOnlySpan<byte> a, ReadOnlySpan<byte> b, TxOffload.TcpSuperFrame f)
    {
        var x = a.ToArray();
        var y = b.ToArray();
        foreach (var z in new[] { x, y })
        {
            if (!f.IPv6)
            {
                z.AsSpan(EthHeader + 4, 2).Clear();
                z.AsSpan(EthHeader + 10, 2).Clear();
            }
            z.AsSpan(f.TcpOffset + 16, 4).Clear();
        }
        // Both must still verify where it counts: the cut segment's TCP checksum as the kernel would compute it.
        return x.AsSpan().SequenceEqual(y) && Rfc1071.TcpVerifies(b[EthHeader..], f.IPv6, b[f.TcpOffset..]);
    }

    /// <summary>A frame read from a vnet-header TAP, as TxLoop handles it: checksum completion or TSO.</summary>
    private static void Transmit(byte[] record)
    {
        if (record.Length < VnetHdr.Size)
            return;
        var h = VnetHdr.Read(record);
        var frame = record.AsSpan(VnetHdr.Size);
        if (h.GsoType == VnetHdr.GsoNone)
        {
            if ((h.Flags & VnetHdr.FlagNeedsCsum) == 0)
                return;
            int field = h.CsumStart + h.CsumOffset;
            ushort old = field + 2 <= frame.Length ? BinaryPrimitives.ReadUInt16BigEndian(frame[field..]) : (ushort)0;
            if (!TxOffload.CompleteChecksum(frame, h))
                return;
            // The sum from csum_start with the completed field, plus the partial sum it replaced, is all ones.
            var region = frame[h.CsumStart..];
            bool odd = (h.CsumStart & 1) != 0;
            ushort done = BinaryPrimitives.ReadUInt16BigEndian(frame[field..]);
            Check.True(field >= h.CsumStart, "checksum field before csum_start");
            if (!odd && (h.CsumOffset & 1) == 0 && !(h.CsumOffset == 6 && done == 0xffff))
                Check.True(Rfc1071.Sum(region, old) == 0xffff, $"completed checksum at {h.CsumStart}+{h.CsumOffset} does not verify");
            return;
        }
        if (!TxOffload.TryParseTcp(frame, h, out var f))
            return;
        Check.True(f.HeaderLength < frame.Length && f.PayloadLength == frame.Length - f.HeaderLength && f.Mss > 0,
            $"TryParseTcp: header {f.HeaderLength}, payload {f.PayloadLength}, mss {f.Mss} for {frame.Length} bytes");
        uint seq = BinaryPrimitives.ReadUInt32BigEndian(frame[(f.TcpOffset + 4)..]);
        int payload = 0;
        for (int k = 0; k < f.Segments; k++)
        {
            int len = TxOffload.WriteSegment(frame, f, k, Segment);
            var s = Segment.AsSpan(0, len);
            int p = len - f.HeaderLength;
            Check.True(p > 0 && p <= f.Mss, $"TSO segment {k} carries {p} bytes (mss {f.Mss})");
            Check.True(s[f.HeaderLength..].SequenceEqual(frame.Slice(f.HeaderLength + payload, p)), $"TSO segment {k} payload");
            Check.Equal(unchecked(seq + (uint)payload), BinaryPrimitives.ReadUInt32BigEndian(s[(f.TcpOffset + 4)..]), $"TSO segment {k} sequence number");
            var ip = s[f.IpOffset..];
            int ipLength = len - f.IpOffset;
            if (f.IPv6)
                Check.Equal(ipLength - 40, BinaryPrimitives.ReadUInt16BigEndian(ip[4..]), $"TSO segment {k}: IPv6 payload length");
            else
            {
                Check.Equal(ipLength, BinaryPrimitives.ReadUInt16BigEndian(ip[2..]), $"TSO segment {k}: IPv4 total length");
                Check.True(Rfc1071.Sum(ip[..(f.TcpOffset - f.IpOffset)]) == 0xffff, $"TSO segment {k}: IPv4 header checksum");
            }
            Check.True(Rfc1071.TcpVerifies(ip, f.IPv6, s[f.TcpOffset..]), $"TSO segment {k}: TCP checksum");
            payload += p;
        }
        Check.Equal(f.PayloadLength, payload, "TSO segments' payload");
    }

    /// <summary>Sets the IP length fields to what the frame holds, where the frame is long enough to have them.</summary>
    private static void FixLengths(byte[] frame)
    {
        if (frame.Length < EthHeader + 40)
            return;
        var ip = frame.AsSpan(EthHeader);
        bool v6 = frame[12] == 0x86 && frame[13] == 0xdd;
        if (v6)
            BinaryPrimitives.WriteUInt16BigEndian(ip[4..], (ushort)(ip.Length - 40));
        else
            BinaryPrimitives.WriteUInt16BigEndian(ip[2..], (ushort)ip.Length);
        // A UDP datagram's own length too, where its header sits where the coalescer looks for it.
        if ((v6 ? ip[6] == 17 : ip[9] == 17 && ip[0] == 0x45) && ip.Length >= (v6 ? 48 : 28))
            BinaryPrimitives.WriteUInt16BigEndian(ip[((v6 ? 40 : 20) + 4)..], (ushort)(ip.Length - (v6 ? 40 : 20)));
    }

    /// <summary>Computes the IPv4 header and TCP checksums of a frame that has room for them.</summary>
    private static void FixChecksums(byte[] frame)
    {
        if (frame.Length < EthHeader + 40)
            return;
        var ip = frame.AsSpan(EthHeader);
        bool v6 = frame[12] == 0x86 && frame[13] == 0xdd;
        int ihl = v6 ? 40 : (ip[0] & 0x0f) * 4;
        if (ihl < 20 || ihl + 20 > ip.Length)
            return;
        if (!v6)
            Rfc1071.FixIpv4(ip[..ihl]);
        if (v6 ? ip[6] == 17 : ip[9] == 17)
            Rfc1071.FixUdp(ip, v6, ip[ihl..]);
        else
            Rfc1071.FixTcp(ip, v6, ip[ihl..]);
    }
}
