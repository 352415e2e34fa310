using L2tp.Netlink;
using L2tp.Protocol;

namespace L2tp.Backends;

/// <summary>What every backend does: the six ip-l2tp operations and SESSION_MODIFY, on tunnels and sessions of one network namespace.</summary>
internal interface IL2tpBackend : IDisposable
{
    BackendKind Kind { get; }
    L2tpTunnel CreateTunnel(TunnelSpec spec);
    void DeleteTunnel(uint tunnelId);
    IReadOnlyList<L2tpTunnel> GetTunnels(uint? tunnelId = null);
    L2tpSession CreateSession(SessionSpec spec);
    /// <summary>True where <see cref="CreateSessions"/> writes many requests before reading their acks (the kernel).</summary>
    bool PipelinesRequests { get; }
    /// <summary>
    /// SESSION_CREATE for each spec in order, answered by acks alone (no read-back): per spec null when made, or its
    /// refusal. Pipelined where <see cref="PipelinesRequests"/>; nothing is sent after the window (or, not pipelined,
    /// the request) that held a refusal, nor once <paramref name="cancel"/> is set: <paramref name="sent"/> counts what went.
    /// </summary>
    IReadOnlyList<NetlinkException?> CreateSessions(IReadOnlyList<SessionSpec> specs, out int sent, CancellationToken cancel = default);
    void DeleteSession(uint tunnelId, uint sessionId);
    /// <summary>SESSION_MODIFY: changes sequencing and the reorder timeout of a live session; returns it as it now is.</summary>
    L2tpSession ModifySession(L2tpGenl.SessionChange change);
    IReadOnlyList<L2tpSession> GetSessions(uint? tunnelId = null, uint? sessionId = null);
    /// <summary>The session on interface <paramref name="interfaceName"/> (SESSION_GET by L2TP_ATTR_IFNAME), not a dump; null when none.</summary>
    L2tpSession? GetSessionByInterface(string interfaceName);
    /// <summary>What the tunnel received and could not deliver (LastSeen in Unix ms); null where the backend keeps no record (the kernel).</summary>
    IReadOnlyList<DiagnosisEntry>? Diagnose(uint tunnelId);
    /// <summary>Where -Verbose text goes (each request sent); set by the cmdlet that opened the backend.</summary>
    Action<string>? Verbose { get; set; }
}
