using System.Globalization;
using System.Net;
using L2tp.Netlink;

namespace L2tp.Services;

/// <summary>What Set-L2tpInterface asks of one interface; null fields stay as they are.</summary>
internal sealed record InterfaceChange(bool Up, bool Down, string? Mtu, string? Address, string? PeerAddress, string? MacAddress);

/// <summary>
/// Interfaces and bridges of one network namespace over rtnetlink (the helpers after `ip l2tp add session`): every
/// request those cmdlets make, their checks, and the words for each refusal (<see cref="Refusals"/>).
/// </summary>
internal sealed class InterfaceService
{
    private readonly RtNetlink _rt;
    private readonly string _netns;

    public InterfaceService(RtNetlink rt, string netns)
    {
        _rt = rt;
        _netns = netns;
    }

    public LinkInfo Require(string name) =>
        _rt.Link(name) ?? throw new L2tpException("L2tp.InterfaceNotFound", L2tpErrorKind.ObjectNotFound, name,
            $"There is no interface '{name}'{Refusals.InNs(_netns)}.");

    public LinkInfo RequireBridge(string name)
    {
        var l = Require(name);
        if (l.Kind != "bridge")
            throw new L2tpException("L2tp.NotABridge", L2tpErrorKind.InvalidArgument, name,
                $"'{name}' is not a bridge (it is a {(l.Kind.Length > 0 ? l.Kind : "plain")} interface). Make one with New-L2tpBridge.");
        return l;
    }

    public L2tpInterface Interface(string name) => Interface(Require(name));

    // One interface: lookups by name and index, so its cost does not grow with the namespace's links.
    private L2tpInterface Interface(LinkInfo l) =>
        Describe(l, _rt.Addresses(l.Index), l.Master == 0 ? "" : _rt.Link(l.Master)?.Name ?? "");

    /// <summary>
    /// Every interface of the namespace by name, from one link dump and one address dump: what a whole-namespace read
    /// (Export, Compare, Sync) uses, where asking per interface would cost a dump each and grow with the square of them.
    /// </summary>
    public Dictionary<string, L2tpInterface> AllInterfaces()
    {
        // Loops, not ToDictionary/ToLookup over an int key: those are runtime code JIT-compiled in every process.
        var links = _rt.Links();
        var names = new Dictionary<int, string>(links.Count);
        foreach (var l in links)
            names.Add(l.Index, l.Name);
        var addresses = new Dictionary<int, List<AddressInfo>>();
        foreach (var a in _rt.Addresses(null))
        {
            if (!addresses.TryGetValue(a.Index, out var list))
                addresses[a.Index] = list = new List<AddressInfo>();
            list.Add(a);
        }
        var none = new List<AddressInfo>();
        var all = new Dictionary<string, L2tpInterface>(links.Count, StringComparer.Ordinal);
        foreach (var l in links)
            all.Add(l.Name, Describe(l, addresses.TryGetValue(l.Index, out var mine) ? mine : none,
                l.Master == 0 ? "" : names.TryGetValue(l.Master, out var master) ? master : ""));
        return all;
    }

    private L2tpInterface Describe(LinkInfo l, IEnumerable<AddressInfo> addresses, string master) => new()
    {
        InterfaceName = l.Name,
        Index = l.Index,
        Up = l.Up,
        Mtu = l.Mtu,
        MacAddress = MacText(l.MacAddress),
        Addresses = addresses.Select(a => a.Peer is null
            ? $"{a.Local}/{a.PrefixLength}" : $"{a.Local} peer {a.Peer}/{a.PrefixLength}").ToArray(),
        Master = master,
        NetworkNamespace = _netns,
    };

    /// <summary>aa:bb:cc:dd:ee:ff (a loop: a Select over bytes is runtime code JIT-compiled in every process).</summary>
    private static string MacText(byte[] mac)
    {
        var text = new System.Text.StringBuilder(mac.Length * 3);
        for (int i = 0; i < mac.Length; i++)
        {
            if (i > 0)
                text.Append(':');
            text.Append(mac[i].ToString("x2", CultureInfo.InvariantCulture));
        }
        return text.ToString();
    }

    private L2tpBridge Bridge(List<LinkInfo> links, LinkInfo b) => new()
    {
        Name = b.Name,
        Index = b.Index,
        Up = b.Up,
        Mtu = b.Mtu,
        Ports = links.Where(l => l.Master == b.Index).Select(l => l.Name).Order(StringComparer.Ordinal).ToArray(),
        NetworkNamespace = _netns,
    };

