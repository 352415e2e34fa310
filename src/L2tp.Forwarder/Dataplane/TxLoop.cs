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

    private readonly Action<SessionRuntime> _tapGone;

    /// <summary>
    /// tapGone is called on the loop's thread with a session whose TAP interface was deleted; it must not block.
    /// With <paramref name="host"/> the loop runs on the host's thread.
    /// </summary>
    public TxLoop(Func<DataplaneMap> map, Action<SessionRuntime> tapGone, PacketLoop? host = null) : base("l2tp-tx", map, host) => _tapGone = tapGone;

    /// <summary>EBADFD: what read gives on a TAP fd whose interface was deleted (the fd is detached from any device).</summary>
    private const int EBADFD_ = 77;

    protected override void Handle(DataplaneMap map, int fd, int events)
    {
        if (!map.ByTap.TryGetValue(fd, out var s))
            return;
        // A TAP fd whose interface was deleted (ip link del) polls EPOLLERR for ever and epoll is level-triggered: left
        // in the set it would spin this thread at 100 %. It leaves the set at once; the control thread deletes the session.
        if ((events & (EPOLLERR | EPOLLHUP)) != 0)
        {
            TapGone(s, fd);
            return;
        }
        int vnet = s.TapVnetHeader ? VnetHdr.Size : 0;
        CoarseClock.Tx = Environment.TickCount64;
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
                    if (errno == EBADFD_)
                    {
                        if (count > 0)
                            Send(s, count);
                        TapGone(s, fd);
                        return;
                    }
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

    private void TapGone(SessionRuntime s, int fd)
    {
        Remove(fd);
        _tapGone(s);
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
    private void SetMessage(int i, byte* start, int length, int packets, int stride) => SetMessage(_batch, i, start, length, packets, stride);

    internal static void SetMessage(Batch batch, int i, byte* start, int length, int packets, int stride)
    {
        batch.Iov[i].iov_base = start;
        batch.Iov[i].iov_len = (Tmds.Linux.size_t)(ulong)length;
        batch.Msgs[i].Iov = &batch.Iov[i];
        batch.Msgs[i].IovLen = 1;
        batch.Packets[i] = packets;
        SetSegment(batch, i, packets, stride);
    }

    /// <summary>Gives message i a UDP_SEGMENT cmsg of <paramref name="stride"/> when it carries more than one packet.</summary>
    private static void SetSegment(Batch batch, int i, int packets, int stride)
    {
        if (packets == 1)
        {
            batch.Msgs[i].Control = null;
            batch.Msgs[i].ControlLen = 0;
            return;
        }
        // struct cmsghdr { size_t len; int level; int type; } then the u16 segment size.
        byte* c = batch.Control + i * Batch.ControlSize;
        *(ulong*)c = 16 + 2;
        *(int*)(c + 8) = IPPROTO_UDP;
        *(int*)(c + 12) = Sys.UDP_SEGMENT;
        *(ushort*)(c + 16) = (ushort)stride;
        batch.Msgs[i].Control = c;
        batch.Msgs[i].ControlLen = Batch.ControlSize;
    }

    /// <summary>
    /// Joins runs of single packets of one size (the last of a run may be shorter) into UDP GSO messages over their
    /// iovecs, in place, and returns the number of messages. Small frames and TCP acknowledgements then cross the
    /// IP stack once per run rather than once per packet, and the peer's UDP GRO hands them over in one read.
    /// </summary>
    internal static int Coalesce(Batch batch, int count)
    {
        int k = 0;
        for (int i = 0; i < count;)
        {
            int packets = batch.Packets[i];
            if (packets > 1)
            {
                // Already a GSO message (TCP segments): moves down as it is, with its cmsg.
                int stride = *(ushort*)(batch.Control + i * Batch.ControlSize + 16);
                batch.Msgs[k] = batch.Msgs[i];
                SetSegment(batch, k, packets, stride);
                batch.Packets[k++] = packets;
                i++;
                continue;
            }
            int size = (int)(ulong)batch.Iov[i].iov_len, run = 1, total = size;
            while (i + run < count && run < MaxGsoSegments && batch.Packets[i + run] == 1)
            {
                int next = (int)(ulong)batch.Iov[i + run].iov_len;
                if (next > size || total + next > MaxUdpPayload)
                    break;
                total += next;
                run++;
                if (next < size)
                    break;   // only the last segment of a GSO message may be shorter
            }
            batch.Msgs[k].Iov = &batch.Iov[i];
            batch.Msgs[k].IovLen = (nuint)run;
            SetSegment(batch, k, run, size);
            batch.Packets[k++] = run;
            i += run;
        }
        return k;
    }

    /// <summary>The bytes message i carries, over all its iovecs.</summary>
    private long MessageBytes(int i)
    {
        long bytes = 0;
        for (int v = 0; v < (int)_batch.Msgs[i].IovLen; v++)
            bytes += (long)(ulong)_batch.Msgs[i].Iov[v].iov_len;
        return bytes;
    }

    /// <summary>Whether <see cref="Coalesce"/> joins single packets; L2TP_FORWARDER_JOIN=0 turns it off, for comparison in Bench.</summary>
    internal static readonly bool JoinEnabled = Environment.GetEnvironmentVariable("L2TP_FORWARDER_JOIN") != "0";

    private void Send(SessionRuntime s, int count)
    {
        if (s.UdpGso && count > 1 && JoinEnabled)
            count = Coalesce(_batch, count);
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
                    // The kernel may not segment for this socket or route (a path MTU below the segment, say): send
                    // these packets one by one, and every later one too, if single packets do go. EINVAL is also
                    // what a removed local address gives; that passing fault must not cost GSO for good.
                    if (SendOneByOne(s, done) > 0)
                        s.UdpGso = false;
                }
                else
                {
                    SendFailed(s, e, _batch.Packets[done]);
                }
                done++;   // go on with the rest
                continue;
            }
            for (int i = done; i < done + n; i++)
                CountSent(s, _batch.Packets[i], MessageBytes(i));
            done += n;
        }
    }

    /// <summary>Sends the packets of GSO message i each on its own (stride by stride over its iovecs); returns how many went.</summary>
    private int SendOneByOne(SessionRuntime s, int i)
    {
        int stride = *(ushort*)((byte*)_batch.Msgs[i].Control + 16);
        int sent = 0;
        for (int v = 0; v < (int)_batch.Msgs[i].IovLen; v++)
        {
            byte* start = (byte*)_batch.Msgs[i].Iov[v].iov_base;
            int length = (int)(ulong)_batch.Msgs[i].Iov[v].iov_len;
            for (int off = 0; off < length; off += stride)
            {
                int len = Math.Min(stride, length - off);
                if (Sys.Send(s.SocketFd, new ReadOnlySpan<byte>(start + off, len)) < 0)
                {
                    SendFailed(s, Sys.Errno, 1);
                    continue;
                }
                CountSent(s, 1, len);
                sent++;
            }
        }
        return sent;
    }

    /// <summary>Counts packets the network refused and records why, so Get-L2tpTunnel can say the tunnel cannot send.</summary>
    private static void SendFailed(SessionRuntime s, int errno, int packets)
    {
        CountError(s, packets);
        s.TunnelCounters.RecordSendError(errno);
    }

    private static void CountSent(SessionRuntime s, int packets, long bytes)
    {
        s.Counters.TxPackets += packets;
        s.Counters.TxBytes += bytes;
        s.TunnelCounters.TxPackets += packets;
        s.TunnelCounters.TxBytes += bytes;
        long now = CoarseClock.Tx;
        if (s.Counters.LastTxTick != now)
            s.Counters.LastTxTick = now;
        // Read before written: the common case (no error) leaves the cache line clean.
        if (s.TunnelCounters.LastTxErrno != 0)
            s.TunnelCounters.ClearSendError();
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
