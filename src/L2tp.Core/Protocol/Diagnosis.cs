using System.Net;

namespace L2tp.Protocol;

/// <summary>
/// Judges captured IP packets against one tunnel and its sessions into a <see cref="DiagnosisTable"/>: packets from the
/// wrong source, to the wrong port or in the wrong encapsulation (which a connected tunnel socket never sees), and, with
/// <c>full</c>, the L2TP header of the tunnel's own packets too (the kernel backend has no forwarder to ask).
/// </summary>
internal sealed class CaptureClassifier
{
    private readonly L2tpTunnel _tunnel;
    private readonly Dictionary<uint, SessionExpectation> _sessions;
    private readonly bool _full;
    private readonly UInt128 _local, _remote;
    /// <summary>UDP ports the namespace's other tunnels listen on, and whether one of them is an IP-encapsulated tunnel to our peer.</summary>
    private readonly HashSet<ushort> _otherPorts;
    private readonly bool _otherIpToPeer;

    /// <summary>
    /// Judges packets for <paramref name="tunnel"/>; <paramref name="others"/> are the namespace's other tunnels, whose
    /// own packets are theirs, not a wrong port or encapsulation of this one.
    /// </summary>
    public CaptureClassifier(L2tpTunnel tunnel, IEnumerable<SessionExpectation> sessions, bool full, IEnumerable<L2tpTunnel>? others = null)
    {
        _tunnel = tunnel;
        var rest = (others ?? Array.Empty<L2tpTunnel>()).Where(o => o.TunnelId != tunnel.TunnelId).ToList();
        _otherPorts = rest.Where(o => o.Encapsulation == Encapsulation.Udp).Select(o => o.SourcePort).ToHashSet();
        _otherIpToPeer = rest.Any(o => o.Encapsulation == Encapsulation.Ip && Equals(o.Remote, tunnel.Remote));
        _sessions = sessions.ToDictionary(s => s.SessionId);
        _full = full;
        _local = tunnel.Local is { } l ? PacketDiagnosis.AddressKey(l) : 0;
        _remote = tunnel.Remote is { } r ? PacketDiagnosis.AddressKey(r) : 0;
    }

    public DiagnosisTable Table { get; } = new();

    /// <summary>Packets of the tunnel's own flow (from Remote, to the tunnel's port, in its encapsulation).</summary>
    public long PeerPackets { get; private set; }

    /// <summary>Packets of the flow each session would deliver (full analysis only).</summary>
    public Dictionary<uint, long> Delivered { get; } = new();

    /// <summary>Judges one received IP packet (IPv4 or IPv6, from its version nibble); <paramref name="now"/> in Unix ms.</summary>
    public void Observe(ReadOnlySpan<byte> ipPacket, long now)
    {
        if (PacketDiagnosis.ReadIp(ipPacket) is not { } ip || ip.Fragment)
            return;
        if (_tunnel.Local is not null && ip.Destination != _local)
            return;
        bool fromPeer = ip.Source == _remote;
        var payload = ipPacket[ip.PayloadOffset..];
        if (ip.Protocol == 17)
        {
            if (!PacketDiagnosis.LooksLikeL2tpv3Udp(payload))
                return;
            if (_otherPorts.Contains(ip.DestinationPort))
                return;
            if (_tunnel.Encapsulation == Encapsulation.Ip)
            {
                if (fromPeer)
                    Table.Record(L2tpFindingKind.WrongEncapsulation, 0, 17, 0, now, ip.Source, ip.V6, ip.DestinationPort);
                return;
            }
            if (ip.DestinationPort == _tunnel.SourcePort)
            {
                if (fromPeer && ip.SourcePort == _tunnel.DestinationPort)
                    Own(payload, now);
                else
                    Table.Record(L2tpFindingKind.WrongSource, 0, 0, 0, now, ip.Source, ip.V6, ip.SourcePort);
            }
            else if (fromPeer)
            {
                Table.Record(L2tpFindingKind.WrongPort, 0, ip.DestinationPort, 0, now, ip.Source, ip.V6, ip.SourcePort);
            }
        }
        else if (ip.Protocol == Native.Sys.IPPROTO_L2TP)
        {
            if (_tunnel.Encapsulation == Encapsulation.Udp)
            {
                if (fromPeer && !_otherIpToPeer)
                    Table.Record(L2tpFindingKind.WrongEncapsulation, 0, Native.Sys.IPPROTO_L2TP, 0, now, ip.Source, ip.V6);
                return;
            }
            if (fromPeer)
                Own(payload, now);
            else
                Table.Record(L2tpFindingKind.WrongSource, 0, 0, 0, now, ip.Source, ip.V6);
        }
    }

