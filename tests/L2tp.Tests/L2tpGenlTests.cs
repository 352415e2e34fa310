using System.Net;
using L2tp.Netlink;
using L2tp.Protocol;
using Xunit;
using static L2tp.Tests.Hex;

namespace L2tp.Tests;

/// <summary>The l2tp generic-netlink messages: requests as iproute2 builds them, and replies both ways.</summary>
public class L2tpGenlTests
{
    private static byte[] Attrs(Action<NetlinkWriter> write)
    {
        var w = new NetlinkWriter();
        write(w);
        return w.ToArray();
    }

    private static NetlinkAttributes Parse(Action<NetlinkWriter> body, byte cmd = L2tpGenl.CMD_TUNNEL_GET)
    {
        var w = new NetlinkWriter();
        w.Begin(0x1c, 0x2, 1).Genl(cmd, L2tpGenl.Version);
        body(w);
        w.End();
        var m = Assert.Single(NetlinkMessage.Split(w.ToArray()));
        Assert.Equal(cmd, m.GenlCommand);
        return m.GenlAttributes;
    }

    private static readonly TunnelSpec Udp4 = new()
    {
        TunnelId = 100, PeerTunnelId = 200, Encapsulation = Encapsulation.Udp,
        Local = IPAddress.Parse("192.0.2.1"), Remote = IPAddress.Parse("192.0.2.2"),
        SourcePort = 1701, DestinationPort = 1702,
    };

    private static readonly TunnelSpec Udp6 = Udp4 with
    {
        Local = IPAddress.Parse("2001:db8::1"), Remote = IPAddress.Parse("2001:db8::2"),
    };

    private const string Udp4Common =
        "0800 0900 64000000" +    // CONN_ID 100
        "0800 0a00 c8000000" +    // PEER_CONN_ID 200
        "0500 0700 03 000000" +   // PROTO_VERSION 3
        "0600 0200 0000 0000";    // ENCAP_TYPE UDP

    [Fact]
    public void Numbers_are_those_of_uapi_linux_l2tp_h()
    {
        Assert.Equal("l2tp", L2tpGenl.FamilyName);
        Assert.Equal(1, L2tpGenl.Version);
        Assert.Equal(new byte[] { 0, 1, 2, 3, 4, 5, 6, 7, 8 }, new[]
        {
            L2tpGenl.CMD_NOOP, L2tpGenl.CMD_TUNNEL_CREATE, L2tpGenl.CMD_TUNNEL_DELETE, L2tpGenl.CMD_TUNNEL_MODIFY,
            L2tpGenl.CMD_TUNNEL_GET, L2tpGenl.CMD_SESSION_CREATE, L2tpGenl.CMD_SESSION_DELETE,
            L2tpGenl.CMD_SESSION_MODIFY, L2tpGenl.CMD_SESSION_GET,
        });
        Assert.Equal(Enumerable.Range(1, 35).Select(i => (ushort)i), new[]
        {
            L2tpGenl.ATTR_PW_TYPE, L2tpGenl.ATTR_ENCAP_TYPE, L2tpGenl.ATTR_OFFSET, L2tpGenl.ATTR_DATA_SEQ,
            L2tpGenl.ATTR_L2SPEC_TYPE, L2tpGenl.ATTR_L2SPEC_LEN, L2tpGenl.ATTR_PROTO_VERSION, L2tpGenl.ATTR_IFNAME,
            L2tpGenl.ATTR_CONN_ID, L2tpGenl.ATTR_PEER_CONN_ID, L2tpGenl.ATTR_SESSION_ID, L2tpGenl.ATTR_PEER_SESSION_ID,
            L2tpGenl.ATTR_UDP_CSUM, L2tpGenl.ATTR_VLAN_ID, L2tpGenl.ATTR_COOKIE, L2tpGenl.ATTR_PEER_COOKIE,
            L2tpGenl.ATTR_DEBUG, L2tpGenl.ATTR_RECV_SEQ, L2tpGenl.ATTR_SEND_SEQ, L2tpGenl.ATTR_LNS_MODE,
            L2tpGenl.ATTR_USING_IPSEC, L2tpGenl.ATTR_RECV_TIMEOUT, L2tpGenl.ATTR_FD, L2tpGenl.ATTR_IP_SADDR,
            L2tpGenl.ATTR_IP_DADDR, L2tpGenl.ATTR_UDP_SPORT, L2tpGenl.ATTR_UDP_DPORT, L2tpGenl.ATTR_MTU,
            L2tpGenl.ATTR_MRU, L2tpGenl.ATTR_STATS, L2tpGenl.ATTR_IP6_SADDR, L2tpGenl.ATTR_IP6_DADDR,
            L2tpGenl.ATTR_UDP_ZERO_CSUM6_TX, L2tpGenl.ATTR_UDP_ZERO_CSUM6_RX, L2tpGenl.ATTR_PAD,
        });
        Assert.Equal(new ushort[] { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11 }, new[]
        {
            L2tpGenl.STATS_TX_PACKETS, L2tpGenl.STATS_TX_BYTES, L2tpGenl.STATS_TX_ERRORS, L2tpGenl.STATS_RX_PACKETS,
            L2tpGenl.STATS_RX_BYTES, L2tpGenl.STATS_RX_SEQ_DISCARDS, L2tpGenl.STATS_RX_OOS_PACKETS,
            L2tpGenl.STATS_RX_ERRORS, L2tpGenl.STATS_PAD, L2tpGenl.STATS_RX_COOKIE_DISCARDS, L2tpGenl.STATS_RX_INVALID,
        });
        Assert.Equal(5, L2tpGenl.PWTYPE_ETH);
    }

