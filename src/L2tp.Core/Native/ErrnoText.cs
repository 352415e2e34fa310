using System.Runtime.InteropServices;
using static Tmds.Linux.LibC;

namespace L2tp.Native;

/// <summary>An errno as a user reads it: strerror's words and the symbolic name to search for, "Network is unreachable (ENETUNREACH)".</summary>
internal static class ErrnoText
{
    // The errors a send or a socket call can give; others are shown by number.
    private static readonly Dictionary<int, string> Names = new()
    {
        [EPERM] = "EPERM", [ENOENT] = "ENOENT", [EINTR] = "EINTR", [EIO] = "EIO", [ENXIO] = "ENXIO", [EBADF] = "EBADF",
        [EAGAIN] = "EAGAIN", [ENOMEM] = "ENOMEM", [EACCES] = "EACCES", [ENODEV] = "ENODEV", [EINVAL] = "EINVAL",
        [EPIPE] = "EPIPE", [64] = "ENONET", [77] = "EBADFD", [EMSGSIZE] = "EMSGSIZE", [ENOPROTOOPT] = "ENOPROTOOPT",
        [EOPNOTSUPP] = "EOPNOTSUPP", [EAFNOSUPPORT] = "EAFNOSUPPORT", [EADDRINUSE] = "EADDRINUSE",
        [EADDRNOTAVAIL] = "EADDRNOTAVAIL", [ENETDOWN] = "ENETDOWN", [ENETUNREACH] = "ENETUNREACH",
        [ECONNRESET] = "ECONNRESET", [ENOBUFS] = "ENOBUFS", [ENOTCONN] = "ENOTCONN", [ECONNREFUSED] = "ECONNREFUSED",
        [EHOSTDOWN] = "EHOSTDOWN", [EHOSTUNREACH] = "EHOSTUNREACH",
    };

    public static string Name(int errno) => Names.TryGetValue(errno, out var n) ? n : $"errno {errno}";

    public static string Describe(int errno) => $"{Marshal.GetPInvokeErrorMessage(errno)} ({Name(errno)})";
}