    private void Own(ReadOnlySpan<byte> l2tp, long now)
    {
        PeerPackets++;
        if (!_full)
            return;
        var (kind, session, value, length) = PacketDiagnosis.Classify(l2tp, _tunnel.Encapsulation,
            id => _sessions.TryGetValue(id, out var s) ? s : null, out uint delivered);
        if (kind != 0)
            Table.Record(kind, session, value, length, now);
        else if (delivered != 0)
            Delivered[delivered] = Delivered.GetValueOrDefault(delivered) + 1;
    }
}

/// <summary>Turns recorded entries into findings in words, for one session of one tunnel.</summary>
internal static class DiagnosisText
{
    /// <summary>Kinds about the tunnel as a whole: they concern every session of it.</summary>
    public static bool TunnelWide(L2tpFindingKind k) => k is L2tpFindingKind.UnknownSession or L2tpFindingKind.WrongSource
        or L2tpFindingKind.WrongPort or L2tpFindingKind.WrongEncapsulation or L2tpFindingKind.ControlMessage or L2tpFindingKind.WrongVersion;

    /// <summary>
    /// The findings for session <paramref name="s"/> from entries whose LastSeen is in Unix milliseconds. The sublayer
    /// a backend does not report (the kernel's) is taken to be the default one, and the text says so.
    /// </summary>
    public static List<L2tpFinding> Explain(IEnumerable<DiagnosisEntry> entries, L2tpTunnel t, L2tpSession s)
    {
        var list = new List<L2tpFinding>();
        foreach (var e in entries.OrderByDescending(e => e.LastSeen))
        {
            if (!(e.SessionId == s.SessionId || TunnelWide(e.Kind)))
                continue;
            if (e.Kind == L2tpFindingKind.UnknownSession && e.SessionId == s.SessionId)
                continue;
            var f = Word(e, t, s);
            f.Kind = e.Kind;
            f.Count = e.Count;
            f.LastSeen = e.LastSeen > 0 ? DateTimeOffset.FromUnixTimeMilliseconds(e.LastSeen).UtcDateTime : null;
            list.Add(f);
        }
        return list;
    }

    private static string Peer(L2tpTunnel t) => t.Remote?.ToString() ?? "the peer";

    private static string Hex(DiagnosisEntry e) => PacketDiagnosis.Unpack(e.Value, e.Length);

    private static string Source(DiagnosisEntry e)
    {
        var a = PacketDiagnosis.AddressOf(e.Address, e.AddressIsV6);
        return e.Port == 0 ? a.ToString() : new IPEndPoint(a, e.Port).ToString();
    }