    [Fact]
    public void Tunnel_create_udp_ipv4_is_attribute_for_attribute_what_ip_l2tp_sends()
    {
        var got = Attrs(w => L2tpGenl.WriteTunnelCreate(w, Udp4));
        Assert.Equal(B(Udp4Common +
            "0800 1800 c0000201" +    // IP_SADDR 192.0.2.1
            "0800 1900 c0000202" +    // IP_DADDR 192.0.2.2
            "0600 1a00 a506 0000" +   // UDP_SPORT 1701, host order
            "0600 1b00 a606 0000"),   // UDP_DPORT 1702; no UDP_CSUM: the kernel would take its presence as "on"
            got);
    }

    [Fact]
    public void Tunnel_create_udp_ipv4_with_checksum_adds_UDP_CSUM_1_last()
    {
        var got = Attrs(w => L2tpGenl.WriteTunnelCreate(w, Udp4 with { UdpChecksum = true }));
        Assert.Equal(B(Udp4Common +
            "0800 1800 c0000201 0800 1900 c0000202 0600 1a00 a506 0000 0600 1b00 a606 0000" +
            "0500 0d00 01 000000"), got);
    }

    [Fact]
    public void Tunnel_create_ip_encap_sends_no_udp_attributes()
    {
        var got = Attrs(w => L2tpGenl.WriteTunnelCreate(w, Udp4 with { Encapsulation = Encapsulation.Ip, UdpChecksum = true }));
        Assert.Equal(B(
            "0800 0900 64000000 0800 0a00 c8000000 0500 0700 03000000" +
            "0600 0200 0100 0000" +   // ENCAP_TYPE IP
            "0800 1800 c0000201 0800 1900 c0000202"), got);
    }

    [Fact]
    public void Tunnel_create_udp_ipv6_with_default_checksums_sends_no_zero_csum6_flags()
    {
        var got = Attrs(w => L2tpGenl.WriteTunnelCreate(w, Udp6));
        Assert.Equal(B(Udp4Common +
            "1400 1f00 20010db8000000000000000000000001" +   // IP6_SADDR
            "1400 2000 20010db8000000000000000000000002" +   // IP6_DADDR
            "0600 1a00 a506 0000 0600 1b00 a606 0000"), got);
    }

