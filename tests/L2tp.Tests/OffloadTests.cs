using System.Buffers.Binary;
using System.Net;
using L2tp.Forwarder.Dataplane;
using L2tp.Protocol;
using Xunit;
using static L2tp.Tests.Hex;

namespace L2tp.Tests;

/// <summary>
/// A deliberately naive RFC 1071 Internet checksum, independent of <see cref="InetChecksum"/>: big-endian 16-bit
/// words one at a time, an odd last byte padded with a zero byte, the carry folded back after every addition.
/// </summary>
internal static class Rfc1071
{
    /// <summary>The folded one's-complement sum (not complemented).</summary>
    public static ushort Sum(ReadOnlySpan<byte> data, uint start = 0)
    {
        uint s = start;
        for (int i = 0; i < data.Length; i += 2)
        {
            uint word = (uint)data[i] << 8 | (i + 1 < data.Length ? data[i + 1] : 0u);
            s += word;
            while (s > 0xffff)
                s = (s & 0xffff) + (s >> 16);
        }
        return (ushort)s;
    }

    /// <summary>The checksum to store: the complemented sum (0 when the sum is 0xffff; callers map that as they need).</summary>
    public static ushort Checksum(ReadOnlySpan<byte> data) => (ushort)~Sum(data);

    /// <summary>What a receiver checks: data with its checksum field included sums to all ones.</summary>
    public static bool Verifies(ReadOnlySpan<byte> data) => Sum(data) == 0xffff;

    /// <summary>The RFC 793 pseudo-header bytes for an IPv4 header at ip.</summary>
    public static byte[] PseudoV4(ReadOnlySpan<byte> ip, byte protocol, int l4Length)
    {
        var p = new byte[12];
        ip.Slice(12, 8).CopyTo(p);
        p[9] = protocol;
        p[10] = (byte)(l4Length >> 8);
        p[11] = (byte)l4Length;
        return p;
    }

    /// <summary>The RFC 8200 section 8.1 pseudo-header bytes for an IPv6 header at ip.</summary>
    public static byte[] PseudoV6(ReadOnlySpan<byte> ip, byte protocol, int l4Length)
    {
        var p = new byte[40];
        ip.Slice(8, 32).CopyTo(p);
        p[32] = (byte)(l4Length >> 24);
        p[33] = (byte)(l4Length >> 16);
        p[34] = (byte)(l4Length >> 8);
        p[35] = (byte)l4Length;
        p[39] = protocol;
        return p;
    }
}

/// <summary>InetChecksum against the naive reference, and the VnetHdr layout.</summary>
public sealed class InetChecksumTests
{
    /// <summary>The stored form of a naive checksum: InetChecksum never stores 0, it stores 0xffff (the other zero).</summary>
    /// <summary>What UDP stores for a computed checksum: 0 is "none", so 0 goes out as 0xffff.</summary>
    private static ushort StoredUdp(ushort naive) => naive == 0 ? (ushort)0xffff : naive;
    private static ushort Stored(ushort naive) => naive;

    private static IEnumerable<int> Lengths()
    {
        foreach (int n in new[] { 0, 1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 32, 33, 39, 40, 41, 63, 64, 65, 1499, 1500, 2999, 3000 })
            yield return n;
        var rng = new Random(1071);
        for (int i = 0; i < 400; i++)
            yield return rng.Next(0, 3001);
    }

    [Fact]
    public void Checksum_matches_the_naive_rfc1071_reference_for_random_data_of_every_kind_of_length()
    {
        var rng = new Random(20240601);
        int odd = 0;
        foreach (int n in Lengths())
        {
            // One byte in, so the 8-byte reads are unaligned in memory (the offset within the summed whole is still 0).
            var buffer = new byte[n + 1];
            rng.NextBytes(buffer);
            var data = buffer.AsSpan(1, n);
            odd += n & 1;

            ushort expected = Stored(Rfc1071.Checksum(data));
            Assert.True(expected == InetChecksum.Finish(InetChecksum.Add(data, 0)), $"length {n}: expected {expected:x4}");
        }
        Assert.True(odd > 100, "the random lengths include many odd ones");
    }

