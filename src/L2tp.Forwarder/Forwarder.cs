using L2tp.Forwarder.Dataplane;
using L2tp.Native;
using L2tp.Protocol;
using static Tmds.Linux.LibC;

namespace L2tp.Forwarder;

/// <summary>
/// The tunnels and sessions of one network namespace and the two packet loops carrying them. Only the control
/// thread calls in here; the loops see changes through a new <see cref="DataplaneMap"/>.
/// </summary>
internal sealed class Forwarder : IDisposable
{
    internal sealed class TunnelEntry
    {
        public required TunnelSpec Spec { get; init; }
        public required TunnelSocket Socket { get; init; }
        public Counters Counters { get; } = new();
        public SortedDictionary<uint, SessionEntry> Sessions { get; } = new();
    }

    internal sealed class SessionEntry
    {
        public required SessionSpec Spec { get; init; }
        public required TapDevice Tap { get; init; }
        public required SessionRuntime Runtime { get; init; }
    }

    private readonly SortedDictionary<uint, TunnelEntry> _tunnels = new();
    private readonly StateStore _store;
    private readonly RxLoop _rx;
    private readonly TxLoop _tx;
    private DataplaneMap _map = DataplaneMap.Empty;

    public Forwarder(StateStore store)
    {
        _store = store;
        _rx = new RxLoop(() => Volatile.Read(ref _map));
        _tx = new TxLoop(() => Volatile.Read(ref _map));
        _rx.Start();
        _tx.Start();
    }

    public int TunnelCount => _tunnels.Count;
    public IEnumerable<TunnelEntry> Tunnels => _tunnels.Values;

    public TunnelEntry? FindTunnel(uint id) => _tunnels.GetValueOrDefault(id);

    public void CreateTunnel(TunnelSpec spec, bool save = true)
    {
        Validate(spec.Validate);
        if (_tunnels.ContainsKey(spec.TunnelId))
            throw new ForwarderError(EEXIST, $"Tunnel {spec.TunnelId} already exists.");
        TunnelSocket socket;
        try
        {
            socket = TunnelSocket.Open(spec);
        }
        catch (ErrnoException e)
        {
            throw new ForwarderError(e.Errno, e.Errno switch
            {
                _ when e.Errno == EADDRNOTAVAIL => $"Local address {spec.Local} is not assigned to any interface.",
                _ when e.Errno == EADDRINUSE => $"UDP port {spec.SourcePort} on {spec.Local} is already in use.",
                _ when e.Errno == ENETUNREACH => $"No route to {spec.Remote}.",
                _ => e.Message,
            });
        }
        _tunnels.Add(spec.TunnelId, new TunnelEntry { Spec = spec, Socket = socket });
        Publish();
        _rx.Add(socket.Fd);
        if (save)
            Save();
        Log.Info($"tunnel {spec.TunnelId} created: {spec.Encapsulation} {spec.BindAddress}:{spec.SourcePort} -> {spec.Remote}:{spec.DestinationPort}");
    }

    public void DeleteTunnel(uint id)
    {
        var t = _tunnels.GetValueOrDefault(id) ?? throw new ForwarderError(ENODEV, $"There is no tunnel {id}.");
        // As the kernel: deleting a tunnel deletes its sessions.
        foreach (var sid in t.Sessions.Keys.ToList())
            DeleteSession(id, sid, save: false);
        _tunnels.Remove(id);
        _rx.Remove(t.Socket.Fd);
        Publish();
        _rx.Quiesce();
        _tx.Quiesce();
        t.Socket.Dispose();
        Save();
        Log.Info($"tunnel {id} deleted");
    }

