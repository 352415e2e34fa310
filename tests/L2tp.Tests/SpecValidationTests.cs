using System.Net;
using L2tp.Protocol;
using Xunit;

namespace L2tp.Tests;

public class TunnelSpecValidationTests
{
    private static readonly TunnelSpec Udp4 = new()
    {
        TunnelId = 100, PeerTunnelId = 200, Encapsulation = Encapsulation.Udp,
        Local = IPAddress.Parse("192.0.2.1"), Remote = IPAddress.Parse("192.0.2.2"),
        SourcePort = 1701, DestinationPort = 1702,
    };

    private static L2tpException Fails(TunnelSpec t, string errorId) => SpecRule.Fails(t.Validate, errorId);

    [Fact]
    public void Valid_udp_ipv4_tunnel_passes() => Udp4.Validate();

    [Fact]
    public void Valid_udp_ipv6_tunnel_passes() =>
        (Udp4 with { Local = IPAddress.Parse("2001:db8::1"), Remote = IPAddress.Parse("2001:db8::2") }).Validate();

    [Fact]
    public void Valid_ip_encap_tunnel_without_ports_passes() =>
        (Udp4 with { Encapsulation = Encapsulation.Ip, SourcePort = 0, DestinationPort = 0 }).Validate();

    [Fact]
    public void Local_any_passes_for_either_family_of_remote()
    {
        (Udp4 with { Local = IPAddress.Any }).Validate();
        (Udp4 with { Local = IPAddress.Any, Remote = IPAddress.Parse("2001:db8::2") }).Validate();
        (Udp4 with { Local = IPAddress.IPv6Any, Remote = IPAddress.Parse("2001:db8::2") }).Validate();
        (Udp4 with { Local = IPAddress.IPv6Any }).Validate();
    }

    [Fact]
    public void Tunnel_id_0_is_InvalidTunnelId_with_target_0()
    {
        var e = Fails(Udp4 with { TunnelId = 0 }, "L2tp.InvalidTunnelId");
        Assert.Equal(0u, e.Target);
    }

    [Fact]
    public void Peer_tunnel_id_0_is_InvalidTunnelId_with_target_0()
    {
        var e = Fails(Udp4 with { PeerTunnelId = 0 }, "L2tp.InvalidTunnelId");
        Assert.Equal(0u, e.Target);
    }

    [Fact]
    public void Tunnel_ids_up_to_uint_max_pass() => (Udp4 with { TunnelId = uint.MaxValue, PeerTunnelId = uint.MaxValue }).Validate();

    [Fact]
    public void Missing_remote_is_MissingRemote() => Fails(Udp4 with { Remote = null }, "L2tp.MissingRemote");

    [Fact]
    public void Missing_local_is_MissingLocal() => Fails(Udp4 with { Local = null }, "L2tp.MissingLocal");

    [Fact]
    public void Remote_any_is_InvalidRemote()
    {
        Assert.Equal(IPAddress.Any, Fails(Udp4 with { Remote = IPAddress.Any }, "L2tp.InvalidRemote").Target);
        Assert.Equal(IPAddress.IPv6Any,
            Fails(Udp4 with { Local = IPAddress.Parse("2001:db8::1"), Remote = IPAddress.IPv6Any }, "L2tp.InvalidRemote").Target);
    }

    [Fact]
    public void Local_and_remote_of_different_families_is_AddressFamilyMismatch_with_local_as_target()
    {
        var local6 = IPAddress.Parse("2001:db8::1");
        Assert.Equal(local6, Fails(Udp4 with { Local = local6 }, "L2tp.AddressFamilyMismatch").Target);
        var local4 = IPAddress.Parse("192.0.2.1");
        Assert.Equal(local4, Fails(Udp4 with { Local = local4, Remote = IPAddress.Parse("2001:db8::2") }, "L2tp.AddressFamilyMismatch").Target);
    }

    [Fact]
    public void Udp_without_source_port_is_MissingSourcePort() =>
        Fails(Udp4 with { SourcePort = 0 }, "L2tp.MissingSourcePort");

    [Fact]
    public void Udp_without_destination_port_is_MissingDestinationPort() =>
        Fails(Udp4 with { DestinationPort = 0 }, "L2tp.MissingDestinationPort");

