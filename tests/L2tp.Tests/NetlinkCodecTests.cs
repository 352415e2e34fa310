using L2tp.Netlink;
using Xunit;
using static L2tp.Tests.Hex;

namespace L2tp.Tests;

/// <summary>NetlinkWriter and the reader (NetlinkMessage.Split, NetlinkAttributes) against hand-computed bytes.</summary>
public class NetlinkCodecTests
{
    [Fact]
    public void Writer_lays_out_nlmsghdr_little_endian_then_genl_header_then_padded_attributes()
    {
        var w = new NetlinkWriter();
        w.Begin(0x001c, 0x0005, 0x01020304, 0x0a0b0c0d).Genl(1, 1);
        w.U32(9, 0x0A0B0C0D);
        w.U8(7, 3);
        w.U16(2, 0x1234);
        w.StringZ(8, "l2tp0");
        w.Flag(33);
        w.U64(22, 0x1122334455667788);
        w.End();
        var expected = B(
            "48000000 1c00 0500 04030201 0d0c0b0a" +    // nlmsghdr: len 72, type 0x1c, flags 5, seq, pid
            "01 01 0000" +                              // genlmsghdr: cmd 1, version 1, reserved 0
            "0800 0900 0d0c0b0a" +                      // u32
            "0500 0700 03 000000" +                     // u8, len 5 then 3 bytes of padding
            "0600 0200 3412 0000" +                     // u16, len 6 then 2 bytes of padding
            "0a00 0800 6c32747030 00 0000" +            // "l2tp0\0": len 10 then 2 bytes of padding
            "0400 2100" +                               // flag: header only
            "0c00 1600 8877665544332211");              // u64
        Assert.Equal(expected, w.ToArray());
        Assert.Equal(72, w.Length);
    }

    [Fact]
    public void Writer_nested_attribute_has_NLA_F_NESTED_and_covers_its_children()
    {
        var w = new NetlinkWriter();
        w.Begin(0x20, 0x0002, 7).Genl(4, 1);
        w.BeginNested(30);
        w.U64(1, 5);
        w.U8(2, 0xff);
        w.EndNested();
        w.U32(9, 1);
        w.End();
        var expected = B(
            "34000000 2000 0200 07000000 00000000" +
            "04 01 0000" +
            "1800 1e80" +                 // nest: len 4 + 12 + 8 = 24, type 30 | 0x8000
            "0c00 0100 0500000000000000" +
            "0500 0200 ff 000000" +
            "0800 0900 01000000");
        Assert.Equal(expected, w.ToArray());
    }

    [Fact]
    public void Writer_puts_several_messages_back_to_back_each_with_its_own_length()
    {
        var w = new NetlinkWriter();
        w.Begin(0x20, 2, 1).Genl(1, 1).U8(7, 3);
        w.Begin(0x03, 2, 1).Raw(new byte[] { 0, 0, 0, 0 });   // Begin ends the previous message
        w.End();
        Assert.Equal(B(
            "1c000000 2000 0200 01000000 00000000 01010000 0500 0700 03000000" +
            "14000000 0300 0200 01000000 00000000 00000000"), w.ToArray());
    }

    [Fact]
    public void Writer_Raw_pads_to_4()
    {
        var w = new NetlinkWriter();
        w.Begin(1, 0, 0).Raw(new byte[] { 0xAA, 0xBB, 0xCC }).End();
        Assert.Equal(B("14000000 0100 0000 00000000 00000000 aabbcc00"), w.ToArray());
    }

    [Fact]
    public void Writer_Address_is_network_byte_order()
    {
        var w = new NetlinkWriter();
        w.Address(24, System.Net.IPAddress.Parse("192.0.2.1"));
        w.Address(31, System.Net.IPAddress.Parse("2001:db8::1"));
        Assert.Equal(B("0800 1800 c0000201" + "1400 1f00 20010db8000000000000000000000001"), w.ToArray());
    }

    [Fact]
    public void Writer_End_with_an_open_nest_throws()
    {
        var w = new NetlinkWriter();
        w.Begin(1, 0, 0).BeginNested(30);
        Assert.Throws<InvalidOperationException>(() => w.End());
    }

    [Fact]
    public void Writer_grows_past_its_initial_buffer()
    {
        var w = new NetlinkWriter();
        w.Begin(0x20, 0, 1);
        for (int i = 0; i < 200; i++)
            w.U64((ushort)(i % 100 + 1), (ulong)i);
        w.End();
        Assert.Equal(16 + 200 * 12, w.Length);
        var m = Assert.Single(NetlinkMessage.Split(w.ToArray()));
        Assert.Equal(200 * 12, m.Payload.Length);
    }