    public SessionEntry CreateSession(SessionSpec spec, bool save = true, bool attach = false)
    {
        Validate(spec.Validate);
        var t = _tunnels.GetValueOrDefault(spec.TunnelId) ?? throw new ForwarderError(ENODEV, $"There is no tunnel {spec.TunnelId}.");
        if (t.Sessions.ContainsKey(spec.SessionId))
            throw new ForwarderError(EEXIST, $"Session {spec.SessionId} already exists in tunnel {spec.TunnelId}.");
        // IP encapsulation demultiplexes by session id alone, so there the id must be unique in the namespace.
        foreach (var other in _tunnels.Values)
            if (other != t && (other.Spec.Encapsulation == Encapsulation.Ip || t.Spec.Encapsulation == Encapsulation.Ip)
                && other.Sessions.ContainsKey(spec.SessionId))
                throw new ForwarderError(EEXIST, $"Session {spec.SessionId} already exists in tunnel {other.Spec.TunnelId}; with encap ip a session id must be unique.");

        TapDevice tap;
        try
        {
            tap = attach ? TapDevice.Attach(spec.InterfaceName!) : TapDevice.Create(spec.InterfaceName ?? SessionSpec.DefaultNamePattern);
        }
        catch (ErrnoException e)
        {
            throw new ForwarderError(e.Errno, e.Errno == EEXIST
                ? $"An interface named '{spec.InterfaceName}' already exists."
                : $"Cannot create the session interface: {e.Message}");
        }
        try
        {
            if (!attach)
                InterfaceControl.SetMtu(tap.Name, SessionMtu(t, spec));
            var runtime = SessionRuntime.Create(t.Spec, spec, tap.Fd, t.Socket.Fd, new Counters(), t.Counters, tap.VnetHeader);
            runtime.MaxFrame = SessionRuntime.MaxFrameFor(InterfaceControl.GetMtu(tap.Name));
            var entry = new SessionEntry { Spec = spec with { InterfaceName = tap.Name }, Tap = tap, Runtime = runtime };
            t.Sessions.Add(spec.SessionId, entry);
            Publish();
            _tx.Add(tap.Fd);
            if (save)
                Save();
            Log.Info($"session {spec.SessionId} in tunnel {spec.TunnelId} {(attach ? "re-attached to" : "created as")} {tap.Name}");
            return entry;
        }
        catch (Exception e)
        {
            // Nothing half-made may stay: the TAP goes with the failed session.
            t.Sessions.Remove(spec.SessionId);
            Publish();
            _tx.Remove(tap.Fd);
            _tx.Quiesce();
            tap.Destroy();
            throw e is ErrnoException ee ? new ForwarderError(ee.Errno, ee.Message) : e;
        }
    }

    /// <summary>l2tp_eth's MTU: the route's MTU less IP, UDP, L2TP and inner Ethernet headers.</summary>
    internal static int SessionMtu(int pathMtu, int underlayOverhead, int l2tpHeader) =>
        Mtu.FromOverhead(pathMtu, underlayOverhead + l2tpHeader + 14);

    private static int SessionMtu(TunnelEntry t, SessionSpec s) =>
        SessionMtu(t.Socket.PathMtu(), t.Socket.UnderlayOverhead,
            L2tpHeader.Length(t.Spec.Encapsulation, s.Cookie.Length, s.L2SpecType));

    public void DeleteSession(uint tunnelId, uint sessionId, bool save = true)
    {
        var t = _tunnels.GetValueOrDefault(tunnelId) ?? throw new ForwarderError(ENODEV, $"There is no tunnel {tunnelId}.");
        var s = t.Sessions.GetValueOrDefault(sessionId) ?? throw new ForwarderError(ENODEV, $"There is no session {sessionId} in tunnel {tunnelId}.");
        t.Sessions.Remove(sessionId);
        _tx.Remove(s.Tap.Fd);
        Publish();
        _rx.Quiesce();
        _tx.Quiesce();
        s.Tap.Destroy();
        if (save)
            Save();
        Log.Info($"session {sessionId} in tunnel {tunnelId} deleted");
    }

    /// <summary>Follows MTU changes made to session interfaces (Set-L2tpInterface, ip link) with one link dump.</summary>
    public void RefreshMtus()
    {
        if (_tunnels.Count == 0)
            return;
        Dictionary<string, int> mtus;
        try
        {
            using var rt = new L2tp.Netlink.RtNetlink();
            mtus = rt.Links().GroupBy(l => l.Name).ToDictionary(g => g.Key, g => g.First().Mtu);
        }
        catch (Exception e)
        {
            Log.Error($"reading interface MTUs: {e.Message}");
            return;
        }
        foreach (var t in _tunnels.Values)
            foreach (var s in t.Sessions.Values)
                if (mtus.TryGetValue(s.Tap.Name, out int mtu))
                    s.Runtime.MaxFrame = SessionRuntime.MaxFrameFor(mtu);
    }

    private static void Validate(Action validate)
    {
        try
        {
            validate();
        }
        catch (L2tpException e)
        {
            throw new ForwarderError(EINVAL, e.Message);
        }
    }

