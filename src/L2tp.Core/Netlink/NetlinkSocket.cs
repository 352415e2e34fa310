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

/// <summary>An AF_NETLINK socket to the kernel (NETLINK_GENERIC or NETLINK_ROUTE) with extended acks on; the fd in a SafeHandle.</summary>
internal sealed class NetlinkSocket : INetlinkTransport
{
    private readonly SafeFd _fd;

    public NetlinkSocket(int protocol)
    {
        _fd = new SafeFd(Sys.Socket(AF_NETLINK, SOCK_RAW, protocol));
        int fd = _fd.Acquire();
        try
        {
            Span<byte> addr = stackalloc byte[12];
            addr.Clear();
            addr[0] = (byte)AF_NETLINK;
            Sys.Check(Sys.Bind(fd, addr), "bind(AF_NETLINK)");
            // Extended acks carry the kernel's own words for a refusal; capped acks keep error replies short.
            setopt(Nl.NETLINK_EXT_ACK);
            setopt(Nl.NETLINK_CAP_ACK);
            Sys.SetReceiveTimeout(fd, TimeSpan.FromSeconds(10));
        }
        catch
        {
            _fd.Release();
            _fd.Dispose();
            throw;
        }
        _fd.Release();

        void setopt(int name)
        {
            try { Sys.SetInt(fd, Nl.SOL_NETLINK, name, 1, "setsockopt(SOL_NETLINK)"); }
            catch (ErrnoException) { /* older kernels: plain acks still work */ }
        }
    }

    /// <summary>Turns a SOL_NETLINK flag on; false when this kernel does not know it.</summary>
    public bool TrySetOption(int name)
    {
        int fd = _fd.Acquire();
        try
        {
            Sys.SetInt(fd, Nl.SOL_NETLINK, name, 1, "setsockopt(SOL_NETLINK)");
            return true;
        }
        catch (ErrnoException)
        {
            return false;
        }
        finally
        {
            _fd.Release();
        }
    }

    public void Send(ReadOnlySpan<byte> buffer)
    {
        int fd = _fd.Acquire();
        try { Sys.Check(Sys.Send(fd, buffer), "send(netlink)"); }
        finally { _fd.Release(); }
    }

    public int Receive(Span<byte> buffer)
    {
        int fd = _fd.Acquire();
        try
        {
            while (true)
            {
                long n = Sys.Recv(fd, buffer);
                if (n >= 0)
                    return (int)n;
                if (Sys.Errno != EINTR)
                    throw new ErrnoException(Sys.Errno, "recv(netlink)");
            }
        }
        finally
        {
            _fd.Release();
        }
    }

    public void Dispose() => _fd.Dispose();
}

/// <summary>
/// A SOCK_SEQPACKET connection to an abstract unix socket: how the managed forwarder is reached. The fd lives in a
/// SafeHandle; the cancellation token (Ctrl+C, from another thread) shuts the socket down so a blocked receive returns
/// at once, and the fd itself is closed only by the thread that owns the connection.
/// </summary>
internal sealed class UnixSeqPacketSocket : INetlinkTransport
{
    /// <summary>How long a request may wait for the forwarder's reply before the cmdlet gives up.</summary>
    public static readonly TimeSpan ReplyTimeout = TimeSpan.FromSeconds(30);

    private readonly SafeFd _fd;
    private readonly CancellationTokenRegistration _onCancel;
    private volatile bool _cancelled;

    private UnixSeqPacketSocket(SafeFd fd, CancellationToken cancel)
    {
        _fd = fd;
        _onCancel = cancel.Register(Cancel);
    }

    /// <summary>Connects, or returns null with the errno when nobody listens (ECONNREFUSED) or the name is unknown.</summary>
    public static UnixSeqPacketSocket? TryConnect(string abstractName, out int error, CancellationToken cancel = default)
    {
        var fd = new SafeFd(Sys.Socket(AF_UNIX, SOCK_SEQPACKET, 0));
        // A listener that does not accept (stopped, wedged) must not hang connect() either.
        fd.Use(f => { Sys.SetSendTimeout(f, TimeSpan.FromSeconds(5)); return 0; });
        int rc = fd.Use(f => Sys.Connect(f, Sys.AbstractUnixAddress(abstractName)));
        if (rc < 0)
        {
            error = Sys.Errno;
            fd.Dispose();
            return null;
        }
        error = 0;
        fd.Use(f => { Sys.SetReceiveTimeout(f, ReplyTimeout); return 0; });
        return new UnixSeqPacketSocket(fd, cancel);
    }

    /// <summary>Who serves the other end: the forwarder must be privileged over this namespace, or it is an impostor.</summary>
    public PeerIdentity Peer() => _fd.Use(PeerAuthorization.Check);

    public void Send(ReadOnlySpan<byte> buffer)
    {
        int f = _fd.Acquire();
        long rc;
        try { rc = Sys.Send(f, buffer); }
        finally { _fd.Release(); }
        if (_cancelled)
            throw new OperationCanceledException("The request to l2tp-forwarder was cancelled.");
        if (rc < 0)
            throw Failure(Sys.Errno, "send");
    }

    public int Receive(Span<byte> buffer)
    {
        while (true)
        {
            int f = _fd.Acquire();
            long n;
            int e;
            try { n = Sys.Recv(f, buffer); e = Sys.Errno; }
            finally { _fd.Release(); }
            if (_cancelled)
                throw new OperationCanceledException("The request to l2tp-forwarder was cancelled.");
            if (n > 0)
                return (int)n;
            if (n == 0)
                throw new L2tpException("L2tp.ForwarderConnectionLost", L2tpErrorKind.ConnectionError, ForwarderName,
                    "l2tp-forwarder closed the connection before answering (it stopped or crashed; see its log, and Get-L2tpForwarder).");
            if (e != EINTR)
                throw Failure(e, "recv");
        }
    }

    private const string ForwarderName = "@l2tp-forwarder";

    private static L2tpException Failure(int errno, string call) => errno == EAGAIN || errno == EWOULDBLOCK
        ? new L2tpException("L2tp.ForwarderTimeout", L2tpErrorKind.ConnectionError, ForwarderName,
            $"l2tp-forwarder did not answer within {ReplyTimeout.TotalSeconds:0} s (is it stopped or wedged? see Get-L2tpForwarder and its log).") { Errno = errno }
        : new L2tpException("L2tp.ForwarderConnectionLost", L2tpErrorKind.ConnectionError, ForwarderName,
            $"The connection to l2tp-forwarder failed: {new ErrnoException(errno, call).Message}") { Errno = errno };

    /// <summary>Makes a receive blocked on another thread return now (shutdown, not close: the fd stays valid).</summary>
    private void Cancel()
    {
        _cancelled = true;
        try { _fd.Use(f => shutdown(f, SHUT_RDWR)); }
        catch (ObjectDisposedException) { }
    }

    public void Dispose()
    {
        _onCancel.Dispose();
        _fd.Dispose();
    }
}
