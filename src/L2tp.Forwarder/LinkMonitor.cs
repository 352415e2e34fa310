using System.Buffers.Binary;
using L2tp.Native;
using L2tp.Netlink;
using static Tmds.Linux.LibC;

namespace L2tp.Forwarder;

/// <summary>One RTM_NEWLINK or RTM_DELLINK notification: what the forwarder needs of a link that changed or went.</summary>
internal readonly record struct LinkEvent(bool Deleted, int Index, string? Name, int Mtu);

/// <summary>
/// An rtnetlink socket subscribed to RTNLGRP_LINK: the kernel tells the forwarder when a session interface is deleted
/// (as l2tp_eth learns it through its netdev) or its MTU or name changes, so nothing has to poll for it.
/// </summary>
internal sealed unsafe class LinkMonitor : IDisposable
{
    private const ushort RTM_NEWLINK = 16, RTM_DELLINK = 17, IFLA_IFNAME = 3, IFLA_MTU = 4;
    private const uint RTMGRP_LINK = 1;
    private const int IfInfoLength = 16;
    private readonly byte[] _buffer = new byte[64 * 1024];

    public int Fd { get; private set; }

    public LinkMonitor()
    {
        Fd = Sys.Socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK, Nl.NETLINK_ROUTE);
        try
        {
            // A burst of link changes (a bridge with many ports going down) must not overrun the queue for a sleeping reader.
            try { Sys.SetInt(Fd, SOL_SOCKET, SO_RCVBUFFORCE, 1 << 20, "SO_RCVBUFFORCE"); } catch (ErrnoException) { }
            Span<byte> addr = stackalloc byte[12];
            addr.Clear();
            addr[0] = (byte)AF_NETLINK;
            BinaryPrimitives.WriteUInt32LittleEndian(addr[8..], RTMGRP_LINK);
            Sys.Check(Sys.Bind(Fd, addr), "bind(NETLINK_ROUTE, RTMGRP_LINK)");
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>Hands every queued notification to <paramref name="onLink"/>; false when some were lost (ENOBUFS), so the caller must re-read the links.</summary>
    public bool Drain(Action<LinkEvent> onLink)
    {
        bool complete = true;
        while (true)
        {
            long n = Sys.Recv(Fd, _buffer, MSG_DONTWAIT);
            if (n < 0)
            {
                int e = Sys.Errno;
                if (e == EINTR)
                    continue;
                if (e == ENOBUFS)
                {
                    complete = false;
                    continue;
                }
                return complete;   // EAGAIN: all read
            }
            List<NetlinkMessage> messages;
            try
            {
                messages = NetlinkMessage.Split(_buffer.AsMemory(0, (int)n));
            }
            catch (InvalidDataException e)
            {
                Log.Error($"link notification: {e.Message}");
                complete = false;
                continue;
            }
            foreach (var m in messages)
            {
                if ((m.Type != RTM_NEWLINK && m.Type != RTM_DELLINK) || m.Payload.Length < IfInfoLength)
                    continue;
                // Only AF_UNSPEC messages speak of the link itself: a port leaving its bridge (or the bridge going)
                // brings an AF_BRIDGE RTM_DELLINK for the port, which still exists.
                if (m.Payload.Span[0] != AF_UNSPEC)
                    continue;
                int index = BinaryPrimitives.ReadInt32LittleEndian(m.Payload.Span[4..]);
                var a = NetlinkAttributes.Parse(m.Payload[IfInfoLength..]);
                onLink(new LinkEvent(m.Type == RTM_DELLINK, index, a.String(IFLA_IFNAME), (int)(a.U32OrNull(IFLA_MTU) ?? 0)));
            }
        }
    }

    public void Dispose()
    {
        Sys.Close(Fd);
        Fd = -1;
    }
}
