using System.Diagnostics;
using System.Net;
using System.Text;
using L2tp.Configuration;
using L2tp.Forwarder;
using L2tp.Protocol;
using Xunit;

namespace L2tp.Tests;

/// <summary>
/// Work over a whole namespace (a journal replayed at a forwarder's start, a file compared or planned against the live
/// state) must grow with the sessions, not with their square. Timed as a ratio, never against a wall-clock bound: the
/// same work at N and at 4N sessions, best of 3, takes ~4 times as long when linear and ~16 times when quadratic.
/// </summary>
public sealed class WholeNamespaceScalingTests(Xunit.Abstractions.ITestOutputHelper output)
{
    private const double Limit = 9;

    /// <summary>The best of 3 timed runs, each freshly prepared (untimed) by <paramref name="prepare"/>.</summary>
    private static double BestSeconds(Func<Action> prepare)
    {
        double best = double.MaxValue;
        for (int i = 0; i < 3; i++)
        {
            var run = prepare();
            var sw = Stopwatch.StartNew();
            run();
            best = Math.Min(best, sw.Elapsed.TotalSeconds);
        }
        return best;
    }

    private static double Ratio(int small, int large, Func<int, Func<Action>> work)
    {
        // A first run of each size warms the JIT and the allocator, so the timed ones compare like with like.
        work(200)()();
        double smallSeconds = BestSeconds(work(small));
        double largeSeconds = BestSeconds(work(large));
        return largeSeconds / Math.Max(smallSeconds, 1e-6);
    }

    private static StateStore.TunnelRecord TunnelWith(int sessions)
    {
        var t = StateStore.ToRecord(
            new TunnelSpec { TunnelId = 3000, PeerTunnelId = 4000, Local = IPAddress.Parse("192.0.2.1"), Remote = IPAddress.Parse("192.0.2.2"), SourcePort = 5000, DestinationPort = 6000 },
            Array.Empty<(SessionSpec, string)>());
        for (uint i = 1; i <= sessions; i++)
            t.Sessions.Add(StateStore.ToRecord(new SessionSpec { TunnelId = 3000, SessionId = i, PeerSessionId = i }, $"l2tpeth{i - 1}"));
        return t;
    }

    [Fact]
    public void Replaying_a_journal_as_long_as_the_state_grows_with_the_sessions_not_their_square()
    {
        // The journal a forwarder killed mid-burst leaves: every session deleted, then half of them made again.
        string Journal(int n)
        {
            var text = new StringBuilder();
            for (int i = 1; i <= n; i++)
                text.Append("{\"Op\":\"-session\",\"TunnelId\":3000,\"SessionId\":").Append(i).Append("}\n");
            return text.ToString();
        }
        // Large enough that a scan per line (the quadratic term) outweighs parsing the lines (the linear one).
        const int Small = 8000, Large = 32000;
        double ratio = Ratio(Small, Large, n =>
        {
            string journal = Journal(n);
            return () =>
            {
                var state = new StateStore.LoadResult(new() { TunnelWith(n) }, new());
                return () =>
                {
                    Assert.Equal(n, StateStore.Replay(state, journal, DateTime.UtcNow));
                    Assert.Empty(state.Tunnels[0].Sessions);
                };
            };
        });
        output.WriteLine($"replay: {ratio:N1}x");
        Assert.True(ratio < Limit, $"replaying {Large} journal lines took {ratio:N1} times as long as {Small} (linear ~4, quadratic ~16)");
    }

    [Fact]
    public void A_replayed_journal_leaves_the_sessions_in_the_order_a_line_by_line_replay_gave()
    {
        var state = new StateStore.LoadResult(new() { TunnelWith(5) }, new());
        string journal = string.Concat(
            "{\"Op\":\"-session\",\"TunnelId\":3000,\"SessionId\":2}\n",
            "{\"Op\":\"session\",\"TunnelId\":3000,\"SessionId\":4,\"Session\":{\"SessionId\":4,\"PeerSessionId\":44,\"InterfaceName\":\"l2tpeth3\"}}\n",
            "{\"Op\":\"session\",\"TunnelId\":3000,\"SessionId\":9,\"Session\":{\"SessionId\":9,\"PeerSessionId\":9,\"InterfaceName\":\"l2tpeth9\"}}\n",
            "{\"Op\":\"rename\",\"TunnelId\":3000,\"SessionId\":4,\"InterfaceName\":\"pw4\"}\n",
            "{\"Op\":\"session\",\"TunnelId\":3000,\"SessionId\":2,\"Session\":{\"SessionId\":2,\"PeerSessionId\":2,\"InterfaceName\":\"l2tpeth1\"}}\n",
            "{\"Op\":\"-session\",\"TunnelId\":3000,\"SessionId\":9}\n");
        Assert.Equal(6, StateStore.Replay(state, journal, DateTime.UtcNow));
        var s = state.Tunnels[0].Sessions;
        Assert.Equal(new uint[] { 1, 3, 5, 4, 2 }, s.Select(x => x.SessionId));
        Assert.Equal(44u, s[3].PeerSessionId);
        Assert.Equal("pw4", s[3].InterfaceName);
    }

    private static L2tpNamespaceConfiguration Namespace(int sessions, int ports)
    {
        var tunnel = new L2tpTunnel
        {
            TunnelId = 3000, PeerTunnelId = 4000, Encapsulation = Encapsulation.Udp, Local = IPAddress.Parse("192.0.2.1"),
            Remote = IPAddress.Parse("192.0.2.2"), SourcePort = 5000, DestinationPort = 6000, Backend = BackendKind.Managed,
        };
        var list = Enumerable.Range(1, sessions).Select(i => new L2tpSession
        {
            TunnelId = 3000, SessionId = (uint)i, PeerSessionId = (uint)i, InterfaceName = $"l2tpeth{i - 1}",
            L2SpecType = L2SpecType.Default, SuggestedMtu = 1446, Mtu = 1446,
        }).ToList();
        var bridge = new L2tpBridge { Name = "br0", Up = true, Ports = Enumerable.Range(0, ports).Select(i => $"l2tpeth{i}").ToArray() };
        return LiveState.Build("site-a", new[] { tunnel }, list, _ => null, new[] { bridge });
    }

    [Fact]
    public void Comparing_and_planning_a_file_that_matches_grows_with_the_sessions_not_their_square()
    {
        const int Small = 5000, Large = 20000;
        double ratio = Ratio(Small, Large, n =>
        {
            var file = Namespace(n, n);
            var live = Namespace(n, n);
            return () => () =>
            {
                Assert.Empty(Planner.Compare(file, live));
                Assert.Empty(Planner.Plan(file, live, prune: true));
            };
        });
        output.WriteLine($"compare and plan: {ratio:N1}x");
        Assert.True(ratio < Limit, $"Compare and Plan -Prune of {Large} sessions (each a bridge port) took {ratio:N1} times as long as {Small} (linear ~4, quadratic ~16)");
    }
}
