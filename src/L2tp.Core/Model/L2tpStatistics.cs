namespace L2tp;

/// <summary>Packet counters of a tunnel or session, named as the kernel's l2tp statistics.</summary>
public sealed class L2tpStatistics
{
    /// <summary>Data packets sent.</summary>
    public ulong TxPackets { get; set; }
    /// <summary>Bytes of Ethernet frames sent.</summary>
    public ulong TxBytes { get; set; }
    /// <summary>Packets that could not be sent.</summary>
    public ulong TxErrors { get; set; }
    /// <summary>Data packets delivered.</summary>
    public ulong RxPackets { get; set; }
    /// <summary>Bytes of Ethernet frames delivered.</summary>
    public ulong RxBytes { get; set; }
    /// <summary>Packets dropped because their sequence number was out of order.</summary>
    public ulong RxSeqDiscards { get; set; }
    /// <summary>Packets that arrived out of sequence.</summary>
    public ulong RxOosPackets { get; set; }
    /// <summary>Received packets dropped for errors.</summary>
    public ulong RxErrors { get; set; }
    /// <summary>Packets dropped because their cookie did not match the peer cookie.</summary>
    public ulong RxCookieDiscards { get; set; }
    /// <summary>Packets dropped as malformed or for an unknown session.</summary>
    public ulong RxInvalid { get; set; }

    /// <inheritdoc/>
    public override string ToString() =>
        $"rx {RxPackets}/{RxBytes}B tx {TxPackets}/{TxBytes}B rxerr {RxErrors} txerr {TxErrors}";
}
