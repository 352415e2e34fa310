using System.Text.Json;
using ScottPlot;

namespace L2tp.BenchPlot;

/// <summary>Reads bench.json and draws its figures as PNGs: session-creation time, and throughput, RTT and small-frame rate per path.</summary>
internal static class Program
{
    private static int Main(string[] args)
    {
        if (args.Length != 2)
        {
            Console.Error.WriteLine("usage: L2tp.BenchPlot <bench.json> <output folder>");
            return 2;
        }
        using var doc = JsonDocument.Parse(File.ReadAllText(args[0]));
        Directory.CreateDirectory(args[1]);
        int drawn = 0;
        if (doc.RootElement.TryGetProperty("ControlPlane", out var cp))
        {
            ControlPlane(cp, Path.Combine(args[1], "control-plane.png"), "l2tp-forwarder: time to make a session, per hundred made",
                "sessions in the forwarder", "ip -batch tuntap add", "per TAP", 5);
            drawn++;
        }
        if (doc.RootElement.TryGetProperty("KernelControlPlane", out var kcp))
        {
            ControlPlane(kcp, Path.Combine(args[1], "kernel-control-plane.png"), "Kernel backend in the kernel lab (TCG): time to make a session, per hundred made",
                "sessions in the tunnel", "ip -batch l2tp add session", "per session", 1.5);
            drawn++;
        }
        if (doc.RootElement.TryGetProperty("DataPlane", out var dp) && dp.TryGetProperty("Paths", out var paths))
        {
            var rows = paths.EnumerateArray().ToArray();
            PathBars(rows, "Gbps", "TCP throughput, one iperf3 stream (Gbit/s)", Path.Combine(args[1], "throughput.png"));
            PathBars(rows, "RttUs", "ping RTT, median of 200 (µs)", Path.Combine(args[1], "rtt.png"));
            PathBars(rows, "Kpps64", "64-byte frames delivered (thousands per second)", Path.Combine(args[1], "small-frames.png"));
            drawn += 3;
            if (rows.Any(r => r.TryGetProperty("Kpps64BigBuffer", out _)))
            {
                PathBars(rows, "Kpps64BigBuffer", "64-byte frames delivered, 4 MiB socket buffers (thousands per second)",
                    Path.Combine(args[1], "small-frames-4mib.png"));
                drawn++;
            }
        }
        if (drawn == 0)
        {
            Console.Error.WriteLine($"{args[0]} has no ControlPlane, KernelControlPlane or DataPlane figures.");
            return 1;
        }
        return 0;
    }

    // One horizontal bar per path, labelled with the path and its value, so the baselines sit beside ours.
    private static void PathBars(JsonElement[] rows, string field, string title, string file)
    {
        var names = rows.Select(r => r.GetProperty("Path").GetString() ?? "").ToArray();
        var values = rows.Select(r => r.TryGetProperty(field, out var v) && v.ValueKind == JsonValueKind.Number ? v.GetDouble() : 0).ToArray();
        var plot = new Plot();
        var bars = new List<Bar>();
        for (int i = 0; i < values.Length; i++)
        {
            // Top to bottom in the bench's order.
            double pos = values.Length - 1 - i;
            bool ours = names[i].StartsWith("L2tp", StringComparison.Ordinal);
            bars.Add(new Bar { Position = pos, Value = values[i], Label = values[i].ToString("0.##"),
                FillColor = ours ? Colors.SteelBlue : Colors.Gray });
        }
        var series = plot.Add.Bars(bars);
        series.Horizontal = true;
        plot.Axes.Left.SetTicks(Enumerable.Range(0, values.Length).Select(i => (double)(values.Length - 1 - i)).ToArray(), names);
        plot.Axes.Margins(left: 0, right: 0.15);
        plot.Title(title);
        plot.SavePng(file, 1000, 60 * values.Length + 120);
        Console.WriteLine($"Wrote {file}");
    }

    private static void ControlPlane(JsonElement cp, string file, string title, string xLabel, string baseline, string per, double targetFactor)
    {
        double[] Hundreds(string name) => cp.TryGetProperty(name, out var a) && a.ValueKind == JsonValueKind.Array
            ? a.EnumerateArray().Select(e => e.GetDouble() * 1000 / 100).ToArray()   // ms per session within each hundred
            : Array.Empty<double>();
        double Seconds(string name) => cp.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number ? v.GetDouble() : double.NaN;

        var plot = new Plot();
        var loop = Hundreds("PerHundredSeconds");
        var many = Hundreds("ManyPerHundredSeconds");
        if (many.Length > 0)
        {
            var s = plot.Add.Scatter(Enumerable.Range(1, many.Length).Select(i => i * 100.0).ToArray(), many);
            s.LegendText = "one pipeline into New-L2tpSession";
            s.MarkerSize = 0;
        }
        if (loop.Length > 0)
        {
            var s = plot.Add.Scatter(Enumerable.Range(1, loop.Length).Select(i => i * 100.0).ToArray(), loop);
            s.LegendText = "one New-L2tpSession call each";
            s.MarkerSize = 5;
        }
        var quiet = Hundreds("QuietClientPerHundredSeconds");
        if (quiet.Length > 0)
        {
            var s = plot.Add.Scatter(Enumerable.Range(1, quiet.Length).Select(i => i * 100.0).ToArray(), quiet);
            s.LegendText = "one call each, pwsh without tiered compilation or gen0 collections";
            s.MarkerSize = 3;
        }
        // The baseline: ip -batch making TAP devices, per device, as a level line.
        double ipAdd = Seconds("IpBatchAddSeconds"), sessions = Seconds("Sessions");
        if (!double.IsNaN(ipAdd) && sessions > 0)
        {
            var perTap = ipAdd * 1000 / sessions;
            var line = plot.Add.HorizontalLine(perTap);
            line.LegendText = $"{baseline} ({perTap:0.00} ms {per})";
            line.LinePattern = LinePattern.Dashed;
            var target = plot.Add.HorizontalLine(perTap * targetFactor);
            target.LegendText = $"target: {targetFactor} × ip -batch";
            target.LinePattern = LinePattern.Dotted;
        }
        plot.Title(title);
        plot.XLabel(xLabel);
        plot.YLabel("ms per session (mean over each hundred)");
        plot.Axes.SetLimitsY(0, Math.Max(1, new[] { loop, many, quiet }.SelectMany(x => x).DefaultIfEmpty(1).Max() * 1.15));
        plot.ShowLegend(Alignment.UpperRight);
        plot.SavePng(file, 900, 500);
        Console.WriteLine($"Wrote {file}");
    }
}
