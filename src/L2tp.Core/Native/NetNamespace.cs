using static Tmds.Linux.LibC;

namespace L2tp.Native;

/// <summary>
/// Runs a piece of work in a named network namespace (as `ip -n NAME`): setns() affects only the calling thread,
/// and sockets or processes made there stay in that namespace after the thread switches back.
/// </summary>
internal sealed class NetNamespace : IDisposable
{
    private int _original = -1;

    private NetNamespace() { }

    /// <summary>Enters <paramref name="name"/> (a file under /run/netns) on this thread; null or empty does nothing.</summary>
    public static NetNamespace Enter(string? name)
    {
        var scope = new NetNamespace();
        if (string.IsNullOrEmpty(name))
            return scope;
        if (name.Contains('/') || name is "." or "..")
            throw new L2tpException("L2tp.InvalidNetworkNamespace", L2tpErrorKind.InvalidArgument, name,
                $"'{name}' is not a network namespace name (see `ip netns list`).");
        string path = "/run/netns/" + name;
        int target = Sys.OpenReadOnly(path);
        if (target < 0)
        {
            int e = errno;
            throw new L2tpException("L2tp.NetworkNamespaceNotFound",
                e == EACCES ? L2tpErrorKind.PermissionDenied : L2tpErrorKind.ObjectNotFound, name,
                e == ENOENT ? $"There is no network namespace '{name}' (see `ip netns list`)."
                            : $"Cannot open network namespace '{name}': {new ErrnoException(e, "open").Message}");
        }
        try
        {
            scope._original = Sys.OpenReadOnly("/proc/thread-self/ns/net");
            if (scope._original < 0)
                throw new ErrnoException(errno, "open(/proc/thread-self/ns/net)");
            if (Sys.SetNs(target, Sys.CLONE_NEWNET_) < 0)
            {
                int e = Sys.LastPInvokeErrno;
                Sys.Close(scope._original);
                throw new L2tpException("L2tp.PermissionDenied", e == EPERM ? L2tpErrorKind.PermissionDenied : L2tpErrorKind.ResourceUnavailable,
                    name, $"Cannot enter network namespace '{name}': {new ErrnoException(e, "setns").Message}. Run as root.");
            }
        }
        finally
        {
            Sys.Close(target);
        }
        return scope;
    }

    /// <summary>
    /// A key for this thread's network namespace that is never reused while the machine runs: the kernel's netns
    /// cookie (SO_NETNS_COOKIE, Linux 5.14+). Inode numbers are recycled as soon as a namespace is deleted, so a key made
    /// of them would hand a dead namespace's state to a new one; the inode is only the fallback for older kernels.
    /// </summary>
    public static unsafe string CurrentKey()
    {
        const int SO_NETNS_COOKIE = 71;
        int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (fd >= 0)
        {
            try
            {
                ulong cookie = 0;
                Tmds.Linux.socklen_t len = 8;
                if (getsockopt(fd, SOL_SOCKET, SO_NETNS_COOKIE, &cookie, &len) == 0)
                    return "c" + cookie.ToString();
            }
            finally
            {
                Sys.Close(fd);
            }
        }
        return "i" + CurrentInode().ToString();
    }

    /// <summary>The inode of this thread's network namespace.</summary>
    public static ulong CurrentInode()
    {
        var info = new FileInfo("/proc/thread-self/ns/net");
        string target = info.LinkTarget ?? "";   // "net:[4026531840]"
        int a = target.IndexOf('['), b = target.IndexOf(']');
        return a >= 0 && b > a ? ulong.Parse(target[(a + 1)..b]) : 0;
    }

    public void Dispose()
    {
        if (_original >= 0)
        {
            // Failing to return would leave the pipeline thread in the wrong namespace: that must not pass silently.
            if (Sys.SetNs(_original, Sys.CLONE_NEWNET_) < 0)
                Environment.FailFast("l2tp: cannot return to the original network namespace");
            Sys.Close(_original);
            _original = -1;
        }
    }
}
