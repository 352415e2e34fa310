using System.Net;
using L2tp.Control;
using L2tp.Forwarder.Dataplane;
using L2tp.Netlink;
using L2tp.Protocol;
using Xunit;
using static L2tp.Tests.Hex;

namespace L2tp.Tests;

/// <summary>
/// Packet diagnosis: each way a peer's packets can differ from what a session expects becomes its finding, in words;
/// the forwarder's bounded table; the DIAGNOSE codec; the capture classifier; liveness.
/// </summary>
public sealed class DiagnosisTests
{
    /// <summary>A 60-byte IPv4 frame (what a ping carries): the analysis recognises it by its ethertype and version.</summary>
    private static readonly byte[] Ip4Frame = B("02000000000a 02000000000b 0800 4500002e").Concat(new byte[42]).ToArray();

    private static readonly L2tpTunnel Tunnel = new()
    {
        TunnelId = 3000, PeerTunnelId = 4000, Encapsulation = Encapsulation.Udp, Local = IPAddress.Parse("192.0.2.1"),
        Remote = IPAddress.Parse("192.0.2.2"), SourcePort = 5000, DestinationPort = 6000,
    };

    private static L2tpSession Session(string peerCookie = "", L2SpecType? l2 = L2SpecType.Default, SequencingMode seq = SequencingMode.None) => new()
    {
        TunnelId = 3000, SessionId = 1000, PeerSessionId = 2000, PeerCookie = peerCookie, L2SpecType = l2, Sequencing = seq,
        InterfaceName = "l2tpeth0", Mtu = 1446,
    };

    private static SessionExpectation Expect(L2tpSession s) => new(s.SessionId, L2tp.Protocol.Cookie.Parse(s.PeerCookie, "PeerCookie"),
        s.L2SpecType ?? L2SpecType.Default, s.Sequencing.HasFlag(SequencingMode.Recv), s.Mtu + 18);

    /// <summary>A UDP-encapsulated data packet as a peer would send it.</summary>
    private static byte[] Packet(uint session, string cookie = "", bool sublayer = true, uint? seq = null, byte[]? frame = null)
    {
        var h = new byte[L2tpHeader.MaxLength];
        int n = L2tpHeader.Write(h, Encapsulation.Udp, session, Convert.FromHexString(cookie), sublayer ? L2SpecType.Default : L2SpecType.None,
            seq is not null, seq ?? 0);
        return h[..n].Concat(frame ?? Ip4Frame).ToArray();
    }

    /// <summary>The one finding the analysis makes of <paramref name="packet"/> for <paramref name="s"/>.</summary>
    private static L2tpFinding Find(L2tpSession s, byte[] packet)
    {
        var (kind, session, value, length) = PacketDiagnosis.Classify(packet, Encapsulation.Udp,
            id => id == s.SessionId ? Expect(s) : null, out _);
        Assert.NotEqual((L2tpFindingKind)0, kind);
        var e = new DiagnosisEntry { Kind = kind, SessionId = session, Value = value, Length = length, Count = 3, LastSeen = 1_700_000_000_000 };
        return Assert.Single(DiagnosisText.Explain(new[] { e }, Tunnel, s));
    }

    [Fact]
    public void A_good_packet_is_no_finding_and_is_delivered()
    {
        var (kind, _, _, _) = PacketDiagnosis.Classify(Packet(1000), Encapsulation.Udp, id => id == 1000 ? Expect(Session()) : null, out uint delivered);
        Assert.Equal((L2tpFindingKind)0, kind);
        Assert.Equal(1000u, delivered);
    }

    [Fact]
    public void Unknown_session_id_names_the_peer_the_id_it_sends_and_what_this_session_takes()
    {
        var f = Find(Session(), Packet(2001));
        Assert.Equal(L2tpFindingKind.UnknownSession, f.Kind);
        Assert.Equal(("SessionId", "1000", "2001"), (f.Field, f.Expected, f.Actual));
        Assert.StartsWith("192.0.2.2 sends session id 2001 in tunnel 3000, which has no session 2001; session 1000 takes packets sent to 1000", f.Message);
        Assert.Equal(3, f.Count);
        Assert.Equal(DateTimeOffset.FromUnixTimeMilliseconds(1_700_000_000_000).UtcDateTime, f.LastSeen);
    }

