using System.Globalization;
using System.Text;
using L2tp.Configuration;
using L2tp.Native;
using L2tp.Netlink;
using L2tp.Protocol;

namespace L2tp.Services;

/// <summary>
/// Configuration as a file: reads the live state of namespaces into an <see cref="L2tpConfiguration"/> (Export), finds
/// how the system differs from a file (Compare), and applies a file's plan step by step (Sync) through the same
/// services the tunnel, session, interface and bridge cmdlets use.
/// </summary>
internal sealed class ConfigurationService : IDisposable
{
    private readonly Action<string>? _verbose;
    private readonly CancellationToken _cancel;
    private readonly Dictionary<string, Site> _sites = new();

    /// <summary>One namespace's services, opened once per invocation.</summary>
    private sealed class Site : IDisposable
    {
        public required PseudowireService Pseudowires { get; init; }
        public required RtNetlink Rt { get; init; }
        public required InterfaceService Interfaces { get; init; }
        /// <summary>Sessions pipelined runs made and nothing has read back yet.</summary>
        public List<SessionSpec> Unread { get; } = new();
        /// <summary>Sessions pipelined runs made, as read back (<see cref="PseudowireService.MadeKey"/>).</summary>
        private Dictionary<string, L2tpSession>? _made;

        /// <summary>
        /// A session a pipelined run made, for an interface step's Auto MTU: all made so far are read back with one
        /// dump at the first such step, not a GET each; and not at all when no step needs one (most files).
        /// </summary>
        public L2tpSession? Made(uint tunnelId, uint sessionId)
        {
            string key = PseudowireService.MadeKey(tunnelId, sessionId);
            if (Unread.Count > 0 && _made?.ContainsKey(key) != true)
            {
                var read = Pseudowires.ReadBack(Unread);
                Unread.Clear();
                if (_made is null)
                    _made = read;
                else
                    foreach (var pair in read)
                        _made[pair.Key] = pair.Value;
            }
            return _made is not null && _made.TryGetValue(key, out var s) ? s : null;
        }

        public void Dispose()
        {
            Pseudowires.Dispose();
            Rt.Dispose();
        }
    }

    public ConfigurationService(Action<string>? verbose, CancellationToken cancel)
    {
        _verbose = verbose;
        _cancel = cancel;
    }

    private Site Open(string netns, BackendKind? backend)
    {
        string key = $"{netns}\n{backend}";
        if (!_sites.TryGetValue(key, out var site))
        {
            RtNetlink rt;
            using (NetNamespace.Enter(netns))
                rt = new RtNetlink();
            _sites[key] = site = new Site
            {
                Pseudowires = new PseudowireService(backend ?? BackendKind.Auto, netns, _verbose, _cancel),
                Rt = rt,
                Interfaces = new InterfaceService(rt, netns),
            };
        }
        return site;
    }

    /// <summary>Warnings the backends have for the user (state entries a forwarder set aside), once.</summary>
    public IEnumerable<string> TakeWarnings()
    {
        var warnings = _exportWarnings.Concat(_sites.Values.SelectMany(s => s.Pseudowires.TakeWarnings())).ToList();
        _exportWarnings.Clear();
        return warnings;
    }

    private readonly List<string> _exportWarnings = new();

    /// <summary>The schema shipped next to the module manifest, as a file URI an editor can open.</summary>
    public static string SchemaUri
    {
        get
        {
            // L2tp.dll lives in <module>/bin; the schema in <module>.
            string bin = Path.GetDirectoryName(typeof(ConfigurationService).Assembly.Location) ?? ".";
            string module = Path.GetFileName(bin) == "bin" ? Path.GetDirectoryName(bin)! : bin;
            return new Uri(Path.Combine(module, L2tpConfiguration.SchemaFileName)).AbsoluteUri;
        }
    }

    /// <summary>The live state of one namespace, as a configuration section.</summary>
    private L2tpNamespaceConfiguration Live(string netns, BackendKind? backend)
    {
        var site = Open(netns, backend);
        var tunnels = site.Pseudowires.GetTunnels(null);
        var sessions = site.Pseudowires.GetSessions(null, null);
        var interfaces = site.Interfaces.AllInterfaces();
        return LiveState.Build(netns, tunnels, sessions, name => interfaces.GetValueOrDefault(name), site.Interfaces.GetBridges(null));
    }

