using System.Text;

namespace L2tp;

/// <summary>
/// A configuration file: the tunnels, sessions, session interfaces and bridges of one or more network namespaces, as
/// Export-L2tpConfiguration writes it and Sync-L2tpConfiguration applies it (schema: L2tpConfiguration.schema.json).
/// </summary>
public sealed class L2tpConfiguration
{
    /// <summary>File name of the JSON Schema shipped in the module folder.</summary>
    public const string SchemaFileName = "L2tpConfiguration.schema.json";

    /// <summary>Where an editor finds the schema ("$schema"); written as read, not checked.</summary>
    public string? Schema { get; set; }

    /// <summary>The namespaces the file describes; a namespace the file does not name is left alone.</summary>
    public List<L2tpNamespaceConfiguration> Namespaces { get; set; } = new();

    /// <summary>Parses JSON text; syntax and schema errors come back with their JSON paths, the model null.</summary>
    internal static (L2tpConfiguration? Configuration, IReadOnlyList<ConfigurationError> Errors) Parse(string json) =>
        Configuration.ConfigurationReader.Parse(json);

    /// <summary>
    /// Reads and checks a file: L2tp.InvalidConfiguration naming every error with its JSON path (schema, duplicate ids,
    /// bad cookies, addresses, ...), L2tp.ConfigurationNotFound when it cannot be read.
    /// </summary>
    public static L2tpConfiguration Read(string path) => FromJson(ReadText(path), path);

