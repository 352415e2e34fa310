using L2tp.Forwarder;
using L2tp.Native;
using L2tp.Netlink;
using L2tp.Protocol;
using static Tmds.Linux.LibC;

namespace L2tp.Tests;

/// <summary>
/// A forwarder's real control server, with real TAPs, in a network namespace of its own (a thread that unshares one:
/// the TAPs go with it), and a client connected to it: the harness of the tests that drive the forwarder by request.
/// </summary>
internal static class ForwarderInNamespace
{
    /// <summary>Runs <paramref name="body"/> with the client, the l2tp family id and the forwarder; its state lives in <paramref name="stateDir"/>.</summary>
    public static void Run(string stateDir, string socketPrefix, Action<NetlinkClient, ushort, L2tp.Forwarder.Forwarder> body)
    {
        Exception? failure = null;
        var thread = new Thread(() =>
        {
            try
            {
                Sys.Check((int)unshare(Sys.CLONE_NEWNET_), "unshare(CLONE_NEWNET)");
                using (var rt = new RtNetlink())
                    rt.SetLink(1, up: true);   // lo
                string name = socketPrefix + Guid.NewGuid().ToString("N")[..8];
                int listenFd = Sys.Socket(AF_UNIX, SOCK_SEQPACKET, 0);
                Sys.Check(Sys.Bind(listenFd, Sys.AbstractUnixAddress(name)), "bind");
                Sys.Check(listen(listenFd, 4), "listen");
                var fwd = new L2tp.Forwarder.Forwarder(new StateStore(Path.Combine(stateDir, "state.json")));
                var server = new ControlServer(listenFd, fwd);
                // Started from this thread, so in this namespace too.
                var serving = new Thread(() => server.Run(idle: TimeSpan.FromMinutes(5))) { IsBackground = true };
                serving.Start();
                try
                {
                    using var c = new NetlinkClient(UnixSeqPacketSocket.TryConnect(name, out int err) ?? throw new ErrnoException(err, "connect"));
                    body(c, c.ResolveFamily(L2tpGenl.FamilyName)!.Value, fwd);
                }
                finally
                {
                    server.Stop();
                    serving.Join(5000);
                    server.Dispose();
                    fwd.Dispose();
                    Sys.Close(listenFd);
                }
            }
            catch (Exception e) { failure = e; }
        });
        thread.Start();
        thread.Join();
        if (failure is not null)
            throw new Xunit.Sdk.XunitException($"in a namespace of its own: {failure}");
    }
}
