using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;

namespace L2tp.Configuration;

/// <summary>
/// Reads what a site configured by hand runs: a shell script of `ip l2tp`, `ip link` and `ip addr` lines (ip-l2tp(8)'s
/// grammar and iproute2's aliases), or `ip -j l2tp show tunnel` / `ip -j l2tp show session` output, into a
/// configuration file's model. Errors name the line (or JSON element) and the word.
/// </summary>
internal static class IpL2tpImport
{
    /// <summary>What was read, and what was understood but not kept (each a sentence for a warning).</summary>
    public sealed record Result(L2tpConfiguration Configuration, IReadOnlyList<string> Warnings);

    /// <summary>Script or JSON, told apart by the first character that is not white space.</summary>
    public static Result Read(string text, string defaultNamespace = "")
    {
        string trimmed = text.TrimStart();
        return trimmed.StartsWith('[') || trimmed.StartsWith('{') ? FromJson(text, defaultNamespace) : FromScript(text, defaultNamespace);
    }

    private static L2tpException Bad(string where, string word, string message) =>
        new("L2tp.InvalidIpL2tpInput", L2tpErrorKind.InvalidArgument, word, $"{where}: {message}");

    // ---- shell script ------------------------------------------------------------------------------------------

    private sealed class State
    {
        public readonly List<(string Ns, L2tpTunnelConfiguration Tunnel)> Tunnels = new();
        /// <summary>The ids in <see cref="Tunnels"/>: a script of many tunnels is read in linear time, not quadratic.</summary>
        public readonly HashSet<(string Ns, uint Id)> TunnelIds = new();
        public readonly List<(string Ns, uint TunnelId, L2tpSessionConfiguration Session, string Where)> Sessions = new();
        public readonly Dictionary<(string Ns, string If), L2tpInterfaceConfiguration> Interfaces = new();
        public readonly Dictionary<(string Ns, string If), string> Masters = new();
        public readonly List<(string Ns, L2tpBridgeConfiguration Bridge)> Bridges = new();
        public readonly Dictionary<(string Ns, string If), bool> LinkUp = new();
        public readonly List<string> Warnings = new();
    }

    /// <summary>A shell script: one command per line (a trailing backslash continues it; ';' and '&amp;&amp;' separate).</summary>
    public static Result FromScript(string text, string defaultNamespace = "")
    {
        var st = new State();
        int lineNo = 0;
        var pending = new StringBuilder();
        int startLine = 1;
        foreach (var raw in text.Replace("\r\n", "\n").Split('\n'))
        {
            lineNo++;
            string line = StripComment(raw);
            if (pending.Length == 0)
                startLine = lineNo;
            if (line.TrimEnd().EndsWith('\\'))
            {
                pending.Append(line.TrimEnd()[..^1]).Append(' ');
                continue;
            }
            pending.Append(line);
            string command = pending.ToString();
            pending.Clear();
            Run(command);
        }
        // Input that ends in a continued line (pipeline lines carry no last newline): its command is not dropped.
        if (pending.Length > 0)
            Run(pending.ToString());
        return Build(st);

        void Run(string command)
        {
            foreach (var part in command.Split(new[] { "&&", ";", "||" }, StringSplitOptions.None))
            {
                var words = Words(part, startLine);
                if (words.Count > 0)
                    Command(st, words, $"line {startLine}", defaultNamespace);
            }
        }
    }

    private static string StripComment(string line)
    {
        bool quoted = false;
        for (int i = 0; i < line.Length; i++)
        {
            if (line[i] is '"' or '\'')
                quoted = !quoted;
            else if (line[i] == '#' && !quoted && (i == 0 || char.IsWhiteSpace(line[i - 1])))
                return line[..i];
        }
        return line;
    }

    private static List<string> Words(string part, int line)
    {
        var words = new List<string>();
        var w = new StringBuilder();
        char quote = '\0';
        bool any = false;
        foreach (char c in part)
        {
            if (quote != '\0')
            {
                if (c == quote) quote = '\0';
                else w.Append(c);
            }
            else if (c is '"' or '\'')
            {
                quote = c;
                any = true;
            }
            else if (char.IsWhiteSpace(c))
            {
                if (w.Length > 0 || any) words.Add(w.ToString());
                w.Clear();
                any = false;
            }
            else
            {
                if (c is '$' or '`' or '|' or '>' or '<')
                    throw Bad($"line {line}", part.Trim(), $"'{part.Trim()}' uses shell expansion or redirection ('{c}'); write the values out.");
                w.Append(c);
            }
        }
        if (quote != '\0')
            throw Bad($"line {line}", part.Trim(), $"an unclosed quote in '{part.Trim()}'.");
        if (w.Length > 0 || any) words.Add(w.ToString());
        return words;
    }

