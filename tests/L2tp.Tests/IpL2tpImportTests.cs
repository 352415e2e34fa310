using L2tp.Configuration;
using Xunit;

namespace L2tp.Tests;

public class IpL2tpImportTests
{
    // ip-l2tp(8)'s EXAMPLES, site A, with the interface set up as the man page goes on to do.
    private const string ManPageSiteA = """
        # Setup L2TP tunnels and sessions
        ip l2tp add tunnel tunnel_id 3000 peer_tunnel_id 4000 \
                   encap udp local 1.2.3.4 remote 5.6.7.8 \
                   udp_sport 5000 udp_dport 6000
        ip l2tp add session tunnel_id 3000 session_id 1000 \
                   peer_session_id 2000
        ip link set l2tpeth0 up mtu 1488
        ip addr add 10.42.1.1 peer 10.42.1.2 dev l2tpeth0
        """;

    [Fact]
    public void Man_page_example_becomes_a_tunnel_a_session_and_its_interface_named_l2tpeth0()
    {
        var (c, warnings) = IpL2tpImport.FromScript(ManPageSiteA);
        Assert.Empty(warnings);
        var ns = Assert.Single(c.Namespaces);
        Assert.Equal("", ns.Name);
        var t = Assert.Single(ns.Tunnels);
        // No udp_csum in the script: none in the file, so the backend's default applies (Managed on, Kernel off).
        Assert.Equal((3000u, 4000u, Encapsulation.Udp, "1.2.3.4", "5.6.7.8", (ushort)5000, (ushort)6000, (bool?)null),
            (t.TunnelId, t.PeerTunnelId, t.Encapsulation, t.Local, t.Remote, t.SourcePort, t.DestinationPort, t.UdpChecksum));
        var s = Assert.Single(t.Sessions);
        Assert.Equal((1000u, 2000u, "l2tpeth0", L2SpecType.Default, SequencingMode.None), (s.SessionId, s.PeerSessionId, s.InterfaceName, s.L2SpecType, s.Sequencing));
        Assert.True(s.Interface!.Up);
        Assert.Equal("1488", s.Interface.Mtu);
        var a = Assert.Single(s.Interface.Addresses!);
        Assert.Equal(("10.42.1.1", "10.42.1.2"), (a.Address, a.Peer));
    }

    [Fact]
    public void Aliases_abbreviated_commands_namespaces_and_every_option_are_read()
    {
        var (c, _) = IpL2tpImport.FromScript("""
            ip -n site-b l2 a tunnel tid 4000 ptid 3000 encap ip local 2001:db8::2 remote 2001:db8::1
            ip netns exec site-b ip l2tp add session name pw0 tid 4000 sid 2000 psid 1000 cookie 0A0B0C0D peer_cookie 0102030405060708 l2spec_type none seq both
            ip -n site-b l2tp add tunnel tunnel_id 4001 peer_tunnel_id 3001 encap udp local 192.0.2.2 remote 192.0.2.1 udp_sport 6001 udp_dport 5001 udp_csum on
            """);
        var ns = Assert.Single(c.Namespaces);
        Assert.Equal("site-b", ns.Name);
        var ip = ns.Tunnels.Single(t => t.TunnelId == 4000);
        Assert.Equal((Encapsulation.Ip, (ushort)0), (ip.Encapsulation, ip.SourcePort));
        var s = Assert.Single(ip.Sessions);
        Assert.Equal(("pw0", "0a0b0c0d", "0102030405060708", L2SpecType.None, SequencingMode.Both), (s.InterfaceName, s.Cookie, s.PeerCookie, s.L2SpecType, s.Sequencing));
        Assert.True(ns.Tunnels.Single(t => t.TunnelId == 4001).UdpChecksum);
    }

    [Fact]
    public void Bridges_and_their_ports_come_from_ip_link_lines_including_ports_that_are_not_sessions()
    {
        var (c, warnings) = IpL2tpImport.FromScript("""
            ip l2tp add tunnel tunnel_id 1 peer_tunnel_id 2 encap udp local 192.0.2.1 remote 192.0.2.2 udp_sport 1701 udp_dport 1701
            ip l2tp add session tunnel_id 1 session_id 10 peer_session_id 20 name pw0
            ip link add br0 type bridge && ip link set br0 up
            ip link set pw0 master br0; ip link set pw0 up
            ip link set eth1 master br0
            """);
        Assert.Empty(warnings);
        var br = Assert.Single(c.Namespaces[0].Bridges!);
        Assert.Equal(("br0", true), (br.Name, br.Up));
        Assert.Equal(new[] { "pw0", "eth1" }, br.Ports);
    }

