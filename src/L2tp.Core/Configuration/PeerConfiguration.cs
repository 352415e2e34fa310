using System.Globalization;
using System.Net;
using System.Text;

namespace L2tp
{
    /// <summary>What ConvertTo-L2tpPeerConfiguration writes for the far end.</summary>
    public enum L2tpPeerFormat
    {
        /// <summary>A configuration file for Sync-L2tpConfiguration (JSON).</summary>
        L2tp,
        /// <summary>A shell script of ip l2tp, ip link and ip addr lines (Linux l2tp_eth).</summary>
        IpRoute2,
        /// <summary>QEMU's -netdev l2tpv3 arguments, one per session.</summary>
        Qemu,
    }
}

namespace L2tp.Configuration
{

/// <summary>
/// The far end of a site's pseudowires: each tunnel and session mirrored (ids, ports, cookies and addresses swapped;
/// the same sublayer, sequencing, checksums and MTU), and written as the far end must run it: a configuration file,
/// an `ip l2tp` script, or QEMU's `-netdev l2tpv3` arguments.
/// </summary>
internal static class PeerConfiguration
{
    /// <summary>
    /// The mirror of every tunnel in <paramref name="here"/>, in one namespace <paramref name="peerNamespace"/> of the
    /// far end, its interfaces named as this end's. <paramref name="peerLocal"/>/<paramref name="peerRemote"/> override the swapped addresses (needed where
    /// this end's local address is 'any'). Addresses of this end's interfaces are not carried over: they are this end's.
    /// </summary>
    public static L2tpConfiguration Mirror(L2tpConfiguration here, string? peerLocal = null, string? peerRemote = null, string peerNamespace = "")
    {
        if (peerLocal is not null && !IPAddress.TryParse(peerLocal, out _))
            throw new L2tpException("L2tp.InvalidAddress", L2tpErrorKind.InvalidArgument, peerLocal, $"-PeerLocal '{peerLocal}' is not an IP address.");
        if (peerRemote is not null && !IPAddress.TryParse(peerRemote, out _))
            throw new L2tpException("L2tp.InvalidAddress", L2tpErrorKind.InvalidArgument, peerRemote, $"-PeerRemote '{peerRemote}' is not an IP address.");
        var ns = new L2tpNamespaceConfiguration { Name = peerNamespace };
        foreach (var t in here.Namespaces.SelectMany(n => n.Tunnels))
        {
            if (ns.Tunnels.Any(x => x.TunnelId == t.PeerTunnelId))
                throw new L2tpException("L2tp.PeerTunnelIdConflict", L2tpErrorKind.InvalidArgument, t.PeerTunnelId,
                    $"Two tunnels here name peer tunnel {t.PeerTunnelId}: one far end cannot hold both; convert them one at a time.");
            string remote = peerRemote ?? (t.Local is "any" or "0.0.0.0" or "::"
                ? throw new L2tpException("L2tp.PeerAddressNeeded", L2tpErrorKind.InvalidArgument, t.TunnelId,
                    $"Tunnel {t.TunnelId} has local address 'any': give -PeerRemote, the address the far end must send to.")
                : t.Local);
            var m = new L2tpTunnelConfiguration
            {
                TunnelId = t.PeerTunnelId, PeerTunnelId = t.TunnelId, Encapsulation = t.Encapsulation,
                Local = peerLocal ?? t.Remote, Remote = remote,
                SourcePort = t.DestinationPort, DestinationPort = t.SourcePort,
                UdpChecksum = t.UdpChecksum, Udp6ChecksumTx = t.Udp6ChecksumTx, Udp6ChecksumRx = t.Udp6ChecksumRx,
            };
            foreach (var s in t.Sessions)
            {
                m.Sessions.Add(new L2tpSessionConfiguration
                {
                    SessionId = s.PeerSessionId, PeerSessionId = s.SessionId,
                    // The same name at both ends (l2tpeth0 usually is): a file can only set up an interface it names.
                    InterfaceName = s.InterfaceName,
                    // What this end sends is what the far end expects, and the other way round.
                    Cookie = s.PeerCookie, PeerCookie = s.Cookie,
                    L2SpecType = s.L2SpecType, Sequencing = s.Sequencing, ReorderTimeout = s.ReorderTimeout,
                    Interface = s.InterfaceName is null ? null : new L2tpInterfaceConfiguration { Up = true, Mtu = s.Interface?.Mtu ?? "Auto" },
                });
            }
            ns.Tunnels.Add(m);
        }
        return new L2tpConfiguration { Namespaces = { ns } };
    }