    // iproute2 takes a command word by its prefix (matches()): "a" is add, "l2" is l2tp.
    private static bool Matches(string word, string full) => word.Length > 0 && full.StartsWith(word, StringComparison.Ordinal);

    private static void Command(State st, List<string> w, string where, string ns)
    {
        int i = 0;
        if (w[i] == "sudo") i++;
        if (i + 3 < w.Count && w[i] == "ip" && w[i + 1] == "netns" && w[i + 2] == "exec")
        {
            ns = w[i + 3];
            i += 4;
        }
        if (i >= w.Count) return;
        // Shell options (set -e) and echo configure nothing: no warning for them.
        if (w[i] is "set" or "echo" or "true")
            return;
        if (w[i] is not ("ip" or "/sbin/ip" or "/usr/sbin/ip" or "/bin/ip" or "/usr/bin/ip"))
        {
            st.Warnings.Add($"{where}: '{string.Join(' ', w.Skip(i))}' is not an ip command; left out.");
            return;
        }
        i++;
        // ip's own options before the object: -n/-netns NS, and ones that do not change what is configured.
        while (i < w.Count && w[i].StartsWith('-'))
        {
            if (w[i] is "-n" or "-netns" or "--netns")
            {
                if (i + 1 >= w.Count) throw Bad(where, w[i], $"{w[i]} needs a namespace name.");
                ns = w[i + 1];
                i += 2;
                continue;
            }
            i++;
        }
        if (i >= w.Count) return;
        string obj = w[i++];
        var rest = w.Skip(i).ToList();
        if (obj.Length >= 2 && Matches(obj, "l2tp"))
            L2tp(st, rest, where, ns);
        else if (Matches(obj, "link"))
            Link(st, rest, where, ns);
        else if (Matches(obj, "address"))
            Addr(st, rest, where, ns);
        else
            st.Warnings.Add($"{where}: 'ip {obj} ...' is not a pseudowire, interface or bridge setting; left out.");
    }