    /// <summary>A file's whole text (a configuration file, an ip l2tp script); L2tp.ConfigurationNotFound when it cannot be read.</summary>
    public static string ReadText(string path, string what = "the configuration file ")
    {
        try { return File.ReadAllText(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new L2tpException("L2tp.ConfigurationNotFound", L2tpErrorKind.ObjectNotFound, path,
                $"Cannot read {what}'{path}': {e.Message}", e);
        }
    }

    /// <summary>As <see cref="Read"/>, from text; <paramref name="source"/> names it in the error.</summary>
    public static L2tpConfiguration FromJson(string json, string source = "the configuration")
    {
        var (config, errors) = Check(json);
        if (errors.Count > 0)
            throw Invalid(errors, source);
        return config!;
    }

    /// <summary>
    /// Schema errors and rule errors together, so one pass names everything; a rule error at a value the schema check
    /// already refused (or under it) is left out, as it would only repeat it.
    /// </summary>
    internal static (L2tpConfiguration? Configuration, IReadOnlyList<ConfigurationError> Errors) Check(string json)
    {
        var (config, schemaErrors) = Parse(json);
        if (config is null)
            return (null, schemaErrors);
        var errors = schemaErrors.ToList();
        foreach (var e in config.Validate())
            if (!schemaErrors.Any(s => e.Path == s.Path || e.Path.StartsWith(s.Path + ".", StringComparison.Ordinal) || e.Path.StartsWith(s.Path + "[", StringComparison.Ordinal)))
                errors.Add(e);
        return (config, errors);
    }

    /// <summary>Every rule the file breaks beyond the schema (duplicates, ids, cookies, addresses), with JSON paths.</summary>
    public IReadOnlyList<ConfigurationError> Validate() => Configuration.ConfigurationValidator.Validate(this);

    /// <summary>One L2tp.InvalidConfiguration for all <paramref name="errors"/>, the first path as target.</summary>
    internal static L2tpException Invalid(IReadOnlyList<ConfigurationError> errors, string source)
    {
        var text = new StringBuilder($"{source} is not a valid L2tp configuration ({errors.Count} error{(errors.Count == 1 ? "" : "s")}); nothing was changed:");
        foreach (var e in errors)
            text.Append('\n').Append(e);
        return new L2tpException("L2tp.InvalidConfiguration", L2tpErrorKind.InvalidArgument, errors[0].Path, text.ToString());
    }

    /// <summary>The file's text: indented JSON, every field written (defaults too), "$schema" first.</summary>
    public string ToJson() => Configuration.ConfigurationWriter.Write(this);

    /// <summary>
    /// Writes <see cref="ToJson"/> to <paramref name="path"/>, making its folder (/etc/l2tp) if needed, through a
    /// temporary file so a reader never sees half; L2tp.ConfigurationWriteFailed when it cannot. A new file is its
    /// owner's alone (0600: it holds the cookies, which `ip l2tp show` gives root alone); a file that was there keeps
    /// its read and write bits, which its owner may have chosen, when it is the caller's own regular file.
    /// </summary>
    public void Write(string path)
    {
        if (OperatingSystem.IsWindows())
            throw new PlatformNotSupportedException();
        string full = Path.GetFullPath(path);
        string dir = Path.GetDirectoryName(full)!;
        // A name nobody can guess, made with O_EXCL: in a shared folder such as /tmp no one else's file or link is
        // written through.
        string tmp = Path.Combine(dir, $".{Path.GetFileName(full)}.{Guid.NewGuid():N}.tmp");
        try
        {
            Directory.CreateDirectory(dir);
            var mode = KeptMode(full);
            using (var f = new FileStream(tmp, new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, UnixCreateMode = OwnerOnly }))
            {
                if (mode != OwnerOnly)
                    File.SetUnixFileMode(f.SafeFileHandle, mode);
                f.Write(new UTF8Encoding(false).GetBytes(ToJson()));
            }
            File.Move(tmp, full, overwrite: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            try { File.Delete(tmp); } catch (Exception) { }
            throw new L2tpException("L2tp.ConfigurationWriteFailed", L2tpErrorKind.PermissionDenied, path,
                $"Cannot write the configuration file '{path}': {e.Message}", e);
        }
    }

    // The mode of the file being replaced lends itself only when that file is the caller's own regular file (a file or
    // link someone else left in /tmp must not widen who reads the cookies), and only its read and write bits.
    private static UnixFileMode KeptMode(string full)
    {
        const uint ReadWrite = 0x1B6; // 0666
        if (L2tp.Native.Sys.LinkStatus(full) is not { } st || !L2tp.Native.Sys.IsRegularFile(st.Mode) || st.Uid != L2tp.Native.Sys.EffectiveUid)
            return OwnerOnly;
        return (UnixFileMode)(st.Mode & ReadWrite);
    }

    private const UnixFileMode OwnerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    /// <summary>The namespace section named <paramref name="name"/>, or null.</summary>
    public L2tpNamespaceConfiguration? Namespace(string name) => Namespaces.FirstOrDefault(n => n.Name == name);
}

/// <summary>One network namespace of a configuration file: its backend, tunnels (with sessions) and bridges.</summary>
public sealed class L2tpNamespaceConfiguration
{
    /// <summary>A name under /run/netns; empty for the namespace the cmdlet runs in.</summary>
    public string Name { get; set; } = "";
    /// <summary>Kernel or Managed; null for the module's default (L2TP_BACKEND, else Kernel where the kernel has L2TP).</summary>
    public BackendKind? Backend { get; set; }
    /// <summary>Tunnels with their sessions.</summary>
    public List<L2tpTunnelConfiguration> Tunnels { get; set; } = new();
    /// <summary>Bridges with their ports; null (key absent) leaves the namespace's bridges alone, also under -Prune.</summary>
    public List<L2tpBridgeConfiguration>? Bridges { get; set; }
}

/// <summary>A tunnel of a configuration file: every ip-l2tp `add tunnel` option, and its sessions.</summary>
public sealed class L2tpTunnelConfiguration
{
    /// <summary>tunnel_id.</summary>
    public uint TunnelId { get; set; }
    /// <summary>peer_tunnel_id.</summary>
    public uint PeerTunnelId { get; set; }
    /// <summary>encap: Udp (default) or Ip.</summary>
    public Encapsulation Encapsulation { get; set; } = Encapsulation.Udp;
    /// <summary>local: an address of this host, or "any".</summary>
    public string Local { get; set; } = "";
    /// <summary>remote: the peer's address.</summary>
    public string Remote { get; set; } = "";
    /// <summary>udp_sport; 0 with IP encapsulation.</summary>
    public ushort SourcePort { get; set; }
    /// <summary>udp_dport; 0 with IP encapsulation.</summary>
    public ushort DestinationPort { get; set; }
    /// <summary>udp_csum (IPv4); null for the backend's default (Managed on, Kernel off), as New-L2tpTunnel without -UdpChecksum.</summary>
    public bool? UdpChecksum { get; set; }
    /// <summary>udp6_csum_tx.</summary>
    public bool Udp6ChecksumTx { get; set; } = true;
    /// <summary>udp6_csum_rx.</summary>
    public bool Udp6ChecksumRx { get; set; } = true;
    /// <summary>The tunnel's sessions.</summary>
    public List<L2tpSessionConfiguration> Sessions { get; set; } = new();
}

/// <summary>A session of a configuration file: every ip-l2tp `add session` option, and its interface's state.</summary>
public sealed class L2tpSessionConfiguration
{
    /// <summary>session_id.</summary>
    public uint SessionId { get; set; }
    /// <summary>peer_session_id.</summary>
    public uint PeerSessionId { get; set; }
    /// <summary>name; the kernel's l2tpethN when null (then no interface state can be given).</summary>
    public string? InterfaceName { get; set; }
    /// <summary>cookie, 8 or 16 hex digits; empty for none.</summary>
    public string Cookie { get; set; } = "";
    /// <summary>peer_cookie, 8 or 16 hex digits; empty for none.</summary>
    public string PeerCookie { get; set; } = "";
    /// <summary>l2spec_type.</summary>
    public L2SpecType L2SpecType { get; set; } = L2SpecType.Default;
    /// <summary>seq.</summary>
    public SequencingMode Sequencing { get; set; } = SequencingMode.None;
    /// <summary>Milliseconds out-of-order packets wait in the reorder queue (L2TP_ATTR_RECV_TIMEOUT); null or 0 for none.</summary>
    public uint? ReorderTimeout { get; set; }
    /// <summary>The interface's state; null leaves it as the backend makes it.</summary>
    public L2tpInterfaceConfiguration? Interface { get; set; }

