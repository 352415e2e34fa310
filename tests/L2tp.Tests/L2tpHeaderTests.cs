using L2tp.Protocol;
using Xunit;
using static L2tp.Tests.Hex;

namespace L2tp.Tests;

/// <summary>
/// The L2TPv3 data header against bytes worked out by hand from RFC 3931 §4.1.2.2 (UDP: T/L/x/S/x/Ver word,
/// 16 reserved bits, session id, cookie), §4.1.1.2 (IP: session id, cookie) and RFC 4719 §3 (default sublayer:
/// x S x x x x x x then a 24-bit sequence number).
/// </summary>
public class L2tpHeaderTests
{
    private static byte[] Write(Encapsulation encap, uint peerSession, byte[] cookie, L2SpecType l2spec, bool seq = false, uint ns = 0)
    {
        var buf = new byte[L2tpHeader.MaxLength + 8];
        Array.Fill(buf, (byte)0xAA);   // anything not written must be left alone, and nothing may be left unwritten
        int n = L2tpHeader.Write(buf, encap, peerSession, cookie, l2spec, seq, ns);
        Assert.All(buf[n..], b => Assert.Equal(0xAA, b));
        return buf[..n];
    }

    [Fact]
    public void Udp_header_with_default_sublayer_and_no_cookie_is_00030000_then_peer_session_then_zero_word()
    {
        var h = Write(Encapsulation.Udp, 0x12345678, [], L2SpecType.Default);
        Assert.Equal(B("00030000 12345678 00000000"), h);
        Assert.Equal(12, L2tpHeader.Length(Encapsulation.Udp, 0, L2SpecType.Default));
    }

    [Fact]
    public void Udp_header_with_no_sublayer_and_no_cookie_is_00030000_then_peer_session_only()
    {
        var h = Write(Encapsulation.Udp, 0xFEDCBA98, [], L2SpecType.None);
        Assert.Equal(B("00030000 fedcba98"), h);
        Assert.Equal(8, L2tpHeader.Length(Encapsulation.Udp, 0, L2SpecType.None));
    }

    [Fact]
    public void Udp_header_with_4_byte_cookie_puts_the_cookie_as_given_between_session_id_and_sublayer()
    {
        var h = Write(Encapsulation.Udp, 1001, B("deadbeef"), L2SpecType.Default);
        Assert.Equal(B("00030000 000003e9 deadbeef 00000000"), h);
        Assert.Equal(16, L2tpHeader.Length(Encapsulation.Udp, 4, L2SpecType.Default));
    }

    [Fact]
    public void Udp_header_with_8_byte_cookie_and_no_sublayer_ends_with_the_cookie()
    {
        var h = Write(Encapsulation.Udp, 1, B("0102030405060708"), L2SpecType.None);
        Assert.Equal(B("00030000 00000001 0102030405060708"), h);
        Assert.Equal(16, L2tpHeader.Length(Encapsulation.Udp, 8, L2SpecType.None));
    }

    [Fact]
    public void Udp_header_with_8_byte_cookie_and_sequenced_sublayer_is_the_largest_header_of_20_bytes()
    {
        var h = Write(Encapsulation.Udp, 0xFFFFFFFF, B("a1a2a3a4a5a6a7a8"), L2SpecType.Default, true, 0x000102);
        Assert.Equal(B("00030000 ffffffff a1a2a3a4a5a6a7a8 40000102"), h);
        Assert.Equal(L2tpHeader.MaxLength, h.Length);
        Assert.Equal(20, L2tpHeader.Length(Encapsulation.Udp, 8, L2SpecType.Default));
    }

    [Fact]
    public void Ip_header_with_default_sublayer_and_no_cookie_is_session_id_then_zero_word()
    {
        var h = Write(Encapsulation.Ip, 0x00ABCDEF, [], L2SpecType.Default);
        Assert.Equal(B("00abcdef 00000000"), h);
        Assert.Equal(8, L2tpHeader.Length(Encapsulation.Ip, 0, L2SpecType.Default));
    }

