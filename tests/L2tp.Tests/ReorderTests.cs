using L2tp.Forwarder.Dataplane;
using L2tp.Protocol;
using Xunit;
using static L2tp.Forwarder.Dataplane.SequenceVerdict;

namespace L2tp.Tests;

/// <summary>
/// The reorder queue of a session with a reorder timeout, as Linux l2tp_core keeps it (l2tp_recv_data_seq,
/// l2tp_recv_queue_skb, l2tp_recv_dequeue), and the bound the forwarder adds to it. Sequencer-level tests give the
/// clock; end-to-end ones go through RxLoop.Deliver to a pipe standing in for the TAP.
/// </summary>
public sealed class ReorderTests : IDisposable
{
    private readonly Pipe _tap = new();
    private readonly Counters _c = new();

    public void Dispose() => _tap.Dispose();

    private static readonly byte[] NoFrame = new byte[60];

    /// <summary>Feeds sequenced packets (no frame bytes) at time <paramref name="now"/>; returns the numbers delivered, in order.</summary>
    private List<uint> Feed(Sequencer s, long now, params uint[] ns)
    {
        var delivered = new List<uint>();
        foreach (uint n in ns)
        {
            switch (s.OnReceive(true, n))
            {
                case Deliver:
                    delivered.Add(n);
                    break;
                case DiscardSequence:
                    _c.RxSeqDiscards++;
                    _c.RxErrors++;
                    break;
                case DiscardWindow:
                    _c.RxErrors++;
                    break;
                case Hold:
                    if (s.QueueFull)
                    {
                        s.SkipAhead();
                        while (s.TryDequeue(now, _c, out var f))
                            delivered.Add(f.Ns);
                    }
                    if (!s.Hold(true, n, NoFrame, 64, false, now, _c))
                        _c.RxErrors++;
                    while (s.TryDequeue(now, _c, out var e))
                        delivered.Add(e.Ns);
                    break;
            }
            Assert.InRange(s.Held, 0, ReorderQueue.Capacity);
        }
        return delivered;
    }

    [Fact]
    public void In_order_packets_are_delivered_at_once_and_nothing_is_held()
    {
        var s = new Sequencer(false, true, reorderTimeoutMs: 100);
        Assert.Equal(Enumerable.Range(0, 10).Select(i => (uint)i), Feed(s, 0, Enumerable.Range(0, 10).Select(i => (uint)i).ToArray()));
        Assert.Equal(0, s.Held);
        Assert.Equal(0, _c.RxOosPackets + _c.RxSeqDiscards + _c.RxErrors);
    }

    [Fact]
    public void Out_of_order_packets_within_the_timeout_are_delivered_in_order_and_counted_as_rx_oos_packets()
    {
        var s = new Sequencer(false, true, reorderTimeoutMs: 100);
        Assert.Equal(new uint[] { 0 }, Feed(s, 0, 0));
        Assert.Empty(Feed(s, 10, 3));           // waits for 1 and 2
        Assert.Empty(Feed(s, 20, 2));           // goes before 3: an rx_oos_packet
        Assert.Equal(2, s.Held);
        Assert.Equal(new uint[] { 1, 2, 3 }, Feed(s, 30, 1));   // the gap fills (1 too goes before a waiting one): all three, in order
        Assert.Equal(new uint[] { 4 }, Feed(s, 40, 4));
        Assert.Equal((2L, 0L, 0L), (_c.RxOosPackets, _c.RxSeqDiscards, _c.RxErrors));
    }

    [Fact]
    public void A_packet_waiting_past_the_timeout_is_dropped_as_a_seq_discard_and_the_session_skips_ahead()
    {
        var s = new Sequencer(false, true, reorderTimeoutMs: 100);
        Feed(s, 0, 0, 1);
        Assert.Empty(Feed(s, 0, 3));            // 2 is lost; 3 waits until 100
        Assert.Empty(Feed(s, 100, 4));          // not yet past its time (the kernel's time_after): both wait
        // At 150, 3 has waited too long: dropped as l2tp_recv_dequeue does, and nr skips to the next waiting (4).
        Assert.Equal(new uint[] { 4, 5 }, Feed(s, 150, 5));
        Assert.Equal((1L, 1L), (_c.RxSeqDiscards, _c.RxErrors));
        Assert.Equal(0, s.Held);
        // 2, late: behind the expected number now, so outside the window: an error, not a seq discard.
        Assert.Empty(Feed(s, 160, 2));
        Assert.Equal((1L, 2L), (_c.RxSeqDiscards, _c.RxErrors));
        Assert.Equal(new uint[] { 6 }, Feed(s, 170, 6));
    }