    /// <summary>Live state only: the backend does not report the sublayer (the kernel's replies omit it).</summary>
    internal bool L2SpecTypeUnknown { get; set; }
    /// <summary>Live state only: the MTU that fits the session (what "Auto" means for it).</summary>
    internal int? SuggestedMtu { get; set; }
    /// <summary>Live state only: the interface's MTU as a number.</summary>
    internal int? ActualMtu { get; set; }
    /// <summary>Live state only: the bridge the interface is a port of.</summary>
    internal string? Master { get; set; }
}

/// <summary>The state of a session's interface in a configuration file; null fields are left as they are.</summary>
public sealed class L2tpInterfaceConfiguration
{
    /// <summary>Administratively up (true) or down (false).</summary>
    public bool? Up { get; set; }
    /// <summary>A number (68..65535) or "Auto" (the MTU that fits the session's encapsulation over its underlay).</summary>
    public string? Mtu { get; set; }
    /// <summary>Unicast MAC address, aa:bb:cc:dd:ee:ff.</summary>
    public string? MacAddress { get; set; }
    /// <summary>Addresses; null leaves them alone, also under -Prune.</summary>
    public List<L2tpAddressConfiguration>? Addresses { get; set; }
}

/// <summary>An interface address: 198.51.100.1/24, or a point-to-point local address with its peer (and the prefix on the peer).</summary>
public sealed class L2tpAddressConfiguration
{
    /// <summary>The local address, with a prefix unless <see cref="Peer"/> is given (198.51.100.1/24, 2001:db8::1/64).</summary>
    public string Address { get; set; } = "";
    /// <summary>The peer of a point-to-point address, with an optional prefix (198.51.100.2/32).</summary>
    public string? Peer { get; set; }

    /// <inheritdoc/>
    public override string ToString() => Peer is null ? Address : $"{Address} peer {Peer}";
}

/// <summary>A bridge of a configuration file with its ports (session interfaces or any other, such as eth0).</summary>
public sealed class L2tpBridgeConfiguration
{
    /// <summary>Bridge name.</summary>
    public string Name { get; set; } = "";
    /// <summary>Administratively up.</summary>
    public bool Up { get; set; } = true;
    /// <summary>Names of the interfaces enslaved to it.</summary>
    public List<string> Ports { get; set; } = new();
}

/// <summary>One thing wrong in a configuration file: the JSON path of the offending value and what is wrong.</summary>
public sealed record ConfigurationError(string Path, string Message)
{
    /// <inheritdoc/>
    public override string ToString() => $"{Path}: {Message}";
}
