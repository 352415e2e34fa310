namespace L2tp;

/// <summary>What a step of Sync-L2tpConfiguration does to its object.</summary>
public enum L2tpConfigurationAction
{
    /// <summary>Makes an object the system lacks.</summary>
    Create,
    /// <summary>Changes an object in place (an interface's state, a bridge's state).</summary>
    Update,
    /// <summary>Removes an object and makes it again: what cannot change in place (a cookie, ports, addresses of a tunnel).</summary>
    Replace,
    /// <summary>Removes an object the file does not name (-Prune only).</summary>
    Remove,
}

/// <summary>The kind of object a configuration step or difference is about, in the order Sync applies them.</summary>
public enum L2tpConfigurationObject
{
    /// <summary>An L2TP tunnel.</summary>
    Tunnel,
    /// <summary>An L2TP session (and so its interface).</summary>
    Session,
    /// <summary>A session's interface state: up, MTU, MAC, addresses.</summary>
    Interface,
    /// <summary>A bridge.</summary>
    Bridge,
    /// <summary>An interface's membership of a bridge.</summary>
    BridgePort,
}

/// <summary>One step of Sync-L2tpConfiguration's plan, written as it is applied.</summary>
public sealed class L2tpConfigurationStep
{
    /// <summary>Create, Update, Replace or Remove.</summary>
    public L2tpConfigurationAction Action { get; init; }
    /// <summary>Tunnel, Session, Interface, Bridge or BridgePort.</summary>
    public L2tpConfigurationObject Kind { get; init; }
    /// <summary>The network namespace (name under /run/netns); empty for the caller's own.</summary>
    public string NetworkNamespace { get; init; } = "";
    /// <summary>The object: "tunnel 3000", "session 1000 in tunnel 3000", "interface l2tpeth0", "bridge br0", "port eth0 of bridge br0".</summary>
    public string Target { get; init; } = "";
    /// <summary>What changes, field by field, and why a Replace cannot change in place.</summary>
    public string Detail { get; init; } = "";

    internal L2tpTunnelConfiguration? Tunnel { get; init; }
    internal L2tpSessionConfiguration? Session { get; init; }
    internal uint TunnelId { get; init; }
    internal uint SessionId { get; init; }
    internal string Name { get; init; } = "";
    internal string Bridge { get; init; } = "";
    internal bool? Up { get; init; }
    internal string? Mtu { get; init; }
    internal string? MacAddress { get; init; }
    internal IReadOnlyList<L2tpAddressConfiguration> AddAddresses { get; init; } = Array.Empty<L2tpAddressConfiguration>();
    internal IReadOnlyList<L2tpAddressConfiguration> RemoveAddresses { get; init; } = Array.Empty<L2tpAddressConfiguration>();
    /// <summary>What the step acts on, so a step whose precondition was declined (-Confirm) can be skipped.</summary>
    internal string Key { get; init; } = "";
    internal IReadOnlyList<string> DependsOn { get; init; } = Array.Empty<string>();

    /// <inheritdoc/>
    public override string ToString() =>
        $"{Action} {Target}{(NetworkNamespace.Length > 0 ? $" in network namespace '{NetworkNamespace}'" : "")}{(Detail.Length > 0 ? ": " + Detail : "")}";
}

/// <summary>One difference between a configuration file and the system, as Compare-L2tpConfiguration reports it.</summary>
public sealed class L2tpConfigurationDrift
{
    /// <summary>The network namespace (name under /run/netns); empty for the caller's own.</summary>
    public string NetworkNamespace { get; init; } = "";
    /// <summary>Tunnel, Session, Interface, Bridge or BridgePort.</summary>
    public L2tpConfigurationObject Kind { get; init; }
    /// <summary>The object, named as in a Sync step.</summary>
    public string Target { get; init; } = "";
    /// <summary>The field that differs (the file's key: cookie, mtu, addresses...), or "exists" for a missing or extra object.</summary>
    public string Field { get; init; } = "";
    /// <summary>What the file says.</summary>
    public string Expected { get; init; } = "";
    /// <summary>What the system has.</summary>
    public string Actual { get; init; } = "";

    /// <inheritdoc/>
    public override string ToString() => $"{Target} {Field}: expected {Expected}, actual {Actual}";
}
