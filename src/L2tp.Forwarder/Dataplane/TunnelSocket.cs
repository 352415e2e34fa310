using System.Net;
using System.Net.Sockets;
using L2tp.Native;
using L2tp.Protocol;
using static Tmds.Linux.LibC;

namespace L2tp.Forwarder.Dataplane;

/// <summary>
/// The socket a tunnel sends and receives on, bound to local:sport and connected to remote:dport as the kernel's own
/// unmanaged tunnel socket is, so only the peer's packets arrive and the route (and its MTU) is fixed.
/// </summary>
internal sealed class TunnelSocket : IDisposable
{
    public int Fd { get; private set; }
    public Encapsulation Encapsulation { get; }
    public bool IsIPv6 { get; }

    private TunnelSocket(int fd, Encapsulation encap, bool ipv6)
    {
        Fd = fd;
        Encapsulation = encap;
        IsIPv6 = ipv6;
    }

    /// <summary>
    /// IPv4 raw sockets hand up the IP header with each packet (IPv6 ones do not), so the receive path skips it.
    /// </summary>
    public bool ReceivesIpHeader => Encapsulation == Encapsulation.Ip && !IsIPv6;

    public static TunnelSocket Open(TunnelSpec spec) =>
        spec.Encapsulation == Encapsulation.Ip ? OpenIp(spec) : OpenUdp(spec);

    /// <summary>
    /// IP protocol 115: a raw socket bound to the local address and connected to the peer, so the kernel filters
    /// by both addresses and adds the IP header on send.
    /// </summary>
    private static TunnelSocket OpenIp(TunnelSpec spec)
    {
        bool v6 = spec.IsIPv6;
        int fd = Sys.Socket(v6 ? AF_INET6 : AF_INET, SOCK_RAW, Sys.IPPROTO_L2TP);
        try
        {
            TrySetBuffer(fd, SO_RCVBUFFORCE, SO_RCVBUF);
            TrySetBuffer(fd, SO_SNDBUFFORCE, SO_SNDBUF);
            AllowFragments(fd, v6);
            if (Sys.Bind(fd, Sys.SockAddr(spec.BindAddress, 0)) < 0)
                throw new ErrnoException(Sys.Errno, $"bind({spec.BindAddress})");
            if (Sys.Connect(fd, Sys.SockAddr(spec.Remote!, 0)) < 0)
                throw new ErrnoException(Sys.Errno, $"connect({spec.Remote})");
            return new TunnelSocket(fd, spec.Encapsulation, v6);
        }
        catch
        {
            Sys.Close(fd);
            throw;
        }
    }

    private static TunnelSocket OpenUdp(TunnelSpec spec)
    {
        bool v6 = spec.IsIPv6;
        int fd = Sys.Socket(v6 ? AF_INET6 : AF_INET, SOCK_DGRAM, IPPROTO_UDP);
        try
        {
            if (v6)
            {
                Sys.SetInt(fd, IPPROTO_IPV6, IPV6_V6ONLY, 1, "IPV6_V6ONLY");
                if (!spec.Udp6ChecksumTx) Sys.SetInt(fd, IPPROTO_UDP, Sys.UDP_NO_CHECK6_TX, 1, "UDP_NO_CHECK6_TX");
                if (!spec.Udp6ChecksumRx) Sys.SetInt(fd, IPPROTO_UDP, Sys.UDP_NO_CHECK6_RX, 1, "UDP_NO_CHECK6_RX");
            }
            else if (!spec.UdpChecksum)
            {
                // As the kernel's l2tp UDP socket: no IPv4 UDP checksum is computed when udp_csum is off.
                Sys.SetInt(fd, SOL_SOCKET, Sys.SO_NO_CHECK_, 1, "SO_NO_CHECK");
            }
            TrySetBuffer(fd, SO_RCVBUFFORCE, SO_RCVBUF);
            TrySetBuffer(fd, SO_SNDBUFFORCE, SO_SNDBUF);
            AllowFragments(fd, v6);
            // A peer's UDP GSO send arrives as one datagram with its segment size (RxLoop splits it), not as 40.
            if (TapDevice.OffloadEnabled)
                try { Sys.SetInt(fd, IPPROTO_UDP, Sys.UDP_GRO, 1, "UDP_GRO"); } catch (ErrnoException) { }
            if (Sys.Bind(fd, Sys.SockAddr(spec.BindAddress, spec.SourcePort)) < 0)
                throw new ErrnoException(Sys.Errno, $"bind({spec.BindAddress}:{spec.SourcePort})");
            if (Sys.Connect(fd, Sys.SockAddr(spec.Remote!, spec.DestinationPort)) < 0)
                throw new ErrnoException(Sys.Errno, $"connect({spec.Remote}:{spec.DestinationPort})");
            return new TunnelSocket(fd, spec.Encapsulation, v6);
        }
        catch
        {
            Sys.Close(fd);
            throw;
        }
    }

    /// <summary>
    /// Frames bigger than the path allows are sent as IP fragments, as l2tp_core does (it sets ignore_df): never DF,
    /// never EMSGSIZE from a learned path MTU. The receiving kernel reassembles them before they reach the socket.
    /// </summary>
    private static void AllowFragments(int fd, bool ipv6)
    {
        const int IP_PMTUDISC_DONT = 0, IPV6_PMTUDISC_DONT = 0;
        if (ipv6)
            Sys.SetInt(fd, IPPROTO_IPV6, IPV6_MTU_DISCOVER, IPV6_PMTUDISC_DONT, "IPV6_MTU_DISCOVER");
        else
            Sys.SetInt(fd, IPPROTO_IP, IP_MTU_DISCOVER, IP_PMTUDISC_DONT, "IP_MTU_DISCOVER");
    }

    private static void TrySetBuffer(int fd, int forced, int plain)
    {
        const int size = 4 * 1024 * 1024;
        try { Sys.SetInt(fd, SOL_SOCKET, forced, size, "SO_BUFFORCE"); }
        catch (ErrnoException) { try { Sys.SetInt(fd, SOL_SOCKET, plain, size, "SO_BUF"); } catch (ErrnoException) { } }
    }

    /// <summary>The MTU of the route to the peer (what l2tp_eth reads from the socket's cached route), or 1500.</summary>
    public int PathMtu()
    {
        try
        {
            return IsIPv6 ? Sys.GetInt(Fd, IPPROTO_IPV6, IPV6_MTU, "IPV6_MTU") : Sys.GetInt(Fd, IPPROTO_IP, IP_MTU, "IP_MTU");
        }
        catch (ErrnoException)
        {
            return 1500;
        }
    }

    /// <summary>Bytes outside the L2TP header for each packet: the IP header, and UDP's 8 for UDP encapsulation.</summary>
    public int UnderlayOverhead => (IsIPv6 ? 40 : 20) + (Encapsulation == Encapsulation.Udp ? 8 : 0);

    public void Dispose()
    {
        Sys.Close(Fd);
        Fd = -1;
    }
}
