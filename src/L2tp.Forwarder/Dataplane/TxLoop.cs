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
    /// <summary>UDP_MAX_SEGMENTS of kernels before 6.9 (later ones take 128), and the largest IPv4 UDP payload.</summary>
    private const int MaxGsoSegments = 64, MaxUdpPayload = 65507;

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
                int hlen = s.HeaderTemplate.Length, stride = hlen + f.HeaderLength + f.Mss;
                // With UDP GSO, the packets of up to MaxGsoSegments segments lie end to end in one slot, one message.
                int perMessage = s.UdpGso ? Math.Min(MaxGsoSegments, MaxUdpPayload / stride) : 1;
                if (perMessage < 2)
                    perMessage = 1;
                for (int i = 0, segments = f.Segments; i < segments; i += perMessage)
                {
                    if (count == Batch.Size)
                    {
                        Send(s, count);
                        count = 0;
                    }
                    byte* packet = _batch.Slot(count) + Batch.Headroom - hlen;
                    int inMessage = Math.Min(perMessage, segments - i), total = 0;
                    for (int k = 0; k < inMessage; k++)
                    {
                        byte* p = packet + k * stride;
                        total += hlen + TxOffload.WriteSegment(super, f, i + k, new Span<byte>(p + hlen, FrameRoom - k * stride));
                        WriteHeader(s, p);
                    }
                    SetMessage(count++, packet, total, inMessage, stride);
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
        WriteHeader(s, frame - hlen);
        SetMessage(i, frame - hlen, hlen + length, 1, 0);
    }

    /// <summary>The session's L2TP header at start, with the next sequence number where it sends them.</summary>
    private static void WriteHeader(SessionRuntime s, byte* start)
    {
        var header = new Span<byte>(start, s.HeaderTemplate.Length);
        s.HeaderTemplate.CopyTo(header);
        if (s.SublayerOffset >= 0 && s.Sequencer.SendSeq)
            BinaryPrimitives.WriteUInt32BigEndian(header[s.SublayerOffset..], L2tpHeader.SequenceBit | s.Sequencer.NextSend());
    }

    /// <summary>Points message i at bytes holding `packets` L2TP packets, each `stride` long but the last (UDP GSO when more than one).</summary>
    private void SetMessage(int i, byte* start, int length, int packets, int stride)
    {
        _batch.Iov[i].iov_base = start;
        _batch.Iov[i].iov_len = (Tmds.Linux.size_t)(ulong)length;
        _batch.Packets[i] = packets;
        if (packets == 1)
        {
            _batch.Msgs[i].Control = null;
            _batch.Msgs[i].ControlLen = 0;
            return;
        }
        // struct cmsghdr { size_t len; int level; int type; } then the u16 segment size.
        byte* c = _batch.Control + i * Batch.ControlSize;
        *(ulong*)c = 16 + 2;
        *(int*)(c + 8) = IPPROTO_UDP;
        *(int*)(c + 12) = Sys.UDP_SEGMENT;
        *(ushort*)(c + 16) = (ushort)stride;
        _batch.Msgs[i].Control = c;
        _batch.Msgs[i].ControlLen = Batch.ControlSize;
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
                if (_batch.Packets[done] > 1 && (e == EINVAL || e == EIO || e == EMSGSIZE))
                {
                    // The kernel will not segment for this socket or route (a path MTU below the segment, say): send
                    // these packets one by one, and every later one too.
                    s.UdpGso = false;
                    SendOneByOne(s, done);
                }
                else
                {
                    CountError(s, _batch.Packets[done]);
                }
                done++;   // go on with the rest
                continue;
            }
            for (int i = done; i < done + n; i++)
                CountSent(s, _batch.Packets[i], (long)(ulong)_batch.Iov[i].iov_len);
            done += n;
        }
    }

    /// <summary>Sends the packets of GSO message i each on its own.</summary>
    private void SendOneByOne(SessionRuntime s, int i)
    {
        byte* start = (byte*)_batch.Iov[i].iov_base;
        int length = (int)(ulong)_batch.Iov[i].iov_len, stride = *(ushort*)(_batch.Control + i * Batch.ControlSize + 16);
        for (int off = 0; off < length; off += stride)
        {
            int len = Math.Min(stride, length - off);
            if (Sys.Send(s.SocketFd, new ReadOnlySpan<byte>(start + off, len)) < 0)
                CountError(s);
            else
                CountSent(s, 1, len);
        }
    }

    private static void CountSent(SessionRuntime s, int packets, long bytes)
    {
        s.Counters.TxPackets += packets;
        s.Counters.TxBytes += bytes;
        s.TunnelCounters.TxPackets += packets;
        s.TunnelCounters.TxBytes += bytes;
    }

    private static void CountError(SessionRuntime s, int packets = 1)
    {
        s.Counters.TxErrors += packets;
        s.TunnelCounters.TxErrors += packets;
    }

    public new void Dispose()
    {
        base.Dispose();
        _batch.Dispose();
    }
}