    [Fact]
    public void Wrong_cookie_names_the_cookie_seen_and_the_PeerCookie()
    {
        var f = Find(Session("0a0b0c0d"), Packet(1000, "01020304"));
        Assert.Equal(L2tpFindingKind.CookieMismatch, f.Kind);
        Assert.Equal(("PeerCookie", "0a0b0c0d", "01020304"), (f.Field, f.Expected, f.Actual));
        Assert.StartsWith("the peer sends cookie 01020304; this session's PeerCookie is 0a0b0c0d", f.Message);
    }

    [Fact]
    public void An_8_byte_cookie_where_4_are_expected_is_named_whole()
    {
        var f = Find(Session("0a0b0c0d"), Packet(1000, "0102030405060708"));
        Assert.Equal(L2tpFindingKind.CookieMismatch, f.Kind);
        Assert.Equal("0102030405060708", f.Actual);
    }

    [Fact]
    public void No_cookie_where_one_is_required_is_a_missing_cookie()
    {
        var f = Find(Session("0a0b0c0d"), Packet(1000));
        Assert.Equal(L2tpFindingKind.CookieMissing, f.Kind);
        Assert.StartsWith("the peer sends no cookie; this session's PeerCookie is 0a0b0c0d", f.Message);
    }

    [Fact]
    public void A_cookie_where_none_is_expected_is_an_unexpected_cookie()
    {
        var f = Find(Session(), Packet(1000, "01020304"));
        Assert.Equal(L2tpFindingKind.CookieUnexpected, f.Kind);
        Assert.StartsWith("the peer sends cookie 01020304; this session expects none", f.Message);
    }

    [Fact]
    public void No_sublayer_where_the_default_one_is_expected_is_a_missing_sublayer()
    {
        var f = Find(Session(), Packet(1000, sublayer: false));
        Assert.Equal(L2tpFindingKind.SublayerMissing, f.Kind);
        Assert.Equal(("L2SpecType", "Default", "None"), (f.Field, f.Expected, f.Actual));
        Assert.StartsWith("the peer sends no L2-specific sublayer; this session expects the default 4-byte one", f.Message);
    }

    [Fact]
    public void A_sublayer_where_none_is_expected_is_an_unexpected_sublayer_with_or_without_a_sequence_number()
    {
        foreach (uint? seq in new uint?[] { null, 7 })
        {
            var f = Find(Session(l2: L2SpecType.None), Packet(1000, seq: seq));
            Assert.Equal(L2tpFindingKind.SublayerUnexpected, f.Kind);
            Assert.StartsWith("the peer sends the default 4-byte L2-specific sublayer; this session expects none", f.Message);
        }
    }

    [Fact]
    public void The_kernel_sessions_unreported_sublayer_is_assumed_default_and_the_text_says_so()
    {
        var f = Find(Session(l2: null), Packet(1000, sublayer: false));
        Assert.Equal(L2tpFindingKind.SublayerMissing, f.Kind);
        Assert.Contains("the default one is assumed", f.Message);
    }

    [Fact]
    public void Unsequenced_packets_to_a_session_that_requires_sequence_numbers_are_missing_sequence_numbers()
    {
        var f = Find(Session(seq: SequencingMode.Recv), Packet(1000));
        Assert.Equal(L2tpFindingKind.SequenceMissing, f.Kind);
        Assert.StartsWith("the peer sends no sequence numbers; this session requires them", f.Message);
    }

    [Fact]
    public void A_frame_longer_than_the_interface_takes_is_named_with_both_lengths()
    {
        var big = B("02000000000a 02000000000b 0800 45000600").Concat(new byte[1500]).ToArray();
        var f = Find(Session(), Packet(1000, frame: big));
        Assert.Equal(L2tpFindingKind.FrameTooLong, f.Kind);
        Assert.StartsWith($"the peer sends frames of {big.Length} bytes; l2tpeth0 (MTU 1446) takes at most 1464", f.Message);
    }

    [Fact]
    public void Control_messages_and_other_versions_are_named()
    {
        Assert.Equal(L2tpFindingKind.ControlMessage, Find(Session(), B("c8030014 00000000 00000000 00000000 00000000")).Kind);
        var v2 = Find(Session(), B("00020000 000003e8").Concat(Ip4Frame).ToArray());
        Assert.Equal(L2tpFindingKind.WrongVersion, v2.Kind);
        Assert.Contains("sends L2TP version 2 packets", v2.Message);
    }

