using Tmds.Linux;
using static Tmds.Linux.LibC;

namespace L2tp.Native;

/// <summary>Who is at the other end of a unix socket, and whether the kernel would let it configure L2TP here.</summary>
internal readonly record struct PeerIdentity(int Pid, uint Uid, bool Privileged, string Reason);

/// <summary>
/// Decides, as the kernel's GENL_UNS_ADMIN_PERM does, whether the peer of a unix socket may configure L2TP in this
/// network namespace: uid 0, or CAP_NET_ADMIN in the user namespace that owns the namespace (or in an ancestor of it,
/// or being the owner of a child user namespace on the way). Root of a private user namespace is nobody here.
/// </summary>
internal static unsafe class PeerAuthorization
{
    private const int SO_PEERPIDFD = 77;
    private const int SYS_pidfd_open = 434, SYS_pidfd_send_signal = 424;
    private const int NS_GET_USERNS = 0xb701, NS_GET_PARENT = 0xb702, NS_GET_OWNER_UID = 0xb704;
    private const int CapNetAdmin = 12;

    /// <summary>
    /// Identifies and authorises the peer of <paramref name="fd"/>. The uid is the effective uid the kernel recorded at
    /// connect() (SO_PEERCRED, already mapped into our user namespace, so a private namespace's root shows as its real
    /// uid). Capabilities are not recorded by the kernel; for a non-root peer they are read from /proc while a pidfd
    /// (SO_PEERPIDFD: the very process that connected) pins its identity, and refused if that process has gone, changed
    /// its effective uid (a set-uid exec after connecting) or lives in a user namespace that does not own ours.
    /// </summary>
    public static PeerIdentity Check(int fd)
    {
        var (pid, uid, _) = Sys.PeerCredentials(fd);
        if (uid == 0)
            return new PeerIdentity(pid, uid, true, "uid 0");
        if (pid <= 0)
            return new PeerIdentity(pid, uid, false, "the peer's process is not visible from this pid namespace");
        int pidfd = PeerPidFd(fd, pid);
        if (pidfd < 0)
            return new PeerIdentity(pid, uid, false, "the peer's process has exited");
        try
        {
            var (ok, reason) = HasNetAdminOverOurNetns(pid, uid);
            // The pidfd still naming a live process means /proc/PID above was that process, not a reused pid.
            if (!Alive(pidfd))
                return new PeerIdentity(pid, uid, false, "the peer's process exited while being checked");
            return new PeerIdentity(pid, uid, ok, reason);
        }
        finally
        {
            Sys.Close(pidfd);
        }
    }

    /// <summary>Whether this process may configure L2TP in the calling thread's network namespace (before starting a forwarder).</summary>
    public static PeerIdentity Self()
    {
        int pid = Environment.ProcessId;
        // No uid-0 shortcut here: geteuid() is 0 for root of a private user namespace too; only the walk tells.
        uint uid = geteuid();
        var (ok, reason) = HasNetAdminOverOurNetns(pid, uid);
        return new PeerIdentity(pid, uid, ok, reason);
    }

    private static int PeerPidFd(int fd, int pid)
    {
        int pidfd = -1;
        socklen_t len = sizeof(int);
        if (getsockopt(fd, SOL_SOCKET, SO_PEERPIDFD, &pidfd, &len) == 0 && pidfd >= 0)
            return pidfd;
        // Kernels before 6.5: a pidfd opened now, so a process that exits after this point is still caught.
        return (int)(long)syscall(SYS_pidfd_open, pid, 0);
    }

    private static bool Alive(int pidfd) => (long)syscall(SYS_pidfd_send_signal, pidfd, 0, 0, 0) == 0;

    /// <summary>The kernel's cap_capable() walk for CAP_NET_ADMIN over our network namespace's owning user namespace.</summary>
    private static (bool, string) HasNetAdminOverOurNetns(int pid, uint uid)
    {
        ulong capEff = 0;
        uint? euid = null;
        try
        {
            foreach (var line in File.ReadLines($"/proc/{pid}/status"))
            {
                if (line.StartsWith("CapEff:", StringComparison.Ordinal))
                    capEff = Convert.ToUInt64(line[7..].Trim(), 16);
                else if (line.StartsWith("Uid:", StringComparison.Ordinal))
                {
                    var f = line[4..].Split('\t', StringSplitOptions.RemoveEmptyEntries);
                    if (f.Length >= 2 && uint.TryParse(f[1], out var e))
                        euid = e;
                }
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return (false, "the peer's process cannot be read");
        }
        if (euid != uid)
            return (false, $"the peer's effective uid changed since it connected ({uid} -> {euid?.ToString() ?? "?"})");

        var callerUserNs = Identity($"/proc/{pid}/ns/user");
        if (callerUserNs is null)
            return (false, "the peer's user namespace cannot be read");
        int ns = Sys.OpenReadOnly("/proc/thread-self/ns/net");
        if (ns < 0)
            return (false, "this network namespace cannot be read");
        int userNs = ioctl(ns, NS_GET_USERNS);
        Sys.Close(ns);
        // Walk from the user namespace owning our network namespace up to the root (or as far as we may see).
        while (userNs >= 0)
        {
            var id = Identity(userNs);
            if (id == callerUserNs)
            {
                Sys.Close(userNs);
                return (capEff & (1UL << CapNetAdmin)) != 0
                    ? (true, "CAP_NET_ADMIN in the user namespace that owns this network namespace")
                    : (false, "no CAP_NET_ADMIN");
            }
            uint owner = uint.MaxValue;
            bool haveOwner = ioctl(userNs, NS_GET_OWNER_UID, &owner) == 0;
            int parent = ioctl(userNs, NS_GET_PARENT);
            Sys.Close(userNs);
            // The creator of a user namespace holds every capability in it, seen from the parent namespace.
            if (parent >= 0 && haveOwner && owner == uid && Identity(parent) == callerUserNs)
            {
                Sys.Close(parent);
                return (true, "owner of the user namespace that owns this network namespace");
            }
            userNs = parent;
        }
        return (false, "its capabilities hold only in a user namespace of its own, which does not own this network namespace");
    }

    private static (ulong Dev, ulong Ino)? Identity(int fd)
    {
        stat st;
        return fstat(fd, &st) == 0 ? ((ulong)st.st_dev, (ulong)st.st_ino) : null;
    }

    private static (ulong Dev, ulong Ino)? Identity(string path)
    {
        int fd = Sys.OpenReadOnly(path);
        if (fd < 0)
            return null;
        try { return Identity(fd); }
        finally { Sys.Close(fd); }
    }
}
