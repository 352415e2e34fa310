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
    /// however the process ends) and records its namespace there. Returns the fd, or -1 where the folder cannot be
    /// locked (another forwarder of this namespace holds it; binding the socket then tells which one serves).
    /// </summary>
    public static int Claim(string dir)
    {
        int fd = OpenFolder(dir);
        if (fd < 0)
            return -1;
        if (Flock(fd, LOCK_EX | LOCK_NB) != 0)
        {
            Sys.Close(fd);
            return -1;
        }
        string text = $"net:[{NetNamespace.CurrentInode()}]\n";
        string path = Path.Combine(dir, NamespaceFile);
        try
        {
            if (!File.Exists(path) || File.ReadAllText(path) != text)
                File.WriteAllText(path, text);
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        return fd;
    }

    /// <summary>
    /// Removes other namespaces' folders untouched for <see cref="MinimumAge"/>: one that holds only a log (what a
    /// forwarder killed before this change left), and one with state whose forwarder is gone (nobody holds its lock)
    /// and whose namespace no process and no mount holds any more (its inode is not among the live namespaces). A folder
    /// of a namespace that still exists keeps its state for the next forwarder there.
    /// </summary>
    public static void CollectDead(string ownKey)
    {
        HashSet<string>? live = null;
        try
        {
            foreach (var dir in Directory.EnumerateDirectories(ForwarderPaths.StateRoot))
            {
                if (Path.GetFileName(dir) == ownKey)
                    continue;
                if (!Directory.EnumerateFiles(dir).All(f => File.GetLastWriteTimeUtc(f) < DateTime.UtcNow - MinimumAge))
                    continue;
                if (File.Exists(Path.Combine(dir, "state.json")))
                {
                    string recorded = ReadNamespace(dir);
                    if (recorded.Length == 0 || Claimed(dir))
                        continue;
                    live ??= LiveNamespaces();
                    if (live.Contains(recorded))
                        continue;
                    Log.Info($"removing {dir}: its namespace ({recorded}) and its forwarder are gone");
                }
                Directory.Delete(dir, recursive: true);
            }
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
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
    /// The network namespaces that exist as far as this process can see: those of every process (/proc/PID/ns/net)
    /// and those bind-mounted anywhere in its mount namespace (`ip netns add`'s /run/netns/NAME, container runtimes').
    /// </summary>
    internal static HashSet<string> LiveNamespaces()
    {
        var live = new HashSet<string>(StringComparer.Ordinal);
        foreach (var proc in Directory.EnumerateDirectories("/proc"))
        {
            string name = Path.GetFileName(proc);
            if (name.Length == 0 || !char.IsAsciiDigit(name[0]))
                continue;
            try
            {
                if (new FileInfo(Path.Combine(proc, "ns/net")).LinkTarget is { } target)
                    live.Add(target);
            }
            catch (IOException) { }
            catch (UnauthorizedAccessException) { }
        }
        try
        {
            // mountinfo: "ID PARENT MAJ:MIN ROOT MOUNTPOINT ... - FSTYPE SOURCE OPTIONS"; an nsfs mount's root is "net:[N]".
            foreach (var line in File.ReadLines("/proc/self/mountinfo"))
            {
                var fields = line.Split(' ');
                int dash = Array.IndexOf(fields, "-");
                if (dash > 0 && dash + 1 < fields.Length && fields[dash + 1] == "nsfs" && fields.Length > 3 && fields[3].StartsWith("net:[", StringComparison.Ordinal))
                    live.Add(fields[3]);
            }
        }
        catch (IOException) { }
        return live;
    }
}
