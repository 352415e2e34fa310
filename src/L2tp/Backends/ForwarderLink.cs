using System.Runtime.CompilerServices;
using L2tp.Control;
using L2tp.Native;
using L2tp.Netlink;
using static Tmds.Linux.LibC;

namespace L2tp.Backends;

/// <summary>
/// A verified connection to the forwarder of the current thread's namespace: the one way the module reaches it, for
/// the l2tp family (ManagedBackend) and the forwarder's own family (ForwarderService) alike.
/// </summary>
internal sealed class ForwarderLink : IDisposable
{
    private readonly string _netns;

    private readonly Action<string>? _verbose;

    private ForwarderLink(NetlinkClient client, PeerIdentity server, string netns, Action<string>? verbose)
    {
        Client = client;
        Server = server;
        _netns = netns;
        _verbose = verbose;
    }

    /// <summary>The request/reply path to the forwarder.</summary>
    public NetlinkClient Client { get; }

    /// <summary>Who serves the socket (pid as this process's pid namespace numbers it).</summary>
    public PeerIdentity Server { get; }

    /// <summary>Connects to a running forwarder; null when none listens.</summary>
    public static ForwarderLink? TryOpen(string netns, Action<string>? verbose, CancellationToken cancel)
    {
        var sock = UnixSeqPacketSocket.TryConnect(ForwarderPaths.SocketName, out int err, cancel);
        if (sock is not null)
            return Open(sock, netns, verbose);
        if (err == ECONNREFUSED || err == ENOENT)
            return null;
        throw new L2tpException("L2tp.ForwarderUnreachable", L2tpErrorKind.ConnectionError, ForwarderPaths.SocketName,
            $"Cannot reach l2tp-forwarder{InNs(netns)}: {new ErrnoException(err, "connect").Message}");
    }

    /// <summary>
    /// Checks who serves <paramref name="sock"/>. Anyone may bind an abstract name first: a privileged caller talks only
    /// to a forwarder that could really configure this namespace. (An unprivileged caller may not judge it, nor has it
    /// anything to lose: the forwarder refuses it.)
    /// </summary>
    public static ForwarderLink Open(UnixSeqPacketSocket sock, string netns, Action<string>? verbose)
    {
        try
        {
            var server = sock.Peer();
            if (!server.Privileged && PeerAuthorization.Self().Privileged)
                throw new L2tpException("L2tp.ForwarderNotTrusted", L2tpErrorKind.PermissionDenied, server.Pid,
                    $"The process holding @{ForwarderPaths.SocketName}{InNs(netns)} (pid {server.Pid}, uid {server.Uid}) is not a privileged " +
                    $"l2tp-forwarder ({server.Reason}); stop it (kill {server.Pid}) and run the command again.");
            verbose?.Invoke($"Managed backend: connected to l2tp-forwarder pid {server.Pid} (uid {server.Uid})");
            return new ForwarderLink(new NetlinkClient(sock), server, netns, verbose);
        }
        catch
        {
            sock.Dispose();
            throw;
        }
    }

    /// <summary>
    /// A family's id; null when the forwarder has no such family. <paramref name="fresh"/> asks the forwarder itself, after
    /// a request under the known id was refused. Its refusal is L2tp.PermissionDenied.
    /// </summary>
    public ushort? Family(string name, bool fresh = false)
    {
        // A forwarder's family ids do not change while it runs: each later cmdlet call saves the lookup's round trip.
        var key = Identity;
        if (!fresh && key is { } k && Families.TryGetValue((k, name), out ushort known))
            return known;
        if (key is { } stale)
            Families.TryRemove((stale, name), out _);
        try
        {
            _verbose?.Invoke($"Managed backend: CTRL_GETFAMILY {name} ({(fresh ? "again, the known id was refused" : "once per forwarder")})");
            var id = Client.ResolveFamily(name, fresh);
            if (id is { } found && key is { } k2)
                Families[(k2, name)] = found;
            return id;
        }
        catch (NetlinkException e) when (e.Errno == EPERM || e.Errno == EACCES)
        {
            throw Denied(e);
        }
    }

