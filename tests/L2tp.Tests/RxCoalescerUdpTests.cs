using System.Buffers.Binary;
using L2tp.Forwarder.Dataplane;
using L2tp.Fuzz;
using L2tp.Protocol;
using Xunit;
using static L2tp.Tests.Hex;

namespace L2tp.Tests;

/// <summary>
/// Hand-built Ethernet + IPv4/IPv6 + UDP datagrams, every checksum from the naive <see cref="Rfc1071"/>, and the kernel's
/// cut of a UDP GSO super-frame (__udp_gso_segment: gso_size bytes each behind a copy of the headers, IPv4 ids on from
/// the first, each datagram's lengths and checksums) written out here independently of the forwarder.
/// </summary>
internal static class UdpFrames
{
    public sealed record Dgram
    {
        public bool V6 { get; init; }
        public int Payload { get; init; } = 18;
        public ushort IpId { get; init; } = 0xfffd;   // a run of a few wraps
        public ushort SrcPort { get; init; } = 50000;
        public ushort DstPort { get; init; } = 5202;
        public byte Ttl { get; init; } = 64;
        public ushort FragField { get; init; } = 0x4000;
        public byte[] IpOptions { get; init; } = [];
        public byte[] Dst { get; init; } = B("c6336402");   // 198.51.100.2
        public byte[] Padding { get; init; } = [];
        public bool ZeroChecksum { get; init; }
        public bool CorruptPayload { get; init; }
        /// <summary>Which datagram of a run it is: its payload bytes differ with it.</summary>
        public int Index { get; init; }
    }

    public static byte[] Build(Dgram d)
    {
        var udp = new byte[8 + d.Payload];
        BinaryPrimitives.WriteUInt16BigEndian(udp, d.SrcPort);
        BinaryPrimitives.WriteUInt16BigEndian(udp.AsSpan(2), d.DstPort);
        BinaryPrimitives.WriteUInt16BigEndian(udp.AsSpan(4), (ushort)udp.Length);
        for (int i = 0; i < d.Payload; i++)
            udp[8 + i] = (byte)(d.Index * 37 + i * 3 + 1);
        byte[] ip;
        if (d.V6)
        {
            ip = Bytes.Concat(B("60012345"), [(byte)(udp.Length >> 8), (byte)udp.Length, 17, d.Ttl],
                B("20010db8000000000000000000000001 20010db8000000010000000000000002"));
        }
        else
        {
            int ihl = 20 + d.IpOptions.Length, total = ihl + udp.Length;
            ip = Bytes.Concat([(byte)(0x40 | ihl / 4), 0, (byte)(total >> 8), (byte)total, (byte)(d.IpId >> 8), (byte)d.IpId,
                (byte)(d.FragField >> 8), (byte)d.FragField, d.Ttl, 17, 0, 0], B("c0000201"), d.Dst, d.IpOptions);
            BinaryPrimitives.WriteUInt16BigEndian(ip.AsSpan(10), Rfc1071.Checksum(ip));
        }
        if (!d.ZeroChecksum)
        {
            ushort c = Rfc1071.Checksum(Bytes.Concat(Pseudo(ip, d.V6, udp.Length), udp));
            BinaryPrimitives.WriteUInt16BigEndian(udp.AsSpan(6), c == 0 ? (ushort)0xffff : c);
        }
        if (d.CorruptPayload)
            udp[^1] ^= 0x40;
        return Bytes.Concat(B("020000000002 020000000001"), d.V6 ? B("86dd") : B("0800"), ip, udp, d.Padding);
    }

    private static byte[] Pseudo(ReadOnlySpan<byte> ip, bool v6, int l4Length) =>
        v6 ? Rfc1071.PseudoV6(ip, 17, l4Length) : Rfc1071.PseudoV4(ip, 17, l4Length);

    /// <summary>Datagrams of one flow with consecutive ids, each payload as given.</summary>
    public static List<byte[]> Run(Dgram first, params int[] payloads) =>
        payloads.Select((p, i) => Build(first with { Payload = p, IpId = (ushort)(first.IpId + i), Index = i })).ToList();