    [Fact]
    public void Checksum_summed_in_two_pieces_split_at_an_even_offset_equals_the_naive_checksum_of_the_whole()
    {
        var rng = new Random(793);
        foreach (int n in Lengths())
        {
            var data = new byte[n];
            rng.NextBytes(data);
            int split = rng.Next(0, n / 2 + 1) * 2;   // even, 0..n (n itself when n is even)
            ulong sum = InetChecksum.Add(data.AsSpan(0, split), 0);
            sum = InetChecksum.Add(data.AsSpan(split), sum);

            ushort expected = Stored(Rfc1071.Checksum(data));
            Assert.True(expected == InetChecksum.Finish(sum), $"length {n} split at {split}: expected {expected:x4}");
        }
    }

    [Fact]
    public void Checksum_of_all_ones_data_with_many_carries_matches_the_reference()
    {
        foreach (int n in new[] { 1, 2, 3, 8, 9, 3000, 3001, 65535 })
        {
            var data = Enumerable.Repeat((byte)0xff, n).ToArray();
            Assert.Equal(Stored(Rfc1071.Checksum(data)), InetChecksum.Finish(InetChecksum.Add(data, 0)));
        }
    }

    [Fact]
    public void Ipv4_header_checksum_equals_the_hand_computed_value_and_the_stored_header_verifies()
    {
        // 4500 0054 1c46 4000 4001 [0000] c000 0201 c633 6402   (ICMP, 192.0.2.1 -> 198.51.100.2, checksum zeroed)
        //   4500 + 0054 = 4554;  + 1c46 = 619a;  + 4000 = a19a;  + 4001 = e19b;  + 0000 = e19b
        //   + c000 = 1a19b;  + 0201 = 1a39c;  + c633 = 269cf;  + 6402 = 2cdd1
        //   fold: cdd1 + 2 = cdd3;  complement: ~cdd3 = 322c
        var header = B("4500 0054 1c46 4000 4001 0000 c000 0201 c633 6402");
        ushort c = InetChecksum.Finish(InetChecksum.Add(header, 0));
        Assert.Equal(0x322c, c);

        BinaryPrimitives.WriteUInt16BigEndian(header.AsSpan(10), c);
        Assert.Equal(B("4500 0054 1c46 4000 4001 322c c000 0201 c633 6402"), header);
        Assert.True(InetChecksum.Verifies(InetChecksum.Add(header, 0)));
        Assert.True(Rfc1071.Verifies(header));

        header[19] ^= 0x01;   // one flipped bit is noticed
        Assert.False(InetChecksum.Verifies(InetChecksum.Add(header, 0)));
    }

    [Fact]
    public void Finish_gives_0_for_an_all_ones_sum_and_FinishUdp_gives_0xffff()
    {
        // 0x1234 + 0xedcb = 0xffff: the complement is 0. TCP and IP store that 0 (0xffff is illegal for TCP to
        // Wireshark); UDP reserves 0 for "no checksum" and stores 0xffff.
        Assert.Equal(0xffff, Rfc1071.Sum(B("1234 edcb")));
        Assert.Equal(0, Rfc1071.Checksum(B("1234 edcb")));
        Assert.Equal(0, InetChecksum.Finish(InetChecksum.Add(B("1234 edcb"), 0)));
        Assert.Equal(0xffff, InetChecksum.FinishUdp(InetChecksum.Add(B("1234 edcb"), 0)));
        Assert.Equal(0, InetChecksum.Finish(InetChecksum.Add(B("ffff"), 0)));
        Assert.Equal(0xffff, InetChecksum.FinishUdp(InetChecksum.Add(B("ffff"), 0)));
        // 0x8000 + 0x8000 = 0x10000, folded 0x0001; + 0xfffe = 0xffff: the all-ones sum reached through a carry.
        Assert.Equal(0xffff, Rfc1071.Sum(B("8000 8000 fffe")));
        Assert.Equal(0, InetChecksum.Finish(InetChecksum.Add(B("8000 8000 fffe"), 0)));
        Assert.Equal(0xffff, InetChecksum.FinishUdp(InetChecksum.Add(B("8000 8000 fffe"), 0)));
    }