    private static void L2tp(State st, List<string> w, string where, string ns)
    {
        if (w.Count == 0) throw Bad(where, "ip l2tp", "'ip l2tp' needs add, del or show.");
        string verb = w[0];
        if (Matches(verb, "show") || Matches(verb, "list") || Matches(verb, "lst") || Matches(verb, "help"))
            return;
        bool add = Matches(verb, "add"), del = Matches(verb, "delete");
        if (!add && !del)
            throw Bad(where, verb, $"'ip l2tp {verb}' is not add, del or show.");
        var a = Args(w.Skip(1).ToList(), where, st);
        if (del)
        {
            if (a.Session)
            {
                int n = st.Sessions.RemoveAll(s => s.Ns == ns && s.TunnelId == a.TunnelId && s.Session.SessionId == a.SessionId);
                if (n == 0) st.Warnings.Add($"{where}: deletes session {a.SessionId} in tunnel {a.TunnelId}, which the script did not make.");
            }
            else
            {
                st.Tunnels.RemoveAll(t => t.Ns == ns && t.Tunnel.TunnelId == a.TunnelId);
                st.TunnelIds.Remove((ns, a.TunnelId));
                st.Sessions.RemoveAll(s => s.Ns == ns && s.TunnelId == a.TunnelId);
            }
            return;
        }
        if (a.Tunnel == a.Session)
            throw Bad(where, verb, "'ip l2tp add' needs 'tunnel' or 'session'.");
        if (a.TunnelId == 0) throw Bad(where, "tunnel_id", "tunnel_id is missing (1 to 4294967295).");
        if (a.Tunnel)
        {
            if (a.PeerTunnelId == 0) throw Bad(where, "peer_tunnel_id", "peer_tunnel_id is missing.");
            if (a.Local is null) throw Bad(where, "local", "local is missing.");
            if (a.Remote is null) throw Bad(where, "remote", "remote is missing.");
            if (a.Encapsulation == Encapsulation.Udp && (a.SourcePort == 0 || a.DestinationPort == 0))
                throw Bad(where, a.SourcePort == 0 ? "udp_sport" : "udp_dport", "UDP encapsulation needs udp_sport and udp_dport.");
            if (!st.TunnelIds.Add((ns, a.TunnelId)))
                throw Bad(where, a.TunnelId.ToString(CultureInfo.InvariantCulture), $"tunnel {a.TunnelId} is added twice.");
            st.Tunnels.Add((ns, new L2tpTunnelConfiguration
            {
                TunnelId = a.TunnelId, PeerTunnelId = a.PeerTunnelId, Encapsulation = a.Encapsulation,
                Local = a.Local, Remote = a.Remote,
                SourcePort = a.Encapsulation == Encapsulation.Udp ? a.SourcePort : (ushort)0,
                DestinationPort = a.Encapsulation == Encapsulation.Udp ? a.DestinationPort : (ushort)0,
                // udp_csum only where the script says it: otherwise the backend's default, as New-L2tpTunnel's.
                UdpChecksum = a.UdpChecksum, Udp6ChecksumTx = a.Udp6ChecksumTx, Udp6ChecksumRx = a.Udp6ChecksumRx,
            }));
        }
        else
        {
            if (a.SessionId == 0) throw Bad(where, "session_id", "session_id is missing.");
            if (a.PeerSessionId == 0) throw Bad(where, "peer_session_id", "peer_session_id is missing.");
            st.Sessions.Add((ns, a.TunnelId, new L2tpSessionConfiguration
            {
                SessionId = a.SessionId, PeerSessionId = a.PeerSessionId, InterfaceName = a.Name,
                Cookie = a.Cookie, PeerCookie = a.PeerCookie, L2SpecType = a.L2SpecType, Sequencing = a.Sequencing,
            }, where));
        }
    }

    private sealed class L2tpArgs
    {
        public bool Tunnel, Session;
        public uint TunnelId, PeerTunnelId, SessionId, PeerSessionId;
        public Encapsulation Encapsulation = Encapsulation.Udp;
        public string? Local, Remote, Name;
        public ushort SourcePort, DestinationPort;
        public bool? UdpChecksum;
        public bool Udp6ChecksumTx = true, Udp6ChecksumRx = true;
        public string Cookie = "", PeerCookie = "";
        public L2SpecType L2SpecType = L2SpecType.Default;
        public SequencingMode Sequencing = SequencingMode.None;
    }

