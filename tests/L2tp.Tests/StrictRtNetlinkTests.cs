using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using L2tp.Native;
using L2tp.Netlink;
using Xunit;
using static Tmds.Linux.LibC;

namespace L2tp.Tests;

/// <summary>
/// <see cref="RtNetlink"/> on a strict socket (NETLINK_GET_STRICT_CHK) against the real kernel, in a network namespace
/// of its own (a thread that unshares one): every GET the module sends is still answered (a strict kernel refuses a
/// request whose header it does not accept, and a refused dump ends in NLMSG_DONE with the errno, which must not read
/// as an empty answer), the answers are the ones the lax socket gives, and one interface's read does not grow with
/// the namespace.
/// </summary>
public sealed class StrictRtNetlinkTests(Xunit.Abstractions.ITestOutputHelper output)
{
    private const ushort RTM_NEWLINK = 16, RTM_GETLINK = 18, RTM_NEWADDR = 20;
    private const ushort IFLA_IFNAME = 3, IFLA_LINKINFO = 18, IFLA_INFO_KIND = 1, IFLA_INFO_DATA = 2, VETH_INFO_PEER = 1;
    private const ushort IFA_ADDRESS = 1, IFA_LOCAL = 2;
    private const byte IFA_F_NODAD = 0x02;

    private static void InOwnNamespace(Action body)
    {
        Exception? failure = null;
        var thread = new Thread(() =>
        {
            try
            {
                Sys.Check((int)unshare(Sys.CLONE_NEWNET_), "unshare(CLONE_NEWNET)");
                body();
            }
            catch (Exception e) { failure = e; }
        });
        thread.Start();
        thread.Join();
        if (failure is not null)
            throw new Xunit.Sdk.XunitException($"in a namespace of its own: {failure}");
    }

    /// <summary>`ip link add NAME type veth peer name PEER`.</summary>
    private static void AddVeth(NetlinkClient client, string name, string peer) =>
        client.Request(RTM_NEWLINK, Nl.F_CREATE | Nl.F_EXCL, w =>
        {
            w.Raw(new byte[16]);
            w.StringZ(IFLA_IFNAME, name);
            w.BeginNested(IFLA_LINKINFO).StringZ(IFLA_INFO_KIND, "veth").BeginNested(IFLA_INFO_DATA).BeginNested(VETH_INFO_PEER);
            w.Raw(new byte[16]).StringZ(IFLA_IFNAME, peer);
            w.EndNested().EndNested().EndNested();
        });

    private static int Index(RtNetlink rt, string name) => rt.Link(name)?.Index ?? throw new InvalidOperationException($"no {name}");

    /// <summary>A lab with one of each thing the module reads: a bridge with a veth port, addresses of both families and the point-to-point form, a route.</summary>
    private static void BuildLab(RtNetlink rt)
    {
        using var client = new NetlinkClient(new NetlinkSocket(Nl.NETLINK_ROUTE));
        rt.SetLink(1, up: true);
        AddVeth(client, "v0", "v1");
        rt.AddLink("br0", "bridge");
        int v0 = Index(rt, "v0"), v1 = Index(rt, "v1"), br0 = Index(rt, "br0");
        rt.SetLink(v0, mtu: 1400, master: br0);
        rt.AddAddress(v0, IPAddress.Parse("198.51.100.1"), 24, null);
        rt.AddAddress(v0, IPAddress.Parse("2001:db8::1"), 64, null);
        rt.AddAddress(v0, IPAddress.Parse("198.51.100.9"), 24, null);
        rt.AddAddress(v1, IPAddress.Parse("203.0.113.1"), 32, IPAddress.Parse("203.0.113.2"));
        rt.SetLink(v0, up: true);
        rt.SetLink(v1, up: true);
        rt.SetLink(br0, up: true);
    }

