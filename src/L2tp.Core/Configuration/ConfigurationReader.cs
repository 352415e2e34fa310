using System.Text.Json;

namespace L2tp.Configuration;

/// <summary>
/// JSON text to an <see cref="L2tpConfiguration"/>, checking what L2tpConfiguration.schema.json states (types, known
/// properties, required ones, ranges, enum words) and collecting every error with its JSON path instead of stopping at
/// the first, which a deserializer would.
/// </summary>
internal sealed class ConfigurationReader
{
    private readonly List<ConfigurationError> _errors = new();

    public static (L2tpConfiguration?, IReadOnlyList<ConfigurationError>) Parse(string json)
    {
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(json, new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
        }
        catch (JsonException e)
        {
            return (null, new[] { new ConfigurationError("$", $"not JSON (line {e.LineNumber + 1}, byte {e.BytePositionInLine + 1}): {FirstSentence(e.Message)}") });
        }
        using (doc)
        {
            var r = new ConfigurationReader();
            var config = r.ReadRoot(doc.RootElement);
            return (config, r._errors);
        }
    }

    private static string FirstSentence(string m)
    {
        int i = m.IndexOf(" LineNumber", StringComparison.Ordinal);
        return (i > 0 ? m[..i] : m).Trim();
    }

    private void Error(string path, string message) => _errors.Add(new ConfigurationError(path, message));

    private static string Prop(string path, string name) => $"{path}.{name}";

    /// <summary>
    /// An object's properties by name. Not a Dictionary&lt;string, JsonElement&gt; (nor a list of tuples of
    /// JsonElement below): collections over a struct of another assembly are runtime code the precompiled module
    /// cannot carry, JIT-compiled on every start; a few names searched in order cost less.
    /// </summary>
    private sealed class Props(int capacity)
    {
        // Only known names are added, so the capacity (how many there are) is never passed.
        private readonly string[] _names = new string[capacity];
        private readonly JsonElement[] _values = new JsonElement[capacity];
        private int _count;

        public bool TryAdd(string name, JsonElement value)
        {
            if (ContainsKey(name))
                return false;
            _names[_count] = name;
            _values[_count++] = value;
            return true;
        }

        public bool TryGetValue(string name, out JsonElement value)
        {
            for (int i = 0; i < _count; i++)
                if (string.Equals(_names[i], name, StringComparison.Ordinal))
                {
                    value = _values[i];
                    return true;
                }
            value = default;
            return false;
        }

        public bool ContainsKey(string name) => TryGetValue(name, out _);
    }

    /// <summary>An array item and its JSON path.</summary>
    private sealed class Item(JsonElement element, string path)
    {
        public void Deconstruct(out JsonElement e, out string p)
        {
            e = element;
            p = path;
        }
    }

    /// <summary>The object's properties; unknown ones and missing required ones are errors.</summary>
    private Props? Object(JsonElement e, string path, string what, string[] known, string[] required)
    {
        if (e.ValueKind != JsonValueKind.Object)
        {
            Error(path, $"{what} must be an object, not {Kind(e)}.");
            return null;
        }
        var props = new Props(known.Length);
        foreach (var p in e.EnumerateObject())
        {
            if (!known.Contains(p.Name, StringComparer.Ordinal))
                Error(Prop(path, p.Name), $"unknown property '{p.Name}' of {what} (known: {string.Join(", ", known)}).");
            else if (!props.TryAdd(p.Name, p.Value))
                Error(Prop(path, p.Name), $"'{p.Name}' is given twice.");
        }
        foreach (var r in required)
            if (!props.ContainsKey(r))
                Error(Prop(path, r), $"{what} needs '{r}'.");
        return props;
    }

    private static string Kind(JsonElement e) => e.ValueKind switch
    {
        JsonValueKind.Object => "an object",
        JsonValueKind.Array => "an array",
        JsonValueKind.String => $"the string \"{e.GetString()}\"",
        JsonValueKind.Number => $"the number {e.GetRawText()}",
        JsonValueKind.True or JsonValueKind.False => e.GetRawText(),
        _ => "null",
    };

    private List<Item> Array(Props o, string path, string name)
    {
        var list = new List<Item>();
        if (!o.TryGetValue(name, out var e))
            return list;
        if (e.ValueKind != JsonValueKind.Array)
        {
            Error(Prop(path, name), $"'{name}' must be an array, not {Kind(e)}.");
            return list;
        }
        int i = 0;
        foreach (var item in e.EnumerateArray())
            list.Add(new Item(item, $"{path}.{name}[{(i++).ToString(System.Globalization.CultureInfo.InvariantCulture)}]"));
        return list;
    }

