namespace L2tp.Forwarder.Dataplane;

/// <summary>
/// Live counters of a tunnel or session. Each field has one writer thread (rx or tx) and is read by the control
/// thread; 64-bit loads are atomic on the platforms we build for, so no locking is needed.
/// </summary>
internal sealed class Counters
{
    public long TxPackets, TxBytes, TxErrors;
    public long RxPackets, RxBytes, RxErrors, RxSeqDiscards, RxOosPackets, RxCookieDiscards, RxInvalid;

    public L2tpStatistics Snapshot() => new()
    {
        TxPackets = (ulong)Volatile.Read(ref TxPackets),
        TxBytes = (ulong)Volatile.Read(ref TxBytes),
        TxErrors = (ulong)Volatile.Read(ref TxErrors),
        RxPackets = (ulong)Volatile.Read(ref RxPackets),
        RxBytes = (ulong)Volatile.Read(ref RxBytes),
        RxErrors = (ulong)Volatile.Read(ref RxErrors),
        RxSeqDiscards = (ulong)Volatile.Read(ref RxSeqDiscards),
        RxOosPackets = (ulong)Volatile.Read(ref RxOosPackets),
        RxCookieDiscards = (ulong)Volatile.Read(ref RxCookieDiscards),
        RxInvalid = (ulong)Volatile.Read(ref RxInvalid),
    };
}
