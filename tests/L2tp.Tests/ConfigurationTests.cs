using System.Net;
using System.Text.Json;
using L2tp.Configuration;
using Xunit;

namespace L2tp.Tests;

public class ConfigurationFileTests
{
    internal const string Valid = """
    {
      "namespaces": [
        {
          "name": "site-a",
          "backend": "Managed",
          "tunnels": [
            {
              "tunnelId": 3000, "peerTunnelId": 4000, "encapsulation": "Udp",
              "local": "192.0.2.1", "remote": "192.0.2.2", "sourcePort": 5000, "destinationPort": 6000,
              "sessions": [
                {
                  "sessionId": 1000, "peerSessionId": 2000, "interfaceName": "l2tpeth0",
                  "cookie": "0102030405060708", "peerCookie": "a1b2c3d4",
                  "interface": { "up": true, "mtu": "Auto", "macAddress": "02:00:5e:10:00:01",
                                 "addresses": [ { "address": "198.51.100.1/24" }, { "address": "203.0.113.1", "peer": "203.0.113.2/32" } ] }
                }
              ]
            },
            {
              "tunnelId": 3001, "peerTunnelId": 4001, "encapsulation": "Ip", "local": "any", "remote": "2001:db8::2",
              "sessions": [ { "sessionId": 1001, "peerSessionId": 2001, "interfaceName": "l2tpeth1", "l2SpecType": "None" } ]
            }
          ],
          "bridges": [ { "name": "br0", "up": true, "ports": [ "l2tpeth0", "eth0" ] } ]
        },
        { "name": "", "tunnels": [] }
      ]
    }
    """;

    /// <summary>The errors of <paramref name="json"/>, as "path: message" lines.</summary>
    private static List<ConfigurationError> Errors(string json)
    {
        return L2tpConfiguration.Check(json).Errors.ToList();
    }

    /// <summary>Valid with one value replaced: <paramref name="edit"/> gets the parsed tree.</summary>
    private static string Edit(Action<System.Text.Json.Nodes.JsonNode> edit)
    {
        var node = System.Text.Json.Nodes.JsonNode.Parse(Valid)!;
        edit(node);
        return node.ToJsonString();
    }

    private static void OnlyError(string json, string path, string? words = null)
    {
        var errors = Errors(json);
        Assert.True(errors.Count == 1, "expected one error, got: " + string.Join(" | ", errors));
        Assert.Equal(path, errors[0].Path);
        if (words is not null)
            Assert.Contains(words, errors[0].Message, StringComparison.OrdinalIgnoreCase);
    }

    private static System.Text.Json.Nodes.JsonNode T0(System.Text.Json.Nodes.JsonNode n) => n["namespaces"]![0]!["tunnels"]![0]!;
    private static System.Text.Json.Nodes.JsonNode S0(System.Text.Json.Nodes.JsonNode n) => T0(n)["sessions"]![0]!;