    /// <summary>
    /// Checks <paramref name="change"/> against the interface and returns the action that applies it, so the cmdlet can
    /// ask ShouldProcess in between. <paramref name="suggestedMtu"/> answers -Mtu Auto (null: no session's interface).
    /// </summary>
    public Func<L2tpInterface> PlanSet(string name, InterfaceChange change, Func<string, int?> suggestedMtu)
    {
        if (change.Up && change.Down)
            throw new L2tpException("L2tp.ConflictingParameters", L2tpErrorKind.InvalidArgument, name, "Give -Up or -Down, not both.");
        if (change.PeerAddress is not null && change.Address is null)
            throw new L2tpException("L2tp.PeerWithoutAddress", L2tpErrorKind.InvalidArgument, change.PeerAddress, "-PeerAddress needs -Address, the local end.");
        var link = Require(name);
        int? mtu = change.Mtu is null ? null : ResolveMtu(name, change.Mtu, suggestedMtu);
        byte[]? mac = change.MacAddress is null ? null : ParseMac(change.MacAddress);
        (IPAddress Address, int Prefix)? local = change.Address is null ? null : ParseCidr(change.Address, nameof(change.Address));
        IPAddress? peer = change.PeerAddress is null ? null : ParseCidr(change.PeerAddress, nameof(change.PeerAddress)).Address;
        if (local is { } l && peer is not null && l.Address.AddressFamily != peer.AddressFamily)
            throw new L2tpException("L2tp.AddressFamilyMismatch", L2tpErrorKind.InvalidArgument, change.PeerAddress,
                $"-Address {change.Address} and -PeerAddress {change.PeerAddress} are of different address families.");
        return () =>
        {
            // The address goes first and is taken back if the link change is refused: all of it or none of it.
            int prefix = 0;
            if (local is { } a)
            {
                prefix = peer is null ? a.Prefix : (peer.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? 128 : 32);
                Refusals.Guard(() => _rt.AddAddress(link.Index, a.Address, prefix, peer), e => Refusals.AddressAdd(e, change.Address!, name));
            }
            try
            {
                if (mtu is not null || mac is not null || change.Up || change.Down)
                    _rt.SetLink(link.Index, up: change.Up ? true : change.Down ? false : null, mtu: mtu, mac: mac);
            }
            catch (NetlinkException e)
            {
                if (local is { } added)
                    _rt.DeleteAddress(link.Index, added.Address, prefix, peer);
                throw Refusals.LinkSet(e, name, mtu, change.Mtu);
            }
            return Interface(_rt.Link(name) ?? link);
        };
    }