    /// <summary>Builds and swaps in a new map; the loops pick it up on their next wakeup.</summary>
    private void Publish()
    {
        var bySocket = new Dictionary<int, TunnelRuntime>();
        var byTap = new Dictionary<int, SessionRuntime>();
        foreach (var t in _tunnels.Values)
        {
            var sessions = new Dictionary<uint, SessionRuntime>();
            foreach (var s in t.Sessions.Values)
            {
                sessions[s.Spec.SessionId] = s.Runtime;
                byTap[s.Tap.Fd] = s.Runtime;
            }
            bySocket[t.Socket.Fd] = new TunnelRuntime
            {
                TunnelId = t.Spec.TunnelId,
                SocketFd = t.Socket.Fd,
                Encapsulation = t.Spec.Encapsulation,
                SkipIpHeader = t.Socket.ReceivesIpHeader,
                Counters = t.Counters,
                Sessions = sessions,
            };
        }
        Interlocked.Exchange(ref _map, new DataplaneMap(bySocket, byTap));
    }

    private void Save()
    {
        if (_tunnels.Count == 0)
        {
            _store.Delete();
            return;
        }
        _store.Save(_tunnels.Values.Select(t =>
            StateStore.ToRecord(t.Spec, t.Sessions.Values.Select(s => (s.Spec, s.Tap.Name)))).ToList());
    }

    /// <summary>Entries set aside since this forwarder started and not yet shown to a user (see ForwarderControl).</summary>
    public List<StateStore.Rejected> Unreported { get; } = new();

    public StateStore Store => _store;

    /// <summary>
    /// Re-creates what the state file lists: sockets anew, sessions on their persistent TAPs. What cannot be read
    /// or re-created is set aside into state.json.rejected, so that it is neither lost nor retried on every start.
    /// </summary>
    public void Restore()
    {
        var loaded = _store.Load();
        var rejected = new List<StateStore.Rejected>(loaded.Rejected);
        var failed = new List<StateStore.Rejected>();
        foreach (var r in loaded.Tunnels)
        {
            try
            {
                CreateTunnel(StateStore.ToSpec(r), save: false);
            }
            catch (Exception e)
            {
                Log.Error($"cannot restore tunnel {r.TunnelId}: {e.Message}");
                failed.Add(new($"tunnel {r.TunnelId}", $"cannot be re-created: {e.Message}",
                    System.Text.Json.JsonSerializer.SerializeToNode(r, StateStore.JsonOptions), DateTime.UtcNow));
                continue;
            }
            foreach (var s in r.Sessions)
            {
                var spec = StateStore.ToSpec(r.TunnelId, s);
                try
                {
                    CreateSession(spec, save: false, attach: true);
                }
                catch (Exception e)
                {
                    // The interface is gone (someone deleted it): make a new one of the same name.
                    Log.Error($"re-attaching session {s.SessionId} to {s.InterfaceName} failed ({e.Message}); creating it anew");
                    try { CreateSession(spec, save: false); }
                    catch (Exception e2)
                    {
                        Log.Error($"cannot restore session {s.SessionId}: {e2.Message}");
                        failed.Add(new($"session {s.SessionId} of tunnel {r.TunnelId}", $"cannot be re-created: {e2.Message}",
                            System.Text.Json.JsonSerializer.SerializeToNode(s, StateStore.JsonOptions), DateTime.UtcNow));
                    }
                }
            }
        }
        if (failed.Count > 0)
            _store.SetAside(failed);
        rejected.AddRange(failed);
        Unreported.AddRange(rejected);
        if (loaded.Tunnels.Count > 0 || rejected.Count > 0)
        {
            // Rewritten with only what was restored: a bad entry must not be set aside again on every start.
            Save();
            Log.Info($"restored {_tunnels.Count} tunnel(s) from {_store.Path}" +
                (rejected.Count > 0 ? $"; {rejected.Count} entr{(rejected.Count == 1 ? "y" : "ies")} set aside into {_store.RejectedPath}" : ""));
        }
    }

    /// <summary>Stops the loops and closes fds; persistent TAPs and the state file stay for the next forwarder.</summary>
    public void Dispose()
    {
        _rx.Dispose();
        _tx.Dispose();
        foreach (var t in _tunnels.Values)
        {
            foreach (var s in t.Sessions.Values)
                s.Tap.Dispose();
            t.Socket.Dispose();
        }
    }
}
