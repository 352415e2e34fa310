using System.Buffers.Binary;
using System.Net;
using L2tp.Forwarder.Dataplane;
using L2tp.Fuzz;
using L2tp.Native;
using L2tp.Protocol;
using Xunit;
using static L2tp.Tests.Hex;
using static Tmds.Linux.LibC;

namespace L2tp.Tests;

/// <summary>
/// Hand-built Ethernet + IPv4/IPv6 + TCP frames with every checksum computed by the naive <see cref="Rfc1071"/>
/// reference, and the super-frame a correct GRO must make of a list of them, built independently of RxCoalescer.
/// </summary>
internal static class GroFrames
{
    public const byte Fin = 0x01, Syn = 0x02, Rst = 0x04, Psh = 0x08, Ack = 0x10, Urg = 0x20;

    private static readonly byte[] Macs = B("020000000002 020000000001");
    private static readonly byte[] V4Addresses = B("c0000201 c6336402");   // 192.0.2.1 -> 198.51.100.2
    private static readonly byte[] V6Addresses =
        B("20010db8000000000000000000000001 20010db8000000010000000000000002");   // 2001:db8::1 -> 2001:db8:0:1::2
    public static readonly byte[] Timestamps = B("0101 080a 11223344 55667788");   // NOP NOP TS: doff 8

    /// <summary>One TCP segment, described by the fields the tests vary.</summary>
    public sealed record Seg
    {
        public bool V6 { get; init; }
        public uint Seq { get; init; } = 0x10000000;
        public int Payload { get; init; } = 1000;
        public byte Flags { get; init; } = Ack;
        public ushort SrcPort { get; init; } = 50000;
        public ushort DstPort { get; init; } = 5001;
        public uint AckNo { get; init; } = 0x01020304;
        public ushort Window { get; init; } = 0x0200;
        public byte[] TcpOptions { get; init; } = Timestamps;
        public ushort IpId { get; init; } = 0x1234;
        /// <summary>IPv4 flags and fragment offset: DF by default.</summary>
        public ushort FragField { get; init; } = 0x4000;
        public byte[] IpOptions { get; init; } = [];
        public byte Ttl { get; init; } = 64;
        public byte[] DstMac { get; init; } = B("020000000002");
        /// <summary>Bytes after the IP packet: Ethernet padding the IP length does not count.</summary>
        public byte[] Padding { get; init; } = [];
        /// <summary>A payload byte flipped after the TCP checksum was computed.</summary>
        public bool CorruptPayload { get; init; }
        /// <summary>The IPv4 header checksum made wrong.</summary>
        public bool CorruptIpChecksum { get; init; }
    }

    /// <summary>The byte of the (made-up) TCP byte stream at sequence number p: contiguous segments carry contiguous data.</summary>
    public static byte StreamByte(uint p) => (byte)(p * 131 + (p >> 9) + 7);

    public static byte[] Stream(uint seq, int length) =>
        Enumerable.Range(0, length).Select(i => StreamByte(unchecked(seq + (uint)i))).ToArray();

    public static byte[] Build(Seg s)
    {
        int tcpHeader = 20 + s.TcpOptions.Length;
        var tcp = new byte[tcpHeader + s.Payload];
        BinaryPrimitives.WriteUInt16BigEndian(tcp, s.SrcPort);
        BinaryPrimitives.WriteUInt16BigEndian(tcp.AsSpan(2), s.DstPort);
        BinaryPrimitives.WriteUInt32BigEndian(tcp.AsSpan(4), s.Seq);
        BinaryPrimitives.WriteUInt32BigEndian(tcp.AsSpan(8), s.AckNo);
        tcp[12] = (byte)((tcpHeader / 4) << 4);
        tcp[13] = s.Flags;
        BinaryPrimitives.WriteUInt16BigEndian(tcp.AsSpan(14), s.Window);
        s.TcpOptions.CopyTo(tcp, 20);
        Stream(s.Seq, s.Payload).CopyTo(tcp, tcpHeader);

        byte[] ip;
        if (s.V6)
        {
            ip = Bytes.Concat(B("60000000"), [(byte)(tcp.Length >> 8), (byte)tcp.Length, 6, 64], V6Addresses);
        }
        else
        {
            int ihl = 20 + s.IpOptions.Length, total = ihl + tcp.Length;
            ip = Bytes.Concat([(byte)(0x40 | ihl / 4), 0x00, (byte)(total >> 8), (byte)total, (byte)(s.IpId >> 8), (byte)s.IpId,
                (byte)(s.FragField >> 8), (byte)s.FragField, s.Ttl, 6, 0, 0], V4Addresses, s.IpOptions);
            BinaryPrimitives.WriteUInt16BigEndian(ip.AsSpan(10), Rfc1071.Checksum(ip));
            if (s.CorruptIpChecksum)
                ip[11] ^= 0x5a;
        }
        var pseudo = s.V6 ? Rfc1071.PseudoV6(ip, 6, tcp.Length) : Rfc1071.PseudoV4(ip, 6, tcp.Length);
        BinaryPrimitives.WriteUInt16BigEndian(tcp.AsSpan(16), Rfc1071.Checksum(Bytes.Concat(pseudo, tcp)));
        if (s.CorruptPayload)
            tcp[^1] ^= 0x20;
        return Bytes.Concat(s.DstMac, Macs[6..], s.V6 ? B("86dd") : B("0800"), ip, tcp, s.Padding);
    }

