using L2tp.Configuration;
using Xunit;

namespace L2tp.Tests;

/// <summary>Hostile `ip -j l2tp show` JSON, scripts and configuration files: each refused with an ErrorRecord, none thrown raw.</summary>
public class HostileInputTests
{
    private const string Tunnel = """{"tunnel_id":7,"peer_tunnel":8,"encap":"UDP","local":"192.0.2.1","peer":"192.0.2.2","local_port":1701,"peer_port":1701}""";

    [Theory]
    [InlineData("""[TUNNEL,{"session_id":1,"peer_session_id":2,"tunnel_id":7,"cookie":5}]""", "cookie")]
    [InlineData("""[TUNNEL,{"session_id":1,"peer_session_id":2,"tunnel_id":7,"peer_cookie":[1]}]""", "peer_cookie")]
    [InlineData("""[TUNNEL,{"session_id":1,"peer_session_id":2,"tunnel_id":7,"reorder_timeout":"soon"}]""", "reorder_timeout")]
    [InlineData("""[{"tunnel_id":7,"peer_tunnel":8,"encap":"UDP","local":"192.0.2.1","peer":"192.0.2.2","local_port":70000,"peer_port":1701}]""", "local_port")]
    [InlineData("""[{"tunnel_id":7,"peer_tunnel":8,"encap":"UDP","local":"192.0.2.1","peer":"192.0.2.2","local_port":1701,"peer_port":0}]""", "peer_port")]
    [InlineData("""[{"tunnel_id":0,"peer_tunnel":8,"encap":"IP","local":"192.0.2.1","peer":"192.0.2.2"}]""", "tunnel_id")]
    public void Hostile_ip_json_is_refused_as_InvalidIpL2tpInput_naming_the_value(string json, string offending)
    {
        var e = Assert.Throws<L2tpException>(() => IpL2tpImport.Read(json.Replace("TUNNEL", Tunnel)));
        Assert.Equal("L2tp.InvalidIpL2tpInput", e.ErrorId);
        Assert.Equal(offending, e.Target?.ToString());
    }

    [Fact]
    public void A_script_whose_last_line_is_continued_keeps_that_command()
    {
        var (c, _) = IpL2tpImport.Read("ip l2tp add tunnel tunnel_id 3 peer_tunnel_id 4 \\\nencap ip local 192.0.2.1 remote 192.0.2.2 \\");
        Assert.Equal(3u, Assert.Single(Assert.Single(c.Namespaces).Tunnels).TunnelId);
    }

    [Fact]
    public void Deeply_nested_ip_json_is_refused_not_overflowed()
    {
        var e = Assert.Throws<L2tpException>(() => IpL2tpImport.Read(new string('[', 100_000) + new string(']', 100_000)));
        Assert.Equal("L2tp.InvalidIpL2tpInput", e.ErrorId);
    }

    [Theory]
    [InlineData("ip l2tp add tunnel tunnel_id 99999999999 peer_tunnel_id 1 encap ip local 192.0.2.1 remote 192.0.2.2")]
    [InlineData("ip l2tp add tunnel tunnel_id 1 peer_tunnel_id 1 encap udp local 192.0.2.1 remote 192.0.2.2 udp_sport 65536 udp_dport 1")]
    [InlineData("ip l2tp add tunnel tunnel_id 1 peer_tunnel_id 1 encap ip local 192.0.2.1 remote 192.0.2.2\nip link set l2tpeth0 mtu 99999999999999999999")]
    [InlineData("ip l2tp add tunnel tunnel_id '1")]
    [InlineData("ip l2tp add tunnel tunnel_id \"1\\")]
    [InlineData("ip -n")]
    [InlineData("ip l2tp add session")]
    [InlineData("ip link set")]
    [InlineData("ip addr add")]
    [InlineData("ip link add type bridge")]
    [InlineData("ip link set dev")]
    [InlineData("ip l2tp add tunnel tunnel_id")]
    public void Hostile_ip_scripts_are_refused_as_InvalidIpL2tpInput(string script)
    {
        var e = Assert.Throws<L2tpException>(() => IpL2tpImport.Read(script));
        Assert.Equal("L2tp.InvalidIpL2tpInput", e.ErrorId);
    }

    [Theory]
    [InlineData("""{"namespaces":[{"name":"","tunnels":[{"tunnelId":1e400}]}]}""")]
    [InlineData("""{"namespaces":[{"name":"a\u0000b"}]}""")]
    [InlineData("""{"namespaces":[],"namespaces":[]}""")]
    [InlineData("""{"namespaces":[{"name":"","tunnels":[{"tunnelId":-1,"peerTunnelId":1.5,"local":"x\u001b[31m","remote":7}]}]}""")]
    public void Hostile_configuration_files_are_refused_with_errors_not_exceptions(string json)
    {
        var (_, errors) = L2tpConfiguration.Check(json);
        Assert.NotEmpty(errors);
    }

    [Fact]
    public void Deeply_nested_configuration_is_refused_not_overflowed()
    {
        var (_, errors) = L2tpConfiguration.Check(new string('[', 100_000) + new string(']', 100_000));
        Assert.NotEmpty(errors);
    }

    [Fact]
    public void A_script_of_40000_tunnels_sessions_and_interfaces_is_read_in_linear_time()
    {
        // 8 MB of script: quadratic lookups took over 15 s here; a linear reading takes about one. Four times the
        // lines must take about four times as long, not sixteen: a ratio, so a loaded machine (CI beside a TCG guest
        // took 10.8 s once) slows both sides alike. Each side is the best of two.
        static string Script(int n)
        {
            var b = new System.Text.StringBuilder();
            for (int i = 1; i <= n; i++)
                b.Append("ip l2tp add tunnel tunnel_id ").Append(i).Append(" peer_tunnel_id ").Append(i).Append(" encap ip local 192.0.2.1 remote 192.0.2.2\n")
                 .Append("ip l2tp add session tunnel_id ").Append(i).Append(" session_id ").Append(i).Append(" peer_session_id ").Append(i).Append(" name s").Append(i).Append('\n')
                 .Append("ip link set s").Append(i).Append(" up mtu 1400\n");
            return b.ToString();
        }
        static double Seconds(string script, int tunnels)
        {
            double best = double.MaxValue;
            for (int k = 0; k < 2; k++)
            {
                var clock = System.Diagnostics.Stopwatch.StartNew();
                var (c, _) = IpL2tpImport.Read(script);
                clock.Stop();
                Assert.Equal(tunnels, Assert.Single(c.Namespaces).Tunnels.Count);
                best = Math.Min(best, clock.Elapsed.TotalSeconds);
            }
            return best;
        }
        Seconds(Script(1000), 1000);   // compiled before anything is timed
        double small = Seconds(Script(10_000), 10_000), large = Seconds(Script(40_000), 40_000);
        Assert.True(large < 8 * small + 0.5, $"10,000 took {small:0.00} s, 40,000 took {large:0.00} s: {large / small:0.0} times, where linear is 4 and quadratic 16");
        Assert.True(large < 30, $"40,000 took {large:0.0} s");
    }
}
