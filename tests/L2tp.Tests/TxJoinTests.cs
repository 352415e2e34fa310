using L2tp.Forwarder.Dataplane;
using Xunit;

namespace L2tp.Tests;

/// <summary>
/// TxLoop.Coalesce: the packets of one batch as UDP GSO messages. Each case lays out messages as TxLoop stages them
/// (single packets, and TCP segments already joined by software TSO) and checks the messages that come out against
/// the UDP_SEGMENT rules: one segment size per message, only the last segment shorter, at most 64 segments and 65,507
/// bytes, order kept, nothing lost or doubled.
/// </summary>
public sealed unsafe class TxJoinTests : IDisposable
{
    private readonly Batch _batch = new();

    /// <summary>A staged message: one packet of Length bytes, or (Packets &gt; 1) a TSO message of Packets segments of Stride.</summary>
    private readonly record struct Staged(int Length, int Packets = 1, int Stride = 0);

    /// <summary>A message after joining: its first iovec, how many it spans, packets, and segment size (0: no cmsg).</summary>
    private readonly record struct Joined(int FirstIov, int Iovs, int Packets, int Segment);

    private List<Joined> Join(params Staged[] staged)
    {
        // TxLoop never stages more than a batch holds.
        Assert.InRange(staged.Length, 1, Batch.Size);
        for (int i = 0; i < staged.Length; i++)
            TxLoop.SetMessage(_batch, i, _batch.Slot(i) + Batch.Headroom, staged[i].Length, staged[i].Packets, staged[i].Stride);
        int n = TxLoop.Coalesce(_batch, staged.Length);
        var result = new List<Joined>();
        for (int k = 0; k < n; k++)
        {
            var m = _batch.Msgs[k];
            int segment = m.Control == null ? 0 : *(ushort*)((byte*)m.Control + 16);
            if (m.Control != null)
            {
                Assert.Equal(18UL, *(ulong*)m.Control);   // cmsg_len of a u16
                Assert.Equal((nuint)Batch.ControlSize, m.ControlLen);
            }
            result.Add(new Joined((int)(m.Iov - _batch.Iov), (int)m.IovLen, _batch.Packets[k], segment));
        }
        return result;
    }

    private static Staged[] Singles(int count, int length) => Enumerable.Repeat(new Staged(length), count).ToArray();

    [Fact]
    public void Ten_equal_packets_become_one_message_over_their_ten_iovecs_with_their_size_as_segment()
    {
        Assert.Equal([new Joined(0, 10, 10, 100)], Join(Singles(10, 100)));
    }

    [Fact]
    public void A_shorter_packet_ends_its_run_as_the_last_segment_and_the_next_run_starts_after_it()
    {
        var got = Join([.. Singles(5, 100), new Staged(60), .. Singles(3, 100)]);
        Assert.Equal([new Joined(0, 6, 6, 100), new Joined(6, 3, 3, 100)], got);
    }

    [Fact]
    public void A_longer_packet_is_never_joined_behind_shorter_ones_and_a_lone_packet_gets_no_cmsg()
    {
        Assert.Equal([new Joined(0, 1, 1, 0), new Joined(1, 2, 2, 200)], Join(new Staged(100), new Staged(200), new Staged(200)));
    }

    [Fact]
    public void A_full_batch_of_64_equal_packets_is_one_message_of_64_segments_the_most_udp_gso_takes()
    {
        Assert.Equal([new Joined(0, 64, 64, 100)], Join(Singles(Batch.Size, 100)));
    }

    [Fact]
    public void Runs_stop_before_the_largest_udp_payload_of_65507_bytes()
    {
        // 46 x 1400 = 64,400 fits; a 47th would make 65,800.
        Assert.Equal([new Joined(0, 46, 46, 1400), new Joined(46, 4, 4, 1400)], Join(Singles(50, 1400)));
    }

    [Fact]
    public void A_tso_message_between_runs_moves_down_intact_with_its_own_segment_size()
    {
        var got = Join([.. Singles(3, 100), new Staged(10 * 1000, 10, 1000), .. Singles(2, 100)]);
        Assert.Equal([new Joined(0, 3, 3, 100), new Joined(3, 1, 10, 1000), new Joined(4, 2, 2, 100)], got);
    }

    [Fact]
    public void Random_batches_keep_every_packet_in_order_and_every_message_within_the_udp_segment_rules()
    {
        var random = new Random(1701);
        for (int round = 0; round < 2000; round++)
        {
            int count = random.Next(1, Batch.Size + 1);
            var staged = new Staged[count];
            for (int i = 0; i < count; i++)
            {
                staged[i] = random.Next(10) switch
                {
                    0 => new Staged(random.Next(2, 40) * 1400, 0, 1400) with { Packets = 0 },
                    < 5 => new Staged(random.Next(2) == 0 ? 100 : 1400),
                    _ => new Staged(random.Next(60, 1500)),
                };
                if (staged[i].Packets == 0)
                    staged[i] = staged[i] with { Packets = staged[i].Length / 1400 };
            }
            var got = Join(staged);
            int next = 0;
            foreach (var m in got)
            {
                Assert.Equal(next, m.FirstIov);   // in order, each iovec once
                if (staged[next].Packets > 1)
                {
                    Assert.Equal(new Joined(next, 1, staged[next].Packets, staged[next].Stride), m);
                    next++;
                    continue;
                }
                var lengths = staged.Skip(next).Take(m.Iovs).Select(x => x.Length).ToArray();
                Assert.All(staged.Skip(next).Take(m.Iovs), x => Assert.Equal(1, x.Packets));
                Assert.Equal(m.Iovs, m.Packets);
                Assert.InRange(m.Iovs, 1, 64);
                Assert.InRange(lengths.Sum(), 1, 65507);
                Assert.Equal(m.Iovs == 1 ? 0 : lengths[0], m.Segment);
                Assert.All(lengths[..^1], l => Assert.Equal(lengths[0], l));
                Assert.True(lengths[^1] <= lengths[0]);
                // Greedy: the run ends only where the rules end it.
                int after = next + m.Iovs;
                if (after < count && staged[after].Packets == 1 && lengths[^1] == lengths[0] && m.Iovs < 64)
                    Assert.True(staged[after].Length > lengths[0] || lengths.Sum() + staged[after].Length > 65507,
                        $"round {round}: the run at {next} stopped before {after} for no reason");
                next = after;
            }
            Assert.Equal(count, next);
        }
    }

    public void Dispose() => _batch.Dispose();
}
