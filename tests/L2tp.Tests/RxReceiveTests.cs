using System.Net;
using L2tp.Forwarder.Dataplane;
using L2tp.Fuzz;
using L2tp.Protocol;
using Xunit;
using static L2tp.Tests.Hex;

namespace L2tp.Tests;

/// <summary>RxLoop.Receive: one datagram as a socket returns it, before the per-packet checks of Deliver.</summary>
public sealed class RxReceiveTests : IDisposable
{
    private readonly RecordTap _tap = new();
    private readonly Counters _tunnelCounters = new();

    public void Dispose() => _tap.Dispose();

    private static readonly byte[] Frame = TestSpecs.Frame;

    private (TunnelRuntime, SessionRuntime) Make(Encapsulation encap, bool skipIpHeader)
    {
        var t = new TunnelSpec
        {
            TunnelId = 1, PeerTunnelId = 2, Encapsulation = encap, Local = IPAddress.Parse("192.0.2.1"),
            Remote = IPAddress.Parse("192.0.2.2"), SourcePort = 1701, DestinationPort = 1701,
        };
        var s = SessionRuntime.Create(t, new SessionSpec { TunnelId = 1, SessionId = 9, PeerSessionId = 9 }, _tap.WriteFd, -1,
            new Counters(), _tunnelCounters);
        return (new TunnelRuntime
        {
            TunnelId = 1, SocketFd = -1, Encapsulation = encap, SkipIpHeader = skipIpHeader, Counters = _tunnelCounters,
            Sessions = new() { [9] = s },
        }, s);
    }

    [Fact]
    public void Udp_gro_datagram_is_cut_into_segment_sized_packets_the_last_shorter()
    {
        var (tunnel, session) = Make(Encapsulation.Udp, false);
        var packet = B("00030000 00000009 00000000").Concat(Frame).ToArray();   // 72 bytes
        var shortLast = B("00030000 00000009 00000000").Concat(Frame[..20]).ToArray();
        RxLoop.Receive(tunnel, packet.Concat(packet).Concat(shortLast).ToArray(), packet.Length, null);

        var writes = _tap.Records();
        Assert.Equal(3, writes.Count);
        Assert.Equal(Frame, writes[0]);
        Assert.Equal(Frame, writes[1]);
        Assert.Equal(Frame[..20], writes[2]);
        Assert.Equal(3, session.Counters.RxPackets);
        Assert.Equal(2 * 72 + 32, session.Counters.RxBytes);
    }

    [Fact]
    public void Segment_size_not_below_the_datagram_length_delivers_it_whole()
    {
        var (tunnel, session) = Make(Encapsulation.Udp, false);
        var packet = B("00030000 00000009 00000000").Concat(Frame).ToArray();
        RxLoop.Receive(tunnel, packet, packet.Length, null);
        Assert.Equal(Frame, Assert.Single(_tap.Records()));
        Assert.Equal(1, session.Counters.RxPackets);
    }

    [Theory]
    [InlineData("")]                                         // nothing at all
    [InlineData("44000058")]                                 // IHL 4: shorter than an IPv4 header
    [InlineData("4f000058 12344000 40730000 c0000202")]      // IHL 15 (60 bytes) in a 16-byte datagram
    public void Raw_ip_datagram_without_a_whole_ipv4_header_counts_RxInvalid_once(string datagram)
    {
        var (tunnel, session) = Make(Encapsulation.Ip, true);
        RxLoop.Receive(tunnel, B(datagram), 0, null);
        Assert.Empty(_tap.Records());
        Assert.Equal(1, _tunnelCounters.RxInvalid);
        Assert.Equal(0, session.Counters.RxErrors);
    }

    [Fact]
    public void Raw_ip_datagram_skips_an_ipv4_header_with_options()
    {
        var (tunnel, session) = Make(Encapsulation.Ip, true);
        var ip = B("46000058 12344000 40730000 c0000202 c0000201 01010101");
        RxLoop.Receive(tunnel, ip.Concat(B("00000009 00000000")).Concat(Frame).ToArray(), 0, null);
        Assert.Equal(Frame, Assert.Single(_tap.Records()));
        Assert.Equal(8 + 60, session.Counters.RxBytes);   // counted from the L2TP header, not the IP header
    }
}
