using L2tp.Netlink;
using L2tp.Protocol;
using static Tmds.Linux.LibC;

namespace L2tp.Backends;

/// <summary>
/// The six operations as `l2tp` generic-netlink requests. Kernel and managed backends differ only in the transport
/// (an AF_NETLINK socket or the forwarder's unix socket), so everything else lives here. A refusal comes back as the
/// NetlinkException it is; the services word it (Services/Refusals.cs).
/// </summary>
internal abstract class GenlBackend : IL2tpBackend
{
    private NetlinkClient _client;
    private ushort _family;
    private readonly string _netns;

    /// <summary>Opened with the backend (or kept from an earlier one there), so in the backend's network namespace.</summary>
    private readonly RtNetlink _rt;

    protected GenlBackend(NetlinkClient client, ushort family, string netns, RtNetlink? rt = null)
    {
        _client = client;
        _family = family;
        _netns = netns;
        _rt = rt ?? new RtNetlink();
    }

    public abstract BackendKind Kind { get; }

    /// <summary>The request/reply path, for a backend's requests beyond the l2tp family.</summary>
    protected NetlinkClient Client => _client;

    /// <summary>The rtnetlink socket (links and routes of the backend's namespace).</summary>
    protected RtNetlink Rt => _rt;

    /// <inheritdoc/>
    public virtual IReadOnlyList<DiagnosisEntry>? Diagnose(uint tunnelId) => null;

    /// <summary>Kernel sessions' liveness from counter samples, across this process's invocations.</summary>
    private static readonly LivenessSampler Sampler = new();

    public Action<string>? Verbose { get; set; }

    /// <summary>The one place requests leave: -Verbose names each one.</summary>
    private List<NetlinkMessage> Send(byte cmd, ushort flags, Action<NetlinkWriter> attrs, string what)
    {
        Verbose?.Invoke($"{Kind} backend{InNs}: {L2tpGenl.CommandName(cmd)}{((flags & Nl.F_DUMP) == Nl.F_DUMP ? " (dump)" : "")} {what}".TrimEnd());
        try
        {
            return SendOnce(cmd, flags, attrs);
        }
        catch (NetlinkException e) when (IsFamilyLevel(e))
        {
            // The id may have come from a cache, and the family since been registered again under another one.
            if (ResolveAgain() is not { } id || id == _family)
                throw;
            Verbose?.Invoke($"{Kind} backend{InNs}: the l2tp family is now id {id} (was {_family}); sending again");
            _family = id;
            return SendOnce(cmd, flags, attrs);
        }
    }

    /// <summary>One request; sent once more over a new connection when the old one was closed with it unread.</summary>
    private List<NetlinkMessage> SendOnce(byte cmd, ushort flags, Action<NetlinkWriter> attrs)
    {
        try
        {
            return _client.Genl(_family, cmd, L2tpGenl.Version, flags, attrs);
        }
        catch (L2tpException e) when (ForwarderLink.Unread(e) && Reconnect() is { } fresh)
        {
            // The peer never read the request (a forwarder closed its listener, in its idle exit, with this connection
            // still waiting to be accepted): sending it again cannot do it twice.
            Verbose?.Invoke($"{Kind} backend{InNs}: the connection was closed before the request was read; sending it again over a new one");
            (_client, _family) = fresh;
            return _client.Genl(_family, cmd, L2tpGenl.Version, flags, attrs);
        }
    }

    /// <summary>A new connection and its family id, after the old one was closed with a request unread; null where there is none to make.</summary>
    protected virtual (NetlinkClient Client, ushort Family)? Reconnect() => null;

    /// <summary>
    /// What a request to a family id that no longer names the l2tp family gets back: ENOENT (no family has that id),
    /// EOPNOTSUPP or EINVAL (another family took the id and knows no such command or attributes).
    /// </summary>
    internal static bool IsFamilyLevel(NetlinkException e) => e.Errno == ENOENT || e.Errno == EOPNOTSUPP || e.Errno == EINVAL;

    /// <summary>The family id asked for afresh, after a refusal that may mean the cached id is stale; null where there is no cache to doubt.</summary>
    protected virtual ushort? ResolveAgain() => null;

    public L2tpTunnel CreateTunnel(TunnelSpec spec)
    {
        _tunnelsSeen.Clear();
        Send(L2tpGenl.CMD_TUNNEL_CREATE, 0, w => L2tpGenl.WriteTunnelCreate(w, spec), $"tunnel {spec.TunnelId}");
        return GetTunnels(spec.TunnelId).Single();
    }

