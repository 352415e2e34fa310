// The forwarder runs on Linux alone (TAP, netlink); marking its assembly so would mark every type the tests reach.
#pragma warning disable CA1416

using L2tp.Native;
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
    /// older version left readable, in this namespace's folder and in those of namespaces no forwarder serves now. A file
    /// already 0600, all of them after the first start, costs one lstat.
    /// </summary>
    public static void NarrowAll(string root)
    {
        IEnumerable<string> files;
        try { files = Directory.EnumerateDirectories(root).SelectMany(Directory.EnumerateFiles).ToList(); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return; }
        foreach (var path in files)
        {
            if (Sys.LinkStatus(path) is not { } seen || !Sys.IsRegularFile(seen.Mode) || (seen.Mode & (uint)GroupOrOther) == 0)
                continue;
            // Changed through a descriptor opened without following a link, and looked at again through it: what is
            // changed is what was looked at, even if the path was replaced meanwhile.
            int fd = Sys.OpenReadOnly(path, O_NOFOLLOW | O_NONBLOCK);
            if (fd < 0)
                continue;
            if (Sys.Status(fd) is { } st && Sys.IsRegularFile(st.Mode) && fchmod(fd, (mode_t)(st.Mode & 0x1C0 /* the owner's bits */)) != 0)
                Log.Error($"cannot make {path} root's alone: errno {Sys.Errno}");
            Sys.Close(fd);
        }
    }
}
