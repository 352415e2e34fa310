using L2tp.Netlink;

namespace L2tp.Control;

/// <summary>
/// The `l2tp-forwarder` generic-netlink family: how the module asks a managed forwarder about itself and tells it
/// to stop, over the same control socket as the `l2tp` family. Its numbers live here only, for module and forwarder.
/// </summary>
internal static class ForwarderGenl
{
    public const string FamilyName = "l2tp-forwarder";
    /// <summary>Next to the `l2tp` family's 0x20 on the control socket; clients look it up by name all the same.</summary>
    public const ushort FamilyId = 0x21;
    public const byte Version = 1;

    /// <summary>
    /// INFO answers with the forwarder's identity, counts, paths and set-aside state entries; STOP ends it; DIAGNOSE
    /// answers with what tunnel ATTR_TUNNEL_ID received and could not deliver (its diagnosis table).
    /// </summary>
    public const byte CMD_INFO = 1, CMD_STOP = 2, CMD_DIAGNOSE = 3;

    public const ushort ATTR_PID = 1, ATTR_NETNS_KEY = 2, ATTR_START_TIME = 3, ATTR_VERSION = 4, ATTR_TUNNELS = 5,
        ATTR_SESSIONS = 6, ATTR_STATE_PATH = 7, ATTR_LOG_PATH = 8, ATTR_REJECTED = 9;

    /// <summary>Flag in an INFO request: list only the entries set aside at this start not yet listed, and mark them listed.</summary>
    public const ushort ATTR_NEW_REJECTS_ONLY = 10;

    /// <summary>DIAGNOSE: the tunnel asked about (u32), and the reply's nest of entries.</summary>
    public const ushort ATTR_TUNNEL_ID = 11, ATTR_DIAGNOSIS = 12;

    /// <summary>Inside ATTR_DIAGNOSIS: one nested attribute per entry, typed 1, 2, ... holding these.</summary>
    public const ushort DIAG_KIND = 1, DIAG_SESSION = 2, DIAG_VALUE = 3, DIAG_LENGTH = 4, DIAG_COUNT = 5, DIAG_LAST_SEEN = 6;

    /// <summary>A DIAGNOSE reply's entries (LastSeen already in Unix milliseconds; the table holds a few, so no cap is needed).</summary>
    public static void WriteDiagnosis(NetlinkWriter w, IReadOnlyList<Protocol.DiagnosisEntry> entries)
    {
        w.BeginNested(ATTR_DIAGNOSIS);
        ushort n = 0;
        foreach (var e in entries)
        {
            w.BeginNested(++n);
            w.U8(DIAG_KIND, (byte)e.Kind);
            w.U32(DIAG_SESSION, e.SessionId);
            w.U64(DIAG_VALUE, e.Value);
            w.U8(DIAG_LENGTH, e.Length);
            w.U64(DIAG_COUNT, (ulong)e.Count);
            w.U64(DIAG_LAST_SEEN, (ulong)e.LastSeen);
            w.EndNested();
        }
        w.EndNested();
    }

    public static List<Protocol.DiagnosisEntry> ReadDiagnosis(NetlinkAttributes a)
    {
        var list = new List<Protocol.DiagnosisEntry>();
        if (!a.Has(ATTR_DIAGNOSIS))
            return list;
        var nest = a.Nested(ATTR_DIAGNOSIS);
        foreach (var t in nest.Types.Order())
        {
            var e = nest.Nested(t);
            list.Add(new Protocol.DiagnosisEntry
            {
                Kind = (L2tpFindingKind)(e.U8OrNull(DIAG_KIND) ?? 0),
                SessionId = e.U32OrNull(DIAG_SESSION) ?? 0,
                Value = e.U64OrZero(DIAG_VALUE),
                Length = (byte)Math.Min(8, (int)(e.U8OrNull(DIAG_LENGTH) ?? 0)),
                Count = (long)e.U64OrZero(DIAG_COUNT),
                LastSeen = (long)e.U64OrZero(DIAG_LAST_SEEN),
            });
        }
        return list;
    }

    /// <summary>Inside ATTR_REJECTED: one nested attribute per entry, typed 1, 2, ... in order, holding these.</summary>
    public const ushort REJ_TIME = 1, REJ_WHAT = 2, REJ_REASON = 3, REJ_ENTRY = 4;

    /// <summary>
    /// At most this many set-aside entries (the latest) go into a reply, each text cut to MaxText, all within
    /// MaxNestBytes: a netlink attribute's length is 16 bits, so the nest of them must stay below 64 KiB.
    /// </summary>
    public const int MaxRejected = 100, MaxText = 1024, MaxNestBytes = 60 * 1024;

    /// <summary>One set-aside entry as carried in a reply.</summary>
    public sealed record RejectedEntry(DateTime Time, string What, string Reason, string Entry);

    public static void WriteRejected(NetlinkWriter w, IReadOnlyList<RejectedEntry> entries)
    {
        static string Cut(string s) => s.Length > MaxText ? s[..MaxText] + "..." : s;
        // The newest entries that fit, taken from the end, then written oldest first.
        var chosen = new List<RejectedEntry>();
        int bytes = 4;
        for (int i = entries.Count - 1; i >= 0 && chosen.Count < MaxRejected; i--)
        {
            var r = entries[i] with { What = Cut(entries[i].What), Reason = Cut(entries[i].Reason), Entry = Cut(entries[i].Entry) };
            // Attribute headers, the u64, NULs and padding: 4 + 12 + 3 * (4 + 4) + the UTF-8 text.
            int size = 40 + System.Text.Encoding.UTF8.GetByteCount(r.What) + System.Text.Encoding.UTF8.GetByteCount(r.Reason)
                + System.Text.Encoding.UTF8.GetByteCount(r.Entry);
            if (bytes + size > MaxNestBytes)
                break;
            bytes += size;
            chosen.Add(r);
        }
        chosen.Reverse();
        w.BeginNested(ATTR_REJECTED);
        ushort n = 0;
        foreach (var r in chosen)
        {
            w.BeginNested(++n);
            w.U64(REJ_TIME, (ulong)new DateTimeOffset(DateTime.SpecifyKind(r.Time, DateTimeKind.Utc)).ToUnixTimeMilliseconds());
            w.StringZ(REJ_WHAT, r.What);
            w.StringZ(REJ_REASON, r.Reason);
            w.StringZ(REJ_ENTRY, r.Entry);
            w.EndNested();
        }
        w.EndNested();
    }

    public static List<RejectedEntry> ReadRejected(NetlinkAttributes a)
    {
        var list = new List<RejectedEntry>();
        var nest = a.Nested(ATTR_REJECTED);
        foreach (var t in nest.Types.Order())
        {
            var e = nest.Nested(t);
            list.Add(new RejectedEntry(DateTimeOffset.FromUnixTimeMilliseconds((long)e.U64OrZero(REJ_TIME)).UtcDateTime,
                e.String(REJ_WHAT) ?? "", e.String(REJ_REASON) ?? "", e.String(REJ_ENTRY) ?? ""));
        }
        return list;
    }
}