    private static int ResolveMtu(string name, string text, Func<string, int?> suggestedMtu)
    {
        if (int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int n))
        {
            if (n is < 68 or > 65535)
                throw new L2tpException("L2tp.InvalidMtu", L2tpErrorKind.InvalidArgument, text, $"-Mtu {text} is out of range (68 to 65535).");
            return n;
        }
        if (!text.Equals("Auto", StringComparison.OrdinalIgnoreCase))
            throw new L2tpException("L2tp.InvalidMtu", L2tpErrorKind.InvalidArgument, text, $"-Mtu '{text}' is not a number or Auto.");
        return suggestedMtu(name) ?? throw new L2tpException("L2tp.NotASessionInterface", L2tpErrorKind.InvalidArgument, name,
            $"-Mtu Auto needs an L2TP session interface, and '{name}' is none: give a number.");
    }

    private static byte[] ParseMac(string text)
    {
        string[] parts = text.Split(':', '-');
        if (parts.Length == 6 && parts.All(p => p.Length == 2 && p.All(Uri.IsHexDigit)))
        {
            var mac = parts.Select(p => Convert.ToByte(p, 16)).ToArray();
            if ((mac[0] & 1) == 0)
                return mac;
        }
        throw new L2tpException("L2tp.InvalidMacAddress", L2tpErrorKind.InvalidArgument, text,
            $"-MacAddress '{text}' is not a unicast MAC address like 02:00:5e:10:00:01.");
    }

    /// <summary>Parses 198.51.100.1, 198.51.100.1/24 or 2001:db8::1/64; the prefix defaults to a host prefix.</summary>
    public static (IPAddress Address, int Prefix) ParseCidr(string text, string parameter)
    {
        string[] parts = text.Split('/', 2);
        if (IPAddress.TryParse(parts[0], out var a) && (parts[0].Contains(':') || parts[0].Count(c => c == '.') == 3))
        {
            int max = a.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? 128 : 32;
            if (parts.Length == 1)
                return (a, max);
            if (int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out int p) && p <= max)
                return (a, p);
        }
        throw new L2tpException("L2tp.InvalidAddress", L2tpErrorKind.InvalidArgument, text,
            $"-{parameter} '{text}' is not an address with an optional prefix (198.51.100.1, 198.51.100.1/24, 2001:db8::1/64).");
    }

    /// <summary>
    /// A configuration step's change of one interface: addresses to take away and to add (ADDRESS[/PREFIX], with the
    /// prefix on the peer for a point-to-point one), then up/down, MTU and MAC in one link request.
    /// </summary>
    public void ApplyState(string name, bool? up, int? mtu, string? mac,
        IEnumerable<(string Address, string? Peer)> add, IEnumerable<(string Address, string? Peer)> remove)
    {
        var link = Require(name);
        foreach (var (address, peer) in remove)
        {
            var (local, prefix, p) = AddressRequest(address, peer);
            Refusals.Guard(() => _rt.DeleteAddress(link.Index, local, prefix, p), e => Refusals.LinkChange(e, name));
        }
        foreach (var (address, peer) in add)
        {
            var (local, prefix, p) = AddressRequest(address, peer);
            Refusals.Guard(() => _rt.AddAddress(link.Index, local, prefix, p), e => Refusals.AddressAdd(e, peer is null ? address : $"{address} peer {peer}", name));
        }
        if (up is not null || mtu is not null || mac is not null)
            Refusals.Guard(() => _rt.SetLink(link.Index, up: up, mtu: mtu, mac: mac is null ? null : ParseMac(mac)),
                e => Refusals.LinkSet(e, name, mtu, mtu?.ToString(CultureInfo.InvariantCulture)));
    }

    private static (IPAddress Local, int Prefix, IPAddress? Peer) AddressRequest(string address, string? peer)
    {
        var local = ParseCidr(address, "Address");
        if (peer is null)
            return (local.Address, local.Prefix, null);
        var p = ParseCidr(peer, "PeerAddress");
        return (local.Address, p.Prefix, p.Address);
    }

    /// <summary>Brings a bridge (or any interface) up or down.</summary>
    public void SetUp(string name, bool up)
    {
        var link = Require(name);
        Refusals.Guard(() => _rt.SetLink(link.Index, up: up), e => Refusals.LinkChange(e, name));
    }

    public L2tpBridge NewBridge(string name, bool up)
    {
        Protocol.SessionSpec.CheckInterfaceName(name);
        Refusals.Guard(() => _rt.AddLink(name, "bridge"), e => Refusals.BridgeAdd(e, name));
        var link = Require(name);
        if (up)
            Refusals.Guard(() => _rt.SetLink(link.Index, up: true), e => Refusals.LinkChange(e, name));
        var bridge = _rt.Link(name)!;
        return Bridge(_rt.Links(master: bridge.Index), bridge);
    }

    /// <summary>
    /// All bridges (from one link dump), or the one named (L2tp.InterfaceNotFound / L2tp.NotABridge otherwise), whose
    /// ports come from a dump of its ports alone: one bridge's read does not grow with the namespace's links.
    /// </summary>
    public IEnumerable<L2tpBridge> GetBridges(string? name)
    {
        if (!string.IsNullOrEmpty(name))
        {
            var bridge = RequireBridge(name);
            return new[] { Bridge(_rt.Links(master: bridge.Index), bridge) };
        }
        var links = _rt.Links();
        return links.Where(l => l.Kind == "bridge")
            .OrderBy(l => l.Name, StringComparer.Ordinal).Select(b => Bridge(links, b)).ToList();
    }

    public void RemoveBridge(LinkInfo bridge) =>
        Refusals.Guard(() => _rt.DeleteLink(bridge.Index), e => Refusals.LinkChange(e, bridge.Name));

    /// <summary>Checks that <paramref name="port"/> may join <paramref name="bridge"/>; returns both links.</summary>
    public (LinkInfo Bridge, LinkInfo Port) PlanAddPort(string bridge, string port)
    {
        var b = RequireBridge(bridge);
        var p = Require(port);
        if (p.Index == b.Index)
            throw new L2tpException("L2tp.InvalidBridgePort", L2tpErrorKind.InvalidArgument, port, "A bridge cannot be its own port.");
        return (b, p);
    }

    public void SetMaster(LinkInfo port, LinkInfo? bridge) =>
        Refusals.Guard(() => _rt.SetLink(port.Index, master: bridge?.Index ?? 0), e => Refusals.LinkChange(e, port.Name));

    public LinkInfo RequirePort(string name)
    {
        var port = Require(name);
        if (port.Master == 0)
            throw new L2tpException("L2tp.NotABridgePort", L2tpErrorKind.InvalidOperation, name, $"'{name}' is not in a bridge.");
        return port;
    }
}