    [Fact]
    public void Finish_of_every_single_word_is_its_complement_and_FinishUdp_differs_only_for_all_ones()
    {
        var word = new byte[2];
        for (int w = 0; w <= 0xffff; w++)
        {
            word[0] = (byte)(w >> 8);
            word[1] = (byte)w;
            ushort c = InetChecksum.Finish(InetChecksum.Add(word, 0));
            ushort u = InetChecksum.FinishUdp(InetChecksum.Add(word, 0));
            if (c != (ushort)~w)
                Assert.Fail($"word {w:x4}: expected {(ushort)~w:x4}, got {c:x4}");
            if (u != (w == 0xffff ? (ushort)0xffff : (ushort)~w))
                Assert.Fail($"word {w:x4}: FinishUdp gave {u:x4}");
        }
    }

    [Fact]
    public void AddWord_adds_a_network_order_value_as_the_big_endian_word_it_stands_for()
    {
        Assert.Equal(Stored(Rfc1071.Checksum(B("1234"))), InetChecksum.Finish(InetChecksum.AddWord(0, 0x1234)));
        ulong sum = InetChecksum.AddWord(InetChecksum.Add(B("c0000201 c6336402"), 0), 0x0011);
        sum = InetChecksum.AddWord(sum, 0x05dc);
        Assert.Equal(Stored(Rfc1071.Checksum(B("c0000201 c6336402 0011 05dc"))), InetChecksum.Finish(sum));
    }

    [Fact]
    public void PseudoHeader_sums_what_the_rfc_pseudo_header_bytes_sum_to_for_ipv4_and_ipv6_including_a_jumbo_length()
    {
        var v4 = B("4500 0054 1c46 4000 4006 0000 c0000201 c6336402");
        Assert.Equal(Stored(Rfc1071.Checksum(Rfc1071.PseudoV4(v4, 6, 1480))),
            InetChecksum.Finish(InetChecksum.PseudoHeader(v4, false, 6, 1480)));

        var v6 = B("60000000 0000 1140 20010db8000000000000000000000001 20010db8000000010000000000000002");
        foreach (int length in new[] { 8, 1460, 65535, 0x12345 })
            Assert.Equal(Stored(Rfc1071.Checksum(Rfc1071.PseudoV6(v6, 17, length))),
                InetChecksum.Finish(InetChecksum.PseudoHeader(v6, true, 17, length)));
    }

    [Fact]
    public void VnetHdr_reads_and_writes_the_little_endian_layout_of_virtio_net_hdr()
    {
        // flags, gso_type, hdr_len, gso_size, csum_start, csum_offset (u16 little-endian each)
        var bytes = B("01 04 | 4201 | a805 | 2201 | 1000");
        var h = VnetHdr.Read(bytes);
        Assert.Equal(VnetHdr.FlagNeedsCsum, h.Flags);
        Assert.Equal(VnetHdr.GsoTcpV6, h.GsoType);
        Assert.Equal(0x0142, h.HdrLen);
        Assert.Equal(0x05a8, h.GsoSize);
        Assert.Equal(0x0122, h.CsumStart);
        Assert.Equal(0x0010, h.CsumOffset);

        var written = new byte[VnetHdr.Size];
        h.Write(written);
        Assert.Equal(bytes, written);

        var built = new byte[VnetHdr.Size + 2];
        built[^1] = built[^2] = 0xee;
        new VnetHdr(VnetHdr.FlagDataValid, VnetHdr.GsoTcpV4 | VnetHdr.GsoEcn, 0x0036, 0xfedc, 0x1122, 0x3344).Write(built);
        Assert.Equal(B("02 81 3600 dcfe 2211 4433 eeee"), built);   // and nothing past the 10 bytes

        var back = VnetHdr.Read(built);
        Assert.Equal((VnetHdr.FlagDataValid, (byte)0x81, (ushort)0x36, (ushort)0xfedc, (ushort)0x1122, (ushort)0x3344),
            (back.Flags, back.GsoType, back.HdrLen, back.GsoSize, back.CsumStart, back.CsumOffset));
        Assert.Equal(10, VnetHdr.Size);
    }
}

/// <summary>Software TSO (TryParseTcp, WriteSegment) and checksum completion, checked against the naive reference.</summary>
public sealed class TxOffloadTests
{
    private const byte Fin = 0x01, Psh = 0x08, Ack = 0x10, Ece = 0x40, Cwr = 0x80;
    private const ushort OriginalId = 0xfffe;        // wraps during segmentation
    private const uint OriginalSeq = 0xfffff800;     // wraps during segmentation
    private const int TcpHeader = 32;                // doff 8: 20 bytes + 12 of options