    /// <summary>Everything the module asks rtnetlink, in words: links, one link by name and by index, a bridge's ports, addresses (all, one link's), route MTUs.</summary>
    private static List<string> Answers(RtNetlink rt)
    {
        static string Link(LinkInfo? l) => l is null ? "none" : $"{l.Index} {l.Name} up={l.Up} mtu={l.Mtu} master={l.Master} kind={l.Kind}";
        static string Addr(AddressInfo a) => $"{a.Index} {a.Local} peer={a.Peer} /{a.PrefixLength}";
        int v0 = Index(rt, "v0"), v1 = Index(rt, "v1"), br0 = Index(rt, "br0");
        var answers = new List<string>();
        answers.AddRange(rt.Links().OrderBy(l => l.Index).Select(l => "links: " + Link(l)));
        answers.Add("link v0: " + Link(rt.Link("v0")));
        answers.Add("link by index: " + Link(rt.Link(v1)));
        answers.Add("link missing: " + Link(rt.Link("nosuch0")));
        answers.Add("link missing by index: " + Link(rt.Link(999999)));
        answers.AddRange(rt.Links(master: br0).Select(l => "ports: " + Link(l)));
        answers.AddRange(rt.Addresses(null).Select(a => "addresses: " + Addr(a)));
        foreach (int index in new[] { 1, v0, v1, br0, 999999 })
            answers.AddRange(rt.Addresses(index).Select(a => $"addresses of {index}: " + Addr(a)));
        answers.Add("route mtu v4: " + rt.RouteMtu(IPAddress.Parse("198.51.100.2")));
        answers.Add("route mtu v6: " + rt.RouteMtu(IPAddress.Parse("2001:db8::2")));
        answers.Add("route mtu none: " + (rt.RouteMtu(IPAddress.Parse("192.0.2.1"))?.ToString() ?? "none"));
        return answers;
    }

    [Fact]
    public void A_strict_socket_answers_every_request_the_module_sends_as_the_lax_socket_does()
    {
        InOwnNamespace(() =>
        {
            using var strict = new RtNetlink();
            using var lax = new RtNetlink(strict: false);
            Assert.True(strict.Strict, "this kernel (4.20+) takes NETLINK_GET_STRICT_CHK");
            Assert.False(lax.Strict);
            BuildLab(strict);

            var answers = Answers(strict);
            output.WriteLine(string.Join("\n", answers));
            Assert.Equal(Answers(lax), answers);

            int v0 = Index(strict, "v0"), v1 = Index(strict, "v1"), br0 = Index(strict, "br0");
            Assert.Contains($"link v0: {v0} v0 up=True mtu=1400 master={br0} kind=veth", answers);
            Assert.Contains("link missing: none", answers);
            Assert.Equal(new[] { "v0" }, strict.Links(master: br0).Select(l => l.Name));
            Assert.Empty(strict.Links(master: v1));
            // IPv4 before IPv6, in the order they were added, as one dump of both families gives them.
            var mine = strict.Addresses(v0).Select(a => $"{a.Local}/{a.PrefixLength}").Where(a => !a.StartsWith("fe80")).ToList();
            Assert.Equal(new[] { "198.51.100.1/24", "198.51.100.9/24", "2001:db8::1/64" }, mine);
            var p2p = Assert.Single(strict.Addresses(v1), a => a.Local.AddressFamily == AddressFamily.InterNetwork);
            Assert.Equal(("203.0.113.1", "203.0.113.2", 32), (p2p.Local.ToString(), p2p.Peer?.ToString(), p2p.PrefixLength));
            Assert.DoesNotContain(strict.Addresses(br0), a => a.Local.AddressFamily == AddressFamily.InterNetwork);
            Assert.Empty(strict.Addresses(999999));
            Assert.Contains("route mtu v4: 1400", answers);
            Assert.Contains("route mtu v6: 1400", answers);
        });
    }

    [Fact]
    public void A_dump_the_strict_kernel_refuses_is_a_refusal_with_its_words_not_an_empty_list()
    {
        InOwnNamespace(() =>
        {
            var socket = new NetlinkSocket(Nl.NETLINK_ROUTE);
            Assert.True(socket.TrySetOption(Nl.NETLINK_GET_STRICT_CHK));
            using var client = new NetlinkClient(socket);
            // A link dump filtered by index: strict rtnetlink refuses it (the refusal ends the dump, in NLMSG_DONE).
            var e = Assert.Throws<NetlinkException>(() => client.Request(RTM_GETLINK, Nl.F_DUMP, w =>
            {
                var h = new byte[16];
                h[4] = 1;
                w.Raw(h);
            }));
            Assert.Equal(EINVAL, e.Errno);
            Assert.Contains("index", e.Message);
            // The socket is settled: the next request is answered.
            Assert.NotEmpty(client.Request(RTM_GETLINK, Nl.F_DUMP, w => w.Raw(new byte[16])));
        });
    }