    /// <summary>
    /// Checks one write as a UDP GSO super-frame of the datagrams: the vnet header, the lengths and partial checksum of
    /// the whole, and the kernel's cut giving back each datagram byte for byte.
    /// </summary>
    public static void AssertSuperFrame(byte[] record, IReadOnlyList<byte[]> datagrams)
    {
        var first = datagrams[0];
        bool v6 = first[12] == 0x86;
        int udp = v6 ? 54 : 34, hdrLen = udp + 8, gsoSize = first.Length - hdrLen;
        int length = hdrLen + datagrams.Sum(d => d.Length - hdrLen);
        Assert.True(record.Length == 10 + length, $"write of {record.Length} bytes, expected 10 + {length}");
        // virtio_net_hdr: NEEDS_CSUM, GSO_UDP_L4 (5), hdr_len, gso_size, csum_start, csum_offset (little-endian u16s).
        Assert.Equal(Bytes.Concat([1, 5], Le(hdrLen), Le(gsoSize), Le(udp), Le(6)), record[..10]);
        var super = record[10..];
        var ip = super.AsSpan(14, udp - 14);
        if (v6)
            Assert.Equal(length - 54, BinaryPrimitives.ReadUInt16BigEndian(super.AsSpan(18)));
        else
        {
            Assert.Equal(length - 14, BinaryPrimitives.ReadUInt16BigEndian(super.AsSpan(16)));
            Assert.True(Rfc1071.Verifies(ip), "IPv4 header checksum of the super-frame");
        }
        Assert.Equal(length - udp, BinaryPrimitives.ReadUInt16BigEndian(super.AsSpan(udp + 4)));
        Assert.Equal(Rfc1071.Sum(Pseudo(ip, v6, length - udp)), BinaryPrimitives.ReadUInt16BigEndian(super.AsSpan(udp + 6)));

        ushort id = BinaryPrimitives.ReadUInt16BigEndian(super.AsSpan(18));
        int at = hdrLen;
        for (int k = 0; k < datagrams.Count; k++)
        {
            int size = Math.Min(gsoSize, length - at);
            var cut = Bytes.Concat(super[..hdrLen], super[at..(at + size)]);
            at += size;
            var cutIp = cut.AsSpan(14, udp - 14);
            if (v6)
                BinaryPrimitives.WriteUInt16BigEndian(cutIp[4..], (ushort)(8 + size));
            else
            {
                BinaryPrimitives.WriteUInt16BigEndian(cutIp[2..], (ushort)(28 + size));
                BinaryPrimitives.WriteUInt16BigEndian(cutIp[4..], (ushort)(id + k));
                cutIp[10] = cutIp[11] = 0;
                BinaryPrimitives.WriteUInt16BigEndian(cutIp[10..], Rfc1071.Checksum(cutIp));
            }
            BinaryPrimitives.WriteUInt16BigEndian(cut.AsSpan(udp + 4), (ushort)(8 + size));
            cut[udp + 6] = cut[udp + 7] = 0;
            ushort c = Rfc1071.Checksum(Bytes.Concat(Pseudo(cutIp, v6, 8 + size), cut[udp..]));
            BinaryPrimitives.WriteUInt16BigEndian(cut.AsSpan(udp + 6), c == 0 ? (ushort)0xffff : c);
            Assert.True(datagrams[k].AsSpan().SequenceEqual(cut), $"the cut's datagram {k} is not the one that went in");
        }
        Assert.Equal(length, at);
    }

    private static byte[] Le(int v) => [(byte)v, (byte)(v >> 8)];

    /// <summary>Checks the writes against groups of datagram indexes: a group of one is a plain write, more a super-frame.</summary>
    public static void AssertWrites(List<byte[]> records, IReadOnlyList<byte[]> frames, params int[][] groups)
    {
        Assert.True(groups.Length == records.Count,
            $"expected {groups.Length} writes, got {records.Count}: lengths [{string.Join(", ", records.Select(r => r.Length))}]");
        for (int i = 0; i < groups.Length; i++)
        {
            if (groups[i].Length == 1)
                Assert.True(GroFrames.Plain(frames[groups[i][0]]).AsSpan().SequenceEqual(records[i]), $"write {i} is frame {groups[i][0]} as it came");
            else
                AssertSuperFrame(records[i], groups[i].Select(j => frames[j]).ToList());
        }
    }
}

/// <summary>RxCoalescer joining runs of UDP datagrams into UDP GSO super-frames (and leaving alone what must not join).</summary>
public sealed class RxCoalescerUdpTests : IDisposable
{
    private readonly RecordTap _tap = new();
    private readonly Counters _tunnelCounters = new();
    private readonly RxCoalescer _gro = new(udp: true);

    public void Dispose()
    {
        _gro.Dispose();
        _tap.Dispose();
    }

    private SessionRuntime Session() =>
        SessionRuntime.Create(TestSpecs.UdpTunnel, TestSpecs.CookieSession, _tap.WriteFd, -1, new Counters(), _tunnelCounters, tapVnetHeader: true);

    private static readonly UdpFrames.Dgram V4 = new();
    private static readonly UdpFrames.Dgram V6 = new() { V6 = true };

    private static List<int[]> Groups(params int[][] g) => g.ToList();