    /// <summary>Export: the tunnels, sessions, their interfaces and the bridges of <paramref name="namespaces"/>.</summary>
    public L2tpConfiguration Export(IEnumerable<string> namespaces)
    {
        var config = new L2tpConfiguration { Schema = SchemaUri };
        foreach (string ns in namespaces.Distinct())
        {
            var live = Live(ns, null);
            config.Namespaces.Add(live);
            // The kernel's replies carry no sublayer: the file says Default, which a session made with None is not.
            var unknown = live.Tunnels.SelectMany(t => t.Sessions.Where(s => s.L2SpecTypeUnknown).Select(s => $"{s.SessionId} (tunnel {t.TunnelId})")).ToList();
            if (unknown.Count > 0)
                _exportWarnings.Add($"The Kernel backend does not report a session's L2-specific sublayer: l2SpecType is written as Default for session(s) " +
                    $"{string.Join(", ", unknown)}{Refusals.InNs(ns)}. Change it to None in the file for a session made with -L2SpecType None.");
        }
        return config;
    }

    /// <summary>ConvertFrom-IpL2tp: an ip l2tp script or `ip -j l2tp show` output as a configuration, checked as Sync would check the file.</summary>
    public static (L2tpConfiguration Configuration, IReadOnlyList<string> Warnings) FromIpL2tp(string text, string netns)
    {
        var r = IpL2tpImport.Read(text, netns);
        r.Configuration.Schema = SchemaUri;
        // What the import let through must still be a file Sync takes (e.g. a cookie of a session, a local address).
        var errors = r.Configuration.Validate();
        if (errors.Count > 0)
            throw L2tpConfiguration.Invalid(errors, "The ip l2tp input");
        return (r.Configuration, r.Warnings);
    }

    /// <summary>ConvertTo-L2tpPeerConfiguration for live sessions: their tunnels and sessions as they are now, mirrored.</summary>
    public (IReadOnlyList<string> Output, IReadOnlyList<string> Warnings) PeerConfiguration(IReadOnlyList<L2tpSession> sessions, L2tpPeerFormat format,
        string? peerLocal, string? peerRemote, string peerNamespace)
    {
        var here = new L2tpConfiguration();
        foreach (var group in sessions.GroupBy(s => (s.NetworkNamespace ?? "", s.Backend)))
        {
            var wanted = group.Select(s => (s.TunnelId, s.SessionId)).ToHashSet();
            var live = Live(group.Key.Item1, group.Key.Backend is BackendKind.Auto ? null : group.Key.Backend);
            foreach (var t in live.Tunnels)
                t.Sessions.RemoveAll(s => !wanted.Contains((t.TunnelId, s.SessionId)));
            live.Tunnels.RemoveAll(t => t.Sessions.Count == 0);
            here.Namespaces.Add(live);
        }
        string source = string.Join(", ", sessions.Select(s => $"session {s.SessionId} in tunnel {s.TunnelId}" + (string.IsNullOrEmpty(s.NetworkNamespace) ? "" : $" ({s.NetworkNamespace})")));
        return PeerConfiguration(here, format, peerLocal, peerRemote, peerNamespace, source);
    }

    /// <summary>
    /// ConvertTo-L2tpPeerConfiguration for a file of this end (or live state read into one): every tunnel mirrored.
    /// One text (the file, the script), or for Qemu one -netdev value per session.
    /// </summary>
    public (IReadOnlyList<string> Output, IReadOnlyList<string> Warnings) PeerConfiguration(L2tpConfiguration here, L2tpPeerFormat format,
        string? peerLocal, string? peerRemote, string peerNamespace, string source)
    {
        var peer = L2tp.Configuration.PeerConfiguration.Mirror(here, peerLocal, peerRemote, peerNamespace);
        switch (format)
        {
            case L2tpPeerFormat.IpRoute2:
                return (new[] { L2tp.Configuration.PeerConfiguration.ToIpRoute2(peer, source) }, Array.Empty<string>());
            case L2tpPeerFormat.Qemu:
                return L2tp.Configuration.PeerConfiguration.ToQemu(peer);
            default:
                peer.Schema = SchemaUri;
                return (new[] { peer.ToJson() }, Array.Empty<string>());
        }
    }

    /// <summary>Compare: every difference between the file and the namespaces it names.</summary>
    public IReadOnlyList<L2tpConfigurationDrift> Compare(L2tpConfiguration config) =>
        config.Namespaces.SelectMany(ns => Planner.Compare(ns, Live(ns.Name, ns.Backend))).ToList();

    /// <summary>The plan for every namespace of the file, computed before anything changes.</summary>
    public IReadOnlyList<L2tpConfigurationStep> Plan(L2tpConfiguration config, bool prune) =>
        config.Namespaces.SelectMany(ns => Planner.Plan(ns, Live(ns.Name, ns.Backend), prune)).ToList();