    private string? String(Props o, string path, string name, bool allowNull = false)
    {
        if (!o.TryGetValue(name, out var e) || (allowNull && e.ValueKind == JsonValueKind.Null))
            return null;
        if (e.ValueKind == JsonValueKind.String)
            return e.GetString();
        Error(Prop(path, name), $"'{name}' must be a string, not {Kind(e)}.");
        return null;
    }

    private bool? Bool(Props o, string path, string name)
    {
        if (!o.TryGetValue(name, out var e))
            return null;
        if (e.ValueKind is JsonValueKind.True or JsonValueKind.False)
            return e.GetBoolean();
        Error(Prop(path, name), $"'{name}' must be true or false, not {Kind(e)}.");
        return null;
    }

    private long? Integer(Props o, string path, string name, long min, long max)
    {
        if (!o.TryGetValue(name, out var e))
            return null;
        if (e.ValueKind == JsonValueKind.Number && e.TryGetInt64(out long n))
        {
            if (n >= min && n <= max)
                return n;
            Error(Prop(path, name), $"'{name}' {n} is out of range ({min} to {max}).");
            return null;
        }
        Error(Prop(path, name), $"'{name}' must be an integer from {min} to {max}, not {Kind(e)}.");
        return null;
    }

    private T? Enum<T>(Props o, string path, string name) where T : struct, System.Enum
    {
        if (!o.TryGetValue(name, out var e))
            return null;
        // The non-generic Enum calls: GetNames<T> and Parse<T> over the module's enums are JIT-compiled at first use.
        var names = System.Enum.GetNames(typeof(T)).Where(n => n != "Auto").ToArray();
        if (e.ValueKind == JsonValueKind.String && names.FirstOrDefault(n => n.Equals(e.GetString(), StringComparison.OrdinalIgnoreCase)) is { } hit)
            return (T)System.Enum.Parse(typeof(T), hit);
        Error(Prop(path, name), $"'{name}' must be one of {string.Join(", ", names)}, not {Kind(e)}.");
        return null;
    }

    private L2tpConfiguration? ReadRoot(JsonElement root)
    {
        var o = Object(root, "$", "the configuration", new[] { "$schema", "namespaces" }, new[] { "namespaces" });
        if (o is null)
            return null;
        var config = new L2tpConfiguration { Schema = String(o, "$", "$schema") };
        foreach (var (e, path) in Array(o, "$", "namespaces"))
            if (ReadNamespace(e, path) is { } ns)
                config.Namespaces.Add(ns);
        return config;
    }

    private L2tpNamespaceConfiguration? ReadNamespace(JsonElement e, string path)
    {
        var o = Object(e, path, "a namespace", new[] { "name", "backend", "tunnels", "bridges" }, System.Array.Empty<string>());
        if (o is null)
            return null;
        var ns = new L2tpNamespaceConfiguration { Name = String(o, path, "name") ?? "", Backend = Enum<BackendKind>(o, path, "backend") };
        foreach (var (t, tp) in Array(o, path, "tunnels"))
            if (ReadTunnel(t, tp) is { } tunnel)
                ns.Tunnels.Add(tunnel);
        if (o.ContainsKey("bridges"))
        {
            ns.Bridges = new();
            foreach (var (b, bp) in Array(o, path, "bridges"))
                if (ReadBridge(b, bp) is { } bridge)
                    ns.Bridges.Add(bridge);
        }
        return ns;
    }

    private static readonly string[] TunnelKeys =
    {
        "tunnelId", "peerTunnelId", "encapsulation", "local", "remote", "sourcePort", "destinationPort",
        "udpChecksum", "udp6ChecksumTx", "udp6ChecksumRx", "sessions",
    };

