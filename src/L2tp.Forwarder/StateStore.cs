using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;
using L2tp.Protocol;
using Cookie = L2tp.Protocol.Cookie;

namespace L2tp.Forwarder;

/// <summary>
/// The forwarder's tunnels and sessions on disk, so that a new forwarder can re-create the sockets and re-attach the
/// persistent TAPs: a snapshot (state.json in the namespace's folder, replaced atomically) and a journal of the changes
/// since (state.json.journal, one JSON line per change, appended before the change is acknowledged). A change costs
/// one short append whatever the number of sessions; the forwarder folds the journal into a new snapshot when it has
/// grown as long as the state itself, or when the control socket goes quiet.
/// </summary>
internal sealed class StateStore : IDisposable
{
    private readonly string _path;
    private FileStream? _journal;

    public StateStore(string path) => _path = path;

    public string Path => _path;

    public string JournalPath => _path + ".journal";

    /// <summary>Changes appended since the last snapshot (or found in the journal at load).</summary>
    public int JournalEntries { get; private set; }

    /// <summary>Bytes written to the state files over this store's life: what a test counts to see a change stay small.</summary>
    public long BytesWritten { get; private set; }

    /// <summary>Snapshots written over this store's life.</summary>
    public int Snapshots { get; private set; }

    public bool SnapshotExists => File.Exists(_path);

    internal sealed class TunnelRecord
    {
        public uint TunnelId { get; set; }
        public uint PeerTunnelId { get; set; }
        public Encapsulation Encapsulation { get; set; }
        public string Local { get; set; } = "";
        public string Remote { get; set; } = "";
        public ushort SourcePort { get; set; }
        public ushort DestinationPort { get; set; }
        public bool UdpChecksum { get; set; }
        public bool Udp6ChecksumTx { get; set; } = true;
        public bool Udp6ChecksumRx { get; set; } = true;
        public List<SessionRecord> Sessions { get; set; } = new();
    }

    internal sealed class SessionRecord
    {
        public uint SessionId { get; set; }
        public uint PeerSessionId { get; set; }
        public string InterfaceName { get; set; } = "";
        public string Cookie { get; set; } = "";
        public string PeerCookie { get; set; } = "";
        public L2SpecType L2SpecType { get; set; }
        public SequencingMode Sequencing { get; set; }
        /// <summary>Milliseconds; absent (0) in files written before it existed, which is what those sessions had.</summary>
        public ulong ReorderTimeoutMs { get; set; }
    }

    /// <summary>
    /// One change, one line of the journal. Replaying a line sets or removes what it names, so replaying a journal
    /// over a snapshot that already holds it (a crash between writing a snapshot and removing the journal) changes
    /// nothing.
    /// </summary>
    internal sealed class JournalEntry
    {
        /// <summary>
        /// tunnel (created: the record, no sessions), -tunnel (deleted, with its sessions), session (created, or modified:
        /// the whole record, which replaces the old), -session, rename.
        /// </summary>
        public string Op { get; set; } = "";
        public uint TunnelId { get; set; }
        public uint SessionId { get; set; }
        public TunnelRecord? Tunnel { get; set; }
        public SessionRecord? Session { get; set; }
        public string? InterfaceName { get; set; }

        public static JournalEntry TunnelCreated(TunnelRecord t) => new() { Op = "tunnel", TunnelId = t.TunnelId, Tunnel = t };
        public static JournalEntry TunnelDeleted(uint id) => new() { Op = "-tunnel", TunnelId = id };
        public static JournalEntry SessionCreated(uint tunnelId, SessionRecord s) => new() { Op = "session", TunnelId = tunnelId, SessionId = s.SessionId, Session = s };
        public static JournalEntry SessionDeleted(uint tunnelId, uint sessionId) => new() { Op = "-session", TunnelId = tunnelId, SessionId = sessionId };
        public static JournalEntry Renamed(uint tunnelId, uint sessionId, string name) => new() { Op = "rename", TunnelId = tunnelId, SessionId = sessionId, InterfaceName = name };
    }