    [Fact]
    public void A_new_file_is_its_owners_alone_and_a_rewritten_one_keeps_its_read_and_write_bits()
    {
        string dir = Path.Combine(Path.GetTempPath(), "l2tpcfgmode-" + Guid.NewGuid().ToString("N")[..8]);
        try
        {
            var c = L2tpConfiguration.FromJson(Valid);
            string file = Path.Combine(dir, "l2tp.json");
            c.Write(file);
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(file));
            Assert.Equal(c.ToJson(), File.ReadAllText(file));

            File.SetUnixFileMode(file, (UnixFileMode)0b110_100_000);
            c.Write(file);
            Assert.Equal((UnixFileMode)0b110_100_000, File.GetUnixFileMode(file));

            // Set-user-id and execute bits are not the file's to lend: only read and write are kept.
            File.SetUnixFileMode(file, (UnixFileMode)0b100_111_101_101);
            c.Write(file);
            Assert.Equal((UnixFileMode)0b110_100_100, File.GetUnixFileMode(file));
            Assert.Equal(new[] { file }, Directory.GetFiles(dir));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void A_link_or_a_file_of_another_user_at_the_path_lends_no_mode_and_its_target_is_untouched()
    {
        string dir = Path.Combine(Path.GetTempPath(), "l2tpcfglink-" + Guid.NewGuid().ToString("N")[..8]);
        try
        {
            Directory.CreateDirectory(dir);
            var c = L2tpConfiguration.FromJson(Valid);
            string target = Path.Combine(dir, "elsewhere");
            File.WriteAllText(target, "someone else's");
            File.SetUnixFileMode(target, (UnixFileMode)0b110_110_110);
            string file = Path.Combine(dir, "l2tp.json");
            File.CreateSymbolicLink(file, target);
            c.Write(file);
            Assert.Null(new FileInfo(file).LinkTarget);
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(file));
            Assert.Equal("someone else's", File.ReadAllText(target));
            Assert.Equal((UnixFileMode)0b110_110_110, File.GetUnixFileMode(target));

            if (L2tp.Native.Sys.EffectiveUid == 0)
            {
                // A world-writable file owned by nobody, as a local user could leave in /tmp.
                File.Delete(file);
                File.WriteAllText(file, "{}");
                File.SetUnixFileMode(file, (UnixFileMode)0b110_110_110);
                using (var chown = System.Diagnostics.Process.Start("chown", new[] { "65534", file }))
                    chown.WaitForExit();
                c.Write(file);
                Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(file));
            }
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void A_valid_file_has_no_errors() => Assert.Empty(Errors(Valid));

    [Fact]
    public void Written_file_reads_back_to_the_same_text()
    {
        var c = L2tpConfiguration.FromJson(Valid);
        string once = c.ToJson();
        Assert.Equal(once, L2tpConfiguration.FromJson(once).ToJson());
        Assert.Contains("\"mtu\": \"Auto\"", once);
        Assert.Contains("\"sourcePort\": 5000", once);
    }

    [Fact]
    public void Not_json_is_reported_at_the_root_with_its_line() =>
        OnlyError("{\n \"namespaces\": [ }", "$", "line 2");

    [Fact]
    public void Unknown_property_is_reported_at_its_path() =>
        OnlyError(Edit(n => S0(n)["cookei"] = "01020304"), "$.namespaces[0].tunnels[0].sessions[0].cookei", "unknown property");

    [Fact]
    public void Wrong_type_is_reported_at_its_path() =>
        OnlyError(Edit(n => T0(n)["sourcePort"] = "5000"), "$.namespaces[0].tunnels[0].sourcePort", "integer");

    [Fact]
    public void Missing_required_key_is_reported_at_its_path() =>
        OnlyError(Edit(n => T0(n).AsObject().Remove("remote")), "$.namespaces[0].tunnels[0].remote", "needs");

    [Fact]
    public void Id_zero_and_out_of_range_are_reported_at_their_paths()
    {
        var errors = Errors(Edit(n => { T0(n)["tunnelId"] = 0; S0(n)["peerSessionId"] = 4294967296L; }));
        Assert.Equal(new[] { "$.namespaces[0].tunnels[0].tunnelId", "$.namespaces[0].tunnels[0].sessions[0].peerSessionId" }.Order(),
            errors.Select(e => e.Path).Order());
    }

    [Fact]
    public void Unknown_enum_word_is_reported_at_its_path() =>
        OnlyError(Edit(n => T0(n)["encapsulation"] = "gre"), "$.namespaces[0].tunnels[0].encapsulation", "Udp, Ip");

    [Fact]
    public void Bad_cookie_is_reported_at_its_path() =>
        OnlyError(Edit(n => S0(n)["cookie"] = "01020"), "$.namespaces[0].tunnels[0].sessions[0].cookie", "cookie");

    [Fact]
    public void Bad_tunnel_address_is_reported_at_its_path() =>
        OnlyError(Edit(n => T0(n)["remote"] = "192.0.2"), "$.namespaces[0].tunnels[0].remote", "address");

    [Fact]
    public void Bad_interface_address_and_peer_are_reported_at_their_paths()
    {
        var errors = Errors(Edit(n =>
        {
            S0(n)["interface"]!["addresses"]![0]!["address"] = "198.51.100.300/24";
            S0(n)["interface"]!["addresses"]![1]!["peer"] = "2001:db8::2";
        }));
        Assert.Equal(new[] { "$.namespaces[0].tunnels[0].sessions[0].interface.addresses[0].address",
            "$.namespaces[0].tunnels[0].sessions[0].interface.addresses[1].peer" }.Order(), errors.Select(e => e.Path).Order());
    }

    [Fact]
    public void Bad_mtu_and_mac_are_reported_at_their_paths()
    {
        var errors = Errors(Edit(n => { S0(n)["interface"]!["mtu"] = 40; S0(n)["interface"]!["macAddress"] = "01:00:5e:00:00:01"; }));
        Assert.Equal(new[] { "$.namespaces[0].tunnels[0].sessions[0].interface.mtu",
            "$.namespaces[0].tunnels[0].sessions[0].interface.macAddress" }.Order(), errors.Select(e => e.Path).Order());
    }

    [Fact]
    public void Duplicate_tunnel_id_is_reported_at_the_second() =>
        OnlyError(Edit(n => n["namespaces"]![0]!["tunnels"]![1]!["tunnelId"] = 3000), "$.namespaces[0].tunnels[1].tunnelId", "already described at $.namespaces[0].tunnels[0]");

    [Fact]
    public void Duplicate_session_id_in_a_tunnel_is_reported_at_the_second() =>
        OnlyError(Edit(n => T0(n)["sessions"]!.AsArray().Add(JsonSerializer.SerializeToNode(new { sessionId = 1000, peerSessionId = 2002 }))),
            "$.namespaces[0].tunnels[0].sessions[1].sessionId", "already described");

    [Fact]
    public void Ip_encapsulation_session_id_must_be_unique_in_the_namespace()
    {
        var json = Edit(n => n["namespaces"]![0]!["tunnels"]!.AsArray().Add(JsonSerializer.SerializeToNode(new
        {
            tunnelId = 3002, peerTunnelId = 4002, encapsulation = "Ip", local = "any", remote = "2001:db8::3",
            sessions = new[] { new { sessionId = 1001, peerSessionId = 2009 } },
        })));
        OnlyError(json, "$.namespaces[0].tunnels[2].sessions[0].sessionId", "unique in the namespace");
    }

    [Fact]
    public void Duplicate_interface_name_and_namespace_are_reported()
    {
        var errors = Errors(Edit(n =>
        {
            n["namespaces"]![0]!["tunnels"]![1]!["sessions"]![0]!["interfaceName"] = "l2tpeth0";
            n["namespaces"]![1]!["name"] = "site-a";
        }));
        Assert.Equal(new[] { "$.namespaces[0].tunnels[1].sessions[0].interfaceName", "$.namespaces[1].name" }.Order(), errors.Select(e => e.Path).Order());
    }

    [Fact]
    public void Spec_rules_are_reported_at_the_field_they_name()
    {
        var errors = Errors(Edit(n =>
        {
            T0(n).AsObject().Remove("sourcePort");
            n["namespaces"]![0]!["tunnels"]![1]!["sessions"]![0]!["sequencing"] = "Both";
            n["namespaces"]![0]!["tunnels"]![1]!["local"] = "192.0.2.1";
        }));
        Assert.Equal(new[] { "$.namespaces[0].tunnels[0].sourcePort", "$.namespaces[0].tunnels[1].local",
            "$.namespaces[0].tunnels[1].sessions[0].sequencing" }.Order(), errors.Select(e => e.Path).Order());
        Assert.Contains("sourcePort", errors[0].Message);
    }

    [Fact]
    public void Interface_state_without_an_interface_name_is_an_error() =>
        OnlyError(Edit(n => S0(n).AsObject().Remove("interfaceName")), "$.namespaces[0].tunnels[0].sessions[0].interface", "interfaceName");

    [Fact]
    public void Bridge_port_twice_and_bridge_named_like_a_session_interface_are_errors()
    {
        var errors = Errors(Edit(n =>
        {
            var bridges = n["namespaces"]![0]!["bridges"]!.AsArray();
            bridges.Add(JsonSerializer.SerializeToNode(new { name = "br1", ports = new[] { "eth0" } }));
            bridges.Add(JsonSerializer.SerializeToNode(new { name = "l2tpeth1" }));
        }));
        Assert.Equal(new[] { "$.namespaces[0].bridges[1].ports[0]", "$.namespaces[0].bridges[2].name" }.Order(), errors.Select(e => e.Path).Order());
    }

    [Fact]
    public void Bad_namespace_and_bridge_names_duplicate_bridge_and_address_are_reported_at_their_paths()
    {
        var errors = Errors(Edit(n =>
        {
            n["namespaces"]![1]!["name"] = "../x";
            var bridges = n["namespaces"]![0]!["bridges"]!.AsArray();
            bridges.Add(JsonSerializer.SerializeToNode(new { name = "br0" }));
            bridges.Add(JsonSerializer.SerializeToNode(new { name = "a bridge" }));
            S0(n)["interface"]!["addresses"]!.AsArray().Add(JsonSerializer.SerializeToNode(new { address = "198.51.100.1/24" }));
        }));
        Assert.Equal(new[]
        {
            "$.namespaces[0].bridges[1].name", "$.namespaces[0].bridges[2].name",
            "$.namespaces[0].tunnels[0].sessions[0].interface.addresses[2].address", "$.namespaces[1].name",
        }.Order(), errors.Select(e => e.Path).Order());
    }

    [Fact]
    public void Every_error_of_a_file_is_reported_not_only_the_first()
    {
        var errors = Errors(Edit(n => { S0(n)["cookie"] = "x"; T0(n)["local"] = "nowhere"; T0(n)["bogus"] = 1; }));
        Assert.Equal(3, errors.Count);
    }

    [Fact]
    public void FromJson_throws_InvalidConfiguration_naming_every_path()
    {
        var e = Assert.Throws<L2tpException>(() => L2tpConfiguration.FromJson(Edit(n => { S0(n)["cookie"] = "x"; T0(n)["local"] = "nowhere"; }), "l2tp.json"));
        Assert.Equal("L2tp.InvalidConfiguration", e.ErrorId);
        Assert.Equal(L2tpErrorKind.InvalidArgument, e.Kind);
        Assert.Equal("$.namespaces[0].tunnels[0].local", e.Target);
        Assert.Contains("$.namespaces[0].tunnels[0].sessions[0].cookie:", e.Message);
        Assert.StartsWith("l2tp.json is not a valid", e.Message);
    }

    [Fact]
    public void Every_key_the_writer_writes_is_in_the_schema()
    {
        string schemaPath = Path.Combine(AppContext.BaseDirectory, "../../../../../src/L2tp.Core/Configuration", L2tpConfiguration.SchemaFileName);
        using var schema = JsonDocument.Parse(File.ReadAllText(schemaPath));
        var defs = schema.RootElement.GetProperty("$defs");
        var keys = new HashSet<string>(schema.RootElement.GetProperty("properties").EnumerateObject().Select(p => p.Name));
        foreach (var def in defs.EnumerateObject())
            Collect(def.Value, keys);
        var written = new HashSet<string>();
        using var doc = JsonDocument.Parse(L2tpConfiguration.FromJson(Valid).ToJson());
        Walk(doc.RootElement, written);
        Assert.Empty(written.Except(keys));

        static void Collect(JsonElement e, HashSet<string> keys)
        {
            if (e.ValueKind != JsonValueKind.Object) return;
            if (e.TryGetProperty("properties", out var props))
                foreach (var p in props.EnumerateObject()) { keys.Add(p.Name); Collect(p.Value, keys); }
            if (e.TryGetProperty("items", out var items)) Collect(items, keys);
        }
        static void Walk(JsonElement e, HashSet<string> keys)
        {
            if (e.ValueKind == JsonValueKind.Object)
                foreach (var p in e.EnumerateObject()) { keys.Add(p.Name); Walk(p.Value, keys); }
            else if (e.ValueKind == JsonValueKind.Array)
                foreach (var i in e.EnumerateArray()) Walk(i, keys);
        }
    }
}

public class ConfigurationPlanTests
{
    private static L2tpTunnel Tunnel(uint id = 3000, string remote = "192.0.2.2", ushort sport = 5000) => new()
    {
        TunnelId = id, PeerTunnelId = id + 1000, Encapsulation = Encapsulation.Udp, Local = IPAddress.Parse("192.0.2.1"),
        Remote = IPAddress.Parse(remote), SourcePort = sport, DestinationPort = 6000, Backend = BackendKind.Managed,
    };

