using System.Management.Automation;
using System.Management.Automation.Host;

namespace L2tp.Commands;

/// <summary>Watch-L2tpSession: per-session rates, errors and last receive, live until Ctrl+C, or N samples as objects.</summary>
[Cmdlet(VerbsCommon.Watch, "L2tpSession")]
[OutputType(typeof(L2tpSessionSample))]
public sealed class WatchL2tpSessionCommand : L2tpCmdlet
{
    /// <summary>Only sessions of this tunnel.</summary>
    [Parameter(Position = 0)]
    [Alias("tunnel_id")]
    [ArgumentCompleter(typeof(TunnelIdCompleter))]
    public uint? TunnelId { get; set; }

    /// <summary>Only this session id.</summary>
    [Parameter(Position = 1)]
    [Alias("session_id")]
    [ArgumentCompleter(typeof(SessionIdCompleter))]
    public uint? SessionId { get; set; }

    /// <summary>Seconds between samples.</summary>
    [Parameter]
    public double Interval { get; set; } = 1;

    /// <summary>Write this many samples as objects (one per session per sample) and stop, instead of a live table.</summary>
    [Parameter]
    public int? Count { get; set; }

    private Coordinates? _origin;
    private int _lines;

    /// <inheritdoc/>
    protected override void ProcessL2tpRecord() =>
        Pseudowires.Watch(TunnelId, SessionId, TimeSpan.FromSeconds(Interval), Count, Show);

    private void Show(IReadOnlyList<L2tpSessionSample> samples)
    {
        if (Count is not null || !TryDraw(samples))
            WriteObject(samples, enumerateCollection: true);
    }

    /// <summary>Redraws the table in place on an interactive console; false where it cannot (output redirected, no raw UI).</summary>
    private bool TryDraw(IReadOnlyList<L2tpSessionSample> samples)
    {
        if (Console.IsOutputRedirected || Host?.UI?.RawUI is not { } raw)
            return false;
        try
        {
            _origin ??= raw.CursorPosition;
            int width = Math.Max(40, raw.BufferSize.Width - 1);
            var lines = new List<string>
            {
                $"{"Tunnel",7} {"Session",8} {"Interface",-12} {"Rx pkt/s",10} {"Rx bit/s",11} {"Tx pkt/s",10} {"Tx bit/s",11} {"Err",5} {"Disc",5} {"Peer",-7} Last received",
            };
            foreach (var s in samples)
                lines.Add($"{s.TunnelId,7} {s.SessionId,8} {s.InterfaceName,-12} {s.RxPacketsPerSecond,10:0} {Bits(s.RxBitsPerSecond),11} " +
                    $"{s.TxPacketsPerSecond,10:0} {Bits(s.TxBitsPerSecond),11} {s.Errors,5} {s.Discards,5} {s.PeerState,-7} " +
                    (s.LastReceived is { } t ? $"{(DateTime.UtcNow - t).TotalSeconds:0.0} s ago" : "-"));
            lines.Add($"every {Interval:0.#} s; Ctrl+C to stop");
            raw.CursorPosition = _origin.Value;
            for (int i = 0; i < Math.Max(lines.Count, _lines); i++)
            {
                string text = i < lines.Count ? lines[i] : "";
                Host.UI.WriteLine(text.Length > width ? text[..width] : text.PadRight(width));
            }
            _lines = lines.Count;
            return true;
        }
        catch (Exception e) when (e is NotImplementedException or HostException or InvalidOperationException or IOException or ArgumentOutOfRangeException)
        {
            return false;
        }
    }

    private static string Bits(double bps) => bps switch
    {
        >= 1e9 => $"{bps / 1e9:0.00}G",
        >= 1e6 => $"{bps / 1e6:0.00}M",
        >= 1e3 => $"{bps / 1e3:0.0}k",
        _ => $"{bps:0}",
    };
}
