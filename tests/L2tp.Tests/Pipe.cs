using L2tp.Native;
using static Tmds.Linux.LibC;

namespace L2tp.Tests;

/// <summary>A real pipe: the write end stands in for a session's TAP fd, the read end (non-blocking) shows what was written.</summary>
internal sealed unsafe class Pipe : IDisposable
{
    public int ReadFd { get; }
    public int WriteFd { get; }
    private readonly byte[] _buf = new byte[1 << 16];

    public Pipe()
    {
        int* fds = stackalloc int[2];
        if (pipe(fds) != 0)
            throw new ErrnoException(errno, "pipe");
        ReadFd = fds[0];
        WriteFd = fds[1];
        Sys.SetNonBlocking(ReadFd);
    }

    /// <summary>Everything written so far (empty when nothing was).</summary>
    public byte[] Drain()
    {
        var all = new List<byte>();
        while (true)
        {
            long n = Sys.Read(ReadFd, _buf);
            if (n <= 0)
                return all.ToArray();
            all.AddRange(_buf.AsSpan(0, (int)n).ToArray());
        }
    }

    public void Dispose()
    {
        Sys.Close(ReadFd);
        Sys.Close(WriteFd);
    }
}