    /// <summary>
    /// Sync: plans every namespace first (nothing changes when a namespace cannot be read), then applies the steps in
    /// order. <paramref name="shouldProcess"/> is asked per step; a declined step's dependants are skipped.
    /// <paramref name="applied"/> hears of each step once done. A failing step stops the run with
    /// L2tp.ConfigurationStepFailed naming what was and was not applied.
    /// </summary>
    public void Sync(L2tpConfiguration config, bool prune, Func<L2tpConfigurationStep, bool> shouldProcess, Action<L2tpConfigurationStep> applied)
    {
        // Namespace sections by name (a loop: ToDictionary with BackendKind? values is runtime code JIT-compiled per process).
        var sections = new Dictionary<string, L2tpNamespaceConfiguration>();
        foreach (var n in config.Namespaces)
            sections.Add(n.Name, n);
        var steps = Plan(config, prune);
        var declined = new HashSet<string>();
        var done = new List<L2tpConfigurationStep>();
        for (int i = 0; i < steps.Count; i++)
        {
            var step = steps[i];
            _cancel.ThrowIfCancellationRequested();
            if (IsSessionCreate(step) && Open(step.NetworkNamespace, sections[step.NetworkNamespace].Backend) is { Pseudowires.PipelinesSessions: true } site)
            {
                i = SyncSessions(steps, i, site, shouldProcess, applied, declined, done) - 1;
                continue;
            }
            string scoped(string key) => $"{step.NetworkNamespace}\n{key}";
            // Asked first, so -WhatIf shows every step of the plan, also those after a step it did not apply.
            if (!shouldProcess(step))
            {
                declined.Add(scoped(step.Key));
                continue;
            }
            if (step.DependsOn.Any(d => declined.Contains(scoped(d))))
            {
                _verbose?.Invoke($"Skipped (it needs a step that was declined): {step}");
                declined.Add(scoped(step.Key));
                continue;
            }
            try
            {
                Apply(step, Open(step.NetworkNamespace, sections[step.NetworkNamespace].Backend));
            }
            catch (Exception e) when (e is L2tpException or NetlinkException or ErrnoException)
            {
                throw StepFailed(steps, done, i, e);
            }
            done.Add(step);
            applied(step);
        }
    }

    private static bool IsSessionCreate(L2tpConfigurationStep step) =>
        step.Kind == L2tpConfigurationObject.Session && step.Action == L2tpConfigurationAction.Create;

    /// <summary>
    /// The run of consecutive session-create steps of one namespace from <paramref name="start"/>, on a backend that
    /// pipelines (the kernel): each asked for and checked against declined steps in order as the loop in Sync does,
    /// then those to apply sent together (<see cref="PseudowireService.NewSessions"/>). Steps are reported applied in
    /// order up to a refusal, which fails the run as a refused step fails it in Sync (the sessions the window made
    /// past it are removed again). Returns the index after the run.
    /// </summary>
    private int SyncSessions(IReadOnlyList<L2tpConfigurationStep> steps, int start, Site site, Func<L2tpConfigurationStep, bool> shouldProcess,
        Action<L2tpConfigurationStep> applied, HashSet<string> declined, List<L2tpConfigurationStep> done)
    {
        string ns = steps[start].NetworkNamespace;
        var run = new List<int>();
        int end = start;
        for (; end < steps.Count && IsSessionCreate(steps[end]) && steps[end].NetworkNamespace == ns; end++)
        {
            var step = steps[end];
            _cancel.ThrowIfCancellationRequested();
            if (!shouldProcess(step))
            {
                declined.Add($"{ns}\n{step.Key}");
                continue;
            }
            if (step.DependsOn.Any(d => declined.Contains($"{ns}\n{d}")))
            {
                _verbose?.Invoke($"Skipped (it needs a step that was declined): {step}");
                declined.Add($"{ns}\n{step.Key}");
                continue;
            }
            run.Add(end);
        }
        var specs = new List<SessionSpec>(run.Count);
        foreach (int j in run)
            specs.Add(ConfigValues.Spec(steps[j].TunnelId, steps[j].Session!));
        (int Index, L2tpException Error)? refusal;
        int made;
        try
        {
            made = site.Pseudowires.NewSessions(specs, out refusal);
        }
        catch (Exception e) when (e is L2tpException or NetlinkException or ErrnoException)
        {
            throw StepFailed(steps, done, run.Count > 0 ? run[0] : start, e);
        }
        for (int k = 0; k < made; k++)
            site.Unread.Add(specs[k]);
        for (int k = 0; k < made; k++)
        {
            done.Add(steps[run[k]]);
            applied(steps[run[k]]);
        }
        if (refusal is { } r)
            throw StepFailed(steps, done, run[r.Index], r.Error);
        _cancel.ThrowIfCancellationRequested();
        return end;
    }