    private static L2tpArgs Args(List<string> w, string where, State st)
    {
        var a = new L2tpArgs();
        for (int i = 0; i < w.Count; i++)
        {
            string key = w[i];
            string Next()
            {
                if (i + 1 >= w.Count) throw Bad(where, key, $"'{key}' needs a value.");
                return w[++i];
            }
            uint Id() => uint.TryParse(Next(), NumberStyles.None, CultureInfo.InvariantCulture, out uint v) && v != 0
                ? v : throw Bad(where, w[i], $"{key} '{w[i]}' is not an id from 1 to 4294967295.");
            ushort Port() => ushort.TryParse(Next(), NumberStyles.None, CultureInfo.InvariantCulture, out ushort v) && v != 0
                ? v : throw Bad(where, w[i], $"{key} '{w[i]}' is not a port from 1 to 65535.");
            bool OnOff() => Next() switch
            {
                "on" => true,
                "off" => false,
                var v => throw Bad(where, v, $"{key} takes on or off, not '{v}'."),
            };
            string Address()
            {
                string v = Next();
                if (v != "any" && !IPAddress.TryParse(v, out _))
                    throw Bad(where, v, $"{key} '{v}' is not an IP address.");
                return v;
            }
            string Cookie()
            {
                string v = Next();
                if (v.Length is not (8 or 16) || !v.All(Uri.IsHexDigit))
                    throw Bad(where, v, $"{key} '{v}' must be 8 or 16 hex digits.");
                return v.ToLowerInvariant();
            }
            switch (key)
            {
                case "tunnel": a.Tunnel = true; break;
                case "session": a.Session = true; break;
                case "tunnel_id" or "tid": a.TunnelId = Id(); break;
                case "peer_tunnel_id" or "ptid": a.PeerTunnelId = Id(); break;
                case "session_id" or "sid": a.SessionId = Id(); break;
                case "peer_session_id" or "psid": a.PeerSessionId = Id(); break;
                case "encap":
                    a.Encapsulation = Next() switch
                    {
                        "udp" => Encapsulation.Udp,
                        "ip" => Encapsulation.Ip,
                        var v => throw Bad(where, v, $"encap takes udp or ip, not '{v}'."),
                    };
                    break;
                case "local": a.Local = Address(); break;
                case "remote": a.Remote = Address(); break;
                case "name":
                    a.Name = Next();
                    if (a.Name.Length is 0 or > 15 || a.Name.Any(c => c is '/' or ':' || char.IsWhiteSpace(c)))
                        throw Bad(where, a.Name, $"name '{a.Name}' is not an interface name (1 to 15 characters, no '/', ':' or space).");
                    break;
                case "udp_sport": a.SourcePort = Port(); break;
                case "udp_dport": a.DestinationPort = Port(); break;
                case "udp_csum": a.UdpChecksum = OnOff(); break;
                case "udp6_csum_tx": a.Udp6ChecksumTx = OnOff(); break;
                case "udp6_csum_rx": a.Udp6ChecksumRx = OnOff(); break;
                case "cookie": a.Cookie = Cookie(); break;
                case "peer_cookie": a.PeerCookie = Cookie(); break;
                case "l2spec_type":
                    a.L2SpecType = Next().ToLowerInvariant() switch
                    {
                        "default" => L2SpecType.Default,
                        "none" => L2SpecType.None,
                        var v => throw Bad(where, v, $"l2spec_type takes none or default, not '{v}'."),
                    };
                    break;
                case "seq":
                    a.Sequencing = Next().ToLowerInvariant() switch
                    {
                        "none" => SequencingMode.None,
                        "send" => SequencingMode.Send,
                        "recv" => SequencingMode.Recv,
                        "both" => SequencingMode.Both,
                        var v => throw Bad(where, v, $"seq takes none, send, recv or both, not '{v}'."),
                    };
                    break;
                case "offset" or "peer_offset":
                    Next();
                    st.Warnings.Add($"{where}: '{key}' is ignored, as iproute2 ignores it.");
                    break;
                default:
                    throw Bad(where, key, $"'{key}' is not an ip l2tp option (ip-l2tp(8)).");
            }
        }
        return a;
    }

    private static L2tpInterfaceConfiguration Interface(State st, string ns, string name)
    {
        if (!st.Interfaces.TryGetValue((ns, name), out var i))
            st.Interfaces[(ns, name)] = i = new L2tpInterfaceConfiguration();
        return i;
    }

    private static void Link(State st, List<string> w, string where, string ns)
    {
        if (w.Count == 0) return;
        string verb = w[0];
        if (Matches(verb, "add"))
        {
            // ip link add [name] NAME type bridge
            int t = w.IndexOf("type");
            if (t < 0 || t + 1 >= w.Count || w[t + 1] != "bridge")
            {
                st.Warnings.Add($"{where}: 'ip link {string.Join(' ', w)}' makes no bridge; left out.");
                return;
            }
            string? name = w.Count > 1 ? (w[1] is "name" or "dev" && w.Count > 2 ? w[2] : w[1]) : null;
            if (name is null || name == "type") throw Bad(where, string.Join(' ', w), "'ip link add ... type bridge' needs a name.");
            if (!st.Bridges.Any(b => b.Ns == ns && b.Bridge.Name == name))
                st.Bridges.Add((ns, new L2tpBridgeConfiguration { Name = name, Up = false }));
            return;
        }
        if (Matches(verb, "delete"))
        {
            string? name = w.Count > 1 ? (w[1] == "dev" && w.Count > 2 ? w[2] : w[1]) : null;
            st.Bridges.RemoveAll(b => b.Ns == ns && b.Bridge.Name == name);
            return;
        }
        if (!Matches(verb, "set"))
        {
            if (!Matches(verb, "show") && !Matches(verb, "list"))
                st.Warnings.Add($"{where}: 'ip link {verb}' is left out.");
            return;
        }
        int k = 1;
        if (k < w.Count && w[k] == "dev") k++;
        if (k >= w.Count) throw Bad(where, "ip link set", "'ip link set' needs a device.");
        string dev = w[k++];
        for (; k < w.Count; k++)
        {
            string key = w[k];
            string Next() => k + 1 < w.Count ? w[++k] : throw Bad(where, key, $"'{key}' needs a value.");
            switch (key)
            {
                case "up": st.LinkUp[(ns, dev)] = true; break;
                case "down": st.LinkUp[(ns, dev)] = false; break;
                case "mtu":
                    string mtu = Next();
                    if (!int.TryParse(mtu, NumberStyles.None, CultureInfo.InvariantCulture, out int m) || m is < 68 or > 65535)
                        throw Bad(where, mtu, $"mtu '{mtu}' is not a number from 68 to 65535.");
                    Interface(st, ns, dev).Mtu = m.ToString(CultureInfo.InvariantCulture);
                    break;
                case "address":
                    Interface(st, ns, dev).MacAddress = Next().ToLowerInvariant();
                    break;
                case "master": st.Masters[(ns, dev)] = Next(); break;
                case "nomaster": st.Masters.Remove((ns, dev)); break;
                default:
                    st.Warnings.Add($"{where}: 'ip link set {dev} {key}' is left out.");
                    break;
            }
        }
    }