    // Both read their metadata from StateJson (enums as names, as JsonStringEnumConverter wrote them before).
    private static readonly JsonSerializerOptions LineOptions = new()
    {
        WriteIndented = false,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        TypeInfoResolver = StateJson.Default,
    };

    private static readonly JsonSerializerOptions Options = new()
    {
        WriteIndented = true,
        TypeInfoResolver = StateJson.Default,
    };

    /// <summary>The metadata of <typeparamref name="T"/> under <paramref name="options"/>, from <see cref="StateJson"/>.</summary>
    private static JsonTypeInfo<T> Info<T>(JsonSerializerOptions options) => (JsonTypeInfo<T>)options.GetTypeInfo(typeof(T));

    /// <summary>A record as the state file writes it, for an entry set aside (<see cref="Rejected"/>).</summary>
    internal static JsonNode? ToNode<T>(T record) => JsonSerializer.SerializeToNode(record, Info<T>(Options));

    public static TunnelRecord ToRecord(TunnelSpec t, IEnumerable<(SessionSpec Spec, string IfName)> sessions) => new()
    {
        TunnelId = t.TunnelId,
        PeerTunnelId = t.PeerTunnelId,
        Encapsulation = t.Encapsulation,
        Local = t.Local?.ToString() ?? "",
        Remote = t.Remote?.ToString() ?? "",
        SourcePort = t.SourcePort,
        DestinationPort = t.DestinationPort,
        UdpChecksum = t.UdpChecksum,
        Udp6ChecksumTx = t.Udp6ChecksumTx,
        Udp6ChecksumRx = t.Udp6ChecksumRx,
        Sessions = sessions.Select(s => ToRecord(s.Spec, s.IfName)).ToList(),
    };

    public static SessionRecord ToRecord(SessionSpec s, string ifName) => new()
    {
        SessionId = s.SessionId,
        PeerSessionId = s.PeerSessionId,
        InterfaceName = ifName,
        Cookie = Cookie.Format(s.Cookie),
        PeerCookie = Cookie.Format(s.PeerCookie),
        L2SpecType = s.L2SpecType,
        Sequencing = s.Sequencing,
        ReorderTimeoutMs = s.ReorderTimeoutMs,
    };

    public static TunnelSpec ToSpec(TunnelRecord r) => new()
    {
        TunnelId = r.TunnelId,
        PeerTunnelId = r.PeerTunnelId,
        Encapsulation = r.Encapsulation,
        Local = IPAddress.Parse(r.Local),
        Remote = IPAddress.Parse(r.Remote),
        SourcePort = r.SourcePort,
        DestinationPort = r.DestinationPort,
        UdpChecksum = r.UdpChecksum,
        Udp6ChecksumTx = r.Udp6ChecksumTx,
        Udp6ChecksumRx = r.Udp6ChecksumRx,
    };

    public static SessionSpec ToSpec(uint tunnelId, SessionRecord r) => new()
    {
        TunnelId = tunnelId,
        SessionId = r.SessionId,
        PeerSessionId = r.PeerSessionId,
        InterfaceName = r.InterfaceName,
        Cookie = Cookie.Parse(r.Cookie, nameof(r.Cookie)),
        PeerCookie = Cookie.Parse(r.PeerCookie, nameof(r.PeerCookie)),
        L2SpecType = r.L2SpecType,
        Sequencing = r.Sequencing,
        ReorderTimeoutMs = r.ReorderTimeoutMs,
    };

    /// <summary>An entry of the state file set aside at load, with why; kept in state.json.rejected for a person.</summary>
    internal sealed record Rejected(string What, string Reason, JsonNode? Entry, DateTime Time);

    /// <summary>What a state file holds: the entries that can be restored and those set aside.</summary>
    internal sealed record LoadResult(List<TunnelRecord> Tunnels, List<Rejected> Rejected);

    public string RejectedPath => _path + ".rejected";

