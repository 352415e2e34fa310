namespace L2tp.Forwarder;

/// <summary>Timestamped lines to stderr, which a daemonized forwarder points at its log file.</summary>
internal static class Log
{
    private static readonly object Gate = new();

    public static void Info(string text) => Write("info", text);
    public static void Error(string text) => Write("error", text);

    private static void Write(string level, string text)
    {
        lock (Gate)
            Console.Error.WriteLine($"{DateTime.UtcNow:yyyy-MM-ddTHH:mm:ss.fffZ} [{Environment.ProcessId}] {level}: {text}");
    }
}