    [Fact]
    public void A_frame_of_an_uncommon_ethertype_in_the_expected_layout_is_no_finding()
    {
        var (kind, _, _, _) = PacketDiagnosis.Classify(Packet(1000, frame: TestSpecs.Frame), Encapsulation.Udp,
            id => id == 1000 ? Expect(Session()) : null, out uint delivered);
        Assert.Equal((L2tpFindingKind)0, kind);
        Assert.Equal(1000u, delivered);
        var odd = B("02000000000a 02000000000b 1234").Concat(new byte[46]).ToArray();
        (kind, _, _, _) = PacketDiagnosis.Classify(Packet(1000, frame: odd), Encapsulation.Udp, id => id == 1000 ? Expect(Session()) : null, out _);
        Assert.Equal((L2tpFindingKind)0, kind);
    }

    [Fact]
    public void The_table_holds_eight_entries_and_evicts_the_least_recently_seen()
    {
        var t = new DiagnosisTable();
        for (uint i = 0; i < DiagnosisTable.Capacity; i++)
            t.Record(L2tpFindingKind.UnknownSession, i, i, 0, now: 100 + i);
        t.Record(L2tpFindingKind.UnknownSession, 0, 0, 0, now: 200);   // 0 seen again: 1 is now the oldest
        t.Record(L2tpFindingKind.UnknownSession, 99, 99, 0, now: 300);
        var s = t.Snapshot();
        Assert.Equal(DiagnosisTable.Capacity, s.Count);
        Assert.DoesNotContain(s, e => e.SessionId == 1);
        Assert.Equal(2, s.Single(e => e.SessionId == 0).Count);
        Assert.Equal(200, s.Single(e => e.SessionId == 0).LastSeen);
        Assert.Equal(1, s.Single(e => e.SessionId == 99).Count);
        for (int i = 0; i < 10_000; i++)
            t.Record(L2tpFindingKind.CookieMismatch, 1000, (ulong)i, 4, now: 1000 + i);
        Assert.Equal(DiagnosisTable.Capacity, t.Snapshot().Count);
    }