    public void DeleteTunnel(uint tunnelId)
    {
        _tunnelsSeen.Clear();
        Send(L2tpGenl.CMD_TUNNEL_DELETE, 0, w => w.U32(L2tpGenl.ATTR_CONN_ID, tunnelId), $"tunnel {tunnelId}");
        // The kernel finishes a tunnel delete in a work queue: return only once the tunnel (its id and socket) is
        // gone, so that the next command can reuse them and Get-L2tpTunnel no longer lists it.
        var until = DateTime.UtcNow.AddSeconds(5);
        while (GetTunnels(tunnelId).Count > 0 && DateTime.UtcNow < until)
            Thread.Sleep(10);
    }

    public IReadOnlyList<L2tpTunnel> GetTunnels(uint? tunnelId = null)
    {
        // One tunnel is asked for by id (a do-GET, as the kernel answers it); all of them with a dump.
        List<NetlinkMessage> replies;
        try
        {
            replies = tunnelId is { } id
                ? Send(L2tpGenl.CMD_TUNNEL_GET, 0, w => w.U32(L2tpGenl.ATTR_CONN_ID, id), $"tunnel {id}")
                : Send(L2tpGenl.CMD_TUNNEL_GET, Nl.F_DUMP, _ => { }, "");
        }
        catch (NetlinkException e) when (IsNotFound(e))
        {
            return Array.Empty<L2tpTunnel>();
        }
        // Loops and List.Sort, not LINQ's OrderBy over a uint key: that is runtime code JIT-compiled in every process.
        var list = new List<L2tpTunnel>(replies.Count);
        foreach (var r in replies)
            if (Decode(r, L2tpGenl.ReadTunnel) is var t && (tunnelId is null || t.TunnelId == tunnelId))
                list.Add(t);
        list.Sort(static (a, b) => a.TunnelId.CompareTo(b.TunnelId));
        return list;
    }

    public L2tpSession CreateSession(SessionSpec spec)
    {
        // NLM_F_ECHO: the forwarder answers with the new session. The kernel answers a create with an ack alone (the
        // session goes only to the l2tp multicast group), so a GET reads it there.
        var echoed = Send(L2tpGenl.CMD_SESSION_CREATE, Nl.F_ECHO, w => L2tpGenl.WriteSessionCreate(w, spec), $"session {spec.SessionId} in tunnel {spec.TunnelId}")
            .Select(r => Decode(r, L2tpGenl.ReadSession))
            .Where(s => s.TunnelId == spec.TunnelId && s.SessionId == spec.SessionId).ToList();
        return echoed.Count == 1 ? Complete(echoed, reuseTunnels: true).Single() : ReadSessions(spec.TunnelId, spec.SessionId, reuseTunnels: true).Single();
    }

    /// <inheritdoc/>
    public virtual bool PipelinesRequests => false;

    /// <inheritdoc/>
    public IReadOnlyList<NetlinkException?> CreateSessions(IReadOnlyList<SessionSpec> specs, out int sent, CancellationToken cancel = default)
    {
        if (!PipelinesRequests)
        {
            // One request and its answer at a time, stopping at the first refusal: what a loop of CreateSession sends.
            var one = new NetlinkException?[specs.Count];
            for (sent = 0; sent < specs.Count && !cancel.IsCancellationRequested; sent++)
            {
                var spec = specs[sent];
                try { Send(L2tpGenl.CMD_SESSION_CREATE, 0, w => L2tpGenl.WriteSessionCreate(w, spec), SessionText(spec)); }
                catch (NetlinkException e) { one[sent++] = e; break; }
            }
            return one;
        }
        return SendPipelined(L2tpGenl.CMD_SESSION_CREATE, specs.Count, (i, w) => L2tpGenl.WriteSessionCreate(w, specs[i]), i => SessionText(specs[i]), out sent, cancel);
    }

    private static string SessionText(SessionSpec spec) => $"session {spec.SessionId} in tunnel {spec.TunnelId}";

