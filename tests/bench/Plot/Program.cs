using System.Text.Json;
using ScottPlot;

namespace L2tp.BenchPlot;

/// <summary>Reads bench.json and plots session-creation time per hundred sessions against the session count.</summary>
internal static class Program
{
    private static int Main(string[] args)
    {
        if (args.Length != 2)
        {
            Console.Error.WriteLine("usage: L2tp.BenchPlot <bench.json> <out.png>");
            return 2;
        }
        using var doc = JsonDocument.Parse(File.ReadAllText(args[0]));
        if (!doc.RootElement.TryGetProperty("ControlPlane", out var cp))
        {
            Console.Error.WriteLine($"{args[0]} has no ControlPlane figures: run the bench with -BenchPart ControlPlane or All.");
            return 1;
        }
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
        // The baseline: ip -batch making TAP devices, per device, as a level line.
        double ipAdd = Seconds("IpBatchAddSeconds"), sessions = Seconds("Sessions");
        if (!double.IsNaN(ipAdd) && sessions > 0)
        {
            var perTap = ipAdd * 1000 / sessions;
            var line = plot.Add.HorizontalLine(perTap);
            line.LegendText = $"ip -batch tuntap add ({perTap:0.00} ms per TAP)";
            line.LinePattern = LinePattern.Dashed;
            var target = plot.Add.HorizontalLine(perTap * 5);
            target.LegendText = "target: 5 × ip -batch";
            target.LinePattern = LinePattern.Dotted;
        }
        plot.Title("l2tp-forwarder: time to make a session, per hundred made");
        plot.XLabel("sessions in the forwarder");
        plot.YLabel("ms per session (mean over each hundred)");
        plot.Axes.SetLimitsY(0, Math.Max(1, new[] { loop, many }.SelectMany(x => x).DefaultIfEmpty(1).Max() * 1.15));
        plot.ShowLegend(Alignment.UpperRight);
        plot.SavePng(args[1], 900, 500);
        Console.WriteLine($"Wrote {args[1]}");
        return 0;
    }
}