    private static readonly byte[] Macs = B("020000000002 020000000001");
    private static readonly byte[] Ipv4Addresses = B("c0000201 c6336402");   // 192.0.2.1 -> 198.51.100.2
    private static readonly byte[] Ipv6Addresses =
        B("20010db8000000000000000000000001 20010db8000000010000000000000002");   // 2001:db8::1 -> 2001:db8:0:1::2
    private static readonly byte[] TcpOptions = B("0101 080a 11223344 55667788");   // NOP NOP timestamps

    private static byte[] Payload(int n)
    {
        var p = new byte[n];
        new Random(n).NextBytes(p);
        return p;
    }

    private static byte[] Tcp(byte flags = Cwr | Ece | Ack | Psh | Fin) =>
        Bytes.Concat(
            B("c350 1389"),                                    // ports 50000 -> 5001
            BitConverter.IsLittleEndian ? BitConverter.GetBytes(BinaryPrimitives.ReverseEndianness(OriginalSeq)) : BitConverter.GetBytes(OriginalSeq),
            B("01020304"),                                     // ack
            [0x80, flags],                                     // doff 8
            B("0200 beef 0000"),                               // window, checksum as the stack left it, urgent pointer
            TcpOptions);

    /// <summary>Ethernet (optionally with tags) + IPv4 (DF, id 0xfffe, a stale checksum) + TCP with options + payload.</summary>
    private static byte[] Ipv4Frame(byte[] payload, byte[]? tags = null, byte protocol = 6, byte flags = Cwr | Ece | Ack | Psh | Fin)
    {
        int total = 20 + TcpHeader + payload.Length;
        var ip = Bytes.Concat([0x45, 0x00, (byte)(total >> 8), (byte)total, OriginalId >> 8, OriginalId & 0xff,
            0x40, 0x00, 0x40, protocol, 0xde, 0xad], Ipv4Addresses);
        return Bytes.Concat(Macs, tags ?? [], B("0800"), ip, Tcp(flags), payload);
    }

    /// <summary>Ethernet + IPv6 (traffic class and flow label set) + TCP with options + payload.</summary>
    private static byte[] Ipv6Frame(byte[] payload, byte nextHeader = 6)
    {
        int plen = TcpHeader + payload.Length;
        var ip = Bytes.Concat(B("6a0bcdef"), [(byte)(plen >> 8), (byte)plen, nextHeader, 0x40], Ipv6Addresses);
        return Bytes.Concat(Macs, B("86dd"), ip, Tcp(), payload);
    }

    private static VnetHdr Gso(byte type, int mss, int hdrLen = 0) =>
        new(VnetHdr.FlagNeedsCsum, type, (ushort)hdrLen, (ushort)mss, 0, 16);

