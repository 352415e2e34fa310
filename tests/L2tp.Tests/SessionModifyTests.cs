using System.Net;
using L2tp.Forwarder;
using L2tp.Native;
using L2tp.Netlink;
using L2tp.Protocol;
using Xunit;
using static Tmds.Linux.LibC;

namespace L2tp.Tests;

/// <summary>
/// SESSION_MODIFY through the forwarder's real control server, with real TAPs, in a network namespace of its own (a
/// thread that unshares one: the TAPs go with it): what changes in the live data plane, what is recorded, and what is
/// refused.
/// </summary>
public sealed class SessionModifyTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("l2tp-modify-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private void InOwnNamespace(Action<NetlinkClient, ushort, L2tp.Forwarder.Forwarder> body) =>
        ForwarderInNamespace.Run(_dir, "l2tp-modify-", body);

    private static void Create(NetlinkClient c, ushort f)
    {
        var tunnel = new TunnelSpec
        {
            TunnelId = 3000, PeerTunnelId = 4000, Local = IPAddress.Loopback, Remote = IPAddress.Loopback, SourcePort = 5000, DestinationPort = 6000,
        };
        c.Genl(f, L2tpGenl.CMD_TUNNEL_CREATE, L2tpGenl.Version, 0, w => L2tpGenl.WriteTunnelCreate(w, tunnel));
        c.Genl(f, L2tpGenl.CMD_SESSION_CREATE, L2tpGenl.Version, 0,
            w => L2tpGenl.WriteSessionCreate(w, new SessionSpec { TunnelId = 3000, SessionId = 1000, PeerSessionId = 2000 }));
    }

    private static L2tpSession Get(NetlinkClient c, ushort f) => L2tpGenl.ReadSession(Assert.Single(c.Genl(f, L2tpGenl.CMD_SESSION_GET, L2tpGenl.Version, 0, w =>
    {
        w.U32(L2tpGenl.ATTR_CONN_ID, 3000);
        w.U32(L2tpGenl.ATTR_SESSION_ID, 1000);
    })).GenlAttributes, BackendKind.Managed, "");

    [Fact]
    public void Modify_changes_the_live_sequencer_on_the_same_TAP_reports_it_and_journals_it_for_the_next_forwarder()
    {
        InOwnNamespace((c, f, fwd) =>
        {
            Create(c, f);
            var entry = fwd.FindTunnel(3000)!.Sessions[1000];
            int tapFd = entry.Runtime.TapFd;
            c.Genl(f, L2tpGenl.CMD_SESSION_MODIFY, L2tpGenl.Version, 0, w => L2tpGenl.WriteSessionModify(w, new(3000, 1000, SequencingMode.Both, 50)));
            var seq = fwd.FindTunnel(3000)!.Sessions[1000].Runtime.Sequencer;
            Assert.Equal((true, true, 50UL), (seq.SendSeq, seq.RecvSeq, seq.ReorderTimeoutMs));
            Assert.Same(entry.Runtime, fwd.FindTunnel(3000)!.Sessions[1000].Runtime);
            Assert.Equal(tapFd, fwd.FindTunnel(3000)!.Sessions[1000].Runtime.TapFd);
            var s = Get(c, f);
            Assert.Equal((SequencingMode.Both, TimeSpan.FromMilliseconds(50)), (s.Sequencing, s.ReorderTimeout));

            // SEND_SEQ alone turns sending off and leaves receive as it was; the timeout stays.
            c.Genl(f, L2tpGenl.CMD_SESSION_MODIFY, L2tpGenl.Version, 0, w =>
            {
                w.U32(L2tpGenl.ATTR_CONN_ID, 3000);
                w.U32(L2tpGenl.ATTR_SESSION_ID, 1000);
                w.U8(L2tpGenl.ATTR_SEND_SEQ, 0);
            });
            Assert.Equal((false, true, 50UL), (seq.SendSeq, seq.RecvSeq, seq.ReorderTimeoutMs));
            Assert.Equal(SequencingMode.Recv, Get(c, f).Sequencing);
        });
        // What the next forwarder would restore: the state file and its journal, read afresh.
        using var store = new StateStore(Path.Combine(_dir, "state.json"));
        var r = store.Load().Tunnels.Single().Sessions.Single();
        Assert.Equal((SequencingMode.Recv, 50UL), (r.Sequencing, r.ReorderTimeoutMs));
    }

    [Theory]
    [InlineData("cookie", L2tpGenl.ATTR_COOKIE, "01020304")]
    [InlineData("interface name", L2tpGenl.ATTR_IFNAME, "7077300000")]
    [InlineData("LNS mode on", L2tpGenl.ATTR_LNS_MODE, "01")]
    public void Modify_of_what_a_live_session_cannot_change_is_refused_with_EOPNOTSUPP_and_changes_nothing(string what, ushort attr, string hex)
    {
        InOwnNamespace((c, f, fwd) =>
        {
            Create(c, f);
            var e = Assert.Throws<NetlinkException>(() => c.Genl(f, L2tpGenl.CMD_SESSION_MODIFY, L2tpGenl.Version, 0, w =>
            {
                w.U32(L2tpGenl.ATTR_CONN_ID, 3000);
                w.U32(L2tpGenl.ATTR_SESSION_ID, 1000);
                w.U8(L2tpGenl.ATTR_SEND_SEQ, 1);
                w.Attr(attr, Convert.FromHexString(hex));
            }));
            Assert.True(e.Errno == EOPNOTSUPP, $"{what}: errno {e.Errno}");
            Assert.False(fwd.FindTunnel(3000)!.Sessions[1000].Runtime.Sequencer.SendSeq, what);
            Assert.Equal(SequencingMode.None, Get(c, f).Sequencing);
        });
    }

    [Fact]
    public void Modify_of_a_session_that_is_not_there_is_ENODEV_and_sequencing_without_a_sublayer_is_EINVAL()
    {
        InOwnNamespace((c, f, fwd) =>
        {
            Create(c, f);
            var e = Assert.Throws<NetlinkException>(() => c.Genl(f, L2tpGenl.CMD_SESSION_MODIFY, L2tpGenl.Version, 0,
                w => L2tpGenl.WriteSessionModify(w, new(3000, 1999, SequencingMode.Both, null))));
            Assert.Equal(ENODEV, e.Errno);
            c.Genl(f, L2tpGenl.CMD_SESSION_CREATE, L2tpGenl.Version, 0, w => L2tpGenl.WriteSessionCreate(w,
                new SessionSpec { TunnelId = 3000, SessionId = 1001, PeerSessionId = 2001, L2SpecType = L2SpecType.None }));
            e = Assert.Throws<NetlinkException>(() => c.Genl(f, L2tpGenl.CMD_SESSION_MODIFY, L2tpGenl.Version, 0,
                w => L2tpGenl.WriteSessionModify(w, new(3000, 1001, SequencingMode.Send, null))));
            Assert.Equal(EINVAL, e.Errno);
            Assert.Contains("sublayer", e.Message);
            Assert.False(fwd.FindTunnel(3000)!.Sessions[1001].Runtime.Sequencer.SendSeq);
        });
    }
}