    [Theory]
    [InlineData(false, 18)]
    [InlineData(true, 18)]
    [InlineData(false, 1400)]
    [InlineData(true, 1000)]
    public void Ten_equal_datagrams_and_a_shorter_last_become_one_udp_gso_super_frame_that_the_kernels_cut_gives_back_byte_for_byte(bool v6, int size)
    {
        int[] payloads = [.. Enumerable.Repeat(size, 10), 7];
        var frames = UdpFrames.Run(v6 ? V6 : V4, payloads);
        var s = Session();
        long bytes = 0;
        for (int i = 0; i < frames.Count; i++)
        {
            _gro.Add(s, frames[i], 16 + frames[i].Length + i);
            bytes += 16 + frames[i].Length + i;
        }
        Assert.Empty(_tap.Records());   // held until the batch ends
        _gro.Flush();
        UdpFrames.AssertWrites(_tap.Records(), frames, [.. Enumerable.Range(0, 11)]);
        Assert.Equal(11, s.Counters.RxPackets);
        Assert.Equal(bytes, s.Counters.RxBytes);
        Assert.Equal(11, _tunnelCounters.RxPackets);
        Assert.Equal(0, s.Counters.RxErrors);
    }

    public static TheoryData<string> NotJoined => new()
    {
        "ipv4 id not one on", "another source port", "another destination address", "longer than the first",
        "ttl differs", "more fragments", "ip options", "ethernet padding", "no payload", "zero checksum",
        "checksum does not verify", "ipv4 then ipv6",
    };

    [Theory]
    [MemberData(nameof(NotJoined))]
    public void Datagrams_that_must_not_join_are_written_separately_and_intact_in_the_order_they_came(string what)
    {
        var a = UdpFrames.Build(V4);
        var next = V4 with { IpId = (ushort)(V4.IpId + 1), Index = 1 };
        var b = UdpFrames.Build(what switch
        {
            "ipv4 id not one on" => next with { IpId = (ushort)(V4.IpId + 2) },
            "another source port" => next with { SrcPort = 50001 },
            "another destination address" => next with { Dst = B("c6336403") },
            "longer than the first" => next with { Payload = 19 },
            "ttl differs" => next with { Ttl = 63 },
            "more fragments" => next with { FragField = 0x2000 },
            "ip options" => next with { IpOptions = B("01010101") },
            "ethernet padding" => next with { Padding = B("0000") },
            "no payload" => next with { Payload = 0 },
            "zero checksum" => next with { ZeroChecksum = true },
            "checksum does not verify" => next with { CorruptPayload = true },
            "ipv4 then ipv6" => next with { V6 = true },
            _ => throw new ArgumentException(what),
        });
        var s = Session();
        _gro.Add(s, a, 100);
        _gro.Add(s, b, 100);
        _gro.Flush();
        UdpFrames.AssertWrites(_tap.Records(), [a, b], [0], [1]);
        Assert.Equal(2, s.Counters.RxPackets);
    }

    [Fact]
    public void Two_datagrams_that_do_join_a_control_for_the_cases_that_must_not()
    {
        var frames = UdpFrames.Run(V4, 18, 18);
        var s = Session();
        _gro.Add(s, frames[0], 100);
        _gro.Add(s, frames[1], 100);
        _gro.Flush();
        UdpFrames.AssertWrites(_tap.Records(), frames, [0, 1]);
    }

    [Fact]
    public void A_shorter_datagram_closes_the_run_and_the_next_starts_a_new_one()
    {
        var frames = UdpFrames.Run(V4, 100, 100, 50, 100, 100);
        var s = Session();
        foreach (var f in frames)
            _gro.Add(s, f, 100);
        _gro.Flush();
        UdpFrames.AssertWrites(_tap.Records(), frames, [0, 1, 2], [3, 4]);
    }

    [Fact]
    public void Seventy_datagrams_split_into_a_run_of_sixty_four_and_one_of_six()
    {
        var frames = UdpFrames.Run(V6, [.. Enumerable.Repeat(18, 70)]);
        var s = Session();
        foreach (var f in frames)
            _gro.Add(s, f, 100);
        _gro.Flush();
        UdpFrames.AssertWrites(_tap.Records(), frames, [.. Enumerable.Range(0, 64)], [.. Enumerable.Range(64, 6)]);
        Assert.Equal(70, s.Counters.RxPackets);
    }

    [Fact]
    public void A_tcp_segment_after_a_udp_run_flushes_the_run_and_is_written_after_it()
    {
        var frames = UdpFrames.Run(V4, 18, 18, 18);
        var tcp = GroFrames.Build(new GroFrames.Seg());
        var s = Session();
        foreach (var f in frames)
            _gro.Add(s, f, 100);
        _gro.Add(s, tcp, 100);
        _gro.Flush();
        var records = _tap.Records();
        Assert.Equal(2, records.Count);
        UdpFrames.AssertSuperFrame(records[0], frames);
        Assert.Equal(GroFrames.Plain(tcp), records[1]);
    }

    [Fact]
    public void With_udp_runs_off_every_datagram_is_written_alone()
    {
        using var gro = new RxCoalescer(udp: false);
        var frames = UdpFrames.Run(V4, 18, 18, 18);
        var s = Session();
        foreach (var f in frames)
            gro.Add(s, f, 100);
        gro.Flush();
        UdpFrames.AssertWrites(_tap.Records(), frames, [0], [1], [2]);
    }
}