    /// <summary>Segments a super-frame and checks every segment against the naive reference; returns the segments.</summary>
    private static List<byte[]> AssertSegments(byte[] super, VnetHdr h, int ipOffset, bool v6, int[] payloadLengths)
    {
        int tcpOffset = ipOffset + (v6 ? 40 : 20);
        int hdrLen = tcpOffset + TcpHeader;
        int mss = h.GsoSize;
        Assert.True(TxOffload.TryParseTcp(super, h, out var f));
        Assert.Equal(ipOffset, f.IpOffset);
        Assert.Equal(v6, f.IPv6);
        Assert.Equal(tcpOffset, f.TcpOffset);
        Assert.Equal(hdrLen, f.HeaderLength);
        Assert.Equal(super.Length - hdrLen, f.PayloadLength);
        Assert.Equal(payloadLengths.Length, f.Segments);

        byte originalFlags = super[tcpOffset + 13];
        var segments = new List<byte[]>();
        var payloads = new List<byte>();
        for (int i = 0; i < f.Segments; i++)
        {
            var dst = new byte[hdrLen + mss + 64];
            Array.Fill(dst, (byte)0xa5);
            int length = TxOffload.WriteSegment(super, f, i, dst);
            Assert.Equal(hdrLen + payloadLengths[i], length);
            var seg = dst[..length];
            segments.Add(seg);
            var ip = seg.AsSpan(ipOffset, tcpOffset - ipOffset);
            var tcp = seg.AsSpan(tcpOffset);

            if (v6)
            {
                Assert.Equal(length - ipOffset - 40, BinaryPrimitives.ReadUInt16BigEndian(ip[4..]));
            }
            else
            {
                Assert.Equal(length - ipOffset, BinaryPrimitives.ReadUInt16BigEndian(ip[2..]));
                Assert.Equal(unchecked((ushort)(OriginalId + i)), BinaryPrimitives.ReadUInt16BigEndian(ip[4..]));
                Assert.True(Rfc1071.Verifies(ip), $"segment {i}: IPv4 header checksum");
            }

            Assert.Equal(unchecked(OriginalSeq + (uint)(i * mss)), BinaryPrimitives.ReadUInt32BigEndian(tcp[4..]));
            byte flags = originalFlags;
            if (i != f.Segments - 1)
                flags &= unchecked((byte)~(Fin | Psh));
            if (i != 0)
                flags &= unchecked((byte)~Cwr);
            Assert.Equal(flags, tcp[13]);

            var pseudo = v6 ? Rfc1071.PseudoV6(ip, 6, tcp.Length) : Rfc1071.PseudoV4(ip, 6, tcp.Length);
            Assert.True(Rfc1071.Verifies(Bytes.Concat(pseudo, tcp.ToArray())), $"segment {i}: TCP checksum");

            // Everything in the headers but the fields a TSO rewrites is the super-frame's, options included.
            var expectedHeader = super[..hdrLen];
            var actualHeader = seg[..hdrLen];
            foreach (var a in new[] { expectedHeader, actualHeader })
            {
                if (v6)
                    a.AsSpan(ipOffset + 4, 2).Clear();
                else
                {
                    a.AsSpan(ipOffset + 2, 4).Clear();    // total length, id
                    a.AsSpan(ipOffset + 10, 2).Clear();   // header checksum
                }
                a.AsSpan(tcpOffset + 4, 4).Clear();       // sequence
                a[tcpOffset + 13] = 0;                    // flags
                a.AsSpan(tcpOffset + 16, 2).Clear();      // checksum
            }
            Assert.Equal(expectedHeader, actualHeader);
            Assert.Equal(TcpOptions, seg[(tcpOffset + 20)..hdrLen]);
            payloads.AddRange(seg[hdrLen..]);
        }
        Assert.Equal(super[hdrLen..], payloads.ToArray());
        return segments;
    }

    private static byte[] Flags(List<byte[]> segments, int tcpOffset) => segments.Select(s => s[tcpOffset + 13]).ToArray();

    [Fact]
    public void Ipv4_tcp_super_frame_with_options_becomes_four_whole_segments_with_lengths_ids_seqs_flags_and_checksums_set()
    {
        var super = Ipv4Frame(Payload(3500));
        Assert.Equal(14 + 20 + 32 + 3500, super.Length);
        var segments = AssertSegments(super, Gso(VnetHdr.GsoTcpV4, 1000, 66), 14, false, [1000, 1000, 1000, 500]);

        Assert.Equal(new[] { 1066, 1066, 1066, 566 }, segments.Select(s => s.Length));
        Assert.Equal(new[] { 1052, 1052, 1052, 552 }, segments.Select(s => (int)BinaryPrimitives.ReadUInt16BigEndian(s.AsSpan(16))));
        Assert.Equal(new ushort[] { 0xfffe, 0xffff, 0x0000, 0x0001 }, segments.Select(s => BinaryPrimitives.ReadUInt16BigEndian(s.AsSpan(18))));
        Assert.Equal(new uint[] { 0xfffff800, 0xfffffbe8, 0xffffffd0, 0x000003b8 },
            segments.Select(s => BinaryPrimitives.ReadUInt32BigEndian(s.AsSpan(34 + 4))));
        // CWR only on the first, PSH and FIN only on the last; ACK and ECE on all.
        Assert.Equal(new byte[] { Cwr | Ece | Ack, Ece | Ack, Ece | Ack, Ece | Ack | Psh | Fin }, Flags(segments, 34));
    }

