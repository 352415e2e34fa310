using static Tmds.Linux.LibC;

namespace L2tp.Forwarder;

/// <summary>
/// Replaces a file so that after a crash or power loss it holds the old content or the new, never a mix or
/// nothing: a temporary file in the same folder, written and fsynced, renamed over the old one, then the folder
/// fsynced so that the rename itself is on disk.
/// </summary>
internal static unsafe class AtomicFile
{
    public static void Write(string path, ReadOnlySpan<byte> content)
    {
        var copy = content.ToArray();
        Write(path, f => f.Write(copy));
    }

    /// <summary>
    /// The same, with the content written by <paramref name="write"/> straight into the temporary file: a large state
    /// is never held whole in memory (a multi-megabyte array would sit on the large object heap, in the RSS).
    /// </summary>
    public static void Write(string path, Action<FileStream> write)
    {
        string dir = Path.GetDirectoryName(Path.GetFullPath(path))!;
        string tmp = Path.Combine(dir, $".{Path.GetFileName(path)}.{Environment.ProcessId}.tmp");
        try
        {
            using (var f = PrivateFile.Open(tmp, FileMode.Create, FileShare.None))
            {
                write(f);
                f.Flush(flushToDisk: true);
            }
            File.Move(tmp, path, overwrite: true);
        }
        catch
        {
            try { File.Delete(tmp); } catch (IOException) { }
            throw;
        }
        var d = System.Text.Encoding.UTF8.GetBytes(dir + "\0");
        int fd;
        fixed (byte* p = d)
            fd = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd >= 0)
        {
            fsync(fd);
            close(fd);
        }
    }
}
