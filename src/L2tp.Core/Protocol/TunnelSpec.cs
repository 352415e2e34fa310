using System.Net;
using System.Net.Sockets;

namespace L2tp.Protocol;

/// <summary>What `ip l2tp add tunnel` asks for, checked against the kernel's rules before any backend sees it.</summary>
internal sealed record TunnelSpec
{
    public uint TunnelId { get; init; }
    public uint PeerTunnelId { get; init; }
    public Encapsulation Encapsulation { get; init; } = Encapsulation.Udp;
    public IPAddress? Local { get; init; }
    public IPAddress? Remote { get; init; }
    public ushort SourcePort { get; init; }
    public ushort DestinationPort { get; init; }
    public bool UdpChecksum { get; init; }
    public bool Udp6ChecksumTx { get; init; } = true;
    public bool Udp6ChecksumRx { get; init; } = true;

    public bool IsIPv6 => Remote?.AddressFamily == AddressFamily.InterNetworkV6;

    /// <summary>Throws an <see cref="L2tpException"/> naming the first rule broken.</summary>
    public void Validate()
    {
        Ids.Check(TunnelId, "TunnelId", "L2tp.InvalidTunnelId");
        Ids.Check(PeerTunnelId, "PeerTunnelId", "L2tp.InvalidTunnelId");
        // A cmdlet's enum parameter cannot carry another value, but a request decoded from netlink can (fuzzing found
        // one): the data plane would take anything but UDP for IP encapsulation.
        if (!Enum.IsDefined(typeof(Encapsulation), Encapsulation))
            throw L2tpException.Rule("L2tp.InvalidEncapsulation", L2tpErrorKind.InvalidArgument, (int)Encapsulation,
                $"{{Encapsulation}} {(int)Encapsulation} is neither UDP (0) nor IP (1).");
        if (Remote is null)
            throw L2tpException.Rule("L2tp.MissingRemote", L2tpErrorKind.InvalidArgument, null,
                "A tunnel needs {Remote}, the peer's IP address.");
        if (Local is null)
            throw L2tpException.Rule("L2tp.MissingLocal", L2tpErrorKind.InvalidArgument, null,
                "A tunnel needs {Local}, an address of this host ('any' to let the kernel choose).");
        if (Remote.Equals(IPAddress.Any) || Remote.Equals(IPAddress.IPv6Any))
            throw L2tpException.Rule("L2tp.InvalidRemote", L2tpErrorKind.InvalidArgument, Remote,
                "{Remote} must be the peer's address, not 'any'.");
        if (Remote.AddressFamily is not (AddressFamily.InterNetwork or AddressFamily.InterNetworkV6))
            throw L2tpException.Rule("L2tp.InvalidRemote", L2tpErrorKind.InvalidArgument, Remote,
                $"{{Remote}} {Remote} is not an IPv4 or IPv6 address.");
        bool localAny = Local.Equals(IPAddress.Any) || Local.Equals(IPAddress.IPv6Any);
        if (!localAny && Local.AddressFamily != Remote.AddressFamily)
            throw L2tpException.Rule("L2tp.AddressFamilyMismatch", L2tpErrorKind.InvalidArgument, Local,
                $"{{Local}} {Local} and {{Remote}} {Remote} are of different address families.");
        if (Encapsulation == Encapsulation.Udp)
        {
            if (SourcePort == 0)
                throw L2tpException.Rule("L2tp.MissingSourcePort", L2tpErrorKind.InvalidArgument, SourcePort,
                    "UDP encapsulation needs {SourcePort} (udp_sport), 1 to 65535.");
            if (DestinationPort == 0)
                throw L2tpException.Rule("L2tp.MissingDestinationPort", L2tpErrorKind.InvalidArgument, DestinationPort,
                    "UDP encapsulation needs {DestinationPort} (udp_dport), 1 to 65535.");
        }
    }

    /// <summary>
    /// The spec with the IPv4 UDP checksum a backend uses when none was asked for. Managed: on, because the kernel
    /// refuses UDP GSO on a socket that sends zero checksums, and without GSO a userspace forwarder pays the whole IP
    /// stack once per packet. Kernel: off, as ip-l2tp and l2tp_core. IPv6 and IP encapsulation have their own rules.
    /// </summary>
    public TunnelSpec WithDefaultChecksum(BackendKind backend) =>
        this with { UdpChecksum = backend == BackendKind.Managed && Encapsulation == Encapsulation.Udp && !IsIPv6 };

    /// <summary>The local address as the socket binds it: 'any' follows the family of the remote.</summary>
    public IPAddress BindAddress =>
        Local is null || Local.Equals(IPAddress.Any) || Local.Equals(IPAddress.IPv6Any)
            ? (IsIPv6 ? IPAddress.IPv6Any : IPAddress.Any)
            : Local;
}

/// <summary>Rules shared by tunnel and session ids.</summary>
internal static class Ids
{
    public static void Check(uint id, string name, string errorId)
    {
        if (id == 0)
            throw L2tpException.Rule(errorId, L2tpErrorKind.InvalidArgument, id,
                $"{{{name}}} 0 is reserved: give an id from 1 to 4294967295.");
    }
}
