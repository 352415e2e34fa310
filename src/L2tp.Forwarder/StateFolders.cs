using System.Runtime.InteropServices;
using L2tp.Control;
using L2tp.Native;
using static Tmds.Linux.LibC;

namespace L2tp.Forwarder;

/// <summary>
/// The per-namespace folders under the state root: the running forwarder's claim on its own, and the collection of
/// folders whose namespace is gone. A namespace deleted with its forwarder killed (a lab's teardown) left its folder,
/// state and logs in /run, which is memory, until the next boot: some 300 of them, 89 MB, on a machine that runs the
/// suite for a day.
/// </summary>
internal static unsafe class StateFolders
{
    /// <summary>The file in a folder that names its namespace by inode, as /proc/PID/ns/net links do ("net:[N]").</summary>
    public const string NamespaceFile = "netns";

    /// <summary>How long a folder must be untouched before it can be collected (a forwarder may be starting in it).</summary>
    public static readonly TimeSpan MinimumAge = TimeSpan.FromHours(1);

    private const int LOCK_EX = 2, LOCK_NB = 4;

    [DllImport("libc", EntryPoint = "flock", SetLastError = true)]
    private static extern int Flock(int fd, int operation);

    /// <summary>
    /// Claims <paramref name="dir"/> for this process's lifetime (an flock on the folder, released by the kernel
    /// however the process ends) and records its namespace there. Called once this process has bound the namespace's
    /// control socket, so no other forwarder serves it; a collector testing the lock holds it for a moment, and anyone
    /// may flock a folder they can read, so it tries for 2 s. Returns the fd, or -1 (logged) when it never got it.
    /// </summary>
    public static int Claim(string dir)
    {
        int fd = OpenFolder(dir);
        if (fd < 0)
            return -1;
        var deadline = DateTime.UtcNow.AddSeconds(2);
        while (Flock(fd, LOCK_EX | LOCK_NB) != 0)
        {
            if (DateTime.UtcNow > deadline)
            {
                Sys.Close(fd);
                Log.Error($"{dir} stays locked by another process: running without the folder's lock");
                return -1;
            }
            Thread.Sleep(20);
        }
        string text = $"net:[{NetNamespace.CurrentInode()}]\n";
        string path = Path.Combine(dir, NamespaceFile);
        try
        {
            if (!File.Exists(path) || File.ReadAllText(path) != text)
                AtomicFile.Write(path, System.Text.Encoding.ASCII.GetBytes(text));
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        return fd;
    }

    /// <summary>
    /// Removes other namespaces' folders untouched for <see cref="MinimumAge"/> whose lock nobody holds (no forwarder
    /// serves them): one that holds only a log (what a forwarder killed before this change left), and one with state
    /// whose namespace no process and no mount holds any more (its inode is not among the live namespaces). A folder
    /// of a namespace that still exists keeps its state for the next forwarder there, and so does every folder with
    /// state when this process cannot see every process's namespace (no CAP_SYS_PTRACE under the systemd units, or
    /// /proc mounted with hidepid): a namespace it cannot see is not one it may call gone.
    /// </summary>
    public static void CollectDead(string ownKey)
    {
        IEnumerable<string> dirs;
        try
        {
            dirs = Directory.EnumerateDirectories(ForwarderPaths.StateRoot).ToArray();
        }
        catch (IOException) { return; }
        catch (UnauthorizedAccessException) { return; }
        HashSet<string>? live = null;
        bool liveRead = false;
        foreach (var dir in dirs)
        {
            try
            {
                if (Path.GetFileName(dir) == ownKey || !Untouched(dir) || Claimed(dir))
                    continue;
                if (File.Exists(Path.Combine(dir, "state.json")))
                {
                    string recorded = ReadNamespace(dir);
                    if (recorded.Length == 0)
                        continue;
                    if (!liveRead)
                    {
                        live = LiveNamespaces(out string why);
                        liveRead = true;
                        if (live is null)
                            Log.Info($"keeping other namespaces' state folders: cannot tell which namespaces exist ({why})");
                    }
                    if (live is null || live.Contains(recorded))
                        continue;
                    Log.Info($"removing {dir}: its namespace ({recorded}) and its forwarder are gone");
                }
                Directory.Delete(dir, recursive: true);
            }
            catch (IOException) { }
            catch (UnauthorizedAccessException) { }
        }
    }

    /// <summary>Whether the folder and everything in it is older than <see cref="MinimumAge"/>; an empty one is not.</summary>
    private static bool Untouched(string dir)
    {
        var before = DateTime.UtcNow - MinimumAge;
        if (Directory.GetLastWriteTimeUtc(dir) >= before)
            return false;
        bool any = false;
        foreach (var f in Directory.EnumerateFiles(dir))
        {
            any = true;
            if (File.GetLastWriteTimeUtc(f) >= before)
                return false;
        }
        return any;
    }

    private static int OpenFolder(string dir)
    {
        fixed (byte* p = System.Text.Encoding.UTF8.GetBytes(dir + "\0"))
            return open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    }

    /// <summary>Whether a live process holds the folder's lock (a forwarder serving it, whichever pid namespace it is in).</summary>
    private static bool Claimed(string dir)
    {
        int fd = OpenFolder(dir);
        if (fd < 0)
            return true;
        try
        {
            return Flock(fd, LOCK_EX | LOCK_NB) != 0;
        }
        finally
        {
            Sys.Close(fd);
        }
    }

    /// <summary>
    /// A link's target, or null with the errno: FileInfo.LinkTarget answers a link it may not read (EACCES, a process
    /// without ptrace access to it) with null and no error, which must not pass for "no namespace here".
    /// </summary>
    private static string? ReadLink(string path, out int error)
    {
        var buffer = new byte[256];
        long n;
        fixed (byte* p = System.Text.Encoding.UTF8.GetBytes(path + "\0"))
        fixed (byte* b = buffer)
            n = readlink(p, b, buffer.Length);
        error = n < 0 ? Sys.Errno : 0;
        return n < 0 ? null : System.Text.Encoding.UTF8.GetString(buffer, 0, (int)n);
    }

    private static string ReadNamespace(string dir)
    {
        try
        {
            string text = File.ReadAllText(Path.Combine(dir, NamespaceFile)).Trim();
            return text.StartsWith("net:[", StringComparison.Ordinal) && text.EndsWith(']') ? text : "";
        }
        catch (IOException) { return ""; }
        catch (UnauthorizedAccessException) { return ""; }
    }

    /// <summary>
    /// The network namespaces that exist: those of every process (/proc/PID/ns/net) and those bind-mounted anywhere in
    /// this mount namespace (`ip netns add`'s /run/netns/NAME, container runtimes'). Null when the list may be short:
    /// a process's link this process may not read (reading it takes ptrace access), PID 1's among them (a /proc with
    /// hidepid shows no error, only fewer processes), a child pid namespace, or no mount table.
    /// </summary>
    internal static HashSet<string>? LiveNamespaces(out string why)
    {
        var live = new HashSet<string>(StringComparer.Ordinal);
        why = "";
        try
        {
            // In a child pid namespace (a container) /proc shows only that namespace's processes.
            foreach (var line in File.ReadLines("/proc/self/status"))
                if (line.StartsWith("NSpid:", StringComparison.Ordinal) && line.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries).Length > 2)
                {
                    why = "this process is in a child pid namespace";
                    return null;
                }
            if (ReadLink("/proc/1/ns/net", out int initError) is { } init)
                live.Add(init);
            else if (initError == EACCES || initError == EPERM)
                // Some machines' init (a sandbox's supervisor) refuses even root. Init lives in the initial namespace,
                // which is never gone, and whose inode is fixed (PROC_NET_INIT_INO, 0xEFFFFFF9) on current kernels.
                live.Add("net:[4026531833]");
            else
            {
                why = $"/proc/1/ns/net: {new ErrnoException(initError, "readlink").Message}";
                return null;
            }
            foreach (var proc in Directory.EnumerateDirectories("/proc"))
            {
                string name = Path.GetFileName(proc);
                if (name.Length == 0 || !char.IsAsciiDigit(name[0]))
                    continue;
                if (name == "1")
                    continue;
                if (ReadLink(proc + "/ns/net", out int error) is { } target)
                    live.Add(target);
                else if (error != ENOENT && error != ESRCH)   // not "the process ended meanwhile"
                {
                    why = $"{proc}/ns/net: {new ErrnoException(error, "readlink").Message}";
                    return null;
                }
            }
            // mountinfo: "ID PARENT MAJ:MIN ROOT MOUNTPOINT ... - FSTYPE SOURCE OPTIONS"; an nsfs mount's root is "net:[N]".
            foreach (var line in File.ReadLines("/proc/self/mountinfo"))
            {
                var fields = line.Split(' ');
                int dash = Array.IndexOf(fields, "-");
                if (dash > 3 && dash + 1 < fields.Length && fields[dash + 1] == "nsfs" && fields[3].StartsWith("net:[", StringComparison.Ordinal))
                    live.Add(fields[3]);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            why = e.Message;
            return null;
        }
        return live;
    }
}
