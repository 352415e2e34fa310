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

    /// <summary>
    /// Whether <paramref name="fd"/>, just opened, leaves <see cref="Reserve"/> fds free: the kernel hands out the
    /// lowest free number, so every fd below it is open.
    /// </summary>
    public static bool LeavesRoom(int fd) => Limit == int.MaxValue || fd < Limit - Reserve;
}