    [Fact]
    public void Tunnel_create_udp_ipv6_with_checksums_off_sends_ZERO_CSUM6_TX_then_RX_flags()
    {
        var got = Attrs(w => L2tpGenl.WriteTunnelCreate(w, Udp6 with { Udp6ChecksumTx = false, Udp6ChecksumRx = false }));
        Assert.Equal(B(Udp4Common +
            "1400 1f00 20010db8000000000000000000000001 1400 2000 20010db8000000000000000000000002" +
            "0600 1a00 a506 0000 0600 1b00 a606 0000" +
            "0400 2100" +             // UDP_ZERO_CSUM6_TX, a flag
            "0400 2200"), got);       // UDP_ZERO_CSUM6_RX
        var onlyTx = Attrs(w => L2tpGenl.WriteTunnelCreate(w, Udp6 with { Udp6ChecksumTx = false }));
        Assert.EndsWith("0600 1b00 a606 0000 0400 2100".Replace(" ", ""), S(onlyTx));
        var onlyRx = Attrs(w => L2tpGenl.WriteTunnelCreate(w, Udp6 with { Udp6ChecksumRx = false }));
        Assert.EndsWith("0600 1b00 a606 0000 0400 2200".Replace(" ", ""), S(onlyRx));
    }

    [Fact]
    public void Tunnel_create_reads_back_into_the_same_spec()
    {
        foreach (var t in new[]
        {
            Udp4, Udp4 with { UdpChecksum = true }, Udp4 with { Encapsulation = Encapsulation.Ip, SourcePort = 0, DestinationPort = 0 },
            Udp6, Udp6 with { Udp6ChecksumTx = false }, Udp6 with { Udp6ChecksumRx = false },
        })
        {
            var back = L2tpGenl.ReadTunnelCreate(Parse(w => L2tpGenl.WriteTunnelCreate(w, t), L2tpGenl.CMD_TUNNEL_CREATE));
            Assert.Equal(t, back);
        }
    }

    [Fact]
    public void Tunnel_create_from_ip_l2tp_bytes_is_read_by_the_forwarder()
    {
        // What `ip l2tp add tunnel tunnel_id 100 peer_tunnel_id 200 encap udp local 192.0.2.1 remote 192.0.2.2
        //  udp_sport 1701 udp_dport 1702 udp_csum on` puts after the genl header.
        var a = NetlinkAttributes.Parse(B(Udp4Common +
            "0800 1800 c0000201 0800 1900 c0000202 0600 1a00 a506 0000 0600 1b00 a606 0000 0500 0d00 01000000"));
        Assert.Equal(Udp4 with { UdpChecksum = true }, L2tpGenl.ReadTunnelCreate(a));
    }

    [Fact]
    public void Tunnel_create_with_UDP_CSUM_0_still_means_checksum_on_as_in_the_kernel()
    {
        var a = NetlinkAttributes.Parse(B(Udp4Common + "0800 1800 c0000201 0800 1900 c0000202 0500 0d00 00000000"));
        Assert.True(L2tpGenl.ReadTunnelCreate(a).UdpChecksum);
    }

    private static readonly SessionSpec Session = new()
    {
        TunnelId = 100, SessionId = 1001, PeerSessionId = 2002,
        Cookie = B("01020304"), PeerCookie = B("1122334455667788"),
        InterfaceName = "l2tp0", Sequencing = SequencingMode.Both, L2SpecType = L2SpecType.Default,
    };

    [Fact]
    public void Session_create_has_ids_pw_type_5_l2spec_seq_flags_cookies_and_ifname_in_ip_l2tp_order()
    {
        var got = Attrs(w => L2tpGenl.WriteSessionCreate(w, Session));
        Assert.Equal(B(
            "0800 0900 64000000" +          // CONN_ID 100
            "0800 0b00 e9030000" +          // SESSION_ID 1001
            "0800 0c00 d2070000" +          // PEER_SESSION_ID 2002
            "0600 0100 0500 0000" +         // PW_TYPE ETH
            "0500 0500 01 000000" +         // L2SPEC_TYPE DEFAULT
            "0500 0600 04 000000" +         // L2SPEC_LEN 4
            "0500 1200 01 000000" +         // RECV_SEQ 1
            "0500 1300 01 000000" +         // SEND_SEQ 1
            "0800 0f00 01020304" +          // COOKIE (what we send)
            "0c00 1000 1122334455667788" +  // PEER_COOKIE (what we expect)
            "0a00 0800 6c32747030 00 0000"), // IFNAME "l2tp0\0"
            got);
    }

