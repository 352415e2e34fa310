using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;

namespace L2tp.Netlink;

/// <summary>A network interface as RTM_GETLINK describes it.</summary>
internal sealed record LinkInfo(int Index, string Name, bool Up, int Mtu, byte[] MacAddress, int Master, string Kind, int OperState);

/// <summary>An interface address as RTM_GETADDR describes it (peer set for the point-to-point form).</summary>
internal sealed record AddressInfo(int Index, IPAddress Local, IPAddress? Peer, int PrefixLength);

/// <summary>
/// rtnetlink for what follows `ip l2tp add session`: links (up/down, MTU, MAC, master, bridges) and addresses, and
/// the route MTU toward a peer. Works on any interface of the namespace the socket was opened in.
/// </summary>
/// <remarks>
/// The socket asks for strict checking (NETLINK_GET_STRICT_CHK, Linux 4.20+), so the kernel filters a dump by the
/// fields of its request (one link's addresses, one bridge's ports) instead of sending the whole namespace: one
/// interface's read costs the same at 100 and at 10,000 interfaces. A strict kernel refuses a GET whose header or
/// attributes it does not accept, so every GET here keeps to what rtnl_valid_getlink_req, rtnl_valid_dump_ifinfo_req,
/// inet(6)_valid_dump_ifaddr_req and inet(6)_rtm_valid_getroute_req allow (zero header fields but the family, the
/// index of an address dump and the prefix length of a route lookup; IFLA_IFNAME, IFLA_MASTER, RTA_DST only). On an
/// older kernel the same requests are sent and the reply is filtered here, as before.
/// </remarks>
internal sealed class RtNetlink : IDisposable
{
    private const ushort RTM_NEWLINK = 16, RTM_DELLINK = 17, RTM_GETLINK = 18, RTM_NEWADDR = 20, RTM_DELADDR = 21,
        RTM_GETADDR = 22, RTM_GETROUTE = 26;
    private const ushort IFLA_ADDRESS = 1, IFLA_IFNAME = 3, IFLA_MTU = 4, IFLA_MASTER = 10, IFLA_OPERSTATE = 16,
        IFLA_LINKINFO = 18, IFLA_INFO_KIND = 1;
    private const ushort IFA_ADDRESS = 1, IFA_LOCAL = 2;
    private const ushort RTA_DST = 1, RTA_OIF = 4, RTA_METRICS = 8, RTAX_MTU = 2;
    private const uint IFF_UP = 1;
    private const int IfInfoLength = 16, IfAddrLength = 8, RtMsgLength = 12;

    private readonly NetlinkClient _client;

    /// <summary>Opens a route socket in the calling thread's namespace; <paramref name="strict"/> false keeps the kernel's lax checks (tests of the fallback).</summary>
    public RtNetlink(bool strict = true)
    {
        var socket = new NetlinkSocket(Nl.NETLINK_ROUTE);
        Strict = strict && socket.TrySetOption(Nl.NETLINK_GET_STRICT_CHK);
        _client = new NetlinkClient(socket);
    }

    /// <summary>The kernel checks and filters this socket's GET requests (Linux 4.20+); otherwise replies are filtered here.</summary>
    public bool Strict { get; }

    /// <summary>No reply is still on its way (<see cref="NetlinkClient.Settled"/>): the socket may serve another caller.</summary>
    public bool Settled => _client.Settled;

    private static void IfInfo(NetlinkWriter w, int index, uint flags = 0, uint change = 0)
    {
        Span<byte> h = stackalloc byte[IfInfoLength];
        h.Clear();
        BinaryPrimitives.WriteInt32LittleEndian(h[4..], index);
        BinaryPrimitives.WriteUInt32LittleEndian(h[8..], flags);
        BinaryPrimitives.WriteUInt32LittleEndian(h[12..], change);
        w.Raw(h);
    }

