using System.Net;
using L2tp.Forwarder.Dataplane;
using L2tp.Protocol;
using Xunit;
using static L2tp.Tests.Hex;

namespace L2tp.Tests;

/// <summary>RxLoop.Deliver: one received packet checked and its frame written to the session's TAP (a pipe here).</summary>
public sealed class RxDeliverTests : IDisposable
{
    private readonly Pipe _tap = new();
    private readonly Counters _tunnelCounters = new();

    public void Dispose() => _tap.Dispose();

    private static readonly TunnelSpec UdpTunnel = TestSpecs.UdpTunnel;
    private static readonly SessionSpec CookieSession = TestSpecs.CookieSession;

    private static readonly byte[] Frame = TestSpecs.Frame;

    private (TunnelRuntime Tunnel, SessionRuntime Session) Make(TunnelSpec t, SessionSpec s, bool vnetHeader = false, int? tapFd = null)
    {
        var session = SessionRuntime.Create(t, s, tapFd ?? _tap.WriteFd, -1, new Counters(), _tunnelCounters, vnetHeader);
        var tunnel = new TunnelRuntime
        {
            TunnelId = t.TunnelId, SocketFd = -1, Encapsulation = t.Encapsulation, SkipIpHeader = false,
            Counters = _tunnelCounters, Sessions = new() { [s.SessionId] = session },
        };
        return (tunnel, session);
    }

    [Fact]
    public void Valid_udp_packet_to_a_vnet_header_tap_writes_ten_zero_bytes_then_exactly_the_frame_and_counts_only_l2tp_bytes()
    {
        var (tunnel, session) = Make(UdpTunnel, CookieSession, vnetHeader: true);
        var packet = B("00030000 000003e9 cafef00d 00000000").Concat(Frame).ToArray();
        var expected = new byte[10].Concat(Frame).ToArray();

        RxLoop.Deliver(tunnel, packet);
        Assert.Equal(expected, _tap.Drain());
        Assert.Equal(1, session.Counters.RxPackets);
        Assert.Equal(16 + 60, session.Counters.RxBytes);
        Assert.Equal(1, _tunnelCounters.RxPackets);
        Assert.Equal(16 + 60, _tunnelCounters.RxBytes);
        Assert.Equal(0, session.Counters.RxErrors);

        RxLoop.Deliver(tunnel, packet);
        Assert.Equal(expected, _tap.Drain());
        Assert.Equal(2, session.Counters.RxPackets);
    }

    [Fact]
    public void Vnet_header_tap_write_failure_counts_RxErrors()
    {
        var (tunnel, session) = Make(UdpTunnel, CookieSession, vnetHeader: true, tapFd: -1);
        RxLoop.Deliver(tunnel, B("00030000 000003e9 cafef00d 00000000").Concat(Frame).ToArray());
        Assert.Equal(1, session.Counters.RxErrors);
        Assert.Equal(0, session.Counters.RxPackets);
        Assert.Equal(0, _tunnelCounters.RxPackets);
    }

    [Fact]
    public void Valid_udp_packet_delivers_exactly_the_frame_and_counts_whole_l2tp_length_on_session_and_tunnel()
    {
        var (tunnel, session) = Make(UdpTunnel, CookieSession);
        var packet = B("00030000 000003e9 cafef00d 00000000").Concat(Frame).ToArray();   // to our session 1001, peer cookie
        RxLoop.Deliver(tunnel, packet);

        Assert.Equal(Frame, _tap.Drain());
        Assert.Equal(1, session.Counters.RxPackets);
        Assert.Equal(16 + 60, session.Counters.RxBytes);
        Assert.Equal(1, _tunnelCounters.RxPackets);
        Assert.Equal(16 + 60, _tunnelCounters.RxBytes);
        Assert.Equal(0, session.Counters.RxErrors);
        Assert.Equal(0, _tunnelCounters.RxInvalid);

        RxLoop.Deliver(tunnel, packet);
        Assert.Equal(Frame, _tap.Drain());
        Assert.Equal(2, session.Counters.RxPackets);
        Assert.Equal(2 * 76, _tunnelCounters.RxBytes);
    }

    [Fact]
    public void Valid_ip_encap_packet_without_sublayer_delivers_the_frame()
    {
        var (tunnel, session) = Make(UdpTunnel with { Encapsulation = Encapsulation.Ip },
            CookieSession with { L2SpecType = L2SpecType.None, PeerCookie = B("0011223344556677") });
        var packet = B("000003e9 0011223344556677").Concat(Frame).ToArray();
        RxLoop.Deliver(tunnel, packet);
        Assert.Equal(Frame, _tap.Drain());
        Assert.Equal(12 + 60, session.Counters.RxBytes);
        Assert.Equal(12 + 60, _tunnelCounters.RxBytes);
    }

