using L2tp.Forwarder.Dataplane;
using Xunit;
using static L2tp.Forwarder.Dataplane.SequenceVerdict;

namespace L2tp.Tests;

/// <summary>
/// The receive-sequence rules of Linux l2tp_core for a session without reorder timeout (l2tp_recv_common,
/// l2tp_recv_data_seq, l2tp_recv_dequeue), lns_mode 0.
/// </summary>
public class SequencerTests
{
    private static SequenceVerdict[] Feed(Sequencer s, params uint[] ns) => ns.Select(n => s.OnReceive(true, n)).ToArray();

    [Fact]
    public void First_sequenced_packet_sets_nr_whatever_its_number()
    {
        var s = new Sequencer(false, true);
        Assert.Equal(Deliver, s.OnReceive(true, 1000));
        Assert.Equal(Deliver, s.OnReceive(true, 1001));
        Assert.Equal(DiscardSequence, s.OnReceive(true, 1003));   // nr is now 1002: ahead of it is out of order
        Assert.Equal(DiscardWindow, s.OnReceive(true, 1000));     // behind it is outside the window
    }

    [Fact]
    public void First_sequenced_packet_is_still_window_checked_against_nr_0()
    {
        var s = new Sequencer(false, false);
        Assert.Equal(DiscardWindow, s.OnReceive(true, 0x7FFFFF));   // distance 0x7fffff is not below the window
        Assert.Equal(DiscardWindow, s.OnReceive(true, 0xFFFFFF));
        Assert.Equal(Deliver, s.OnReceive(true, 0x7FFFFE));        // the largest first number accepted
        Assert.Equal(Deliver, s.OnReceive(true, 0x7FFFFF));
    }

    [Fact]
    public void In_order_packets_are_all_delivered()
    {
        var s = new Sequencer(false, true);
        Assert.All(Feed(s, Enumerable.Range(0, 100).Select(i => (uint)i).ToArray()), v => Assert.Equal(Deliver, v));
    }

    [Fact]
    public void In_order_delivery_wraps_from_0xFFFFFF_to_0()
    {
        var s = new Sequencer(false, true);
        // nr can only get near the top through the window in steps: 0x700001, then two re-syncs.
        Assert.Equal(Deliver, s.OnReceive(true, 0x700000));
        Assert.Equal(Deliver, Feed(s, 0xEFFFF0, 0xEFFFF1, 0xEFFFF2, 0xEFFFF3, 0xEFFFF4, 0xEFFFF5)[^1]);
        Assert.Equal(Deliver, Feed(s, 0xFFFFF0, 0xFFFFF1, 0xFFFFF2, 0xFFFFF3, 0xFFFFF4, 0xFFFFF5)[^1]);   // nr = 0xfffff6
        Assert.All(Feed(s, 0xFFFFF6, 0xFFFFF7, 0xFFFFF8, 0xFFFFF9, 0xFFFFFA, 0xFFFFFB, 0xFFFFFC, 0xFFFFFD, 0xFFFFFE, 0xFFFFFF, 0, 1, 2),
            v => Assert.Equal(Deliver, v));
    }

    [Fact]
    public void One_out_of_order_packet_is_dropped_as_DiscardSequence_and_the_stream_goes_on()
    {
        var s = new Sequencer(false, true);
        Assert.Equal(new[] { Deliver, Deliver, Deliver }, Feed(s, 0, 1, 2));
        // 4 arrives before 3: dropped (no reorder queue), then 3 is what nr expects.
        Assert.Equal(DiscardSequence, s.OnReceive(true, 4));
        Assert.Equal(new[] { Deliver, Deliver, Deliver }, Feed(s, 3, 4, 5));
    }

    [Fact]
    public void Duplicate_packet_is_behind_nr_so_outside_the_window()
    {
        var s = new Sequencer(false, false);
        Assert.Equal(new[] { Deliver, Deliver, DiscardWindow, Deliver }, Feed(s, 10, 11, 11, 12));
    }

    [Fact]
    public void After_a_jump_five_consecutive_packets_are_dropped_and_the_sixth_resyncs()
    {
        var s = new Sequencer(false, true);
        Assert.Equal(new[] { Deliver, Deliver }, Feed(s, 0, 1));   // nr = 2
        var after = Feed(s, 100, 101, 102, 103, 104, 105, 106, 107);
        Assert.Equal(new[] { DiscardSequence, DiscardSequence, DiscardSequence, DiscardSequence, DiscardSequence, Deliver, Deliver, Deliver }, after);
        // nr followed the new stream: the old numbers are now behind it.
        Assert.Equal(DiscardWindow, s.OnReceive(true, 2));
        Assert.Equal(Deliver, s.OnReceive(true, 108));
    }

    [Fact]
    public void A_break_in_the_run_after_a_jump_restarts_the_count()
    {
        var s = new Sequencer(false, false);
        Feed(s, 0);   // nr = 1
        // 100..103 (count 0..3), then 200 breaks the run (count 0), 201..204 are 1..4: still all dropped; 205 makes 5.
        var v = Feed(s, 100, 101, 102, 103, 200, 201, 202, 203, 204, 205, 206);
        Assert.Equal(Enumerable.Repeat(DiscardSequence, 9).Append(Deliver).Append(Deliver), v);
    }

