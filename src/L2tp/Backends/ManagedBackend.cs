using L2tp.Control;
using System.Diagnostics;
using System.Runtime.InteropServices;
using L2tp.Native;
using L2tp.Netlink;
using static Tmds.Linux.LibC;

namespace L2tp.Backends;

/// <summary>The backend for kernels without L2TP: the same genl requests, sent to this namespace's l2tp-forwarder.</summary>
internal sealed class ManagedBackend : GenlBackend
{
    /// <summary>The connection the requests go over, and the forwarder's identity its family ids are known by.</summary>
    private ForwarderLink _link;

    private readonly string _netns;
    private readonly CancellationToken _cancel;

    private ManagedBackend(ForwarderLink link, ushort family, string netns, CancellationToken cancel) : base(link.Client, family, netns)
    {
        _link = link;
        _netns = netns;
        _cancel = cancel;
    }

    public override BackendKind Kind => BackendKind.Managed;

    /// <summary>The forwarder's diagnosis table of the tunnel (its own family's DIAGNOSE); a refusal is the NetlinkException it is.</summary>
    public override IReadOnlyList<Protocol.DiagnosisEntry>? Diagnose(uint tunnelId)
    {
        Verbose?.Invoke($"Managed backend: DIAGNOSE tunnel {tunnelId}");
        var reply = _link.Request(ForwarderGenl.CMD_DIAGNOSE, w => w.U32(ForwarderGenl.ATTR_TUNNEL_ID, tunnelId)).Single();
        return ForwarderGenl.ReadDiagnosis(reply.GenlAttributes);
    }

    /// <summary>The l2tp family's id asked of the forwarder again, after a request under the known one was refused.</summary>
    protected override ushort? ResolveAgain() => _link.Family(L2tpGenl.FamilyName, fresh: true);

    /// <summary>State entries the forwarder set aside at its start, reported once: to the first cmdlet that connects.</summary>
    public IReadOnlyList<string> Warnings { get; private init; } = Array.Empty<string>();

    /// <summary>
    /// Connects to the forwarder of the current thread's namespace. It is started when <paramref name="start"/> says so,
    /// or when a state file shows it had tunnels (it died and must re-attach them); otherwise null: nothing to manage.
    /// </summary>
    public static ManagedBackend? Connect(string netns, bool start, Action<string>? verbose = null, CancellationToken cancel = default)
    {
        if (Open(netns, start, verbose, cancel, warnings: true) is not var (link, family, warnings))
            return null;
        return new ManagedBackend(link, family, netns, cancel) { Verbose = verbose, Warnings = warnings };
    }

    /// <summary>
    /// A new connection (to a new forwarder, started if need be) after the forwarder closed the old one with a request
    /// unread: it was exiting as this backend connected. Its set-aside entries are left for the next cmdlet to report.
    /// </summary>
    protected override (NetlinkClient Client, ushort Family)? Reconnect()
    {
        // The backend's sockets keep its namespace; this thread may have left it since they were opened.
        ForwarderLink link;
        ushort family;
        using (NetNamespace.Enter(_netns))
            (link, family, _) = Open(_netns, start: true, Verbose, _cancel, warnings: false)!.Value;
        _link.Dispose();
        _link = link;
        return (link.Client, family);
    }

    /// <summary>
    /// A verified link, its l2tp family id and (with <paramref name="warnings"/>) the forwarder's set-aside entries not yet
    /// reported; null when no forwarder runs and none is needed.
    /// </summary>
    private static (ForwarderLink Link, ushort Family, IReadOnlyList<string> Warnings)? Open(string netns, bool start,
        Action<string>? verbose, CancellationToken cancel, bool warnings)
    {
        // A forwarder that just removed its last tunnel closes its socket as we connect: then start a fresh one.
        for (int attempt = 1; ; attempt++)
        {
            try
            {
                return OpenOnce(netns, start, verbose, cancel, warnings);
            }
            catch (L2tpException e) when (attempt < 3 && e.ErrorId == "L2tp.ForwarderConnectionLost")
            {
                Thread.Sleep(50);
            }
        }
    }

    private static (ForwarderLink Link, ushort Family, IReadOnlyList<string> Warnings)? OpenOnce(string netns, bool start,
        Action<string>? verbose, CancellationToken cancel, bool warnings)
    {
        var link = ForwarderLink.TryOpen(netns, verbose, cancel);
        if (link is null)
        {
            string key = NetNamespace.CurrentKey();
            if (!start && !File.Exists(ForwarderPaths.StateFile(key)))
            {
                verbose?.Invoke("Managed backend: no l2tp-forwarder runs in this namespace and none is needed to answer");
                return null;
            }
            link = ForwarderLink.Open(StartForwarder(key, netns, verbose, cancel), netns, verbose);
        }
        try
        {
            ushort family = link.Family(L2tpGenl.FamilyName)
                ?? throw new L2tpException("L2tp.ForwarderUnreachable", L2tpErrorKind.ConnectionError, ForwarderPaths.SocketName,
                    "l2tp-forwarder did not answer the l2tp family lookup.");
            return (link, family, warnings ? link.TakeRejectWarnings() : Array.Empty<string>());
        }
        catch
        {
            link.Dispose();
            throw;
        }
    }

