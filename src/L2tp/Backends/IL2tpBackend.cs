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
    void DeleteSession(uint tunnelId, uint sessionId);
    /// <summary>SESSION_MODIFY: changes sequencing and the reorder timeout of a live session; returns it as it now is.</summary>
    L2tpSession ModifySession(L2tpGenl.SessionChange change);
    IReadOnlyList<L2tpSession> GetSessions(uint? tunnelId = null, uint? sessionId = null);
    /// <summary>What the tunnel received and could not deliver (LastSeen in Unix ms); null where the backend keeps no record (the kernel).</summary>
    IReadOnlyList<DiagnosisEntry>? Diagnose(uint tunnelId);
    /// <summary>Where -Verbose text goes (each request sent); set by the cmdlet that opened the backend.</summary>
    Action<string>? Verbose { get; set; }
}