    private static void Addr(State st, List<string> w, string where, string ns)
    {
        if (w.Count == 0 || !(Matches(w[0], "add") || Matches(w[0], "replace")))
        {
            if (w.Count > 0 && !Matches(w[0], "show") && !Matches(w[0], "list"))
                st.Warnings.Add($"{where}: 'ip addr {w[0]}' is left out.");
            return;
        }
        string? local = null, peer = null, dev = null;
        for (int k = 1; k < w.Count; k++)
        {
            string key = w[k];
            string Next() => k + 1 < w.Count ? w[++k] : throw Bad(where, key, $"'{key}' needs a value.");
            switch (key)
            {
                case "peer" or "remote": peer = Next(); break;
                case "dev": dev = Next(); break;
                case "local": local = Next(); break;
                case "broadcast" or "brd" or "label" or "scope" or "valid_lft" or "preferred_lft" or "metric":
                    Next();
                    break;
                case "nodad" or "noprefixroute" or "home" or "mngtmpaddr" or "autojoin":
                    break;
                default:
                    if (local is null) local = key;
                    else throw Bad(where, key, $"'{key}' in 'ip addr add' is not understood.");
                    break;
            }
        }
        if (local is null || dev is null)
            throw Bad(where, string.Join(' ', w), "'ip addr add' needs an address and 'dev NAME'.");
        var i = Interface(st, ns, dev);
        i.Addresses ??= new List<L2tpAddressConfiguration>();
        i.Addresses.Add(new L2tpAddressConfiguration { Address = local, Peer = peer });
    }