    internal static L2tpException Denied(string netns, string reason) =>
        new("L2tp.PermissionDenied", L2tpErrorKind.PermissionDenied, string.IsNullOrEmpty(netns) ? null : netns,
            $"Managing L2TP tunnels needs root or CAP_NET_ADMIN in the user namespace that owns the network namespace (as `ip l2tp` does; here: {reason}). Run pwsh as root, e.g. `sudo pwsh`.");

    /// <summary>Starts l2tp-forwarder in the current thread's namespace (a child inherits it) and waits until it listens.</summary>
    private static UnixSeqPacketSocket StartForwarder(string key, string netns, Action<string>? verbose, CancellationToken cancel)
    {
        if (PeerAuthorization.Self() is { Privileged: false } self)
            throw Denied(netns, self.Reason);
        string dir = Path.GetDirectoryName(typeof(ManagedBackend).Assembly.Location)!;
        string exe = Path.Combine(dir, ForwarderPaths.Program);
        string dll = exe + ".dll";
        string? host = DotnetHost();
        var psi = new ProcessStartInfo { UseShellExecute = false };
        if (File.Exists(exe) && Executable(exe))
        {
            // Native (AOT-compiled, as build.ps1 makes it) it needs no .NET; a build without AOT leaves the apphost here,
            // which finds the runtime pwsh runs on through DOTNET_ROOT, as `dotnet exec` would.
            psi.FileName = exe;
            if (host is not null)
                psi.Environment["DOTNET_ROOT"] = Path.GetDirectoryName(host);
        }
        else if (File.Exists(dll) && host is not null)
        {
            psi.FileName = host;
            psi.ArgumentList.Add("exec");
            psi.ArgumentList.Add(dll);
        }
        else
        {
            throw new L2tpException("L2tp.ForwarderMissing", L2tpErrorKind.ResourceUnavailable, exe,
                $"l2tp-forwarder is not beside L2tp.dll in {dir}: the module is incomplete; rebuild it with ./build.ps1.");
        }
        psi.ArgumentList.Add(ForwarderPaths.DaemonFlag);
        using var process = Process.Start(psi)
            ?? throw new L2tpException("L2tp.ForwarderStartFailed", L2tpErrorKind.ResourceUnavailable, psi.FileName, "l2tp-forwarder did not start.");

        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < TimeSpan.FromSeconds(20))
        {
            cancel.ThrowIfCancellationRequested();
            var sock = UnixSeqPacketSocket.TryConnect(ForwarderPaths.SocketName, out _, cancel);
            if (sock is not null)
            {
                verbose?.Invoke($"Managed backend: started l2tp-forwarder ({psi.FileName} {string.Join(' ', psi.ArgumentList)}) for network namespace {key}; it listens after {deadline.ElapsedMilliseconds} ms");
                return sock;
            }
            if (process.HasExited && process.ExitCode != 0)
                break;
            // A native forwarder listens within a few ms of its start: look often at first, then every 20 ms.
            Thread.Sleep(deadline.ElapsedMilliseconds < 200 ? 2 : 20);
        }
        string log = "";
        try { log = string.Join(Environment.NewLine, File.ReadLines(ForwarderPaths.LogFile(key)).TakeLast(5)); } catch (IOException) { }
        throw new L2tpException("L2tp.ForwarderStartFailed", L2tpErrorKind.ResourceUnavailable, psi.FileName,
            $"l2tp-forwarder did not start listening{(process.HasExited ? $" (exit code {process.ExitCode})" : "")}. {log}");
    }

    /// <summary>
    /// Whether the forwarder's program may be run, giving it back its execute bits where they were lost and this process
    /// may: a package is a zip (Install-PSResource) and Copy-Item -ToSession copies no modes. Where it may not (another
    /// owner, a read-only or immutable file), the caller runs the dll instead.
    /// </summary>
    private static bool Executable(string exe)
    {
        if (Sys.IsExecutable(exe))
            return true;
        try
        {
            File.SetUnixFileMode(exe, File.GetUnixFileMode(exe) | UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
        return Sys.IsExecutable(exe);
    }

    /// <summary>The dotnet host of the runtime this process runs on, so the forwarder runs on the same .NET.</summary>
    private static string? DotnetHost()
    {
        if (Environment.ProcessPath is { } p && Path.GetFileName(p) == "dotnet")
            return p;
        // shared/Microsoft.NETCore.App/<version>/ is three levels below the dotnet root.
        var runtime = new DirectoryInfo(RuntimeEnvironment.GetRuntimeDirectory());
        string? root = runtime.Parent?.Parent?.Parent?.FullName;
        if (root is not null && File.Exists(Path.Combine(root, "dotnet")))
            return Path.Combine(root, "dotnet");
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':'))
            if (dir.Length > 0 && File.Exists(Path.Combine(dir, "dotnet")))
                return Path.Combine(dir, "dotnet");
        return null;
    }
}
