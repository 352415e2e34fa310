using System.Net;
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
        Cookie = Cookie.Parse(r.Cookie, "cookie"),
        PeerCookie = Cookie.Parse(r.PeerCookie, "peer_cookie"),
        L2SpecType = r.L2SpecType,
        Sequencing = r.Sequencing,
    };

    public List<TunnelRecord> Load()
    {
        if (!File.Exists(_path))
            return new();
        try
        {
            return JsonSerializer.Deserialize<List<TunnelRecord>>(File.ReadAllText(_path), Options) ?? new();
        }
        catch (JsonException e)
        {
            // A damaged file must not keep the forwarder from starting: keep it aside for a person to look at.
            Log.Error($"state file {_path} is unreadable ({e.Message}); moved to {_path}.bad");
            File.Move(_path, _path + ".bad", overwrite: true);
            return new();
        }
    }

    /// <summary>Writes to a temporary file, flushes it, then renames it over the old one.</summary>
    public void Save(List<TunnelRecord> tunnels)
    {
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(_path)!);
        string tmp = _path + ".tmp";
        using (var f = new FileStream(tmp, FileMode.Create, FileAccess.Write, FileShare.None))
        {
            JsonSerializer.Serialize(f, tunnels, Options);
            f.Flush(flushToDisk: true);
        }
        File.Move(tmp, _path, overwrite: true);
    }

    public void Delete()
    {
        try { File.Delete(_path); } catch (IOException) { }
    }
}
