namespace L2tp.Protocol;

/// <summary>Whether a session's peer is heard, from its last receive and send times.</summary>
internal static class Liveness
{
    /// <summary>How long a session may send without hearing back before its peer counts as silent.</summary>
    public static readonly TimeSpan DefaultSilentAfter = TimeSpan.FromSeconds(10);

    /// <summary>Up when heard within <paramref name="silentAfter"/>; Silent when we sent within it but heard nothing; else Unknown.</summary>
    public static L2tpPeerState PeerState(DateTime? lastReceived, DateTime? lastSent, DateTime now, TimeSpan silentAfter)
    {
        if (lastReceived is { } rx && now - rx <= silentAfter)
            return L2tpPeerState.Up;
        if (lastSent is { } tx && now - tx <= silentAfter)
            return L2tpPeerState.Silent;
        return L2tpPeerState.Unknown;
    }
}

/// <summary>
/// Liveness for a backend that keeps no times (the kernel): each look at a session's counters is a sample, and the
/// time of the sample at which RxPackets (TxPackets) was last seen to grow stands for the last receive (send). So the
/// times are as fine as the looks are frequent, and a session looked at for the first time has none (PeerState Unknown).
/// </summary>
internal sealed class LivenessSampler
{
    private sealed record Sample(ulong Rx, ulong Tx, DateTime? LastRx, DateTime? LastTx, string InterfaceName);

    // Keyed by a string, not a (string, uint, uint) tuple: a dictionary over a tuple is runtime code JIT-compiled in
    // every process at its first Get-L2tpSession.
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, Sample> _last = new();

    /// <summary>Sets LastReceived, LastSent and PeerState of <paramref name="s"/> from its counters and the previous sample.</summary>
    public void Apply(string scope, L2tpSession s, DateTime now, TimeSpan silentAfter)
    {
        string key = string.Concat(scope, "\n", s.TunnelId.ToString(System.Globalization.CultureInfo.InvariantCulture), "/",
            s.SessionId.ToString(System.Globalization.CultureInfo.InvariantCulture));
        ulong rx = s.Statistics.RxPackets, tx = s.Statistics.TxPackets;
        DateTime? lastRx = null, lastTx = null;
        // A session re-made under the same ids starts its counters again: not a continuation.
        if (_last.TryGetValue(key, out var prev) && prev.InterfaceName == s.InterfaceName && rx >= prev.Rx && tx >= prev.Tx)
        {
            lastRx = rx > prev.Rx ? now : prev.LastRx;
            lastTx = tx > prev.Tx ? now : prev.LastTx;
        }
        _last[key] = new Sample(rx, tx, lastRx, lastTx, s.InterfaceName);
        s.LastReceived = lastRx;
        s.LastSent = lastTx;
        s.PeerState = Liveness.PeerState(lastRx, lastTx, now, silentAfter);
    }
}
