using System.Globalization;
using System.Management.Automation;
using System.Net;
using L2tp.Netlink;

namespace L2tp.Commands;

/// <summary>Reads interfaces and bridges into the helper objects, and finds interfaces by name with clear errors.</summary>
internal static class LinkView
{
    public static LinkInfo Require(RtNetlink rt, string name, string netns) =>
        rt.Link(name) ?? throw new L2tpException("L2tp.InterfaceNotFound", L2tpErrorKind.ObjectNotFound, name,
            $"There is no interface '{name}'{(string.IsNullOrEmpty(netns) ? "" : $" in network namespace '{netns}'")}.");

    public static L2tpInterface Interface(RtNetlink rt, LinkInfo l, string netns)
    {
        var links = rt.Links();
        return new L2tpInterface
        {
            InterfaceName = l.Name,
            Index = l.Index,
            Up = l.Up,
            Mtu = l.Mtu,
            MacAddress = string.Join(":", l.MacAddress.Select(b => b.ToString("x2", CultureInfo.InvariantCulture))),
            Addresses = rt.Addresses(l.Index).Select(a => a.Peer is null
                ? $"{a.Local}/{a.PrefixLength}" : $"{a.Local} peer {a.Peer}/{a.PrefixLength}").ToArray(),
            Master = l.Master == 0 ? "" : links.FirstOrDefault(x => x.Index == l.Master)?.Name ?? "",
            NetworkNamespace = netns,
        };
    }

    public static L2tpBridge Bridge(List<LinkInfo> links, LinkInfo b, string netns) => new()
    {
        Name = b.Name,
        Index = b.Index,
        Up = b.Up,
        Mtu = b.Mtu,
        Ports = links.Where(l => l.Master == b.Index).Select(l => l.Name).Order(StringComparer.Ordinal).ToArray(),
        NetworkNamespace = netns,
    };

    public static LinkInfo RequireBridge(RtNetlink rt, string name, string netns)
    {
        var l = Require(rt, name, netns);
        if (l.Kind != "bridge")
            throw new L2tpException("L2tp.NotABridge", L2tpErrorKind.InvalidArgument, name,
                $"'{name}' is not a bridge (it is a {(l.Kind.Length > 0 ? l.Kind : "plain")} interface). Make one with New-L2tpBridge.");
        return l;
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
}

/// <summary>Transforms an L2tpBridge object into its name, so -Bridge takes (New-L2tpBridge br0) as well as 'br0'.</summary>
[AttributeUsage(AttributeTargets.Property)]
public sealed class BridgeNameTransformationAttribute : ArgumentTransformationAttribute
{
    /// <summary>Returns the bridge's name for an L2tpBridge, and the input otherwise.</summary>
    public override object Transform(EngineIntrinsics engineIntrinsics, object inputData)
    {
        object v = inputData is PSObject p ? p.BaseObject : inputData;
        return v is L2tpBridge b ? b.Name : inputData;
    }
}

/// <summary>Set-L2tpInterface: `ip link set ... up mtu N` and `ip addr add ... peer ...` for a session's (or any) interface.</summary>
[Cmdlet(VerbsCommon.Set, "L2tpInterface", SupportsShouldProcess = true)]
[OutputType(typeof(L2tpInterface))]
public sealed class SetL2tpInterfaceCommand : L2tpCmdlet
{
    /// <summary>The interface; binds from a piped L2tpSession or L2tpInterface.</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
    [Alias("dev", "Name")]
    [ArgumentCompleter(typeof(InterfaceNameCompleter))]
    public string InterfaceName { get; set; } = "";

    /// <inheritdoc/>
    protected override object? ErrorTarget => InterfaceName;

    /// <summary>Bring the interface up.</summary>
    [Parameter] public SwitchParameter Up { get; set; }

    /// <summary>Take the interface down.</summary>
    [Parameter] public SwitchParameter Down { get; set; }

    /// <summary>A number, or Auto: the MTU that fits the session's encapsulation over its underlay (SuggestedMtu).</summary>
    [Parameter]
    [ArgumentCompleter(typeof(MtuCompleter))]
    public string? Mtu { get; set; }

    /// <summary>Address to add, with optional prefix (198.51.100.1/24).</summary>
    [Parameter] public string? Address { get; set; }

    /// <summary>Peer address for the point-to-point form `ip addr add LOCAL peer PEER`.</summary>
    [Parameter] public string? PeerAddress { get; set; }

    /// <summary>MAC address to set (aa:bb:cc:dd:ee:ff).</summary>
    [Parameter] public string? MacAddress { get; set; }