    /// <summary>
    /// Reads the state file, setting bad entries aside into state.json.rejected (merged with earlier ones) and naming
    /// them in the log. Never throws for what the file holds: a forwarder that cannot start is a crash loop.
    /// </summary>
    public LoadResult Load()
    {
        string? text = null;
        string journal = "";
        try
        {
            bool hasSnapshot = File.Exists(_path), hasJournal = File.Exists(JournalPath);
            if (!hasSnapshot && !hasJournal)
                return new(new(), new());
            if (hasSnapshot)
                text = File.ReadAllText(_path);
            if (hasJournal)
                journal = File.ReadAllText(JournalPath);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Log.Error($"cannot read state file {_path}: {e.Message}");
            return new(new(), new());
        }
        var now = DateTime.UtcNow;
        var result = text is not null ? Parse(text, now) : new LoadResult(new(), new());
        JournalEntries = journal.Length > 0 ? Replay(result, journal, now) : 0;
        if (result.Rejected.Count > 0)
            SetAside(result.Rejected);
        return result;
    }

    /// <summary>
    /// Applies the journal's lines to what the snapshot held; returns how many it applied. A line cut short (no newline:
    /// the forwarder died while writing it, so the change was never acknowledged) is ignored; a line that cannot be read
    /// is set aside, as a bad entry of the snapshot is.
    /// </summary>
    internal static int Replay(LoadResult state, string journal, DateTime now)
    {
        var tunnels = state.Tunnels.ToDictionary(t => t.TunnelId);
        var order = state.Tunnels;
        // Each tunnel's sessions by id, so a line costs a lookup and not a scan of the tunnel's sessions (a journal as
        // long as the state replayed line by line with a scan each grew with the square of the sessions). A removed
        // session leaves a hole in its tunnel's list, closed once at the end, so the list keeps the order a line-by-line
        // RemoveAll and Add gave it.
        var index = new Dictionary<TunnelRecord, Dictionary<uint, int>>(ReferenceEqualityComparer.Instance);
        Dictionary<uint, int> Index(TunnelRecord t)
        {
            if (!index.TryGetValue(t, out var byId))
            {
                index[t] = byId = new();
                for (int i = 0; i < t.Sessions.Count; i++)
                    byId.TryAdd(t.Sessions[i].SessionId, i);
            }
            return byId;
        }
        void RemoveSession(TunnelRecord t, uint id)
        {
            var byId = Index(t);
            if (byId.Remove(id, out int at))
                t.Sessions[at] = null!;
        }
        int applied = 0, lineNo = 0;
        int start = 0;
        while (start < journal.Length)
        {
            int end = journal.IndexOf('\n', start);
            if (end < 0)
                break;
            string line = journal[start..end];
            start = end + 1;
            lineNo++;
            if (line.Trim().Length == 0)
                continue;
            string what = $"journal line {lineNo}";
            JsonNode? node;
            try
            {
                node = JsonNode.Parse(line);
            }
            catch (JsonException e)
            {
                state.Rejected.Add(new(what, $"it is not JSON: {e.Message}", JsonValue.Create(line), now));
                continue;
            }
            if (node is not JsonObject o || o["Op"]?.GetValueKind() != JsonValueKind.String
                || o["TunnelId"] is not JsonValue tv || !tv.TryGetValue(out uint tunnelId))
            {
                state.Rejected.Add(new(what, "it is not a journal entry (Op and TunnelId)", node?.DeepClone(), now));
                continue;
            }
            uint sessionId = o["SessionId"] is JsonValue sv && sv.TryGetValue(out uint sid) ? sid : 0;
            string op = (string)o["Op"]!;
            string? why = null;
            switch (op)
            {
                case "tunnel":
                    var t = ReadTunnel(o["Tunnel"], out why);
                    if (t is null)
                        break;
                    if (tunnels.Remove(t.TunnelId, out var old))
                        order.Remove(old);
                    tunnels[t.TunnelId] = t;
                    order.Add(t);
                    break;
                case "-tunnel":
                    if (tunnels.Remove(tunnelId, out var gone))
                        order.Remove(gone);
                    break;
                case "session":
                    var s = ReadSession(tunnelId, o["Session"], out why);
                    // A session of a tunnel the state no longer has: the journal is being replayed over a snapshot
                    // that already holds its end (the tunnel's deletion); nothing to do.
                    if (s is null || !tunnels.TryGetValue(tunnelId, out var st))
                        break;
                    RemoveSession(st, s.SessionId);
                    Index(st)[s.SessionId] = st.Sessions.Count;
                    st.Sessions.Add(s);
                    break;
                case "-session":
                    if (tunnels.TryGetValue(tunnelId, out var dt))
                        RemoveSession(dt, sessionId);
                    break;
                case "rename":
                    string name = o["InterfaceName"]?.GetValueKind() == JsonValueKind.String ? (string)o["InterfaceName"]! : "";
                    try
                    {
                        SessionSpec.CheckInterfaceName(name);
                    }
                    catch (L2tpException e)
                    {
                        why = e.Message;
                        break;
                    }
                    if (tunnels.TryGetValue(tunnelId, out var rt) && Index(rt).TryGetValue(sessionId, out int ri))
                        rt.Sessions[ri].InterfaceName = name;
                    break;
                default:
                    why = $"Op '{op}' is not a journal operation";
                    break;
            }
            if (why is not null)
                state.Rejected.Add(new(what, why, node.DeepClone(), now));
            else
                applied++;
        }
        foreach (var t in index.Keys)
            t.Sessions.RemoveAll(x => x is null);
        return applied;
    }

