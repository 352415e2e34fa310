using System.Runtime.InteropServices;

namespace L2tp.Forwarder;

/// <summary>
/// The forwarder's open-file limit (RLIMIT_NOFILE), raised to its hard limit at start, and the room each new session
/// interface must leave: a TAP fd is held per session, and a forwarder that ran out of fds failed in the runtime and
/// in its journal writes rather than refusing the session.
/// </summary>
internal static class FileLimit
{
    private const int RLIMIT_NOFILE = 7;

    /// <summary>Fds kept free for what is not a session: clients, the journal, netlink, epoll, the runtime.</summary>
    public const int Reserve = 256;

    [StructLayout(LayoutKind.Sequential)]
    private struct RLimit
    {
        public ulong Current;
        public ulong Max;
    }

    [DllImport("libc", EntryPoint = "getrlimit", SetLastError = true)]
    private static extern int GetRLimit(int resource, out RLimit limit);

    [DllImport("libc", EntryPoint = "setrlimit", SetLastError = true)]
    private static extern int SetRLimit(int resource, in RLimit limit);

    /// <summary>The soft limit in force (after <see cref="Raise"/>); int.MaxValue when unknown or unlimited.</summary>
    public static int Limit { get; private set; } = int.MaxValue;

    /// <summary>Raises the soft limit to the hard one (as Go's runtime does for its programs) and records it.</summary>
    public static void Raise()
    {
        if (GetRLimit(RLIMIT_NOFILE, out var l) != 0)
            return;
        if (l.Current < l.Max)
        {
            var raised = new RLimit { Current = l.Max, Max = l.Max };
            if (SetRLimit(RLIMIT_NOFILE, raised) == 0)
                l = raised;
        }
        Limit = l.Current > int.MaxValue ? int.MaxValue : (int)l.Current;
    }

    /// <summary>Fds the kernel's table of this process is sized for at start: 1,000 sessions and <see cref="Reserve"/>.</summary>
    public const int Presized = 1024;

    /// <summary>
    /// Grows the kernel's fd table of this process to <paramref name="fds"/> (capped by the limit) now, while nothing
    /// waits on it. The kernel grows it by doubling when an fd past its end is opened, and a process with more than one
    /// thread pays an RCU grace period for each growth (synchronize_rcu in expand_fdtable): the session whose TAP got
    /// fd 256, 512 or 1024 took 10-30 ms where the others take under 1. The table never shrinks, so one growth here
    /// spares the first thousand sessions every one of those stalls; its cost is the table, 8 bytes an fd.
    /// </summary>
    /// <param name="anyFd">An open fd to duplicate (the listening socket); its duplicate is closed at once.</param>
    /// <param name="fds">The fds the table is to hold.</param>
    public static void Presize(int anyFd, int fds)
    {
        int top = Math.Min(fds, Limit) - 1;
        if (top < 64 || anyFd < 0)
            return;
        // F_DUPFD_CLOEXEC hands out the lowest free fd at or above `top`: fd `top` itself in a fresh process.
        int dup = Tmds.Linux.LibC.fcntl(anyFd, Tmds.Linux.LibC.F_DUPFD_CLOEXEC, top);
        if (dup >= 0)
            L2tp.Native.Sys.Close(dup);
    }

    /// <summary>
    /// Whether <paramref name="fd"/>, just opened, leaves <see cref="Reserve"/> fds free: the kernel hands out the
    /// lowest free number, so every fd below it is open.
    /// </summary>
    public static bool LeavesRoom(int fd) => Limit == int.MaxValue || fd < Limit - Reserve;
}
