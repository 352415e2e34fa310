using System.Net;
using L2tp.Protocol;
using Xunit;

namespace L2tp.Tests;

public class PseudowireCheckTests
{
    private static (L2tpTunnel, L2tpSession, L2tpTunnel, L2tpSession) Mirrored()
    {
        var lt = new L2tpTunnel { TunnelId = 3000, PeerTunnelId = 4000, Encapsulation = Encapsulation.Udp, Local = IPAddress.Parse("192.0.2.1"), Remote = IPAddress.Parse("192.0.2.2"), SourcePort = 1701, DestinationPort = 1702 };
        var pt = new L2tpTunnel { TunnelId = 4000, PeerTunnelId = 3000, Encapsulation = Encapsulation.Udp, Local = IPAddress.Parse("192.0.2.2"), Remote = IPAddress.Parse("192.0.2.1"), SourcePort = 1702, DestinationPort = 1701 };
        var ls = new L2tpSession { TunnelId = 3000, SessionId = 1000, PeerSessionId = 2000, Cookie = "0011223344556677", PeerCookie = "8899aabbccddeeff", L2SpecType = L2SpecType.Default, Mtu = 1438, SuggestedMtu = 1438 };
        var ps = new L2tpSession { TunnelId = 4000, SessionId = 2000, PeerSessionId = 1000, Cookie = "8899aabbccddeeff", PeerCookie = "0011223344556677", L2SpecType = L2SpecType.Default, Mtu = 1438, SuggestedMtu = 1438 };
        return (lt, ls, pt, ps);
    }

    [Fact]
    public void Mirrored_ends_have_no_finding()
    {
        var (lt, ls, pt, ps) = Mirrored();
        Assert.Empty(PseudowireCheck.Compare(lt, ls, pt, ps));
    }

    [Fact]
    public void A_wrong_peer_cookie_is_named_with_both_values()
    {
        var (lt, ls, pt, ps) = Mirrored();
        ps.PeerCookie = "deadbeefdeadbeef";
        var f = Assert.Single(PseudowireCheck.Compare(lt, ls, pt, ps));
        Assert.Equal(("Cookie", "0011223344556677", "deadbeefdeadbeef"), (f.Field, f.Local, f.Peer));
    }

    [Fact]
    public void Swapped_ports_ids_and_addresses_that_do_not_mirror_are_each_named()
    {
        var (lt, ls, pt, ps) = Mirrored();
        pt.SourcePort = 1800;
        ps.PeerSessionId = 1001;
        pt.Local = IPAddress.Parse("192.0.2.3");
        var fields = PseudowireCheck.Compare(lt, ls, pt, ps).Select(f => f.Field).ToArray();
        Assert.Equal(new[] { "SessionId", "DestinationPort", "Remote" }, fields);
    }

    [Fact]
    public void Sequencing_required_but_not_sent_says_who_drops()
    {
        var (lt, ls, pt, ps) = Mirrored();
        ps.Sequencing = SequencingMode.Recv;
        var f = Assert.Single(PseudowireCheck.Compare(lt, ls, pt, ps));
        Assert.Equal("Sequencing", f.Field);
        Assert.Contains("the peer drops", f.Message);
    }

    [Fact]
    public void An_mtu_above_the_path_is_named()
    {
        var (lt, ls, pt, ps) = Mirrored();
        ls.Mtu = 1500;
        var f = Assert.Single(PseudowireCheck.Compare(lt, ls, pt, ps));
        Assert.Equal("Mtu", f.Field);
        Assert.StartsWith("1500", f.Local);
    }

    [Fact]
    public void Traffic_one_way_only_names_the_direction_and_the_receivers_drops()
    {
        var before = new L2tpStatistics();
        var localAfter = new L2tpStatistics { TxPackets = 3, RxPackets = 0 };
        var peerAfter = new L2tpStatistics { TxPackets = 3, RxPackets = 3 };
        var localBefore = new L2tpStatistics();
        localAfter.RxCookieDiscards = 3;
        var f = Assert.Single(PseudowireCheck.Traffic(localBefore, localAfter, before, peerAfter));
        Assert.Contains("this end received none", f.Message);
        Assert.Contains("cookie discards +3", f.Message);
        Assert.Empty(PseudowireCheck.Traffic(new(), new() { TxPackets = 1, RxPackets = 1 }, new(), new() { TxPackets = 1, RxPackets = 1 }));
    }
}

public class PseudowireIdPickTests
{
    [Fact]
    public void Picks_the_lowest_id_free_at_both_ends_the_same_at_each()
    {
        Assert.Equal((3002u, 3002u), L2tp.Services.RemotePseudowireService.PickIds(null, null, new HashSet<uint> { 3000 }, new HashSet<uint> { 3001 }, 3000));
    }

    [Fact]
    public void A_given_id_is_kept_and_mirrored_where_it_is_free_at_the_peer()
    {
        Assert.Equal((5000u, 5000u), L2tp.Services.RemotePseudowireService.PickIds(5000, null, new HashSet<uint>(), new HashSet<uint>(), 3000));
        Assert.Equal((5000u, 3000u), L2tp.Services.RemotePseudowireService.PickIds(5000, null, new HashSet<uint>(), new HashSet<uint> { 5000 }, 3000));
        Assert.Equal((4000u, 4000u), L2tp.Services.RemotePseudowireService.PickIds(null, 4000, new HashSet<uint>(), new HashSet<uint>(), 3000));
        Assert.Equal((3000u, 4000u), L2tp.Services.RemotePseudowireService.PickIds(null, 4000, new HashSet<uint> { 4000 }, new HashSet<uint>(), 3000));
    }
}
