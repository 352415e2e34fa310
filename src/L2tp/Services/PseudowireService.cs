using System.Globalization;
using L2tp.Backends;
using L2tp.Native;
using L2tp.Netlink;
using L2tp.Protocol;

namespace L2tp.Services;

/// <summary>
/// Tunnels and sessions of one network namespace on one backend: every request the tunnel and session cmdlets make,
/// the rules around them (a tunnel with sessions, -Force), and the words for each refusal (<see cref="Refusals"/>).
/// </summary>
internal sealed class PseudowireService : IDisposable
{
    private readonly BackendKind _requested;
    private readonly string _netns;
    private readonly Action<string>? _verbose;
    private readonly CancellationToken _cancel;
    private IL2tpBackend? _backend;
    private IReadOnlyList<string> _warnings = Array.Empty<string>();
    private Dictionary<string, int>? _suggestedMtus;

    public PseudowireService(BackendKind requested, string netns, Action<string>? verbose, CancellationToken cancel)
    {
        _requested = requested;
        _netns = netns;
        _verbose = verbose;
        _cancel = cancel;
    }

    /// <summary>The backend, opened once; with <paramref name="create"/> false, null where nothing was ever configured.</summary>
    private IL2tpBackend? Backend(bool create)
    {
        if (_backend is null)
        {
            _backend = BackendSelector.Open(_requested, _netns, create, _verbose, _cancel);
            if (_backend is ManagedBackend managed)
                _warnings = managed.Warnings;
        }
        return _backend;
    }

    /// <summary>Warnings the backend has for the user (state entries the forwarder set aside), once.</summary>
    public IReadOnlyList<string> TakeWarnings()
    {
        var w = _warnings;
        _warnings = Array.Empty<string>();
        return w;
    }

    /// <summary>
    /// Creates a tunnel from a spec the cmdlet has validated (before asking ShouldProcess); without
    /// <paramref name="checksumAsked"/> the IPv4 UDP checksum is the backend's default (TunnelSpec.WithDefaultChecksum).
    /// </summary>
    public L2tpTunnel NewTunnel(TunnelSpec spec, bool checksumAsked = true)
    {
        var b = Backend(create: true)!;
        if (!checksumAsked)
            spec = spec.WithDefaultChecksum(b.Kind);
        return Refusals.Guard(() => b.CreateTunnel(spec), e => Refusals.TunnelCreate(e, spec, b.Kind, _netns));
    }

    /// <summary>All tunnels, or the one asked for (L2tp.TunnelNotFound when it is not there).</summary>
    public IReadOnlyList<L2tpTunnel> GetTunnels(uint? tunnelId)
    {
        var b = Backend(create: false);
        var tunnels = b is null ? Array.Empty<L2tpTunnel>()
            : Refusals.Guard(() => b.GetTunnels(tunnelId), e => Refusals.Generic(e, b.Kind, tunnelId, _netns));
        if (tunnelId is { } id && tunnels.Count == 0)
            throw Refusals.TunnelNotFound(id, _netns);
        return tunnels;
    }

    /// <summary>
    /// The sessions that go with tunnel <paramref name="tunnelId"/>: none needed, or <paramref name="force"/> given
    /// (as the kernel deletes them with it); L2tp.TunnelHasSessions otherwise.
    /// </summary>
    public IReadOnlyList<L2tpSession> SessionsToRemoveWith(uint tunnelId, bool force)
    {
        GetTunnels(tunnelId);
        var sessions = GetSessions(tunnelId, null);
        if (sessions.Count > 0 && !force)
            throw new L2tpException("L2tp.TunnelHasSessions", L2tpErrorKind.InvalidOperation, tunnelId,
                $"Tunnel {tunnelId} still has {sessions.Count} session(s) ({string.Join(", ", sessions.Select(s => s.SessionId))}). " +
                "Remove them first, or use -Force to remove them with the tunnel.");
        return sessions;
    }

    /// <summary>Removes <paramref name="sessions"/> (reporting each index to <paramref name="progress"/>), then the tunnel.</summary>
    public void RemoveTunnel(uint tunnelId, IReadOnlyList<L2tpSession> sessions, Action<int>? progress = null)
    {
        var b = Backend(create: false) ?? throw Refusals.TunnelNotFound(tunnelId, _netns);
        for (int i = 0; i < sessions.Count; i++)
        {
            progress?.Invoke(i);
            RemoveSession(sessions[i].TunnelId, sessions[i].SessionId);
        }
        Refusals.Guard(() => b.DeleteTunnel(tunnelId), e => Refusals.TunnelDelete(e, tunnelId, b.Kind, _netns));
    }

