// The forwarder runs on Linux alone (TAP, netlink); marking its assembly so would mark every type the tests reach.
#pragma warning disable CA1416

namespace L2tp.Forwarder;

/// <summary>
/// Opens the state folder's files for root alone (0600): the state and its journal hold the sessions' cookies, which
/// the forwarder's control socket gives to no unprivileged caller and the kernel's l2tp netlink family to none either.
/// </summary>
internal static class PrivateFile
{
    public const UnixFileMode OwnerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite;

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

    /// <summary>Narrows every file of <paramref name="dir"/> that group or others may use to 0600 (files of older versions).</summary>
    public static void Narrow(string dir)
    {
        IEnumerable<string> files;
        try { files = Directory.EnumerateFiles(dir).ToList(); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return; }
        foreach (var path in files)
        {
            try
            {
                // No link is followed: a link in root's folder is none of the forwarder's files.
                if (new FileInfo(path).LinkTarget is not null)
                    continue;
                var mode = File.GetUnixFileMode(path);
                if ((mode & GroupOrOther) != 0)
                    File.SetUnixFileMode(path, mode & ~GroupOrOther);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                Log.Error($"cannot make {path} root's alone: {e.Message}");
            }
        }
    }
}
