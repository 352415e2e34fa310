using System.Globalization;
using System.Net;

namespace L2tp.Configuration;

/// <summary>
/// A namespace's live objects as a configuration section (what Export writes, and the "actual" side of a plan).
/// </summary>
internal static class LiveState
{
    public static L2tpNamespaceConfiguration Build(string netns, IEnumerable<L2tpTunnel> tunnels, IEnumerable<L2tpSession> sessions,
        Func<string, L2tpInterface?> iface, IEnumerable<L2tpBridge> bridges)
    {
        // Loops and List.Sort, not ToLookup/OrderBy over uint keys: those are runtime code JIT-compiled in every process.
        var byTunnel = new Dictionary<uint, List<L2tpSession>>();
        foreach (var s in sessions)
        {
            if (!byTunnel.TryGetValue(s.TunnelId, out var list))
                byTunnel[s.TunnelId] = list = new List<L2tpSession>();
            list.Add(s);
        }
        var tunnelList = new List<L2tpTunnel>(tunnels);
        tunnelList.Sort(static (x, y) => x.TunnelId.CompareTo(y.TunnelId));
        var ns = new L2tpNamespaceConfiguration
        {
            Name = netns,
            Backend = tunnelList.Count > 0 ? tunnelList[0].Backend : null,
            Bridges = bridges.OrderBy(b => b.Name, StringComparer.Ordinal)
                .Select(b => new L2tpBridgeConfiguration { Name = b.Name, Up = b.Up, Ports = b.Ports.ToList() }).ToList(),
        };
        foreach (var t in tunnelList)
        {
            var tc = new L2tpTunnelConfiguration
            {
                TunnelId = t.TunnelId,
                PeerTunnelId = t.PeerTunnelId,
                Encapsulation = t.Encapsulation,
                Local = t.Local is null || t.Local.Equals(IPAddress.Any) || t.Local.Equals(IPAddress.IPv6Any) ? "any" : t.Local.ToString(),
                Remote = t.Remote?.ToString() ?? "",
                SourcePort = t.SourcePort,
                DestinationPort = t.DestinationPort,
                UdpChecksum = t.UdpChecksum,
                Udp6ChecksumTx = t.Udp6ChecksumTx,
                Udp6ChecksumRx = t.Udp6ChecksumRx,
            };
            // A tunnel's live sessions have distinct ids, so an unstable sort orders them as OrderBy did.
            var ordered = byTunnel.TryGetValue(t.TunnelId, out var found) ? found : new List<L2tpSession>();
            ordered.Sort(static (x, y) => x.SessionId.CompareTo(y.SessionId));
            foreach (var s in ordered)
            {
                var sc = new L2tpSessionConfiguration
                {
                    SessionId = s.SessionId,
                    PeerSessionId = s.PeerSessionId,
                    InterfaceName = s.InterfaceName,
                    Cookie = s.Cookie,
                    PeerCookie = s.PeerCookie,
                    L2SpecType = s.L2SpecType ?? L2SpecType.Default,
                    L2SpecTypeUnknown = s.L2SpecType is null,
                    Sequencing = s.Sequencing,
                    ReorderTimeout = s.ReorderTimeout > TimeSpan.Zero ? (uint)Math.Min(uint.MaxValue, Math.Ceiling(s.ReorderTimeout.TotalMilliseconds)) : null,
                    SuggestedMtu = s.SuggestedMtu > 0 ? s.SuggestedMtu : null,
                };
                if (!string.IsNullOrEmpty(s.InterfaceName) && iface(s.InterfaceName) is { } i)
                {
                    sc.ActualMtu = i.Mtu;
                    sc.Master = i.Master;
                    sc.Interface = new L2tpInterfaceConfiguration
                    {
                        Up = i.Up,
                        Mtu = sc.SuggestedMtu == i.Mtu ? "Auto" : i.Mtu.ToString(CultureInfo.InvariantCulture),
                        MacAddress = i.MacAddress,
                        Addresses = i.Addresses.Where(a => !ConfigValues.IsKernelOwn(a)).Select(ConfigValues.FromReported).ToList(),
                    };
                }
                tc.Sessions.Add(sc);
            }
            ns.Tunnels.Add(tc);
        }
        return ns;
    }
}