    [Fact]
    public void A_deleted_session_is_not_in_the_result()
    {
        var (c, _) = IpL2tpImport.FromScript(ManPageSiteA + "\nip l2tp del session tunnel_id 3000 session_id 1000\n");
        Assert.Empty(c.Namespaces[0].Tunnels[0].Sessions);
    }

    [Theory]
    [InlineData("ip l2tp add tunnel tunnel_id 1 peer_tunnel_id 2 encap udp local 192.0.2.1 remote 192.0.2.2 udp_sport 1 udp_dport 2 bogus 3", "bogus", "line 1")]
    [InlineData("ip l2tp add tunnel tunnel_id 1 peer_tunnel_id 2 encap gre local 192.0.2.1 remote 192.0.2.2", "gre", "line 1")]
    [InlineData("\nip l2tp add tunnel tunnel_id x peer_tunnel_id 2 encap ip local 192.0.2.1 remote 192.0.2.2", "x", "line 2")]
    [InlineData("ip l2tp add tunnel tunnel_id 1 peer_tunnel_id 2 encap udp local 192.0.2.1 remote 192.0.2.2", "udp_sport", "line 1")]
    [InlineData("ip l2tp add session tunnel_id 9 session_id 1 peer_session_id 2", "9", "line 1")]
    [InlineData("ip l2tp add tunnel tunnel_id 1 peer_tunnel_id 2 encap ip local 192.0.2.1 remote 192.0.2.2\nip l2tp add session tunnel_id 1 session_id 1 peer_session_id 2 cookie abc", "abc", "line 2")]
    [InlineData("ip l2tp add tunnel tunnel_id 1 peer_tunnel_id 2 encap ip local $LOCAL remote 192.0.2.2", "ip l2tp add tunnel tunnel_id 1 peer_tunnel_id 2 encap ip local $LOCAL remote 192.0.2.2", "line 1")]
    public void Bad_input_names_the_line_and_the_offending_word(string script, string word, string where)
    {
        var e = Assert.Throws<L2tpException>(() => IpL2tpImport.FromScript(script));
        Assert.Equal("L2tp.InvalidIpL2tpInput", e.ErrorId);
        Assert.Equal(word, e.Target);
        Assert.StartsWith(where + ":", e.Message);
    }

    [Fact]
    public void Lines_that_are_not_pseudowire_settings_are_left_out_with_a_warning()
    {
        var (_, warnings) = IpL2tpImport.FromScript(ManPageSiteA + "\nmodprobe l2tp_eth\nip route add 10.0.0.0/8 via 10.42.1.2\n");
        Assert.Equal(2, warnings.Count);
        Assert.Contains("modprobe", warnings[0]);
        Assert.Contains("ip route", warnings[1]);
    }

    // What `ip -j l2tp show tunnel; ip -j l2tp show session` prints (iproute2's print_tunnel/print_session keys).
    private const string ShowJson = """
        [{"tunnel_id":3000,"encap":"UDP","local":"192.0.2.1","peer":"192.0.2.2","peer_tunnel":4000,"local_port":5000,"peer_port":6000,"checksum":true}]
        [{"session_id":1000,"tunnel_id":3000,"peer_session_id":2000,"peer_tunnel_id":4000,"interface":"l2tpeth0","cookie":"01020304","peer_cookie":"0a0b0c0d0e0f1011","send_seq":null,"recv_seq":null}]
        """;

    [Fact]
    public void Ip_json_show_output_of_tunnels_and_sessions_becomes_the_same_configuration_with_a_sublayer_warning()
    {
        var (c, warnings) = IpL2tpImport.Read(ShowJson, "site-a");
        var t = Assert.Single(Assert.Single(c.Namespaces).Tunnels);
        Assert.Equal("site-a", c.Namespaces[0].Name);
        Assert.Equal((3000u, 4000u, "192.0.2.1", "192.0.2.2", (ushort)5000, (ushort)6000, true),
            (t.TunnelId, t.PeerTunnelId, t.Local, t.Remote, t.SourcePort, t.DestinationPort, t.UdpChecksum));
        var s = Assert.Single(t.Sessions);
        Assert.Equal((1000u, 2000u, "l2tpeth0", "01020304", "0a0b0c0d0e0f1011", SequencingMode.Both),
            (s.SessionId, s.PeerSessionId, s.InterfaceName, s.Cookie, s.PeerCookie, s.Sequencing));
        Assert.Contains(warnings, w => w.Contains("sublayer"));
    }