    [Fact]
    public void Ipv6_tcp_super_frame_becomes_segments_with_payload_length_set_and_checksums_over_the_ipv6_pseudo_header()
    {
        var super = Ipv6Frame(Payload(3333));   // an odd last segment: the checksum pads its last byte
        var segments = AssertSegments(super, Gso(VnetHdr.GsoTcpV6, 1000), 14, true, [1000, 1000, 1000, 333]);

        Assert.Equal(new[] { 1032, 1032, 1032, 365 }, segments.Select(s => (int)BinaryPrimitives.ReadUInt16BigEndian(s.AsSpan(18))));
        Assert.Equal(new byte[] { Cwr | Ece | Ack, Ece | Ack, Ece | Ack, Ece | Ack | Psh | Fin }, Flags(segments, 54));
        // The flow label and traffic class travel unchanged on every segment.
        Assert.All(segments, s => Assert.Equal(B("6a0bcdef"), s[14..18]));
    }

    [Fact]
    public void Vlan_tagged_ipv4_super_frame_parses_with_the_ip_header_at_18_and_segments_correctly()
    {
        var super = Ipv4Frame(Payload(2900), tags: B("8100 0064"));   // VID 100
        var segments = AssertSegments(super, Gso(VnetHdr.GsoTcpV4, 1448), 18, false, [1448, 1448, 4]);
        Assert.All(segments, s => Assert.Equal(B("8100 0064 0800"), s[12..18]));
    }

    [Fact]
    public void Double_tagged_qinq_ipv4_super_frame_parses_with_the_ip_header_at_22()
    {
        var super = Ipv4Frame(Payload(1500), tags: B("88a8 00c8 8100 0064"));
        AssertSegments(super, Gso(VnetHdr.GsoTcpV4, 1000), 22, false, [1000, 500]);
    }

    [Theory]
    [InlineData(1, 1000, new[] { 1 })]
    [InlineData(1000, 1000, new[] { 1000 })]
    [InlineData(1001, 1000, new[] { 1000, 1 })]
    [InlineData(3000, 1000, new[] { 1000, 1000, 1000 })]
    public void Ipv4_super_frame_divides_into_mss_sized_segments_with_the_remainder_last(int payload, int mss, int[] expected)
    {
        Assert.Equal(payload, expected.Sum());
        AssertSegments(Ipv4Frame(Payload(payload)), Gso(VnetHdr.GsoTcpV4, mss), 14, false, expected);
    }

    [Fact]
    public void Ipv4_super_frame_near_64k_divides_into_44_full_segments_and_a_1288_byte_remainder()
    {
        // 65000 = 44 * 1448 + 1288
        int[] expected = [.. Enumerable.Repeat(1448, 44), 1288];
        AssertSegments(Ipv4Frame(Payload(65000)), Gso(VnetHdr.GsoTcpV4, 1448), 14, false, expected);
    }

    [Fact]
    public void Single_segment_super_frame_keeps_cwr_psh_and_fin_together()
    {
        var segments = AssertSegments(Ipv4Frame(Payload(700)), Gso(VnetHdr.GsoTcpV4, 1000), 14, false, [700]);
        Assert.Equal(new byte[] { Cwr | Ece | Ack | Psh | Fin }, Flags(segments, 34));
    }

    [Fact]
    public void Ecn_bit_in_the_gso_type_is_accepted_for_ipv4_and_ipv6()
    {
        AssertSegments(Ipv4Frame(Payload(2000)), Gso(VnetHdr.GsoTcpV4 | VnetHdr.GsoEcn, 1000), 14, false, [1000, 1000]);
        AssertSegments(Ipv6Frame(Payload(2000)), Gso(VnetHdr.GsoTcpV6 | VnetHdr.GsoEcn, 1000), 14, true, [1000, 1000]);
    }

    public static TheoryData<string> Refused => new()
    {
        "gso size 0", "gso type none", "gso type udp (3)", "ipv4 protocol udp", "ipv4 gso type on an ipv6 frame",
        "ipv6 gso type on an ipv4 frame", "ipv6 next header udp", "ipv4 version nibble 6", "ipv4 ihl below 5",
        "truncated inside the tcp header", "truncated inside the tcp options", "truncated inside the ip header",
        "truncated inside the vlan tag", "no payload", "shorter than ethernet", "doff below 5",
    };