    /// <summary>
    /// Best of 3: the time <paramref name="reads"/> reads of one interface (by name, then its addresses, as
    /// Get-L2tpInterface and Set-L2tpInterface do) take.
    /// </summary>
    private static double ReadSeconds(RtNetlink rt, string name, int reads)
    {
        double best = double.MaxValue;
        for (int round = 0; round < 3; round++)
        {
            var sw = Stopwatch.StartNew();
            for (int i = 0; i < reads; i++)
            {
                var link = rt.Link(name)!;
                Assert.Equal(2, rt.Addresses(link.Index).Count);
            }
            best = Math.Min(best, sw.Elapsed.TotalSeconds);
        }
        return best;
    }

    /// <summary>
    /// Adds <paramref name="count"/> IPv6 addresses (2001:db8:1::first..), spread over the links <paramref name="on"/>,
    /// in pipelined windows. Addresses, not a link each: what a whole-namespace dump grows with is its entries, and
    /// thousands of links cost the kernel half a minute under the rtnl lock to tear down, stalling every other test.
    /// </summary>
    private static void AddAddresses(NetlinkClient client, int[] on, int first, int count)
    {
        var refused = client.Pipeline(count, RTM_NEWADDR, Nl.F_CREATE | Nl.F_EXCL, (i, w) =>
        {
            var a = IPAddress.Parse($"2001:db8:1::{first + i:x}");
            var h = new byte[8];
            h[0] = 10;
            h[1] = 128;
            h[2] = IFA_F_NODAD;
            BitConverter.TryWriteBytes(h.AsSpan(4), on[(first + i) % on.Length]);
            w.Raw(h);
            w.Address(IFA_LOCAL, a);
            w.Address(IFA_ADDRESS, a);
        }, out _);
        Assert.All(refused, Assert.Null);
    }

    [Fact]
    public void One_interfaces_read_costs_the_same_in_a_namespace_of_2000_addresses_as_of_500()
    {
        InOwnNamespace(() =>
        {
            using var rt = new RtNetlink();
            using var client = new NetlinkClient(new NetlinkSocket(Nl.NETLINK_ROUTE));
            rt.AddLink("probe", "bridge");
            int probe = Index(rt, "probe");
            rt.AddAddress(probe, IPAddress.Parse("198.51.100.1"), 24, null);
            rt.AddAddress(probe, IPAddress.Parse("203.0.113.1"), 24, null);
            var others = Enumerable.Range(0, 8).Select(i => { rt.AddLink($"x{i}", "bridge"); return Index(rt, $"x{i}"); }).ToArray();
            const int Small = 500, Large = 2000, Reads = 500;

            AddAddresses(client, others, 0, Small);
            ReadSeconds(rt, "probe", Reads);   // warms the JIT and the allocator
            double small = ReadSeconds(rt, "probe", Reads);
            AddAddresses(client, others, Small, Large - Small);
            Assert.Equal(Large, rt.Addresses(null).Count(a => a.Local.ToString().StartsWith("2001:db8:1:")));
            double large = ReadSeconds(rt, "probe", Reads);

            double ratio = large / Math.Max(small, 1e-6);
            output.WriteLine($"{Reads} reads of one interface: {small * 1000:N1} ms among {Small} addresses, {large * 1000:N1} ms among {Large}: {ratio:N2}x");
            // Flat is ~1; a dump of the whole namespace filtered here grows with it (~4 at 4x the addresses).
            Assert.True(ratio < 2, $"one interface's read took {ratio:N2} times as long among {Large} addresses as among {Small} (flat ~1, a whole-namespace dump ~4)");
        });
    }
}