    /// <inheritdoc/>
    protected override void ProcessL2tpRecord()
    {
        if (Up && Down)
            throw new L2tpException("L2tp.ConflictingParameters", L2tpErrorKind.InvalidArgument, InterfaceName, "Give -Up or -Down, not both.");
        if (PeerAddress is not null && Address is null)
            throw new L2tpException("L2tp.PeerWithoutAddress", L2tpErrorKind.InvalidArgument, PeerAddress, "-PeerAddress needs -Address, the local end.");
        var link = LinkView.Require(Rt, InterfaceName, NetworkNamespace);
        int? mtu = Mtu is null ? null : ResolveMtu(Mtu);
        byte[]? mac = MacAddress is null ? null : ParseMac(MacAddress);
        (IPAddress Address, int Prefix)? local = Address is null ? null : LinkView.ParseCidr(Address, nameof(Address));
        IPAddress? peer = PeerAddress is null ? null : LinkView.ParseCidr(PeerAddress, nameof(PeerAddress)).Address;
        if (local is { } l && peer is not null && l.Address.AddressFamily != peer.AddressFamily)
            throw new L2tpException("L2tp.AddressFamilyMismatch", L2tpErrorKind.InvalidArgument, PeerAddress,
                $"-Address {Address} and -PeerAddress {PeerAddress} are of different address families.");
        if (ShouldProcess(InterfaceName, "Set interface"))
        {
            // The address goes first and is taken back if the link change is refused: all of it or none of it.
            int prefix = 0;
            if (local is { } a)
            {
                prefix = peer is null ? a.Prefix : (peer.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? 128 : 32);
                try
                {
                    Rt.AddAddress(link.Index, a.Address, prefix, peer);
                }
                catch (NetlinkException e) when (e.Errno == Tmds.Linux.LibC.EEXIST)
                {
                    throw new L2tpException("L2tp.AddressExists", L2tpErrorKind.ResourceExists, Address, $"{Address} is already on {InterfaceName}.");
                }
            }
            try
            {
                if (mtu is not null || mac is not null || Up || Down)
                    Rt.SetLink(link.Index, up: Up ? true : Down ? false : null, mtu: mtu, mac: mac);
            }
            catch (NetlinkException e)
            {
                if (local is { } added)
                    Rt.DeleteAddress(link.Index, added.Address, prefix, peer);
                if (mtu is not null && e.ExtendedAck?.Contains("mtu", StringComparison.OrdinalIgnoreCase) == true)
                    throw new L2tpException("L2tp.InvalidMtu", L2tpErrorKind.InvalidArgument, Mtu,
                        $"{InterfaceName} does not take MTU {mtu}: {e.ExtendedAck}.", e) { Errno = e.Errno };
                throw;
            }
        }
        WriteObject(LinkView.Interface(Rt, Rt.Link(InterfaceName) ?? link, NetworkNamespace));
    }

    private int ResolveMtu(string text)
    {
        if (int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int n))
        {
            if (n is < 68 or > 65535)
                throw new L2tpException("L2tp.InvalidMtu", L2tpErrorKind.InvalidArgument, text, $"-Mtu {text} is out of range (68 to 65535).");
            return n;
        }
        if (!text.Equals("Auto", StringComparison.OrdinalIgnoreCase))
            throw new L2tpException("L2tp.InvalidMtu", L2tpErrorKind.InvalidArgument, text, $"-Mtu '{text}' is not a number or Auto.");
        var session = GetBackend(create: false)?.GetSessions().FirstOrDefault(s => s.InterfaceName == InterfaceName)
            ?? throw new L2tpException("L2tp.NotASessionInterface", L2tpErrorKind.InvalidArgument, InterfaceName,
                $"-Mtu Auto needs an L2TP session interface, and '{InterfaceName}' is none: give a number.");
        return session.SuggestedMtu;
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
}

/// <summary>New-L2tpBridge: `ip link add NAME type bridge` (and up).</summary>
[Cmdlet(VerbsCommon.New, "L2tpBridge", SupportsShouldProcess = true)]
[OutputType(typeof(L2tpBridge))]
public sealed class NewL2tpBridgeCommand : L2tpNetnsCmdlet
{
    /// <summary>Bridge name.</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
    public string Name { get; set; } = "";

    /// <summary>Bring the bridge up.</summary>
    [Parameter] public SwitchParameter Up { get; set; }

    /// <inheritdoc/>
    protected override object? ErrorTarget => Name;

    /// <inheritdoc/>
    protected override void ProcessL2tpRecord()
    {
        Protocol.SessionSpec.CheckInterfaceName(Name);
        if (!ShouldProcess(Name, "Create bridge"))
            return;
        try
        {
            Rt.AddLink(Name, "bridge");
        }
        catch (NetlinkException e) when (e.Errno == Tmds.Linux.LibC.EEXIST)
        {
            throw new L2tpException("L2tp.InterfaceExists", L2tpErrorKind.ResourceExists, Name, $"An interface named '{Name}' already exists.");
        }
        catch (NetlinkException e) when (e.Errno == Tmds.Linux.LibC.EOPNOTSUPP)
        {
            throw new L2tpException("L2tp.NotSupported", L2tpErrorKind.NotImplemented, Name, "This kernel has no bridge support.");
        }
        var link = LinkView.Require(Rt, Name, NetworkNamespace);
        if (Up)
            Rt.SetLink(link.Index, up: true);
        WriteObject(LinkView.Bridge(Rt.Links(), Rt.Link(Name)!, NetworkNamespace));
    }
}

/// <summary>Get-L2tpBridge: the bridges of the namespace with their ports.</summary>
[Cmdlet(VerbsCommon.Get, "L2tpBridge")]
[OutputType(typeof(L2tpBridge))]
public sealed class GetL2tpBridgeCommand : L2tpNetnsCmdlet
{
    /// <summary>Only this bridge; all when omitted.</summary>
    [Parameter(Position = 0, ValueFromPipelineByPropertyName = true)]
    [ArgumentCompleter(typeof(BridgeNameCompleter))]
    public string? Name { get; set; }

