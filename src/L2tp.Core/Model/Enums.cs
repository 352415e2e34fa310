namespace L2tp;

/// <summary>How L2TPv3 data packets ride on IP: inside UDP, or directly as IP protocol 115.</summary>
public enum Encapsulation
{
    /// <summary>UDP encapsulation (RFC 3931 section 4.1.2.2); the default.</summary>
    Udp = 0,
    /// <summary>IP protocol 115 (RFC 3931 section 4.1.1.2).</summary>
    Ip = 1,
}

/// <summary>Whether a tunnel can send, as the managed forwarder sees it on its socket.</summary>
public enum L2tpTunnelState
{
    /// <summary>Not known: the kernel backend does not report it.</summary>
    Unknown = 0,
    /// <summary>The last send went out (or nothing was sent yet).</summary>
    Up = 1,
    /// <summary>The last send failed (see LastSendError): no route, no local address, link down...</summary>
    SendFailing = 2,
}

/// <summary>The L2-specific sublayer a session puts between the L2TP header and the Ethernet frame.</summary>
public enum L2SpecType
{
    /// <summary>No sublayer (what Cisco uses by default).</summary>
    None = 0,
    /// <summary>The 4-byte default sublayer of RFC 4719, which can carry a sequence number; Linux's default.</summary>
    Default = 1,
}

/// <summary>Which directions of a session use L2TP sequence numbers (ip-l2tp `seq`).</summary>
public enum SequencingMode
{
    /// <summary>No sequence numbers sent or required.</summary>
    None = 0,
    /// <summary>Sequence numbers are sent.</summary>
    Send = 1,
    /// <summary>Sequence numbers are required on receive and out-of-order packets are dropped.</summary>
    Recv = 2,
    /// <summary>Both send and recv.</summary>
    Both = 3,
}

/// <summary>Which implementation carries the pseudowires: the Linux kernel, or this module's forwarder process.</summary>
public enum BackendKind
{
    /// <summary>Choose Kernel where the kernel has L2TP, Managed otherwise.</summary>
    Auto = 0,
    /// <summary>Linux's own l2tp_core / l2tp_eth, driven over generic netlink.</summary>
    Kernel = 1,
    /// <summary>The l2tp-forwarder process (TAP devices and sockets), for kernels without L2TP.</summary>
    Managed = 2,
}
