using System.Text.Json.Nodes;
using L2tp.Forwarder;
using Xunit;

namespace L2tp.Tests;

/// <summary>The state file loader judges each tunnel and session on its own and never throws for what the file holds.</summary>
public sealed class StateStoreTests : IDisposable
{
    private static readonly DateTime Now = new(2024, 1, 1, 0, 0, 0, DateTimeKind.Utc);
    private readonly string _dir = Directory.CreateTempSubdirectory("l2tp-state-").FullName;
    private string StatePath => Path.Combine(_dir, "state.json");

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static string Session(uint id, string cookie = "0102030405060708", string name = "l2tpeth0", string seq = "None") =>
        $$"""{ "SessionId": {{id}}, "PeerSessionId": {{id + 1000}}, "InterfaceName": "{{name}}", "Cookie": "{{cookie}}", "PeerCookie": "", "L2SpecType": "Default", "Sequencing": "{{seq}}" }""";

    private static string Tunnel(uint id, string sessions = "", string local = "192.0.2.1", string encap = "Udp", int sport = 5000) =>
        $$"""{ "TunnelId": {{id}}, "PeerTunnelId": {{id + 1000}}, "Encapsulation": "{{encap}}", "Local": "{{local}}", "Remote": "192.0.2.2", "SourcePort": {{sport}}, "DestinationPort": 6000, "UdpChecksum": true, "Udp6ChecksumTx": true, "Udp6ChecksumRx": true, "Sessions": [{{sessions}}] }""";

    [Fact]
    public void A_session_with_a_bad_cookie_is_set_aside_with_its_reason_and_the_rest_is_loaded()
    {
        string text = $"[{Tunnel(3000, Session(1) + "," + Session(2, cookie: "0102zz", name: "l2tpeth1"))},{Tunnel(3001, Session(5, name: "l2tpeth2"))}]";
        var r = StateStore.Parse(text, Now);
        Assert.Equal(new uint[] { 3000, 3001 }, r.Tunnels.Select(t => t.TunnelId));
        Assert.Equal(new uint[] { 1 }, r.Tunnels[0].Sessions.Select(s => s.SessionId));
        Assert.Equal(new uint[] { 5 }, r.Tunnels[1].Sessions.Select(s => s.SessionId));
        var bad = Assert.Single(r.Rejected);
        Assert.Equal("session 2 of tunnel 3000", bad.What);
        Assert.Contains("ookie", bad.Reason);
        Assert.Equal("0102zz", (string)bad.Entry!["Cookie"]!);
    }

    [Theory]
    [InlineData("Local: not an address", "not-an-address", "Udp", 5000)]
    [InlineData("unknown encapsulation", "192.0.2.1", "Gre", 5000)]
    [InlineData("port out of range", "192.0.2.1", "Udp", 70000)]
    [InlineData("missing source port", "192.0.2.1", "Udp", 0)]
    public void A_bad_tunnel_is_set_aside_with_its_sessions_and_the_others_are_loaded(string _, string local, string encap, int sport)
    {
        string text = $"[{Tunnel(3000, Session(1), local: local, encap: encap, sport: sport)},{Tunnel(3001, Session(5, name: "l2tpeth2"))}]";
        var r = StateStore.Parse(text, Now);
        Assert.Equal(3001u, Assert.Single(r.Tunnels).TunnelId);
        var bad = Assert.Single(r.Rejected);
        Assert.Equal("tunnel 3000 (with its 1 session(s))", bad.What);
        Assert.NotEmpty(bad.Reason);
        Assert.Single(bad.Entry!["Sessions"]!.AsArray());
    }

    [Fact]
    public void A_duplicate_tunnel_id_keeps_the_first_and_sets_the_second_aside()
    {
        var r = StateStore.Parse($"[{Tunnel(3000, Session(1))},{Tunnel(3000, Session(2, name: "l2tpeth1"), sport: 5001)}]", Now);
        Assert.Equal(5000, Assert.Single(r.Tunnels).SourcePort);
        Assert.Contains("more than once", Assert.Single(r.Rejected).Reason);
    }

    [Fact]
    public void A_duplicate_session_id_in_a_tunnel_keeps_the_first()
    {
        var r = StateStore.Parse($"[{Tunnel(3000, Session(1) + "," + Session(1, name: "l2tpeth1"))}]", Now);
        Assert.Equal("l2tpeth0", Assert.Single(Assert.Single(r.Tunnels).Sessions).InterfaceName);
        Assert.Equal("session 1 of tunnel 3000", Assert.Single(r.Rejected).What);
    }