    private static Result Build(State st)
    {
        var config = new L2tpConfiguration();
        L2tpNamespaceConfiguration Ns(string name)
        {
            var n = config.Namespace(name);
            if (n is null)
                config.Namespaces.Add(n = new L2tpNamespaceConfiguration { Name = name });
            return n;
        }
        // Indexes, first entry winning as a search would: hostile input of many thousands of lines stays linear.
        var tunnels = new Dictionary<(string, uint), L2tpTunnelConfiguration>();
        foreach (var (ns, t) in st.Tunnels)
        {
            Ns(ns).Tunnels.Add(t);
            tunnels.TryAdd((ns, t.TunnelId), t);
        }
        var sessionIds = new HashSet<(string, uint, uint)>();
        // The kernel names an unnamed session l2tpethN, the lowest N free: in a fresh namespace, in the order made.
        var next = new Dictionary<string, int>();
        // The names the input gives (taken once, before guessed names are filled in; a guess is always below next[ns]).
        var named = st.Sessions.Where(x => x.Session.InterfaceName is not null).Select(x => (x.Ns, x.Session.InterfaceName!)).ToHashSet();
        foreach (var (ns, tunnelId, s, where) in st.Sessions)
        {
            var tunnel = tunnels.GetValueOrDefault((ns, tunnelId))
                ?? throw Bad(where, tunnelId.ToString(CultureInfo.InvariantCulture),
                    $"session {s.SessionId} is in tunnel {tunnelId}, which the input does not make{(ns == "" ? "" : $" in namespace '{ns}'")}.");
            if (!sessionIds.Add((ns, tunnelId, s.SessionId)))
                throw Bad(where, s.SessionId.ToString(CultureInfo.InvariantCulture), $"session {s.SessionId} is added twice to tunnel {tunnelId}.");
            if (s.InterfaceName is null)
            {
                int n = next.GetValueOrDefault(ns);
                while (named.Contains((ns, $"l2tpeth{n}"))) n++;
                string guess = $"l2tpeth{n}";
                next[ns] = n + 1;
                // Named in the file only when the script goes on to set that interface: the name is then what it meant.
                if (st.Interfaces.ContainsKey((ns, guess)) || st.LinkUp.ContainsKey((ns, guess)) || st.Masters.ContainsKey((ns, guess)))
                    s.InterfaceName = guess;
            }
            tunnel.Sessions.Add(s);
        }
        var sessionIfs = new Dictionary<(string, string), L2tpSessionConfiguration>();
        foreach (var (ns, _, s, _) in st.Sessions)
            if (s.InterfaceName is not null)
                sessionIfs.TryAdd((ns, s.InterfaceName), s);
        var bridgeNames = st.Bridges.Select(b => (b.Ns, b.Bridge.Name)).ToHashSet();
        var ports = st.Masters.ToLookup(m => (m.Key.Ns, m.Value), m => m.Key.If);
        foreach (var (ns, b) in st.Bridges)
        {
            b.Up = st.LinkUp.GetValueOrDefault((ns, b.Name));
            b.Ports = ports[(ns, b.Name)].ToList();
            Ns(ns).Bridges ??= new List<L2tpBridgeConfiguration>();
            Ns(ns).Bridges!.Add(b);
        }
        foreach (var ((ns, ifName), up) in st.LinkUp)
            if (sessionIfs.ContainsKey((ns, ifName)))
                Interface(st, ns, ifName).Up = up;
        foreach (var ((ns, ifName), iface) in st.Interfaces)
        {
            var s = sessionIfs.GetValueOrDefault((ns, ifName));
            if (s is not null)
                s.Interface = iface;
            else if (!bridgeNames.Contains((ns, ifName)))
                st.Warnings.Add($"'{ifName}'{(ns == "" ? "" : $" in namespace '{ns}'")} is neither a session interface nor a bridge of the input; its settings are left out.");
        }
        foreach (var ((ns, ifName), master) in st.Masters)
            if (!bridgeNames.Contains((ns, master)))
                st.Warnings.Add($"'{ifName}' joins bridge '{master}', which the input does not make; left out.");
        return new Result(config, st.Warnings.Select(L2tpException.Printable).ToList());
    }

    // ---- ip -j l2tp show ---------------------------------------------------------------------------------------

