using L2tp.Native;
using L2tp.Protocol;
using static Tmds.Linux.LibC;

namespace L2tp.Forwarder.Dataplane;

/// <summary>Network to TAP: batches of packets from each tunnel socket, checked and demultiplexed to session TAPs.</summary>
internal sealed unsafe class RxLoop : PacketLoop
{
    private readonly Batch _batch = new();
    private readonly RxCoalescer _gro = new();
    /// <summary>Batches drained from one socket before the others get a turn.</summary>
    private const int MaxBatchesPerWakeup = 8;

    public RxLoop(Func<DataplaneMap> map) : base("l2tp-rx", map) { }

    protected override void Handle(DataplaneMap map, int fd, int events)
    {
        if (!map.BySocket.TryGetValue(fd, out var tunnel))
            return;
        CoarseClock.Rx = Environment.TickCount64;
        for (int round = 0; round < MaxBatchesPerWakeup; round++)
        {
            for (int i = 0; i < Batch.Size; i++)
            {
                _batch.Iov[i].iov_base = _batch.Slot(i);
                _batch.Iov[i].iov_len = (Tmds.Linux.size_t)(ulong)Batch.SlotSize;
                _batch.Msgs[i].Len = 0;
                _batch.Msgs[i].Flags = 0;
                _batch.Msgs[i].Control = _batch.Control + i * Batch.ControlSize;
                _batch.Msgs[i].ControlLen = Batch.ControlSize;
            }
            int n = Sys.RecvMMsg(fd, _batch.Msgs, Batch.Size, MSG_DONTWAIT, null);
            if (n < 0)
            {
                int e = Sys.LastPInvokeErrno;
                // ECONNREFUSED: an ICMP error from a peer not yet listening, reported once on the connected socket.
                if (e == EAGAIN || e == EINTR)
                    return;
                if (e == ECONNREFUSED || e == EHOSTUNREACH || e == ENETUNREACH)
                    continue;
                Log.Error($"recvmmsg on tunnel {tunnel.TunnelId}: {new ErrnoException(e, "recvmmsg").Message}");
                return;
            }
            for (int i = 0; i < n; i++)
            {
                var packet = new ReadOnlySpan<byte>(_batch.Slot(i), (int)_batch.Msgs[i].Len);
                if ((_batch.Msgs[i].Flags & MSG_TRUNC) != 0)
                {
                    tunnel.Counters.RxInvalid++;
                    continue;
                }
                Receive(tunnel, packet, GroSegmentSize(ref _batch.Msgs[i]), _gro);
            }
            _gro.Flush();
            if (n < Batch.Size)
                return;
        }
    }

    /// <summary>
    /// One received datagram, as the socket gave it: its IPv4 header skipped where the socket leaves it on, then cut
    /// into the L2TP packets UDP GRO joined (<paramref name="segment"/> from the UDP_GRO cmsg, 0 for none) and each
    /// delivered. The fuzz target calls this with the bytes and segment size a socket could give.
    /// </summary>
    internal static void Receive(TunnelRuntime tunnel, ReadOnlySpan<byte> packet, int segment, RxCoalescer? gro)
    {
        if (tunnel.SkipIpHeader)
        {
            int ihl = packet.Length > 0 ? (packet[0] & 0x0F) * 4 : 0;
            if (ihl < 20 || ihl > packet.Length)
            {
                tunnel.Counters.RxInvalid++;
                return;
            }
            packet = packet[ihl..];
        }
        if (segment <= 0 || segment >= packet.Length)
        {
            Deliver(tunnel, packet, gro);
            return;
        }
        // Coalesced by UDP GRO: L2TP packets of `segment` bytes end to end, the last maybe shorter.
        for (int off = 0; off < packet.Length; off += segment)
            Deliver(tunnel, packet.Slice(off, Math.Min(segment, packet.Length - off)), gro);
    }

    /// <summary>The segment size of a UDP_GRO cmsg the kernel attached to a received datagram, or 0.</summary>
    private static int GroSegmentSize(ref Sys.MMsgHdr m)
    {
        // struct cmsghdr { size_t len; int level; int type; } then an int; only ever one cmsg here.
        if (m.ControlLen < 20 || (m.Flags & MSG_CTRUNC) != 0)
            return 0;
        byte* c = (byte*)m.Control;
        return *(int*)(c + 8) == IPPROTO_UDP && *(int*)(c + 12) == Sys.UDP_GRO ? *(int*)(c + 16) : 0;
    }