    [Fact]
    public void Session_create_minimal_with_no_sublayer_has_l2spec_type_0_len_0_and_nothing_optional()
    {
        var s = new SessionSpec { TunnelId = 1, SessionId = 2, PeerSessionId = 3, L2SpecType = L2SpecType.None };
        Assert.Equal(B(
            "0800 0900 01000000 0800 0b00 02000000 0800 0c00 03000000" +
            "0600 0100 0500 0000" +
            "0500 0500 00 000000" +
            "0500 0600 00 000000"), Attrs(w => L2tpGenl.WriteSessionCreate(w, s)));
    }

    [Theory]
    [InlineData(SequencingMode.Send, "0500 1300 01000000")]
    [InlineData(SequencingMode.Recv, "0500 1200 01000000")]
    public void Session_create_sends_only_the_seq_flag_that_is_on(SequencingMode mode, string tail)
    {
        var s = new SessionSpec { TunnelId = 1, SessionId = 2, PeerSessionId = 3, Sequencing = mode };
        Assert.EndsWith(S(B("0500 0600 04000000" + tail)), S(Attrs(w => L2tpGenl.WriteSessionCreate(w, s))));
    }

    [Fact]
    public void Session_create_reads_back_into_the_same_spec()
    {
        foreach (var s in new[]
        {
            Session,
            Session with { Sequencing = SequencingMode.Send, Cookie = [], InterfaceName = null },
            Session with { Sequencing = SequencingMode.Recv, PeerCookie = B("aabbccdd") },
            new SessionSpec { TunnelId = 1, SessionId = 2, PeerSessionId = 3, L2SpecType = L2SpecType.None },
        })
        {
            var back = L2tpGenl.ReadSessionCreate(Parse(w => L2tpGenl.WriteSessionCreate(w, s), L2tpGenl.CMD_SESSION_CREATE));
            // A record compares its byte[] cookies by reference: compare them as hex, and everything else as the record.
            Assert.Equal((S(s.Cookie), S(s.PeerCookie)), (S(back.Cookie), S(back.PeerCookie)));
            Assert.Equal(s, back with { Cookie = s.Cookie, PeerCookie = s.PeerCookie });
        }
    }

    [Fact]
    public void Session_create_without_L2SPEC_TYPE_defaults_to_default_sublayer_as_the_kernel()
    {
        var a = NetlinkAttributes.Parse(B("0800 0900 01000000 0800 0b00 02000000 0800 0c00 03000000 0600 0100 0500 0000"));
        Assert.Equal(L2SpecType.Default, L2tpGenl.ReadSessionCreate(a).L2SpecType);
    }

    private static L2tpStatistics DistinctStats(ulong seed) => new()
    {
        TxPackets = seed + 1, TxBytes = seed + 2, TxErrors = seed + 3, RxPackets = seed + 4, RxBytes = seed + 5,
        RxSeqDiscards = seed + 6, RxOosPackets = seed + 7, RxErrors = seed + 8, RxCookieDiscards = seed + 9, RxInvalid = seed + 10,
    };

    /// <summary>Every counter, by name: all ten are compared, and a counter added later joins without a line here.</summary>
    private static void AssertStats(L2tpStatistics e, L2tpStatistics a)
    {
        var counters = typeof(L2tpStatistics).GetProperties().Where(p => p.PropertyType == typeof(ulong)).ToList();
        Assert.Equal(10, counters.Count);
        Assert.Equal(counters.Select(p => $"{p.Name}={p.GetValue(e)}"), counters.Select(p => $"{p.Name}={p.GetValue(a)}"));
    }

    [Fact]
    public void Stats_nest_carries_all_ten_u64_counters_under_their_uapi_numbers()
    {
        var got = Attrs(w => L2tpGenl.WriteStats(w, DistinctStats(0x0100000000000000)));
        var nest = NetlinkAttributes.Parse(got);
        var stats = nest.Nested(L2tpGenl.ATTR_STATS);
        Assert.Equal(10, stats.Types.Count());
        Assert.Equal(4 + 10 * 12, got.Length);
        Assert.Equal(B("7c00 1e80"), got[..4]);   // len 124, STATS | NLA_F_NESTED
        foreach (var (type, value) in new (ushort, ulong)[] { (1, 1), (2, 2), (3, 3), (4, 4), (5, 5), (6, 6), (7, 7), (8, 8), (10, 9), (11, 10) })
            Assert.Equal(0x0100000000000000ul + value, stats.U64(type));
    }

