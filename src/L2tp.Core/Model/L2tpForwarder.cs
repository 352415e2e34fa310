namespace L2tp;

/// <summary>The managed forwarder of one network namespace, as Get-L2tpForwarder shows it.</summary>
public sealed class L2tpForwarder
{
    /// <summary>Process id of l2tp-forwarder, as this process's pid namespace numbers it.</summary>
    public int ProcessId { get; set; }
    /// <summary>The network namespace (name under /run/netns); empty for the caller's own.</summary>
    public string NetworkNamespace { get; set; } = "";
    /// <summary>The namespace's identity (netns cookie) that names its folder under /run/l2tp.</summary>
    public string NetnsKey { get; set; } = "";
    /// <summary>When this forwarder process started (UTC).</summary>
    public DateTime StartTime { get; set; }
    /// <summary>Version of the running l2tp-forwarder.</summary>
    public string Version { get; set; } = "";
    /// <summary>Tunnels it carries.</summary>
    public int Tunnels { get; set; }
    /// <summary>Sessions it carries.</summary>
    public int Sessions { get; set; }
    /// <summary>The state file it restores from after a restart.</summary>
    public string StatePath { get; set; } = "";
    /// <summary>Its log (forwarder.log; forwarder.log.1 is the previous one).</summary>
    public string LogPath { get; set; } = "";
    /// <summary>State file entries set aside as unusable (kept in state.json.rejected), with the reason for each.</summary>
    public L2tpRejectedEntry[] RejectedEntries { get; set; } = Array.Empty<L2tpRejectedEntry>();

    /// <inheritdoc/>
    public override string ToString() => $"l2tp-forwarder {ProcessId}";
}

/// <summary>A state file entry the forwarder could not restore and set aside, and why.</summary>
public sealed class L2tpRejectedEntry
{
    /// <summary>When it was set aside (UTC).</summary>
    public DateTime Time { get; set; }
    /// <summary>Which entry: "tunnel 3000", "session 1000 of tunnel 3000", "the whole state file".</summary>
    public string What { get; set; } = "";
    /// <summary>Why it could not be used.</summary>
    public string Reason { get; set; } = "";
    /// <summary>The entry as it was in the state file (JSON).</summary>
    public string Entry { get; set; } = "";

    /// <inheritdoc/>
    public override string ToString() => $"{What}: {Reason}";
}