    [Fact]
    public void Frame_of_exactly_14_bytes_is_delivered()
    {
        var (tunnel, session) = Make(UdpTunnel, CookieSession with { PeerCookie = [] });
        var packet = B("00030000 000003e9 00000000").Concat(Frame[..14]).ToArray();
        RxLoop.Deliver(tunnel, packet);
        Assert.Equal(Frame[..14], _tap.Drain());
        Assert.Equal(1, session.Counters.RxPackets);
    }

    public static TheoryData<string, string> Invalid => new()
    {
        { "unknown session", "00030000 000003ea cafef00d 00000000" },
        { "control (T bit)", "c8030000 000003e9 cafef00d 00000000" },
        { "session id 0", "00030000 00000000 cafef00d 00000000" },
        { "version 2", "00020000 000003e9 cafef00d 00000000" },
        { "truncated before session id", "00030000 0000" },
        { "truncated in cookie", "00030000 000003e9 cafe" },
        { "truncated in sublayer", "00030000 000003e9 cafef00d 0000" },
        { "empty", "" },
    };

    [Theory]
    [MemberData(nameof(Invalid))]
    public void Unknown_session_control_bad_version_or_truncated_counts_tunnel_RxInvalid_and_writes_nothing(string what, string header)
    {
        var (tunnel, session) = Make(UdpTunnel, CookieSession);
        bool truncated = what.StartsWith("truncated") || what == "empty";
        var packet = truncated ? B(header) : B(header).Concat(Frame).ToArray();
        RxLoop.Deliver(tunnel, packet);
        Assert.Empty(_tap.Drain());
        Assert.Equal(1, _tunnelCounters.RxInvalid);
        Assert.Equal(0, _tunnelCounters.RxPackets);
        Assert.Equal(0, session.Counters.RxPackets);
        Assert.Equal(0, session.Counters.RxErrors);
    }

    [Fact]
    public void Wrong_cookie_counts_session_RxCookieDiscards_and_RxErrors_and_writes_nothing()
    {
        var (tunnel, session) = Make(UdpTunnel, CookieSession);
        // 01020304 is the cookie we send, not the one the peer sends: a crossed configuration.
        RxLoop.Deliver(tunnel, B("00030000 000003e9 01020304 00000000").Concat(Frame).ToArray());
        Assert.Empty(_tap.Drain());
        Assert.Equal(1, session.Counters.RxCookieDiscards);
        Assert.Equal(1, session.Counters.RxErrors);
        Assert.Equal(0, session.Counters.RxPackets);
        Assert.Equal(0, _tunnelCounters.RxInvalid);
        Assert.Equal(0, _tunnelCounters.RxPackets);
    }

    [Fact]
    public void Missing_cookie_is_a_cookie_mismatch()
    {
        var (tunnel, session) = Make(UdpTunnel, CookieSession);
        RxLoop.Deliver(tunnel, B("00030000 000003e9 00000000").Concat(Frame).ToArray());
        Assert.Empty(_tap.Drain());
        Assert.Equal(1, session.Counters.RxCookieDiscards);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(13)]
    public void Frame_shorter_than_14_bytes_counts_session_RxErrors_and_writes_nothing(int frameLen)
    {
        var (tunnel, session) = Make(UdpTunnel, CookieSession);
        RxLoop.Deliver(tunnel, B("00030000 000003e9 cafef00d 00000000").Concat(Frame[..frameLen]).ToArray());
        Assert.Empty(_tap.Drain());
        Assert.Equal(1, session.Counters.RxErrors);
        Assert.Equal(0, session.Counters.RxPackets);
        Assert.Equal(0, _tunnelCounters.RxPackets);
        Assert.Equal(0, _tunnelCounters.RxInvalid);
    }

    [Fact]
    public void Seq_recv_session_drops_unsequenced_packet_as_seq_discard_and_error()
    {
        var (tunnel, session) = Make(UdpTunnel, CookieSession with { Sequencing = SequencingMode.Recv });
        RxLoop.Deliver(tunnel, B("00030000 000003e9 cafef00d 00000000").Concat(Frame).ToArray());
        Assert.Empty(_tap.Drain());
        Assert.Equal(1, session.Counters.RxSeqDiscards);
        Assert.Equal(1, session.Counters.RxErrors);
        RxLoop.Deliver(tunnel, B("00030000 000003e9 cafef00d 40000007").Concat(Frame).ToArray());
        Assert.Equal(Frame, _tap.Drain());
        Assert.Equal(1, session.Counters.RxPackets);
    }