    [Fact]
    public void Ip_header_with_no_sublayer_is_the_session_id_alone()
    {
        Assert.Equal(B("00000007"), Write(Encapsulation.Ip, 7, [], L2SpecType.None));
        Assert.Equal(4, L2tpHeader.Length(Encapsulation.Ip, 0, L2SpecType.None));
    }

    [Fact]
    public void Ip_header_with_4_and_8_byte_cookies()
    {
        Assert.Equal(B("00000064 cafef00d 00000000"), Write(Encapsulation.Ip, 100, B("cafef00d"), L2SpecType.Default));
        Assert.Equal(B("00000064 0011223344556677"), Write(Encapsulation.Ip, 100, B("0011223344556677"), L2SpecType.None));
        Assert.Equal(12, L2tpHeader.Length(Encapsulation.Ip, 4, L2SpecType.Default));
        Assert.Equal(12, L2tpHeader.Length(Encapsulation.Ip, 8, L2SpecType.None));
        Assert.Equal(16, L2tpHeader.Length(Encapsulation.Ip, 8, L2SpecType.Default));
    }

    [Theory]
    [InlineData(0u, "40000000")]
    [InlineData(1u, "40000001")]
    [InlineData(0x123456u, "40123456")]
    [InlineData(0xFFFFFFu, "40ffffff")]
    [InlineData(0x1000000u, "40000000")]   // 24 bits: 2^24 wraps to 0
    [InlineData(0x1000005u, "40000005")]
    [InlineData(0xFFFFFFFFu, "40ffffff")]  // high bits never leak into the flag bits
    public void Sequenced_sublayer_is_S_bit_0x40000000_with_a_24_bit_number(uint ns, string word)
    {
        var h = Write(Encapsulation.Udp, 5, [], L2SpecType.Default, true, ns);
        Assert.Equal(B("00030000 00000005" + word), h);
    }

    [Fact]
    public void Unsequenced_sublayer_is_zero_whatever_number_is_passed()
    {
        Assert.Equal(B("00000005 00000000"), Write(Encapsulation.Ip, 5, [], L2SpecType.Default, false, 0x123456));
    }

    [Fact]
    public void No_sublayer_cannot_carry_a_sequence_number_even_when_asked()
    {
        Assert.Equal(B("00000005"), Write(Encapsulation.Ip, 5, [], L2SpecType.None, true, 0x123456));
    }

    public static TheoryData<Encapsulation, int, L2SpecType, bool, uint> Variants()
    {
        var d = new TheoryData<Encapsulation, int, L2SpecType, bool, uint>();
        foreach (var e in new[] { Encapsulation.Udp, Encapsulation.Ip })
        foreach (var c in new[] { 0, 4, 8 })
        foreach (var l in new[] { L2SpecType.None, L2SpecType.Default })
        foreach (var s in new[] { false, true })
            d.Add(e, c, l, s, s ? 0xABCDEFu : 0u);
        return d;
    }

    [Theory]
    [MemberData(nameof(Variants))]
    public void Written_header_reads_back_with_same_session_cookie_and_sequence(Encapsulation encap, int cookieLen, L2SpecType l2spec, bool seq, uint ns)
    {
        byte[] cookie = Enumerable.Range(0x31, cookieLen).Select(i => (byte)i).ToArray();
        var packet = new byte[64];
        int n = L2tpHeader.Write(packet, encap, 0x0BADCAFE, cookie, l2spec, seq, ns);
        Assert.Equal(L2tpHeader.Length(encap, cookieLen, l2spec), n);
        packet.AsSpan(n).Fill(0x5A);

        Assert.Equal(DropReason.None, L2tpHeader.ReadSessionId(packet, encap, out uint sid, out int off));
        Assert.Equal(0x0BADCAFEu, sid);
        Assert.Equal(encap == Encapsulation.Udp ? 8 : 4, off);
        Assert.Equal(DropReason.None, L2tpHeader.ReadAfterSessionId(packet, off, cookie, l2spec, out int payload, out bool hasSeq, out uint got));
        Assert.Equal(n, payload);
        bool expectSeq = seq && l2spec == L2SpecType.Default;
        Assert.Equal(expectSeq, hasSeq);
        Assert.Equal(expectSeq ? ns : 0u, got);
    }