    [Fact]
    public void Without_a_timeout_the_same_packets_are_dropped_not_held()
    {
        var s = new Sequencer(false, true);
        Assert.Equal(new uint[] { 0, 1, 2 }, Feed(s, 0, 0, 3, 1, 2));
        Assert.Equal(0, s.Held);
        Assert.Equal((0L, 1L), (_c.RxOosPackets, _c.RxSeqDiscards));
    }

    [Fact]
    public void A_full_queue_holds_64_packets_then_stops_waiting_and_delivers_from_the_oldest_in_order()
    {
        var s = new Sequencer(false, true, reorderTimeoutMs: 60_000);
        Feed(s, 0, 0);
        var ahead = Enumerable.Range(2, ReorderQueue.Capacity).Select(i => (uint)i).ToArray();   // 1 never comes
        Assert.Empty(Feed(s, 0, ahead));
        Assert.Equal(ReorderQueue.Capacity, s.Held);
        uint next = (uint)(2 + ReorderQueue.Capacity);
        Assert.Equal(ahead.Append(next), Feed(s, 0, next));
        Assert.Equal(0, s.Held);
        Assert.Equal(0L, _c.RxSeqDiscards);
    }

    [Fact]
    public void A_hostile_peer_sending_numbers_always_ahead_never_gets_more_than_64_packets_held()
    {
        var s = new Sequencer(false, true, reorderTimeoutMs: 60_000);
        var rnd = new Random(7);
        Feed(s, 0, 0);
        for (int i = 0; i < 5000; i++)
            Feed(s, 0, (uint)rnd.Next(1, 1 << 20));   // Feed asserts the bound after every packet
        Assert.InRange(s.Held, 1, ReorderQueue.Capacity);
    }

    [Fact]
    public void Reordering_across_the_24_bit_wrap_sorts_0xFFFFFF_before_0()
    {
        // The default sublayer carries 24 bits (L2TPv2's 16-bit numbers do not apply to L2TPv3 pseudowires).
        var s = new Sequencer(false, true);
        // nr reaches the top through the window in steps, as in SequencerTests: then reordering is turned on.
        Feed(s, 0, 0x700000);
        Feed(s, 0, 0xEFFFF0, 0xEFFFF1, 0xEFFFF2, 0xEFFFF3, 0xEFFFF4, 0xEFFFF5);
        Feed(s, 0, 0xFFFFF0, 0xFFFFF1, 0xFFFFF2, 0xFFFFF3, 0xFFFFF4, 0xFFFFF5);
        s.ReorderTimeoutMs = 1000;
        Assert.Equal(new uint[] { 0xFFFFF6, 0xFFFFF7, 0xFFFFF8, 0xFFFFF9, 0xFFFFFA, 0xFFFFFB, 0xFFFFFC, 0xFFFFFD },
            Feed(s, 0, 0xFFFFF6, 0xFFFFF7, 0xFFFFF8, 0xFFFFF9, 0xFFFFFA, 0xFFFFFB, 0xFFFFFC, 0xFFFFFD));
        long oos = _c.RxOosPackets;
        Assert.Empty(Feed(s, 1, 1, 0, 0xFFFFFF));   // a plain comparison would put 0xFFFFFF after 1
        Assert.Equal(2, _c.RxOosPackets - oos);     // 0 went before 1, 0xFFFFFF before 0
        Assert.Equal(new uint[] { 0xFFFFFE, 0xFFFFFF, 0, 1, 2 }, Feed(s, 2, 0xFFFFFE, 2));
    }

