using L2tp.Control;
using L2tp.Native;
using static Tmds.Linux.LibC;

namespace L2tp.Forwarder;

/// <summary>l2tp-forwarder: the managed data plane of one network namespace (TAP devices, tunnel sockets, control socket).</summary>
internal static unsafe class Program
{
    private static int Main(string[] args)
    {
        bool daemon = args.Contains(Daemon.DaemonFlag);
        bool detached = args.Contains(Daemon.DetachedFlag);
        bool foreground = args.Contains("--foreground");
        if (args.Contains("--help") || args.Contains("-h"))
        {
            Console.WriteLine("usage: l2tp-forwarder [--daemon | --foreground]\n" +
                "  Serves L2TPv3 pseudowires for the current network namespace on @l2tp-forwarder.\n" +
                "  --daemon      detach (new session, no inherited fds, output to forwarder.log); how the L2tp module starts it\n" +
                "  --foreground  for a supervisor (systemd): log to stderr, and keep running when no tunnel is left\n" +
                "  Without either it runs attached, logging to stderr, and exits when its last tunnel is removed.");
            return 0;
        }
        string key = NetNamespace.CurrentKey();
        string dir = ForwarderPaths.StateDir(key);
        PrivateFile.CreateFolder(dir);
        if (daemon || detached)
            Log.ToFile(ForwarderPaths.LogFile(key));
        if (daemon)
        {
            // Returns only when the re-exec failed; then this image serves, as before, rather than not at all.
            string? failure = Daemon.Detach(ForwarderPaths.LogFile(key));
            Log.Error($"detaching: {failure}; serving without re-exec (inherited fds may stay open)");
        }

        Daemon.NameThread(ForwarderPaths.Program);
        FileLimit.Raise();
        int listen = Sys.Socket(AF_UNIX, SOCK_SEQPACKET, 0);
        if (Sys.Bind(listen, Sys.AbstractUnixAddress(ForwarderPaths.SocketName)) < 0)
        {
            int e = Sys.Errno;
            Sys.Close(listen);
            if (e == EADDRINUSE)
            {
                Log.Info("another l2tp-forwarder already serves this network namespace");
                return 0;
            }
            Log.Error($"cannot bind @{ForwarderPaths.SocketName}: {new ErrnoException(e, "bind").Message}");
            return 1;
        }
        // Held for the process's life (the kernel lets go of it however the process ends); taken once the bind has
        // made this the namespace's only forwarder.
        _ = StateFolders.Claim(dir);
        Sys.Check(Tmds.Linux.LibC.listen(listen, 512), "listen");
        FileLimit.Presize(listen, FileLimit.Presized);
        Log.Info($"l2tp-forwarder {typeof(Program).Assembly.GetName().Version} serving network namespace {key} (inode {NetNamespace.CurrentInode()})");

        ForwarderControl.Self = new(key, System.Diagnostics.Process.GetCurrentProcess().StartTime.ToUniversalTime(),
            typeof(Program).Assembly.GetName().Version?.ToString() ?? "", daemon || detached ? ForwarderPaths.LogFile(key) : "");
        StateFolders.CollectDead(key);
        PrivateFile.NarrowAll(ForwarderPaths.StateRoot);
        var store = new StateStore(ForwarderPaths.StateFile(key));
        var forwarder = new Forwarder(store);
        bool empty;
        try
        {
            forwarder.Restore();
            using var server = new ControlServer(listen, forwarder);
            using var term = System.Runtime.InteropServices.PosixSignalRegistration.Create(
                System.Runtime.InteropServices.PosixSignal.SIGTERM, ctx => { ctx.Cancel = true; server.Stop(); });
            // Under a supervisor the forwarder's lifetime is the supervisor's to decide: it never exits for being idle.
            server.Run(idle: foreground ? Timeout.InfiniteTimeSpan : TimeSpan.FromSeconds(30));
            empty = forwarder.TunnelCount == 0;
        }
        finally
        {
            forwarder.Dispose();
        }
        // The name goes last. A cmdlet refused it starts the next forwarder at once, which must find the TAPs and ports
        // released and its own state folder left alone; a cmdlet that connects meanwhile is reset and connects again.
        if (empty)
        {
            store.Delete();
            try { Directory.Delete(dir, recursive: true); } catch (IOException) { }
        }
        Log.Info(empty ? "stopped" : "stopped; tunnels stay recorded for the next forwarder");
        Sys.Close(listen);
        return 0;
    }
}