    [Fact]
    public void Ip_json_session_in_a_tunnel_not_shown_is_refused()
    {
        var e = Assert.Throws<L2tpException>(() => IpL2tpImport.Read("""[{"session_id":1,"tunnel_id":7,"peer_session_id":2,"peer_tunnel_id":8}]"""));
        Assert.Equal("L2tp.InvalidIpL2tpInput", e.ErrorId);
        Assert.Equal("7", e.Target);
    }
}

public class PeerConfigurationTests
{
    private static L2tpConfiguration SiteA() => IpL2tpImport.FromScript("""
        ip l2tp add tunnel tunnel_id 3000 peer_tunnel_id 4000 encap udp local 192.0.2.1 remote 192.0.2.2 udp_sport 5000 udp_dport 6000 udp_csum on
        ip l2tp add session name pw0 tunnel_id 3000 session_id 1000 peer_session_id 2000 cookie 0102030405060708 peer_cookie 1112131415161718 seq both
        ip link set pw0 up mtu 1400
        ip addr add 198.51.100.1/24 dev pw0
        """).Configuration;

    [Fact]
    public void Mirror_swaps_ids_ports_cookies_and_addresses_and_keeps_sublayer_sequencing_checksum_and_mtu()
    {
        var peer = PeerConfiguration.Mirror(SiteA(), peerNamespace: "site-b");
        var ns = Assert.Single(peer.Namespaces);
        Assert.Equal("site-b", ns.Name);
        var t = Assert.Single(ns.Tunnels);
        Assert.Equal((4000u, 3000u, "192.0.2.2", "192.0.2.1", (ushort)6000, (ushort)5000, true),
            (t.TunnelId, t.PeerTunnelId, t.Local, t.Remote, t.SourcePort, t.DestinationPort, t.UdpChecksum));
        var s = Assert.Single(t.Sessions);
        Assert.Equal((2000u, 1000u, "1112131415161718", "0102030405060708", L2SpecType.Default, SequencingMode.Both, "1400"),
            (s.SessionId, s.PeerSessionId, s.Cookie, s.PeerCookie, s.L2SpecType, s.Sequencing, s.Interface!.Mtu));
        Assert.Null(s.Interface.Addresses);
        Assert.Equal("pw0", s.InterfaceName);
    }

    [Fact]
    public void Mirror_of_the_mirror_is_the_original_pseudowire()
    {
        var a = SiteA();
        var back = PeerConfiguration.Mirror(PeerConfiguration.Mirror(a));
        var (t0, t2) = (a.Namespaces[0].Tunnels[0], back.Namespaces[0].Tunnels[0]);
        Assert.Equal((t0.TunnelId, t0.PeerTunnelId, t0.Local, t0.Remote, t0.SourcePort, t0.DestinationPort),
            (t2.TunnelId, t2.PeerTunnelId, t2.Local, t2.Remote, t2.SourcePort, t2.DestinationPort));
        var (s0, s2) = (t0.Sessions[0], t2.Sessions[0]);
        Assert.Equal((s0.SessionId, s0.PeerSessionId, s0.Cookie, s0.PeerCookie), (s2.SessionId, s2.PeerSessionId, s2.Cookie, s2.PeerCookie));
    }

    [Fact]
    public void Local_any_needs_PeerRemote()
    {
        var a = SiteA();
        a.Namespaces[0].Tunnels[0].Local = "any";
        var e = Assert.Throws<L2tpException>(() => PeerConfiguration.Mirror(a));
        Assert.Equal("L2tp.PeerAddressNeeded", e.ErrorId);
        Assert.Equal("192.0.2.9", PeerConfiguration.Mirror(a, peerRemote: "192.0.2.9").Namespaces[0].Tunnels[0].Remote);
    }

    [Fact]
    public void IpRoute2_script_reads_back_through_the_importer_as_the_mirrored_configuration()
    {
        var peer = PeerConfiguration.Mirror(SiteA(), peerNamespace: "site-b");
        string script = PeerConfiguration.ToIpRoute2(peer, "test");
        Assert.Contains("ip -n site-b l2tp add tunnel tunnel_id 4000 peer_tunnel_id 3000 encap udp local 192.0.2.2 remote 192.0.2.1 udp_sport 6000 udp_dport 5000 udp_csum on", script);
        var (read, warnings) = IpL2tpImport.FromScript(script);
        Assert.Empty(warnings);
        Assert.Equal(Normalize(peer), Normalize(read));
    }

