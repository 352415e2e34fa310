using System.Net;

namespace L2tp.Protocol;

/// <summary>
/// The rules two ends of one pseudowire must satisfy together (ids, ports, addresses, cookies, sublayer, sequencing,
/// MTU), and what counters say about frames crossing: pure, so Test-L2tpPseudowire's judgement is testable without I/O.
/// </summary>
internal static class PseudowireCheck
{
    /// <summary>Every field where this end (<paramref name="lt"/>, <paramref name="ls"/>) and the peer do not correspond.</summary>
    public static List<L2tpPseudowireFinding> Compare(L2tpTunnel lt, L2tpSession ls, L2tpTunnel pt, L2tpSession ps)
    {
        var f = new List<L2tpPseudowireFinding>();
        void Add(string field, object? local, object? peer, string message) =>
            f.Add(new L2tpPseudowireFinding { Field = field, Local = Text(local), Peer = Text(peer), Message = message });

        if (lt.PeerTunnelId != pt.TunnelId)
            Add("PeerTunnelId", lt.PeerTunnelId, pt.TunnelId, $"This end sends to tunnel {lt.PeerTunnelId}, but the peer's tunnel is {pt.TunnelId}.");
        if (pt.PeerTunnelId != lt.TunnelId)
            Add("TunnelId", lt.TunnelId, pt.PeerTunnelId, $"The peer sends to tunnel {pt.PeerTunnelId}, but this end's tunnel is {lt.TunnelId}.");
        if (ls.PeerSessionId != ps.SessionId)
            Add("PeerSessionId", ls.PeerSessionId, ps.SessionId, $"This end sends to session {ls.PeerSessionId}, but the peer's session is {ps.SessionId}.");
        if (ps.PeerSessionId != ls.SessionId)
            Add("SessionId", ls.SessionId, ps.PeerSessionId, $"The peer sends to session {ps.PeerSessionId}, but this end's session is {ls.SessionId}.");
        if (lt.Encapsulation != pt.Encapsulation)
            Add("Encapsulation", lt.Encapsulation, pt.Encapsulation, $"This end encapsulates in {lt.Encapsulation}, the peer in {pt.Encapsulation}.");
        else if (lt.Encapsulation == Encapsulation.Udp)
        {
            if (lt.DestinationPort != pt.SourcePort)
                Add("DestinationPort", lt.DestinationPort, pt.SourcePort, $"This end sends to UDP port {lt.DestinationPort}, but the peer listens on {pt.SourcePort}.");
            if (pt.DestinationPort != lt.SourcePort)
                Add("SourcePort", lt.SourcePort, pt.DestinationPort, $"The peer sends to UDP port {pt.DestinationPort}, but this end listens on {lt.SourcePort}.");
        }
        if (lt.Remote is { } lr && pt.Remote is { } pr && lr.AddressFamily != pr.AddressFamily)
            Add("AddressFamily", Family(lr), Family(pr), $"This end's tunnel runs over {Family(lr)}, the peer's over {Family(pr)}.");
        else
        {
            if (lt.Remote is { } r && Specific(pt.Local) is { } pl && !r.Equals(pl))
                Add("Remote", r, pl, $"This end sends to {r}, but the peer's tunnel is on {pl}.");
            if (pt.Remote is { } r2 && Specific(lt.Local) is { } ll && !r2.Equals(ll))
                Add("Local", ll, r2, $"The peer sends to {r2}, but this end's tunnel is on {ll}.");
        }
        if (!SameCookie(ls.Cookie, ps.PeerCookie))
            Add("Cookie", ls.Cookie, ps.PeerCookie, $"This end sends cookie {Text(ls.Cookie)}, but the peer requires {Text(ps.PeerCookie)}.");
        if (!SameCookie(ps.Cookie, ls.PeerCookie))
            Add("PeerCookie", ls.PeerCookie, ps.Cookie, $"The peer sends cookie {Text(ps.Cookie)}, but this end requires {Text(ls.PeerCookie)}.");
        if (ls.L2SpecType is { } lspec && ps.L2SpecType is { } pspec && lspec != pspec)
            Add("L2SpecType", lspec, pspec, $"This end uses the {lspec} sublayer, the peer {pspec}: each misreads the other's frames.");
        if (ls.Sequencing != ps.Sequencing)
            Add("Sequencing", ls.Sequencing, ps.Sequencing, $"This end sequences {ls.Sequencing}, the peer {ps.Sequencing}" +
                (Requires(ps.Sequencing) && !Sends(ls.Sequencing) ? ": the peer drops this end's frames, which carry no sequence number." :
                 Requires(ls.Sequencing) && !Sends(ps.Sequencing) ? ": this end drops the peer's frames, which carry no sequence number." : "."));
        if (ls.Mtu > 0 && ls.SuggestedMtu > 0 && ls.Mtu > ls.SuggestedMtu)
            Add("Mtu", $"{ls.Mtu} (path fits {ls.SuggestedMtu})", $"{ps.Mtu} (path fits {ps.SuggestedMtu})",
                $"This end's interface MTU {ls.Mtu} is more than its path carries ({ls.SuggestedMtu}): full-size frames are fragmented or lost. Set-L2tpInterface -Mtu Auto.");
        if (ps.Mtu > 0 && ps.SuggestedMtu > 0 && ps.Mtu > ps.SuggestedMtu)
            Add("Mtu", $"{ls.Mtu} (path fits {ls.SuggestedMtu})", $"{ps.Mtu} (path fits {ps.SuggestedMtu})",
                $"The peer's interface MTU {ps.Mtu} is more than its path carries ({ps.SuggestedMtu}): full-size frames are fragmented or lost. Set-L2tpInterface -Mtu Auto there.");
        else if (ls.Mtu > 0 && ps.Mtu > 0 && ls.Mtu != ps.Mtu && !(ls.Mtu > ls.SuggestedMtu && ls.SuggestedMtu > 0))
            Add("Mtu", ls.Mtu, ps.Mtu, $"The interface MTUs differ ({ls.Mtu} here, {ps.Mtu} at the peer): frames the larger one sends are dropped by the smaller.");
        return f;
    }

