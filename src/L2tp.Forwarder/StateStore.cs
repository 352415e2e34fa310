using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using System.Text.Json;
using System.Text.Json.Serialization;
using L2tp.Protocol;
using Cookie = L2tp.Protocol.Cookie;

namespace L2tp.Forwarder;

/// <summary>
/// The forwarder's tunnels and sessions on disk (state.json in the namespace's folder), written atomically after
/// every change so that a new forwarder can re-create the sockets and re-attach the persistent TAPs.
/// </summary>
internal sealed class StateStore
{
    private readonly string _path;

    public StateStore(string path) => _path = path;

    public string Path => _path;

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
    }

    internal static JsonSerializerOptions JsonOptions => Options;

    private static readonly JsonSerializerOptions Options = new()
    {
        WriteIndented = true,
        Converters = { new JsonStringEnumConverter() },
    };

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
        Sessions = sessions.Select(s => new SessionRecord
        {
            SessionId = s.Spec.SessionId,
            PeerSessionId = s.Spec.PeerSessionId,
            InterfaceName = s.IfName,
            Cookie = Cookie.Format(s.Spec.Cookie),
            PeerCookie = Cookie.Format(s.Spec.PeerCookie),
            L2SpecType = s.Spec.L2SpecType,
            Sequencing = s.Spec.Sequencing,
        }).ToList(),
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
        string text;
        try
        {
            if (!File.Exists(_path))
                return new(new(), new());
            text = File.ReadAllText(_path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Log.Error($"cannot read state file {_path}: {e.Message}");
            return new(new(), new());
        }
        var result = Parse(text, DateTime.UtcNow);
        if (result.Rejected.Count > 0)
            SetAside(result.Rejected);
        return result;
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
            var r = copy.Deserialize<TunnelRecord>(Options) ?? throw new JsonException("null");
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
            var r = node.Deserialize<SessionRecord>(Options) ?? throw new JsonException("null");
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

    /// <summary>Writes the state atomically (see <see cref="AtomicFile"/>): a crash leaves the old file or the new one.</summary>
    public void Save(List<TunnelRecord> tunnels)
    {
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(_path)!);
        AtomicFile.Write(_path, JsonSerializer.SerializeToUtf8Bytes(tunnels, Options));
    }

    public void Delete()
    {
        try { File.Delete(_path); } catch (IOException) { }
    }
}
