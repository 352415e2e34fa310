namespace L2tp;

/// <summary>A network interface (a session's or any other) as the interface helpers show and change it.</summary>
public sealed class L2tpInterface
{
    /// <summary>Interface name; binds to -InterfaceName of the next cmdlet.</summary>
    public string InterfaceName { get; set; } = "";
    /// <summary>Kernel interface index.</summary>
    public int Index { get; set; }
    /// <summary>Administratively up.</summary>
    public bool Up { get; set; }
    /// <summary>Current MTU.</summary>
    public int Mtu { get; set; }
    /// <summary>MAC address, colon-separated lower-case hex.</summary>
    public string MacAddress { get; set; } = "";
    /// <summary>Addresses as `ip addr` writes them: 198.51.100.1/24, or 198.51.100.1 peer 198.51.100.2/32.</summary>
    public string[] Addresses { get; set; } = Array.Empty<string>();
    /// <summary>The bridge (or other master) this interface is a port of; empty for none.</summary>
    public string Master { get; set; } = "";
    /// <summary>The network namespace (name under /run/netns); empty for the caller's own.</summary>
    public string NetworkNamespace { get; set; } = "";

    /// <inheritdoc/>
    public override string ToString() => InterfaceName;
}

/// <summary>A Linux bridge and its ports, as the bridge helpers show it.</summary>
public sealed class L2tpBridge
{
    /// <summary>Bridge name; -Bridge of Add-L2tpBridgePort takes it or the object.</summary>
    public string Name { get; set; } = "";
    /// <summary>Kernel interface index.</summary>
    public int Index { get; set; }
    /// <summary>Administratively up.</summary>
    public bool Up { get; set; }
    /// <summary>Current MTU.</summary>
    public int Mtu { get; set; }
    /// <summary>Names of the interfaces enslaved to the bridge.</summary>
    public string[] Ports { get; set; } = Array.Empty<string>();
    /// <summary>The network namespace (name under /run/netns); empty for the caller's own.</summary>
    public string NetworkNamespace { get; set; } = "";

    /// <inheritdoc/>
    public override string ToString() => Name;
}
