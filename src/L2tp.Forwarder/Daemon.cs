using System.Runtime.InteropServices;
using System.Text;
using static Tmds.Linux.LibC;

namespace L2tp.Forwarder;

/// <summary>
/// Turns the process into a daemon that holds nothing of its caller: a new session, stdin from /dev/null, stdout and
/// stderr to the log, and no other inherited fd. A caller's pipe left open would keep `x=$(pwsh -c ...)`, `ssh host
/// pwsh -c` or a CI step waiting for an EOF that never comes.
/// </summary>
internal static unsafe class Daemon
{
    /// <summary>What the re-executed image is given instead of --daemon: it is detached already.</summary>
    public const string DetachedFlag = "--detached";
    public const string DaemonFlag = Control.ForwarderPaths.DaemonFlag;

    private const int SYS_close_range = 436;
    private const uint CLOSE_RANGE_CLOEXEC = 4;

    [DllImport("libc", EntryPoint = "syscall", SetLastError = true)]
    private static extern long Syscall3(long number, ulong a, ulong b, ulong c);

    [DllImport("libc", EntryPoint = "execv", SetLastError = true)]
    private static extern int Execv(byte* path, byte** argv);

    [DllImport("libc", EntryPoint = "prctl", SetLastError = true)]
    private static extern int Prctl(int option, byte* arg2, ulong arg3, ulong arg4, ulong arg5);

    private const int PR_SET_NAME = 15;

    /// <summary>
    /// Names the calling thread for ps, top and pkill (on the main thread: the process). The runtime does not do it for
    /// every thread in every build (a native-compiled forwarder's Thread.Name stays its own), and the re-executed
    /// image would otherwise be called after the file it was started through ("exe" for /proc/self/exe).
    /// </summary>
    public static void NameThread(string name)
    {
        var bytes = new byte[16];
        System.Text.Encoding.ASCII.GetBytes(name.AsSpan(0, Math.Min(name.Length, 15)), bytes);
        fixed (byte* p = bytes)
            Prctl(PR_SET_NAME, p, 0, 0, 0);
    }

    [DllImport("libc", EntryPoint = "setenv", SetLastError = true)]
    private static extern int SetEnv(byte* name, byte* value, int overwrite);

    /// <summary>
    /// The GC's smallest gen0 budget for the re-executed image, unless the environment already names one. The default
    /// follows the CPU cache (several MB here) and the heap grows to it between collections; the forwarder allocates
    /// only on the control path, so a 1 MB budget costs a few more short collections and saves about 12 MB of RSS
    /// (measured at 3,000 sessions: anonymous RSS 29 MB with the default, 17 MB with this). The runtime reads it from
    /// the environment only (not from runtimeconfig.json), hence here; the systemd units set it too.
    /// </summary>
    internal const string Gen0SizeVariable = "DOTNET_GCgen0size", Gen0Size = "0x100000";

    /// <summary>
    /// Redirects 0-2, marks every other fd close-on-exec and re-executes this program with <see cref="DetachedFlag"/>.
    /// The .NET runtime duplicates the standard handles and opens files of its own before Main runs, so closing or
    /// redirecting fds here cannot reach all of them; only a fresh image starts with 0-2 alone. Returns only when the
    /// re-exec failed (the caller then goes on in this image, with the caller's pipe possibly still held).
    /// </summary>
    public static string? Detach(string logFile)
    {
        setsid();   // fails only for a group leader, which a spawned child is not; either way go on
        RedirectStdio(logFile);
        if (!MarkCloseOnExec(3))
            return "cannot mark inherited fds close-on-exec";
        byte[] cmdline;
        try { cmdline = File.ReadAllBytes("/proc/self/cmdline"); }
        catch (IOException e) { return $"cannot read /proc/self/cmdline: {e.Message}"; }
        var argv = ReexecArguments(cmdline);
        var exe = Encoding.UTF8.GetBytes("/proc/self/exe\0");
        fixed (byte* name = Encoding.ASCII.GetBytes(Gen0SizeVariable + "\0"))
        fixed (byte* value = Encoding.ASCII.GetBytes(Gen0Size + "\0"))
            SetEnv(name, value, overwrite: 0);
        var handles = new List<GCHandle>();
        try
        {
            var ptrs = new IntPtr[argv.Count + 1];
            for (int i = 0; i < argv.Count; i++)
            {
                var h = GCHandle.Alloc(Encoding.UTF8.GetBytes(argv[i] + "\0"), GCHandleType.Pinned);
                handles.Add(h);
                ptrs[i] = h.AddrOfPinnedObject();
            }
            fixed (byte* p = exe)
            fixed (IntPtr* a = ptrs)
                Execv(p, (byte**)a);
            return $"execv(/proc/self/exe) failed: errno {Marshal.GetLastPInvokeError()}";
        }
        finally
        {
            foreach (var h in handles)
                h.Free();
        }
    }

    /// <summary>The process's own argv (NUL-separated, as /proc/self/cmdline holds it) with --daemon made --detached.</summary>
    internal static List<string> ReexecArguments(byte[] cmdline)
    {
        var args = Encoding.UTF8.GetString(cmdline).TrimEnd('\0').Split('\0').ToList();
        for (int i = 1; i < args.Count; i++)
            if (args[i] == DaemonFlag)
                args[i] = DetachedFlag;
        return args;
    }

    /// <summary>stdin from /dev/null, stdout and stderr appended to the log.</summary>
    public static void RedirectStdio(string logFile)
    {
        int nul, log;
        fixed (byte* p = "/dev/null\0"u8)
            nul = open(p, O_RDWR | O_CLOEXEC);
        var path = Encoding.UTF8.GetBytes(logFile + "\0");
        fixed (byte* p = path)
            log = open(p, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0x180 /* 0600 */);
        if (nul >= 0) { dup2(nul, 0); close(nul); }
        if (log >= 0) { dup2(log, 1); dup2(log, 2); close(log); }
        else if (nul >= 0) { dup2(0, 1); dup2(0, 2); }
    }

    /// <summary>close_range(first, ~0, CLOSE_RANGE_CLOEXEC); on kernels before 5.11 the same fd by fd from /proc/self/fd.</summary>
    private static bool MarkCloseOnExec(int first)
    {
        if (Syscall3(SYS_close_range, (ulong)first, uint.MaxValue, CLOSE_RANGE_CLOEXEC) == 0)
            return true;
        try
        {
            foreach (var entry in Directory.GetFiles("/proc/self/fd"))
                if (int.TryParse(Path.GetFileName(entry), out int fd) && fd >= first)
                    fcntl(fd, F_SETFD, FD_CLOEXEC);
            return true;
        }
        catch (IOException)
        {
            return false;
        }
    }
}
