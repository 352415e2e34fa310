namespace L2tp.Control;

/// <summary>
/// The forwarder's contract with whoever starts and reaches it (the module, systemd): its program, how it is started
/// as a daemon, where it listens and keeps its state and log. Module and forwarder share this and nothing else.
/// </summary>
internal static class ForwarderPaths
{
    /// <summary>The program's name: l2tp-forwarder.dll (run by dotnet exec) or its apphost, beside L2tp.dll.</summary>
    public const string Program = "l2tp-forwarder";

    /// <summary>Started with this, it detaches: a session of its own, fds 0-2 only, output to its log.</summary>
    public const string DaemonFlag = "--daemon";

    /// <summary>Abstract unix socket name; abstract names are per network namespace, so each namespace has its own.</summary>
    public const string SocketName = "l2tp-forwarder";

    /// <summary>Root of per-namespace state; overridable for tests through L2TP_STATE_ROOT.</summary>
    public static string StateRoot => Environment.GetEnvironmentVariable("L2TP_STATE_ROOT") is { Length: > 0 } r ? r : "/run/l2tp";

    /// <summary>
    /// The folder for the namespace with this key (<see cref="Native.NetNamespace.CurrentKey"/>). `ip netns exec`
    /// shares /run between namespaces, so the namespace's own identity, not a name, is the key.
    /// </summary>
    public static string StateDir(string netnsKey) => Path.Combine(StateRoot, netnsKey);

    public static string StateFile(string netnsKey) => Path.Combine(StateDir(netnsKey), "state.json");
    public static string LogFile(string netnsKey) => Path.Combine(StateDir(netnsKey), "forwarder.log");
}