    private static L2tpException StepFailed(IReadOnlyList<L2tpConfigurationStep> steps, List<L2tpConfigurationStep> done, int failed, Exception e)
    {
        var l2tp = e as L2tpException;
        string reason = l2tp is null ? e.Message : l2tp.Template is null ? l2tp.Message : l2tp.Word(f => f);
        var text = new StringBuilder($"Step {failed + 1} of {steps.Count} failed: {steps[failed]}: {reason}");
        text.Append(done.Count == 0 ? "\nApplied: none." : "\nApplied:");
        foreach (var s in done)
            text.Append("\n  ").Append(s);
        text.Append("\nNot applied:");
        for (int i = failed; i < steps.Count; i++)
            if (!done.Contains(steps[i]))
                text.Append("\n  ").Append(steps[i]);
        text.Append("\nNothing applied was undone: fix the cause and run Sync-L2tpConfiguration again; it plans from the system as it is now.");
        return new L2tpException("L2tp.ConfigurationStepFailed", l2tp?.Kind ?? L2tpErrorKind.ConnectionError, steps[failed], text.ToString(), e)
            { Errno = l2tp?.Errno ?? (e as NetlinkException)?.Errno ?? 0 };
    }

    private static void Apply(L2tpConfigurationStep step, Site site)
    {
        var pw = site.Pseudowires;
        switch (step.Kind, step.Action)
        {
            case (L2tpConfigurationObject.Tunnel, L2tpConfigurationAction.Remove):
                pw.RemoveTunnel(step.TunnelId, pw.SessionsToRemoveWith(step.TunnelId, force: true));
                break;
            case (L2tpConfigurationObject.Tunnel, L2tpConfigurationAction.Replace):
                pw.RemoveTunnel(step.TunnelId, pw.SessionsToRemoveWith(step.TunnelId, force: true));
                pw.NewTunnel(ConfigValues.Spec(step.Tunnel!), checksumAsked: step.Tunnel!.UdpChecksum is not null);
                break;
            case (L2tpConfigurationObject.Tunnel, L2tpConfigurationAction.Create):
                pw.NewTunnel(ConfigValues.Spec(step.Tunnel!), checksumAsked: step.Tunnel!.UdpChecksum is not null);
                break;
            case (L2tpConfigurationObject.Session, L2tpConfigurationAction.Remove):
                pw.RemoveSession(step.TunnelId, step.SessionId);
                break;
            case (L2tpConfigurationObject.Session, L2tpConfigurationAction.Replace):
                pw.RemoveSession(step.TunnelId, step.SessionId);
                pw.NewSession(ConfigValues.Spec(step.TunnelId, step.Session!));
                break;
            case (L2tpConfigurationObject.Session, L2tpConfigurationAction.Create):
                pw.NewSession(ConfigValues.Spec(step.TunnelId, step.Session!));
                break;
            case (L2tpConfigurationObject.Interface, L2tpConfigurationAction.Update):
                int? mtu = step.Mtu is null ? null
                    : step.Mtu.Equals("Auto", StringComparison.OrdinalIgnoreCase)
                        ? (site.Made(step.TunnelId, step.SessionId) ?? pw.GetSessions(step.TunnelId, step.SessionId)[0]).SuggestedMtu
                        : int.Parse(step.Mtu, CultureInfo.InvariantCulture);
                site.Interfaces.ApplyState(step.Name, step.Up, mtu, step.MacAddress,
                    step.AddAddresses.Select(a => (a.Address, a.Peer)), step.RemoveAddresses.Select(a => (a.Address, a.Peer)));
                break;
            case (L2tpConfigurationObject.Bridge, L2tpConfigurationAction.Create):
                site.Interfaces.NewBridge(step.Name, step.Up ?? true);
                break;
            case (L2tpConfigurationObject.Bridge, L2tpConfigurationAction.Update):
                site.Interfaces.RequireBridge(step.Name);
                site.Interfaces.SetUp(step.Name, step.Up ?? true);
                break;
            case (L2tpConfigurationObject.Bridge, L2tpConfigurationAction.Remove):
                site.Interfaces.RemoveBridge(site.Interfaces.RequireBridge(step.Name));
                break;
            case (L2tpConfigurationObject.BridgePort, L2tpConfigurationAction.Create):
                var (bridge, port) = site.Interfaces.PlanAddPort(step.Bridge, step.Name);
                site.Interfaces.SetMaster(port, bridge);
                break;
            case (L2tpConfigurationObject.BridgePort, L2tpConfigurationAction.Remove):
                site.Interfaces.SetMaster(site.Interfaces.RequirePort(step.Name), null);
                break;
            case (L2tpConfigurationObject.Session, L2tpConfigurationAction.Update):
                pw.SetSession(step.TunnelId, step.SessionId, step.Session!.Sequencing,
                    TimeSpan.FromMilliseconds(step.Session.ReorderTimeout ?? 0));
                break;
            default:
                throw new L2tpException("L2tp.NotSupported", L2tpErrorKind.NotImplemented, step.Target,
                    $"{step.Action} of a {step.Kind} is not supported yet.");
        }
    }