    /// <summary>Creates a session from a spec the cmdlet has validated (before asking ShouldProcess).</summary>
    public L2tpSession NewSession(SessionSpec spec)
    {
        var b = Backend(create: false) ?? throw Refusals.TunnelNotFound(spec.TunnelId, _netns);
        return Refusals.Guard(() => b.CreateSession(spec), e => Refusals.SessionCreate(e, spec, b.Kind, _netns, () => SessionExists(b, spec)));
    }

    /// <summary>True when <see cref="NewSessions"/> pipelines (the Kernel backend): false where nothing is configured yet.</summary>
    public bool PipelinesSessions => Backend(create: false)?.PipelinesRequests == true;

    /// <summary>
    /// Creates sessions from specs validated before (a run of Sync's session steps): pipelined on the Kernel backend.
    /// Returns how many were made, from the first; nothing is read back here (<see cref="ReadBack"/> does, once, for
    /// the caller that needs a made session's MTU). A refusal is worded as <see cref="NewSession"/> words it and
    /// returned in <paramref name="refusal"/> with its index; sessions that a pipelined window made past the refused
    /// one are removed again, so what is left is what a loop of NewSession that stopped there leaves. Stops between
    /// windows once the invocation is cancelled (fewer made, no refusal).
    /// </summary>
    public int NewSessions(IReadOnlyList<SessionSpec> specs, out (int Index, L2tpException Error)? refusal)
    {
        refusal = null;
        if (specs.Count == 0)
            return 0;
        var b = Backend(create: false) ?? throw Refusals.TunnelNotFound(specs[0].TunnelId, _netns);
        var refusals = b.CreateSessions(specs, out int sent, _cancel);
        int made = 0;
        while (made < sent && refusals[made] is null)
            made++;
        if (made < sent)
        {
            var spec = specs[made];
            var error = Refusals.SessionCreate(refusals[made]!, spec, b.Kind, _netns, () => SessionExists(b, spec));
            var left = new List<string>();
            for (int i = sent - 1; i > made; i--)
            {
                if (refusals[i] is not null)
                    continue;
                _verbose?.Invoke($"Removing session {specs[i].SessionId} in tunnel {specs[i].TunnelId} again: it was sent in the same window as the refused session {spec.SessionId}");
                try { b.DeleteSession(specs[i].TunnelId, specs[i].SessionId); }
                catch (NetlinkException e) { left.Add($"session {specs[i].SessionId} in tunnel {specs[i].TunnelId} ({e.Message})"); }
            }
            if (left.Count > 0)
                error = new L2tpException(error.ErrorId, error.Kind, error.Target,
                    $"{error.Message} Sessions sent with it that could not be removed again: {string.Join(", ", left)}.", error.InnerException) { Errno = error.Errno };
            refusal = (made, error);
        }
        return made;
    }

    /// <summary>
    /// Sessions made by <see cref="NewSessions"/>, read back with one session dump (and one link dump) instead of a
    /// GET each, keyed by <see cref="MadeKey"/>. (Keys are strings, not tuples: a dictionary over a tuple is runtime
    /// code compiled at its first use, which the precompiled module cannot carry.)
    /// </summary>
    public Dictionary<string, L2tpSession> ReadBack(IReadOnlyList<SessionSpec> made)
    {
        var found = new Dictionary<string, L2tpSession>(made.Count);
        if (made.Count == 0 || Backend(create: false) is not { } b)
            return found;
        var wanted = new HashSet<string>(made.Count);
        foreach (var spec in made)
            wanted.Add(MadeKey(spec.TunnelId, spec.SessionId));
        foreach (var s in Refusals.Guard(() => b.GetSessions(), e => Refusals.Generic(e, b.Kind, null, _netns)))
        {
            string key = MadeKey(s.TunnelId, s.SessionId);
            if (wanted.Contains(key))
                found[key] = s;
        }
        return found;
    }

    /// <summary>The key of a session in <see cref="ReadBack"/>'s answer.</summary>
    public static string MadeKey(uint tunnelId, uint sessionId) => $"{tunnelId.ToString(CultureInfo.InvariantCulture)}/{sessionId.ToString(CultureInfo.InvariantCulture)}";