    [Fact]
    public void A_session_without_an_interface_name_or_with_an_undefined_sequencing_is_set_aside()
    {
        var r = StateStore.Parse($"[{Tunnel(3000, Session(1, name: "") + "," + Session(2, name: "l2tpeth1", seq: "7") + "," + Session(3, name: "l2tpeth3"))}]", Now);
        Assert.Equal(new uint[] { 3 }, Assert.Single(r.Tunnels).Sessions.Select(s => s.SessionId));
        Assert.Equal(new[] { "session 1 of tunnel 3000", "session 2 of tunnel 3000" }, r.Rejected.Select(x => x.What));
    }

    [Theory]
    [InlineData("")]
    [InlineData("   \n")]
    [InlineData("[{\"TunnelId\": 3000, \"PeerTunnelId\": 40")]
    [InlineData("this is not json")]
    [InlineData("{\"TunnelId\": 3000}")]
    public void An_empty_truncated_or_non_JSON_file_is_set_aside_whole(string text)
    {
        var r = StateStore.Parse(text, Now);
        Assert.Empty(r.Tunnels);
        var bad = Assert.Single(r.Rejected);
        Assert.Equal("the whole state file", bad.What);
        if (!text.StartsWith('{'))
            Assert.Equal(text, bad.Entry!.GetValue<string>());
    }

    [Fact]
    public void Load_writes_the_rejected_file_and_later_loads_add_to_it_without_losing_earlier_entries()
    {
        var store = new StateStore(StatePath);
        File.WriteAllText(StatePath, $"[{Tunnel(3000, Session(1, cookie: "xyz"))}]");
        var first = store.Load();
        Assert.Single(first.Tunnels);
        File.WriteAllText(StatePath, "not json");
        store.Load();
        var all = store.LoadRejected();
        Assert.Equal(new[] { "session 1 of tunnel 3000", "the whole state file" }, all.Select(r => r.What));
        Assert.Equal("xyz", (string)JsonNode.Parse(File.ReadAllText(store.RejectedPath))![0]!["Entry"]!["Cookie"]!);
    }

    [Fact]
    public void Save_replaces_the_file_atomically_and_leaves_no_temporary_file()
    {
        var store = new StateStore(StatePath);
        var records = StateStore.Parse($"[{Tunnel(3000, Session(1))}]", Now).Tunnels;
        store.Save(records);
        store.Save(records);
        Assert.Equal(new[] { "state.json" }, Directory.GetFiles(_dir).Select(Path.GetFileName));
        var back = store.Load();
        Assert.Empty(back.Rejected);
        Assert.Equal("l2tpeth0", back.Tunnels.Single().Sessions.Single().InterfaceName);
    }

    [Fact]
    public void A_session_written_before_reorder_timeouts_existed_loads_with_none()
    {
        var r = StateStore.Parse($"[{Tunnel(3000, Session(1))}]", Now);
        Assert.Empty(r.Rejected);
        Assert.Equal(0UL, StateStore.ToSpec(3000, r.Tunnels[0].Sessions[0]).ReorderTimeoutMs);
    }

    [Fact]
    public void A_reorder_timeout_and_a_modified_sequencing_survive_a_snapshot_and_a_journal_replay()
    {
        var spec = new L2tp.Protocol.SessionSpec { TunnelId = 3000, SessionId = 1, PeerSessionId = 2, InterfaceName = "l2tpeth0", ReorderTimeoutMs = 250 };
        using (var store = new StateStore(StatePath))
        {
            store.Save([StateStore.ToRecord(TestSpecs.UdpTunnel with { TunnelId = 3000 }, [(spec, "l2tpeth0")])]);
            // Set-L2tpSession journals the whole record again, which replaces the one the snapshot has.
            store.Append(StateStore.JournalEntry.SessionCreated(3000, StateStore.ToRecord(spec with { Sequencing = L2tp.SequencingMode.Both, ReorderTimeoutMs = 40 }, "l2tpeth0")));
        }
        using var again = new StateStore(StatePath);
        var loaded = again.Load();
        var back = StateStore.ToSpec(3000, Assert.Single(Assert.Single(loaded.Tunnels).Sessions));
        Assert.Equal((L2tp.SequencingMode.Both, 40UL), (back.Sequencing, back.ReorderTimeoutMs));
        Assert.Empty(loaded.Rejected);
    }
}