    /// <summary>
    /// Appends one change to the journal and returns once the kernel has it (a write, not an fsync): the forwarder's
    /// own death after this loses nothing. The state lives under /run, which a power loss empties with the TAPs it
    /// describes, so what a change must survive is the process, and the write before the acknowledgement gives that.
    /// </summary>
    public void Append(JournalEntry entry)
    {
        var line = JsonSerializer.SerializeToUtf8Bytes(entry, Info<JournalEntry>(LineOptions));
        _journal ??= PrivateFile.Open(JournalPath, FileMode.Append, FileShare.Read, bufferSize: 0);
        var buffer = new byte[line.Length + 1];
        line.CopyTo(buffer, 0);
        buffer[^1] = (byte)'\n';
        // One write per line: a death in the middle leaves a line without its newline, which a load ignores.
        _journal.Write(buffer);
        BytesWritten += buffer.Length;
        JournalEntries++;
    }

    /// <summary>Adds entries to state.json.rejected (read, merged, written atomically) and names each in the log.</summary>
    public void SetAside(IReadOnlyList<Rejected> entries)
    {
        foreach (var r in entries)
            Log.Error($"state file {_path}: {r.What} set aside into {RejectedPath}: {r.Reason}");
        try
        {
            var all = LoadRejected();
            all.AddRange(entries);
            var array = new JsonArray(all.Select(r => (JsonNode)new JsonObject
            {
                ["Time"] = r.Time.ToString("O"),
                ["What"] = r.What,
                ["Reason"] = r.Reason,
                ["Entry"] = r.Entry?.DeepClone(),
            }).ToArray());
            AtomicFile.Write(RejectedPath, Encoding.UTF8.GetBytes(array.ToJsonString(new JsonSerializerOptions { WriteIndented = true })));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Log.Error($"cannot write {RejectedPath}: {e.Message}");
        }
    }