    [Fact]
    public void Managed_default_turns_ipv4_udp_checksums_on_and_kernel_default_keeps_them_off()
    {
        Assert.True(Udp4.WithDefaultChecksum(BackendKind.Managed).UdpChecksum);
        Assert.False((Udp4 with { UdpChecksum = true }).WithDefaultChecksum(BackendKind.Kernel).UdpChecksum);
    }

    [Fact]
    public void Default_checksum_stays_off_where_udp_csum_does_not_apply_ipv6_and_ip_encapsulation()
    {
        var v6 = Udp4 with { Local = IPAddress.Parse("2001:db8::1"), Remote = IPAddress.Parse("2001:db8::2") };
        Assert.False(v6.WithDefaultChecksum(BackendKind.Managed).UdpChecksum);
        var ip = Udp4 with { Encapsulation = Encapsulation.Ip, SourcePort = 0, DestinationPort = 0 };
        Assert.False(ip.WithDefaultChecksum(BackendKind.Managed).UdpChecksum);
    }

    [Fact]
    public void BindAddress_of_local_any_follows_the_family_of_the_remote()
    {
        Assert.Equal(IPAddress.Any, (Udp4 with { Local = IPAddress.IPv6Any }).BindAddress);
        Assert.Equal(IPAddress.IPv6Any, (Udp4 with { Local = IPAddress.Any, Remote = IPAddress.Parse("2001:db8::2") }).BindAddress);
        Assert.Equal(IPAddress.Parse("192.0.2.1"), Udp4.BindAddress);
    }
}

public class SessionSpecValidationTests
{
    private static readonly SessionSpec Valid = new()
    {
        TunnelId = 100, SessionId = 1001, PeerSessionId = 2002,
    };

    private static L2tpException Fails(SessionSpec s, string errorId) => SpecRule.Fails(s.Validate, errorId);

    [Fact]
    public void Defaults_are_default_sublayer_no_sequencing_no_cookies() 
    {
        Assert.Equal(L2SpecType.Default, Valid.L2SpecType);
        Assert.Equal(SequencingMode.None, Valid.Sequencing);
        Assert.Empty(Valid.Cookie);
        Assert.Empty(Valid.PeerCookie);
        Assert.Null(Valid.InterfaceName);
        Valid.Validate();
    }

    [Fact]
    public void Fully_specified_session_passes() =>
        (Valid with
        {
            Cookie = new byte[4], PeerCookie = new byte[8], InterfaceName = "l2tp0",
            Sequencing = SequencingMode.Both, L2SpecType = L2SpecType.Default,
        }).Validate();

    [Fact]
    public void Session_id_0_is_InvalidSessionId_with_target_0() =>
        Assert.Equal(0u, Fails(Valid with { SessionId = 0 }, "L2tp.InvalidSessionId").Target);

    [Fact]
    public void Peer_session_id_0_is_InvalidSessionId_with_target_0() =>
        Assert.Equal(0u, Fails(Valid with { PeerSessionId = 0 }, "L2tp.InvalidSessionId").Target);