    [Fact]
    public void Qemu_arguments_swap_sessions_and_cookies_as_qemu_names_them_and_warn_about_sequencing()
    {
        var (args, warnings) = PeerConfiguration.ToQemu(PeerConfiguration.Mirror(SiteA()));
        var a = Assert.Single(args);
        Assert.Equal("l2tpv3,id=l2tp0,src=192.0.2.2,dst=192.0.2.1,udp=on,srcport=6000,dstport=5000,txsession=1000,rxsession=2000," +
            $"txcookie={0x1112131415161718UL},rxcookie={0x0102030405060708UL},cookie64=on,counter=on", a);
        Assert.Contains(warnings, w => w.Contains("sequence numbers"));
    }

    // Interface names of unnamed sessions are what the script spells out; compare the rest.
    private static string Normalize(L2tpConfiguration c)
    {
        foreach (var s in c.Namespaces.SelectMany(n => n.Tunnels).SelectMany(t => t.Sessions))
            s.InterfaceName = null;
        return c.ToJson();
    }
}

public class DefaultChecksumInFileTests
{
    private static L2tpTunnelConfiguration Tunnel(bool? csum) => new()
    {
        TunnelId = 1, PeerTunnelId = 2, Local = "192.0.2.1", Remote = "192.0.2.2", SourcePort = 1701, DestinationPort = 1701, UdpChecksum = csum,
    };

    [Fact]
    public void A_file_without_udpChecksum_accepts_the_backends_default_and_a_file_with_it_wants_that_value()
    {
        Assert.Empty(Planner.TunnelDiffs(Tunnel(null), Tunnel(true)));
        Assert.Empty(Planner.TunnelDiffs(Tunnel(null), Tunnel(false)));
        Assert.Single(Planner.TunnelDiffs(Tunnel(false), Tunnel(true)));
    }

    [Fact]
    public void The_writer_leaves_out_an_unset_udpChecksum_and_the_reader_keeps_it_unset()
    {
        var c = new L2tpConfiguration { Namespaces = { new L2tpNamespaceConfiguration { Tunnels = { Tunnel(null) } } } };
        string json = c.ToJson();
        Assert.DoesNotContain("udpChecksum", json);
        Assert.Null(L2tpConfiguration.FromJson(json).Namespaces[0].Tunnels[0].UdpChecksum);
    }
}

public class ReorderTimeoutInFileTests
{
    [Fact]
    public void The_reorder_timeout_survives_writing_and_reading_a_file_and_comes_from_ip_json_reorder_timeout()
    {
        var (c, _) = IpL2tpImport.Read("""
            [{"tunnel_id":1,"encap":"IP","local":"192.0.2.1","peer":"192.0.2.2","peer_tunnel":2}]
            [{"session_id":10,"tunnel_id":1,"peer_session_id":20,"peer_tunnel_id":2,"reorder_timeout":150,"recv_seq":null}]
            """);
        var s = c.Namespaces[0].Tunnels[0].Sessions[0];
        Assert.Equal((150u, SequencingMode.Recv), (s.ReorderTimeout!.Value, s.Sequencing));
        string json = c.ToJson();
        Assert.Contains("\"reorderTimeout\": 150", json);
        Assert.Equal(150u, L2tpConfiguration.FromJson(json).Namespaces[0].Tunnels[0].Sessions[0].ReorderTimeout);
        Assert.Equal(150u, PeerConfiguration.Mirror(c).Namespaces[0].Tunnels[0].Sessions[0].ReorderTimeout);
    }
}

public class QemuFormatTests
{
    [Fact]
    public void A_one_sided_cookie_gets_a_warning_that_qemu_refuses_it()
    {
        var (c, _) = IpL2tpImport.FromScript("""
            ip l2tp add tunnel tunnel_id 1 peer_tunnel_id 2 encap ip local 192.0.2.1 remote 192.0.2.2
            ip l2tp add session tunnel_id 1 session_id 10 peer_session_id 20 peer_cookie 01020304
            """);
        var (_, warnings) = PeerConfiguration.ToQemu(PeerConfiguration.Mirror(c));
        Assert.Contains(warnings, w => w.Contains("both cookies or neither"));
    }
}