    /// <summary>A POSIX shell script of `ip l2tp add` and `ip link set` lines for the far end (iproute2, Linux l2tp_eth).</summary>
    public static string ToIpRoute2(L2tpConfiguration peer, string source)
    {
        var b = new StringBuilder();
        b.Append("#!/bin/sh\n");
        b.Append("# The far end of ").Append(source).Append(", written by ConvertTo-L2tpPeerConfiguration.\n");
        b.Append("# Run as root where the kernel has l2tp_eth (modprobe l2tp_eth). Session interfaces: l2tpethN, in order.\n");
        b.Append("set -e\n");
        foreach (var ns in peer.Namespaces)
        {
            string ip = ns.Name.Length == 0 ? "ip" : $"ip -n {ns.Name}";
            int unnamed = 0;
            foreach (var t in ns.Tunnels)
            {
                b.Append(ip).Append(" l2tp add tunnel tunnel_id ").Append(t.TunnelId).Append(" peer_tunnel_id ").Append(t.PeerTunnelId)
                    .Append(" encap ").Append(t.Encapsulation == Encapsulation.Udp ? "udp" : "ip")
                    .Append(" local ").Append(t.Local).Append(" remote ").Append(t.Remote);
                if (t.Encapsulation == Encapsulation.Udp)
                {
                    b.Append(" udp_sport ").Append(t.SourcePort).Append(" udp_dport ").Append(t.DestinationPort);
                    if (IsIPv6(t))
                        b.Append(" udp6_csum_tx ").Append(OnOff(t.Udp6ChecksumTx)).Append(" udp6_csum_rx ").Append(OnOff(t.Udp6ChecksumRx));
                    else if (t.UdpChecksum is { } csum)
                        b.Append(" udp_csum ").Append(OnOff(csum));
                }
                b.Append('\n');
                foreach (var s in t.Sessions)
                {
                    string name = s.InterfaceName ?? $"l2tpeth{unnamed++}";
                    b.Append(ip).Append(" l2tp add session name ").Append(name).Append(" tunnel_id ").Append(t.TunnelId)
                        .Append(" session_id ").Append(s.SessionId).Append(" peer_session_id ").Append(s.PeerSessionId);
                    if (s.Cookie.Length > 0) b.Append(" cookie ").Append(s.Cookie);
                    if (s.PeerCookie.Length > 0) b.Append(" peer_cookie ").Append(s.PeerCookie);
                    b.Append(" l2spec_type ").Append(s.L2SpecType == L2SpecType.Default ? "default" : "none")
                        .Append(" seq ").Append(s.Sequencing.ToString().ToLowerInvariant()).Append('\n');
                    if (s.ReorderTimeout is { } reorder and > 0)
                        b.Append("# reorder timeout ").Append(reorder).Append(" ms: ip l2tp cannot set it (Set-L2tpSession -ReorderTimeout can)\n");
                    var i = s.Interface;
                    // "Auto": l2tp_eth sizes a new interface for its tunnel's path itself, so no mtu is said.
                    string? mtu = i?.Mtu is { } m && m != "Auto" ? m : null;
                    b.Append(ip).Append(" link set ").Append(name).Append(i?.Up == false ? " down" : " up");
                    if (mtu is not null) b.Append(" mtu ").Append(mtu);
                    if (i?.MacAddress is { } mac) b.Append(" address ").Append(mac);
                    b.Append('\n');
                    foreach (var a in i?.Addresses ?? new List<L2tpAddressConfiguration>())
                    {
                        b.Append(ip).Append(" addr add ").Append(a.Address);
                        if (a.Peer is not null) b.Append(" peer ").Append(a.Peer);
                        b.Append(" dev ").Append(name).Append('\n');
                    }
                }
            }
        }
        return b.ToString();
    }

