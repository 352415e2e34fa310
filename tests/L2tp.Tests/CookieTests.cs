using L2tp.Protocol;
using Xunit;
using static L2tp.Tests.Hex;

namespace L2tp.Tests;

public class CookieTests
{
    [Theory]
    [InlineData("deadbeef", "deadbeef")]
    [InlineData("DEADBEEF", "deadbeef")]
    [InlineData("DeAdBeEf", "deadbeef")]
    [InlineData("00000000", "00000000")]
    [InlineData("014d3636deadbeef", "014d3636deadbeef")]
    [InlineData("014D3636DEADBEEF", "014d3636deadbeef")]
    [InlineData("0x01020304", "01020304")]
    [InlineData("0X01020304", "01020304")]
    [InlineData("0x0102030405060708", "0102030405060708")]
    public void Parse_accepts_8_or_16_hex_digits_in_either_case_with_optional_0x(string text, string expectHex)
    {
        Assert.Equal(B(expectHex), Cookie.Parse(text, "Cookie"));
    }

    [Fact]
    public void Parse_keeps_byte_order_as_written()
    {
        Assert.Equal(new byte[] { 0x01, 0x23, 0x45, 0x67, 0x89, 0xAB, 0xCD, 0xEF }, Cookie.Parse("0123456789abcdef", "Cookie"));
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    public void Parse_of_null_or_empty_is_no_cookie(string? text)
    {
        Assert.Empty(Cookie.Parse(text, "Cookie"));
    }

    [Theory]
    [InlineData("1234567")]             // 7 digits
    [InlineData("123456789")]           // 9
    [InlineData("1234567890")]          // 10
    [InlineData("123456789012")]        // 12
    [InlineData("123456789012345")]     // 15
    [InlineData("12345678901234567")]   // 17
    [InlineData("12345678123456781234567812345678")]   // 32
    [InlineData("0x1234567")]
    [InlineData("0x")]
    [InlineData("0x0x123456")]
    [InlineData("x12345678")]
    [InlineData("ghijklmn")]
    [InlineData("1234567g")]
    [InlineData("1234 678")]
    [InlineData(" 12345678")]
    [InlineData("12345678 ")]
    [InlineData("-1234567")]
    [InlineData("+1234567")]
    [InlineData("12:34:56:78")]
    [InlineData("1234-5678")]
    [InlineData("\uFF11\uFF12\uFF13\uFF14\uFF15\uFF16\uFF17\uFF18")]   // full-width digits are not hex digits
    [InlineData(" ")]
    public void Parse_of_anything_else_throws_InvalidCookie_with_the_text_as_target(string text)
    {
        var e = Assert.Throws<L2tpException>(() => Cookie.Parse(text, "PeerCookie"));
        Assert.Equal("L2tp.InvalidCookie", e.ErrorId);
        Assert.Equal(L2tpErrorKind.InvalidArgument, e.Kind);
        Assert.Equal(text, e.Target);
        Assert.Contains("PeerCookie", e.Message);
    }

    [Fact]
    public void Format_is_lower_case_hex_and_empty_for_no_cookie()
    {
        Assert.Equal("deadbeef", Cookie.Format(new byte[] { 0xDE, 0xAD, 0xBE, 0xEF }));
        Assert.Equal("00010a0bf0ffabcd", Cookie.Format(new byte[] { 0x00, 0x01, 0x0A, 0x0B, 0xF0, 0xFF, 0xAB, 0xCD }));
        Assert.Equal("", Cookie.Format(ReadOnlySpan<byte>.Empty));
    }

    [Theory]
    [InlineData("ABCDEF01")]
    [InlineData("0123456789ABCDEF")]
    public void Format_of_Parse_is_the_lower_case_text(string text)
    {
        Assert.Equal(text.ToLowerInvariant(), Cookie.Format(Cookie.Parse(text, "Cookie")));
    }
}
