using System.Net;
using L2tp.Forwarder;
using L2tp.Native;
using L2tp.Netlink;
using L2tp.Protocol;
using Xunit;
using static Tmds.Linux.LibC;

namespace L2tp.Tests;

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
