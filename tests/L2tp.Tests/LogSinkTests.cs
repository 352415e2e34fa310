using L2tp.Forwarder;
using Xunit;

namespace L2tp.Tests;

/// <summary>The forwarder's log stays bounded: rotation to one old file, and a rate limit per kind of line.</summary>
public sealed class LogSinkTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("l2tp-log-").FullName;
    private string LogPath => Path.Combine(_dir, "forwarder.log");
    private DateTime _now = new(2024, 1, 1, 0, 0, 0, DateTimeKind.Utc);

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private LogSink Sink(long maxBytes, int perSecond) => new(LogPath, maxBytes, redirectStdio: false, perSecond, () => _now);

    [Fact]
    public void A_flood_of_distinct_lines_keeps_the_log_and_one_old_file_under_the_size_limit()
    {
        var sink = Sink(maxBytes: 4096, perSecond: 1000);
        for (int i = 0; i < 5000; i++)
            sink.Write("error", $"site{i}", $"client {i}: malformed request: attribute length beyond the message");
        Assert.True(new FileInfo(LogPath).Length <= 4096, $"forwarder.log is {new FileInfo(LogPath).Length} bytes");
        Assert.True(new FileInfo(LogPath + ".1").Length <= 4096);
        Assert.Equal(new[] { "forwarder.log", "forwarder.log.1" }, Directory.GetFiles(_dir).Select(Path.GetFileName).Order());
        Assert.Contains("client 4999:", File.ReadAllText(LogPath));
    }

    [Fact]
    public void Repeated_lines_of_one_kind_are_cut_to_the_limit_and_counted_in_one_line_a_second_later()
    {
        var sink = Sink(maxBytes: 1 << 20, perSecond: 5);
        for (int i = 0; i < 1000; i++)
            sink.Write("error", "ControlServer.cs:150", $"client 42: malformed request {i}");
        _now = _now.AddSeconds(1.5);
        sink.Write("info", "Forwarder.cs:70", "tunnel 1 created");
        var lines = File.ReadAllLines(LogPath);
        Assert.Equal(5, lines.Count(l => l.Contains("malformed request")));
        Assert.Single(lines, l => l.Contains("995 more line(s) from ControlServer.cs:150 suppressed"));
        Assert.EndsWith("tunnel 1 created", lines[^1]);
    }

    [Fact]
    public void Another_kind_is_written_while_one_kind_is_suppressed()
    {
        var sink = Sink(maxBytes: 1 << 20, perSecond: 2);
        for (int i = 0; i < 10; i++)
            sink.Write("error", "a", "noise");
        sink.Write("info", "b", "signal");
        Assert.Contains("signal", File.ReadAllText(LogPath));
    }
}