    // ---- ReadSessionId ----

    [Fact]
    public void ReadSessionId_udp_with_T_bit_and_version_3_is_Control()
    {
        // An L2TPv3 control message: T=1 L=1 S=1 Ver=3, length, control connection id...
        var p = B("c8030010 00000001 00000000 00000000");
        Assert.Equal(DropReason.Control, L2tpHeader.ReadSessionId(p, Encapsulation.Udp, out _, out _));
        // The T bit alone is enough.
        Assert.Equal(DropReason.Control, L2tpHeader.ReadSessionId(B("80030000 00000001 00000000"), Encapsulation.Udp, out _, out _));
    }

    [Theory]
    [InlineData("00020000 00000001 00000000")]   // L2TPv2
    [InlineData("00000000 00000001 00000000")]
    [InlineData("00010000 00000001 00000000")]
    [InlineData("00040000 00000001 00000000")]
    [InlineData("000f0000 00000001 00000000")]
    [InlineData("00320000 00000001 00000000")]   // a 3 above the version nibble is not the version
    public void ReadSessionId_udp_with_version_other_than_3_is_BadVersion(string hex)
    {
        Assert.Equal(DropReason.BadVersion, L2tpHeader.ReadSessionId(B(hex), Encapsulation.Udp, out _, out _));
    }

    [Fact]
    public void ReadSessionId_udp_ignores_other_flag_bits_and_the_reserved_field_as_the_kernel_does()
    {
        // Version nibble 3 with L, S and x bits set, and a nonzero reserved field: still a data packet.
        Assert.Equal(DropReason.None, L2tpHeader.ReadSessionId(B("4873ffff 00000009"), Encapsulation.Udp, out uint sid, out int off));
        Assert.Equal(9u, sid);
        Assert.Equal(8, off);
    }

    [Theory]
    [InlineData("")]
    [InlineData("00")]
    [InlineData("0003")]
    [InlineData("000300")]
    [InlineData("00030000")]
    [InlineData("00030000 000000")]
    public void ReadSessionId_udp_shorter_than_8_bytes_is_Truncated(string hex)
    {
        Assert.Equal(DropReason.Truncated, L2tpHeader.ReadSessionId(B(hex), Encapsulation.Udp, out _, out _));
    }

    [Theory]
    [InlineData("")]
    [InlineData("00")]
    [InlineData("000001")]
    public void ReadSessionId_ip_shorter_than_4_bytes_is_Truncated(string hex)
    {
        Assert.Equal(DropReason.Truncated, L2tpHeader.ReadSessionId(B(hex), Encapsulation.Ip, out _, out _));
    }

    [Fact]
    public void ReadSessionId_session_id_0_is_Control_over_ip_and_over_udp()
    {
        Assert.Equal(DropReason.Control, L2tpHeader.ReadSessionId(B("00000000 c8030010"), Encapsulation.Ip, out _, out _));
        Assert.Equal(DropReason.Control, L2tpHeader.ReadSessionId(B("00030000 00000000 00000000"), Encapsulation.Udp, out _, out _));
    }

    [Fact]
    public void ReadSessionId_reads_big_endian_id_and_offset()
    {
        Assert.Equal(DropReason.None, L2tpHeader.ReadSessionId(B("80000001"), Encapsulation.Ip, out uint sid, out int off));
        Assert.Equal(0x80000001u, sid);
        Assert.Equal(4, off);
        Assert.Equal(DropReason.None, L2tpHeader.ReadSessionId(B("00030000 01020304"), Encapsulation.Udp, out sid, out off));
        Assert.Equal(0x01020304u, sid);
        Assert.Equal(8, off);
    }

    // ---- ReadAfterSessionId ----

