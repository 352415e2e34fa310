using L2tp.Protocol;

namespace L2tp.Forwarder.Dataplane;

/// <summary>What the receive-side sequencing rules decided for one packet.</summary>
internal enum SequenceVerdict : byte
{
    Deliver,
    /// <summary>Out of order, or unsequenced while seq recv: counted in rx_seq_discards and rx_errors.</summary>
    DiscardSequence,
    /// <summary>Outside the receive window: counted in rx_errors only, as the kernel does.</summary>
    DiscardWindow,
    /// <summary>
    /// Reordering (a reorder timeout, or packets still waiting): the packet goes into the session's reorder queue
    /// (<see cref="Sequencer.Hold"/>) and leaves it through <see cref="Sequencer.TryDequeue"/>.
    /// </summary>
    Hold,
}

/// <summary>
/// Sequence numbers of one session, with the rules of Linux l2tp_core: without a reorder timeout an out-of-order
/// packet is dropped until more than four in a row re-sync the expected number; with one, out-of-order packets wait
/// in a reorder queue, sorted by number, until the gap before them fills or they time out (l2tp_recv_queue_skb,
/// l2tp_recv_dequeue). seq recv drops unsequenced packets; with LNS mode off, send_seq follows the peer.
/// The rx thread owns the numbers and the queue; the control thread changes the settings (Set-L2tpSession).
/// </summary>
internal sealed class Sequencer
{
    private const uint Max = L2tpHeader.SequenceMask;
    private const uint WindowSize = Max / 2;
    private const int OosCountMax = 4;
    /// <summary>How long the kernel keeps a queued packet when no reorder timeout is set (HZ: one second).</summary>
    private const long DefaultHoldMs = 1000;

    private volatile bool _sendSeq;
    private volatile bool _recvSeq;
    private long _reorderTimeoutMs;
    private volatile ReorderQueue? _queue;
    private uint _ns;
    private uint _nr;
    private bool _reorderSkip = true;
    private uint _nrOos;
    private int _nrOosCount;

    public Sequencer(bool sendSeq, bool recvSeq, ulong reorderTimeoutMs = 0)
    {
        _sendSeq = sendSeq;
        _recvSeq = recvSeq;
        ReorderTimeoutMs = reorderTimeoutMs;
    }

    /// <summary>Whether the next sent packet carries a sequence number; changes as the peer is followed, or when set.</summary>
    public bool SendSeq
    {
        get => _sendSeq;
        set => _sendSeq = value;
    }

    /// <summary>Unsequenced packets are dropped (seq recv); set by the control thread.</summary>
    public bool RecvSeq
    {
        get => _recvSeq;
        set => _recvSeq = value;
    }

    /// <summary>
    /// How long an out-of-order packet waits for the gap before it (L2TP_ATTR_RECV_TIMEOUT); 0 drops it instead. Set by
    /// the control thread, which also makes the queue then, so the rx thread never allocates it.
    /// </summary>
    public ulong ReorderTimeoutMs
    {
        get => (ulong)Volatile.Read(ref _reorderTimeoutMs);
        set
        {
            if (value != 0 && _queue is null)
                _queue = new ReorderQueue();
            Volatile.Write(ref _reorderTimeoutMs, (long)value);
        }
    }

    /// <summary>Packets waiting in the reorder queue (rx thread; tests).</summary>
    public int Held => _queue?.Count ?? 0;

    /// <summary>The number for the next sent packet (tx thread only).</summary>
    public uint NextSend()
    {
        uint n = _ns;
        _ns = (_ns + 1) & Max;
        return n;
    }

    /// <summary>Applies the receive rules to one packet (rx thread only).</summary>
    public SequenceVerdict OnReceive(bool hasSeq, uint ns)
    {
        var queue = _queue;
        bool waiting = queue is { Count: > 0 };
        if (hasSeq)
        {
            // LNS mode is always off for static tunnels: a sequenced peer turns our sending on.
            if (!_sendSeq)
                _sendSeq = true;
        }
        else
        {
            if (_recvSeq)
                return SequenceVerdict.DiscardSequence;
            if (_sendSeq)
                _sendSeq = false;
            // The kernel queues it behind whatever waits, so it is not delivered before packets sent earlier.
            return waiting ? SequenceVerdict.Hold : SequenceVerdict.Deliver;
        }

        if (((ns - _nr) & Max) >= WindowSize)
            return SequenceVerdict.DiscardWindow;

        if (waiting || Volatile.Read(ref _reorderTimeoutMs) != 0)
        {
            // The kernel queues every packet, then dequeues what is in order at once: an empty queue and the number
            // expected (or any number after a skip) is that, without the copy.
            if (waiting || !(_reorderSkip || ns == _nr))
                return SequenceVerdict.Hold;
            Advance(ns);
            return SequenceVerdict.Deliver;
        }

        if (ns != _nr)
        {
            uint next = (_nrOos + 1) & Max;
            _nrOosCount = ns == next ? _nrOosCount + 1 : 0;
            _nrOos = ns;
            if (_nrOosCount > OosCountMax)
                _reorderSkip = true;
            if (!_reorderSkip)
                return SequenceVerdict.DiscardSequence;
        }
        Advance(ns);
        return SequenceVerdict.Deliver;
    }

    private void Advance(uint ns)
    {
        if (_reorderSkip)
        {
            _reorderSkip = false;
            _nr = ns;
        }
        _nr = (_nr + 1) & Max;
    }