/// <summary>A field that differs: the file's key, the file's value, the system's value.</summary>
internal readonly record struct FieldDiff(string Field, string Expected, string Actual)
{
    public override string ToString() => $"{Field} {Show(Actual)} -> {Show(Expected)}";
    private static string Show(string v) => v.Length == 0 ? "(none)" : v;
}

/// <summary>
/// Desired (file) against actual (system): the field differences Compare reports, and the ordered steps Sync
/// applies. Removals (-Prune) come first, in reverse dependency order (port, bridge, session, tunnel), so a name
/// or id they free is free for what follows; then tunnels, sessions, interfaces, bridges, ports.
/// </summary>
internal static class Planner
{
    /// <summary>
    /// Items by their id, the last of an id winning: a loop, not LINQ's ToDictionary or ToHashSet over a uint key,
    /// which are runtime code (outside the precompiled module) JIT-compiled in every process.
    /// </summary>
    private static Dictionary<uint, T> ById<T>(IEnumerable<T> items, Func<T, uint> id) where T : class
    {
        var byId = new Dictionary<uint, T>();
        foreach (var item in items)
            byId[id(item)] = item;
        return byId;
    }

    /// <summary>
    /// False until Set-L2tpSession changes sequencing in place: a sequencing change is a Replace. When true, a
    /// session whose only difference is sequencing gets an Update step.
    /// </summary>
    internal static bool SequencingInPlace { get; set; } = true;

    public static string TunnelTarget(uint id) => $"tunnel {id}";
    public static string SessionTarget(uint tunnelId, uint sessionId) => $"session {sessionId} in tunnel {tunnelId}";
    public static string InterfaceTarget(string name) => $"interface {name}";
    public static string BridgeTarget(string name) => $"bridge {name}";
    public static string PortTarget(string bridge, string port) => $"port {port} of bridge {bridge}";

    private static string Addr(string text) =>
        ConfigValues.Address(text, allowAny: true) is { } a && !(a.Equals(IPAddress.Any) || a.Equals(IPAddress.IPv6Any)) ? a.ToString() : "any";

    private static string B(bool v) => v ? "true" : "false";

    public static List<FieldDiff> TunnelDiffs(L2tpTunnelConfiguration d, L2tpTunnelConfiguration a)
    {
        var diffs = new List<FieldDiff>();
        void F(string field, string e, string x) { if (e != x) diffs.Add(new FieldDiff(field, e, x)); }
        F("peerTunnelId", d.PeerTunnelId.ToString(CultureInfo.InvariantCulture), a.PeerTunnelId.ToString(CultureInfo.InvariantCulture));
        F("encapsulation", d.Encapsulation.ToString(), a.Encapsulation.ToString());
        F("local", Addr(d.Local), Addr(a.Local));
        F("remote", Addr(d.Remote), Addr(a.Remote));
        if (d.Encapsulation == Encapsulation.Udp && a.Encapsulation == Encapsulation.Udp)
        {
            F("sourcePort", d.SourcePort.ToString(CultureInfo.InvariantCulture), a.SourcePort.ToString(CultureInfo.InvariantCulture));
            F("destinationPort", d.DestinationPort.ToString(CultureInfo.InvariantCulture), a.DestinationPort.ToString(CultureInfo.InvariantCulture));
            bool v6 = ConfigValues.Address(d.Remote, false)?.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6;
            if (v6)
            {
                F("udp6ChecksumTx", B(d.Udp6ChecksumTx), B(a.Udp6ChecksumTx));
                F("udp6ChecksumRx", B(d.Udp6ChecksumRx), B(a.Udp6ChecksumRx));
            }
            else
            {
                // Absent from the file: whatever the backend's default made is right.
                if (d.UdpChecksum is { } csum)
                    F("udpChecksum", B(csum), B(a.UdpChecksum ?? false));
            }
        }
        return diffs;
    }

