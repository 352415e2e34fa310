using System.Management.Automation;
using L2tp.Protocol;

namespace L2tp.Commands;

/// <summary>New-L2tpTunnel: `ip l2tp add tunnel` as a cmdlet.</summary>
[Cmdlet(VerbsCommon.New, "L2tpTunnel", SupportsShouldProcess = true)]
[OutputType(typeof(L2tpTunnel))]
public sealed class NewL2tpTunnelCommand : L2tpCmdlet
{
    /// <summary>Local tunnel id, 1..4294967295.</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
    [Alias("tunnel_id")]
    public uint TunnelId { get; set; }

    /// <summary>The peer's tunnel id.</summary>
    [Parameter(Mandatory = true, ValueFromPipelineByPropertyName = true)]
    [Alias("peer_tunnel_id")]
    public uint PeerTunnelId { get; set; }

    /// <summary>Udp (default) or Ip.</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    [Alias("encap")]
    public Encapsulation Encapsulation { get; set; } = Encapsulation.Udp;

    /// <summary>Local address (must be assigned to an interface), or 'any'.</summary>
    [Parameter(Mandatory = true, ValueFromPipelineByPropertyName = true)]
    public string Local { get; set; } = "";

    /// <summary>The peer's address.</summary>
    [Parameter(Mandatory = true, ValueFromPipelineByPropertyName = true)]
    public string Remote { get; set; } = "";

    /// <summary>Local UDP port (needed with Udp).</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    [Alias("udp_sport")]
    public ushort SourcePort { get; set; }

    /// <summary>Peer UDP port (needed with Udp).</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    [Alias("udp_dport")]
    public ushort DestinationPort { get; set; }

    /// <summary>IPv4 UDP checksums: on or off (default: on with the Managed backend, off with the Kernel backend).</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    [Alias("udp_csum")]
    [OnOffTransformation]
    public bool UdpChecksum { get; set; }

    /// <summary>IPv6 UDP checksums on send: on (default) or off.</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    [Alias("udp6_csum_tx")]
    [OnOffTransformation]
    public bool Udp6ChecksumTx { get; set; } = true;

    /// <summary>IPv6 UDP checksums required on receive: on (default) or off.</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    [Alias("udp6_csum_rx")]
    [OnOffTransformation]
    public bool Udp6ChecksumRx { get; set; } = true;

    /// <inheritdoc/>
    protected override void ProcessL2tpRecord()
    {
        var spec = new TunnelSpec
        {
            TunnelId = TunnelId,
            PeerTunnelId = PeerTunnelId,
            Encapsulation = Encapsulation,
            Local = AddressParser.Parse(Local, nameof(Local), allowAny: true),
            Remote = AddressParser.Parse(Remote, nameof(Remote), allowAny: false),
            SourcePort = SourcePort,
            DestinationPort = DestinationPort,
            UdpChecksum = UdpChecksum,
            Udp6ChecksumTx = Udp6ChecksumTx,
            Udp6ChecksumRx = Udp6ChecksumRx,
        };
        spec.Validate();
        if (ShouldProcess($"tunnel {TunnelId} ({Local} -> {Remote}, {Encapsulation})", "Create L2TP tunnel"))
            WriteObject(Pseudowires.NewTunnel(spec, checksumAsked: MyInvocation.BoundParameters.ContainsKey(nameof(UdpChecksum))));
    }
}