    /// <summary>
    /// QEMU's `-netdev l2tpv3,...` argument for each session (QEMU has one session per netdev), with what QEMU cannot
    /// do as warnings: it sends no sequence numbers and checks none.
    /// </summary>
    public static (IReadOnlyList<string> Arguments, IReadOnlyList<string> Warnings) ToQemu(L2tpConfiguration peer)
    {
        var args = new List<string>();
        var warnings = new List<string>();
        int n = 0;
        foreach (var t in peer.Namespaces.SelectMany(x => x.Tunnels))
        {
            foreach (var s in t.Sessions)
            {
                var o = new List<string> { $"id=l2tp{n++}", $"src={t.Local}", $"dst={t.Remote}" };
                if (t.Encapsulation == Encapsulation.Udp)
                    o.AddRange(new[] { "udp=on", $"srcport={t.SourcePort}", $"dstport={t.DestinationPort}" });
                else
                    o.Add("udp=off");
                if (IsIPv6(t)) o.Add("ipv6=on");
                // QEMU's txsession is the id it writes into its packets: the far end's (this end's own) session id.
                o.Add($"txsession={s.PeerSessionId}");
                o.Add($"rxsession={s.SessionId}");
                if (s.Cookie.Length > 0) o.Add($"txcookie={Decimal(s.Cookie)}");
                if (s.PeerCookie.Length > 0) o.Add($"rxcookie={Decimal(s.PeerCookie)}");
                if ((s.Cookie.Length == 0) != (s.PeerCookie.Length == 0))
                    warnings.Add($"Session {s.SessionId}: QEMU takes both cookies or neither (it refuses to start with one); here only the {(s.Cookie.Length > 0 ? "cookie this end expects" : "cookie this end sends")} is set.");
                if (s.Cookie.Length != s.PeerCookie.Length && s.Cookie.Length > 0 && s.PeerCookie.Length > 0)
                    warnings.Add($"Session {s.SessionId}: QEMU takes one cookie length for both directions; here they differ ({s.Cookie.Length * 4} and {s.PeerCookie.Length * 4} bits).");
                // QEMU's mere mention of cookie64 (even =off) makes its cookies 64-bit: say it only when they are.
                if (s.Cookie.Length == 16 || s.PeerCookie.Length == 16) o.Add("cookie64=on");
                o.Add(s.L2SpecType == L2SpecType.Default ? "counter=on" : "counter=off");
                if (s.Sequencing != SequencingMode.None)
                    warnings.Add($"Session {s.SessionId}: QEMU neither sends nor checks sequence numbers; with seq {s.Sequencing.ToString().ToLowerInvariant()} at this end " +
                        (s.Sequencing is SequencingMode.Recv or SequencingMode.Both ? "this end drops all QEMU sends (it requires them)." : "QEMU ignores them."));
                args.Add("l2tpv3," + string.Join(',', o));
            }
        }
        return (args, warnings);
    }

    private static bool IsIPv6(L2tpTunnelConfiguration t) => t.Remote.Contains(':');
    private static string OnOff(bool v) => v ? "on" : "off";

    // QEMU reads the cookie as a number; big-endian on the wire, as the hex reads.
    private static string Decimal(string hex) => ulong.Parse(hex, NumberStyles.HexNumber, CultureInfo.InvariantCulture).ToString(CultureInfo.InvariantCulture);
}
}