    private static L2tpSession Session(uint id = 1000, string name = "l2tpeth0", string cookie = "", SequencingMode seq = SequencingMode.None) => new()
    {
        TunnelId = 3000, SessionId = id, PeerSessionId = id + 1000, InterfaceName = name, Cookie = cookie,
        L2SpecType = L2SpecType.Default, Sequencing = seq, SuggestedMtu = 1446, Mtu = 1446,
    };

    private static L2tpInterface Iface(string name, int mtu = 1446, bool up = true, params string[] addresses) => new()
    {
        InterfaceName = name, Up = up, Mtu = mtu, MacAddress = "02:00:5e:10:00:01",
        Addresses = addresses.Append("fe80::1/64").ToArray(),
    };

    /// <summary>A live namespace: tunnel 3000 with session 1000 on l2tpeth0 (up, MTU 1446, 198.51.100.1/24) in bridge br0 with eth0.</summary>
    private static L2tpNamespaceConfiguration Live(IEnumerable<L2tpTunnel>? tunnels = null, IEnumerable<L2tpSession>? sessions = null,
        Func<string, L2tpInterface?>? iface = null, IEnumerable<L2tpBridge>? bridges = null) =>
        LiveState.Build("site-a", tunnels ?? new[] { Tunnel() }, sessions ?? new[] { Session() },
            iface ?? (n => Iface(n, 1446, true, "198.51.100.1/24")),
            bridges ?? new[] { new L2tpBridge { Name = "br0", Up = true, Ports = new[] { "eth0", "l2tpeth0" } } });

