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