    private static LinkInfo ParseLink(NetlinkMessage m)
    {
        var p = m.Payload.Span;
        int index = BinaryPrimitives.ReadInt32LittleEndian(p[4..]);
        uint flags = BinaryPrimitives.ReadUInt32LittleEndian(p[8..]);
        var a = NetlinkAttributes.Parse(m.Payload[IfInfoLength..]);
        return new LinkInfo(index, a.String(IFLA_IFNAME) ?? "", (flags & IFF_UP) != 0, (int)(a.U32OrNull(IFLA_MTU) ?? 0),
            a.Bytes(IFLA_ADDRESS)?.ToArray() ?? Array.Empty<byte>(), (int)(a.U32OrNull(IFLA_MASTER) ?? 0),
            a.Nested(IFLA_LINKINFO).String(IFLA_INFO_KIND) ?? "", a.U8OrNull(IFLA_OPERSTATE) ?? 0);
    }

    /// <summary>Every link of the namespace, from one dump.</summary>
    public List<LinkInfo> Links() =>
        _client.Request(RTM_GETLINK, Nl.F_DUMP, w => IfInfo(w, 0)).Where(m => m.Type == RTM_NEWLINK).Select(ParseLink).ToList();

    /// <summary>
    /// The links whose master is <paramref name="master"/> (a bridge's ports): the kernel leaves the others out of the
    /// dump (IFLA_MASTER, which rtnl_dump_ifinfo honours strict or not), so the reply holds the ports alone; filtered here again for a
    /// kernel that ignored it.
    /// </summary>
    public List<LinkInfo> Links(int master) =>
        _client.Request(RTM_GETLINK, Nl.F_DUMP, w => { IfInfo(w, 0); w.U32(IFLA_MASTER, (uint)master); })
            .Where(m => m.Type == RTM_NEWLINK).Select(ParseLink).Where(l => l.Master == master).ToList();

    /// <summary>One link by name; null when there is none.</summary>
    public LinkInfo? Link(string name)
    {
        try
        {
            return _client.Request(RTM_GETLINK, 0, w => { IfInfo(w, 0); w.StringZ(IFLA_IFNAME, name); })
                .Where(m => m.Type == RTM_NEWLINK).Select(ParseLink).FirstOrDefault();
        }
        catch (NetlinkException e) when (e.Errno == Tmds.Linux.LibC.ENODEV)
        {
            return null;
        }
    }

    /// <summary>One link by index; null when there is none. A lookup, not a dump: its cost does not grow with the links.</summary>
    public LinkInfo? Link(int index)
    {
        try
        {
            return _client.Request(RTM_GETLINK, 0, w => IfInfo(w, index))
                .Where(m => m.Type == RTM_NEWLINK).Select(ParseLink).FirstOrDefault();
        }
        catch (NetlinkException e) when (e.Errno == Tmds.Linux.LibC.ENODEV)
        {
            return null;
        }
    }

    /// <summary>Changes what is given: up/down, MTU, MAC address, master (0 removes it from its bridge).</summary>
    public void SetLink(int index, bool? up = null, int? mtu = null, byte[]? mac = null, int? master = null)
    {
        _client.Request(RTM_NEWLINK, 0, w =>
        {
            IfInfo(w, index, up == true ? IFF_UP : 0, up is null ? 0 : IFF_UP);
            if (mtu is { } m) w.U32(IFLA_MTU, (uint)m);
            if (mac is not null) w.Attr(IFLA_ADDRESS, mac);
            if (master is { } ms) w.U32(IFLA_MASTER, (uint)ms);
        });
    }

    /// <summary>Creates a link of a kind (e.g. bridge), failing with EEXIST if the name is taken.</summary>
    public void AddLink(string name, string kind)
    {
        _client.Request(RTM_NEWLINK, Nl.F_CREATE | Nl.F_EXCL, w =>
        {
            IfInfo(w, 0);
            w.StringZ(IFLA_IFNAME, name);
            w.BeginNested(IFLA_LINKINFO).StringZ(IFLA_INFO_KIND, kind).EndNested();
        });
    }

    public void DeleteLink(int index) => _client.Request(RTM_DELLINK, 0, w => IfInfo(w, index));

    private static void IfAddr(NetlinkWriter w, AddressFamily family, int prefix, int index)
    {
        Span<byte> h = stackalloc byte[IfAddrLength];
        h.Clear();
        h[0] = family switch { AddressFamily.InterNetworkV6 => 10, AddressFamily.InterNetwork => 2, _ => 0 };
        h[1] = (byte)prefix;
        BinaryPrimitives.WriteInt32LittleEndian(h[4..], index);
        w.Raw(h);
    }

