namespace L2tp.Backends;

/// <summary>Where the managed forwarder of a network namespace listens and keeps its state (shared by module and forwarder).</summary>
internal static class ForwarderPaths
{
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