    [Fact]
    public void ReadAfterSessionId_wrong_cookie_is_CookieMismatch()
    {
        var p = B("00000001 deadbeef 00000000 ffffffffffffffffffffffffffff");
        Assert.Equal(DropReason.CookieMismatch, L2tpHeader.ReadAfterSessionId(p, 4, B("deadbeee"), L2SpecType.Default, out _, out _, out _));
        var p8 = B("00030000 00000001 0102030405060708 ffffffffffffffffffffffffffff");
        Assert.Equal(DropReason.CookieMismatch, L2tpHeader.ReadAfterSessionId(p8, 8, B("0102030405060709"), L2SpecType.None, out _, out _, out _));
        Assert.Equal(DropReason.CookieMismatch, L2tpHeader.ReadAfterSessionId(p8, 8, B("8102030405060708"), L2SpecType.None, out _, out _, out _));
    }

    [Fact]
    public void ReadAfterSessionId_matching_cookie_skips_cookie_and_sublayer()
    {
        var p = B("00000001 deadbeef 40000007 ffffffffffffffffffffffffffff");
        Assert.Equal(DropReason.None, L2tpHeader.ReadAfterSessionId(p, 4, B("deadbeef"), L2SpecType.Default, out int payload, out bool hasSeq, out uint ns));
        Assert.Equal(12, payload);
        Assert.True(hasSeq);
        Assert.Equal(7u, ns);
    }

    [Theory]
    [InlineData("00000000")]
    [InlineData("00000005")]
    [InlineData("3fffffff")]   // every bit but S: still no sequence number
    [InlineData("bfffffff")]
    public void ReadAfterSessionId_sublayer_without_S_bit_has_no_sequence(string word)
    {
        var p = B("00000001" + word + "ffffffffffffffffffffffffffff");
        Assert.Equal(DropReason.None, L2tpHeader.ReadAfterSessionId(p, 4, [], L2SpecType.Default, out int payload, out bool hasSeq, out uint ns));
        Assert.False(hasSeq);
        Assert.Equal(0u, ns);
        Assert.Equal(8, payload);
    }

    [Fact]
    public void ReadAfterSessionId_S_bit_with_other_bits_set_takes_the_low_24_bits()
    {
        var p = B("00000001 ffabcdef ffffffffffffffffffffffffffff");
        Assert.Equal(DropReason.None, L2tpHeader.ReadAfterSessionId(p, 4, [], L2SpecType.Default, out _, out bool hasSeq, out uint ns));
        Assert.True(hasSeq);
        Assert.Equal(0xABCDEFu, ns);
    }

    [Fact]
    public void ReadAfterSessionId_without_sublayer_never_has_a_sequence_and_does_not_skip_payload()
    {
        var p = B("00000001 40000001 ffffffffffffffffffffffffffff");
        Assert.Equal(DropReason.None, L2tpHeader.ReadAfterSessionId(p, 4, [], L2SpecType.None, out int payload, out bool hasSeq, out _));
        Assert.False(hasSeq);
        Assert.Equal(4, payload);
    }

    [Theory]
    [InlineData("00000001", 0, L2SpecType.Default)]
    [InlineData("00000001 000000", 0, L2SpecType.Default)]
    [InlineData("00000001 deadbe", 4, L2SpecType.None)]
    [InlineData("00000001 deadbeef", 4, L2SpecType.Default)]
    [InlineData("00000001 deadbeef 000000", 4, L2SpecType.Default)]
    [InlineData("00000001 deadbeefdeadbe", 8, L2SpecType.None)]
    [InlineData("00000001 deadbeefdeadbeef 000000", 8, L2SpecType.Default)]
    public void ReadAfterSessionId_packet_ending_inside_cookie_or_sublayer_is_Truncated(string hex, int cookieLen, L2SpecType l2spec)
    {
        var cookie = B("deadbeefdeadbeef")[..cookieLen];
        Assert.Equal(DropReason.Truncated, L2tpHeader.ReadAfterSessionId(B(hex), 4, cookie, l2spec, out _, out _, out _));
    }

    [Fact]
    public void ReadAfterSessionId_header_exactly_filling_the_packet_is_valid_with_empty_payload()
    {
        var p = B("00000001 deadbeef 40000001");
        Assert.Equal(DropReason.None, L2tpHeader.ReadAfterSessionId(p, 4, B("deadbeef"), L2SpecType.Default, out int payload, out _, out _));
        Assert.Equal(p.Length, payload);
    }
}