    /// <summary>Name of the boot unit that applies a configuration file.</summary>
    public const string UnitName = "l2tp-configuration.service";

    /// <summary>
    /// The boot unit's text for <paramref name="configPath"/>, from the template shipped in the module's systemd
    /// folder: <paramref name="pwsh"/> is the command that runs PowerShell (an absolute program and its arguments).
    /// </summary>
    public static string UnitText(IReadOnlyList<string> pwsh, string configPath)
    {
        string module = Path.GetDirectoryName(new Uri(SchemaUri).LocalPath)!;
        string template = Path.Combine(module, "systemd", UnitName);
        if (!File.Exists(template))
            throw new L2tpException("L2tp.UnitTemplateNotFound", L2tpErrorKind.ResourceUnavailable, template,
                $"The unit template {template} is missing from the module folder: reinstall the module.");
        // The program words stand unquoted in ExecStart; the module folder and the file sit in single quotes inside
        // the double-quoted -Command: none may carry a quote, a backslash or what systemd expands (% and $).
        char[] bad = { '\'', '"', '\\', '%', '$', '\n' };
        foreach (string word in pwsh.Concat(new[] { module, configPath }))
            if (word.Length == 0 || word.IndexOfAny(bad) >= 0 || (pwsh.Contains(word) && word.Contains(' ')))
                throw new L2tpException("L2tp.InvalidPath", L2tpErrorKind.InvalidArgument, word,
                    $"'{word}' cannot go into a systemd ExecStart line: give a path without quotes, backslashes, '%' or '$'.");
        if (!Path.IsPathRooted(configPath))
            throw new L2tpException("L2tp.InvalidPath", L2tpErrorKind.InvalidArgument, configPath, $"'{configPath}' must be an absolute path.");
        return File.ReadAllText(template)
            .Replace("@PWSH@", string.Join(" ", pwsh))
            .Replace("@MODULEDIR@", module)
            .Replace("@CONFIG@", configPath);
    }

    /// <summary>
    /// Writes the boot unit into <paramref name="unitDirectory"/> and, where systemd runs, reloads and enables it;
    /// returns the unit's path and what could not be done (a warning for the user).
    /// </summary>
    public static (string UnitPath, string? Warning) InstallUnit(string text, string unitDirectory, bool enable)
    {
        string path = Path.Combine(unitDirectory, UnitName);
        try
        {
            Directory.CreateDirectory(unitDirectory);
            File.WriteAllText(path + ".tmp", text);
            File.Move(path + ".tmp", path, overwrite: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new L2tpException("L2tp.UnitWriteFailed", L2tpErrorKind.PermissionDenied, path, $"Cannot write the unit {path}: {e.Message}", e);
        }
        if (!enable)
            return (path, null);
        // sd_booted(): systemd is PID 1 exactly when /run/systemd/system exists.
        if (!Directory.Exists("/run/systemd/system"))
            return (path, $"Wrote {path}, but systemd is not running here (not PID 1): enable it where systemd runs with " +
                $"`systemctl daemon-reload && systemctl enable {UnitName}`.");
        foreach (var args in new[] { new[] { "daemon-reload" }, new[] { "enable", UnitName } })
        {
            var (code, output) = Run("systemctl", args);
            if (code != 0)
                throw new L2tpException("L2tp.SystemctlFailed", L2tpErrorKind.InvalidOperation, UnitName,
                    $"systemctl {string.Join(" ", args)} failed (exit {code}): {output.Trim()}");
        }
        return (path, null);
    }

    private static (int Code, string Output) Run(string program, string[] args)
    {
        var psi = new System.Diagnostics.ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args)
            psi.ArgumentList.Add(a);
        using var p = System.Diagnostics.Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        string stderr = p.StandardError.ReadToEnd();
        p.WaitForExit();
        return (p.ExitCode, stdout.Result + stderr);
    }

    public void Dispose()
    {
        foreach (var s in _sites.Values)
            s.Dispose();
        _sites.Clear();
    }
}