    [Fact]
    public void Tunnel_reply_round_trips_with_every_counter()
    {
        foreach (var t in new[]
        {
            Udp4, Udp4 with { UdpChecksum = true }, Udp4 with { Encapsulation = Encapsulation.Ip },
            Udp6, Udp6 with { Udp6ChecksumTx = false, Udp6ChecksumRx = false }, Udp6 with { Udp6ChecksumRx = false },
        })
        {
            var st = DistinctStats(0xFFFFFFFF00);
            var r = L2tpGenl.ReadTunnel(Parse(w => L2tpGenl.WriteTunnel(w, t, st)), BackendKind.Managed, "ns1");
            bool udp = t.Encapsulation == Encapsulation.Udp;
            Assert.Equal(
                (t.TunnelId, t.PeerTunnelId, t.Encapsulation, t.Local, t.Remote, udp ? t.SourcePort : (ushort)0, udp ? t.DestinationPort : (ushort)0,
                    t.UdpChecksum && udp, t.Udp6ChecksumTx, t.Udp6ChecksumRx, BackendKind.Managed, "ns1"),
                (r.TunnelId, r.PeerTunnelId, r.Encapsulation, r.Local, r.Remote, r.SourcePort, r.DestinationPort,
                    r.UdpChecksum, r.Udp6ChecksumTx, r.Udp6ChecksumRx, r.Backend, r.NetworkNamespace));
            AssertStats(st, r.Statistics);
        }
    }

    [Fact]
    public void Tunnel_reply_carries_the_forwarders_send_state_in_private_attributes()
    {
        var up = L2tpGenl.ReadTunnel(Parse(w => L2tpGenl.WriteTunnel(w, Udp4, new(), (0, 0))), BackendKind.Managed, "");
        Assert.Equal(L2tpTunnelState.Up, up.State);
        Assert.Equal("", up.LastSendError);
        Assert.Null(up.LastSendErrorTime);

        var attrs = Parse(w => L2tpGenl.WriteTunnel(w, Udp4, new(), (101, 1_700_000_000_123)));
        Assert.All(new[] { L2tpGenl.ATTR_FWD_TX_STATE, L2tpGenl.ATTR_FWD_TX_ERRNO, L2tpGenl.ATTR_FWD_TX_ERROR_TIME },
            t => Assert.True(t > 0xFF, "forwarder-only attributes stay clear of the kernel's range"));
        var failing = L2tpGenl.ReadTunnel(attrs, BackendKind.Managed, "");
        Assert.Equal(L2tpTunnelState.SendFailing, failing.State);
        Assert.Equal("Network is unreachable (ENETUNREACH)", failing.LastSendError);
        Assert.Equal(new DateTime(2023, 11, 14, 22, 13, 20, 123, DateTimeKind.Utc), failing.LastSendErrorTime);
    }

    [Fact]
    public void Tunnel_reply_without_send_state_reads_Unknown_as_from_the_kernel()
    {
        var r = L2tpGenl.ReadTunnel(Parse(w => L2tpGenl.WriteTunnel(w, Udp4, new())), BackendKind.Kernel, "");
        Assert.Equal(L2tpTunnelState.Unknown, r.State);
        Assert.Equal("", r.LastSendError);
        Assert.Null(r.LastSendErrorTime);
    }

    [Fact]
    public void Tunnel_reply_reports_local_any_as_the_bind_address()
    {
        var r = L2tpGenl.ReadTunnel(Parse(w => L2tpGenl.WriteTunnel(w, Udp4 with { Local = IPAddress.Any }, new())), BackendKind.Managed, "");
        Assert.Equal(IPAddress.Any, r.Local);
    }