    [Theory]
    [MemberData(nameof(Refused))]
    public void TryParseTcp_refuses_frames_that_are_not_the_tcp_its_gso_type_says(string what)
    {
        var v4 = Ipv4Frame(Payload(3000));
        var v6 = Ipv6Frame(Payload(3000));
        var (frame, h) = what switch
        {
            "gso size 0" => (v4, Gso(VnetHdr.GsoTcpV4, 0)),
            "gso type none" => (v4, Gso(VnetHdr.GsoNone, 1000)),
            "gso type udp (3)" => (v4, Gso(3, 1000)),
            "ipv4 protocol udp" => (Ipv4Frame(Payload(3000), protocol: 17), Gso(VnetHdr.GsoTcpV4, 1000)),
            "ipv4 gso type on an ipv6 frame" => (v6, Gso(VnetHdr.GsoTcpV4, 1000)),
            "ipv6 gso type on an ipv4 frame" => (v4, Gso(VnetHdr.GsoTcpV6, 1000)),
            "ipv6 next header udp" => (Ipv6Frame(Payload(3000), nextHeader: 17), Gso(VnetHdr.GsoTcpV6, 1000)),
            "ipv4 version nibble 6" => (Patch(v4, 14, 0x65), Gso(VnetHdr.GsoTcpV4, 1000)),
            "ipv4 ihl below 5" => (Patch(v4, 14, 0x44), Gso(VnetHdr.GsoTcpV4, 1000)),
            "truncated inside the tcp header" => (v4[..(34 + 10)], Gso(VnetHdr.GsoTcpV4, 1000)),
            "truncated inside the tcp options" => (v4[..(34 + 24)], Gso(VnetHdr.GsoTcpV4, 1000)),
            "truncated inside the ip header" => (v4[..30], Gso(VnetHdr.GsoTcpV4, 1000)),
            "truncated inside the vlan tag" => (Ipv4Frame(Payload(3000), tags: B("8100 0064"))[..15], Gso(VnetHdr.GsoTcpV4, 1000)),
            "no payload" => (v4[..(34 + TcpHeader)], Gso(VnetHdr.GsoTcpV4, 1000)),
            "shorter than ethernet" => (v4[..13], Gso(VnetHdr.GsoTcpV4, 1000)),
            "doff below 5" => (Patch(v4, 34 + 12, 0x40), Gso(VnetHdr.GsoTcpV4, 1000)),
            _ => throw new ArgumentException(what),
        };
        Assert.False(TxOffload.TryParseTcp(frame, h, out _), what);
    }

    private static byte[] Patch(byte[] frame, int at, byte value)
    {
        var copy = (byte[])frame.Clone();
        copy[at] = value;
        return copy;
    }

    [Fact]
    public void TryParseTcp_accepts_the_smallest_frame_with_one_byte_of_payload()
    {
        var frame = Ipv4Frame(Payload(1));
        Assert.True(TxOffload.TryParseTcp(frame, Gso(VnetHdr.GsoTcpV4, 1000), out var f));
        Assert.Equal(1, f.PayloadLength);
        Assert.Equal(1, f.Segments);
    }