    [Fact]
    public void Turning_reordering_off_still_drains_what_waits_and_then_drops_again()
    {
        var s = new Sequencer(false, true, reorderTimeoutMs: 100);
        Feed(s, 0, 0, 2);
        s.ReorderTimeoutMs = 0;
        Assert.Equal(new uint[] { 1, 2 }, Feed(s, 1, 1));
        Assert.Empty(Feed(s, 2, 5));               // no queue now: out of order is dropped
        Assert.Equal(1L, _c.RxSeqDiscards);
    }

    private static byte[] Packet(uint ns, bool seq = true)
    {
        var frame = (byte[])TestSpecs.Frame.Clone();
        frame[^1] = (byte)ns;
        var sublayer = seq ? (0x40000000u | ns) : 0u;
        return Hex.B("00030000 000003e9").Concat(BitConverter.GetBytes(System.Buffers.Binary.BinaryPrimitives.ReverseEndianness(sublayer)))
            .Concat(frame).ToArray();
    }

    private (TunnelRuntime, SessionRuntime) Make(ulong timeoutMs)
    {
        var spec = new SessionSpec { TunnelId = 100, SessionId = 1001, PeerSessionId = 2002, Sequencing = SequencingMode.Recv, ReorderTimeoutMs = timeoutMs };
        var s = SessionRuntime.Create(TestSpecs.UdpTunnel, spec, _tap.WriteFd, -1, new Counters(), new Counters());
        var t = new TunnelRuntime
        {
            TunnelId = 100, SocketFd = -1, Encapsulation = Encapsulation.Udp, SkipIpHeader = false,
            Counters = s.TunnelCounters, Sessions = new() { [1001] = s },
        };
        return (t, s);
    }

    /// <summary>The marker byte (the sequence number's low byte) of each 60-byte frame written to the TAP, in order.</summary>
    private byte[] Written() => _tap.Drain().Chunk(60).Select(f => f[^1]).ToArray();

    [Fact]
    public void Rx_path_writes_frames_received_0_3_2_1_to_the_tap_as_0_1_2_3_with_all_bytes_counted()
    {
        var (t, s) = Make(timeoutMs: 10_000);
        foreach (uint n in new uint[] { 0, 3, 2, 1 })
            RxLoop.Deliver(t, Packet(n));
        Assert.Equal(new byte[] { 0, 1, 2, 3 }, Written());
        var st = s.Counters.Snapshot();
        Assert.Equal((4UL, 4UL * (12 + 60), 2UL, 0UL, 0UL), (st.RxPackets, st.RxBytes, st.RxOosPackets, st.RxSeqDiscards, st.RxErrors));
    }

    [Fact]
    public void Rx_path_without_a_timeout_drops_the_same_reordered_frames()
    {
        var (t, s) = Make(timeoutMs: 0);
        foreach (uint n in new uint[] { 0, 3, 2, 1 })
            RxLoop.Deliver(t, Packet(n));
        Assert.Equal(new byte[] { 0, 1 }, Written());
        Assert.Equal(2UL, s.Counters.Snapshot().RxSeqDiscards);
    }

    [Fact]
    public void Rx_path_queues_an_unsequenced_packet_behind_those_waiting_as_the_kernel_does()
    {
        var (t, s) = Make(timeoutMs: 10_000);
        s.Sequencer.RecvSeq = false;
        RxLoop.Deliver(t, Packet(0));
        RxLoop.Deliver(t, Packet(2));
        RxLoop.Deliver(t, Packet(9, seq: false));
        Assert.Equal(new byte[] { 0 }, Written());
        RxLoop.Deliver(t, Packet(1));
        Assert.Equal(new byte[] { 1, 2, 9 }, Written());
    }

    [Fact]
    public void Rx_path_counts_a_runt_frame_held_in_the_queue_as_an_error_when_its_turn_comes_and_goes_on()
    {
        var (t, s) = Make(timeoutMs: 10_000);
        RxLoop.Deliver(t, Packet(0));
        RxLoop.Deliver(t, Packet(2));
        RxLoop.Deliver(t, Packet(1)[..20]);   // 8 bytes of frame: l2tp_eth drops it, but it was number 1
        Assert.Equal(new byte[] { 0, 2 }, Written());
        Assert.Equal((2UL, 1UL), (s.Counters.Snapshot().RxPackets, s.Counters.Snapshot().RxErrors));
    }
}
