using L2tp.Control;
using System.Text;
using L2tp.Forwarder;
using L2tp.Netlink;
using Xunit;

namespace L2tp.Tests;

/// <summary>The l2tp-forwarder family's set-aside entries survive the trip through a reply, in order and bounded.</summary>
public sealed class ForwarderGenlTests
{
    private static NetlinkAttributes RoundTrip(IReadOnlyList<ForwarderGenl.RejectedEntry> entries)
    {
        var w = new NetlinkWriter();
        w.Begin(ForwarderGenl.FamilyId, 0, 1).Genl(ForwarderGenl.CMD_INFO, ForwarderGenl.Version);
        w.U32(ForwarderGenl.ATTR_TUNNELS, 2);
        ForwarderGenl.WriteRejected(w, entries);
        w.End();
        return Assert.Single(NetlinkMessage.Split(w.ToArray())).GenlAttributes;
    }

    [Fact]
    public void Rejected_entries_come_back_in_order_with_time_what_reason_and_entry()
    {
        var t = new DateTime(2024, 5, 6, 7, 8, 9, 123, DateTimeKind.Utc);
        var a = RoundTrip(new[]
        {
            new ForwarderGenl.RejectedEntry(t, "session 2 of tunnel 3000", "bad cookie", "{\"Cookie\":\"zz\"}"),
            new ForwarderGenl.RejectedEntry(t.AddSeconds(1), "tunnel 3001", "bad address", "{}"),
        });
        Assert.Equal(2u, a.U32(ForwarderGenl.ATTR_TUNNELS));
        var back = ForwarderGenl.ReadRejected(a);
        Assert.Equal(new[] { "session 2 of tunnel 3000", "tunnel 3001" }, back.Select(r => r.What));
        Assert.Equal(t, back[0].Time);
        Assert.Equal("bad cookie", back[0].Reason);
        Assert.Equal("{\"Cookie\":\"zz\"}", back[0].Entry);
    }

    [Fact]
    public void A_reply_carries_only_the_latest_entries_that_fit_a_netlink_attribute_with_long_texts_cut()
    {
        var many = Enumerable.Range(1, ForwarderGenl.MaxRejected + 20)
            .Select(i => new ForwarderGenl.RejectedEntry(DateTime.UnixEpoch, $"tunnel {i}", "r", new string('x', ForwarderGenl.MaxText * 4)))
            .ToList();
        var back = ForwarderGenl.ReadRejected(RoundTrip(many));
        Assert.InRange(back.Count, 10, ForwarderGenl.MaxRejected);
        Assert.Equal($"tunnel {ForwarderGenl.MaxRejected + 20}", back[^1].What);
        Assert.Equal($"tunnel {ForwarderGenl.MaxRejected + 21 - back.Count}", back[0].What);
        Assert.All(back, r => Assert.Equal(ForwarderGenl.MaxText + 3, r.Entry.Length));
    }

    [Fact]
    public void At_most_MaxRejected_short_entries_go_into_a_reply()
    {
        var many = Enumerable.Range(1, ForwarderGenl.MaxRejected + 5)
            .Select(i => new ForwarderGenl.RejectedEntry(DateTime.UnixEpoch, $"tunnel {i}", "r", "{}")).ToList();
        var back = ForwarderGenl.ReadRejected(RoundTrip(many));
        Assert.Equal(ForwarderGenl.MaxRejected, back.Count);
        Assert.Equal("tunnel 6", back[0].What);
    }

    [Fact]
    public void The_daemon_re_executes_itself_with_its_own_arguments_and_detached_for_daemon()
    {
        var cmdline = Encoding.UTF8.GetBytes("/usr/share/dotnet/dotnet\0exec\0/opt/L2tp/bin/l2tp-forwarder.dll\0--daemon\0");
        Assert.Equal(new[] { "/usr/share/dotnet/dotnet", "exec", "/opt/L2tp/bin/l2tp-forwarder.dll", "--detached" },
            Daemon.ReexecArguments(cmdline));
    }
}
