using L2tp.Control;
using System.Text.Json;
using L2tp.Netlink;
using static Tmds.Linux.LibC;

namespace L2tp.Forwarder;

/// <summary>
/// Answers the `l2tp-forwarder` family (<see cref="ForwarderGenl"/>) on the control socket: INFO about this forwarder
/// and STOP. Kept apart from ControlServer so that the server's transport and the operations evolve separately.
/// </summary>
internal static class ForwarderControl
{
    /// <summary>This process's identity, set once at start.</summary>
    internal sealed record Identity(string NetnsKey, DateTime StartTime, string Version, string LogPath);

    public static Identity Self { get; set; } = new("", DateTime.UtcNow, "", "");

    /// <summary>CTRL_CMD_NEWFAMILY for the nlctrl lookup of <see cref="ForwarderGenl.FamilyName"/>.</summary>
    public static void WriteFamily(NetlinkWriter w, NetlinkMessage req)
    {
        w.Begin(Nl.GENL_ID_CTRL, 0, req.Seq, req.Pid).Genl(1 /* CTRL_CMD_NEWFAMILY */, 2)
            .StringZ(Nl.CTRL_ATTR_FAMILY_NAME, ForwarderGenl.FamilyName)
            .U16(Nl.CTRL_ATTR_FAMILY_ID, ForwarderGenl.FamilyId)
            .U32(Nl.CTRL_ATTR_VERSION, ForwarderGenl.Version)
            .U32(Nl.CTRL_ATTR_HDRSIZE, 0)
            .U32(Nl.CTRL_ATTR_MAXATTR, ForwarderGenl.ATTR_DIAGNOSIS)
            .End();
    }

    /// <summary>Handles one request; the caller acks it. <paramref name="stop"/> ends the serve loop after the ack.</summary>
    public static void Handle(NetlinkMessage m, bool privileged, Forwarder fwd, Action stop, NetlinkWriter w)
    {
        // Where the state is, and stopping the data plane, are an administrator's business as configuration is.
        if (!privileged)
            throw new ForwarderError(EPERM, "Operating l2tp-forwarder needs root or CAP_NET_ADMIN.");
        switch (m.GenlCommand)
        {
            case ForwarderGenl.CMD_INFO:
                bool newOnly = m.GenlAttributes.Has(ForwarderGenl.ATTR_NEW_REJECTS_ONLY);
                List<StateStore.Rejected> rejected;
                if (newOnly)
                {
                    rejected = new(fwd.Unreported);
                    fwd.Unreported.Clear();
                }
                else
                {
                    rejected = fwd.Store.LoadRejected();
                }
                w.Begin(ForwarderGenl.FamilyId, 0, m.Seq, m.Pid).Genl(ForwarderGenl.CMD_INFO, ForwarderGenl.Version)
                    .U32(ForwarderGenl.ATTR_PID, (uint)Environment.ProcessId)
                    .StringZ(ForwarderGenl.ATTR_NETNS_KEY, Self.NetnsKey)
                    .U64(ForwarderGenl.ATTR_START_TIME, (ulong)new DateTimeOffset(Self.StartTime).ToUnixTimeMilliseconds())
                    .StringZ(ForwarderGenl.ATTR_VERSION, Self.Version)
                    .U32(ForwarderGenl.ATTR_TUNNELS, (uint)fwd.TunnelCount)
                    .U32(ForwarderGenl.ATTR_SESSIONS, (uint)fwd.Tunnels.Sum(t => t.Sessions.Count))
                    .StringZ(ForwarderGenl.ATTR_STATE_PATH, fwd.Store.Path)
                    .StringZ(ForwarderGenl.ATTR_LOG_PATH, Self.LogPath);
                ForwarderGenl.WriteRejected(w, rejected.Select(r => new ForwarderGenl.RejectedEntry(r.Time, r.What, r.Reason,
                    r.Entry?.ToJsonString() ?? "")).ToList());
                w.End();
                break;
            case ForwarderGenl.CMD_DIAGNOSE:
                if (m.GenlAttributes.U32OrNull(ForwarderGenl.ATTR_TUNNEL_ID) is not { } tid)
                    throw new ForwarderError(EINVAL, "DIAGNOSE needs a tunnel id (ATTR_TUNNEL_ID).");
                var t = fwd.FindTunnel(tid) ?? throw new ForwarderError(ENODEV, $"There is no tunnel {tid}.");
                long nowTick = Environment.TickCount64, nowUnix = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
                var entries = t.Runtime.Diagnosis.Snapshot();
                for (int i = 0; i < entries.Count; i++)
                {
                    var e = entries[i];
                    e.LastSeen = nowUnix - (nowTick - e.LastSeen);
                    entries[i] = e;
                }
                w.Begin(ForwarderGenl.FamilyId, 0, m.Seq, m.Pid).Genl(ForwarderGenl.CMD_DIAGNOSE, ForwarderGenl.Version)
                    .U32(ForwarderGenl.ATTR_TUNNEL_ID, tid);
                ForwarderGenl.WriteDiagnosis(w, entries);
                w.End();
                break;
            case ForwarderGenl.CMD_STOP:
                Log.Info("stop requested over the control socket");
                stop();
                break;
            default:
                throw new ForwarderError(EOPNOTSUPP, $"Command {m.GenlCommand} of {ForwarderGenl.FamilyName} is not supported.");
        }
    }
}
