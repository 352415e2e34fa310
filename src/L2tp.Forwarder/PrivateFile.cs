// The forwarder runs on Linux alone (TAP, netlink); marking its assembly so would mark every type the tests reach.
#pragma warning disable CA1416

using Tmds.Linux;
using static Tmds.Linux.LibC;

namespace L2tp.Forwarder;

/// <summary>
/// Opens the state folder's files for root alone (0600): the state and its journal hold the sessions' cookies, which
/// the forwarder's control socket gives to no unprivileged caller and the kernel's l2tp netlink family to none either.
/// </summary>
internal static class PrivateFile
{
    public const UnixFileMode OwnerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    /// <summary>Makes a state folder (and the root above it) 0755 whatever the umask: an unprivileged cmdlet may see that state exists.</summary>
    public static void CreateFolder(string dir) => Directory.CreateDirectory(dir, Folder);

    private const UnixFileMode Folder = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute |
        UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute;

    private const UnixFileMode GroupOrOther = UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.GroupExecute |
        UnixFileMode.OtherRead | UnixFileMode.OtherWrite | UnixFileMode.OtherExecute;

    /// <summary>
    /// A new file is made 0600; an existing one (an older version's, or one a person wrote) is narrowed to 0600 through
    /// the open handle, so there is no moment between a check and the change.
    /// </summary>
    public static FileStream Open(string path, FileMode mode, FileShare share, int bufferSize = 4096)
    {
        var f = new FileStream(path, new FileStreamOptions
        {
            Mode = mode, Access = FileAccess.Write, Share = share, BufferSize = bufferSize, UnixCreateMode = OwnerOnly,
        });
        try
        {
            if ((File.GetUnixFileMode(f.SafeFileHandle) & GroupOrOther) != 0)
                File.SetUnixFileMode(f.SafeFileHandle, OwnerOnly);
        }
        catch
        {
            f.Dispose();
            throw;
        }
        return f;
    }

    /// <summary>
    /// Narrows every file of every folder under <paramref name="root"/> that group or others may read to 0600: files an
    /// older version left readable, in this namespace's folder and in those of namespaces no forwarder serves now.
    /// </summary>
    public static unsafe void NarrowAll(string root)
    {
        IEnumerable<string> files;
        try { files = Directory.EnumerateDirectories(root).SelectMany(Directory.EnumerateFiles).ToList(); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return; }
        foreach (var path in files)
        {
            // Through a descriptor opened without following a link: what is changed is what was looked at.
            var bytes = System.Text.Encoding.UTF8.GetBytes(path + "\0");
            int fd;
            fixed (byte* p = bytes)
                fd = open(p, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
            if (fd < 0)
                continue;
            stat st;
            uint mode = fstat(fd, &st) == 0 ? (uint)st.st_mode : 0;
            const uint Type = 0xF000, Regular = 0x8000;
            if ((mode & Type) == Regular && (mode & (uint)GroupOrOther) != 0 && fchmod(fd, (mode_t)(mode & 0x1C0 /* the owner's bits */)) != 0)
                Log.Error($"cannot make {path} root's alone: errno {Tmds.Linux.LibC.errno}");
            close(fd);
        }
    }
}