    /// <summary>Consecutive segments of one stream: seq advancing by each payload.</summary>
    public static List<byte[]> Run(Seg first, params int[] payloads)
    {
        var frames = new List<byte[]>();
        uint seq = first.Seq;
        foreach (int p in payloads)
        {
            frames.Add(Build(first with { Seq = seq, Payload = p }));
            seq = unchecked(seq + (uint)p);
        }
        return frames;
    }

    public static bool IsV6(byte[] frame) => frame[12] == 0x86 && frame[13] == 0xdd;
    public static int TcpOffset(byte[] frame) => 14 + (IsV6(frame) ? 40 : (frame[14] & 0x0f) * 4);
    public static int HeaderLength(byte[] frame) => TcpOffset(frame) + (frame[TcpOffset(frame) + 12] >> 4) * 4;
    public static uint Seq(byte[] frame) => BinaryPrimitives.ReadUInt32BigEndian(frame.AsSpan(TcpOffset(frame) + 4));

    /// <summary>A frame as written to a vnet-header TAP without offload: ten zero bytes, then the frame unchanged.</summary>
    public static byte[] Plain(byte[] frame) => Bytes.Concat(new byte[10], frame);

    /// <summary>
    /// Checks one write against the super-frame the segments must make: a virtio_net_hdr with TCP GSO and a partial
    /// checksum; the first segment's headers with the IP length, IPv4 header checksum, PSH and TCP checksum field
    /// rewritten; the payloads concatenated. Also completes the checksum as the kernel would and verifies it.
    /// </summary>
    public static void AssertSuperFrame(byte[] record, IReadOnlyList<byte[]> segs)
    {
        var first = segs[0];
        bool v6 = IsV6(first);
        int tcpOff = TcpOffset(first), hdrLen = HeaderLength(first);
        var payload = segs.SelectMany(s => s[hdrLen..]).ToArray();
        int length = hdrLen + payload.Length;

        Assert.True(record.Length == 10 + length, $"write of {record.Length} bytes, expected 10 + {length}");

        // virtio_net_hdr, little-endian u16s: flags, gso_type, hdr_len, gso_size, csum_start, csum_offset.
        var hdr = new byte[10];
        hdr[0] = 1;                                   // VIRTIO_NET_HDR_F_NEEDS_CSUM
        hdr[1] = (byte)(v6 ? 4 : 1);                  // GSO_TCPV6 / GSO_TCPV4
        BinaryPrimitives.WriteUInt16LittleEndian(hdr.AsSpan(2), (ushort)hdrLen);
        BinaryPrimitives.WriteUInt16LittleEndian(hdr.AsSpan(4), (ushort)(first.Length - hdrLen));
        BinaryPrimitives.WriteUInt16LittleEndian(hdr.AsSpan(6), (ushort)tcpOff);
        BinaryPrimitives.WriteUInt16LittleEndian(hdr.AsSpan(8), 16);
        Assert.Equal(S(hdr), S(record.AsSpan(0, 10)));

        var frame = record[10..];
        var ip = frame.AsSpan(14, tcpOff - 14);
        if (v6)
        {
            Assert.Equal(length - 14 - 40, BinaryPrimitives.ReadUInt16BigEndian(ip[4..]));
        }
        else
        {
            Assert.Equal(length - 14, BinaryPrimitives.ReadUInt16BigEndian(ip[2..]));
            Assert.True(Rfc1071.Verifies(ip), "IPv4 header checksum of the super-frame");
        }
        Assert.Equal(Seq(first), Seq(frame));
        Assert.True(payload.AsSpan().SequenceEqual(frame.AsSpan(hdrLen)), "the payload is the segments' payloads concatenated");

        // The TCP checksum field: the folded pseudo-header sum over the merged length, not complemented.
        var pseudo = v6 ? Rfc1071.PseudoV6(ip, 6, length - tcpOff) : Rfc1071.PseudoV4(ip, 6, length - tcpOff);
        Assert.Equal(Rfc1071.Sum(pseudo), BinaryPrimitives.ReadUInt16BigEndian(frame.AsSpan(tcpOff + 16)));

        // Byte for byte: the first segment's headers with only those fields changed (PSH when any segment had it).
        var expected = Bytes.Concat(first[..hdrLen], payload);
        if (v6)
        {
            BinaryPrimitives.WriteUInt16BigEndian(expected.AsSpan(18), (ushort)(length - 54));
        }
        else
        {
            BinaryPrimitives.WriteUInt16BigEndian(expected.AsSpan(16), (ushort)(length - 14));
            expected.AsSpan(24, 2).Clear();   // the header checksum, verified above (0 and 0xffff are the same sum)
        }
        if (segs.Any(s => (s[tcpOff + 13] & Psh) != 0))
            expected[tcpOff + 13] |= Psh;
        BinaryPrimitives.WriteUInt16BigEndian(expected.AsSpan(tcpOff + 16), Rfc1071.Sum(pseudo));
        var actual = (byte[])frame.Clone();
        if (!v6)
            actual.AsSpan(24, 2).Clear();
        Assert.Equal(S(expected[..hdrLen]), S(actual[..hdrLen]));
        Assert.Equal(expected, actual);

        // What the kernel does with NEEDS_CSUM: sum from csum_start to the end (the field as written included),
        // complement, store at csum_start + csum_offset. The result must verify as an ordinary TCP checksum.
        int start = BinaryPrimitives.ReadUInt16LittleEndian(record.AsSpan(6));
        int offset = BinaryPrimitives.ReadUInt16LittleEndian(record.AsSpan(8));
        var completed = (byte[])frame.Clone();
        BinaryPrimitives.WriteUInt16BigEndian(completed.AsSpan(start + offset), (ushort)~Rfc1071.Sum(completed.AsSpan(start)));
        Assert.True(Rfc1071.Verifies(Bytes.Concat(pseudo, completed[tcpOff..])), "completed TCP checksum verifies");
    }