    private static bool SessionExists(IL2tpBackend b, SessionSpec spec)
    {
        try { return b.GetSessions(spec.TunnelId, spec.SessionId).Count > 0; }
        catch (Exception e) when (e is NetlinkException or L2tpException) { return false; }
    }

    /// <summary>
    /// Sessions, filtered; L2tp.SessionNotFound when one was asked for by id and is not there. PeerState is judged
    /// against <paramref name="silentAfter"/> (default 10 s).
    /// </summary>
    public IReadOnlyList<L2tpSession> GetSessions(uint? tunnelId, uint? sessionId, TimeSpan? silentAfter = null)
    {
        if (silentAfter is { } given)
            CheckSeconds("L2tp.InvalidSilentSeconds", "SilentSeconds", given, 0.1, 86400);
        var b = Backend(create: false);
        var sessions = b is null ? Array.Empty<L2tpSession>()
            : Refusals.Guard(() => b.GetSessions(tunnelId, sessionId), e => Refusals.Generic(e, b.Kind, sessionId, _netns));
        if (sessionId is { } sid && sessions.Count == 0)
            throw Refusals.SessionNotFound(tunnelId, sid, _netns);
        if (silentAfter is { } limit)
        {
            var now = DateTime.UtcNow;
            foreach (var s in sessions)
                if (s.LastReceived is not null || s.LastSent is not null)
                    s.PeerState = Liveness.PeerState(s.LastReceived, s.LastSent, now, limit);
        }
        return sessions;
    }

    /// <summary>
    /// Changes a live session's sequencing and reorder timeout (SESSION_MODIFY) and returns it as it now is. Refuses,
    /// before anything is sent, a session that is not there and sequencing on a session with no sublayer to carry it.
    /// </summary>
    public L2tpSession SetSession(uint tunnelId, uint sessionId, SequencingMode? sequencing, TimeSpan? reorderTimeout)
    {
        ulong? ms = reorderTimeout is { } t ? SessionSpec.ReorderTimeoutFrom(t) : null;
        if (sequencing is { } seq && !Enum.IsDefined(typeof(SequencingMode), seq))
            throw L2tpException.Rule("L2tp.InvalidArgument", L2tpErrorKind.InvalidArgument, (int)seq,
                $"{{Sequencing}} {(int)seq} is not None, Send, Recv or Both.");
        var b = Backend(create: false) ?? throw Refusals.SessionNotFound(tunnelId, sessionId, _netns);
        var current = GetSessions(tunnelId, sessionId)[0];
        // The kernel does not report the sublayer (null): it then takes the change as it takes it at creation.
        if (sequencing is { } s && s != SequencingMode.None && current.L2SpecType == L2SpecType.None)
            throw L2tpException.Rule("L2tp.SequencingNeedsSublayer", L2tpErrorKind.InvalidArgument, s,
                $"{{Sequencing}} {s} needs a session with the default sublayer: session {sessionId} has none, so there is nowhere to carry a sequence number.");
        var change = new L2tpGenl.SessionChange(tunnelId, sessionId, sequencing, ms);
        return Refusals.Guard(() => b.ModifySession(change), e => Refusals.SessionModify(e, tunnelId, sessionId, b.Kind, _netns));
    }

