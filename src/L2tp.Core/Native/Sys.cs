using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using Tmds.Linux;
using static Tmds.Linux.LibC;

namespace L2tp.Native;

/// <summary>A failed system call, with its errno and the words strerror gives for it.</summary>
internal sealed class ErrnoException : Exception
{
    public int Errno { get; }
    public string Operation { get; }

    public ErrnoException(int errno, string operation)
        : base($"{operation}: {Marshal.GetPInvokeErrorMessage(errno)} (errno {errno})")
    {
        Errno = errno;
        Operation = operation;
    }
}

/// <summary>Thin, throwing wrappers over the libc calls this module uses (Tmds.LibC plus what it lacks).</summary>
internal static unsafe class Sys
{
    public const int IPPROTO_L2TP = 115;
    public const int UDP_NO_CHECK6_TX = 101, UDP_NO_CHECK6_RX = 102, SO_NO_CHECK_ = 11;
    public const int UDP_SEGMENT = 103, UDP_GRO = 104;
    public const int CLONE_NEWNET_ = 0x40000000;

    public static int Errno => errno;

    public static int Check(int rc, string what)
    {
        if (rc < 0)
            throw new ErrnoException(errno, what);
        return rc;
    }

    public static long Check(long rc, string what)
    {
        if (rc < 0)
            throw new ErrnoException(errno, what);
        return rc;
    }

    public static int Socket(int domain, int type, int protocol) =>
        Check(socket(domain, type | SOCK_CLOEXEC, protocol), "socket");

    public static void Close(int fd)
    {
        if (fd >= 0)
            close(fd);
    }

    public static void SetInt(int fd, int level, int name, int value, string what)
    {
        Check(setsockopt(fd, level, name, &value, sizeof(int)), what);
    }

    public static int GetInt(int fd, int level, int name, string what)
    {
        int value = 0;
        socklen_t len = sizeof(int);
        Check(getsockopt(fd, level, name, &value, &len), what);
        return value;
    }