    [Fact]
    public void Kernel_tunnel_reply_with_stats_nest_without_NLA_F_NESTED_is_read()
    {
        // The kernel's order: PROTO_VERSION, CONN_ID, PEER_CONN_ID, DEBUG, ENCAP_TYPE, STATS (no NESTED flag),
        // UDP_CSUM 0, UDP_SPORT, UDP_DPORT, IP_SADDR, IP_DADDR.
        var stats = new Bytes();
        foreach (ushort type in new ushort[] { 1, 2, 3, 4, 5, 6, 10, 7, 8, 11 })
            stats.Attr(type, BitConverter.GetBytes(1000ul * type));
        var a = NetlinkAttributes.Parse(new Bytes()
            .Attr(7, B("03")).Attr(9, B("64000000")).Attr(10, B("c8000000")).Attr(17, B("00000000")).Attr(2, B("0000"))
            .Attr(30, stats.ToArray())
            .Attr(13, B("00")).Attr(26, B("a506")).Attr(27, B("a606")).Attr(24, B("c0000201")).Attr(25, B("c0000202"))
            .ToArray());
        var r = L2tpGenl.ReadTunnel(a, BackendKind.Kernel, "");
        Assert.Equal(100u, r.TunnelId);
        Assert.Equal(200u, r.PeerTunnelId);
        Assert.False(r.UdpChecksum);
        Assert.Equal(1701, r.SourcePort);
        Assert.Equal(IPAddress.Parse("192.0.2.2"), r.Remote);
        AssertStats(new L2tpStatistics
        {
            TxPackets = 1000, TxBytes = 2000, TxErrors = 3000, RxPackets = 4000, RxBytes = 5000, RxSeqDiscards = 6000,
            RxOosPackets = 7000, RxErrors = 8000, RxCookieDiscards = 10000, RxInvalid = 11000,
        }, r.Statistics);
    }

    [Fact]
    public void Old_kernel_reply_without_cookie_discards_and_rx_invalid_reads_them_as_0()
    {
        var stats = new Bytes().Attr(1, BitConverter.GetBytes(5ul)).ToArray();
        var a = NetlinkAttributes.Parse(new Bytes().Attr(9, B("01000000")).Attr(30, stats).ToArray());
        var r = L2tpGenl.ReadTunnel(a, BackendKind.Kernel, "");
        Assert.Equal(5ul, r.Statistics.TxPackets);
        Assert.Equal(0ul, r.Statistics.RxCookieDiscards);
        Assert.Equal(0ul, r.Statistics.RxInvalid);
    }

    [Fact]
    public void Session_reply_round_trips_with_every_counter()
    {
        foreach (var s in new[]
        {
            Session,
            Session with { Cookie = [], PeerCookie = [], Sequencing = SequencingMode.None, L2SpecType = L2SpecType.None },
            Session with { Sequencing = SequencingMode.Send },
            Session with { Sequencing = SequencingMode.Recv },
        })
        {
            var st = DistinctStats(1UL << 40);
            var r = L2tpGenl.ReadSession(Parse(w => L2tpGenl.WriteSession(w, s, 200, "pw0", st), L2tpGenl.CMD_SESSION_GET),
                BackendKind.Managed, "ns2");
            Assert.Equal(
                (s.TunnelId, 200u, s.SessionId, s.PeerSessionId, "pw0", S(s.Cookie), S(s.PeerCookie), (L2SpecType?)s.L2SpecType, s.Sequencing, BackendKind.Managed, "ns2"),
                (r.TunnelId, r.PeerTunnelId, r.SessionId, r.PeerSessionId, r.InterfaceName, r.Cookie, r.PeerCookie, r.L2SpecType, r.Sequencing, r.Backend, r.NetworkNamespace));
            AssertStats(st, r.Statistics);
        }
    }

    [Fact]
    public void Session_reply_formats_cookies_as_lower_case_hex()
    {
        var r = L2tpGenl.ReadSession(Parse(w => L2tpGenl.WriteSession(w, Session with { Cookie = B("DEADBEEF") }, 1, "x", new()),
            L2tpGenl.CMD_SESSION_GET), BackendKind.Kernel, "");
        Assert.Equal("deadbeef", r.Cookie);
        Assert.Equal("1122334455667788", r.PeerCookie);
    }