    /// <summary>
    /// A request of the forwarder's own family (l2tp-forwarder), under its id as known for this forwarder; a refusal that
    /// may mean the id is stale has the id asked for again and the request sent once more. Other refusals are the
    /// NetlinkException they are.
    /// </summary>
    public List<NetlinkMessage> Request(byte cmd, Action<NetlinkWriter> attrs)
    {
        ushort family = Family(ForwarderGenl.FamilyName) ?? throw TooOld();
        try
        {
            return Client.Genl(family, cmd, ForwarderGenl.Version, 0, attrs);
        }
        catch (NetlinkException e) when (GenlBackend.IsFamilyLevel(e))
        {
            if (Family(ForwarderGenl.FamilyName, fresh: true) is not { } id || id == family)
                throw;
            _verbose?.Invoke($"Managed backend: the {ForwarderGenl.FamilyName} family is now id {id} (was {family}); sending again");
            return Client.Genl(id, cmd, ForwarderGenl.Version, 0, attrs);
        }
    }

    /// <summary>What a forwarder without its own family (a build before it) gets asked to do: be restarted.</summary>
    private L2tpException TooOld() =>
        new("L2tp.ForwarderTooOld", L2tpErrorKind.NotImplemented, Server.Pid,
            $"l2tp-forwarder {Server.Pid}{InNs(_netns)} predates the '{ForwarderGenl.FamilyName}' control family; stop it with kill -TERM {Server.Pid} and run a cmdlet to start the current one.");

    /// <summary>
    /// Whether the forwarder closed the connection with the request still unread: a send that found it closed (EPIPE), or
    /// a reset (ECONNRESET: a unix socket closed with data unread, or a connection never accepted, as when the forwarder
    /// closes its listener in its idle exit just as a cmdlet connects). Sending the request again cannot do it twice;
    /// a connection closed after the request was read ends in EOF instead.
    /// </summary>
    public static bool Unread(L2tpException e) => e.ErrorId == "L2tp.ForwarderConnectionLost" && (e.Errno == ECONNRESET || e.Errno == EPIPE);

    /// <summary>The forwarder's own refusal, with its reason (e.g. root only in a user namespace of one's own).</summary>
    public L2tpException Denied(NetlinkException e) =>
        new("L2tp.PermissionDenied", L2tpErrorKind.PermissionDenied, string.IsNullOrEmpty(_netns) ? null : _netns,
            e.ExtendedAck ?? e.Message, e) { Errno = e.Errno };

    /// <summary>
    /// The entries this forwarder set aside at its start and has not yet reported, marked reported by this call, as
    /// warnings for the user; none when the forwarder cannot say (an older build, or an unprivileged caller).
    /// </summary>
    public IReadOnlyList<string> TakeRejectWarnings()
    {
        // A forwarder sets entries aside only as it starts: once this process has taken them from it, there is nothing
        // left to ask for, and each later cmdlet call saves two requests.
        var key = Identity;
        if (key is { } known && Asked.ContainsKey(known))
            return Array.Empty<string>();
        try
        {
            if (Family(ForwarderGenl.FamilyName) is null)
                return Array.Empty<string>();
            var reply = Request(ForwarderGenl.CMD_INFO, w => w.Flag(ForwarderGenl.ATTR_NEW_REJECTS_ONLY)).Single().GenlAttributes;
            string path = (reply.String(ForwarderGenl.ATTR_STATE_PATH) ?? "state.json") + ".rejected";
            var warnings = ForwarderGenl.ReadRejected(reply)
                .Select(r => $"l2tp-forwarder set aside {r.What} of its state file, which it could not restore: {r.Reason}. The entry is kept in {path}.")
                .ToList();
            if (key is { } k)
                Asked[k] = true;
            return warnings;
        }
        catch (Exception e) when (e is NetlinkException or InvalidOperationException or InvalidDataException)
        {
            return Array.Empty<string>();
        }
    }

    /// <summary>Family ids by forwarder (pid and start time) and name, as that forwarder gave them.</summary>
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<((int Pid, long Start) Forwarder, string Name), ushort> Families = new();

    /// <summary>Forwarders (pid and start time: a pid alone may be reused) this process has taken the warnings of.</summary>
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<(int Pid, long Start), bool> Asked = new();

    /// <summary>The forwarder's identity over time, read once per link.</summary>
    private (int, long)? Identity => (_identity ??= new(StartKey(Server.Pid))).Value;
    private StrongBox<(int, long)?>? _identity;

    /// <summary>A process's identity over time: its pid and its start time (/proc/PID/stat field 22); null when unreadable.</summary>
    private static (int, long)? StartKey(int pid) =>
        ProcStat.FieldsAfterName(pid) is { Length: > 19 } fields && long.TryParse(fields[19], out long start) ? (pid, start) : null;

    public static string InNs(string netns) => string.IsNullOrEmpty(netns) ? "" : $" in network namespace '{netns}'";

    public void Dispose() => Client.Dispose();
}
