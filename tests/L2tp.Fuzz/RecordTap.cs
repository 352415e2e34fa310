using L2tp.Native;
using static Tmds.Linux.LibC;

namespace L2tp.Fuzz;

/// <summary>
/// A unix SOCK_SEQPACKET pair standing in for a session's TAP fd: each write stays a record of its own, as each write
/// to a TAP stays a frame, so the harness (and the xunit tests) see every frame the code under test delivered and
/// where it ended. Both ends are non-blocking: a writer that writes far more than expected fails (EAGAIN, counted as
/// an error) instead of hanging.
/// </summary>
internal sealed unsafe class RecordTap : IDisposable
{
    private int _readFd, _writeFd;
    private readonly byte[] _buf = new byte[1 << 18];

    public RecordTap()
    {
        int* fds = stackalloc int[2];
        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds) != 0)
            throw new ErrnoException(errno, "socketpair");
        _readFd = fds[0];
        _writeFd = fds[1];
        // Room for every frame one input can make: a full fuzz input is at most 1 MB of frames.
        Sys.SetInt(_writeFd, SOL_SOCKET, SO_SNDBUF, 8 << 20, "setsockopt(SO_SNDBUF)");
        Sys.SetNonBlocking(_readFd);
        Sys.SetNonBlocking(_writeFd);
    }

    public int WriteFd => _writeFd;

    /// <summary>Every write since the last call, in order.</summary>
    public List<byte[]> Records()
    {
        var records = new List<byte[]>();
        while (true)
        {
            long n = Sys.Recv(_readFd, _buf);
            if (n < 0)
                return records;
            Check.True(n < _buf.Length, "a TAP write filled the whole receive buffer: longer than any frame can be");
            records.Add(_buf.AsSpan(0, (int)n).ToArray());
        }
    }

    /// <summary>Closes the reading end, so that every later write fails with EPIPE (.NET ignores SIGPIPE).</summary>
    public void CloseReadEnd()
    {
        Sys.Close(_readFd);
        _readFd = -1;
    }

    public void Dispose()
    {
        Sys.Close(_readFd);
        Sys.Close(_writeFd);
    }
}