    private L2tpTunnelConfiguration? ReadTunnel(JsonElement e, string path)
    {
        var o = Object(e, path, "a tunnel", TunnelKeys, new[] { "tunnelId", "peerTunnelId", "local", "remote" });
        if (o is null)
            return null;
        var t = new L2tpTunnelConfiguration
        {
            TunnelId = (uint)(Integer(o, path, "tunnelId", 1, uint.MaxValue) ?? 0),
            PeerTunnelId = (uint)(Integer(o, path, "peerTunnelId", 1, uint.MaxValue) ?? 0),
            Encapsulation = Enum<Encapsulation>(o, path, "encapsulation") ?? Encapsulation.Udp,
            Local = String(o, path, "local") ?? "",
            Remote = String(o, path, "remote") ?? "",
            SourcePort = (ushort)(Integer(o, path, "sourcePort", 0, ushort.MaxValue) ?? 0),
            DestinationPort = (ushort)(Integer(o, path, "destinationPort", 0, ushort.MaxValue) ?? 0),
            UdpChecksum = Bool(o, path, "udpChecksum"),
            Udp6ChecksumTx = Bool(o, path, "udp6ChecksumTx") ?? true,
            Udp6ChecksumRx = Bool(o, path, "udp6ChecksumRx") ?? true,
        };
        foreach (var (s, sp) in Array(o, path, "sessions"))
            if (ReadSession(s, sp) is { } session)
                t.Sessions.Add(session);
        return t;
    }

    private static readonly string[] SessionKeys =
    {
        "sessionId", "peerSessionId", "interfaceName", "cookie", "peerCookie", "l2SpecType", "sequencing", "reorderTimeout", "interface",
    };

    private L2tpSessionConfiguration? ReadSession(JsonElement e, string path)
    {
        var o = Object(e, path, "a session", SessionKeys, new[] { "sessionId", "peerSessionId" });
        if (o is null)
            return null;
        var s = new L2tpSessionConfiguration
        {
            SessionId = (uint)(Integer(o, path, "sessionId", 1, uint.MaxValue) ?? 0),
            PeerSessionId = (uint)(Integer(o, path, "peerSessionId", 1, uint.MaxValue) ?? 0),
            InterfaceName = String(o, path, "interfaceName", allowNull: true),
            Cookie = String(o, path, "cookie", allowNull: true) ?? "",
            PeerCookie = String(o, path, "peerCookie", allowNull: true) ?? "",
            L2SpecType = Enum<L2SpecType>(o, path, "l2SpecType") ?? L2SpecType.Default,
            Sequencing = Enum<SequencingMode>(o, path, "sequencing") ?? SequencingMode.None,
            ReorderTimeout = (uint?)Integer(o, path, "reorderTimeout", 0, uint.MaxValue),
        };
        if (o.TryGetValue("interface", out var i) && i.ValueKind != JsonValueKind.Null)
            s.Interface = ReadInterface(i, Prop(path, "interface"));
        return s;
    }

    private L2tpInterfaceConfiguration? ReadInterface(JsonElement e, string path)
    {
        var o = Object(e, path, "an interface", new[] { "up", "mtu", "macAddress", "addresses" }, System.Array.Empty<string>());
        if (o is null)
            return null;
        var i = new L2tpInterfaceConfiguration { Up = Bool(o, path, "up"), MacAddress = String(o, path, "macAddress", allowNull: true) };
        if (o.TryGetValue("mtu", out var m))
        {
            if (m.ValueKind == JsonValueKind.Number)
                i.Mtu = Integer(o, path, "mtu", 68, 65535)?.ToString(System.Globalization.CultureInfo.InvariantCulture);
            else if (m.ValueKind == JsonValueKind.String && m.GetString()!.Equals("Auto", StringComparison.OrdinalIgnoreCase))
                i.Mtu = "Auto";
            else if (m.ValueKind != JsonValueKind.Null)
                Error(Prop(path, "mtu"), $"'mtu' must be a number from 68 to 65535 or \"Auto\", not {Kind(m)}.");
        }
        if (o.ContainsKey("addresses"))
        {
            i.Addresses = new();
            foreach (var (a, ap) in Array(o, path, "addresses"))
            {
                var ao = Object(a, ap, "an address", new[] { "address", "peer" }, new[] { "address" });
                if (ao is not null)
                    i.Addresses.Add(new L2tpAddressConfiguration { Address = String(ao, ap, "address") ?? "", Peer = String(ao, ap, "peer", allowNull: true) });
            }
        }
        return i;
    }

    private L2tpBridgeConfiguration? ReadBridge(JsonElement e, string path)
    {
        var o = Object(e, path, "a bridge", new[] { "name", "up", "ports" }, new[] { "name" });
        if (o is null)
            return null;
        var b = new L2tpBridgeConfiguration { Name = String(o, path, "name") ?? "", Up = Bool(o, path, "up") ?? true };
        foreach (var (p, pp) in Array(o, path, "ports"))
        {
            if (p.ValueKind == JsonValueKind.String)
                b.Ports.Add(p.GetString()!);
            else
                Error(pp, $"a port must be an interface name (a string), not {Kind(p)}.");
        }
        return b;
    }
}