    public static List<FieldDiff> SessionDiffs(L2tpSessionConfiguration d, L2tpSessionConfiguration a)
    {
        var diffs = new List<FieldDiff>();
        void F(string field, string e, string x) { if (e != x) diffs.Add(new FieldDiff(field, e, x)); }
        F("peerSessionId", d.PeerSessionId.ToString(CultureInfo.InvariantCulture), a.PeerSessionId.ToString(CultureInfo.InvariantCulture));
        if (!string.IsNullOrEmpty(d.InterfaceName))
            F("interfaceName", d.InterfaceName, a.InterfaceName ?? "");
        F("cookie", d.Cookie.ToLowerInvariant().Replace("0x", ""), a.Cookie.ToLowerInvariant());
        F("peerCookie", d.PeerCookie.ToLowerInvariant().Replace("0x", ""), a.PeerCookie.ToLowerInvariant());
        if (!a.L2SpecTypeUnknown)
            F("l2SpecType", d.L2SpecType.ToString(), a.L2SpecType.ToString());
        F("sequencing", d.Sequencing.ToString(), a.Sequencing.ToString());
        F("reorderTimeout", (d.ReorderTimeout ?? 0).ToString(CultureInfo.InvariantCulture), (a.ReorderTimeout ?? 0).ToString(CultureInfo.InvariantCulture));
        return diffs;
    }

    /// <summary>The interface fields that differ; <paramref name="a"/> null for a fresh interface (down, MTU Auto, no addresses).</summary>
    public static List<FieldDiff> InterfaceDiffs(L2tpInterfaceConfiguration d, L2tpSessionConfiguration? a, bool fresh)
    {
        var diffs = new List<FieldDiff>();
        var ai = a?.Interface;
        if (d.Up is { } up && (fresh ? up : ai is null || ai.Up != up))
            diffs.Add(new FieldDiff("up", B(up), fresh ? "false" : ai?.Up is { } u ? B(u) : ""));
        if (d.Mtu is { } mtu)
        {
            bool auto = mtu.Equals("Auto", StringComparison.OrdinalIgnoreCase);
            if (fresh)
            {
                // A new interface gets the MTU that fits (as l2tp_eth does): only a number needs a step.
                if (!auto)
                    diffs.Add(new FieldDiff("mtu", mtu, "Auto"));
            }
            else if (a?.ActualMtu is { } actual)
            {
                if (auto && a.SuggestedMtu is { } suggested && suggested != actual)
                    diffs.Add(new FieldDiff("mtu", $"Auto ({suggested})", actual.ToString(CultureInfo.InvariantCulture)));
                else if (!auto && int.Parse(mtu, CultureInfo.InvariantCulture) != actual)
                    diffs.Add(new FieldDiff("mtu", mtu, actual.ToString(CultureInfo.InvariantCulture)));
            }
        }
        if (d.MacAddress is { } mac && (fresh || !string.Equals(ConfigValues.Mac(mac), ai?.MacAddress, StringComparison.OrdinalIgnoreCase)))
            diffs.Add(new FieldDiff("macAddress", ConfigValues.Mac(mac) ?? mac, fresh ? "" : ai?.MacAddress ?? ""));
        return diffs;
    }

    /// <summary>Addresses the file names that the interface lacks, and those it has that the file does not name.</summary>
    public static (List<L2tpAddressConfiguration> Missing, List<L2tpAddressConfiguration> Extra) AddressDiffs(
        L2tpInterfaceConfiguration d, L2tpInterfaceConfiguration? a)
    {
        if (d.Addresses is null)
            return (new(), new());
        var have = (a?.Addresses ?? new()).ToDictionary(x => ConfigValues.AddressKey(x) ?? x.ToString(), x => x);
        var want = d.Addresses.ToDictionary(x => ConfigValues.AddressKey(x)!, x => x);
        return (want.Where(w => !have.ContainsKey(w.Key)).Select(w => w.Value).ToList(),
            have.Where(h => !want.ContainsKey(h.Key)).Select(h => h.Value).ToList());
    }