    /// <summary>Validates one packet and writes its frame to the session's TAP, counting as l2tp_core does.</summary>
    internal static void Deliver(TunnelRuntime tunnel, ReadOnlySpan<byte> packet, RxCoalescer? gro = null)
    {
        var reason = L2tpHeader.ReadSessionId(packet, tunnel.Encapsulation, out uint sessionId, out int offset);
        if (reason != DropReason.None || !tunnel.Sessions.TryGetValue(sessionId, out var s))
        {
            // Control messages, bad versions, runts and unknown sessions: never delivered, counted on the tunnel.
            tunnel.Counters.RxInvalid++;
            RxDiagnosis.Undeliverable(tunnel, packet, reason, sessionId);
            return;
        }
        reason = L2tpHeader.ReadAfterSessionId(packet, offset, s.PeerCookie, s.L2SpecType, out int payload, out bool hasSeq, out uint seq);
        if (reason == DropReason.CookieMismatch)
        {
            s.Counters.RxCookieDiscards++;
            s.Counters.RxErrors++;
            RxDiagnosis.Header(tunnel, s, packet, offset);
            return;
        }
        if (reason != DropReason.None)
        {
            tunnel.Counters.RxInvalid++;
            return;
        }
        // A few compares for a good packet; a sublayer or cookie the session does not expect shows here (and is still delivered, as l2tp_core does).
        if (PacketDiagnosis.Suspicious(packet, payload, s.L2SpecType))
            RxDiagnosis.Header(tunnel, s, packet, offset);
        var frame = packet[payload..];
        // Shorter than an Ethernet header, or longer than the interface takes: l2tp_eth drops these.
        bool bad = frame.Length < 14 || frame.Length > s.MaxFrame;
        if (bad)
            RxDiagnosis.Length(tunnel, s, frame.Length);
        switch (s.Sequencer.OnReceive(hasSeq, seq))
        {
            case SequenceVerdict.DiscardSequence:
                s.Counters.RxSeqDiscards++;
                s.Counters.RxErrors++;
                RxDiagnosis.Sequence(tunnel, s, hasSeq);
                return;
            case SequenceVerdict.DiscardWindow:
                s.Counters.RxErrors++;
                return;
            case SequenceVerdict.Hold:
                Reorder(s, hasSeq, seq, frame, packet.Length, bad, gro);
                return;
        }
        DeliverFrame(s, frame, packet.Length, bad, gro);
    }

    /// <summary>
    /// A packet for the reorder queue, then whatever the queue can now give up, in order. The clock is read only here:
    /// sessions without a reorder timeout never pay for it.
    /// </summary>
    private static void Reorder(SessionRuntime s, bool hasSeq, uint seq, ReadOnlySpan<byte> frame, int l2tpBytes, bool bad, RxCoalescer? gro)
    {
        var q = s.Sequencer;
        long now = Environment.TickCount64;
        if (q.QueueFull)
        {
            // Full: stop waiting for the gap before the oldest packet and deliver from there.
            q.SkipAhead();
            Drain(s, now, gro);
        }
        if (!q.Hold(hasSeq, seq, frame, l2tpBytes, bad, now, s.Counters))
            s.Counters.RxErrors++;
        Drain(s, now, gro);
    }

    private static void Drain(SessionRuntime s, long now, RxCoalescer? gro)
    {
        while (s.Sequencer.TryDequeue(now, s.Counters, out var e))
            DeliverFrame(s, e.Frame, e.L2tpBytes, e.Bad, gro);
    }

    /// <summary>Writes one in-order frame to the TAP (or the coalescer, which copies it), counting as l2tp_eth does.</summary>
    private static void DeliverFrame(SessionRuntime s, ReadOnlySpan<byte> frame, int l2tpBytes, bool bad, RxCoalescer? gro)
    {
        if (bad)
        {
            s.Counters.RxErrors++;
            return;
        }
        if (gro is not null && s.TapVnetHeader)
        {
            // Counted once written: the coalescer may hold the frame until the end of the batch.
            gro.Add(s, frame, l2tpBytes);
            return;
        }
        long written = s.TapVnetHeader ? RxCoalescer.WritePlain(s, frame) : Sys.Write(s.TapFd, frame);
        RxCoalescer.Count(s, 1, l2tpBytes, written >= 0);
    }

    public new void Dispose()
    {
        base.Dispose();
        _batch.Dispose();
        _gro.Dispose();
    }
}