    /// <summary>
    /// Diagnoses one session from this end alone (Test-L2tpSession): watches its counters and the packets arriving in
    /// the namespace for <paramref name="window"/> (an AF_PACKET look: wrong sources, ports and encapsulations, which the
    /// tunnel's connected socket never sees; on the kernel backend also every header), adds what the forwarder
    /// recorded (Managed), and words the findings seen within the window or the 10 s before it.
    /// </summary>
    public L2tpDiagnosis Diagnose(uint tunnelId, uint sessionId, TimeSpan window)
    {
        CheckSeconds("L2tp.InvalidSeconds", "Seconds", window, 0.1, 600);
        var b = Backend(create: false) ?? throw Refusals.SessionNotFound(tunnelId, sessionId, _netns);
        var before = GetSessions(tunnelId, sessionId).Single();
        var tunnel = GetTunnels(tunnelId).Single();
        // One dump serves both the tunnel's sessions and every session interface: its cost grows with the namespace
        // once, where a dump for each grew with it twice.
        var everySession = GetSessions(null, null);
        var all = everySession.Where(s => s.TunnelId == tunnelId);
        var expectations = all.Select(s => new SessionExpectation(s.SessionId, Protocol.Cookie.Parse(s.PeerCookie, "PeerCookie"),
            s.L2SpecType ?? L2SpecType.Default, s.Sequencing.HasFlag(SequencingMode.Recv), s.Mtu > 0 ? s.Mtu + 18 : 0));
        var classifier = new CaptureClassifier(tunnel, expectations, full: b.Kind == BackendKind.Kernel, others: GetTunnels(null));
        // Every session interface of the namespace carries a far LAN's frames, never a tunnel's own packets.
        var sessionInterfaces = everySession.Select(s => s.InterfaceName).ToList();
        var started = DateTime.UtcNow;
        var clock = System.Diagnostics.Stopwatch.StartNew();
        using (NetNamespace.Enter(_netns))
        {
            try
            {
                PacketCapture.Run(window, _cancel, p => classifier.Observe(p, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds()), sessionInterfaces);
            }
            catch (ErrnoException e)
            {
                throw new L2tpException(e.Errno == Tmds.Linux.LibC.EPERM ? "L2tp.PermissionDenied" : "L2tp.SystemError",
                    e.Errno == Tmds.Linux.LibC.EPERM ? L2tpErrorKind.PermissionDenied : L2tpErrorKind.ConnectionError, _netns,
                    $"Cannot watch the packets arriving{ForwarderLink.InNs(_netns)} (an AF_PACKET socket needs CAP_NET_RAW): {e.Message}", e) { Errno = e.Errno };
            }
        }
        _cancel.ThrowIfCancellationRequested();
        var elapsed = clock.Elapsed;
        var after = GetSessions(tunnelId, sessionId).Single();
        var entries = classifier.Table.Snapshot();
        if (Refusals.Guard(() => b.Diagnose(tunnelId), e => Refusals.Generic(e, b.Kind, tunnelId, _netns)) is { } recorded)
            entries.AddRange(recorded);
        var since = new DateTimeOffset(started - Liveness.DefaultSilentAfter).ToUnixTimeMilliseconds();
        var findings = DiagnosisText.Explain(entries.Where(e => e.LastSeen >= since), tunnel, after);
        ulong rx = after.Statistics.RxPackets - Math.Min(after.Statistics.RxPackets, before.Statistics.RxPackets);
        ulong tx = after.Statistics.TxPackets - Math.Min(after.Statistics.TxPackets, before.Statistics.TxPackets);
        L2tpVerdict verdict;
        if (findings.Count > 0)
            verdict = L2tpVerdict.Mismatch;
        else if (rx > 0 || (tx == 0 && after.PeerState == L2tpPeerState.Up))
            verdict = L2tpVerdict.Healthy;
        else if (tx > 0 || after.PeerState == L2tpPeerState.Silent)
        {
            verdict = L2tpVerdict.Silent;
            findings.Add(DiagnosisText.Silent(tunnel, after, tx, elapsed));
        }
        else
            verdict = L2tpVerdict.Idle;
        return new L2tpDiagnosis
        {
            TunnelId = tunnelId, SessionId = sessionId, Verdict = verdict, Findings = findings.ToArray(),
            ReceivedPackets = rx, SentPackets = tx, Duration = elapsed, Backend = b.Kind, NetworkNamespace = _netns,
        };
    }

    /// <summary>
    /// Test-L2tpSession's work for a caller outside a cmdlet (the remoting cmdlets): one session of
    /// <paramref name="netns"/> diagnosed over <paramref name="window"/>.
    /// </summary>
    public static L2tpDiagnosis Diagnose(string netns, uint tunnelId, uint sessionId, TimeSpan window,
        BackendKind backend = BackendKind.Auto, CancellationToken cancel = default)
    {
        using var service = new PseudowireService(backend, netns, null, cancel);
        return service.Diagnose(tunnelId, sessionId, window);
    }