    [Fact]
    public void Recording_a_known_entry_allocates_nothing()
    {
        var t = new DiagnosisTable();
        t.Record(L2tpFindingKind.CookieMismatch, 1000, 0x01020304, 4, 1);
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 1000; i++)
            t.Record(L2tpFindingKind.CookieMismatch, 1000, 0x01020304, 4, i);
        Assert.Equal(before, GC.GetAllocatedBytesForCurrentThread());
    }

    [Fact]
    public void A_DIAGNOSE_reply_carries_every_entry_field()
    {
        var entries = new[]
        {
            new DiagnosisEntry { Kind = L2tpFindingKind.CookieMismatch, SessionId = 1000, Value = 0x01020304, Length = 4, Count = 12, LastSeen = 1_700_000_000_123 },
            new DiagnosisEntry { Kind = L2tpFindingKind.UnknownSession, SessionId = 2001, Value = 2001, Count = 1, LastSeen = 5 },
        };
        var w = new NetlinkWriter();
        w.Begin(ForwarderGenl.FamilyId, 0, 1).Genl(ForwarderGenl.CMD_DIAGNOSE, ForwarderGenl.Version).U32(ForwarderGenl.ATTR_TUNNEL_ID, 3000);
        ForwarderGenl.WriteDiagnosis(w, entries);
        w.End();
        var a = Assert.Single(NetlinkMessage.Split(w.ToArray())).GenlAttributes;
        Assert.Equal(3000u, a.U32(ForwarderGenl.ATTR_TUNNEL_ID));
        var back = ForwarderGenl.ReadDiagnosis(a);
        Assert.Equal(2, back.Count);
        Assert.Equal((L2tpFindingKind.CookieMismatch, 1000u, 0x01020304ul, (byte)4, 12L, 1_700_000_000_123L),
            (back[0].Kind, back[0].SessionId, back[0].Value, back[0].Length, back[0].Count, back[0].LastSeen));
        Assert.Equal((L2tpFindingKind.UnknownSession, 2001u), (back[1].Kind, back[1].SessionId));
    }

    [Fact]
    public void Session_replies_carry_the_forwarders_last_receive_and_send_times_and_PeerState_follows()
    {
        long now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        L2tpSession Read((long, long)? times)
        {
            var w = new NetlinkWriter();
            w.Begin(0x20, 0, 1).Genl(L2tpGenl.CMD_SESSION_GET, L2tpGenl.Version);
            L2tpGenl.WriteSession(w, TestSpecs.CookieSession, 200, "l2tpeth0", new L2tpStatistics(), times);
            w.End();
            return L2tpGenl.ReadSession(Assert.Single(NetlinkMessage.Split(w.ToArray())).GenlAttributes, BackendKind.Managed, "");
        }
        var up = Read((now - 1000, now - 500));
        Assert.Equal(DateTimeOffset.FromUnixTimeMilliseconds(now - 1000).UtcDateTime, up.LastReceived);
        Assert.Equal(DateTimeOffset.FromUnixTimeMilliseconds(now - 500).UtcDateTime, up.LastSent);
        Assert.Equal(L2tpPeerState.Up, up.PeerState);
        Assert.Equal(L2tpPeerState.Silent, Read((now - 60_000, now - 500)).PeerState);
        Assert.Equal(L2tpPeerState.Silent, Read((0, now - 500)).PeerState);
        var never = Read(null);
        Assert.Null(never.LastReceived);
        Assert.Equal(L2tpPeerState.Unknown, never.PeerState);
    }

    [Fact]
    public void Kernel_liveness_comes_from_samples_unknown_at_first_then_the_time_the_counter_grew()
    {
        var sampler = new LivenessSampler();
        var t0 = new DateTime(2026, 1, 1, 0, 0, 0, DateTimeKind.Utc);
        var s = Session();
        s.Statistics = new L2tpStatistics { RxPackets = 5, TxPackets = 5 };
        sampler.Apply("ns", s, t0, TimeSpan.FromSeconds(10));
        Assert.Equal(L2tpPeerState.Unknown, s.PeerState);
        Assert.Null(s.LastReceived);
        s.Statistics = new L2tpStatistics { RxPackets = 6, TxPackets = 9 };
        sampler.Apply("ns", s, t0.AddSeconds(1), TimeSpan.FromSeconds(10));
        Assert.Equal((t0.AddSeconds(1), t0.AddSeconds(1), L2tpPeerState.Up), (s.LastReceived, s.LastSent, s.PeerState));
        s.Statistics = new L2tpStatistics { RxPackets = 6, TxPackets = 20 };
        sampler.Apply("ns", s, t0.AddSeconds(12), TimeSpan.FromSeconds(10));
        Assert.Equal((t0.AddSeconds(1), t0.AddSeconds(12), L2tpPeerState.Silent), (s.LastReceived, s.LastSent, s.PeerState));
    }

    /// <summary>An IPv4/UDP packet as AF_PACKET hands it up (from the IP header on).</summary>
    private static byte[] Udp4(string src, ushort sport, string dst, ushort dport, byte[] payload)
    {
        var p = new byte[28 + payload.Length];
        p[0] = 0x45;
        System.Buffers.Binary.BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(2), (ushort)p.Length);
        p[8] = 64;
        p[9] = 17;
        IPAddress.Parse(src).GetAddressBytes().CopyTo(p, 12);
        IPAddress.Parse(dst).GetAddressBytes().CopyTo(p, 16);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(20), sport);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(22), dport);
        payload.CopyTo(p, 28);
        return p;
    }

    private static List<L2tpFinding> Capture(bool full, params byte[][] packets)
    {
        var c = new CaptureClassifier(Tunnel, new[] { Expect(Session("0a0b0c0d")) }, full);
        foreach (var p in packets)
            c.Observe(p, 1_700_000_000_000);
        return DiagnosisText.Explain(c.Table.Snapshot(), Tunnel, Session("0a0b0c0d"));
    }

    [Fact]
    public void A_capture_finds_packets_from_the_wrong_source_port()
    {
        var f = Assert.Single(Capture(false, Udp4("192.0.2.2", 6001, "192.0.2.1", 5000, Packet(1000, "0a0b0c0d"))));
        Assert.Equal(L2tpFindingKind.WrongSource, f.Kind);
        Assert.Equal(("192.0.2.1:6000", "192.0.2.2:6001"), (f.Expected.Replace("192.0.2.2", "192.0.2.1"), f.Actual));
        Assert.StartsWith("192.0.2.2:6001 sends L2TPv3 to port 5000 of tunnel 3000, which takes packets from 192.0.2.2 port 6000 only", f.Message);
    }

    [Fact]
    public void A_capture_finds_packets_to_the_wrong_port_and_from_another_address()
    {
        var found = Capture(false,
            Udp4("192.0.2.2", 6000, "192.0.2.1", 5001, Packet(1000, "0a0b0c0d")),
            Udp4("192.0.2.9", 6000, "192.0.2.1", 5000, Packet(1000, "0a0b0c0d")));
        Assert.StartsWith("192.0.2.2:6000 sends L2TPv3 to port 5001; tunnel 3000 listens on port 5000", found.Single(f => f.Kind == L2tpFindingKind.WrongPort).Message);
        Assert.Equal("192.0.2.9:6000", found.Single(f => f.Kind == L2tpFindingKind.WrongSource).Actual);
    }

    [Fact]
    public void A_capture_leaves_the_packets_of_the_namespaces_other_tunnels_alone()
    {
        var other = new L2tpTunnel { TunnelId = 3001, Encapsulation = Encapsulation.Udp, SourcePort = 5001, Remote = Tunnel.Remote };
        var c = new CaptureClassifier(Tunnel, new[] { Expect(Session()) }, false, new[] { Tunnel, other });
        c.Observe(Udp4("192.0.2.2", 6001, "192.0.2.1", 5001, Packet(1000)), 1);
        Assert.Empty(c.Table.Snapshot());
        c.Observe(Udp4("192.0.2.2", 6002, "192.0.2.1", 5002, Packet(1000)), 1);
        Assert.Single(c.Table.Snapshot());
    }

    [Fact]
    public void A_capture_finds_the_other_encapsulation()
    {
        var ip = Udp4("192.0.2.2", 0, "192.0.2.1", 0, Array.Empty<byte>())[..20].Concat(B("000003e8 0a0b0c0d 00000000")).Concat(Ip4Frame).ToArray();
        ip[9] = 115;
        var f = Assert.Single(Capture(false, ip));
        Assert.Equal(L2tpFindingKind.WrongEncapsulation, f.Kind);
        Assert.StartsWith("192.0.2.2 sends L2TPv3 as IP protocol 115; tunnel 3000 uses UDP", f.Message);
    }

    [Fact]
    public void A_full_capture_judges_the_tunnels_own_packets_and_a_partial_one_leaves_them_to_the_forwarder()
    {
        var wrongCookie = Udp4("192.0.2.2", 6000, "192.0.2.1", 5000, Packet(1000, "01020304"));
        Assert.Equal(L2tpFindingKind.CookieMismatch, Assert.Single(Capture(true, wrongCookie)).Kind);
        Assert.Empty(Capture(false, wrongCookie));
        Assert.Empty(Capture(true, Udp4("192.0.2.2", 6000, "192.0.2.1", 5000, Packet(1000, "0a0b0c0d"))));
    }

    private static (TunnelRuntime, SessionRuntime) Runtime(SessionSpec s)
    {
        var tc = new Counters();
        var session = SessionRuntime.Create(TestSpecs.UdpTunnel, s, -1, -1, new Counters(), tc);
        return (new TunnelRuntime
        {
            TunnelId = 100, SocketFd = -1, Encapsulation = Encapsulation.Udp, SkipIpHeader = false, Counters = tc,
            Sessions = new() { [s.SessionId] = session },
        }, session);
    }

    [Fact]
    public void The_forwarder_records_unknown_ids_wrong_cookies_and_a_missing_sublayer_but_not_good_packets()
    {
        var (t, _) = Runtime(TestSpecs.CookieSession);
        RxLoop.Deliver(t, Packet(1001, "cafef00d"));
        Assert.Empty(t.Diagnosis.Snapshot());
        RxLoop.Deliver(t, Packet(1002, "cafef00d"));
        RxLoop.Deliver(t, Packet(1001, "01020304"));
        RxLoop.Deliver(t, Packet(1001, "01020304"));
        RxLoop.Deliver(t, Packet(1001, "cafef00d", sublayer: false));
        var s = t.Diagnosis.Snapshot();
        Assert.Equal(1, s.Single(e => e.Kind == L2tpFindingKind.UnknownSession && e.Value == 1002).Count);
        Assert.Equal(2, s.Single(e => e.Kind == L2tpFindingKind.CookieMismatch && e.Value == 0x01020304 && e.Length == 4).Count);
        Assert.Single(s, e => e.Kind == L2tpFindingKind.SublayerMissing && e.SessionId == 1001);
    }

    [Fact]
    public void The_forwarder_records_unsequenced_packets_to_a_session_that_requires_them()
    {
        var (t, _) = Runtime(TestSpecs.CookieSession with { Sequencing = SequencingMode.Recv });
        RxLoop.Deliver(t, Packet(1001, "cafef00d"));
        Assert.Single(t.Diagnosis.Snapshot(), e => e.Kind == L2tpFindingKind.SequenceMissing);
    }
}