    /// <summary>Whether the reorder queue is full: the caller then stops waiting (<see cref="SkipAhead"/>) first.</summary>
    public bool QueueFull => _queue is { Count: ReorderQueue.Capacity };

    /// <summary>
    /// Gives up on the gap before the oldest waiting packet, as an expiry would, but delivers that packet rather than
    /// dropping it: what a full queue does (the kernel's queue has no bound; ours has <see cref="ReorderQueue.Capacity"/>).
    /// </summary>
    public void SkipAhead() => _reorderSkip = true;

    /// <summary>
    /// Puts a packet that <see cref="OnReceive"/> held into the queue in sequence order (a copy of its frame, or just
    /// its place when <paramref name="bad"/>: a frame l2tp_eth would drop still advances the expected number).
    /// Returns false, counting nothing, when a skip ahead has left it behind the window (the caller counts rx_errors).
    /// </summary>
    public bool Hold(bool hasSeq, uint ns, ReadOnlySpan<byte> frame, int l2tpBytes, bool bad, long nowMs, Counters c)
    {
        var q = _queue!;
        if (hasSeq && !_reorderSkip && ((ns - _nr) & Max) >= WindowSize)
            return false;
        long timeout = Volatile.Read(ref _reorderTimeoutMs);
        if (q.Insert(hasSeq, ns, frame, l2tpBytes, bad, nowMs + (timeout != 0 ? timeout : DefaultHoldMs)))
            c.RxOosPackets++;
        return true;
    }

    /// <summary>
    /// The next packet the queue can give up, in order (l2tp_recv_dequeue): packets waiting past their time are dropped
    /// (rx_seq_discards, rx_errors) and the expected number skips to the next one waiting. The entry's frame is valid
    /// until the next <see cref="Hold"/>.
    /// </summary>
    public bool TryDequeue(long nowMs, Counters c, out ReorderQueue.Entry entry)
    {
        var q = _queue;
        entry = default;
        while (q is { Count: > 0 })
        {
            ref var head = ref q.Head;
            if (nowMs > head.Expires)
            {
                c.RxSeqDiscards++;
                c.RxErrors++;
                _reorderSkip = true;
                q.RemoveHead();
                continue;
            }
            if (head.HasSeq)
            {
                if (_reorderSkip)
                {
                    _reorderSkip = false;
                    _nr = head.Ns;
                }
                if (head.Ns != _nr)
                    return false;
                _nr = (_nr + 1) & Max;
            }
            entry = head;
            q.RemoveHead();
            return true;
        }
        return false;
    }
}

/// <summary>
/// A session's reorder queue: at most <see cref="Capacity"/> packets, sorted by sequence number, in a ring whose slot
/// buffers are made once and reused, so that holding a packet copies it but allocates nothing after warm-up. The bound
/// is what keeps a hostile peer (numbers always just ahead) from making the forwarder hold unbounded memory: 64 frames
/// of the session's MTU (about 128 KiB at MTU 1500).
/// </summary>
internal sealed class ReorderQueue
{
    public const int Capacity = 64;
    private const uint Max = L2tpHeader.SequenceMask;
    private const uint Half = Max / 2;

    /// <summary>One waiting packet; <see cref="Frame"/> is its copy (empty for a frame l2tp_eth would drop).</summary>
    internal struct Entry
    {
        public byte[]? Buffer;
        public int Length;
        public int L2tpBytes;
        public uint Ns;
        public bool HasSeq;
        public bool Bad;
        public long Expires;
        public readonly ReadOnlySpan<byte> Frame => Buffer.AsSpan(0, Length);
    }

    private readonly Entry[] _ring = new Entry[Capacity];
    private int _head;

    public int Count { get; private set; }

    public ref Entry Head => ref _ring[_head];

    private ref Entry At(int i) => ref _ring[(_head + i) % Capacity];

    /// <summary>a comes after b in 24-bit serial order (RFC 1982): the kernel compares plainly, which misorders at the wrap.</summary>
    private static bool After(uint a, uint b) => a != b && ((a - b) & Max) < Half;

    /// <summary>Inserts in order; returns true when the packet went before one already waiting (an rx_oos_packet).</summary>
    public bool Insert(bool hasSeq, uint ns, ReadOnlySpan<byte> frame, int l2tpBytes, bool bad, long expires)
    {
        int pos = Count;
        if (hasSeq)
            for (int i = 0; i < Count; i++)
            {
                ref var e = ref At(i);
                if (e.HasSeq && After(e.Ns, ns))
                {
                    pos = i;
                    break;
                }
            }
        // The free slot at the tail lends its buffer to the new entry; the entries from pos on move up one.
        byte[]? buffer = At(Count).Buffer;
        for (int i = Count; i > pos; i--)
            At(i) = At(i - 1);
        if (!bad && (buffer is null || buffer.Length < frame.Length))
            buffer = new byte[Math.Max(2048, (frame.Length + 2047) & ~2047)];
        if (!bad)
            frame.CopyTo(buffer);
        At(pos) = new Entry
        {
            Buffer = buffer, Length = bad ? 0 : frame.Length, L2tpBytes = l2tpBytes, Ns = ns, HasSeq = hasSeq, Bad = bad, Expires = expires,
        };
        Count++;
        return pos < Count - 1;
    }

    /// <summary>Drops the head; its buffer stays in the ring for a later entry.</summary>
    public void RemoveHead()
    {
        _head = (_head + 1) % Capacity;
        Count--;
    }
}