    /// <summary>Compare-L2tpConfiguration: every difference of one namespace, field by field.</summary>
    public static List<L2tpConfigurationDrift> Compare(L2tpNamespaceConfiguration d, L2tpNamespaceConfiguration a)
    {
        var drift = new List<L2tpConfigurationDrift>();
        void Add(L2tpConfigurationObject kind, string target, string field, string expected, string actual) =>
            drift.Add(new L2tpConfigurationDrift { NetworkNamespace = d.Name, Kind = kind, Target = target, Field = field, Expected = expected, Actual = actual });
        void Diffs(L2tpConfigurationObject kind, string target, IEnumerable<FieldDiff> diffs)
        {
            foreach (var f in diffs)
                Add(kind, target, f.Field, f.Expected, f.Actual);
        }

        var actualTunnels = ById(a.Tunnels, t => t.TunnelId);
        foreach (var t in d.Tunnels)
        {
            string tt = TunnelTarget(t.TunnelId);
            if (!actualTunnels.TryGetValue(t.TunnelId, out var at))
            {
                Add(L2tpConfigurationObject.Tunnel, tt, "exists", "present", "missing");
                continue;
            }
            Diffs(L2tpConfigurationObject.Tunnel, tt, TunnelDiffs(t, at));
            var actualSessions = ById(at.Sessions, s => s.SessionId);
            foreach (var s in t.Sessions)
            {
                string st = SessionTarget(t.TunnelId, s.SessionId);
                if (!actualSessions.TryGetValue(s.SessionId, out var asn))
                {
                    Add(L2tpConfigurationObject.Session, st, "exists", "present", "missing");
                    continue;
                }
                Diffs(L2tpConfigurationObject.Session, st, SessionDiffs(s, asn));
                if (s.Interface is { } i)
                {
                    string it = InterfaceTarget(s.InterfaceName!);
                    Diffs(L2tpConfigurationObject.Interface, it, InterfaceDiffs(i, asn, fresh: false));
                    var (missing, extra) = AddressDiffs(i, asn.Interface);
                    foreach (var m in missing)
                        Add(L2tpConfigurationObject.Interface, it, "addresses", m.ToString(), "missing");
                    foreach (var x in extra)
                        Add(L2tpConfigurationObject.Interface, it, "addresses", "absent", x.ToString());
                }
            }
            var wantedSessions = ById(t.Sessions, s => s.SessionId);
            foreach (var extra in at.Sessions.Where(x => !wantedSessions.ContainsKey(x.SessionId)))
                Add(L2tpConfigurationObject.Session, SessionTarget(t.TunnelId, extra.SessionId), "exists", "absent", "present");
        }
        var wantedTunnels = ById(d.Tunnels, t => t.TunnelId);
        foreach (var extra in a.Tunnels.Where(x => !wantedTunnels.ContainsKey(x.TunnelId)))
            Add(L2tpConfigurationObject.Tunnel, TunnelTarget(extra.TunnelId), "exists", "absent", "present");

        if (d.Bridges is not null)
        {
            var actualBridges = (a.Bridges ?? new()).ToDictionary(b => b.Name);
            foreach (var b in d.Bridges)
            {
                string bt = BridgeTarget(b.Name);
                if (!actualBridges.TryGetValue(b.Name, out var ab))
                {
                    Add(L2tpConfigurationObject.Bridge, bt, "exists", "present", "missing");
                    continue;
                }
                if (b.Up != ab.Up)
                    Add(L2tpConfigurationObject.Bridge, bt, "up", B(b.Up), B(ab.Up));
                var havePorts = ab.Ports.ToHashSet(StringComparer.Ordinal);
                var wantPorts = b.Ports.ToHashSet(StringComparer.Ordinal);
                foreach (var p in b.Ports.Where(p => !havePorts.Contains(p)))
                    Add(L2tpConfigurationObject.BridgePort, PortTarget(b.Name, p), "exists", "present", "missing");
                foreach (var p in ab.Ports.Where(p => !wantPorts.Contains(p)))
                    Add(L2tpConfigurationObject.BridgePort, PortTarget(b.Name, p), "exists", "absent", "present");
            }
            var wantedBridges = d.Bridges.Select(b => b.Name).ToHashSet(StringComparer.Ordinal);
            foreach (var extra in actualBridges.Keys.Where(n => !wantedBridges.Contains(n)).Order(StringComparer.Ordinal))
                Add(L2tpConfigurationObject.Bridge, BridgeTarget(extra), "exists", "absent", "present");
        }
        return drift;
    }