    [Fact]
    public void Tunnel_id_0_is_InvalidTunnelId_with_target_0() =>
        Assert.Equal(0u, Fails(Valid with { TunnelId = 0 }, "L2tp.InvalidTunnelId").Target);

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(5)]
    [InlineData(9)]
    public void Cookie_of_other_than_0_4_or_8_bytes_is_InvalidCookie(int len)
    {
        Fails(Valid with { Cookie = new byte[len] }, "L2tp.InvalidCookie");
        Fails(Valid with { PeerCookie = new byte[len] }, "L2tp.InvalidCookie");
    }

    [Theory]
    [InlineData(SequencingMode.Send)]
    [InlineData(SequencingMode.Recv)]
    [InlineData(SequencingMode.Both)]
    public void Sublayer_none_with_sequencing_is_SequencingNeedsSublayer(SequencingMode mode)
    {
        var e = Fails(Valid with { L2SpecType = L2SpecType.None, Sequencing = mode }, "L2tp.SequencingNeedsSublayer");
        Assert.Equal(mode, e.Target);
    }

    [Fact]
    public void Sublayer_none_without_sequencing_passes() =>
        (Valid with { L2SpecType = L2SpecType.None, Sequencing = SequencingMode.None }).Validate();

    [Theory]
    [InlineData("abcdefghijklmnop")]        // 16 characters
    [InlineData("abcdefghijklmnopqrstuvwxyz")]
    [InlineData("a/b")]
    [InlineData("/")]
    [InlineData("a:b")]
    [InlineData("eth0:1")]
    [InlineData("a b")]
    [InlineData(" ")]
    [InlineData("a\tb")]
    [InlineData("a\nb")]
    [InlineData(".")]
    [InlineData("..")]
    [InlineData("")]
    [InlineData("\u00e4\u00e4\u00e4\u00e4\u00e4\u00e4\u00e4\u00e4")]   // 8 characters but 16 UTF-8 bytes
    public void Invalid_interface_names_are_InvalidInterfaceName(string name)
    {
        var e = Fails(Valid with { InterfaceName = name }, "L2tp.InvalidInterfaceName");
        Assert.Equal(name, e.Target);
        Assert.Throws<L2tpException>(() => SessionSpec.CheckInterfaceName(name));
    }

    [Theory]
    [InlineData("l2tpeth%d")]
    [InlineData("pw%d")]
    [InlineData("abcdefghijklmno")]         // 15 characters: the most IFNAMSIZ allows
    [InlineData("l2tp0")]
    [InlineData("a")]
    [InlineData("...")]
    [InlineData(".a")]
    [InlineData("a.b")]
    [InlineData("pw-1_x@y")]
    public void Valid_interface_names_pass(string name)
    {
        (Valid with { InterfaceName = name }).Validate();
        SessionSpec.CheckInterfaceName(name);
    }

    [Fact]
    public void DefaultNamePattern_is_the_kernels_l2tpeth_percent_d() =>
        Assert.Equal("l2tpeth%d", SessionSpec.DefaultNamePattern);

    [Fact]
    public void Send_and_recv_follow_the_sequencing_mode()
    {
        Assert.False((Valid with { Sequencing = SequencingMode.None }).SendSequence);
        Assert.True((Valid with { Sequencing = SequencingMode.Send }).SendSequence);
        Assert.False((Valid with { Sequencing = SequencingMode.Send }).RecvSequence);
        Assert.True((Valid with { Sequencing = SequencingMode.Recv }).RecvSequence);
        Assert.False((Valid with { Sequencing = SequencingMode.Recv }).SendSequence);
        Assert.True((Valid with { Sequencing = SequencingMode.Both }).SendSequence);
        Assert.True((Valid with { Sequencing = SequencingMode.Both }).RecvSequence);
    }
}

/// <summary>Values only a decoded netlink request can carry (the cmdlets' enum parameters cannot).</summary>
public class UndefinedEnumValidationTests
{
    [Theory]
    [InlineData(2)]
    [InlineData(0x3030)]
    public void Tunnel_with_an_undefined_encapsulation_fails(int encap)
    {
        var t = new TunnelSpec
        {
            TunnelId = 1, PeerTunnelId = 2, Encapsulation = (Encapsulation)encap,
            Local = IPAddress.Parse("192.0.2.1"), Remote = IPAddress.Parse("192.0.2.2"),
        };
        Assert.Equal("L2tp.InvalidEncapsulation", Assert.Throws<L2tpException>(t.Validate).ErrorId);
        (t with { Encapsulation = Encapsulation.Ip }).Validate();
    }

    [Theory]
    [InlineData(2)]
    [InlineData(255)]
    public void Session_with_an_undefined_sublayer_type_fails(int l2spec)
    {
        var s = new SessionSpec { TunnelId = 1, SessionId = 2, PeerSessionId = 3, L2SpecType = (L2SpecType)l2spec };
        Assert.Equal("L2tp.InvalidL2SpecType", Assert.Throws<L2tpException>(s.Validate).ErrorId);
        (s with { L2SpecType = L2SpecType.None }).Validate();
    }

    [Fact]
    public void Session_with_an_undefined_sequencing_mode_fails()
    {
        var s = new SessionSpec { TunnelId = 1, SessionId = 2, PeerSessionId = 3, Sequencing = (SequencingMode)4 };
        Assert.Equal("L2tp.InvalidArgument", Assert.Throws<L2tpException>(s.Validate).ErrorId);
    }
}

/// <summary>A spec's Validate refuses with this error id, as an invalid argument.</summary>
internal static class SpecRule
{
    public static L2tpException Fails(Action validate, string errorId)
    {
        var e = Assert.Throws<L2tpException>(validate);
        Assert.Equal(errorId, e.ErrorId);
        Assert.Equal(L2tpErrorKind.InvalidArgument, e.Kind);
        return e;
    }
}