    /// <summary>The live state as a file says it (export then read back).</summary>
    private static L2tpNamespaceConfiguration File(L2tpNamespaceConfiguration live) =>
        L2tpConfiguration.FromJson(new L2tpConfiguration { Namespaces = { live } }.ToJson()).Namespaces[0];

    private static string[] Steps(IEnumerable<L2tpConfigurationStep> steps) =>
        steps.Select(s => $"{s.Action} {s.Target}").ToArray();

    [Fact]
    public void Exported_state_planned_against_itself_has_no_steps_and_no_drift()
    {
        var live = Live();
        var file = File(live);
        Assert.Empty(Planner.Plan(file, live, prune: true));
        Assert.Empty(Planner.Compare(file, live));
    }

    [Fact]
    public void Export_writes_Auto_for_the_fitting_MTU_and_leaves_link_local_addresses_out()
    {
        var i = File(Live()).Tunnels[0].Sessions[0].Interface!;
        Assert.Equal("Auto", i.Mtu);
        Assert.Equal(new[] { "198.51.100.1/24" }, i.Addresses!.Select(a => a.ToString()));
        var other = File(Live(iface: n => Iface(n, 1400))).Tunnels[0].Sessions[0].Interface!;
        Assert.Equal("1400", other.Mtu);
    }