    /// <summary>
    /// What the counters of both ends, before and after a probe in each direction, say: a finding per direction in which
    /// frames were not sent or did not arrive; empty when both directions carried frames.
    /// </summary>
    public static List<L2tpPseudowireFinding> Traffic(L2tpStatistics localBefore, L2tpStatistics localAfter, L2tpStatistics peerBefore, L2tpStatistics peerAfter)
    {
        var f = new List<L2tpPseudowireFinding>();
        ulong lTx = Delta(localBefore.TxPackets, localAfter.TxPackets), lRx = Delta(localBefore.RxPackets, localAfter.RxPackets);
        ulong pTx = Delta(peerBefore.TxPackets, peerAfter.TxPackets), pRx = Delta(peerBefore.RxPackets, peerAfter.RxPackets);
        string local = $"tx +{lTx}, rx +{lRx}", peer = $"tx +{pTx}, rx +{pRx}";
        if (lTx == 0)
            f.Add(new() { Field = "Traffic", Local = local, Peer = peer, Message = "This end sent no frame on the session (is its interface up, with IPv6 and ping for the probe?)." });
        else if (pRx == 0)
            f.Add(new() { Field = "Traffic", Local = local, Peer = peer, Message = $"This end sent {lTx} frame(s); the peer received none{Drops(peerBefore, peerAfter)}." });
        if (pTx == 0)
            f.Add(new() { Field = "Traffic", Local = local, Peer = peer, Message = "The peer sent no frame on the session (is its interface up, with IPv6 and ping for the probe?)." });
        else if (lRx == 0)
            f.Add(new() { Field = "Traffic", Local = local, Peer = peer, Message = $"The peer sent {pTx} frame(s); this end received none{Drops(localBefore, localAfter)}." });
        return f;
    }

    private static string Drops(L2tpStatistics before, L2tpStatistics after)
    {
        var parts = new List<string>();
        void Part(string name, ulong b, ulong a) { if (a > b) parts.Add($"{name} +{a - b}"); }
        Part("cookie discards", before.RxCookieDiscards, after.RxCookieDiscards);
        Part("sequence discards", before.RxSeqDiscards, after.RxSeqDiscards);
        Part("invalid", before.RxInvalid, after.RxInvalid);
        Part("errors", before.RxErrors, after.RxErrors);
        return parts.Count == 0 ? "" : $" ({string.Join(", ", parts)} there)";
    }

    private static ulong Delta(ulong before, ulong after) => after >= before ? after - before : after;
    private static bool Sends(SequencingMode m) => m is SequencingMode.Send or SequencingMode.Both;
    private static bool Requires(SequencingMode m) => m is SequencingMode.Recv or SequencingMode.Both;
    private static bool SameCookie(string a, string b) => string.Equals(a ?? "", b ?? "", StringComparison.OrdinalIgnoreCase);
    private static IPAddress? Specific(IPAddress? a) => a is null || a.Equals(IPAddress.Any) || a.Equals(IPAddress.IPv6Any) ? null : a;
    private static string Family(IPAddress a) => a.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? "IPv6" : "IPv4";
    private static string Text(object? v) => v switch { null => "(none)", string s when s.Length == 0 => "(none)", _ => v.ToString() ?? "" };
}
