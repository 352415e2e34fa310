using L2tp.Native;
using static Tmds.Linux.LibC;

namespace L2tp.Netlink;

/// <summary>Carries whole netlink messages to a peer and back: the kernel, or the managed forwarder.</summary>
internal interface INetlinkTransport : IDisposable
{
    /// <summary>Sends one buffer holding one or more messages.</summary>
    void Send(ReadOnlySpan<byte> buffer);
    /// <summary>Receives one buffer holding one or more messages; returns its length.</summary>
    int Receive(Span<byte> buffer);
}

/// <summary>An AF_NETLINK socket to the kernel (NETLINK_GENERIC or NETLINK_ROUTE) with extended acks on.</summary>
internal sealed class NetlinkSocket : INetlinkTransport
{
    private int _fd;

    public NetlinkSocket(int protocol)
    {
        _fd = Sys.Socket(AF_NETLINK, SOCK_RAW, protocol);
        try
        {
            Span<byte> addr = stackalloc byte[12];
            addr.Clear();
            addr[0] = (byte)AF_NETLINK;
            Sys.Check(Sys.Bind(_fd, addr), "bind(AF_NETLINK)");
            // Extended acks carry the kernel's own words for a refusal; capped acks keep error replies short.
            setopt(Nl.NETLINK_EXT_ACK);
            setopt(Nl.NETLINK_CAP_ACK);
            Sys.SetReceiveTimeout(_fd, TimeSpan.FromSeconds(10));
        }
        catch
        {
            Dispose();
            throw;
        }

        void setopt(int name)
        {
            try { Sys.SetInt(_fd, Nl.SOL_NETLINK, name, 1, "setsockopt(SOL_NETLINK)"); }
            catch (ErrnoException) { /* older kernels: plain acks still work */ }
        }
    }

    public void Send(ReadOnlySpan<byte> buffer) => Sys.Check(Sys.Send(_fd, buffer), "send(netlink)");

    public int Receive(Span<byte> buffer)
    {
        while (true)
        {
            long n = Sys.Recv(_fd, buffer);
            if (n >= 0)
                return (int)n;
            if (Sys.Errno != EINTR)
                throw new ErrnoException(Sys.Errno, "recv(netlink)");
        }
    }

    public void Dispose()
    {
        Sys.Close(_fd);
        _fd = -1;
    }
}

/// <summary>A SOCK_SEQPACKET connection to an abstract unix socket: how the managed forwarder is reached.</summary>
internal sealed class UnixSeqPacketSocket : INetlinkTransport
{
    private int _fd;

    private UnixSeqPacketSocket(int fd) => _fd = fd;

    /// <summary>Connects, or returns null with the errno when nobody listens (ECONNREFUSED) or the name is unknown.</summary>
    public static UnixSeqPacketSocket? TryConnect(string abstractName, out int error)
    {
        int fd = Sys.Socket(AF_UNIX, SOCK_SEQPACKET, 0);
        if (Sys.Connect(fd, Sys.AbstractUnixAddress(abstractName)) < 0)
        {
            error = Sys.Errno;
            Sys.Close(fd);
            return null;
        }
        error = 0;
        Sys.SetReceiveTimeout(fd, TimeSpan.FromSeconds(30));
        return new UnixSeqPacketSocket(fd);
    }

    public void Send(ReadOnlySpan<byte> buffer) => Sys.Check(Sys.Send(_fd, buffer), "send(l2tp-forwarder)");

    /// <summary>The forwarder's process id as this process's pid namespace numbers it (SO_PEERCRED).</summary>
    public int PeerProcessId => Sys.PeerCredentials(_fd).Pid;

    public int Receive(Span<byte> buffer)
    {
        while (true)
        {
            long n = Sys.Recv(_fd, buffer);
            if (n > 0)
                return (int)n;
            if (n == 0)
                throw new ErrnoException(ECONNRESET, "recv(l2tp-forwarder): the forwarder closed the connection");
            if (Sys.Errno != EINTR)
                throw new ErrnoException(Sys.Errno, "recv(l2tp-forwarder)");
        }
    }

    public void Dispose()
    {
        Sys.Close(_fd);
        _fd = -1;
    }
}