    /// <summary>
    /// What the kernel leaves in the checksum field of a CHECKSUM_PARTIAL packet: the folded pseudo-header sum, not
    /// complemented, in network order (~csum_tcpudp_magic(...)), computed here with the naive reference.
    /// </summary>
    private static void WritePartial(byte[] frame, int field, byte[] pseudo) =>
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(field), Rfc1071.Sum(pseudo));

    private static byte[] UdpIpv4Frame(int payloadLength, out byte[] pseudo)
    {
        int udpLen = 8 + payloadLength, total = 20 + udpLen;
        var ip = Bytes.Concat([0x45, 0x00, (byte)(total >> 8), (byte)total, 0x12, 0x34, 0x40, 0x00, 0x40, 17, 0, 0], Ipv4Addresses);
        BinaryPrimitives.WriteUInt16BigEndian(ip.AsSpan(10), Rfc1071.Checksum(ip));
        var udp = Bytes.Concat(B("d431 0035"), [(byte)(udpLen >> 8), (byte)udpLen, 0, 0], Payload(payloadLength));
        pseudo = Rfc1071.PseudoV4(ip, 17, udpLen);
        var frame = Bytes.Concat(Macs, B("0800"), ip, udp);
        WritePartial(frame, 34 + 6, pseudo);
        return frame;
    }

    [Theory]
    [InlineData(0)]      // the checksum field is the frame's last two bytes
    [InlineData(1)]
    [InlineData(37)]
    [InlineData(1472)]
    public void CompleteChecksum_fills_in_a_partial_udp_ipv4_checksum_so_that_it_verifies(int payloadLength)
    {
        var frame = UdpIpv4Frame(payloadLength, out var pseudo);
        var before = (byte[])frame.Clone();
        var h = new VnetHdr(VnetHdr.FlagNeedsCsum, VnetHdr.GsoNone, 0, 0, 34, 6);

        Assert.True(TxOffload.CompleteChecksum(frame, h));

        Assert.True(Rfc1071.Verifies(Bytes.Concat(pseudo, frame[34..])), "UDP checksum with the pseudo-header");
        Assert.NotEqual(0, BinaryPrimitives.ReadUInt16BigEndian(frame.AsSpan(40)));   // 0 would mean "no checksum"
        before.AsSpan(40, 2).Clear();
        var after = (byte[])frame.Clone();
        after.AsSpan(40, 2).Clear();
        Assert.Equal(before, after);   // only the checksum field changed
    }

    [Fact]
    public void CompleteChecksum_fills_in_a_partial_tcp_ipv6_checksum_so_that_it_verifies()
    {
        var frame = Ipv6Frame(Payload(999));
        var tcpLength = frame.Length - 54;
        var pseudo = Rfc1071.PseudoV6(frame.AsSpan(14, 40), 6, tcpLength);
        WritePartial(frame, 54 + 16, pseudo);

        Assert.True(TxOffload.CompleteChecksum(frame, new VnetHdr(VnetHdr.FlagNeedsCsum, VnetHdr.GsoNone, 0, 0, 54, 16)));
        Assert.True(Rfc1071.Verifies(Bytes.Concat(pseudo, frame[54..])));
    }

    [Theory]
    [InlineData(34, 7)]     // field + 2 is one past the end of an empty-payload UDP frame
    [InlineData(34, 100)]
    [InlineData(41, 0)]     // the field would straddle the end
    [InlineData(42, 0)]     // csum_start at the end
    [InlineData(60000, 6)]
    public void CompleteChecksum_returns_false_and_leaves_the_frame_alone_when_the_offsets_point_past_the_frame(int start, int offset)
    {
        var frame = UdpIpv4Frame(0, out _);
        Assert.Equal(42, frame.Length);
        var before = (byte[])frame.Clone();
        Assert.False(TxOffload.CompleteChecksum(frame, new VnetHdr(VnetHdr.FlagNeedsCsum, VnetHdr.GsoNone, 0, 0, (ushort)start, (ushort)offset)));
        Assert.Equal(before, frame);
    }

    [Fact]
    public void CompleteChecksum_of_a_tcp_frame_whose_sum_is_all_ones_stores_0_not_0xffff()
    {
        // Ethernet, IPv4 (TCP), 20-byte TCP header whose checksum field holds some partial sum, 2 payload bytes
        // chosen so that the TCP part sums to 0xffff: its checksum is 0, which TCP must carry as 0x0000.
        var frame = B("020000000002 020000000001 0800  4500 002a 0001 4000 4006 0000 c0000201 c6336402" +
            "  c350 1b58 00000001 00000000 5010 ffff 1234 0000  0000");
        ushort rest = Rfc1071.Sum(frame.AsSpan(34));
        ushort w = (ushort)~rest;
        frame[54] = (byte)(w >> 8);
        frame[55] = (byte)w;
        Assert.Equal(0xffff, Rfc1071.Sum(frame.AsSpan(34)));
        Assert.True(TxOffload.CompleteChecksum(frame, new VnetHdr(VnetHdr.FlagNeedsCsum, VnetHdr.GsoNone, 0, 0, 34, 16)));
        Assert.Equal(0x0000, (frame[50] << 8) | frame[51]);
    }
}
