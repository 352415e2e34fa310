using System.Diagnostics;
using System.Net;
using L2tp.Forwarder;
using L2tp.Native;
using L2tp.Netlink;
using L2tp.Protocol;
using Xunit;
using static Tmds.Linux.LibC;

namespace L2tp.Tests;

/// <summary>
/// The module's NetlinkClient against the forwarder's real ControlServer, over a real abstract unix socket of a name of
/// its own: the same bytes the cmdlets and l2tp-forwarder exchange, with no transport in between.
/// </summary>
public sealed class ControlServerTests : IDisposable
{
    private readonly string _name = "l2tp-test-" + Guid.NewGuid().ToString("N")[..12];
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "l2tp-ctl-" + Guid.NewGuid().ToString("N")[..8]);
    private readonly int _listen;
    private readonly L2tp.Forwarder.Forwarder _forwarder;
    private readonly ControlServer _server;
    private readonly Thread _thread;

    public ControlServerTests()
    {
        Directory.CreateDirectory(_dir);
        _listen = Sys.Socket(AF_UNIX, SOCK_SEQPACKET, 0);
        Sys.Check(Sys.Bind(_listen, Sys.AbstractUnixAddress(_name)), "bind");
        Sys.Check(listen(_listen, 16), "listen");
        _forwarder = new L2tp.Forwarder.Forwarder(new StateStore(Path.Combine(_dir, "state.json")));
        _server = new ControlServer(_listen, _forwarder);
        _thread = new Thread(() => _server.Run(idle: TimeSpan.FromMinutes(5))) { IsBackground = true };
        _thread.Start();
    }

    private NetlinkClient Connect()
    {
        var sock = UnixSeqPacketSocket.TryConnect(_name, out int err) ?? throw new ErrnoException(err, "connect");
        return new NetlinkClient(sock);
    }

    private static ushort Family(NetlinkClient c) => c.ResolveFamily(L2tpGenl.FamilyName) ?? throw new Xunit.Sdk.XunitException("no l2tp family");

    [Fact]
    public void ClientResolvesTheL2tpFamilyAndDumpsNoTunnels()
    {
        using var c = Connect();
        Assert.Equal(ControlServer.FamilyId, Family(c));
        Assert.Empty(c.Genl(Family(c), L2tpGenl.CMD_TUNNEL_GET, L2tpGenl.Version, Nl.F_DUMP, _ => { }));
    }

    [Fact]
    public void TunnelCreatedThroughTheClientComesBackFromGetAndIsDeleted()
    {
        using var c = Connect();
        ushort f = Family(c);
        var spec = new TunnelSpec
        {
            TunnelId = 3000, PeerTunnelId = 4000, Local = IPAddress.Loopback, Remote = IPAddress.Loopback,
            SourcePort = (ushort)Random.Shared.Next(40000, 60000), DestinationPort = 6000,
        };
        c.Genl(f, L2tpGenl.CMD_TUNNEL_CREATE, L2tpGenl.Version, 0, w => L2tpGenl.WriteTunnelCreate(w, spec));
        var reply = Assert.Single(c.Genl(f, L2tpGenl.CMD_TUNNEL_GET, L2tpGenl.Version, 0, w => w.U32(L2tpGenl.ATTR_CONN_ID, 3000)));
        var t = L2tpGenl.ReadTunnel(reply.GenlAttributes, BackendKind.Managed, "");
        Assert.Equal((3000u, 4000u, spec.SourcePort, (ushort)6000), (t.TunnelId, t.PeerTunnelId, t.SourcePort, t.DestinationPort));
        var e = Assert.Throws<NetlinkException>(() =>
            c.Genl(f, L2tpGenl.CMD_TUNNEL_CREATE, L2tpGenl.Version, 0, w => L2tpGenl.WriteTunnelCreate(w, spec)));
        Assert.Equal(EEXIST, e.Errno);
        c.Genl(f, L2tpGenl.CMD_TUNNEL_DELETE, L2tpGenl.Version, 0, w => w.U32(L2tpGenl.ATTR_CONN_ID, 3000));
        Assert.Empty(c.Genl(f, L2tpGenl.CMD_TUNNEL_GET, L2tpGenl.Version, Nl.F_DUMP, _ => { }));
    }

    [Fact]
    public void BrokenRuleIsWordedWithTheAttributeForTheForwarderAndWithTheParameterForACmdlet()
    {
        using var c = Connect();
        var spec = new TunnelSpec { TunnelId = 0, PeerTunnelId = 4000, Local = IPAddress.Loopback, Remote = IPAddress.Loopback, SourcePort = 5000, DestinationPort = 6000 };
        var e = Assert.Throws<NetlinkException>(() =>
            c.Genl(Family(c), L2tpGenl.CMD_TUNNEL_CREATE, L2tpGenl.Version, 0, w => L2tpGenl.WriteTunnelCreate(w, spec)));
        Assert.Equal(EINVAL, e.Errno);
        Assert.Equal("tunnel id (L2TP_ATTR_CONN_ID) 0 is reserved: give an id from 1 to 4294967295.", e.ExtendedAck);

        var rule = Assert.Throws<L2tpException>(spec.Validate);
        Assert.Equal("-TunnelId 0 is reserved: give an id from 1 to 4294967295.", rule.Word(field => "-" + field));
        Assert.Equal("TunnelId 0 is reserved: give an id from 1 to 4294967295.", rule.Message);
    }

    [Fact]
    public void UnknownCommandIsRefusedWithItsNumberInTheExtendedAck()
    {
        using var c = Connect();
        var e = Assert.Throws<NetlinkException>(() => c.Genl(Family(c), 99, L2tpGenl.Version, 0, _ => { }));
        Assert.Equal(EOPNOTSUPP, e.Errno);
        Assert.Contains("Command 99", e.ExtendedAck);
    }

    [Fact]
    public void RequestOverTheSizeLimitClosesTheConnectionAndTheServerServesOthers()
    {
        // A second client stays connected: a forwarder with no tunnel and no client left exits by design.
        using var keeper = Connect();
        Assert.Equal(ControlServer.FamilyId, Family(keeper));
        using (var c = Connect())
        {
            var e = Assert.Throws<L2tpException>(() => c.Genl(Family(c), L2tpGenl.CMD_TUNNEL_GET, L2tpGenl.Version, 0,
                w => w.Raw(new byte[ControlServer.MaxRequest])));
            Assert.Equal("L2tp.ForwarderConnectionLost", e.ErrorId);
        }
        using var again = Connect();
        Assert.Equal(ControlServer.FamilyId, Family(again));
    }

    [Fact]
    public void CancellingReturnsABlockedRequestAtOnce()
    {
        // A listener nobody accepts from: connect() succeeds through the backlog, and the reply never comes.
        string name = _name + "-mute";
        int mute = Sys.Socket(AF_UNIX, SOCK_SEQPACKET, 0);
        try
        {
            Sys.Check(Sys.Bind(mute, Sys.AbstractUnixAddress(name)), "bind");
            Sys.Check(listen(mute, 4), "listen");
            using var cts = new CancellationTokenSource();
            using var c = new NetlinkClient(UnixSeqPacketSocket.TryConnect(name, out _, cts.Token)!);
            var request = Task.Run(() => c.ResolveFamily(L2tpGenl.FamilyName));
            Thread.Sleep(300);
            Assert.False(request.IsCompleted);
            var sw = Stopwatch.StartNew();
            cts.Cancel();
            Assert.Throws<OperationCanceledException>(() => request.GetAwaiter().GetResult());
            Assert.True(sw.Elapsed < TimeSpan.FromSeconds(1), $"cancel took {sw.Elapsed}");
        }
        finally
        {
            Sys.Close(mute);
        }
    }

    public void Dispose()
    {
        _server.Stop();
        _thread.Join(5000);
        _server.Dispose();
        _forwarder.Dispose();
        Sys.Close(_listen);
        Directory.Delete(_dir, recursive: true);
    }
}
