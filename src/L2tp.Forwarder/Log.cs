using System.Runtime.CompilerServices;
using System.Text;

namespace L2tp.Forwarder;

/// <summary>Timestamped lines to stderr, or to forwarder.log for a daemon; bounded in size and in rate either way.</summary>
internal static class Log
{
    /// <summary>forwarder.log is renamed to forwarder.log.1 past this size: a flood costs at most twice this on disk.</summary>
    public const long MaxBytes = 1024 * 1024;

    /// <summary>Lines per second from one call site before the rest of that second is counted, not written.</summary>
    public const int LinesPerSecond = 20;

    private static LogSink _sink = new(null, MaxBytes, redirectStdio: false, LinesPerSecond, () => DateTime.UtcNow);

    /// <summary>From now on writes to <paramref name="path"/>, rotating it and keeping fds 1 and 2 on the current file.</summary>
    public static void ToFile(string path) =>
        _sink = new LogSink(path, MaxBytes, redirectStdio: true, LinesPerSecond, () => DateTime.UtcNow);

    public static void Info(string text, [CallerFilePath] string file = "", [CallerLineNumber] int line = 0) =>
        _sink.Write("info", $"{Path.GetFileName(file)}:{line}", text);

    public static void Error(string text, [CallerFilePath] string file = "", [CallerLineNumber] int line = 0) =>
        _sink.Write("error", $"{Path.GetFileName(file)}:{line}", text);
}

/// <summary>
/// Where log lines go: stderr, or a file rotated to one ".1" beside it. Lines are rate-limited per kind (the call
/// site): a client or a peer that makes the forwarder complain thousands of times a second must not fill /run.
/// </summary>
internal sealed class LogSink
{
    private sealed class Window
    {
        public DateTime Start;
        public int Written;
        public int Suppressed;
    }

    private readonly object _gate = new();
    private readonly string? _path;
    private readonly long _maxBytes;
    private readonly bool _redirectStdio;
    private readonly int _perSecond;
    private readonly Func<DateTime> _clock;
    private readonly Dictionary<string, Window> _windows = new();
    private FileStream? _file;

    public LogSink(string? path, long maxBytes, bool redirectStdio, int perSecond, Func<DateTime> clock)
    {
        _path = path;
        _maxBytes = maxBytes;
        _redirectStdio = redirectStdio;
        _perSecond = perSecond;
        _clock = clock;
    }

    public void Write(string level, string kind, string text)
    {
        lock (_gate)
        {
            var now = _clock();
            ReportSuppressed(now);
            if (!_windows.TryGetValue(kind, out var w))
                _windows[kind] = w = new Window { Start = now };
            if (w.Written >= _perSecond)
            {
                w.Suppressed++;
                return;
            }
            w.Written++;
            Emit(now, level, text);
        }
    }

    /// <summary>One line per kind whose second is over and which had lines held back, then a fresh window for it.</summary>
    private void ReportSuppressed(DateTime now)
    {
        List<string>? done = null;
        foreach (var (kind, w) in _windows)
        {
            if (now - w.Start < TimeSpan.FromSeconds(1))
                continue;
            if (w.Suppressed > 0)
                Emit(now, "info", $"{w.Suppressed} more line(s) from {kind} suppressed (more than {_perSecond} a second)");
            (done ??= new()).Add(kind);
        }
        if (done is not null)
            foreach (var k in done)
                _windows.Remove(k);
    }

    private void Emit(DateTime now, string level, string text)
    {
        string line = $"{now:yyyy-MM-ddTHH:mm:ss.fffZ} [{Environment.ProcessId}] {level}: {text}\n";
        if (_path is null)
        {
            Console.Error.Write(line);
            return;
        }
        var bytes = Encoding.UTF8.GetBytes(line);
        try
        {
            _file ??= Open();
            // Length is the file's (fstat), so output of the runtime itself on fds 1 and 2 counts too.
            if (_file.Length > 0 && _file.Length + bytes.Length > _maxBytes)
                Rotate();
            _file.Write(bytes);
            _file.Flush();
        }
        catch (IOException)
        {
            // A full or vanished /run must not stop the data plane: the line is lost, nothing else.
        }
    }

    private FileStream Open()
    {
        var f = PrivateFile.Open(_path!, FileMode.Append, FileShare.ReadWrite | FileShare.Delete);
        if (_redirectStdio)
        {
            // Crash output of the runtime goes to fds 1 and 2: keep them on the current file, not the renamed one.
            int fd = (int)f.SafeFileHandle.DangerousGetHandle();
            Tmds.Linux.LibC.dup2(fd, 1);
            Tmds.Linux.LibC.dup2(fd, 2);
        }
        return f;
    }

    private void Rotate()
    {
        _file!.Dispose();
        _file = null;
        File.Move(_path!, _path + ".1", overwrite: true);
        _file = Open();
    }
}
