using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;
using L2tp.Protocol;

namespace L2tp.Configuration;

/// <summary>The file's words for values, parsed the one way the validator, the planner and the export share.</summary>
internal static class ConfigValues
{
    /// <summary>An IPv4 or IPv6 address (dotted quad or with ':'), or 'any' where allowed; null when it is neither.</summary>
    public static IPAddress? Address(string text, bool allowAny)
    {
        if (allowAny && text.Equals("any", StringComparison.OrdinalIgnoreCase))
            return IPAddress.Any;
        return IPAddress.TryParse(text, out var a) && (text.Contains(':') || text.Count(c => c == '.') == 3) ? a : null;
    }

    /// <summary>ADDRESS[/PREFIX]; the prefix defaults to a host prefix. Null when malformed.</summary>
    public static (IPAddress Address, int Prefix, bool HasPrefix)? Cidr(string text)
    {
        string[] parts = text.Split('/', 2);
        if (Address(parts[0], allowAny: false) is not { } a)
            return null;
        int max = a.AddressFamily == AddressFamily.InterNetworkV6 ? 128 : 32;
        if (parts.Length == 1)
            return (a, max, false);
        return int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out int p) && p <= max ? (a, p, true) : null;
    }

    /// <summary>
    /// The canonical form of an interface address, as InterfaceService reports it: 198.51.100.1/24, or
    /// 198.51.100.1 peer 198.51.100.2/32 (the prefix belongs to the peer). Null when malformed.
    /// </summary>
    public static string? AddressKey(L2tpAddressConfiguration a)
    {
        if (Cidr(a.Address) is not { } local)
            return null;
        if (a.Peer is null)
            return $"{local.Address}/{local.Prefix}";
        if (local.HasPrefix || Cidr(a.Peer) is not { } peer || peer.Address.AddressFamily != local.Address.AddressFamily)
            return null;
        return $"{local.Address} peer {peer.Address}/{peer.Prefix}";
    }

    /// <summary>The file form of an address InterfaceService reports ("A/P" or "A peer B/P").</summary>
    public static L2tpAddressConfiguration FromReported(string text)
    {
        int i = text.IndexOf(" peer ", StringComparison.Ordinal);
        return i < 0 ? new L2tpAddressConfiguration { Address = text }
            : new L2tpAddressConfiguration { Address = text[..i], Peer = text[(i + 6)..] };
    }

    /// <summary>IPv6 link-local addresses are the kernel's own (derived from the MAC): never exported, compared or pruned.</summary>
    public static bool IsKernelOwn(string reported) =>
        Cidr(reported.Split(' ')[0]) is { } c && c.Address.IsIPv6LinkLocal;

    /// <summary>A unicast MAC address, lower-case and colon-separated; null when it is none.</summary>
    public static string? Mac(string text)
    {
        string[] parts = text.Split(':', '-');
        if (parts.Length != 6 || !parts.All(p => p.Length == 2 && p.All(Uri.IsHexDigit)))
            return null;
        return (Convert.ToByte(parts[0], 16) & 1) == 0 ? string.Join(":", parts).ToLowerInvariant() : null;
    }

    /// <summary>An MTU the file may give: "Auto" or 68..65535.</summary>
    public static bool IsMtu(string text) =>
        text.Equals("Auto", StringComparison.OrdinalIgnoreCase)
        || (int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int n) && n is >= 68 and <= 65535);

    /// <summary>A name under /run/netns (or empty for the caller's own namespace).</summary>
    public static bool IsNamespaceName(string name) =>
        name.Length == 0 || (name.Length <= 255 && name is not ("." or "..") && !name.Contains('/') && !name.Any(char.IsControl));

    /// <summary>The tunnel's spec (what New-L2tpTunnel would send); addresses must have been checked.</summary>
    public static TunnelSpec Spec(L2tpTunnelConfiguration t) => new()
    {
        TunnelId = t.TunnelId,
        PeerTunnelId = t.PeerTunnelId,
        Encapsulation = t.Encapsulation,
        Local = Address(t.Local, allowAny: true),
        Remote = Address(t.Remote, allowAny: false),
        SourcePort = t.SourcePort,
        DestinationPort = t.DestinationPort,
        UdpChecksum = t.UdpChecksum ?? false,
        Udp6ChecksumTx = t.Udp6ChecksumTx,
        Udp6ChecksumRx = t.Udp6ChecksumRx,
    };

    /// <summary>The session's spec (what New-L2tpSession would send); cookies must have been checked.</summary>
    public static SessionSpec Spec(uint tunnelId, L2tpSessionConfiguration s) => new()
    {
        TunnelId = tunnelId,
        SessionId = s.SessionId,
        PeerSessionId = s.PeerSessionId,
        InterfaceName = string.IsNullOrEmpty(s.InterfaceName) ? null : s.InterfaceName,
        Cookie = Protocol.Cookie.Parse(s.Cookie, "cookie"),
        PeerCookie = Protocol.Cookie.Parse(s.PeerCookie, "peerCookie"),
        L2SpecType = s.L2SpecType,
        Sequencing = s.Sequencing,
        ReorderTimeoutMs = s.ReorderTimeout ?? 0,
    };

    /// <summary>A spec field (TunnelId, PeerCookie, ...) as the file spells its key.</summary>
    public static string Key(string field) => field switch
    {
        "L2SpecType" => "l2SpecType",
        _ => char.ToLowerInvariant(field[0]) + field[1..],
    };
}

