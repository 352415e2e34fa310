using System.Net;
using System.Text.Json.Nodes;
using L2tp.Forwarder;
using L2tp.Forwarder.Dataplane;
using L2tp.Native;
using L2tp.Netlink;
using L2tp.Protocol;
using Xunit;
using static Tmds.Linux.LibC;

namespace L2tp.Tests;

/// <summary>
/// What one control request costs, counted (never timed): map entries written, state bytes written, names probed. Each
/// must be the same with few sessions and with many, so that making N sessions costs O(N), not O(N²).
/// </summary>
public sealed class ControlPlaneCostTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("l2tp-cost-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static SessionRuntime Runtime(uint id, int tapFd) => SessionRuntime.Create(
        new TunnelSpec { TunnelId = 1, PeerTunnelId = 2, Local = IPAddress.Loopback, Remote = IPAddress.Loopback, SourcePort = 1, DestinationPort = 2 },
        new SessionSpec { TunnelId = 1, SessionId = id, PeerSessionId = id }, tapFd, -1, new Counters(), new Counters());

    [Fact]
    public void Adding_or_removing_a_session_writes_two_map_entries_whatever_the_map_holds()
    {
        var map = new DataplaneMap();
        var t = new TunnelRuntime { TunnelId = 1, SocketFd = 3, Encapsulation = Encapsulation.Udp, SkipIpHeader = false, Counters = new(), Sessions = new() };
        map.AddTunnel(t);
        var cost = new List<long>();
        for (uint i = 1; i <= 2000; i++)
        {
            long before = map.EntriesWritten;
            map.AddSession(t, Runtime(i, 1000 + (int)i));
            cost.Add(map.EntriesWritten - before);
        }
        Assert.All(cost, c => Assert.Equal(2, c));
        long b = map.EntriesWritten;
        map.RemoveSession(t, t.Sessions[1000]);
        Assert.Equal(2, map.EntriesWritten - b);
        Assert.Equal(1999, t.Sessions.Count);
        Assert.Equal(1999, map.ByTap.Count);
        Assert.False(map.ByTap.ContainsKey(2000));
    }

    [Fact]
    public void Names_are_the_lowest_free_number_and_a_pick_probes_one_number_however_many_are_held()
    {
        var names = new InterfaceNames("l2tpeth%d");
        for (int i = 0; i < 5000; i++)
        {
            long before = names.Probes;
            string name = names.Candidates().First();
            Assert.Equal($"l2tpeth{i}", name);
            Assert.Equal(1, names.Probes - before);
            names.Hold(name);
        }
        names.Release("l2tpeth17");
        names.Release("l2tpeth3");
        Assert.Equal("l2tpeth3", names.Candidates().First());
        names.Hold("l2tpeth3");
        Assert.Equal("l2tpeth17", names.Candidates().First());
        names.Hold("l2tpeth17");
        Assert.Equal("l2tpeth5000", names.Candidates().First());
        // Names of another form, or numbers the kernel would not write, are not the pattern's.
        foreach (var other in new[] { "l2tpeth", "l2tpeth01", "l2tpeth-1", "l2tpethx", "eth0", "l2tpeth5000a" })
            Assert.False(names.TryNumber(other, out _), other);
    }

    private static StateStore.TunnelRecord TunnelRecord(uint id) => StateStore.ToRecord(
        new TunnelSpec { TunnelId = id, PeerTunnelId = id + 1, Local = IPAddress.Parse("192.0.2.1"), Remote = IPAddress.Parse("192.0.2.2"), SourcePort = 5000, DestinationPort = 6000 },
        Array.Empty<(SessionSpec, string)>());

    private static StateStore.SessionRecord SessionRecord(uint id) =>
        StateStore.ToRecord(new SessionSpec { TunnelId = 3000, SessionId = id, PeerSessionId = id }, $"l2tpeth{id}");

    [Fact]
    public void A_journaled_change_writes_one_short_line_whatever_the_state_holds()
    {
        var store = new StateStore(Path.Combine(_dir, "state.json"));
        var tunnel = TunnelRecord(3000);
        for (uint i = 1; i <= 3000; i++)
            tunnel.Sessions.Add(SessionRecord(i));
        store.Save(new() { tunnel });
        long before = store.BytesWritten;
        store.Append(StateStore.JournalEntry.SessionCreated(3000, SessionRecord(3001)));
        long oneAtThreeThousand = store.BytesWritten - before;
        before = store.BytesWritten;
        store.Append(StateStore.JournalEntry.SessionCreated(3000, SessionRecord(3002)));
        Assert.Equal(oneAtThreeThousand, store.BytesWritten - before);
        Assert.InRange(oneAtThreeThousand, 1, 300);
        Assert.Equal(1, store.Snapshots);
        store.Dispose();
        var back = store.Load();
        Assert.Empty(back.Rejected);
        Assert.Equal(3002, back.Tunnels.Single().Sessions.Count);
    }

    [Fact]
    public void The_journal_replays_over_its_snapshot_and_a_cut_line_is_ignored_and_a_bad_one_set_aside()
    {
        string path = Path.Combine(_dir, "state.json");
        var store = new StateStore(path);
        var tunnel = TunnelRecord(3000);
        tunnel.Sessions.Add(SessionRecord(1));
        tunnel.Sessions.Add(SessionRecord(2));
        store.Save(new() { tunnel });
        store.Append(StateStore.JournalEntry.SessionDeleted(3000, 1));
        store.Append(StateStore.JournalEntry.SessionCreated(3000, SessionRecord(3)));
        store.Append(StateStore.JournalEntry.Renamed(3000, 2, "pw2"));
        store.Append(StateStore.JournalEntry.TunnelCreated(TunnelRecord(3001)));
        store.Append(StateStore.JournalEntry.SessionCreated(3001, SessionRecord(7)));
        store.Dispose();
        // A bad line in the middle, and a line cut short by a death mid-write (never acknowledged).
        File.AppendAllText(store.JournalPath, "{\"Op\":\"session\",\"TunnelId\":3001,\"Session\":{\"SessionId\":8,\"Cookie\":\"zz\"}}\n");
        File.AppendAllText(store.JournalPath, "{\"Op\":\"-tunnel\",\"TunnelId\":30");
        var r = new StateStore(path).Load();
        Assert.Equal(new uint[] { 3000, 3001 }, r.Tunnels.Select(t => t.TunnelId));
        Assert.Equal(new uint[] { 2, 3 }, r.Tunnels[0].Sessions.Select(s => s.SessionId).Order());
        Assert.Equal("pw2", r.Tunnels[0].Sessions.Single(s => s.SessionId == 2).InterfaceName);
        Assert.Equal(new uint[] { 7 }, r.Tunnels[1].Sessions.Select(s => s.SessionId));
        var bad = Assert.Single(r.Rejected);
        Assert.Equal("journal line 6", bad.What);
        Assert.Equal("zz", (string)bad.Entry!["Session"]!["Cookie"]!);

        // A crash after a new snapshot but before the journal went: replaying it again over the snapshot changes nothing.
        var journal = File.ReadAllText(store.JournalPath);
        var again = new StateStore.LoadResult(r.Tunnels, new());
        StateStore.Replay(again, journal, DateTime.UtcNow);
        Assert.Equal(new uint[] { 2, 3 }, again.Tunnels[0].Sessions.Select(s => s.SessionId).Order());
        Assert.Equal(new uint[] { 7 }, again.Tunnels[1].Sessions.Select(s => s.SessionId));
    }

    [Fact]
    public void A_snapshot_takes_the_journal_in_and_removes_it()
    {
        string path = Path.Combine(_dir, "state.json");
        var store = new StateStore(path);
        store.Save(new() { TunnelRecord(3000) });
        store.Append(StateStore.JournalEntry.SessionCreated(3000, SessionRecord(1)));
        Assert.True(File.Exists(store.JournalPath));
        var loaded = store.Load();
        store.Save(loaded.Tunnels);
        Assert.Equal(new[] { "state.json" }, Directory.GetFiles(_dir).Select(Path.GetFileName));
        Assert.Equal(0, store.JournalEntries);
        Assert.Equal(new uint[] { 1 }, JsonNode.Parse(File.ReadAllText(path))![0]!["Sessions"]!.AsArray().Select(s => (uint)s!["SessionId"]!));
    }

    /// <summary>
    /// The whole forwarder, with real TAPs, in a network namespace of its own (a thread that unshares one: the TAPs go
    /// with it when the thread ends). Session N+1 costs what session 21 cost: the same map entries, the same state bytes,
    /// no snapshot, one name probed.
    /// </summary>
    [Fact]
    public void A_session_request_costs_the_forwarder_the_same_with_twenty_sessions_or_two_hundred()
    {
        Exception? failure = null;
        var thread = new Thread(() =>
        {
            try { CountInOwnNamespace(); }
            catch (Exception e) { failure = e; }
        });
        thread.Start();
        thread.Join();
        if (failure is not null)
            throw new Xunit.Sdk.XunitException($"in a namespace of its own: {failure}");
    }

    private record Cost(long MapEntries, long StateBytes, int Snapshots, long NameProbes);

    private void CountInOwnNamespace()
    {
        Sys.Check((int)unshare(Sys.CLONE_NEWNET_), "unshare(CLONE_NEWNET)");
        using (var rt = new RtNetlink())
            rt.SetLink(1, up: true);   // lo
        var store = new StateStore(Path.Combine(_dir, "state.json"));
        using var fwd = new L2tp.Forwarder.Forwarder(store);
        fwd.CreateTunnel(new TunnelSpec
        {
            TunnelId = 3000, PeerTunnelId = 4000, Local = IPAddress.Loopback, Remote = IPAddress.Loopback, SourcePort = 5000, DestinationPort = 6000,
        });
        Cost Measure(uint sid)
        {
            var before = new Cost(fwd.Map.EntriesWritten, store.BytesWritten, store.Snapshots, fwd.Names.Probes);
            fwd.CreateSession(new SessionSpec { TunnelId = 3000, SessionId = sid, PeerSessionId = sid });
            return new Cost(fwd.Map.EntriesWritten - before.MapEntries, store.BytesWritten - before.StateBytes,
                store.Snapshots - before.Snapshots, fwd.Names.Probes - before.NameProbes);
        }
        var costs = new Dictionary<uint, Cost>();
        for (uint sid = 1; sid <= 200; sid++)
            costs[sid] = Measure(sid);
        // The journal line holds the id and the name in decimal: compare ids and names of the same width.
        Assert.Equal(costs[21] with { StateBytes = 0 }, costs[99] with { StateBytes = 0 });
        Assert.Equal(costs[101], costs[200]);
        Assert.Equal(new Cost(2, costs[101].StateBytes, 0, 1), costs[200]);
        Assert.InRange(costs[200].StateBytes, 1, 300);
        Assert.Equal("l2tpeth199", fwd.FindTunnel(3000)!.Sessions[200].Tap.Name);
        // Deleting costs the same too, and frees the name for the next session, as the kernel's l2tpeth%d would.
        long entries = fwd.Map.EntriesWritten, bytes = store.BytesWritten;
        fwd.DeleteSession(3000, 50);
        Assert.Equal(2, fwd.Map.EntriesWritten - entries);
        Assert.InRange(store.BytesWritten - bytes, 1, 100);
        Assert.Equal("l2tpeth49", fwd.CreateSession(new SessionSpec { TunnelId = 3000, SessionId = 500, PeerSessionId = 500 }).Tap.Name);
        // Journal and snapshot together hold every session.
        fwd.CompactIfStale();
        var saved = store.Load().Tunnels.Single().Sessions;
        Assert.Equal(200, saved.Count);
        Assert.Contains(saved, s => s.SessionId == 500 && s.InterfaceName == "l2tpeth49");
        fwd.DeleteTunnel(3000);
    }
}