    /// <summary>Checks the writes against groups of frame indexes: a group of one is a plain write, more a super-frame.</summary>
    public static void AssertWrites(List<byte[]> records, IReadOnlyList<byte[]> frames, params int[][] groups)
    {
        Assert.True(groups.Length == records.Count,
            $"expected {groups.Length} writes, got {records.Count}: lengths [{string.Join(", ", records.Select(r => r.Length))}]");
        for (int i = 0; i < groups.Length; i++)
        {
            if (groups[i].Length == 1)
                Assert.True(Plain(frames[groups[i][0]]).AsSpan().SequenceEqual(records[i]),
                    $"write {i} is frame {groups[i][0]} behind a zero vnet header ({records[i].Length} bytes, " +
                    $"header {S(records[i].AsSpan(0, Math.Min(10, records[i].Length)))})");
            else
                AssertSuperFrame(records[i], groups[i].Select(j => frames[j]).ToList());
        }
    }
}

/// <summary>RxCoalescer: software GRO of TCP segments into one virtio_net_hdr super-frame per run, on a vnet-header TAP.</summary>
public sealed class RxCoalescerTests : IDisposable
{
    private readonly RecordTap _tap = new();
    private readonly RecordTap _tap2 = new();
    private readonly Counters _tunnelCounters = new();
    private readonly RxCoalescer _gro = new(udp: false);

    public void Dispose()
    {
        _gro.Dispose();
        _tap.Dispose();
        _tap2.Dispose();
    }

    private static readonly TunnelSpec UdpTunnel = TestSpecs.UdpTunnel;
    private static readonly SessionSpec CookieSession = TestSpecs.CookieSession;

    private SessionRuntime Session(int tapFd, uint sessionId = 1001) =>
        SessionRuntime.Create(UdpTunnel, CookieSession with { SessionId = sessionId }, tapFd, -1, new Counters(), _tunnelCounters,
            tapVnetHeader: true);

    /// <summary>The L2TP bytes each frame stands for: made distinct so that a wrong sum shows.</summary>
    private static int L2tpBytes(byte[] frame, int i) => 16 + frame.Length + i;

    private long AddAll(SessionRuntime s, IReadOnlyList<byte[]> frames)
    {
        long bytes = 0;
        for (int i = 0; i < frames.Count; i++)
        {
            _gro.Add(s, frames[i], L2tpBytes(frames[i], i));
            bytes += L2tpBytes(frames[i], i);
        }
        return bytes;
    }

    private static readonly GroFrames.Seg V4 = new();
    private static readonly GroFrames.Seg V6 = new() { V6 = true };

    [Fact]
    public void The_frame_builder_makes_segments_whose_checksums_verify_with_the_naive_reference()
    {
        foreach (var f in new[] { GroFrames.Build(V4), GroFrames.Build(V4 with { Payload = 401 }), GroFrames.Build(V6) })
        {
            int tcpOff = GroFrames.TcpOffset(f);
            var ip = f.AsSpan(14, tcpOff - 14);
            var pseudo = GroFrames.IsV6(f) ? Rfc1071.PseudoV6(ip, 6, f.Length - tcpOff) : Rfc1071.PseudoV4(ip, 6, f.Length - tcpOff);
            Assert.True(Rfc1071.Verifies(Bytes.Concat(pseudo, f[tcpOff..])));
            if (!GroFrames.IsV6(f))
                Assert.True(Rfc1071.Verifies(ip));
        }
        var bad = GroFrames.Build(V4 with { CorruptPayload = true });
        Assert.False(Rfc1071.Verifies(Bytes.Concat(Rfc1071.PseudoV4(bad.AsSpan(14, 20), 6, bad.Length - 34), bad[34..])));
    }

