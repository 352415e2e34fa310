using System.Buffers.Binary;
using L2tp.Native;
using L2tp.Protocol;
using static Tmds.Linux.LibC;

namespace L2tp.Forwarder.Dataplane;

/// <summary>TAP to network: frames read from each session TAP, given their L2TP header in place, sent with sendmmsg.</summary>
internal sealed unsafe class TxLoop : PacketLoop
{
    private readonly Batch _batch = new();
    private const int MaxBatchesPerWakeup = 8;

    public TxLoop(Func<DataplaneMap> map) : base("l2tp-tx", map) { }

    protected override void Handle(DataplaneMap map, int fd)
    {
        if (!map.ByTap.TryGetValue(fd, out var s))
            return;
        for (int round = 0; round < MaxBatchesPerWakeup; round++)
        {
            int count = 0;
            bool drained = false;
            while (count < Batch.Size)
            {
                byte* frame = _batch.Slot(count) + Batch.Headroom;
                long n = read(fd, frame, Batch.SlotSize - Batch.Headroom);
                if (n < 0)
                {
                    drained = true;
                    break;   // EAGAIN: the TAP queue is empty (or the device went down)
                }
                int hlen = s.HeaderTemplate.Length;
                byte* start = frame - hlen;
                var header = new Span<byte>(start, hlen);
                s.HeaderTemplate.CopyTo(header);
                if (s.SublayerOffset >= 0 && s.Sequencer.SendSeq)
                    BinaryPrimitives.WriteUInt32BigEndian(header[s.SublayerOffset..],
                        L2tpHeader.SequenceBit | s.Sequencer.NextSend());
                _batch.Iov[count].iov_base = start;
                _batch.Iov[count].iov_len = (Tmds.Linux.size_t)(ulong)(hlen + n);
                count++;
            }
            if (count > 0)
                Send(s, count);
            if (drained)
                return;
        }
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
                s.Counters.TxErrors++;
                s.TunnelCounters.TxErrors++;
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

    public new void Dispose()
    {
        base.Dispose();
        _batch.Dispose();
    }
}
