using System.Net;
using L2tp.Native;
using L2tp.Netlink;
using Xunit;
using static Tmds.Linux.LibC;

namespace L2tp.Tests;

/// <summary>
/// <see cref="NetlinkClient.Pipeline"/> against the real kernel's rtnetlink, in a network namespace of its own (a
/// thread that unshares one): RTM_NEWADDR requests that answer with an ack alone, as the l2tp family's SESSION_CREATE
/// does, with one in the middle refused.
/// </summary>
public sealed class NetlinkPipelineTests
{
    private const ushort RTM_NEWADDR = 20;
    private const ushort IFA_ADDRESS = 1, IFA_LOCAL = 2;

    private static void InOwnNamespace(Action<NetlinkClient, RtNetlink> body)
    {
        Exception? failure = null;
        var thread = new Thread(() =>
        {
            try
            {
                Sys.Check((int)unshare(Sys.CLONE_NEWNET_), "unshare(CLONE_NEWNET)");
                using var rt = new RtNetlink();
                rt.SetLink(1, up: true);   // lo
                using var client = new NetlinkClient(new NetlinkSocket(Nl.NETLINK_ROUTE));
                body(client, rt);
            }
            catch (Exception e) { failure = e; }
        });
        thread.Start();
        thread.Join();
        if (failure is not null)
            throw new Xunit.Sdk.XunitException($"in a namespace of its own: {failure}");
    }

    /// <summary>`ip addr add 198.51.100.N/32 dev lo` for request i: N = i + 1, except the duplicate.</summary>
    private static Action<int, NetlinkWriter> AddAddress(int duplicate, int of) => (i, w) =>
    {
        var a = IPAddress.Parse($"198.51.100.{(i == duplicate ? of : i) + 1}");
        w.Raw(new byte[] { 2, 32, 0, 0, 1, 0, 0, 0 });   // ifaddrmsg: AF_INET, /32, lo (index 1)
        w.Address(IFA_LOCAL, a);
        w.Address(IFA_ADDRESS, a);
    };

    private static int Count(RtNetlink rt) => rt.Addresses(1).Count(a => a.Local.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork && a.Local.ToString().StartsWith("198.51.100."));

    [Fact]
    public void Three_windows_of_address_adds_with_one_duplicate_in_the_middle_get_exactly_that_ones_EEXIST_and_the_rest_acked()
    {
        InOwnNamespace((client, rt) =>
        {
            // 150 requests in windows of 64: request 100 (in the second window) repeats request 10's address.
            var refusals = client.Pipeline(150, RTM_NEWADDR, Nl.F_CREATE | Nl.F_EXCL, AddAddress(100, 10), out int sent, pastRefusal: true);
            Assert.Equal(150, sent);
            Assert.Equal(EEXIST, Assert.IsType<NetlinkException>(refusals[100]).Errno);
            Assert.Equal(new[] { 100 }, Enumerable.Range(0, 150).Where(i => refusals[i] is not null));
            Assert.Equal(149, Count(rt));
            Assert.True(client.Settled);
        });
    }

    [Fact]
    public void After_the_window_holding_a_refusal_no_further_request_is_sent()
    {
        InOwnNamespace((client, rt) =>
        {
            var refusals = client.Pipeline(150, RTM_NEWADDR, Nl.F_CREATE | Nl.F_EXCL, AddAddress(100, 10), out int sent, window: 64);
            Assert.Equal(128, sent);
            Assert.Equal(new[] { 100 }, Enumerable.Range(0, 150).Where(i => refusals[i] is not null));
            Assert.Equal(127, Count(rt));
            // The same socket answers the next request: no ack of the pipeline is left in it.
            Assert.NotNull(rt.Link(1));
            Assert.Empty(client.Request(RTM_NEWADDR, Nl.F_CREATE | Nl.F_EXCL, w => AddAddress(-1, 0)(200, w)));
        });
    }

    [Fact]
    public void A_thousand_requests_in_bounded_windows_are_all_acked_none_lost_to_the_receive_buffer()
    {
        // 1,000 requests at the default window. All 1,000 written before any ack is read overflow the socket's receive
        // buffer here (recv fails with ENOBUFS, acks lost): the window is what keeps them in bounds.
        InOwnNamespace((client, rt) =>
        {
            var refusals = client.Pipeline(1000, RTM_NEWADDR, Nl.F_CREATE | Nl.F_EXCL, (i, w) =>
            {
                var a = IPAddress.Parse($"2001:db8::{i + 1:x}");
                w.Raw(new byte[] { 10, 128, 0, 0, 1, 0, 0, 0 });
                w.Address(IFA_LOCAL, a);
                w.Address(IFA_ADDRESS, a);
            }, out int sent);
            Assert.Equal(1000, sent);
            Assert.All(refusals, Assert.Null);
        });
    }
}