    [Fact]
    public void Split_returns_every_message_of_a_buffer_with_header_fields_and_payload()
    {
        var buf = Bytes.Concat(
            Bytes.Message(0x1c, 0x0002, 11, 100, B("08010000 0500 0700 03000000")),
            Bytes.Message(0x1c, 0x0002, 11, 100, B("080100 00 0500 0700")),
            Bytes.Message(0x0003, 0x0002, 11, 100, B("00000000")));
        var list = NetlinkMessage.Split(buf);
        Assert.Equal(3, list.Count);
        Assert.All(list, m => { Assert.Equal(11u, m.Seq); Assert.Equal(100u, m.Pid); Assert.Equal(0x0002, m.Flags); });
        Assert.Equal(new ushort[] { 0x1c, 0x1c, 3 }, list.Select(m => m.Type));
        Assert.Equal(B("08010000 0500 0700 03000000"), list[0].Payload.ToArray());
        Assert.Equal(8, list[0].GenlCommand);
        Assert.Equal(3, list[0].GenlAttributes.U8(7));
        Assert.Equal(B("080100 00 0500 0700"), list[1].Payload.ToArray());
    }

    [Fact]
    public void Split_steps_over_padding_of_an_unaligned_message_and_accepts_a_last_message_without_padding()
    {
        // First message len 21 (5 payload bytes) then 3 padding bytes; the last one has len 18 and no padding after it.
        var first = new Bytes().U32(21).U16(0x20).U16(0).U32(1).U32(0).Raw(1, 2, 3, 4, 5).Raw(0, 0, 0).ToArray();
        var last = new Bytes().U32(18).U16(0x21).U16(0).U32(2).U32(0).Raw(9, 9).ToArray();
        var list = NetlinkMessage.Split(Bytes.Concat(first, last));
        Assert.Equal(2, list.Count);
        Assert.Equal(new byte[] { 1, 2, 3, 4, 5 }, list[0].Payload.ToArray());
        Assert.Equal(new byte[] { 9, 9 }, list[1].Payload.ToArray());
        Assert.Equal(0x21, list[1].Type);
    }

    [Fact]
    public void Split_of_an_empty_buffer_or_a_tail_shorter_than_a_header_is_no_message()
    {
        Assert.Empty(NetlinkMessage.Split(Array.Empty<byte>()));
        Assert.Empty(NetlinkMessage.Split(new byte[15]));
    }

    [Theory]
    [InlineData(0u)]
    [InlineData(15u)]
    [InlineData(33u)]       // longer than the buffer
    [InlineData(0xFFFFFFFFu)]
    public void Split_throws_InvalidDataException_on_a_length_that_does_not_fit(uint len)
    {
        var buf = new Bytes().U32(len).U16(0x20).U16(0).U32(1).U32(0).Raw(new byte[16]).ToArray();
        Assert.Throws<InvalidDataException>(() => NetlinkMessage.Split(buf));
    }

    [Fact]
    public void Split_throws_when_a_later_message_overruns_the_buffer()
    {
        var buf = Bytes.Concat(Bytes.Message(0x20, 0, 1, 0, new byte[4]),
            new Bytes().U32(40).U16(0x20).U16(0).U32(1).U32(0).ToArray());
        Assert.Throws<InvalidDataException>(() => NetlinkMessage.Split(buf));
    }

    [Fact]
    public void GenlCommand_and_attributes_of_a_payload_shorter_than_the_genl_header_are_empty()
    {
        var m = Assert.Single(NetlinkMessage.Split(Bytes.Message(0x20, 0, 1, 0, new byte[] { 5, 1 })));
        Assert.Equal(0, m.GenlCommand);
        Assert.Empty(m.GenlAttributes.Types);
    }

    [Fact]
    public void Attributes_parse_values_and_the_last_attribute_of_a_type_wins()
    {
        var data = new Bytes()
            .Attr(9, B("01000000"))
            .Attr(5, B("01"))
            .Attr(9, B("02000000"))
            .Attr(26, B("a506"))
            .Attr(22, B("0100000000000080"))
            .Attr(8, B("6c32747030 00"))
            .Attr(15, B("deadbeef"))
            .Attr(33, Array.Empty<byte>())
            .ToArray();
        var a = NetlinkAttributes.Parse(data);
        Assert.Equal(2u, a.U32(9));
        Assert.Equal(1, a.U8(5));
        Assert.Equal(1701, a.U16(26));
        Assert.Equal(0x8000000000000001ul, a.U64(22));
        Assert.Equal("l2tp0", a.String(8));
        Assert.Equal(B("deadbeef"), a.Bytes(15)!.Value.ToArray());
        Assert.True(a.Has(33));
        Assert.Equal(0, a.Bytes(33)!.Value.Length);
        Assert.False(a.Has(10));
        Assert.Null(a.U32OrNull(10));
        Assert.Null(a.String(10));
        Assert.Equal(0ul, a.U64OrZero(10));
        Assert.Equal(2u, a.U32OrNull(9));
        Assert.Throws<KeyNotFoundException>(() => a.U32(10));
    }