    /// <summary>
    /// <see cref="Send"/> for many requests of one command, pipelined (<see cref="NetlinkClient.Pipeline"/>): -Verbose
    /// names each as it is written, and requests refused with a family-level errno are sent again once under a
    /// re-resolved family id, as Send does for one.
    /// </summary>
    private NetlinkException?[] SendPipelined(byte cmd, int count, Action<int, NetlinkWriter> attrs, Func<int, string> what, out int sent, CancellationToken cancel)
    {
        void body(int i, NetlinkWriter w)
        {
            Verbose?.Invoke($"{Kind} backend{InNs}: {L2tpGenl.CommandName(cmd)} {what(i)}");
            w.Genl(cmd, L2tpGenl.Version);
            attrs(i, w);
        }
        var refusals = _client.Pipeline(count, _family, 0, body, out sent, cancel: cancel);
        var stale = new List<int>();
        for (int i = 0; i < sent; i++)
            if (refusals[i] is { } e && IsFamilyLevel(e))
                stale.Add(i);
        if (stale.Count == 0 || ResolveAgain() is not { } id || id == _family)
            return refusals;
        Verbose?.Invoke($"{Kind} backend{InNs}: the l2tp family is now id {id} (was {_family}); sending again");
        _family = id;
        var again = _client.Pipeline(stale.Count, _family, 0, (j, w) => body(stale[j], w), out _, pastRefusal: true);
        for (int j = 0; j < stale.Count; j++)
            refusals[stale[j]] = again[j];
        return refusals;
    }

    public void DeleteSession(uint tunnelId, uint sessionId) =>
        Send(L2tpGenl.CMD_SESSION_DELETE, 0, w =>
        {
            w.U32(L2tpGenl.ATTR_CONN_ID, tunnelId);
            w.U32(L2tpGenl.ATTR_SESSION_ID, sessionId);
        }, $"session {sessionId} in tunnel {tunnelId}");

    public L2tpSession ModifySession(L2tpGenl.SessionChange change)
    {
        Send(L2tpGenl.CMD_SESSION_MODIFY, 0, w => L2tpGenl.WriteSessionModify(w, change), $"session {change.SessionId} in tunnel {change.TunnelId}");
        return GetSessions(change.TunnelId, change.SessionId).Single();
    }

    public IReadOnlyList<L2tpSession> GetSessions(uint? tunnelId = null, uint? sessionId = null) =>
        ReadSessions(tunnelId, sessionId, reuseTunnels: false);

    public L2tpSession? GetSessionByInterface(string interfaceName)
    {
        List<NetlinkMessage> replies;
        try
        {
            replies = Send(L2tpGenl.CMD_SESSION_GET, 0, w => w.StringZ(L2tpGenl.ATTR_IFNAME, interfaceName), $"session on {interfaceName}");
        }
        catch (NetlinkException e) when (IsNotFound(e))
        {
            return null;
        }
        // A pipeline of interfaces asks for each one's tunnel and route once (reuseTunnels).
        return Complete(replies.Select(r => Decode(r, L2tpGenl.ReadSession)).Where(s => s.InterfaceName == interfaceName).ToList(),
            reuseTunnels: true).FirstOrDefault();
    }

    /// <summary>
    /// What this backend (so this cmdlet invocation) learnt of a tunnel for a session's suggested MTU: its
    /// encapsulation, remote and the route MTU toward it. A pipeline of sessions into one tunnel asks once, not once per
    /// session; a tunnel created or deleted through this backend clears it, and a new invocation starts without it.
    /// </summary>
    private readonly Dictionary<uint, TunnelSeen> _tunnelsSeen = new();

    /// <summary>A tunnel and the route MTU toward its remote (a class: a tuple value is runtime code JIT-compiled per process).</summary>
    private sealed record TunnelSeen(L2tpTunnel Tunnel, int RouteMtu);

    private IReadOnlyList<L2tpSession> ReadSessions(uint? tunnelId, uint? sessionId, bool reuseTunnels)
    {
        List<NetlinkMessage> replies;
        try
        {
            replies = tunnelId is { } tid && sessionId is { } sid
                ? Send(L2tpGenl.CMD_SESSION_GET, 0, w =>
                {
                    w.U32(L2tpGenl.ATTR_CONN_ID, tid);
                    w.U32(L2tpGenl.ATTR_SESSION_ID, sid);
                }, $"session {sid} in tunnel {tid}")
                : Send(L2tpGenl.CMD_SESSION_GET, Nl.F_DUMP, _ => { }, "");
        }
        catch (NetlinkException e) when (IsNotFound(e))
        {
            return Array.Empty<L2tpSession>();
        }
        var list = new List<L2tpSession>(replies.Count);
        foreach (var r in replies)
            if (Decode(r, L2tpGenl.ReadSession) is var s && (tunnelId is null || s.TunnelId == tunnelId) && (sessionId is null || s.SessionId == sessionId))
                list.Add(s);
        // Ids are unique pairs, so an unstable sort orders them as OrderBy/ThenBy did.
        list.Sort(static (a, b) => a.TunnelId != b.TunnelId ? a.TunnelId.CompareTo(b.TunnelId) : a.SessionId.CompareTo(b.SessionId));
        return Complete(list, reuseTunnels);
    }