/// <summary>
/// The rules a configuration keeps beyond its schema, every broken one reported with the JSON path of the value:
/// the spec rules New-L2tpTunnel and New-L2tpSession apply, duplicate ids and names, cookies, addresses, MACs.
/// </summary>
internal static class ConfigurationValidator
{
    private static readonly Regex FirstField = new(@"\{(\w+)\}");

    public static IReadOnlyList<ConfigurationError> Validate(L2tpConfiguration c)
    {
        var errors = new List<ConfigurationError>();
        void Error(string path, string message) => errors.Add(new ConfigurationError(path, message));

        var namespaces = new Dictionary<string, int>();
        for (int n = 0; n < c.Namespaces.Count; n++)
        {
            var ns = c.Namespaces[n];
            string np = $"$.namespaces[{n}]";
            if (!ConfigValues.IsNamespaceName(ns.Name))
                Error($"{np}.name", $"'{ns.Name}' is not a network namespace name (a name under /run/netns, or \"\" for the current one).");
            else if (!namespaces.TryAdd(ns.Name, n))
                Error($"{np}.name", $"namespace '{ns.Name}' is already described at $.namespaces[{namespaces[ns.Name]}].");

            // Indexes as text: a Dictionary<uint, int> is runtime code JIT-compiled in every process.
            var tunnels = new Dictionary<uint, string>();
            var ipSessions = new Dictionary<uint, string>();
            var interfaces = new Dictionary<string, string>(StringComparer.Ordinal);
            for (int t = 0; t < ns.Tunnels.Count; t++)
            {
                var tunnel = ns.Tunnels[t];
                string tp = $"{np}.tunnels[{t}]";
                if (tunnel.TunnelId != 0 && !tunnels.TryAdd(tunnel.TunnelId, t.ToString(CultureInfo.InvariantCulture)))
                    Error($"{tp}.tunnelId", $"tunnel {tunnel.TunnelId} is already described at {np}.tunnels[{tunnels[tunnel.TunnelId]}].");
                bool addressesOk = true;
                if (ConfigValues.Address(tunnel.Local, allowAny: true) is null)
                {
                    Error($"{tp}.local", $"'{tunnel.Local}' is not an IPv4 or IPv6 address (or 'any').");
                    addressesOk = false;
                }
                if (ConfigValues.Address(tunnel.Remote, allowAny: false) is null)
                {
                    Error($"{tp}.remote", $"'{tunnel.Remote}' is not an IPv4 or IPv6 address.");
                    addressesOk = false;
                }
                // The reader reported an id of 0 or out of range already; the spec rules are for the rest.
                if (addressesOk && tunnel.TunnelId != 0 && tunnel.PeerTunnelId != 0)
                    SpecRule(() => ConfigValues.Spec(tunnel).Validate(), tp, errors);

                var sessions = new Dictionary<uint, string>();
                for (int s = 0; s < tunnel.Sessions.Count; s++)
                {
                    var session = tunnel.Sessions[s];
                    string sp = $"{tp}.sessions[{s}]";
                    if (session.SessionId != 0 && !sessions.TryAdd(session.SessionId, s.ToString(CultureInfo.InvariantCulture)))
                        Error($"{sp}.sessionId", $"session {session.SessionId} is already described at {tp}.sessions[{sessions[session.SessionId]}].");
                    else if (session.SessionId != 0 && tunnel.Encapsulation == Encapsulation.Ip && !ipSessions.TryAdd(session.SessionId, sp))
                        Error($"{sp}.sessionId", $"session {session.SessionId} is already used at {ipSessions[session.SessionId]}: with IP encapsulation a session id is unique in the namespace.");
                    bool cookiesOk = true;
                    foreach (var (key, value) in new[] { ("cookie", session.Cookie), ("peerCookie", session.PeerCookie) })
                    {
                        try { Protocol.Cookie.Parse(value, key); }
                        catch (L2tpException)
                        {
                            Error($"{sp}.{key}", $"'{value}' is not a cookie: give 8 or 16 hex digits (4 or 8 bytes), or \"\" for none.");
                            cookiesOk = false;
                        }
                    }
                    if (cookiesOk && session.SessionId != 0 && session.PeerSessionId != 0 && tunnel.TunnelId != 0)
                        SpecRule(() => ConfigValues.Spec(tunnel.TunnelId, session).Validate(), sp, errors);
                    if (!string.IsNullOrEmpty(session.InterfaceName) && !interfaces.TryAdd(session.InterfaceName, $"{sp}.interfaceName"))
                        Error($"{sp}.interfaceName", $"interface '{session.InterfaceName}' is already named at {interfaces[session.InterfaceName]}.");
                    if (session.Interface is { } i)
                        Interface(i, session, $"{sp}.interface", Error);
                }
            }

            var bridges = new Dictionary<string, int>(StringComparer.Ordinal);
            var ports = new Dictionary<string, string>(StringComparer.Ordinal);
            for (int b = 0; b < (ns.Bridges?.Count ?? 0); b++)
            {
                var bridge = ns.Bridges![b];
                string bp = $"{np}.bridges[{b}]";
                try { SessionSpec.CheckInterfaceName(bridge.Name); }
                catch (L2tpException) { Error($"{bp}.name", $"'{bridge.Name}' is not a valid interface name: 1 to 15 characters, no '/', ':' or spaces."); }
                if (!bridges.TryAdd(bridge.Name, b))
                    Error($"{bp}.name", $"bridge '{bridge.Name}' is already described at {np}.bridges[{bridges[bridge.Name]}].");
                else if (interfaces.TryGetValue(bridge.Name, out var where))
                    Error($"{bp}.name", $"'{bridge.Name}' is a session's interface ({where}), not a bridge.");
                for (int p = 0; p < bridge.Ports.Count; p++)
                {
                    string port = bridge.Ports[p];
                    string pp = $"{bp}.ports[{p}]";
                    try { SessionSpec.CheckInterfaceName(port); }
                    catch (L2tpException) { Error(pp, $"'{port}' is not a valid interface name."); continue; }
                    if (port == bridge.Name)
                        Error(pp, "a bridge cannot be its own port.");
                    else if (!ports.TryAdd(port, pp))
                        Error(pp, $"'{port}' is already a port at {ports[port]}: an interface has one bridge.");
                }
            }
        }
        return errors;
    }