    [Fact]
    public void Sequenced_packet_outside_the_window_counts_only_RxErrors()
    {
        var (tunnel, session) = Make(UdpTunnel, CookieSession);
        RxLoop.Deliver(tunnel, B("00030000 000003e9 cafef00d 40900000").Concat(Frame).ToArray());
        Assert.Empty(_tap.Drain());
        Assert.Equal(1, session.Counters.RxErrors);
        Assert.Equal(0, session.Counters.RxSeqDiscards);
        Assert.True(session.Sequencer.SendSeq);   // the peer's sequence numbers turned ours on
    }

    [Fact]
    public void Out_of_order_packet_counts_RxSeqDiscards_and_RxErrors()
    {
        var (tunnel, session) = Make(UdpTunnel, CookieSession);
        RxLoop.Deliver(tunnel, B("00030000 000003e9 cafef00d 40000001").Concat(Frame).ToArray());
        RxLoop.Deliver(tunnel, B("00030000 000003e9 cafef00d 40000003").Concat(Frame).ToArray());
        Assert.Equal(Frame, _tap.Drain());
        Assert.Equal(1, session.Counters.RxPackets);
        Assert.Equal(1, session.Counters.RxSeqDiscards);
        Assert.Equal(1, session.Counters.RxErrors);
    }

    [Fact]
    public void Session_id_is_looked_up_by_our_id_not_the_peers()
    {
        var (tunnel, _) = Make(UdpTunnel, CookieSession);
        RxLoop.Deliver(tunnel, B("00030000 000007d2 cafef00d 00000000").Concat(Frame).ToArray());   // 2002 = peer's id
        Assert.Empty(_tap.Drain());
        Assert.Equal(1, _tunnelCounters.RxInvalid);
    }

    [Fact]
    public void Write_failure_on_the_tap_counts_RxErrors()
    {
        var session = SessionRuntime.Create(UdpTunnel, CookieSession, -1, -1, new Counters(), _tunnelCounters);
        var tunnel = new TunnelRuntime
        {
            TunnelId = 100, SocketFd = -1, Encapsulation = Encapsulation.Udp, SkipIpHeader = false,
            Counters = _tunnelCounters, Sessions = new() { [1001] = session },
        };
        RxLoop.Deliver(tunnel, B("00030000 000003e9 cafef00d 00000000").Concat(Frame).ToArray());
        Assert.Equal(1, session.Counters.RxErrors);
        Assert.Equal(0, session.Counters.RxPackets);
        Assert.Equal(0, _tunnelCounters.RxPackets);
    }
}

public class SessionRuntimeTests
{
    private static readonly TunnelSpec Udp = new()
    {
        TunnelId = 1, PeerTunnelId = 2, Local = IPAddress.Parse("192.0.2.1"), Remote = IPAddress.Parse("192.0.2.2"),
        SourcePort = 1, DestinationPort = 2,
    };

    [Fact]
    public void Header_template_is_the_tx_header_for_the_peer_session_with_our_cookie_and_an_unsequenced_sublayer()
    {
        var s = new SessionSpec
        {
            TunnelId = 1, SessionId = 10, PeerSessionId = 0x0A0B0C0D, Cookie = B("01020304"), PeerCookie = B("0506070809101112"),
            Sequencing = SequencingMode.Send,
        };
        var r = SessionRuntime.Create(Udp, s, -1, -1, new Counters(), new Counters());
        Assert.Equal(B("00030000 0a0b0c0d 01020304 00000000"), r.HeaderTemplate);
        Assert.Equal(12, r.SublayerOffset);
        Assert.Equal(B("0506070809101112"), r.PeerCookie);
        Assert.True(r.Sequencer.SendSeq);
        Assert.False(r.Sequencer.RecvSeq);
        Assert.Equal(10u, r.SessionId);
    }

    [Fact]
    public void Header_template_for_ip_encap_without_sublayer_has_no_sublayer_offset()
    {
        var s = new SessionSpec { TunnelId = 1, SessionId = 10, PeerSessionId = 20, L2SpecType = L2SpecType.None };
        var r = SessionRuntime.Create(Udp with { Encapsulation = Encapsulation.Ip }, s, -1, -1, new Counters(), new Counters());
        Assert.Equal(B("00000014"), r.HeaderTemplate);
        Assert.Equal(-1, r.SublayerOffset);
        Assert.Equal(Encapsulation.Ip, r.Encapsulation);
    }
}
