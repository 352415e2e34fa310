using L2tp.Backends;
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

    private static bool SessionExists(IL2tpBackend b, SessionSpec spec)
    {
        try { return b.GetSessions(spec.TunnelId, spec.SessionId).Count > 0; }
        catch (Exception e) when (e is NetlinkException or L2tpException) { return false; }
    }

    /// <summary>Sessions, filtered; L2tp.SessionNotFound when one was asked for by id and is not there.</summary>
    public IReadOnlyList<L2tpSession> GetSessions(uint? tunnelId, uint? sessionId)
    {
        var b = Backend(create: false);
        var sessions = b is null ? Array.Empty<L2tpSession>()
            : Refusals.Guard(() => b.GetSessions(tunnelId, sessionId), e => Refusals.Generic(e, b.Kind, sessionId, _netns));
        if (sessionId is { } sid && sessions.Count == 0)
            throw Refusals.SessionNotFound(tunnelId, sid, _netns);
        return sessions;
    }

    /// <summary>
    /// Changes a live session's sequencing and reorder timeout (SESSION_MODIFY) and returns it as it now is. Refuses,
    /// before anything is sent, a session that is not there and sequencing on a session with no sublayer to carry it.
    /// </summary>
    public L2tpSession SetSession(uint tunnelId, uint sessionId, SequencingMode? sequencing, TimeSpan? reorderTimeout)
    {
        ulong? ms = reorderTimeout is { } t ? SessionSpec.ReorderTimeoutFrom(t) : null;
        if (sequencing is { } seq && !Enum.IsDefined(seq))
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

    public void RemoveSession(uint tunnelId, uint sessionId)
    {
        var b = Backend(create: false) ?? throw Refusals.SessionNotFound(tunnelId, sessionId, _netns);
        Refusals.Guard(() => b.DeleteSession(tunnelId, sessionId), e => Refusals.SessionDelete(e, tunnelId, sessionId, b.Kind, _netns));
    }

    /// <summary>
    /// The MTU that fits the session on <paramref name="interfaceName"/>, or null when it is no session's. One dump per
    /// invocation, however many interfaces are piped in (Get-L2tpSession | Set-L2tpInterface -Mtu Auto stays linear).
    /// </summary>
    public int? SuggestedMtu(string interfaceName)
    {
        _suggestedMtus ??= GetSessions(null, null).GroupBy(s => s.InterfaceName).ToDictionary(g => g.Key, g => g.First().SuggestedMtu);
        return _suggestedMtus.TryGetValue(interfaceName, out int mtu) ? mtu : null;
    }

    public void Dispose() => _backend?.Dispose();
}