    /// <summary>
    /// `ip -j l2tp show tunnel` and `ip -j l2tp show session` output (one or both arrays, in either order). The JSON
    /// has no sublayer and no interface state: sessions get the kernel's default sublayer, and a warning says so.
    /// </summary>
    public static Result FromJson(string text, string defaultNamespace = "")
    {
        var st = new State();
        var tunnels = new List<JsonElement>();
        var sessions = new List<JsonElement>();
        var bytes = Encoding.UTF8.GetBytes(text);
        int offset = 0, doc = 0;
        try
        {
            // One value after another (net8.0's reader has no AllowMultipleValues): each from where the last ended.
            while (true)
            {
                while (offset < bytes.Length && char.IsWhiteSpace((char)bytes[offset])) offset++;
                if (offset >= bytes.Length) break;
                var reader = new Utf8JsonReader(bytes.AsSpan(offset), isFinalBlock: true, state: default);
                using var d = JsonDocument.ParseValue(ref reader);
                offset += (int)reader.BytesConsumed;
                doc++;
                var items = d.RootElement.ValueKind == JsonValueKind.Array ? d.RootElement.EnumerateArray().ToList() : new List<JsonElement> { d.RootElement };
                foreach (var e in items)
                {
                    if (e.ValueKind != JsonValueKind.Object)
                        throw Bad($"JSON value {doc}", e.ToString(), "expected objects from 'ip -j l2tp show tunnel' or 'ip -j l2tp show session'.");
                    (e.TryGetProperty("session_id", out _) ? sessions : tunnels).Add(e.Clone());
                }
            }
        }
        catch (JsonException e)
        {
            throw Bad($"JSON (line {e.LineNumber + 1})", text.Length > 40 ? text[..40] : text, $"not the JSON of 'ip -j l2tp show': {e.Message}");
        }
        string ns = defaultNamespace;
        for (int i = 0; i < tunnels.Count; i++)
        {
            var e = tunnels[i];
            string where = $"tunnel [{i}]";
            var encap = Str(e, "encap", where).ToUpperInvariant() switch
            {
                "UDP" => Encapsulation.Udp,
                "IP" => Encapsulation.Ip,
                var v => throw Bad(where, v, $"encap '{v}' is neither UDP nor IP."),
            };
            var t = new L2tpTunnelConfiguration
            {
                TunnelId = Id(e, "tunnel_id", where), PeerTunnelId = Id(e, "peer_tunnel", where), Encapsulation = encap,
                Local = Str(e, "local", where), Remote = Str(e, "peer", where),
            };
            if (encap == Encapsulation.Udp)
            {
                t.SourcePort = Port(e, "local_port", where);
                t.DestinationPort = Port(e, "peer_port", where);
                t.UdpChecksum = e.TryGetProperty("checksum", out var c) && c.ValueKind == JsonValueKind.True;
                if (e.TryGetProperty("checksum_tx", out var tx)) t.Udp6ChecksumTx = tx.ValueKind == JsonValueKind.True;
                if (e.TryGetProperty("checksum_rx", out var rx)) t.Udp6ChecksumRx = rx.ValueKind == JsonValueKind.True;
            }
            st.Tunnels.Add((ns, t));
        }
        for (int i = 0; i < sessions.Count; i++)
        {
            var e = sessions[i];
            string where = $"session [{i}]";
            bool send = e.TryGetProperty("send_seq", out _), recv = e.TryGetProperty("recv_seq", out _);
            var s = new L2tpSessionConfiguration
            {
                SessionId = Id(e, "session_id", where), PeerSessionId = Id(e, "peer_session_id", where),
                InterfaceName = e.TryGetProperty("interface", out var n) && n.ValueKind == JsonValueKind.String ? n.GetString() : null,
                Cookie = e.TryGetProperty("cookie", out _) ? Str(e, "cookie", where) : "",
                PeerCookie = e.TryGetProperty("peer_cookie", out _) ? Str(e, "peer_cookie", where) : "",
                ReorderTimeout = e.TryGetProperty("reorder_timeout", out _) && U32(e, "reorder_timeout", where) is var ms && ms > 0 ? ms : null,
                Sequencing = (send, recv) switch
                {
                    (true, true) => SequencingMode.Both,
                    (true, false) => SequencingMode.Send,
                    (false, true) => SequencingMode.Recv,
                    _ => SequencingMode.None,
                },
            };
            st.Sessions.Add((ns, Id(e, "tunnel_id", where), s, where));
        }
        if (sessions.Count > 0)
            st.Warnings.Add("'ip -j l2tp show session' does not report the sublayer: each session is written with l2spec_type default, the kernel's default; change it where the session was made with l2spec_type none.");
        if (tunnels.Count == 0 && sessions.Count > 0)
            st.Warnings.Add("The input has sessions but no tunnels: give 'ip -j l2tp show tunnel' too.");
        return Build(st);
    }

    private static string Str(JsonElement e, string name, string where) =>
        e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString()!
            : throw Bad(where, name, $"'{name}' is missing or not a string.");

    private static uint U32(JsonElement e, string name, string where) =>
        e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number && v.TryGetUInt32(out uint u) ? u
            : throw Bad(where, name, $"'{name}' is missing or not a 32-bit number.");

    /// <summary>A tunnel or session id: 0 names none, as in a script.</summary>
    private static uint Id(JsonElement e, string name, string where) =>
        U32(e, name, where) is var v && v != 0 ? v : throw Bad(where, name, $"'{name}' is 0, which is no id (1 to 4294967295).");

    /// <summary>A UDP port, refused out of range rather than cut to 16 bits.</summary>
    private static ushort Port(JsonElement e, string name, string where) =>
        U32(e, name, where) is var v && v is > 0 and <= ushort.MaxValue ? (ushort)v
            : throw Bad(where, name, $"'{name}' {v} is not a port from 1 to 65535.");
}