    [Fact]
    public void An_in_order_packet_in_the_middle_of_a_run_is_delivered_and_the_run_continues()
    {
        var s = new Sequencer(false, false);
        Feed(s, 0);   // nr = 1
        Assert.Equal(new[] { DiscardSequence, DiscardSequence, Deliver, DiscardSequence, DiscardSequence, DiscardSequence, Deliver },
            Feed(s, 50, 51, 1, 52, 53, 54, 55));   // the run 50..55 counts 0..5: the 6th (55) resyncs
    }

    [Fact]
    public void Resync_run_may_cross_the_24_bit_wrap()
    {
        var s = new Sequencer(false, false);
        Assert.Equal(Deliver, s.OnReceive(true, 0x700000));   // nr = 0x700001
        // A first run moves nr near the top of the number space: nr = 0xeffff6.
        Assert.Equal(new[] { DiscardSequence, DiscardSequence, DiscardSequence, DiscardSequence, DiscardSequence, Deliver },
            Feed(s, 0xEFFFF0, 0xEFFFF1, 0xEFFFF2, 0xEFFFF3, 0xEFFFF4, 0xEFFFF5));
        var v = Feed(s, 0xFFFFFD, 0xFFFFFE, 0xFFFFFF, 0, 1, 2, 3);
        Assert.Equal(new[] { DiscardSequence, DiscardSequence, DiscardSequence, DiscardSequence, DiscardSequence, Deliver, Deliver }, v);
    }

    [Fact]
    public void Packet_outside_the_receive_window_is_DiscardWindow_and_does_not_count_toward_resync()
    {
        var s = new Sequencer(false, true);
        Feed(s, 0, 1, 2, 3, 4);   // nr = 5
        Assert.Equal(DiscardWindow, s.OnReceive(true, 4));              // just behind nr: distance 0xffffff
        Assert.Equal(DiscardWindow, s.OnReceive(true, 5 + 0x7FFFFF));   // distance exactly the window size
        Assert.Equal(DiscardSequence, s.OnReceive(true, 5 + 0x7FFFFE)); // the farthest number inside the window
        Assert.Equal(Deliver, s.OnReceive(true, 5));
        // Five window discards in a row do not resync.
        Assert.All(Feed(s, 0, 1, 2, 3, 4, 5), v => Assert.Equal(DiscardWindow, v));
        Assert.Equal(Deliver, s.OnReceive(true, 6));
    }

    [Fact]
    public void Recv_seq_drops_unsequenced_packets()
    {
        var s = new Sequencer(false, true);
        Assert.Equal(DiscardSequence, s.OnReceive(false, 0));
        Assert.Equal(Deliver, s.OnReceive(true, 0));
        Assert.Equal(DiscardSequence, s.OnReceive(false, 0));
        Assert.Equal(Deliver, s.OnReceive(true, 1));
    }

    [Fact]
    public void Without_recv_seq_unsequenced_packets_are_delivered()
    {
        var s = new Sequencer(false, false);
        Assert.Equal(Deliver, s.OnReceive(false, 0));
        Assert.Equal(Deliver, s.OnReceive(false, 12345));
    }

    [Fact]
    public void Send_seq_is_turned_on_by_a_sequenced_packet_from_the_peer()
    {
        var s = new Sequencer(false, false);
        Assert.False(s.SendSeq);
        s.OnReceive(true, 0);
        Assert.True(s.SendSeq);
    }

    [Fact]
    public void Send_seq_is_turned_on_even_by_a_sequenced_packet_that_is_dropped()
    {
        var s = new Sequencer(false, false);
        Assert.Equal(DiscardWindow, s.OnReceive(true, 0x900000));
        Assert.True(s.SendSeq);
    }

    [Fact]
    public void Send_seq_is_turned_off_by_an_unsequenced_packet_from_the_peer()
    {
        var s = new Sequencer(true, false);
        Assert.True(s.SendSeq);
        Assert.Equal(Deliver, s.OnReceive(false, 0));
        Assert.False(s.SendSeq);
        s.OnReceive(true, 0);
        Assert.True(s.SendSeq);
    }

    [Fact]
    public void With_recv_seq_an_unsequenced_packet_is_dropped_before_it_can_turn_send_seq_off()
    {
        var s = new Sequencer(true, true);
        Assert.Equal(DiscardSequence, s.OnReceive(false, 0));
        Assert.True(s.SendSeq);
        Assert.True(s.RecvSeq);
    }

    [Fact]
    public void NextSend_counts_from_0_and_wraps_at_0xFFFFFF()
    {
        var s = new Sequencer(true, false);
        Assert.Equal(0u, s.NextSend());
        Assert.Equal(1u, s.NextSend());
        for (uint i = 2; i < 0xFFFFFF; i++)
            s.NextSend();
        Assert.Equal(0xFFFFFFu, s.NextSend());
        Assert.Equal(0u, s.NextSend());
        Assert.Equal(1u, s.NextSend());
    }
}