    /// <summary>The entries set aside so far; an unreadable rejected file is kept as one entry of its own text.</summary>
    public List<Rejected> LoadRejected()
    {
        var list = new List<Rejected>();
        string text;
        try
        {
            if (!File.Exists(RejectedPath))
                return list;
            text = File.ReadAllText(RejectedPath);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return list;
        }
        try
        {
            if (JsonNode.Parse(text) is JsonArray array)
            {
                foreach (var n in array)
                    if (n is JsonObject o)
                        list.Add(new Rejected(
                            o["What"]?.GetValueKind() == JsonValueKind.String ? (string)o["What"]! : "entry",
                            o["Reason"]?.GetValueKind() == JsonValueKind.String ? (string)o["Reason"]! : "",
                            o["Entry"]?.DeepClone(),
                            o["Time"]?.GetValueKind() == JsonValueKind.String && DateTime.TryParse((string)o["Time"]!, null,
                                System.Globalization.DateTimeStyles.RoundtripKind, out var t) ? t : DateTime.MinValue));
                return list;
            }
        }
        catch (JsonException) { }
        list.Add(new Rejected("earlier rejected entries", $"{RejectedPath} was not a JSON array", JsonValue.Create(text), DateTime.UtcNow));
        return list;
    }

    /// <summary>
    /// Splits a state file's text into restorable tunnels and rejected entries, each tunnel and session judged on its
    /// own: a bad cookie costs its session, not the namespace's other pseudowires.
    /// </summary>
    internal static LoadResult Parse(string text, DateTime now)
    {
        var tunnels = new List<TunnelRecord>();
        var rejected = new List<Rejected>();
        JsonNode? root;
        try
        {
            root = JsonNode.Parse(text, documentOptions: new JsonDocumentOptions { AllowTrailingCommas = false });
        }
        catch (JsonException e)
        {
            rejected.Add(new("the whole state file", text.Trim().Length == 0 ? "it is empty" : $"it is not JSON (truncated?): {e.Message}",
                JsonValue.Create(text), now));
            return new(tunnels, rejected);
        }
        if (root is not JsonArray array)
        {
            rejected.Add(new("the whole state file", "it is not a JSON array of tunnels", root?.DeepClone(), now));
            return new(tunnels, rejected);
        }
        var ids = new HashSet<uint>();
        for (int i = 0; i < array.Count; i++)
        {
            var node = array[i];
            string what = node is JsonObject o0 && o0["TunnelId"] is JsonValue v && v.TryGetValue(out uint id0) ? $"tunnel {id0}" : $"tunnel entry {i + 1}";
            var tunnel = ReadTunnel(node, out string? why);
            if (tunnel is not null && !ids.Add(tunnel.TunnelId))
            {
                why = $"tunnel id {tunnel.TunnelId} appears more than once (the first is kept)";
                tunnel = null;
            }
            if (tunnel is null)
            {
                int n = (node as JsonObject)?["Sessions"] is JsonArray ss ? ss.Count : 0;
                rejected.Add(new(n > 0 ? $"{what} (with its {n} session(s))" : what, why!, node?.DeepClone(), now));
                continue;
            }
            var sessionIds = new HashSet<uint>();
            var sessions = ((JsonObject)node!)["Sessions"];
            if (sessions is not null and not JsonArray)
                rejected.Add(new($"the sessions of {what}", "Sessions is not an array", sessions.DeepClone(), now));
            else if (sessions is JsonArray list)
                for (int j = 0; j < list.Count; j++)
                {
                    var sn = list[j];
                    string swhat = (sn is JsonObject so && so["SessionId"] is JsonValue sv && sv.TryGetValue(out uint sid0) ? $"session {sid0}" : $"session entry {j + 1}")
                        + $" of {what}";
                    var session = ReadSession(tunnel.TunnelId, sn, out string? swhy);
                    if (session is not null && !sessionIds.Add(session.SessionId))
                    {
                        swhy = $"session id {session.SessionId} appears more than once in the tunnel (the first is kept)";
                        session = null;
                    }
                    if (session is null)
                        rejected.Add(new(swhat, swhy!, sn?.DeepClone(), now));
                    else
                        tunnel.Sessions.Add(session);
                }
            tunnels.Add(tunnel);
        }
        return new(tunnels, rejected);
    }

