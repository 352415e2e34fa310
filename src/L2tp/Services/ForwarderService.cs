using System.Diagnostics;
using L2tp.Backends;
using L2tp.Control;
using L2tp.Native;
using L2tp.Netlink;
using static Tmds.Linux.LibC;

namespace L2tp.Services;

/// <summary>
/// Operating a namespace's managed forwarder through its `l2tp-forwarder` family: what it is and carries, stopping
/// it, and the state entries it set aside. Never starts one: asking about a forwarder must not create it.
/// </summary>
internal static class ForwarderService
{
    /// <summary>The forwarder of <paramref name="netns"/>; null when none runs.</summary>
    public static L2tpForwarder? Get(string netns)
    {
        using var scope = NetNamespace.Enter(netns);
        if (Ask(netns, ForwarderGenl.CMD_INFO) is not var (pid, replies))
            return null;
        var a = replies.Single().GenlAttributes;
        return new L2tpForwarder
        {
            // Ours (SO_PEERCRED) is right in this pid namespace; the forwarder's own number may not be.
            ProcessId = pid,
            NetworkNamespace = netns,
            NetnsKey = a.String(ForwarderGenl.ATTR_NETNS_KEY) ?? "",
            StartTime = DateTimeOffset.FromUnixTimeMilliseconds((long)a.U64OrZero(ForwarderGenl.ATTR_START_TIME)).UtcDateTime,
            Version = a.String(ForwarderGenl.ATTR_VERSION) ?? "",
            Tunnels = (int)(a.U32OrNull(ForwarderGenl.ATTR_TUNNELS) ?? 0),
            Sessions = (int)(a.U32OrNull(ForwarderGenl.ATTR_SESSIONS) ?? 0),
            StatePath = a.String(ForwarderGenl.ATTR_STATE_PATH) ?? "",
            LogPath = a.String(ForwarderGenl.ATTR_LOG_PATH) ?? "",
            RejectedEntries = ForwarderGenl.ReadRejected(a).Select(ToEntry).ToArray(),
        };
    }

    /// <summary>
    /// Asks the forwarder of <paramref name="netns"/> to exit and returns once its process is gone; false when none
    /// ran. Its TAPs are persistent and its state file stays, so the next cmdlet starts one that re-attaches them.
    /// </summary>
    public static bool Stop(string netns, TimeSpan timeout)
    {
        using var scope = NetNamespace.Enter(netns);
        if (Ask(netns, ForwarderGenl.CMD_STOP) is not var (pid, _))
            return false;
        var sw = Stopwatch.StartNew();
        while (IsAlive(pid))
        {
            if (sw.Elapsed > timeout)
                throw new L2tpException("L2tp.ForwarderStopTimeout", L2tpErrorKind.ResourceUnavailable, pid,
                    $"l2tp-forwarder {pid} accepted the stop but is still running after {timeout.TotalSeconds:0} s; see its log, or kill -TERM {pid}.");
            Thread.Sleep(20);
        }
        return true;
    }

    private static L2tpRejectedEntry ToEntry(ForwarderGenl.RejectedEntry r) =>
        new() { Time = r.Time, What = r.What, Reason = r.Reason, Entry = r.Entry };

    /// <summary>
    /// A request of the forwarder's own family and who answered it; null when no forwarder runs. A forwarder that
    /// closed the connection with the request unread was exiting as we connected: the request goes to whichever runs
    /// now, if any. A refusal is in words (a forwarder without the family: L2tp.ForwarderTooOld).
    /// </summary>
    private static (int Pid, List<NetlinkMessage> Replies)? Ask(string netns, byte cmd)
    {
        for (int attempt = 1; ; attempt++)
        {
            using var link = ForwarderLink.TryOpen(netns, null, default);
            if (link is null)
                return null;
            try
            {
                return (link.Server.Pid, link.Request(cmd, _ => { }));
            }
            catch (L2tpException e) when (attempt < 3 && ForwarderLink.Unread(e))
            {
            }
            catch (NetlinkException e)
            {
                throw Refusals.ForwarderRequest(e, netns);
            }
        }
    }

    /// <summary>Alive: /proc/PID exists and is no zombie (a forwarder this process started is reaped by the runtime).</summary>
    private static bool IsAlive(int pid) =>
        ProcStat.FieldsAfterName(pid) is [var state, ..] && state is not ("Z" or "X" or "x");
}