    /// <summary>
    /// Watch-L2tpSession: samples the sessions every <paramref name="interval"/> and hands each sample's rates to
    /// <paramref name="onSample"/>, <paramref name="count"/> times or until cancelled (Ctrl+C).
    /// </summary>
    public void Watch(uint? tunnelId, uint? sessionId, TimeSpan interval, int? count, Action<IReadOnlyList<L2tpSessionSample>> onSample)
    {
        CheckSeconds("L2tp.InvalidInterval", "Interval", interval, 0.1, 3600);
        if (count is < 1)
            throw new L2tpException("L2tp.InvalidCount", L2tpErrorKind.InvalidArgument, count,
                $"-Count {count} is not a number of samples: give 1 or more, or leave it out to watch until Ctrl+C.");
        var previous = GetSessions(tunnelId, sessionId).ToDictionary(Key);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var last = clock.Elapsed;
        for (int n = 0; count is null || n < count; n++)
        {
            var next = last + interval;
            var wait = next - clock.Elapsed;
            if (wait > TimeSpan.Zero && _cancel.WaitHandle.WaitOne(wait))
                return;
            _cancel.ThrowIfCancellationRequested();
            var now = clock.Elapsed;
            var current = GetSessions(tunnelId, sessionId).ToDictionary(Key);
            double dt = Math.Max((now - last).TotalSeconds, 1e-3);
            var samples = new List<L2tpSessionSample>();
            foreach (var (key, s) in current)
            {
                var p = previous.GetValueOrDefault(key);
                var a = s.Statistics;
                var z = p is not null && p.InterfaceName == s.InterfaceName ? p.Statistics : new L2tpStatistics();
                static ulong D(ulong now, ulong then) => now >= then ? now - then : now;
                samples.Add(new L2tpSessionSample
                {
                    Time = DateTime.UtcNow, TunnelId = s.TunnelId, SessionId = s.SessionId, InterfaceName = s.InterfaceName,
                    RxPacketsPerSecond = D(a.RxPackets, z.RxPackets) / dt, RxBitsPerSecond = D(a.RxBytes, z.RxBytes) * 8 / dt,
                    TxPacketsPerSecond = D(a.TxPackets, z.TxPackets) / dt, TxBitsPerSecond = D(a.TxBytes, z.TxBytes) * 8 / dt,
                    Errors = D(a.RxErrors, z.RxErrors) + D(a.TxErrors, z.TxErrors),
                    Discards = D(a.RxSeqDiscards, z.RxSeqDiscards) + D(a.RxCookieDiscards, z.RxCookieDiscards),
                    LastReceived = s.LastReceived, PeerState = s.PeerState, Interval = now - last,
                });
            }
            previous = current;
            last = now;
            onSample(samples);
        }
    }

    private static (uint, uint) Key(L2tpSession s) => (s.TunnelId, s.SessionId);

    /// <summary>A duration parameter in seconds within its range, else the refusal that names it.</summary>
    private static void CheckSeconds(string errorId, string parameter, TimeSpan value, double min, double max)
    {
        double s = value.TotalSeconds;
        if (!(s >= min && s <= max))
            throw new L2tpException(errorId, L2tpErrorKind.InvalidArgument, s,
                $"-{parameter} {s} is out of range: give {min} to {max} seconds.");
    }

    public void RemoveSession(uint tunnelId, uint sessionId)
    {
        var b = Backend(create: false) ?? throw Refusals.SessionNotFound(tunnelId, sessionId, _netns);
        Refusals.Guard(() => b.DeleteSession(tunnelId, sessionId), e => Refusals.SessionDelete(e, tunnelId, sessionId, b.Kind, _netns));
    }

    /// <summary>
    /// The MTU that fits the session on <paramref name="interfaceName"/>, or null when it is no session's: that one
    /// session asked for by its interface name, so one interface's -Mtu Auto does not grow with the sessions (and a
    /// pipeline asks each tunnel's route once). A forwarder older than that lookup refuses it (EINVAL): then one dump
    /// per invocation, however many interfaces are piped in.
    /// </summary>
    public int? SuggestedMtu(string interfaceName)
    {
        if (_suggestedMtus is null)
        {
            var b = Backend(create: false);
            if (b is null)
                return null;
            try
            {
                return b.GetSessionByInterface(interfaceName)?.SuggestedMtu;
            }
            catch (NetlinkException e) when (e.Errno == Tmds.Linux.LibC.EINVAL)
            {
                // Falls through to the dump.
            }
            catch (NetlinkException e)
            {
                throw Refusals.Generic(e, b.Kind, interfaceName, _netns);
            }
        }
        _suggestedMtus ??= GetSessions(null, null).GroupBy(s => s.InterfaceName).ToDictionary(g => g.Key, g => g.First().SuggestedMtu);
        return _suggestedMtus.TryGetValue(interfaceName, out int mtu) ? mtu : null;
    }

    public void Dispose() => _backend?.Dispose();
}