    private static TunnelRecord? ReadTunnel(JsonNode? node, out string? why)
    {
        why = null;
        if (node is not JsonObject o)
        {
            why = "it is not a JSON object";
            return null;
        }
        // The sessions are judged one by one afterwards: a bad one must not take its tunnel with it.
        var copy = new JsonObject();
        foreach (var (k, v) in o)
            if (k != "Sessions")
                copy[k] = v?.DeepClone();
        try
        {
            var r = copy.Deserialize(Info<TunnelRecord>(Options)) ?? throw new JsonException("null");
            r.Sessions = new();
            if (!Enum.IsDefined(r.Encapsulation))
                throw new FormatException($"Encapsulation {(int)r.Encapsulation} is not Udp or Ip");
            if (!IPAddress.TryParse(r.Local, out _))
                throw new FormatException($"Local '{r.Local}' is not an IP address");
            if (!IPAddress.TryParse(r.Remote, out _))
                throw new FormatException($"Remote '{r.Remote}' is not an IP address");
            ToSpec(r).Validate();
            return r;
        }
        catch (Exception e) when (e is JsonException or FormatException or L2tpException or InvalidOperationException or NotSupportedException)
        {
            why = e.Message;
            return null;
        }
    }

    private static SessionRecord? ReadSession(uint tunnelId, JsonNode? node, out string? why)
    {
        why = null;
        if (node is not JsonObject)
        {
            why = "it is not a JSON object";
            return null;
        }
        try
        {
            var r = node.Deserialize(Info<SessionRecord>(Options)) ?? throw new JsonException("null");
            if (!Enum.IsDefined(r.L2SpecType))
                throw new FormatException($"L2SpecType {(int)r.L2SpecType} is not None or Default");
            if (!Enum.IsDefined(r.Sequencing))
                throw new FormatException($"Sequencing {(int)r.Sequencing} is not a sequencing mode");
            // A session is re-attached to its interface by name: without one there is nothing to attach to.
            SessionSpec.CheckInterfaceName(r.InterfaceName ?? "");
            ToSpec(tunnelId, r).Validate();
            return r;
        }
        catch (Exception e) when (e is JsonException or FormatException or L2tpException or InvalidOperationException or NotSupportedException)
        {
            why = e.Message;
            return null;
        }
    }

    /// <summary>
    /// Writes a snapshot of the whole state atomically (see <see cref="AtomicFile"/>: a crash leaves the old file or the
    /// new one), then removes the journal it takes in. A crash between the two replays the journal over a snapshot that
    /// already holds it, which changes nothing (<see cref="JournalEntry"/>).
    /// </summary>
    public void Save(List<TunnelRecord> tunnels)
    {
        PrivateFile.CreateFolder(System.IO.Path.GetDirectoryName(_path)!);
        long length = 0;
        AtomicFile.Write(_path, f =>
        {
            JsonSerializer.Serialize(f, tunnels, Info<List<TunnelRecord>>(Options));
            length = f.Position;
        });
        BytesWritten += length;
        Snapshots++;
        DeleteJournal();
    }

    private void DeleteJournal()
    {
        _journal?.Dispose();
        _journal = null;
        JournalEntries = 0;
        try { File.Delete(JournalPath); } catch (IOException) { }
    }

    public void Delete()
    {
        DeleteJournal();
        try { File.Delete(_path); } catch (IOException) { }
    }

    public void Dispose()
    {
        _journal?.Dispose();
        _journal = null;
    }
}

/// <summary>
/// The state files' JSON metadata, generated at compile time: no reflection at run time, so the forwarder also builds as
/// a native (AOT) program.
/// </summary>
[JsonSourceGenerationOptions(UseStringEnumConverter = true)]
[JsonSerializable(typeof(StateStore.TunnelRecord))]
[JsonSerializable(typeof(StateStore.SessionRecord))]
[JsonSerializable(typeof(StateStore.JournalEntry))]
[JsonSerializable(typeof(List<StateStore.TunnelRecord>))]
internal sealed partial class StateJson : JsonSerializerContext
{
}