    [Fact]
    public void Empty_system_gets_tunnel_session_interface_bridge_port_in_that_order()
    {
        var file = File(Live());
        var empty = LiveState.Build("site-a", Array.Empty<L2tpTunnel>(), Array.Empty<L2tpSession>(), _ => null, Array.Empty<L2tpBridge>());
        Assert.Equal(new[]
        {
            "Create tunnel 3000", "Create session 1000 in tunnel 3000", "Update interface l2tpeth0", "Create bridge br0",
            "Create port eth0 of bridge br0", "Create port l2tpeth0 of bridge br0",
        }, Steps(Planner.Plan(file, empty, prune: false)));
        var iface = Planner.Plan(file, empty, prune: false)[2];
        Assert.True(iface.Up);
        Assert.Null(iface.Mtu);   // a new interface gets the fitting MTU by itself
        Assert.Equal("02:00:5e:10:00:01", iface.MacAddress);
        Assert.Equal(new[] { "198.51.100.1/24" }, iface.AddAddresses.Select(a => a.ToString()));
    }

    [Fact]
    public void Changed_cookie_replaces_the_session_and_reapplies_its_interface_and_port()
    {
        var file = File(Live());
        file.Tunnels[0].Sessions[0].Cookie = "0102030405060708";
        var steps = Planner.Plan(file, Live(), prune: false);
        Assert.Equal(new[] { "Replace session 1000 in tunnel 3000", "Update interface l2tpeth0", "Create port l2tpeth0 of bridge br0" }, Steps(steps));
        Assert.Contains("cookie (none) -> 0102030405060708", steps[0].Detail);
        Assert.Contains("cannot change in place", steps[0].Detail);
    }

    [Fact]
    public void Changed_tunnel_port_or_remote_replaces_the_tunnel_and_recreates_its_sessions()
    {
        var file = File(Live());
        file.Tunnels[0].SourcePort = 5001;
        var steps = Planner.Plan(file, Live(), prune: false);
        Assert.Equal(new[] { "Replace tunnel 3000", "Create session 1000 in tunnel 3000", "Update interface l2tpeth0", "Create port l2tpeth0 of bridge br0" }, Steps(steps));
        Assert.Contains("sourcePort 5000 -> 5001", steps[0].Detail);
        Assert.Contains("removed and created again", steps[0].Detail);
    }