    private static void Interface(L2tpInterfaceConfiguration i, L2tpSessionConfiguration s, string path, Action<string, string> error)
    {
        if (string.IsNullOrEmpty(s.InterfaceName))
            error(path, "interface state needs the session's 'interfaceName' (a name the kernel picks cannot be found again).");
        if (i.Mtu is not null && !ConfigValues.IsMtu(i.Mtu))
            error($"{path}.mtu", $"'{i.Mtu}' is not an MTU: a number from 68 to 65535, or \"Auto\".");
        if (i.MacAddress is not null && ConfigValues.Mac(i.MacAddress) is null)
            error($"{path}.macAddress", $"'{i.MacAddress}' is not a unicast MAC address like 02:00:5e:10:00:01.");
        var seen = new Dictionary<string, int>();
        for (int a = 0; a < (i.Addresses?.Count ?? 0); a++)
        {
            var addr = i.Addresses![a];
            string ap = $"{path}.addresses[{a}]";
            if (ConfigValues.Cidr(addr.Address) is not { } local)
                error($"{ap}.address", $"'{addr.Address}' is not an address with an optional prefix (198.51.100.1/24, 2001:db8::1/64).");
            else if (addr.Peer is not null && local.HasPrefix)
                error($"{ap}.address", $"'{addr.Address}': with a peer the prefix goes on the peer (\"address\": \"198.51.100.1\", \"peer\": \"198.51.100.2/32\").");
            else if (addr.Peer is not null && ConfigValues.Cidr(addr.Peer) is not { } peer)
                error($"{ap}.peer", $"'{addr.Peer}' is not an address with an optional prefix.");
            else if (ConfigValues.AddressKey(addr) is not { } key)
                error($"{ap}.peer", $"'{addr.Peer}' and '{addr.Address}' are of different address families.");
            else if (!seen.TryAdd(key, a))
                error($"{ap}.address", $"{key} is already listed at {path}.addresses[{seen[key]}].");
        }
    }

    /// <summary>A spec rule broken, reported at the key of the first field its message names.</summary>
    private static void SpecRule(Action validate, string path, List<ConfigurationError> errors)
    {
        try { validate(); }
        catch (L2tpException e)
        {
            string? field = e.Template is null ? null : FirstField.Match(e.Template) is { Success: true } m ? m.Groups[1].Value : null;
            errors.Add(new ConfigurationError(field is null ? path : $"{path}.{ConfigValues.Key(field)}", e.Word(ConfigValues.Key)));
        }
    }
}