    /// <summary>Sync-L2tpConfiguration's steps for one namespace, in the order they must be applied.</summary>
    public static List<L2tpConfigurationStep> Plan(L2tpNamespaceConfiguration d, L2tpNamespaceConfiguration a, bool prune)
    {
        var removePorts = new List<L2tpConfigurationStep>();
        var removeBridges = new List<L2tpConfigurationStep>();
        var removeSessions = new List<L2tpConfigurationStep>();
        var removeTunnels = new List<L2tpConfigurationStep>();
        var tunnels = new List<L2tpConfigurationStep>();
        var sessions = new List<L2tpConfigurationStep>();
        var interfaces = new List<L2tpConfigurationStep>();
        var bridges = new List<L2tpConfigurationStep>();
        var ports = new List<L2tpConfigurationStep>();
        string ns = d.Name;
        static string TKey(uint t) => $"tunnel:{t}";
        static string SKey(uint t, uint s) => $"session:{t}:{s}";
        static string IKey(string n) => $"interface:{n}";
        static string BKey(string n) => $"bridge:{n}";

        // Interfaces that are new after this plan (their ports are gone, their state is the backend's default).
        var freshInterfaces = new HashSet<string>(StringComparer.Ordinal);
        var actualTunnels = ById(a.Tunnels, t => t.TunnelId);

        foreach (var t in d.Tunnels)
        {
            actualTunnels.TryGetValue(t.TunnelId, out var at);
            bool fresh = at is null;
            if (at is null)
            {
                tunnels.Add(new L2tpConfigurationStep
                {
                    Action = L2tpConfigurationAction.Create, Kind = L2tpConfigurationObject.Tunnel, NetworkNamespace = ns,
                    Target = TunnelTarget(t.TunnelId), Tunnel = t, TunnelId = t.TunnelId, Key = TKey(t.TunnelId),
                    Detail = $"{t.Encapsulation.ToString().ToUpperInvariant()} {Addr(t.Local)} -> {Addr(t.Remote)}"
                        + (t.Encapsulation == Encapsulation.Udp ? $", ports {t.SourcePort} -> {t.DestinationPort}" : "")
                        + $", peer tunnel {t.PeerTunnelId}",
                });
            }
            else if (TunnelDiffs(t, at) is { Count: > 0 } diffs)
            {
                fresh = true;
                string lost = at.Sessions.Count > 0 ? $"; its {at.Sessions.Count} session(s) go with it" : "";
                tunnels.Add(new L2tpConfigurationStep
                {
                    Action = L2tpConfigurationAction.Replace, Kind = L2tpConfigurationObject.Tunnel, NetworkNamespace = ns,
                    Target = TunnelTarget(t.TunnelId), Tunnel = t, TunnelId = t.TunnelId, Key = TKey(t.TunnelId),
                    Detail = $"{string.Join(", ", diffs)} (a tunnel's ids, encapsulation, addresses and ports cannot change in place: removed and created again{lost})",
                });
                foreach (var s in at.Sessions.Where(s => !string.IsNullOrEmpty(s.InterfaceName)))
                    freshInterfaces.Add(s.InterfaceName!);
            }

            var actualSessions = fresh ? new Dictionary<uint, L2tpSessionConfiguration>() : ById(at!.Sessions, s => s.SessionId);
            foreach (var s in t.Sessions)
            {
                actualSessions.TryGetValue(s.SessionId, out var asn);
                bool sessionFresh = asn is null;
                string st = SessionTarget(t.TunnelId, s.SessionId);
                var deps = new[] { TKey(t.TunnelId) };
                if (asn is null)
                {
                    sessions.Add(new L2tpConfigurationStep
                    {
                        Action = L2tpConfigurationAction.Create, Kind = L2tpConfigurationObject.Session, NetworkNamespace = ns,
                        Target = st, Session = s, TunnelId = t.TunnelId, SessionId = s.SessionId,
                        Key = SKey(t.TunnelId, s.SessionId), DependsOn = deps,
                        Detail = $"peer session {s.PeerSessionId}" + (s.InterfaceName is { Length: > 0 } n ? $", interface {n}" : "")
                            + (s.Cookie.Length > 0 ? $", cookie {s.Cookie}" : "") + (s.PeerCookie.Length > 0 ? $", peer cookie {s.PeerCookie}" : "")
                            + $", l2spec {s.L2SpecType}, seq {s.Sequencing}",
                    });
                }
                else if (SessionDiffs(s, asn) is { Count: > 0 } diffs)
                {
                    // Set-L2tpSession's SESSION_MODIFY changes these two on a live session, on both backends.
                    bool inPlace = SequencingInPlace && diffs.All(f => f.Field is "sequencing" or "reorderTimeout");
                    sessionFresh = !inPlace;
                    sessions.Add(new L2tpConfigurationStep
                    {
                        Action = inPlace ? L2tpConfigurationAction.Update : L2tpConfigurationAction.Replace,
                        Kind = L2tpConfigurationObject.Session, NetworkNamespace = ns,
                        Target = st, Session = s, TunnelId = t.TunnelId, SessionId = s.SessionId,
                        Key = SKey(t.TunnelId, s.SessionId), DependsOn = deps,
                        Detail = string.Join(", ", diffs) + (inPlace ? ""
                            : " (a session's ids, cookies, sublayer and interface name cannot change in place: removed and created again)"),
                    });
                    if (!inPlace && !string.IsNullOrEmpty(asn.InterfaceName))
                        freshInterfaces.Add(asn.InterfaceName);
                }
                if (sessionFresh && !string.IsNullOrEmpty(s.InterfaceName))
                    freshInterfaces.Add(s.InterfaceName);

                if (s.Interface is not { } want || string.IsNullOrEmpty(s.InterfaceName))
                    continue;
                var ifDiffs = InterfaceDiffs(want, sessionFresh ? null : asn, sessionFresh);
                var (missing, extra) = AddressDiffs(want, sessionFresh ? null : asn!.Interface);
                if (!prune)
                    extra.Clear();
                if (ifDiffs.Count == 0 && missing.Count == 0 && extra.Count == 0)
                    continue;
                var words = ifDiffs.Select(f => f.ToString())
                    .Concat(missing.Select(m => $"add address {m}")).Concat(extra.Select(x => $"remove address {x}"));
                interfaces.Add(new L2tpConfigurationStep
                {
                    Action = L2tpConfigurationAction.Update, Kind = L2tpConfigurationObject.Interface, NetworkNamespace = ns,
                    Target = InterfaceTarget(s.InterfaceName), Session = s, TunnelId = t.TunnelId, SessionId = s.SessionId,
                    Name = s.InterfaceName, Key = IKey(s.InterfaceName), DependsOn = new[] { SKey(t.TunnelId, s.SessionId) },
                    Up = ifDiffs.Any(f => f.Field == "up") ? want.Up : null,
                    Mtu = ifDiffs.Any(f => f.Field == "mtu") ? want.Mtu : null,
                    MacAddress = ifDiffs.Any(f => f.Field == "macAddress") ? ConfigValues.Mac(want.MacAddress!) : null,
                    AddAddresses = missing, RemoveAddresses = extra,
                    Detail = string.Join(", ", words),
                });
            }

            if (prune && !fresh)
            {
                var wanted = ById(t.Sessions, s => s.SessionId);
                foreach (var extra in at!.Sessions.Where(x => !wanted.ContainsKey(x.SessionId)))
                    removeSessions.Add(new L2tpConfigurationStep
                    {
                        Action = L2tpConfigurationAction.Remove, Kind = L2tpConfigurationObject.Session, NetworkNamespace = ns,
                        Target = SessionTarget(t.TunnelId, extra.SessionId), TunnelId = t.TunnelId, SessionId = extra.SessionId,
                        Key = SKey(t.TunnelId, extra.SessionId), Detail = $"not in the file (interface {extra.InterfaceName})",
                    });
            }
        }
        if (prune)
        {
            var wantedTunnels = ById(d.Tunnels, t => t.TunnelId);
            foreach (var extra in a.Tunnels.Where(x => !wantedTunnels.ContainsKey(x.TunnelId)))
                removeTunnels.Add(new L2tpConfigurationStep
                {
                    Action = L2tpConfigurationAction.Remove, Kind = L2tpConfigurationObject.Tunnel, NetworkNamespace = ns,
                    Target = TunnelTarget(extra.TunnelId), TunnelId = extra.TunnelId, Key = TKey(extra.TunnelId),
                    Detail = "not in the file" + (extra.Sessions.Count > 0 ? $", with its {extra.Sessions.Count} session(s)" : ""),
                });
        }

        if (d.Bridges is not null)
        {
            var actualBridges = (a.Bridges ?? new()).ToDictionary(b => b.Name);
            foreach (var b in d.Bridges)
            {
                actualBridges.TryGetValue(b.Name, out var ab);
                if (ab is null)
                    bridges.Add(new L2tpConfigurationStep
                    {
                        Action = L2tpConfigurationAction.Create, Kind = L2tpConfigurationObject.Bridge, NetworkNamespace = ns,
                        Target = BridgeTarget(b.Name), Name = b.Name, Up = b.Up, Key = BKey(b.Name), Detail = b.Up ? "up" : "down",
                    });
                else if (ab.Up != b.Up)
                    bridges.Add(new L2tpConfigurationStep
                    {
                        Action = L2tpConfigurationAction.Update, Kind = L2tpConfigurationObject.Bridge, NetworkNamespace = ns,
                        Target = BridgeTarget(b.Name), Name = b.Name, Up = b.Up, Key = BKey(b.Name),
                        Detail = new FieldDiff("up", B(b.Up), B(ab.Up)).ToString(),
                    });
                var have = ab?.Ports ?? new();
                var haveSet = have.ToHashSet(StringComparer.Ordinal);
                foreach (var p in b.Ports.Where(p => freshInterfaces.Contains(p) || !haveSet.Contains(p)))
                    ports.Add(new L2tpConfigurationStep
                    {
                        Action = L2tpConfigurationAction.Create, Kind = L2tpConfigurationObject.BridgePort, NetworkNamespace = ns,
                        Target = PortTarget(b.Name, p), Name = p, Bridge = b.Name, Key = $"port:{p}",
                        DependsOn = new[] { BKey(b.Name), IKey(p) }, Detail = $"add {p} to {b.Name}",
                    });
                if (prune && ab is not null)
                {
                    var wantSet = b.Ports.ToHashSet(StringComparer.Ordinal);
                    foreach (var p in have.Where(p => !wantSet.Contains(p)))
                        removePorts.Add(new L2tpConfigurationStep
                        {
                            Action = L2tpConfigurationAction.Remove, Kind = L2tpConfigurationObject.BridgePort, NetworkNamespace = ns,
                            Target = PortTarget(b.Name, p), Name = p, Bridge = b.Name, Key = $"port:{p}", Detail = $"take {p} out of {b.Name}",
                        });
                }
            }
            if (prune)
            {
                var wantedBridges = d.Bridges.Select(b => b.Name).ToHashSet(StringComparer.Ordinal);
                foreach (var extra in actualBridges.Values.Where(x => !wantedBridges.Contains(x.Name)).OrderBy(x => x.Name, StringComparer.Ordinal))
                    removeBridges.Add(new L2tpConfigurationStep
                    {
                        Action = L2tpConfigurationAction.Remove, Kind = L2tpConfigurationObject.Bridge, NetworkNamespace = ns,
                        Target = BridgeTarget(extra.Name), Name = extra.Name, Key = BKey(extra.Name),
                        Detail = "not in the file" + (extra.Ports.Count > 0 ? $" (its ports {string.Join(", ", extra.Ports)} stay, unbridged)" : ""),
                    });
            }
        }

        return removePorts.Concat(removeBridges).Concat(removeSessions).Concat(removeTunnels)
            .Concat(tunnels).Concat(sessions).Concat(interfaces).Concat(bridges).Concat(ports).ToList();
    }
}