    [Fact]
    public void Bytes_of_a_missing_attribute_is_null_and_of_an_empty_one_is_empty()
    {
        // Bytes() is declared ReadOnlyMemory<byte>? so that absence can be told from an empty payload (a flag).
        var a = NetlinkAttributes.Parse(new Bytes().Attr(33, Array.Empty<byte>()).ToArray());
        Assert.True(a.Bytes(33).HasValue);
        Assert.Equal(0, a.Bytes(33)!.Value.Length);
        Assert.False(a.Bytes(34).HasValue);
    }

    [Fact]
    public void Attribute_shorter_than_its_type_throws_InvalidDataException()
    {
        var a = NetlinkAttributes.Parse(new Bytes().Attr(9, B("0102")).ToArray());
        Assert.Throws<InvalidDataException>(() => a.U32(9));
        Assert.Throws<InvalidDataException>(() => a.U64(9));
        Assert.Equal(0x0201, a.U16(9));
    }

    [Fact]
    public void String_without_NUL_takes_the_whole_payload()
    {
        var a = NetlinkAttributes.Parse(new Bytes().Attr(8, B("6c327470")).ToArray());
        Assert.Equal("l2tp", a.String(8));
    }

    [Fact]
    public void Address_is_read_from_4_or_16_bytes_and_null_otherwise()
    {
        var a = NetlinkAttributes.Parse(new Bytes()
            .Attr(24, B("c0000201")).Attr(31, B("20010db8000000000000000000000002")).Attr(25, B("c00002")).ToArray());
        Assert.Equal(System.Net.IPAddress.Parse("192.0.2.1"), a.Address(24));
        Assert.Equal(System.Net.IPAddress.Parse("2001:db8::2"), a.Address(31));
        Assert.Null(a.Address(25));
        Assert.Null(a.Address(32));
    }

    [Fact]
    public void Nested_attributes_parse_with_or_without_NLA_F_NESTED_and_the_type_bits_are_masked()
    {
        var inner = new Bytes().Attr(1, B("0100000000000000")).Attr(4, B("0400000000000000")).ToArray();
        var withFlag = NetlinkAttributes.Parse(new Bytes().Attr(30 | 0x8000, inner).ToArray());
        var withoutFlag = NetlinkAttributes.Parse(new Bytes().Attr(30, inner).ToArray());   // as the kernel's stats nest
        var byteOrder = NetlinkAttributes.Parse(new Bytes().Attr(9 | 0x4000, B("01000000")).ToArray());
        foreach (var a in new[] { withFlag, withoutFlag })
        {
            Assert.True(a.Has(30));
            var n = a.Nested(30);
            Assert.Equal(1ul, n.U64(1));
            Assert.Equal(4ul, n.U64(4));
            Assert.False(n.Has(2));
        }
        Assert.Equal(1u, byteOrder.U32(9));
        Assert.Empty(withFlag.Nested(31).Types);
    }

    [Fact]
    public void Nest_of_nests_parses()
    {
        var inner = new Bytes().Attr(2, B("07000000")).ToArray();
        var middle = new Bytes().Attr(1 | 0x8000, inner).ToArray();
        var a = NetlinkAttributes.Parse(new Bytes().Attr(6 | 0x8000, middle).ToArray());
        Assert.Equal(7u, a.Nested(6).Nested(1).U32(2));
    }

    [Theory]
    [InlineData("0000 0100")]                    // len 0
    [InlineData("0300 0100 00000000")]           // len 3 < header
    [InlineData("0900 0100 00000000")]           // len 9 > 8 bytes present
    [InlineData("0800 0100 01000000 ff7f 0200")] // second attribute claims 32767 bytes
    public void Attributes_with_malformed_lengths_throw_InvalidDataException(string hex)
    {
        Assert.Throws<InvalidDataException>(() => NetlinkAttributes.Parse(B(hex)));
    }

    [Fact]
    public void Malformed_nest_throws_when_opened()
    {
        var a = NetlinkAttributes.Parse(new Bytes().Attr(30, B("ff00 0100 00000000")).ToArray());
        Assert.Throws<InvalidDataException>(() => a.Nested(30));
    }

    [Fact]
    public void Attribute_tail_shorter_than_a_header_is_ignored()
    {
        var a = NetlinkAttributes.Parse(B("0800 0900 05000000 0000"));
        Assert.Equal(5u, a.U32(9));
        Assert.Single(a.Types);
    }

    [Fact]
    public void Last_attribute_without_padding_is_read()
    {
        var a = NetlinkAttributes.Parse(B("0500 0700 03"));
        Assert.Equal(3, a.U8(7));
    }
}
