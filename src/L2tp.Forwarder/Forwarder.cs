using L2tp.Netlink;
using System.Collections.Concurrent;
using L2tp.Forwarder.Dataplane;
using L2tp.Native;
using L2tp.Protocol;
using Tmds.Linux;
using static Tmds.Linux.LibC;

namespace L2tp.Forwarder;

/// <summary>
/// The tunnels and sessions of one network namespace and the two packet loops carrying them. Only the control
/// thread calls in here; the loops see changes through the <see cref="DataplaneMap"/>, changed one entry at a time.
/// Every request costs the same whatever the number of sessions: no step of it walks them all.
/// </summary>
internal sealed class Forwarder : IDisposable
{
    internal sealed class TunnelEntry
    {
        public required TunnelSpec Spec { get; init; }
        public required TunnelSocket Socket { get; init; }
        public required TunnelRuntime Runtime { get; init; }
        public Counters Counters => Runtime.Counters;
        public SortedDictionary<uint, SessionEntry> Sessions { get; } = new();
    }

    internal sealed class SessionEntry
    {
        /// <summary>What the session was asked to be; SESSION_MODIFY replaces it (control thread only).</summary>
        public required SessionSpec Spec { get; set; }
        public required TapDevice Tap { get; init; }
        public required SessionRuntime Runtime { get; init; }
        public required TunnelEntry Tunnel { get; init; }
        /// <summary>The TAP's interface index: link notifications name a deleted interface by index only.</summary>
        public required int IfIndex { get; init; }
    }

    private readonly SortedDictionary<uint, TunnelEntry> _tunnels = new();
    private readonly StateStore _store;
    private readonly RxLoop _rx;
    private readonly TxLoop _tx;
    private readonly DataplaneMap _map = new();
    private readonly LinkMonitor _links;
    private readonly InterfaceControl _ifc = new();
    /// <summary>l2tpeth numbers this forwarder holds, so it names a new session without the kernel's scan of every name.</summary>
    private readonly InterfaceNames _names = new(SessionSpec.DefaultNamePattern);
    /// <summary>Sessions by their TAP's interface index: link notifications name an interface by index.</summary>
    private readonly Dictionary<int, SessionEntry> _byIfIndex = new();
    private int _sessionCount;
    /// <summary>Sessions whose TAP the transmit loop found dead, for the control thread to delete.</summary>
    private readonly ConcurrentQueue<SessionRuntime> _tapsGone = new();
    private readonly int _wake, _events;

