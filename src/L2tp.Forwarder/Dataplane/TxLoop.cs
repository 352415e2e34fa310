using System.Buffers.Binary;
using L2tp.Native;
using L2tp.Protocol;
using static Tmds.Linux.LibC;

namespace L2tp.Forwarder.Dataplane;

/// <summary>
/// TAP to network: frames read from each session TAP, TCP super-frames cut into segments (software TSO), each given
/// its L2TP header in place and sent with sendmmsg.
/// </summary>
internal sealed unsafe class TxLoop : PacketLoop
{
    private readonly Batch _batch = new();
    private const int MaxBatchesPerWakeup = 8;
    private const int FrameRoom = Batch.SlotSize - Batch.Headroom;

    public TxLoop(Func<DataplaneMap> map) : base("l2tp-tx", map) { }

    protected override void Handle(DataplaneMap map, int fd)
    {
        if (!map.ByTap.TryGetValue(fd, out var s))
            return;
        int vnet = s.TapVnetHeader ? VnetHdr.Size : 0;
        for (int round = 0; round < MaxBatchesPerWakeup; round++)
        {
            int count = 0;
            bool drained = false;
            while (count < Batch.Size)
            {
                byte* frame = _batch.Slot(count) + Batch.Headroom;
                long n = read(fd, frame - vnet, FrameRoom + vnet);
                if (n < 0)
                {
                    drained = true;
                    break;   // EAGAIN: the TAP queue is empty (or the device went down)
                }
                int length = (int)n - vnet;
                if (length < 0)
                {
                    CountError(s);
                    continue;
                }
                if (vnet == 0)
                {
                    Stage(s, count++, frame, length);
                    continue;
                }
                var h = VnetHdr.Read(new ReadOnlySpan<byte>(frame - vnet, VnetHdr.Size));
                if (h.GsoType == VnetHdr.GsoNone)
                {
                    if ((h.Flags & VnetHdr.FlagNeedsCsum) != 0 && !TxOffload.CompleteChecksum(new Span<byte>(frame, length), h))
                    {
                        CountError(s);
                        continue;
                    }
                    Stage(s, count++, frame, length);
                    continue;
                }
                if (!TxOffload.TryParseTcp(new ReadOnlySpan<byte>(frame, length), h, out var f))
                {
                    CountError(s);
                    continue;
                }
                // The super-frame's buffer leaves the batch, so segments can fill every slot (and be sent) meanwhile.
                byte* src = _batch.TakeSlot(count) + Batch.Headroom;
                var super = new ReadOnlySpan<byte>(src, length);
                for (int i = 0, segments = f.Segments; i < segments; i++)
                {
                    if (count == Batch.Size)
                    {
                        Send(s, count);
                        count = 0;
                    }
                    byte* seg = _batch.Slot(count) + Batch.Headroom;
                    int segLength = TxOffload.WriteSegment(super, f, i, new Span<byte>(seg, FrameRoom));
                    Stage(s, count++, seg, segLength);
                }
            }
            if (count > 0)
                Send(s, count);
            if (drained)
                return;
        }
    }

    /// <summary>Writes the session's L2TP header in front of a frame in slot i and points message i at the packet.</summary>
    private void Stage(SessionRuntime s, int i, byte* frame, int length)
    {
        int hlen = s.HeaderTemplate.Length;
        byte* start = frame - hlen;
        var header = new Span<byte>(start, hlen);
        s.HeaderTemplate.CopyTo(header);
        if (s.SublayerOffset >= 0 && s.Sequencer.SendSeq)
            BinaryPrimitives.WriteUInt32BigEndian(header[s.SublayerOffset..], L2tpHeader.SequenceBit | s.Sequencer.NextSend());
        _batch.Iov[i].iov_base = start;
        _batch.Iov[i].iov_len = (Tmds.Linux.size_t)(ulong)(hlen + length);
    }

    private void Send(SessionRuntime s, int count)
    {
        int done = 0, retries = 0;
        while (done < count)
        {
            int n = Sys.SendMMsg(s.SocketFd, _batch.Msgs + done, (uint)(count - done), 0);
            if (n < 0)
            {
                int e = Sys.LastPInvokeErrno;
                // A pending ICMP error is reported once on a connected socket and the packet is not sent: try again.
                if ((e == ECONNREFUSED || e == EINTR || e == ENOBUFS) && retries++ < 3)
                    continue;
                CountError(s);
                done++;   // drop this packet and go on with the rest
                continue;
            }
            for (int i = done; i < done + n; i++)
            {
                long bytes = (long)(ulong)_batch.Iov[i].iov_len;
                s.Counters.TxPackets++;
                s.Counters.TxBytes += bytes;
                s.TunnelCounters.TxPackets++;
                s.TunnelCounters.TxBytes += bytes;
            }
            done += n;
        }
    }

    private static void CountError(SessionRuntime s)
    {
        s.Counters.TxErrors++;
        s.TunnelCounters.TxErrors++;
    }

    public new void Dispose()
    {
        base.Dispose();
        _batch.Dispose();
    }
}