    [Fact]
    public void Session_create_with_a_reorder_timeout_ends_with_RECV_TIMEOUT_as_a_u64_of_milliseconds_and_reads_back()
    {
        var spec = new SessionSpec { TunnelId = 1, SessionId = 2, PeerSessionId = 3, ReorderTimeoutMs = 250 };
        var bytes = Attrs(w => L2tpGenl.WriteSessionCreate(w, spec));
        Assert.EndsWith(S(B("0c00 1600 fa00000000000000")), S(bytes));   // attribute 22, NLA_MSECS: u64 250
        Assert.Equal(250UL, L2tpGenl.ReadSessionCreate(Parse(w => L2tpGenl.WriteSessionCreate(w, spec), L2tpGenl.CMD_SESSION_CREATE)).ReorderTimeoutMs);
        Assert.DoesNotContain("1600", S(Attrs(w => L2tpGenl.WriteSessionCreate(w, spec with { ReorderTimeoutMs = 0 }))));
    }

    [Fact]
    public void Session_reply_carries_RECV_TIMEOUT_only_when_set_as_the_kernel_and_reads_it_as_a_TimeSpan()
    {
        var with = L2tpGenl.ReadSession(Parse(w => L2tpGenl.WriteSession(w, Session with { ReorderTimeoutMs = 1500 }, 1, "x", new()),
            L2tpGenl.CMD_SESSION_GET), BackendKind.Managed, "");
        Assert.Equal(TimeSpan.FromMilliseconds(1500), with.ReorderTimeout);
        var attrs = Parse(w => L2tpGenl.WriteSession(w, Session, 1, "x", new()), L2tpGenl.CMD_SESSION_GET);
        Assert.False(attrs.Has(L2tpGenl.ATTR_RECV_TIMEOUT));
        Assert.Equal(TimeSpan.Zero, L2tpGenl.ReadSession(attrs, BackendKind.Kernel, "").ReorderTimeout);
    }

    [Fact]
    public void Session_modify_sends_ids_then_both_seq_flags_then_RECV_TIMEOUT_and_only_what_changes()
    {
        Assert.Equal(B(
            "0800 0900 01000000 0800 0b00 02000000" +
            "0500 1200 00 000000" +             // RECV_SEQ 0
            "0500 1300 01 000000" +             // SEND_SEQ 1
            "0c00 1600 6400000000000000"),      // RECV_TIMEOUT 100 ms
            Attrs(w => L2tpGenl.WriteSessionModify(w, new(1, 2, SequencingMode.Send, 100))));
        Assert.Equal(B("0800 0900 01000000 0800 0b00 02000000 0c00 1600 0000000000000000"),
            Attrs(w => L2tpGenl.WriteSessionModify(w, new(1, 2, null, 0))));
    }

    [Theory]
    [InlineData(SequencingMode.None, "0500 1300 01000000", SequencingMode.Send)]         // SEND_SEQ 1 alone: recv stays off
    [InlineData(SequencingMode.Both, "0500 1300 00000000", SequencingMode.Recv)]         // SEND_SEQ 0 alone: recv stays on
    [InlineData(SequencingMode.Send, "0500 1200 01000000 0500 1300 00000000", SequencingMode.Recv)]
    public void Session_modify_read_by_the_forwarder_changes_only_the_directions_given(SequencingMode current, string seq, SequencingMode expected)
    {
        var a = NetlinkAttributes.Parse(B("0800 0900 01000000 0800 0b00 02000000 " + seq));
        var c = L2tpGenl.ReadSessionModify(a, current);
        Assert.Equal(new L2tpGenl.SessionChange(1, 2, expected, null), c);
    }

    [Fact]
    public void Session_modify_round_trips_through_the_forwarder_reader()
    {
        foreach (var c in new L2tpGenl.SessionChange[] { new(7, 8, SequencingMode.Both, 20), new(7, 8, null, 0), new(7, 8, SequencingMode.None, null) })
            Assert.Equal(c, L2tpGenl.ReadSessionModify(Parse(w => L2tpGenl.WriteSessionModify(w, c), L2tpGenl.CMD_SESSION_MODIFY), SequencingMode.Recv));
    }
}
