using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using L2tp.Native;
using L2tp.Protocol;
using Xunit;
using Fwd = L2tp.Forwarder.Forwarder;

namespace L2tp.Tests;

/// <summary>l2tp_eth_adjust_mtu: route MTU less underlay (IP + UDP), L2TP header and the inner Ethernet header.</summary>
public class SessionMtuTests
{
    private const int Udp4 = 20 + 8, Udp6 = 40 + 8, Ip4 = 20, Ip6 = 40;

    [Fact]
    public void Udp_ipv4_default_sublayer_no_cookie_over_1500_is_1446() =>
        Assert.Equal(1446, Fwd.SessionMtu(1500, Udp4, L2tpHeader.Length(Encapsulation.Udp, 0, L2SpecType.Default)));

    [Fact]
    public void Udp_ipv4_no_sublayer_is_1450() =>
        Assert.Equal(1450, Fwd.SessionMtu(1500, Udp4, L2tpHeader.Length(Encapsulation.Udp, 0, L2SpecType.None)));

    [Fact]
    public void Udp_ipv4_default_sublayer_with_8_byte_cookie_is_1438() =>
        Assert.Equal(1438, Fwd.SessionMtu(1500, Udp4, L2tpHeader.Length(Encapsulation.Udp, 8, L2SpecType.Default)));

    [Fact]
    public void Udp_ipv6_default_sublayer_no_cookie_is_1426() =>
        Assert.Equal(1426, Fwd.SessionMtu(1500, Udp6, L2tpHeader.Length(Encapsulation.Udp, 0, L2SpecType.Default)));

    [Fact]
    public void Ip_encap_ipv4_default_sublayer_no_cookie_is_1458() =>
        Assert.Equal(1458, Fwd.SessionMtu(1500, Ip4, L2tpHeader.Length(Encapsulation.Ip, 0, L2SpecType.Default)));

    [Fact]
    public void Ip_encap_ipv6_default_sublayer_no_cookie_is_1438() =>
        Assert.Equal(1438, Fwd.SessionMtu(1500, Ip6, L2tpHeader.Length(Encapsulation.Ip, 0, L2SpecType.Default)));

    [Fact]
    public void Follows_the_path_mtu()
    {
        Assert.Equal(9000 - 54, Fwd.SessionMtu(9000, Udp4, 12));
        Assert.Equal(1400 - 54, Fwd.SessionMtu(1400, Udp4, 12));
        Assert.Equal(65535, Fwd.SessionMtu(65535 + 54, Udp4, 12));
    }

    [Theory]
    [InlineData(0)]          // no route cached
    [InlineData(-1)]         // lookup failed
    [InlineData(40)]         // smaller than the overhead
    [InlineData(65536 + 74)] // above the largest MTU for either overhead
    [InlineData(int.MaxValue)]
    public void Out_of_range_falls_back_to_1500_minus_overhead(int pathMtu)
    {
        Assert.Equal(1446, Fwd.SessionMtu(pathMtu, Udp4, 12));
        Assert.Equal(1426, Fwd.SessionMtu(pathMtu, Udp6, 12));
    }
}

/// <summary>Sys.MMsgHdr must match struct mmsghdr of 64-bit Linux: struct msghdr (56 bytes) then unsigned msg_len.</summary>
public class NativeLayoutTests
{
    [Fact]
    public void MMsgHdr_is_64_bytes_with_msg_len_at_56()
    {
        Assert.Equal(8, IntPtr.Size);
        Assert.Equal(64, Unsafe.SizeOf<Sys.MMsgHdr>());
        Assert.Equal(64, Marshal.SizeOf<Sys.MMsgHdr>());
        Assert.Equal(56, (int)Marshal.OffsetOf<Sys.MMsgHdr>(nameof(Sys.MMsgHdr.Len)));
    }

    [Fact]
    public void MMsgHdr_msghdr_fields_are_at_their_struct_msghdr_offsets()
    {
        Assert.Equal(0, (int)Marshal.OffsetOf<Sys.MMsgHdr>(nameof(Sys.MMsgHdr.Name)));
        Assert.Equal(8, (int)Marshal.OffsetOf<Sys.MMsgHdr>(nameof(Sys.MMsgHdr.NameLen)));
        Assert.Equal(16, (int)Marshal.OffsetOf<Sys.MMsgHdr>(nameof(Sys.MMsgHdr.Iov)));
        Assert.Equal(24, (int)Marshal.OffsetOf<Sys.MMsgHdr>(nameof(Sys.MMsgHdr.IovLen)));
        Assert.Equal(32, (int)Marshal.OffsetOf<Sys.MMsgHdr>(nameof(Sys.MMsgHdr.Control)));
        Assert.Equal(40, (int)Marshal.OffsetOf<Sys.MMsgHdr>(nameof(Sys.MMsgHdr.ControlLen)));
        Assert.Equal(48, (int)Marshal.OffsetOf<Sys.MMsgHdr>(nameof(Sys.MMsgHdr.Flags)));
    }

    [Fact]
    public unsafe void MMsgHdr_array_stride_is_64_bytes()
    {
        var a = new Sys.MMsgHdr[2];
        fixed (Sys.MMsgHdr* p = a)
            Assert.Equal(64, (int)((byte*)&p[1] - (byte*)&p[0]));
    }
}