    private static L2tpFinding Word(DiagnosisEntry e, L2tpTunnel t, L2tpSession s)
    {
        string peer = Peer(t);
        string none = s.PeerCookie.Length == 0 ? "none" : s.PeerCookie;
        string sublayerNote = s.L2SpecType is null ? " (the backend does not report the sublayer: the default one is assumed)" : "";
        switch (e.Kind)
        {
            case L2tpFindingKind.UnknownSession:
                return new L2tpFinding
                {
                    Field = "SessionId", Expected = s.SessionId.ToString(), Actual = e.Value.ToString(),
                    Message = $"{peer} sends session id {e.Value} in tunnel {t.TunnelId}, which has no session {e.Value}; " +
                        $"session {s.SessionId} takes packets sent to {s.SessionId} (the far end's PeerSessionId must be {s.SessionId}; " +
                        $"this end sends to its peer session {s.PeerSessionId})",
                };
            case L2tpFindingKind.CookieMismatch:
                return new L2tpFinding
                {
                    Field = "PeerCookie", Expected = none, Actual = Hex(e),
                    Message = $"the peer sends cookie {Hex(e)}; this session's PeerCookie is {none} (the far end's Cookie must equal it)",
                };
            case L2tpFindingKind.CookieMissing:
                return new L2tpFinding
                {
                    Field = "PeerCookie", Expected = none, Actual = "none",
                    Message = $"the peer sends no cookie; this session's PeerCookie is {none} (give the far end -Cookie {none}, or clear PeerCookie here)",
                };
            case L2tpFindingKind.CookieUnexpected:
                return new L2tpFinding
                {
                    Field = "PeerCookie", Expected = "none", Actual = Hex(e),
                    Message = $"the peer sends cookie {Hex(e)}; this session expects none (its PeerCookie is empty: set it to {Hex(e)}, or clear the far end's Cookie)",
                };
            case L2tpFindingKind.SublayerMissing:
                return new L2tpFinding
                {
                    Field = "L2SpecType", Expected = "Default", Actual = "None",
                    Message = $"the peer sends no L2-specific sublayer; this session expects the default 4-byte one{sublayerNote} (set -L2SpecType alike at both ends)",
                };
            case L2tpFindingKind.SublayerUnexpected:
                return new L2tpFinding
                {
                    Field = "L2SpecType", Expected = "None", Actual = "Default",
                    Message = "the peer sends the default 4-byte L2-specific sublayer; this session expects none (-L2SpecType None) (set -L2SpecType alike at both ends)",
                };
            case L2tpFindingKind.SequenceMissing:
                return new L2tpFinding
                {
                    Field = "Sequencing", Expected = "sequence numbers", Actual = "none",
                    Message = $"the peer sends no sequence numbers; this session requires them (Sequencing {s.Sequencing}): give the far end -Sequencing Send or Both, or drop Recv here",
                };
            case L2tpFindingKind.OutOfOrder:
                return new L2tpFinding
                {
                    Field = "Sequencing", Expected = "in order", Actual = "out of order",
                    Message = $"{e.Count} sequenced packet(s) from the peer arrived out of order and were dropped (Sequencing {s.Sequencing})",
                };
            case L2tpFindingKind.WrongSource:
                return new L2tpFinding
                {
                    Field = t.Encapsulation == Encapsulation.Udp ? "Remote, DestinationPort" : "Remote",
                    Expected = t.Encapsulation == Encapsulation.Udp && t.Remote is not null ? new IPEndPoint(t.Remote, t.DestinationPort).ToString() : peer,
                    Actual = Source(e),
                    Message = t.Encapsulation == Encapsulation.Udp
                        ? $"{Source(e)} sends L2TPv3 to port {t.SourcePort} of tunnel {t.TunnelId}, which takes packets from {peer} port {t.DestinationPort} only (the far end's SourcePort must be {t.DestinationPort})"
                        : $"{Source(e)} sends L2TPv3 (IP protocol 115) to tunnel {t.TunnelId}, which takes packets from {peer} only",
                };
            case L2tpFindingKind.WrongPort:
                return new L2tpFinding
                {
                    Field = "SourcePort", Expected = t.SourcePort.ToString(), Actual = e.Value.ToString(),
                    Message = $"{Source(e)} sends L2TPv3 to port {e.Value}; tunnel {t.TunnelId} listens on port {t.SourcePort} (the far end's DestinationPort must be {t.SourcePort})",
                };
            case L2tpFindingKind.WrongEncapsulation:
                return new L2tpFinding
                {
                    Field = "Encapsulation", Expected = t.Encapsulation.ToString(), Actual = e.Value == 17 ? "Udp" : "Ip",
                    Message = e.Value == 17
                        ? $"{peer} sends L2TPv3 over UDP (to port {e.Port}); tunnel {t.TunnelId} uses IP protocol 115 (-Encapsulation Ip): set -Encapsulation alike at both ends"
                        : $"{peer} sends L2TPv3 as IP protocol 115; tunnel {t.TunnelId} uses UDP (-Encapsulation Udp): set -Encapsulation alike at both ends",
                };
            case L2tpFindingKind.ControlMessage:
                return new L2tpFinding
                {
                    Field = "Encapsulation", Expected = "data messages", Actual = "control messages",
                    Message = $"{peer} sends L2TP control messages to tunnel {t.TunnelId}; a static tunnel has no control connection (the far end runs dynamic L2TP, or sends session id 0)",
                };
            case L2tpFindingKind.WrongVersion:
                return new L2tpFinding
                {
                    Field = "Version", Expected = "3", Actual = e.Value.ToString(),
                    Message = $"{peer} sends L2TP version {e.Value} packets to tunnel {t.TunnelId}; this tunnel speaks L2TPv3 only",
                };
            case L2tpFindingKind.FrameTooLong:
                return new L2tpFinding
                {
                    Field = "Mtu", Expected = s.Mtu > 0 ? $"at most {s.Mtu + 18} bytes" : "shorter frames", Actual = $"{e.Value} bytes",
                    Message = $"the peer sends frames of {e.Value} bytes; {s.InterfaceName}" + (s.Mtu > 0 ? $" (MTU {s.Mtu}) takes at most {s.Mtu + 18}" : " takes fewer") +
                        ": set the session interfaces' MTU alike at both ends (Set-L2tpInterface -Mtu)",
                };
            default:
                return new L2tpFinding { Field = "", Message = $"{e.Kind}: {e.Value}" };
        }
    }

    /// <summary>The finding for a session that sends and hears nothing back.</summary>
    public static L2tpFinding Silent(L2tpTunnel t, L2tpSession s, ulong sent, TimeSpan window) => new()
    {
        Kind = L2tpFindingKind.Silent, Field = "Remote", Expected = "packets from the peer", Actual = "none",
        Count = (long)sent,
        Message = $"nothing arrived from {Peer(t)} for session {s.SessionId} in {window.TotalSeconds:0.#} s while this end sent {sent} packet(s): " +
            "the far end is down, has no session for these ids, or its packets do not reach this host (route, firewall)",
    };
}