    /// <summary>sockaddr_in / sockaddr_in6 bytes for an endpoint.</summary>
    public static byte[] SockAddr(IPAddress address, int port)
    {
        if (address.AddressFamily == AddressFamily.InterNetwork)
        {
            var b = new byte[16];
            BinaryPrimitives.WriteUInt16LittleEndian(b, (ushort)AF_INET);
            BinaryPrimitives.WriteUInt16BigEndian(b.AsSpan(2), (ushort)port);
            address.TryWriteBytes(b.AsSpan(4), out _);
            return b;
        }
        else
        {
            var b = new byte[28];
            BinaryPrimitives.WriteUInt16LittleEndian(b, (ushort)AF_INET6);
            BinaryPrimitives.WriteUInt16BigEndian(b.AsSpan(2), (ushort)port);
            address.TryWriteBytes(b.AsSpan(8), out _);
            BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(24), (uint)address.ScopeId);
            return b;
        }
    }

    /// <summary>sockaddr_un bytes for a Linux abstract socket name (no file, scoped to the network namespace).</summary>
    public static byte[] AbstractUnixAddress(string name)
    {
        var b = new byte[2 + 1 + name.Length];
        BinaryPrimitives.WriteUInt16LittleEndian(b, (ushort)AF_UNIX);
        System.Text.Encoding.ASCII.GetBytes(name, b.AsSpan(3));
        return b;
    }

    public static int Bind(int fd, ReadOnlySpan<byte> addr)
    {
        fixed (byte* p = addr)
            return bind(fd, (sockaddr*)p, addr.Length);
    }

    public static int Connect(int fd, ReadOnlySpan<byte> addr)
    {
        fixed (byte* p = addr)
            return connect(fd, (sockaddr*)p, addr.Length);
    }

    public static long Send(int fd, ReadOnlySpan<byte> data, int flags = 0)
    {
        fixed (byte* p = data)
            return send(fd, p, data.Length, flags | MSG_NOSIGNAL);
    }

    public static long Recv(int fd, Span<byte> data, int flags = 0)
    {
        fixed (byte* p = data)
            return recv(fd, p, data.Length, flags);
    }

    public static long Read(int fd, Span<byte> data)
    {
        fixed (byte* p = data)
            return read(fd, p, data.Length);
    }

    public static long Write(int fd, ReadOnlySpan<byte> data)
    {
        fixed (byte* p = data)
            return write(fd, p, data.Length);
    }

    public static void SetReceiveTimeout(int fd, TimeSpan t) => SetTimeout(fd, SO_RCVTIMEO, t, "setsockopt(SO_RCVTIMEO)");

    public static void SetSendTimeout(int fd, TimeSpan t) => SetTimeout(fd, SO_SNDTIMEO, t, "setsockopt(SO_SNDTIMEO)");

    private static void SetTimeout(int fd, int option, TimeSpan t, string what)
    {
        long* tv = stackalloc long[2];
        tv[0] = (long)t.TotalSeconds;
        tv[1] = t.Milliseconds * 1000L;
        Check(setsockopt(fd, SOL_SOCKET, option, tv, 16), what);
    }

    /// <summary>open(path, O_RDONLY | O_CLOEXEC | <paramref name="flags"/>); -1 with errno set on failure.</summary>
    public static int OpenReadOnly(string path, int flags = 0)
    {
        var bytes = System.Text.Encoding.UTF8.GetBytes(path + "\0");
        fixed (byte* p = bytes)
            return open(p, O_RDONLY | O_CLOEXEC | flags);
    }

    /// <summary>Whether this process may execute the file (access(2) with X_OK: a file copied without its modes may not).</summary>
    public static bool IsExecutable(string path)
    {
        var bytes = System.Text.Encoding.UTF8.GetBytes(path + "\0");
        fixed (byte* p = bytes)
            return access(p, X_OK) == 0;
    }

    /// <summary>lstat(2): the mode (type and permission bits) and owner of the path itself, a link not followed; null when it is not there.</summary>
    public static (uint Mode, uint Uid)? LinkStatus(string path)
    {
        var bytes = System.Text.Encoding.UTF8.GetBytes(path + "\0");
        stat st;
        fixed (byte* p = bytes)
            return lstat(p, &st) == 0 ? ((uint)st.st_mode, (uint)st.st_uid) : null;
    }

    /// <summary>fstat(2): the mode and owner of what <paramref name="fd"/> is open on; null on failure.</summary>
    public static (uint Mode, uint Uid)? Status(int fd)
    {
        stat st;
        return fstat(fd, &st) == 0 ? ((uint)st.st_mode, (uint)st.st_uid) : null;
    }

    /// <summary>Whether a mode from <see cref="LinkStatus"/> or <see cref="Status"/> is a regular file's (S_ISREG).</summary>
    public static bool IsRegularFile(uint mode) => (mode & 0xF000) == 0x8000;

    public static void SetNonBlocking(int fd)
    {
        int flags = Check(fcntl(fd, F_GETFL), "fcntl(F_GETFL)");
        Check(fcntl(fd, F_SETFL, flags | O_NONBLOCK), "fcntl(F_SETFL)");
    }

    /// <summary>Process id, uid and gid of the process at the other end of a unix socket.</summary>
    public static (int Pid, uint Uid, uint Gid) PeerCredentials(int fd)
    {
        int* cred = stackalloc int[3];
        socklen_t len = 12;
        Check(getsockopt(fd, SOL_SOCKET, SO_PEERCRED, cred, &len), "getsockopt(SO_PEERCRED)");
        return (cred[0], (uint)cred[1], (uint)cred[2]);
    }

    public static uint EffectiveUid => geteuid();

    [StructLayout(LayoutKind.Sequential)]
    public struct MMsgHdr
    {
        public void* Name;
        public uint NameLen;
        public iovec* Iov;
        public nuint IovLen;
        public void* Control;
        public nuint ControlLen;
        public int Flags;
        private int _pad;   // struct msghdr is 56 bytes on 64-bit: msg_len of mmsghdr starts at 56
        public uint Len;
        private int _pad2;
    }

    [DllImport("libc", EntryPoint = "recvmmsg", SetLastError = true)]
    public static extern int RecvMMsg(int fd, MMsgHdr* msgs, uint vlen, int flags, void* timeout);

    [DllImport("libc", EntryPoint = "sendmmsg", SetLastError = true)]
    public static extern int SendMMsg(int fd, MMsgHdr* msgs, uint vlen, int flags);

    [DllImport("libc", EntryPoint = "writev", SetLastError = true)]
    public static extern nint WriteV(int fd, iovec* iov, int iovcnt);

    [DllImport("libc", EntryPoint = "setns", SetLastError = true)]
    public static extern int SetNs(int fd, int nstype);

    /// <summary>The errno of the last DllImport call above (they set the last P/Invoke error, not Tmds' errno).</summary>
    public static int LastPInvokeErrno => Marshal.GetLastPInvokeError();
}