    [Theory]
    [InlineData(false, 1000)]
    [InlineData(true, 1000)]
    [InlineData(false, 1448)]
    [InlineData(true, 1448)]
    public void Five_full_segments_and_a_shorter_last_one_become_one_super_frame_with_gso_header_lengths_and_partial_checksum(bool v6, int mss)
    {
        // IPv6 starts just below 2^32 so the run's sequence numbers wrap; the odd last payload pads the checksum.
        var first = v6 ? V6 with { Seq = 0xfffff000 } : V4;
        var frames = GroFrames.Run(first, mss, mss, mss, mss, mss, 401);
        int total = 5 * mss + 401;
        var s = Session(_tap.WriteFd);

        long bytes = AddAll(s, frames);
        Assert.Empty(_tap.Records());   // held until the batch ends
        Assert.Equal(0, s.Counters.RxPackets);
        Assert.Equal(0, _tunnelCounters.RxPackets);

        _gro.Flush();
        var records = _tap.Records();
        Assert.Single(records);
        GroFrames.AssertSuperFrame(records[0], frames);

        // The pieces spelled out, for a readable failure.
        var r = records[0];
        int tcpOff = v6 ? 54 : 34, hdrLen = tcpOff + 32;
        Assert.Equal(v6 ? 4 : 1, r[1]);
        Assert.Equal(hdrLen, BinaryPrimitives.ReadUInt16LittleEndian(r.AsSpan(2)));
        Assert.Equal(mss, BinaryPrimitives.ReadUInt16LittleEndian(r.AsSpan(4)));
        Assert.Equal(tcpOff, BinaryPrimitives.ReadUInt16LittleEndian(r.AsSpan(6)));
        Assert.Equal(16, BinaryPrimitives.ReadUInt16LittleEndian(r.AsSpan(8)));
        Assert.Equal(10 + hdrLen + total, r.Length);
        if (v6)
            Assert.Equal(32 + total, BinaryPrimitives.ReadUInt16BigEndian(r.AsSpan(10 + 18)));
        else
            Assert.Equal(20 + 32 + total, BinaryPrimitives.ReadUInt16BigEndian(r.AsSpan(10 + 16)));
        Assert.Equal(first.Seq, BinaryPrimitives.ReadUInt32BigEndian(r.AsSpan(10 + tcpOff + 4)));
        Assert.Equal(GroFrames.Stream(first.Seq, total), r[(10 + hdrLen)..]);
        Assert.Equal(GroFrames.Ack, r[10 + tcpOff + 13]);

        Assert.Equal(6, s.Counters.RxPackets);
        Assert.Equal(bytes, s.Counters.RxBytes);
        Assert.Equal(6, _tunnelCounters.RxPackets);
        Assert.Equal(bytes, _tunnelCounters.RxBytes);
        Assert.Equal(0, s.Counters.RxErrors);

        _gro.Flush();   // nothing held any more
        Assert.Empty(_tap.Records());
        Assert.Equal(6, s.Counters.RxPackets);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void A_lone_segment_is_written_as_ten_zero_bytes_and_the_identical_frame(bool v6)
    {
        var frame = GroFrames.Build(v6 ? V6 : V4);
        var s = Session(_tap.WriteFd);
        _gro.Add(s, frame, 1234);
        Assert.Empty(_tap.Records());
        _gro.Flush();
        var records = _tap.Records();
        Assert.Single(records);
        Assert.Equal(new byte[10], records[0][..10]);
        Assert.Equal(frame, records[0][10..]);
        Assert.Equal(1, s.Counters.RxPackets);
        Assert.Equal(1234, s.Counters.RxBytes);
        Assert.Equal(1234, _tunnelCounters.RxBytes);
    }

    [Fact]
    public void Two_contiguous_segments_merge_a_control_for_the_cases_that_must_not()
    {
        var frames = GroFrames.Run(V4, 1000, 1000);
        var s = Session(_tap.WriteFd);
        AddAll(s, frames);
        _gro.Flush();
        GroFrames.AssertWrites(_tap.Records(), frames, [0, 1]);
    }

    private static byte[] UdpFrame()
    {
        var payload = Enumerable.Range(0, 1000).Select(i => (byte)(i * 7)).ToArray();
        int udpLen = 8 + payload.Length, total = 20 + udpLen;
        var ip = Bytes.Concat([0x45, 0, (byte)(total >> 8), (byte)total, 0x12, 0x35, 0x40, 0, 64, 17, 0, 0], B("c0000201 c6336402"));
        BinaryPrimitives.WriteUInt16BigEndian(ip.AsSpan(10), Rfc1071.Checksum(ip));
        var udp = Bytes.Concat(B("c350 1389"), [(byte)(udpLen >> 8), (byte)udpLen, 0, 0], payload);
        ushort c = Rfc1071.Checksum(Bytes.Concat(Rfc1071.PseudoV4(ip, 17, udpLen), udp));
        BinaryPrimitives.WriteUInt16BigEndian(udp.AsSpan(6), c == 0 ? (ushort)0xffff : c);
        return Bytes.Concat(B("020000000002 020000000001 0800"), ip, udp);
    }

    private static readonly byte[] NonIpFrame =
        B("020000000002 020000000001 88b5").Concat(Enumerable.Range(0, 1000).Select(i => (byte)i)).ToArray();

    private static readonly byte[] SneakyPadding = B("fff9 0000 0000");

    [Fact]
    public void The_sneaky_padding_makes_the_tcp_checksum_verify_also_over_the_wrong_length()
    {
        var f = GroFrames.Build(V4 with { Payload = 994, Padding = SneakyPadding });
        var ip = f.AsSpan(14, 20);
        Assert.True(Rfc1071.Verifies(Bytes.Concat(Rfc1071.PseudoV4(ip, 6, f.Length - 34 - 6), f[34..^6])));
        Assert.True(Rfc1071.Verifies(Bytes.Concat(Rfc1071.PseudoV4(ip, 6, f.Length - 34), f[34..])));
        Assert.Equal(f.Length - 14 - 6, BinaryPrimitives.ReadUInt16BigEndian(f.AsSpan(16)));
    }

    public static TheoryData<string> NotMerged => new()
    {
        "gap in sequence numbers", "retransmission (same sequence number)", "different ack number", "different source port",
        "different destination port", "different window", "different tcp timestamp option", "different ipv4 ttl",
        "different destination mac", "syn", "fin", "rst", "urg", "syn on both", "fin on both", "rst on both", "urg on both",
        "bad tcp checksum", "bad tcp checksum first", "udp frame",
        "non-ip frame", "ipv4 options (ihl 6)", "ipv4 fragment (mf)", "ipv4 fragment (offset)", "ethernet padding",
        "ethernet padding on the first",
        "segment bigger than the first", "segment after a shorter one", "segment after a psh one", "psh on the first segment",
        "pure ack without payload", "ipv6 segment after an ipv4 one",
    };

    /// <summary>
    /// The frames of each case and the writes they must make, as groups of frame indexes (a group of one: written
    /// as it came; more: one super-frame). Frames after a non-mergeable one continue the stream, so a coalescer that
    /// kept a run open across it would merge them and fail.
    /// </summary>
    private static (List<byte[]> Frames, int[][] Writes) NotMergedCase(string what)
    {
        var a = V4;
        uint next = a.Seq + 1000;
        List<byte[]> Pair(GroFrames.Seg b) => [GroFrames.Build(a), GroFrames.Build(b)];
        return what switch
        {
            "gap in sequence numbers" => (Pair(a with { Seq = next + 1 }), [[0], [1]]),
            "retransmission (same sequence number)" => (Pair(a), [[0], [1]]),
            "different ack number" => (Pair(a with { Seq = next, AckNo = a.AckNo + 1 }), [[0], [1]]),
            "different source port" => (Pair(a with { Seq = next, SrcPort = 50001 }), [[0], [1]]),
            "different destination port" => (Pair(a with { Seq = next, DstPort = 5002 }), [[0], [1]]),
            "different window" => (Pair(a with { Seq = next, Window = 0x0201 }), [[0], [1]]),
            "different tcp timestamp option" => (Pair(a with { Seq = next, TcpOptions = B("0101 080a 11223345 55667788") }), [[0], [1]]),
            "different ipv4 ttl" => (Pair(a with { Seq = next, Ttl = 63 }), [[0], [1]]),
            "different destination mac" => (Pair(a with { Seq = next, DstMac = B("020000000003") }), [[0], [1]]),
            "syn" => (Pair(a with { Seq = next, Flags = GroFrames.Ack | GroFrames.Syn }), [[0], [1]]),
            "fin" => (Pair(a with { Seq = next, Flags = GroFrames.Ack | GroFrames.Fin }), [[0], [1]]),
            "rst" => (Pair(a with { Seq = next, Flags = GroFrames.Ack | GroFrames.Rst }), [[0], [1]]),
            "urg" => (Pair(a with { Seq = next, Flags = GroFrames.Ack | GroFrames.Urg }), [[0], [1]]),
            "syn on both" => (GroFrames.Run(a with { Flags = GroFrames.Ack | GroFrames.Syn }, 1000, 1000), [[0], [1]]),
            "fin on both" => (GroFrames.Run(a with { Flags = GroFrames.Ack | GroFrames.Fin }, 1000, 1000), [[0], [1]]),
            "rst on both" => (GroFrames.Run(a with { Flags = GroFrames.Ack | GroFrames.Rst }, 1000, 1000), [[0], [1]]),
            "urg on both" => (GroFrames.Run(a with { Flags = GroFrames.Ack | GroFrames.Urg }, 1000, 1000), [[0], [1]]),
            "bad tcp checksum" =>
                ([GroFrames.Build(a), GroFrames.Build(a with { Seq = next, CorruptPayload = true }), GroFrames.Build(a with { Seq = next + 1000 })],
                 [[0], [1], [2]]),
            "bad tcp checksum first" =>
                ([GroFrames.Build(a with { CorruptPayload = true }), GroFrames.Build(a with { Seq = next }), GroFrames.Build(a with { Seq = next + 1000 })],
                 [[0], [1, 2]]),
            "udp frame" => ([GroFrames.Build(a), UdpFrame(), GroFrames.Build(a with { Seq = next })], [[0], [1], [2]]),
            "non-ip frame" => ([GroFrames.Build(a), NonIpFrame, GroFrames.Build(a with { Seq = next })], [[0], [1], [2]]),
            "ipv4 options (ihl 6)" => (GroFrames.Run(a with { IpOptions = B("01010100") }, 1000, 1000), [[0], [1]]),
            "ipv4 fragment (mf)" => (GroFrames.Run(a with { FragField = 0x2000 }, 1000, 1000), [[0], [1]]),
            "ipv4 fragment (offset)" => (GroFrames.Run(a with { FragField = 0x0001 }, 1000, 1000), [[0], [1]]),
            // 994 bytes of payload and 6 of padding: counted as payload, the padding would make a full, contiguous
            // segment. The padding words sum to -6, so that the TCP checksum also verifies when the 6 bytes are
            // wrongly counted in the TCP length: only the length check can refuse the frame.
            "ethernet padding" =>
                ([GroFrames.Build(a), GroFrames.Build(a with { Seq = next, Payload = 994, Padding = SneakyPadding }), GroFrames.Build(a with { Seq = next + 994 })],
                 [[0], [1], [2]]),
            "ethernet padding on the first" =>
                ([GroFrames.Build(a with { Payload = 994, Padding = SneakyPadding }), GroFrames.Build(a with { Seq = a.Seq + 1000 })], [[0], [1]]),
            "segment bigger than the first" => (GroFrames.Run(a, 800, 900), [[0], [1]]),
            "segment after a shorter one" => (GroFrames.Run(a, 1000, 500, 1000), [[0, 1], [2]]),
            "segment after a psh one" =>
                ([GroFrames.Build(a), GroFrames.Build(a with { Seq = next, Flags = GroFrames.Ack | GroFrames.Psh }), GroFrames.Build(a with { Seq = next + 1000 })],
                 [[0, 1], [2]]),
            "psh on the first segment" => (GroFrames.Run(a with { Flags = GroFrames.Ack | GroFrames.Psh }, 1000, 1000), [[0], [1]]),
            "pure ack without payload" => (Pair(a with { Seq = next, Payload = 0 }), [[0], [1]]),
            "ipv6 segment after an ipv4 one" => (Pair(V6 with { Seq = next }), [[0], [1]]),
            _ => throw new ArgumentException(what),
        };
    }

    [Theory]
    [MemberData(nameof(NotMerged))]
    public void Frames_that_must_not_merge_are_written_separately_and_intact_in_the_order_they_came(string what)
    {
        var (frames, writes) = NotMergedCase(what);
        var s = Session(_tap.WriteFd);
        long bytes = AddAll(s, frames);
        _gro.Flush();
        GroFrames.AssertWrites(_tap.Records(), frames, writes);
        Assert.Equal(frames.Count, s.Counters.RxPackets);
        Assert.Equal(bytes, s.Counters.RxBytes);
        Assert.Equal(0, s.Counters.RxErrors);
    }

    /// <summary>
    /// The kernel's inet_gro_receive never merges an IPv4 packet whose header checksum fails (ip_rcv then drops it).
    /// A super-frame gets a fresh header checksum, so merging such a packet hands the stack a header nobody checked.
    /// </summary>
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void An_ipv4_segment_with_a_bad_header_checksum_is_never_merged_and_is_written_as_it_came(int which)
    {
        var a = V4;
        var frames = new List<byte[]>
        {
            GroFrames.Build(a with { CorruptIpChecksum = which == 1 }),
            GroFrames.Build(a with { Seq = a.Seq + 1000, CorruptIpChecksum = which == 2 }),
            GroFrames.Build(a with { Seq = a.Seq + 2000 }),
        };
        Assert.False(Rfc1071.Verifies(frames[which - 1].AsSpan(14, 20)));
        var s = Session(_tap.WriteFd);
        AddAll(s, frames);
        _gro.Flush();
        if (which == 1)
            GroFrames.AssertWrites(_tap.Records(), frames, [0], [1, 2]);
        else
            GroFrames.AssertWrites(_tap.Records(), frames, [0], [1], [2]);
    }

    [Fact]
    public void Psh_on_a_merged_segment_is_carried_into_the_super_frame_flags()
    {
        var frames = new List<byte[]>
        {
            GroFrames.Build(V4), GroFrames.Build(V4 with { Seq = V4.Seq + 1000 }),
            GroFrames.Build(V4 with { Seq = V4.Seq + 2000, Flags = GroFrames.Ack | GroFrames.Psh }),
        };
        var s = Session(_tap.WriteFd);
        AddAll(s, frames);
        _gro.Flush();
        var records = _tap.Records();
        GroFrames.AssertWrites(records, frames, [0, 1, 2]);
        Assert.Equal(GroFrames.Ack | GroFrames.Psh, records[0][10 + 34 + 13]);
    }

    [Fact]
    public void A_segment_that_does_not_merge_flushes_the_held_run_before_it_is_written()
    {
        var frames = GroFrames.Run(V4, 1000, 1000);
        var s = Session(_tap.WriteFd);
        AddAll(s, frames);
        Assert.Empty(_tap.Records());
        var udp = UdpFrame();
        _gro.Add(s, udp, 99);
        // The run and the UDP frame are out before the batch ends; nothing is held.
        var records = _tap.Records();
        GroFrames.AssertWrites(records, [frames[0], frames[1], udp], [0, 1], [2]);
        Assert.Equal(3, s.Counters.RxPackets);
        _gro.Flush();
        Assert.Empty(_tap.Records());
    }

    [Fact]
    public void Frames_of_two_sessions_interleaved_flush_the_held_run_when_the_session_changes_and_each_tap_gets_its_own()
    {
        var a = Session(_tap.WriteFd, 1001);
        var b = Session(_tap2.WriteFd, 1002);
        // One stream split between the sessions: only the session tells b's frames from a continuation of a's run.
        var frames = GroFrames.Run(V4, 1000, 1000, 1000, 1000, 1000, 1000);

        _gro.Add(a, frames[0], 100);
        _gro.Add(a, frames[1], 101);
        Assert.Empty(_tap.Records());
        _gro.Add(b, frames[2], 102);
        // a's run went out when b's frame came; b's is held.
        GroFrames.AssertWrites(_tap.Records(), frames, [0, 1]);
        Assert.Empty(_tap2.Records());
        Assert.Equal(2, a.Counters.RxPackets);
        Assert.Equal(201, a.Counters.RxBytes);
        Assert.Equal(0, b.Counters.RxPackets);

        _gro.Add(b, frames[3], 103);
        _gro.Add(a, frames[4], 104);
        GroFrames.AssertWrites(_tap2.Records(), frames, [2, 3]);
        _gro.Add(b, frames[5], 105);
        GroFrames.AssertWrites(_tap.Records(), frames, [4]);
        _gro.Flush();
        GroFrames.AssertWrites(_tap2.Records(), frames, [5]);
        Assert.Empty(_tap.Records());

        Assert.Equal(3, a.Counters.RxPackets);
        Assert.Equal(100 + 101 + 104, a.Counters.RxBytes);
        Assert.Equal(3, b.Counters.RxPackets);
        Assert.Equal(102 + 103 + 105, b.Counters.RxBytes);
        Assert.Equal(6, _tunnelCounters.RxPackets);
        Assert.Equal(Enumerable.Range(100, 6).Sum(), _tunnelCounters.RxBytes);
    }

    /// <summary>Splits the writes of a long run into the segments each carried, checking each write as a super-frame.</summary>
    private static List<int> SegmentsPerWrite(List<byte[]> records, List<byte[]> frames)
    {
        var counts = new List<int>();
        int next = 0;
        foreach (var r in records)
        {
            int hdrLen = GroFrames.HeaderLength(frames[next]);
            int payload = r.Length - 10 - hdrLen, n = 0;
            while (payload > 0 && next + n < frames.Count)
                payload -= frames[next + n++].Length - hdrLen;
            Assert.True(payload == 0, $"write {counts.Count} does not end at a segment boundary");
            if (n == 1)
                Assert.Equal(GroFrames.Plain(frames[next]), r);
            else
                GroFrames.AssertSuperFrame(r, frames.GetRange(next, n));
            counts.Add(n);
            next += n;
        }
        Assert.Equal(frames.Count, next);
        return counts;
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Seventy_segments_of_1000_bytes_split_into_runs_whose_ip_length_stays_within_65535_and_deliver_everything_in_order(bool v6)
    {
        var frames = GroFrames.Run(v6 ? V6 : V4, Enumerable.Repeat(1000, 70).ToArray());
        var s = Session(_tap.WriteFd);
        long bytes = AddAll(s, frames);
        _gro.Flush();
        var records = _tap.Records();

        Assert.True(records.Count >= 2, $"{records.Count} writes");
        var counts = SegmentsPerWrite(records, frames);
        foreach (var r in records)
        {
            int ipLength = v6 ? 40 + BinaryPrimitives.ReadUInt16BigEndian(r.AsSpan(10 + 18)) : BinaryPrimitives.ReadUInt16BigEndian(r.AsSpan(10 + 16));
            Assert.Equal(r.Length - 10 - 14, ipLength);
            Assert.True(r.Length - 10 - 14 <= 65535);
        }
        // The runs are as long as they can be: (65535 - 20 or 40 - 32) / 1000 = 65 segments, then the rest.
        Assert.Equal(new[] { 65, 5 }, counts);
        int hdrLen = GroFrames.HeaderLength(frames[0]);
        Assert.Equal(GroFrames.Stream(GroFrames.Seq(frames[0]), 70000),
            records.SelectMany(r => r[(10 + hdrLen)..]).ToArray());
        Assert.Equal(70, s.Counters.RxPackets);
        Assert.Equal(bytes, s.Counters.RxBytes);
    }

    [Theory]
    [InlineData(483, new[] { 66 })]       // 20 + 32 + 65 * 1000 + 483 = 65535: fits exactly
    [InlineData(484, new[] { 65, 1 })]    // one byte more: the last segment starts a run of its own
    public void An_ipv4_run_grows_to_a_total_length_of_exactly_65535_and_no_further(int last, int[] expected)
    {
        var frames = GroFrames.Run(V4, [.. Enumerable.Repeat(1000, 65), last]);
        var s = Session(_tap.WriteFd);
        AddAll(s, frames);
        _gro.Flush();
        var records = _tap.Records();
        Assert.Equal(expected, SegmentsPerWrite(records, frames));
        Assert.Equal(66, s.Counters.RxPackets);
    }

    [Fact]
    public void A_write_failure_counts_RxErrors_by_the_number_of_segments_held_and_no_RxPackets()
    {
        var s = Session(_tap.WriteFd);
        _tap.CloseReadEnd();   // writes now fail with EPIPE

        AddAll(s, GroFrames.Run(V4, 1000, 1000, 1000, 1000));
        Assert.Equal(0, s.Counters.RxErrors);   // still held
        _gro.Flush();
        Assert.Equal(4, s.Counters.RxErrors);

        _gro.Add(s, GroFrames.Build(V4), 100);   // a lone segment
        _gro.Flush();
        Assert.Equal(5, s.Counters.RxErrors);

        _gro.Add(s, NonIpFrame, 100);            // written at once
        Assert.Equal(6, s.Counters.RxErrors);

        Assert.Equal(0, s.Counters.RxPackets);
        Assert.Equal(0, s.Counters.RxBytes);
        Assert.Equal(0, _tunnelCounters.RxPackets);
        Assert.Equal(0, _tunnelCounters.RxBytes);
    }

    [Fact]
    public unsafe void A_write_failure_on_a_pipe_whose_read_end_is_closed_counts_RxErrors_for_every_merged_segment()
    {
        int* fds = stackalloc int[2];
        Assert.Equal(0, pipe(fds));
        Sys.Close(fds[0]);
        try
        {
            var s = Session(fds[1]);
            AddAll(s, GroFrames.Run(V6, 1000, 1000, 700));
            _gro.Flush();
            Assert.Equal(3, s.Counters.RxErrors);
            Assert.Equal(0, s.Counters.RxPackets);
            Assert.Equal(0, _tunnelCounters.RxPackets);
        }
        finally
        {
            Sys.Close(fds[1]);
        }
    }
}

/// <summary>RxLoop.Deliver with a coalescer: frames for a vnet-header TAP go through it.</summary>
public sealed class RxDeliverGroTests : IDisposable
{
    private readonly RecordTap _tap = new();
    private readonly Counters _tunnelCounters = new();
    private readonly RxCoalescer _gro = new(udp: false);

    public void Dispose()
    {
        _gro.Dispose();
        _tap.Dispose();
    }

    private static readonly TunnelSpec UdpTunnel = TestSpecs.UdpTunnel;
    private static readonly SessionSpec CookieSession = TestSpecs.CookieSession;

    private (TunnelRuntime, SessionRuntime) Make(bool vnet)
    {
        var session = SessionRuntime.Create(UdpTunnel, CookieSession, _tap.WriteFd, -1, new Counters(), _tunnelCounters, vnet);
        var tunnel = new TunnelRuntime
        {
            TunnelId = 100, SocketFd = -1, Encapsulation = Encapsulation.Udp, SkipIpHeader = false,
            Counters = _tunnelCounters, Sessions = new() { [1001] = session },
        };
        return (tunnel, session);
    }

    private static byte[] Packet(byte[] frame) => B("00030000 000003e9 cafef00d 00000000").Concat(frame).ToArray();

    [Fact]
    public void Deliver_with_a_coalescer_holds_tcp_segments_until_Flush_and_counts_them_only_once_written()
    {
        var (tunnel, session) = Make(vnet: true);
        var frames = GroFrames.Run(new GroFrames.Seg(), 1000, 1000, 1000);
        foreach (var f in frames)
            RxLoop.Deliver(tunnel, Packet(f), _gro);

        Assert.Empty(_tap.Records());
        Assert.Equal(0, session.Counters.RxPackets);
        Assert.Equal(0, session.Counters.RxBytes);
        Assert.Equal(0, _tunnelCounters.RxPackets);

        _gro.Flush();
        GroFrames.AssertWrites(_tap.Records(), frames, [0, 1, 2]);
        long bytes = frames.Sum(f => 16L + f.Length);
        Assert.Equal(3, session.Counters.RxPackets);
        Assert.Equal(bytes, session.Counters.RxBytes);
        Assert.Equal(3, _tunnelCounters.RxPackets);
        Assert.Equal(bytes, _tunnelCounters.RxBytes);
        Assert.Equal(0, session.Counters.RxErrors);
    }

    [Fact]
    public void Deliver_with_a_coalescer_to_a_tap_without_vnet_header_writes_the_bare_frame_at_once()
    {
        var (tunnel, session) = Make(vnet: false);
        var frames = GroFrames.Run(new GroFrames.Seg(), 1000, 1000);
        RxLoop.Deliver(tunnel, Packet(frames[0]), _gro);
        RxLoop.Deliver(tunnel, Packet(frames[1]), _gro);
        var records = _tap.Records();
        Assert.Equal(2, records.Count);
        Assert.Equal(frames[0], records[0]);
        Assert.Equal(frames[1], records[1]);
        Assert.Equal(2, session.Counters.RxPackets);
        _gro.Flush();
        Assert.Empty(_tap.Records());
        Assert.Equal(2, session.Counters.RxPackets);
    }
}