    public Forwarder(StateStore store)
    {
        _store = store;
        // Subscribed before any TAP is made or re-attached, so no deletion can slip between.
        _links = new LinkMonitor();
        _wake = Sys.Check(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK), "eventfd");
        _events = Sys.Check(epoll_create1(EPOLL_CLOEXEC), "epoll_create1");
        Watch(_links.Fd);
        Watch(_wake);
        _rx = new RxLoop(() => _map);
        // One thread for both directions unless L2TP_FORWARDER_THREADS=2 (for comparison in Bench): a ping round trip
        // then costs each forwarder one wake-up instead of two, and the answer to a frame just written to a TAP is
        // read on the same pass.
        _tx = new TxLoop(() => _map, OnTapGone, SeparateThreads ? null : _rx);
        _rx.Start();
        _tx.Start();
    }

    /// <summary>Whether receive and transmit get a thread each (L2TP_FORWARDER_THREADS=2) rather than sharing one.</summary>
    internal static readonly bool SeparateThreads = Environment.GetEnvironmentVariable("L2TP_FORWARDER_THREADS") == "2";

    /// <summary>
    /// Readable when <see cref="ProcessEvents"/> has work: a link notification, or a dead TAP from the transmit loop.
    /// The control thread polls it with its clients (an epoll fd, so one fd covers both sources).
    /// </summary>
    public int EventFd => _events;

    private unsafe void Watch(int fd)
    {
        epoll_event ev = default;
        ev.events = EPOLLIN;
        ev.data.fd = fd;
        Sys.Check(epoll_ctl(_events, EPOLL_CTL_ADD, fd, &ev), "epoll_ctl(ADD)");
    }

    /// <summary>On the transmit thread: hands the session to the control thread without blocking or allocating much.</summary>
    private unsafe void OnTapGone(SessionRuntime s)
    {
        _tapsGone.Enqueue(s);
        ulong one = 1;
        write(_wake, &one, 8);
    }

    /// <summary>
    /// Follows what changed under the forwarder (control thread only): deletes sessions whose interface was deleted, as
    /// l2tp_eth does, and follows MTU and name changes of session interfaces. Never throws.
    /// </summary>
    public unsafe void ProcessEvents()
    {
        ulong count;
        read(_wake, &count, 8);
        try
        {
            while (_tapsGone.TryDequeue(out var runtime))
                if (FindTunnel(runtime.TunnelId)?.Sessions.GetValueOrDefault(runtime.SessionId) is { } s && s.Runtime == runtime)
                    SessionGone(s.Tunnel, s, $"the TAP fd of {s.Tap.Name} reports its device gone");
            if (!_links.Drain(OnLink))
                Resync();
        }
        catch (Exception e)
        {
            Log.Error($"following link changes: {e}");
        }
    }

    private void OnLink(LinkEvent e)
    {
        if (!_byIfIndex.TryGetValue(e.Index, out var s))
            return;
        var t = s.Tunnel;
        if (e.Deleted)
        {
            SessionGone(t, s, $"its interface {s.Tap.Name} was deleted");
            return;
        }
        if (e.Mtu > 0)
            s.Runtime.MaxFrame = SessionRuntime.MaxFrameFor(e.Mtu);
        if (e.Name is { Length: > 0 } name && name != s.Tap.Name)
        {
            // Renamed (ip link set name): the state file must name it so for a new forwarder to re-attach.
            Log.Info($"session {s.Spec.SessionId} in tunnel {t.Spec.TunnelId}: interface {s.Tap.Name} renamed {name}");
            _names.Release(s.Tap.Name);
            s.Tap.Name = name;
            _names.Hold(name);
            Persist(StateStore.JournalEntry.Renamed(t.Spec.TunnelId, s.Spec.SessionId, name));
        }
    }

    /// <summary>After lost notifications (the socket's queue overran): the same conclusions from one link dump.</summary>
    private void Resync()
    {
        Log.Error("link notifications were lost: re-reading the links");
        List<L2tp.Netlink.LinkInfo> links;
        using (var rt = new L2tp.Netlink.RtNetlink())
            links = rt.Links();
        var byIndex = links.ToDictionary(l => l.Index);
        foreach (var (t, s) in _tunnels.Values.SelectMany(t => t.Sessions.Values.Select(s => (t, s))).ToList())
            OnLink(byIndex.TryGetValue(s.IfIndex, out var l)
                ? new LinkEvent(false, l.Index, l.Name, l.Mtu)
                : new LinkEvent(true, s.IfIndex, null, 0));
    }

    private void SessionGone(TunnelEntry t, SessionEntry s, string why)
    {
        // Its fd may still be in the transmit loop's set (the notification can come first): DeleteSession removes it.
        DeleteSession(t.Spec.TunnelId, s.Spec.SessionId, save: true, why: why);
    }

    public int TunnelCount => _tunnels.Count;
    public IEnumerable<TunnelEntry> Tunnels => _tunnels.Values;

    public TunnelEntry? FindTunnel(uint id) => _tunnels.GetValueOrDefault(id);

    /// <summary>
    /// The session whose TAP is named <paramref name="ifname"/> now (SESSION_GET by L2TP_ATTR_IFNAME): the name to its
    /// index (SIOCGIFINDEX) to the session, so one session's read does not walk them all; null when none.
    /// </summary>
    public SessionEntry? FindSession(string ifname) =>
        ifname.Length is > 0 and < 16 && _ifc.IndexOf(ifname) is var index and > 0
            && _byIfIndex.TryGetValue(index, out var s) && s.Tap.Name == ifname ? s : null;

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
        var runtime = new TunnelRuntime
        {
            TunnelId = spec.TunnelId,
            SocketFd = socket.Fd,
            Encapsulation = spec.Encapsulation,
            SkipIpHeader = socket.ReceivesIpHeader,
            Counters = new Counters(),
            Sessions = new(),
        };
        _tunnels.Add(spec.TunnelId, new TunnelEntry { Spec = spec, Socket = socket, Runtime = runtime });
        _map.AddTunnel(runtime);
        _rx.Add(socket.Fd);
        if (save)
            Persist(StateStore.JournalEntry.TunnelCreated(StateStore.ToRecord(spec, Array.Empty<(SessionSpec, string)>())));
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
        _map.RemoveTunnel(t.Runtime);
        _rx.Quiesce();
        _tx.Quiesce();
        t.Socket.Dispose();
        Persist(StateStore.JournalEntry.TunnelDeleted(id));
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
            tap = attach ? TapDevice.Attach(spec.InterfaceName!, _ifc)
                : spec.InterfaceName is { } name ? TapDevice.Create(name)
                : CreateNumberedTap();
        }
        catch (ErrnoException e)
        {
            throw new ForwarderError(e.Errno, e.Errno == EEXIST
                ? $"An interface named '{spec.InterfaceName}' already exists."
                : $"Cannot create the session interface: {e.Message}");
        }
        if (!attach && !FileLimit.LeavesRoom(tap.Fd))
        {
            int open = tap.Fd + 1;
            // A TAP just made goes with the refusal (Destroy: it is persistent until then).
            tap.Destroy();
            throw new ForwarderError(EMFILE, $"The forwarder holds {open} open files of its limit of {FileLimit.Limit} (RLIMIT_NOFILE, " +
                $"{FileLimit.Reserve} kept free): no room for another session interface. Start the forwarder with a higher limit " +
                "(LimitNOFILE= in its systemd unit, or ulimit -Hn in the shell that runs the first cmdlet).");
        }
        try
        {
            // A new TAP gets l2tp_eth's MTU, which is then the MTU in force; a re-attached one keeps what it has.
            int mtu = attach ? _ifc.GetMtu(tap.Name) : SessionMtu(t, spec);
            if (!attach)
                _ifc.SetMtu(tap.Name, mtu);
            var runtime = SessionRuntime.Create(t.Spec, spec, tap.Fd, t.Socket.Fd, new Counters(), t.Counters, tap.VnetHeader);
            runtime.MaxFrame = SessionRuntime.MaxFrameFor(mtu);
            var entry = new SessionEntry
            {
                Spec = spec with { InterfaceName = tap.Name }, Tap = tap, Runtime = runtime, Tunnel = t, IfIndex = _ifc.IndexOf(tap.Name),
            };
            t.Sessions.Add(spec.SessionId, entry);
            _byIfIndex[entry.IfIndex] = entry;
            _names.Hold(tap.Name);
            _sessionCount++;
            _map.AddSession(t.Runtime, runtime);
            _tx.Add(tap.Fd);
            if (save)
                Persist(StateStore.JournalEntry.SessionCreated(t.Spec.TunnelId, StateStore.ToRecord(entry.Spec, tap.Name)));
            Log.Info($"session {spec.SessionId} in tunnel {spec.TunnelId} {(attach ? "re-attached to" : "created as")} {tap.Name}");
            return entry;
        }
        catch (Exception e)
        {
            // Nothing half-made may stay: the TAP goes with the failed session.
            if (t.Sessions.Remove(spec.SessionId, out var made))
            {
                _byIfIndex.Remove(made.IfIndex);
                _names.Release(made.Tap.Name);
                _sessionCount--;
                _map.RemoveSession(t.Runtime, made.Runtime);
            }
            _tx.Remove(tap.Fd);
            _tx.Quiesce();
            tap.Destroy();
            throw e is ErrnoException ee ? new ForwarderError(ee.Errno, ee.Message) : e;
        }
    }

    /// <summary>
    /// A TAP named l2tpeth with the lowest number free, as the kernel would name it, but picked here: asking the kernel for
    /// l2tpeth%d makes it scan every interface name for each new session. A name taken by an interface this forwarder
    /// does not hold (made by hand) is refused by the kernel, and the next is tried.
    /// </summary>
    private TapDevice CreateNumberedTap()
    {
        int tries = 0;
        foreach (var name in _names.Candidates())
        {
            try
            {
                return TapDevice.Create(name);
            }
            catch (ErrnoException e) when (e.Errno == EEXIST && ++tries < 4096)
            {
            }
        }
        throw new ErrnoException(ENFILE, "no free l2tpeth name");
    }

    /// <summary>l2tp_eth's MTU: the route's MTU less IP, UDP, L2TP and inner Ethernet headers.</summary>
    internal static int SessionMtu(int pathMtu, int underlayOverhead, int l2tpHeader) =>
        Mtu.FromOverhead(pathMtu, underlayOverhead + l2tpHeader + 14);

    private static int SessionMtu(TunnelEntry t, SessionSpec s) =>
        SessionMtu(t.Socket.PathMtu(), t.Socket.UnderlayOverhead,
            L2tpHeader.Length(t.Spec.Encapsulation, s.Cookie.Length, s.L2SpecType));

    /// <summary>
    /// SESSION_MODIFY on a live session: sequencing and the reorder timeout change in the rx and tx loops' sequencer at
    /// once, with no restart and no lost state (the numbers go on), and are recorded before the ack.
    /// </summary>
    public SessionEntry ModifySession(L2tpGenl.SessionChange change)
    {
        var t = _tunnels.GetValueOrDefault(change.TunnelId) ?? throw new ForwarderError(ENODEV, $"There is no tunnel {change.TunnelId}.");
        var s = t.Sessions.GetValueOrDefault(change.SessionId)
            ?? throw new ForwarderError(ENODEV, $"There is no session {change.SessionId} in tunnel {change.TunnelId}.");
        var spec = s.Spec with
        {
            Sequencing = change.Sequencing ?? s.Spec.Sequencing,
            ReorderTimeoutMs = change.ReorderTimeoutMs ?? s.Spec.ReorderTimeoutMs,
        };
        Validate(spec.Validate);
        if (spec == s.Spec)
            return s;
        var seq = s.Runtime.Sequencer;
        // As l2tp_nl_cmd_session_modify: each setting given is set as is (send_seq too, which the peer may turn again).
        if (change.Sequencing is not null)
        {
            seq.RecvSeq = spec.RecvSequence;
            seq.SendSeq = spec.SendSequence;
        }
        if (change.ReorderTimeoutMs is { } ms)
            seq.ReorderTimeoutMs = ms;
        s.Spec = spec;
        Persist(StateStore.JournalEntry.SessionCreated(t.Spec.TunnelId, StateStore.ToRecord(spec, s.Tap.Name)));
        Log.Info($"session {spec.SessionId} in tunnel {spec.TunnelId} modified: seq {spec.Sequencing}, reorder timeout {spec.ReorderTimeoutMs} ms");
        return s;
    }

    /// <summary>Deletes a session and its TAP; `why` is given (and logged) when it goes by itself rather than by request.</summary>
    public void DeleteSession(uint tunnelId, uint sessionId, bool save = true, string? why = null)
    {
        var t = _tunnels.GetValueOrDefault(tunnelId) ?? throw new ForwarderError(ENODEV, $"There is no tunnel {tunnelId}.");
        var s = t.Sessions.GetValueOrDefault(sessionId) ?? throw new ForwarderError(ENODEV, $"There is no session {sessionId} in tunnel {tunnelId}.");
        t.Sessions.Remove(sessionId);
        _byIfIndex.Remove(s.IfIndex);
        _sessionCount--;
        _tx.Remove(s.Tap.Fd);
        _map.RemoveSession(t.Runtime, s.Runtime);
        _rx.Quiesce();
        _tx.Quiesce();
        s.Tap.Destroy();
        _names.Release(s.Tap.Name);
        if (save)
            Persist(StateStore.JournalEntry.SessionDeleted(tunnelId, sessionId));
        Log.Info(why is null ? $"session {sessionId} in tunnel {tunnelId} deleted" : $"session {sessionId} in tunnel {tunnelId} deleted: {why}");
    }

    private static void Validate(Action validate)
    {
        try
        {
            validate();
        }
        catch (L2tpException e)
        {
            throw new ForwarderError(EINVAL, e.Word(L2tpGenl.AttributeName));
        }
    }

    /// <summary>Journal entries below which the journal is never folded into a snapshot on the request path.</summary>
    internal const int MinJournal = 256;

    /// <summary>
    /// Records a change before it is acknowledged: one journal line. Once the journal is as long as the state itself it
    /// is folded into a new snapshot, so that its cost, O(state), comes once per O(state) changes: O(1) per change.
    /// </summary>
    private void Persist(StateStore.JournalEntry change)
    {
        if (_tunnels.Count == 0 || !_store.SnapshotExists)
        {
            // The first tunnel writes the snapshot at once: its presence tells the module a forwarder is to be restarted.
            Snapshot();
            return;
        }
        _store.Append(change);
        LastChange = DateTime.UtcNow;
        if (_store.JournalEntries > Math.Max(MinJournal, _tunnels.Count + _sessionCount))
            Snapshot();
    }

    /// <summary>When the last change was journaled (for the control loop's fold when it goes quiet).</summary>
    public DateTime LastChange { get; private set; }

    /// <summary>Changes are in the journal only: a snapshot would take them in.</summary>
    public bool SnapshotStale => _store.JournalEntries > 0;

    /// <summary>Folds the journal into a new snapshot when there is one to fold (the control loop calls it when idle).</summary>
    public void CompactIfStale()
    {
        if (!SnapshotStale)
            return;
        try
        {
            Snapshot();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Log.Error($"writing the state snapshot {_store.Path}: {e.Message}");
        }
    }

    private void Snapshot()
    {
        if (_tunnels.Count == 0)
        {
            _store.Delete();
            return;
        }
        _store.Save(_tunnels.Values.Select(t =>
            StateStore.ToRecord(t.Spec, t.Sessions.Values.Select(s => (s.Spec, s.Tap.Name)))).ToList());
    }

    /// <summary>The map the packet loops read, for tests that count what a change writes.</summary>
    internal DataplaneMap Map => _map;

    /// <summary>The l2tpeth names held, for tests that count what a pick costs.</summary>
    internal InterfaceNames Names => _names;

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
                    StateStore.ToNode(r), DateTime.UtcNow));
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
                            StateStore.ToNode(s), DateTime.UtcNow));
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
            Snapshot();
            Log.Info($"restored {_tunnels.Count} tunnel(s) from {_store.Path}" +
                (rejected.Count > 0 ? $"; {rejected.Count} entr{(rejected.Count == 1 ? "y" : "ies")} set aside into {_store.RejectedPath}" : ""));
        }
    }

    /// <summary>Stops the loops and closes fds; persistent TAPs and the state file stay for the next forwarder.</summary>
    public void Dispose()
    {
        _rx.Dispose();
        _tx.Dispose();
        _links.Dispose();
        _ifc.Dispose();
        _store.Dispose();
        Sys.Close(_wake);
        Sys.Close(_events);
        foreach (var t in _tunnels.Values)
        {
            foreach (var s in t.Sessions.Values)
                s.Tap.Dispose();
            t.Socket.Dispose();
        }
    }
}
