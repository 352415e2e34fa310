namespace L2tp.Forwarder.Dataplane;

/// <summary>
/// The time the packet loops stamp packets with: read once per wakeup (Environment.TickCount64, the kernel's coarse
/// monotonic clock through the vDSO), so a packet costs a compare and no clock read.
/// </summary>
internal static class CoarseClock
{
    /// <summary>The receive loop's time of its current wakeup, in milliseconds.</summary>
    public static long Rx;
    /// <summary>The transmit loop's time of its current wakeup, in milliseconds.</summary>
    public static long Tx;
}

/// <summary>
/// Live counters of a tunnel or session. Each field has one writer thread (rx or tx) and is read by the control
/// thread; 64-bit loads are atomic on the platforms we build for, so no locking is needed.
/// </summary>
internal sealed class Counters
{
    public long TxPackets, TxBytes, TxErrors;
    public long RxPackets, RxBytes, RxErrors, RxSeqDiscards, RxOosPackets, RxCookieDiscards, RxInvalid;

    /// <summary>
    /// Why the last send failed (errno; 0 once a send succeeds again) and when (Unix milliseconds): a number and a
    /// time rather than text, so the failing path allocates nothing. Written by the transmit thread only.
    /// </summary>
    public int LastTxErrno;

    /// <summary>
    /// When a packet was last delivered and last sent, on the loops' coarse clock (<see cref="CoarseClock"/>, ms; 0:
    /// never). Written once per batch time by the one loop that owns each, read by the control thread.
    /// </summary>
    public long LastRxTick, LastTxTick;

    /// <summary>The two times as Unix milliseconds (0 for never), as the control thread reports them.</summary>
    public (long LastRx, long LastTx) Times()
    {
        long nowTick = Environment.TickCount64, nowUnix = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        long rx = Volatile.Read(ref LastRxTick), tx = Volatile.Read(ref LastTxTick);
        return (rx == 0 ? 0 : nowUnix - (nowTick - rx), tx == 0 ? 0 : nowUnix - (nowTick - tx));
    }
    public long LastTxErrorTime;

    public void RecordSendError(int errno)
    {
        Volatile.Write(ref LastTxErrorTime, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
        Volatile.Write(ref LastTxErrno, errno);
    }

    public void ClearSendError() => Volatile.Write(ref LastTxErrno, 0);

    /// <summary>The send error in force (errno 0: none) and its time, as the control thread reads them.</summary>
    public (int Errno, long UnixMilliseconds) SendError()
    {
        int e = Volatile.Read(ref LastTxErrno);
        return (e, e == 0 ? 0 : Volatile.Read(ref LastTxErrorTime));
    }

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