/// <summary>
/// SESSION_GET by L2TP_ATTR_IFNAME (as the kernel's l2tp_nl_session_get answers it) through the forwarder's real
/// control server, with real TAPs, in a network namespace of its own: how Set-L2tpInterface -Mtu Auto finds one
/// interface's session without a dump of them all.
/// </summary>
public sealed class SessionByInterfaceTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("l2tp-byname-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private void InOwnNamespace(Action<NetlinkClient, ushort> body) =>
        ForwarderInNamespace.Run(_dir, "l2tp-byname-", (c, f, _) => body(c, f));

    private static L2tpSession? ByName(NetlinkClient c, ushort f, string ifname)
    {
        try
        {
            var reply = Assert.Single(c.Genl(f, L2tpGenl.CMD_SESSION_GET, L2tpGenl.Version, 0, w => w.StringZ(L2tpGenl.ATTR_IFNAME, ifname)));
            return L2tpGenl.ReadSession(reply.GenlAttributes, BackendKind.Managed, "");
        }
        catch (NetlinkException e) when (e.Errno == ENODEV)
        {
            return null;
        }
    }

    [Fact]
    public void A_session_is_found_by_its_interface_name_and_an_interface_of_no_session_is_ENODEV()
    {
        InOwnNamespace((c, f) =>
        {
            var tunnel = new TunnelSpec
            {
                TunnelId = 3000, PeerTunnelId = 4000, Local = IPAddress.Loopback, Remote = IPAddress.Loopback, SourcePort = 5000, DestinationPort = 6000,
            };
            c.Genl(f, L2tpGenl.CMD_TUNNEL_CREATE, L2tpGenl.Version, 0, w => L2tpGenl.WriteTunnelCreate(w, tunnel));
            for (uint i = 0; i < 3; i++)
                c.Genl(f, L2tpGenl.CMD_SESSION_CREATE, L2tpGenl.Version, 0,
                    w => L2tpGenl.WriteSessionCreate(w, new SessionSpec { TunnelId = 3000, SessionId = 1000 + i, PeerSessionId = 2000 + i, InterfaceName = i == 1 ? "pw1" : null }));
            var names = c.Genl(f, L2tpGenl.CMD_SESSION_GET, L2tpGenl.Version, Nl.F_DUMP, _ => { })
                .Select(r => L2tpGenl.ReadSession(r.GenlAttributes, BackendKind.Managed, "")).ToDictionary(s => s.InterfaceName, s => s.SessionId);
            Assert.Equal(3, names.Count);
            Assert.Equal(1001u, names["pw1"]);
            foreach (var (ifname, id) in names)
            {
                var s = ByName(c, f, ifname);
                Assert.Equal((3000u, id, ifname), (s?.TunnelId, s?.SessionId, s?.InterfaceName));
            }
            Assert.Null(ByName(c, f, "lo"));
            Assert.Null(ByName(c, f, "nosuch0"));
        });
    }
}
