namespace L2tp;

/// <summary>A pseudowire made at both ends at once by New-L2tpPseudowire: this end's tunnel and session, and the peer's.</summary>
public sealed class L2tpPseudowire
{
    /// <summary>This end's tunnel id; binds to -TunnelId of Test-/Remove-L2tpPseudowire.</summary>
    public uint TunnelId { get; set; }
    /// <summary>This end's session id; binds to -SessionId of Test-/Remove-L2tpPseudowire.</summary>
    public uint SessionId { get; set; }
    /// <summary>The peer's tunnel id.</summary>
    public uint PeerTunnelId { get; set; }
    /// <summary>The peer's session id.</summary>
    public uint PeerSessionId { get; set; }
    /// <summary>This end's session interface.</summary>
    public string InterfaceName { get; set; } = "";
    /// <summary>The peer's session interface.</summary>
    public string PeerInterfaceName { get; set; } = "";
    /// <summary>The computer the peer end lives on, as the remoting session names it.</summary>
    public string PeerComputerName { get; set; } = "";
    /// <summary>
    /// The PSSession the peer end was made over (a System.Management.Automation.Runspaces.PSSession; typed object here
    /// because Core knows no PowerShell); null when New-L2tpPseudowire opened and closed its own (-HostName).
    /// </summary>
    public object? PeerSession { get; set; }
    /// <summary>This end's tunnel.</summary>
    public L2tpTunnel Tunnel { get; set; } = new();
    /// <summary>This end's session.</summary>
    public L2tpSession Session { get; set; } = new();
    /// <summary>The peer's tunnel, as the peer reported it.</summary>
    public L2tpTunnel PeerTunnel { get; set; } = new();
    /// <summary>The peer's session, as the peer reported it.</summary>
    public L2tpSession PeerL2tpSession { get; set; } = new();
    /// <summary>This end's backend; binds to -Backend of the next cmdlet.</summary>
    public BackendKind Backend { get; set; }
    /// <summary>This end's network namespace (empty for the caller's own); binds to -NetworkNamespace.</summary>
    public string NetworkNamespace { get; set; } = "";

    /// <inheritdoc/>
    public override string ToString() =>
        $"Pseudowire tunnel {TunnelId}/session {SessionId} ({InterfaceName}) <-> {PeerComputerName} tunnel {PeerTunnelId}/session {PeerSessionId} ({PeerInterfaceName})";
}

/// <summary>What Test-L2tpPseudowire concluded about a pseudowire's two ends.</summary>
public enum L2tpPseudowireVerdict
{
    /// <summary>The ends correspond and frames crossed both ways.</summary>
    Healthy = 0,
    /// <summary>At least one field the two ends must agree on differs, or one end is missing (see Findings).</summary>
    Mismatch = 1,
    /// <summary>The ends correspond, but frames did not cross in one or both directions.</summary>
    NoTraffic = 2,
}

/// <summary>One thing Test-L2tpPseudowire found wrong: the field, each end's value, and what it means.</summary>
public sealed class L2tpPseudowireFinding
{
    /// <summary>The field or check (PeerSessionId, Cookie, DestinationPort, Traffic, ...).</summary>
    public string Field { get; set; } = "";
    /// <summary>This end's value.</summary>
    public string Local { get; set; } = "";
    /// <summary>The peer's value.</summary>
    public string Peer { get; set; } = "";
    /// <summary>What the difference means, naming both values.</summary>
    public string Message { get; set; } = "";

    /// <inheritdoc/>
    public override string ToString() => $"{Field}: {Message}";
}

/// <summary>The result of Test-L2tpPseudowire: a verdict and the findings behind it.</summary>
public sealed class L2tpPseudowireTestResult
{
    /// <summary>Healthy, Mismatch or NoTraffic.</summary>
    public L2tpPseudowireVerdict Verdict { get; set; }
    /// <summary>Everything that is not as it must be; empty when Healthy.</summary>
    public L2tpPseudowireFinding[] Findings { get; set; } = Array.Empty<L2tpPseudowireFinding>();
    /// <summary>This end's tunnel id.</summary>
    public uint TunnelId { get; set; }
    /// <summary>This end's session id.</summary>
    public uint SessionId { get; set; }
    /// <summary>The computer of the peer end.</summary>
    public string PeerComputerName { get; set; } = "";
    /// <summary>This end's session as read (null when it is missing).</summary>
    public L2tpSession? Session { get; set; }
    /// <summary>The peer's session as read (null when it is missing).</summary>
    public L2tpSession? PeerL2tpSession { get; set; }

    /// <inheritdoc/>
    public override string ToString() => Findings.Length == 0 ? Verdict.ToString() : $"{Verdict}: {string.Join("; ", Findings.Select(f => f.Message))}";
}