    /// <summary>`ip addr add LOCAL[/PREFIX] [peer PEER] dev INDEX`: with a peer, IFA_ADDRESS is the peer's address.</summary>
    public void AddAddress(int index, IPAddress local, int prefix, IPAddress? peer)
    {
        _client.Request(RTM_NEWADDR, Nl.F_CREATE | Nl.F_EXCL, w =>
        {
            IfAddr(w, local.AddressFamily, prefix, index);
            w.Address(IFA_LOCAL, local);
            w.Address(IFA_ADDRESS, peer ?? local);
        });
    }

    public void DeleteAddress(int index, IPAddress local, int prefix, IPAddress? peer)
    {
        _client.Request(RTM_DELADDR, 0, w =>
        {
            IfAddr(w, local.AddressFamily, prefix, index);
            w.Address(IFA_LOCAL, local);
            w.Address(IFA_ADDRESS, peer ?? local);
        });
    }

    /// <summary>
    /// The addresses of one link (<paramref name="index"/>), or of every link (null), IPv4 before IPv6. Every link's
    /// come from one dump. One link's come, on a strict socket, from a dump per family that the kernel limits to that
    /// link (ifa_index): its cost does not grow with the namespace. Per family, because a dump of both stops at the
    /// first family's refusal (IPv4 answers ENODEV for a link without IPv4) before the second is asked.
    /// </summary>
    public List<AddressInfo> Addresses(int? index)
    {
        var list = new List<AddressInfo>();
        if (index is not { } only || !Strict)
        {
            Collect(list, _client.Request(RTM_GETADDR, Nl.F_DUMP, w => IfAddr(w, AddressFamily.Unspecified, 0, 0)), index);
            return list;
        }
        foreach (var family in new[] { AddressFamily.InterNetwork, AddressFamily.InterNetworkV6 })
        {
            try
            {
                Collect(list, _client.Request(RTM_GETADDR, Nl.F_DUMP, w => IfAddr(w, family, 0, only)), only);
            }
            catch (NetlinkException e) when (e.Errno == Tmds.Linux.LibC.ENODEV)
            {
                // No such link (gone since it was looked up), or none of this family on it: no addresses.
            }
        }
        return list;
    }

    private static void Collect(List<AddressInfo> list, List<NetlinkMessage> replies, int? index)
    {
        foreach (var m in replies)
        {
            if (m.Type != RTM_NEWADDR)
                continue;
            var p = m.Payload.Span;
            int idx = BinaryPrimitives.ReadInt32LittleEndian(p[4..]);
            if (index is { } only && idx != only)
                continue;
            var a = NetlinkAttributes.Parse(m.Payload[IfAddrLength..]);
            var address = a.Address(IFA_ADDRESS);
            var local = a.Address(IFA_LOCAL) ?? address;
            if (local is null)
                continue;
            list.Add(new AddressInfo(idx, local, address is not null && !address.Equals(local) ? address : null, p[1]));
        }
    }

    /// <summary>The MTU of the route toward <paramref name="destination"/>: the route's own MTU metric, else its device's.</summary>
    public int? RouteMtu(IPAddress destination)
    {
        List<NetlinkMessage> replies;
        try
        {
            replies = _client.Request(RTM_GETROUTE, 0, w =>
            {
                Span<byte> h = stackalloc byte[RtMsgLength];
                h.Clear();
                h[0] = (byte)(destination.AddressFamily == AddressFamily.InterNetworkV6 ? 10 : 2);
                h[1] = (byte)(destination.AddressFamily == AddressFamily.InterNetworkV6 ? 128 : 32);
                w.Raw(h);
                w.Address(RTA_DST, destination);
            });
        }
        catch (NetlinkException)
        {
            return null;   // no route
        }
        foreach (var m in replies)
        {
            var a = NetlinkAttributes.Parse(m.Payload[RtMsgLength..]);
            if (a.Nested(RTA_METRICS).U32OrNull(RTAX_MTU) is { } routeMtu and > 0)
                return (int)routeMtu;
            if (a.U32OrNull(RTA_OIF) is { } oif)
                return Link((int)oif)?.Mtu;
        }
        return null;
    }

    public void Dispose() => _client.Dispose();
}