    /// <summary>Adds to sessions as the reply gave them what it lacks: their MTUs and, on the kernel, liveness.</summary>
    private List<L2tpSession> Complete(List<L2tpSession> sessions, bool reuseTunnels)
    {
        if (sessions.Count > 0)
            AddMtus(sessions, reuseTunnels);
        if (Kind == BackendKind.Kernel)
            foreach (var s in sessions)
                Sampler.Apply(_netns, s, DateTime.UtcNow, Liveness.DefaultSilentAfter);
        return sessions;
    }

    /// <summary>
    /// Fills the current and suggested MTU of each session from its interface and its tunnel's route; with
    /// <paramref name="reuseTunnels"/> a tunnel already looked at by this backend is not asked for again.
    /// </summary>
    private void AddMtus(List<L2tpSession> sessions, bool reuseTunnels = false)
    {
        // Few sessions (New-L2tpSession, Get by id): ask for just those, so bulk creation stays linear.
        bool few = sessions.Count <= 4;
        // Every tunnel id of the sessions, null until its tunnel is known.
        var seen = new Dictionary<uint, TunnelSeen?>();
        foreach (var s in sessions)
            seen.TryAdd(s.TunnelId, null);
        int missing = seen.Count;
        if (reuseTunnels)
            foreach (var s in sessions)
                if (seen[s.TunnelId] is null && _tunnelsSeen.TryGetValue(s.TunnelId, out var known))
                {
                    seen[s.TunnelId] = known;
                    missing--;
                }
        if (missing > 0)
        {
            List<L2tpTunnel> tunnels;
            if (few)
            {
                tunnels = new List<L2tpTunnel>();
                var asked = new List<L2tpSession>();
                foreach (var s in sessions)
                    if (seen[s.TunnelId] is null && !asked.Exists(a => a.TunnelId == s.TunnelId))
                    {
                        asked.Add(s);
                        tunnels.AddRange(GetTunnels(s.TunnelId));
                    }
            }
            else
                tunnels = new List<L2tpTunnel>(GetTunnels());
            foreach (var t in tunnels)
            {
                if (!seen.ContainsKey(t.TunnelId))
                    continue;
                // The route MTU toward the remote; 1500 where no route says (or the tunnel has no remote yet).
                int underlay = t.Remote is null ? 1500 : _rt.RouteMtu(t.Remote) ?? 1500;
                seen[t.TunnelId] = _tunnelsSeen[t.TunnelId] = new TunnelSeen(t, underlay);
            }
        }
        var links = few ? null : _rt.Links().GroupBy(l => l.Name).ToDictionary(g => g.Key, g => g.First());
        foreach (var s in sessions)
        {
            var link = links is null ? _rt.Link(s.InterfaceName) : links.GetValueOrDefault(s.InterfaceName);
            if (link is not null)
                s.Mtu = link.Mtu;
            if (!seen.TryGetValue(s.TunnelId, out var tu) || tu is null || tu.Tunnel.Remote is null)
                continue;
            var t = tu.Tunnel;
            // The kernel does not report the sublayer; its default (and ip-l2tp's) is the 4-byte one.
            s.SuggestedMtu = Protocol.Mtu.ForSession(tu.RouteMtu, t.Encapsulation,
                t.Remote.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6,
                s.Cookie.Length / 2, s.L2SpecType ?? L2SpecType.Default);
        }
    }

    /// <summary>Reads one reply; a reply that breaks the protocol (from a broken or foreign peer) is named as such.</summary>
    private T Decode<T>(NetlinkMessage reply, Func<NetlinkAttributes, BackendKind, string, T> read)
    {
        try
        {
            return read(reply.GenlAttributes, Kind, _netns);
        }
        catch (Exception e) when (e is KeyNotFoundException or InvalidDataException)
        {
            throw new L2tpException("L2tp.MalformedReply", L2tpErrorKind.ConnectionError, Kind,
                $"The {Kind} backend{InNs} sent a reply that does not follow the l2tp generic-netlink protocol: {e.Message}.", e);
        }
    }

    /// <summary>The kernel answers ENODEV for an unknown tunnel or session; ENOENT is accepted too.</summary>
    internal static bool IsNotFound(NetlinkException e) => e.Errno == ENODEV || e.Errno == ENOENT;

    private string InNs => ForwarderLink.InNs(_netns);

    public virtual void Dispose()
    {
        _client.Dispose();
        _rt.Dispose();
    }
}