    /// <inheritdoc/>
    protected override object? ErrorTarget => Name;

    /// <inheritdoc/>
    protected override void ProcessL2tpRecord()
    {
        if (!string.IsNullOrEmpty(Name))
            LinkView.RequireBridge(Rt, Name, NetworkNamespace);
        var links = Rt.Links();
        foreach (var b in links.Where(l => l.Kind == "bridge" && (string.IsNullOrEmpty(Name) || l.Name == Name)).OrderBy(l => l.Name, StringComparer.Ordinal))
            WriteObject(LinkView.Bridge(links, b, NetworkNamespace));
    }
}

/// <summary>Remove-L2tpBridge: `ip link del NAME` for a bridge (its ports stay, unenslaved).</summary>
[Cmdlet(VerbsCommon.Remove, "L2tpBridge", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(void))]
public sealed class RemoveL2tpBridgeCommand : L2tpNetnsCmdlet
{
    /// <summary>The bridge; binds from a piped L2tpBridge.</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
    [ArgumentCompleter(typeof(BridgeNameCompleter))]
    public string Name { get; set; } = "";

    /// <inheritdoc/>
    protected override object? ErrorTarget => Name;

    /// <inheritdoc/>
    protected override void ProcessL2tpRecord()
    {
        var b = LinkView.RequireBridge(Rt, Name, NetworkNamespace);
        if (ShouldProcess(Name, "Remove bridge"))
            Rt.DeleteLink(b.Index);
    }
}

/// <summary>Add-L2tpBridgePort: `ip link set DEV master BRIDGE`, for a session interface from the pipeline or any interface by name.</summary>
[Cmdlet(VerbsCommon.Add, "L2tpBridgePort", SupportsShouldProcess = true)]
[OutputType(typeof(L2tpInterface))]
public sealed class AddL2tpBridgePortCommand : L2tpNetnsCmdlet
{
    /// <summary>The bridge, by name or as an L2tpBridge object.</summary>
    [Parameter(Mandatory = true, Position = 0)]
    [BridgeNameTransformation]
    [ArgumentCompleter(typeof(BridgeNameCompleter))]
    public string Bridge { get; set; } = "";

    /// <summary>The interface to enslave; binds from a piped L2tpSession or L2tpInterface.</summary>
    [Parameter(Mandatory = true, Position = 1, ValueFromPipelineByPropertyName = true)]
    [Alias("dev")]
    [ArgumentCompleter(typeof(InterfaceNameCompleter))]
    public string InterfaceName { get; set; } = "";

    /// <inheritdoc/>
    protected override object? ErrorTarget => InterfaceName;

    /// <summary>Write the port's L2tpInterface object.</summary>
    [Parameter] public SwitchParameter PassThru { get; set; }

    /// <inheritdoc/>
    protected override void ProcessL2tpRecord()
    {
        var bridge = LinkView.RequireBridge(Rt, Bridge, NetworkNamespace);
        var port = LinkView.Require(Rt, InterfaceName, NetworkNamespace);
        if (port.Index == bridge.Index)
            throw new L2tpException("L2tp.InvalidBridgePort", L2tpErrorKind.InvalidArgument, InterfaceName, "A bridge cannot be its own port.");
        if (!ShouldProcess(InterfaceName, $"Add to bridge {Bridge}"))
            return;
        Rt.SetLink(port.Index, master: bridge.Index);
        if (PassThru)
            WriteObject(LinkView.Interface(Rt, Rt.Link(InterfaceName)!, NetworkNamespace));
    }
}

/// <summary>Remove-L2tpBridgePort: `ip link set DEV nomaster`.</summary>
[Cmdlet(VerbsCommon.Remove, "L2tpBridgePort", SupportsShouldProcess = true)]
[OutputType(typeof(void))]
public sealed class RemoveL2tpBridgePortCommand : L2tpNetnsCmdlet
{
    /// <summary>The port to take out of its bridge.</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
    [Alias("dev")]
    [ArgumentCompleter(typeof(InterfaceNameCompleter))]
    public string InterfaceName { get; set; } = "";

    /// <inheritdoc/>
    protected override object? ErrorTarget => InterfaceName;

    /// <inheritdoc/>
    protected override void ProcessL2tpRecord()
    {
        var port = LinkView.Require(Rt, InterfaceName, NetworkNamespace);
        if (port.Master == 0)
            throw new L2tpException("L2tp.NotABridgePort", L2tpErrorKind.InvalidOperation, InterfaceName, $"'{InterfaceName}' is not in a bridge.");
        if (ShouldProcess(InterfaceName, "Remove from its bridge"))
            Rt.SetLink(port.Index, master: 0);
    }
}