    [Fact]
    public void Changed_sequencing_and_reorder_timeout_are_one_in_place_Update_of_the_session()
    {
        var file = File(Live());
        file.Tunnels[0].Sessions[0].Sequencing = SequencingMode.Both;
        file.Tunnels[0].Sessions[0].ReorderTimeout = 250;
        var steps = Planner.Plan(file, Live(), prune: false);
        Assert.Equal(new[] { "Update session 1000 in tunnel 3000" }, Steps(steps));
        Assert.Equal("sequencing None -> Both, reorderTimeout 0 -> 250", steps[0].Detail);
    }

    [Fact]
    public void Changed_sequencing_with_a_changed_cookie_is_a_Replace()
    {
        var file = File(Live());
        file.Tunnels[0].Sessions[0].Sequencing = SequencingMode.Both;
        file.Tunnels[0].Sessions[0].Cookie = "01020304";
        Assert.Equal(L2tpConfigurationAction.Replace, Planner.Plan(file, Live(), prune: false)[0].Action);
    }

    [Fact]
    public void Changed_mtu_up_and_address_are_one_in_place_Update_of_the_interface()
    {
        var file = File(Live());
        var live = Live(iface: n => Iface(n, 1400, false));
        var steps = Planner.Plan(file, live, prune: false);
        Assert.Equal(new[] { "Update interface l2tpeth0" }, Steps(steps));
        Assert.Equal("up false -> true, mtu 1400 -> Auto (1446), add address 198.51.100.1/24", steps[0].Detail);
    }

    [Fact]
    public void Without_prune_extra_objects_stay_with_prune_they_go_first_in_reverse_order()
    {
        var file = File(Live());
        var live = Live(
            tunnels: new[] { Tunnel(), Tunnel(3009, "192.0.2.9", 5009) },
            sessions: new[] { Session(), Session(1009, "l2tpeth9") },
            iface: n => Iface(n, 1446, true, "198.51.100.1/24", "198.51.100.99/24"),
            bridges: new[] { new L2tpBridge { Name = "br0", Up = true, Ports = new[] { "eth0", "l2tpeth0", "eth9" } }, new L2tpBridge { Name = "br9", Up = true } });
        Assert.Empty(Planner.Plan(file, live, prune: false));
        Assert.Equal(new[]
        {
            "Remove port eth9 of bridge br0", "Remove bridge br9", "Remove session 1009 in tunnel 3000", "Remove tunnel 3009",
            "Update interface l2tpeth0",
        }, Steps(Planner.Plan(file, live, prune: true)));
        Assert.Equal("remove address 198.51.100.99/24", Planner.Plan(file, live, prune: true)[4].Detail);
    }

    [Fact]
    public void Absent_bridges_and_addresses_keys_leave_those_alone_even_with_prune()
    {
        var file = File(Live());
        file.Bridges = null;
        file.Tunnels[0].Sessions[0].Interface!.Addresses = null;
        var live = Live(iface: n => Iface(n, 1446, true, "198.51.100.7/24"), bridges: new[] { new L2tpBridge { Name = "docker0", Up = true } });
        Assert.Empty(Planner.Plan(file, live, prune: true));
        Assert.Empty(Planner.Compare(file, live));
    }

    [Fact]
    public void Compare_names_changed_mtu_removed_address_changed_cookie_and_missing_and_extra_objects()
    {
        var file = File(Live());
        file.Tunnels[0].Sessions[0].Cookie = "0102030405060708";
        file.Tunnels.Add(new L2tpTunnelConfiguration { TunnelId = 3005, PeerTunnelId = 4005, Local = "any", Remote = "192.0.2.5", SourcePort = 1, DestinationPort = 1 });
        var live = Live(sessions: new[] { Session(), Session(1009, "l2tpeth9") }, iface: n => Iface(n, 1400));
        var drift = Planner.Compare(file, live).Select(d => $"{d.Target}|{d.Field}|{d.Expected}|{d.Actual}").ToArray();
        Assert.Equal(new[]
        {
            "session 1000 in tunnel 3000|cookie|0102030405060708|",
            "interface l2tpeth0|mtu|Auto (1446)|1400",
            "interface l2tpeth0|addresses|198.51.100.1/24|missing",
            "session 1009 in tunnel 3000|exists|absent|present",
            "tunnel 3005|exists|present|missing",
        }, drift);
    }

    [Fact]
    public void Local_any_matches_the_unspecified_address_the_backend_reports()
    {
        var t = Tunnel();
        t.Local = IPAddress.Any;
        var live = Live(tunnels: new[] { t });
        var file = File(live);
        Assert.Equal("any", file.Tunnels[0].Local);
        Assert.Empty(Planner.Plan(file, live, prune: false));
    }
}
