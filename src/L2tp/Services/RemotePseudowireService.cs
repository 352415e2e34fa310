using System.Collections;
using System.Collections.ObjectModel;
using System.Management.Automation;
using System.Management.Automation.Runspaces;
using System.Net;
using System.Net.Sockets;
using System.Reflection;
using System.Security.Cryptography;
using L2tp.Native;
using L2tp.Protocol;
using Cookie = L2tp.Protocol.Cookie;

namespace L2tp.Services;

/// <summary>What New-L2tpPseudowire asks for; null ids and ports are picked free at both ends.</summary>
internal sealed record PseudowireRequest
{
    public string Local { get; init; } = "";
    public string Remote { get; init; } = "";
    public Encapsulation Encapsulation { get; init; } = Encapsulation.Udp;
    public uint? TunnelId { get; init; }
    public uint? PeerTunnelId { get; init; }
    public uint? SessionId { get; init; }
    public uint? PeerSessionId { get; init; }
    public ushort? SourcePort { get; init; }
    public ushort? DestinationPort { get; init; }
    public bool NoCookie { get; init; }
    public L2SpecType L2SpecType { get; init; } = L2SpecType.Default;
    public SequencingMode Sequencing { get; init; } = SequencingMode.None;
    public string? Address { get; init; }
    public string? PeerAddress { get; init; }
    public string? Bridge { get; init; }
    public string? PeerBridge { get; init; }
}

/// <summary>Where the peer end is: an open PSSession, or what New-PSSession -HostName needs to open one.</summary>
internal sealed record PeerTarget(PSSession? Session, string? HostName, string? UserName, string? KeyFilePath, BackendKind Backend);

/// <summary>
/// Pseudowires made, checked and removed at both ends at once. Remoting is PowerShell's own (a PSSession over SSH), so
/// this one service works through PowerShell: each end is a runspace running the L2tp cmdlets (this runspace for this
/// end, the PSSession's for the peer), and what comes back is read by property name, as remoting deserializes objects.
/// It still returns model objects and throws <see cref="L2tpException"/>, as every service does.
/// </summary>
internal sealed class RemotePseudowireService
{
    /// <summary>UDP port tried first: L2TP's registered port (RFC 3931); the next free one above it otherwise.</summary>
    public const ushort FirstPort = 1701;
    /// <summary>Tunnel ids are picked from here up, session ids from <see cref="FirstSessionId"/> (ip-l2tp(8)'s example numbers).</summary>
    public const uint FirstTunnelId = 3000, FirstSessionId = 1000;

    private readonly string _netns;
    private readonly BackendKind _backend;
    private readonly Action<string> _verbose;

    public RemotePseudowireService(string netns, BackendKind backend, Action<string> verbose)
    {
        _netns = netns;
        _backend = backend;
        _verbose = verbose;
    }

    /// <summary>Creates tunnel and session at this end and at the peer; on any failure removes what it made at both.</summary>
    public L2tpPseudowire New(PeerTarget target, PseudowireRequest r, bool copyModule, string moduleBase)
    {
        var local = AddressParser(r.Local, "Local", allowAny: false);
        var remote = AddressParser(r.Remote, "Remote", allowAny: false);
        if (local.AddressFamily != remote.AddressFamily)
            throw new L2tpException("L2tp.AddressFamilyMismatch", L2tpErrorKind.InvalidArgument, r.Remote,
                $"-Local {r.Local} and -Remote {r.Remote} are of different address families.");
        if (r.Address is not null) InterfaceService.ParseCidr(r.Address, "Address");
        if (r.PeerAddress is not null) InterfaceService.ParseCidr(r.PeerAddress, "PeerAddress");

        using var peer = Connect(target, copyModule, moduleBase);
        var here = End.Here(_netns, _backend);

        var hereTunnels = here.Tunnels();
        var peerTunnels = peer.End.Tunnels();
        var hereSessions = here.Sessions(null, null).Select(s => s.SessionId).ToHashSet();
        var peerSessions = peer.End.Sessions(null, null).Select(s => s.SessionId).ToHashSet();
        var (tid, ptid) = PickIds(r.TunnelId, r.PeerTunnelId, hereTunnels.Select(t => t.TunnelId).ToHashSet(),
            peerTunnels.Select(t => t.TunnelId).ToHashSet(), FirstTunnelId);
        var (sid, psid) = PickIds(r.SessionId, r.PeerSessionId, hereSessions, peerSessions, FirstSessionId);
        ushort sport = 0, dport = 0;
        if (r.Encapsulation == Encapsulation.Udp)
            (sport, dport) = PickPorts(r.SourcePort, r.DestinationPort, local, remote, peer.End);
        string hereCookie = r.NoCookie ? "" : Cookie.Format(RandomNumberGenerator.GetBytes(8));
        string peerCookie = r.NoCookie ? "" : Cookie.Format(RandomNumberGenerator.GetBytes(8));

        // Both ends' requests are checked before either is made, so a bad value never leaves half a pseudowire.
        var hereTunnel = new TunnelSpec { TunnelId = tid, PeerTunnelId = ptid, Encapsulation = r.Encapsulation, Local = local, Remote = remote, SourcePort = sport, DestinationPort = dport };
        var peerTunnel = hereTunnel with { TunnelId = ptid, PeerTunnelId = tid, Local = remote, Remote = local, SourcePort = dport, DestinationPort = sport };
        var hereSession = new SessionSpec { TunnelId = tid, SessionId = sid, PeerSessionId = psid, Cookie = Cookie.Parse(hereCookie, "Cookie"), PeerCookie = Cookie.Parse(peerCookie, "PeerCookie"), L2SpecType = r.L2SpecType, Sequencing = r.Sequencing };
        var peerSession = hereSession with { TunnelId = ptid, SessionId = psid, PeerSessionId = sid, Cookie = hereSession.PeerCookie, PeerCookie = hereSession.Cookie };
        foreach (var spec in new object[] { hereTunnel, peerTunnel, hereSession, peerSession })
            if (spec is TunnelSpec t) t.Validate(); else ((SessionSpec)spec).Validate();

        bool hereMade = false, peerMade = false;
        try
        {
            _verbose($"Creating tunnel {tid}/session {sid} here{Refusals.InNs(_netns)}");
            here.MakeTunnel(hereTunnel);
            hereMade = true;
            var hs = here.MakeSession(hereSession, r.Address, r.Bridge);
            _verbose($"Creating tunnel {ptid}/session {psid} at {peer.End.ComputerName}");
            peer.End.MakeTunnel(peerTunnel);
            peerMade = true;
            var ps = peer.End.MakeSession(peerSession, r.PeerAddress, r.PeerBridge);
            return new L2tpPseudowire
            {
                TunnelId = tid, SessionId = sid, PeerTunnelId = ptid, PeerSessionId = psid,
                InterfaceName = hs.InterfaceName, PeerInterfaceName = ps.InterfaceName, PeerComputerName = peer.End.ComputerName,
                PeerSession = peer.Owned ? null : target.Session,
                Tunnel = here.Tunnels(tid).Single(), Session = here.Sessions(tid, sid).Single(),
                PeerTunnel = peer.End.Tunnels(ptid).Single(), PeerL2tpSession = peer.End.Sessions(ptid, psid).Single(),
                Backend = hs.Backend, NetworkNamespace = _netns,
            };
        }
        catch
        {
            // Undo both ends: only tunnels this call made (a given id that was taken is someone else's), with their sessions.
            if (peerMade) peer.End.TryRemoveTunnel(ptid, _verbose);
            if (hereMade) here.TryRemoveTunnel(tid, _verbose);
            throw;
        }
    }

    /// <summary>Removes the session at both ends, and each end's tunnel when it has no other session; nothing is left.</summary>
    public void Remove(PeerTarget target, uint tunnelId, uint sessionId, bool copyModule, string moduleBase)
    {
        var here = End.Here(_netns, _backend);
        var s = here.Sessions(tunnelId, sessionId).Single();
        using var peer = Connect(target, copyModule, moduleBase);
        if (peer.End.Sessions(null, null).Any(p => p.TunnelId == s.PeerTunnelId && p.SessionId == s.PeerSessionId))
            peer.End.RemoveSessionAndEmptyTunnel(s.PeerTunnelId, s.PeerSessionId);
        else
            _verbose($"{peer.End.ComputerName} has no session {s.PeerSessionId} in tunnel {s.PeerTunnelId}: nothing to remove there");
        here.RemoveSessionAndEmptyTunnel(tunnelId, sessionId);
    }

    /// <summary>Reads both ends, names every field that does not correspond, then sends a probe each way and reads the counters.</summary>
    public L2tpPseudowireTestResult Test(PeerTarget target, uint tunnelId, uint sessionId, bool copyModule, string moduleBase)
    {
        var here = End.Here(_netns, _backend);
        var lt = here.Tunnels(tunnelId).Single();
        var ls = here.Sessions(tunnelId, sessionId).Single();
        using var peer = Connect(target, copyModule, moduleBase);
        var result = new L2tpPseudowireTestResult { TunnelId = tunnelId, SessionId = sessionId, PeerComputerName = peer.End.ComputerName, Session = ls };
        L2tpPseudowireTestResult Missing(string field, object local, string message)
        {
            result.Verdict = L2tpPseudowireVerdict.Mismatch;
            result.Findings = new[] { new L2tpPseudowireFinding { Field = field, Local = local.ToString()!, Peer = "(none)", Message = message } };
            return result;
        }

        var peerTunnels = peer.End.Tunnels();
        // The peer tunnel this end sends to, else one that sends to this end (so that a wrong id is named, not just "missing").
        var pt = peerTunnels.FirstOrDefault(t => t.TunnelId == lt.PeerTunnelId) ?? peerTunnels.FirstOrDefault(t => t.PeerTunnelId == lt.TunnelId);
        if (pt is null)
            return Missing("PeerTunnelId", lt.PeerTunnelId, $"{peer.End.ComputerName} has no tunnel {lt.PeerTunnelId}, nor any tunnel that sends to tunnel {lt.TunnelId}.");
        var peerSessions = peer.End.Sessions(pt.TunnelId, null);
        var ps = peerSessions.FirstOrDefault(p => p.SessionId == ls.PeerSessionId)
            ?? peerSessions.FirstOrDefault(p => p.PeerSessionId == ls.SessionId)
            ?? (peerSessions.Count == 1 ? peerSessions[0] : null);
        if (ps is null)
            return Missing("PeerSessionId", ls.PeerSessionId, $"{peer.End.ComputerName}'s tunnel {pt.TunnelId} has no session {ls.PeerSessionId}, nor one that sends to session {ls.SessionId}.");
        result.PeerL2tpSession = ps;

        var findings = PseudowireCheck.Compare(lt, ls, pt, ps);
        if (findings.Count > 0)
        {
            result.Verdict = L2tpPseudowireVerdict.Mismatch;
            result.Findings = findings.ToArray();
            return result;
        }

        // A probe each way: an IPv6 all-nodes ping out of each end's session interface needs no address of ours (the
        // link-local one appears by itself once the interface is up); the counters tell whether frames crossed. A
        // second round covers an interface that came up less than a DAD period ago.
        for (int round = 0; ; round++)
        {
            var lb = ls.Statistics;
            var pb = ps.Statistics;
            here.Probe(ls.InterfaceName);
            peer.End.Probe(ps.InterfaceName);
            ls = here.Sessions(tunnelId, sessionId).Single();
            ps = peer.End.Sessions(ps.TunnelId, ps.SessionId).Single();
            findings = PseudowireCheck.Traffic(lb, ls.Statistics, pb, ps.Statistics);
            if (findings.Count == 0 || round == 1)
                break;
            Thread.Sleep(1000);
        }
        result.Session = ls;
        result.PeerL2tpSession = ps;
        result.Findings = findings.ToArray();
        result.Verdict = findings.Count == 0 ? L2tpPseudowireVerdict.Healthy : L2tpPseudowireVerdict.NoTraffic;
        return result;
    }

    private static IPAddress AddressParser(string text, string parameter, bool allowAny) => Commands.AddressParser.Parse(text, parameter, allowAny);

    /// <summary>Given ids as given; otherwise the lowest id from <paramref name="first"/> free at both ends, the same at each if it can be.</summary>
    internal static (uint Here, uint Peer) PickIds(uint? here, uint? peer, ISet<uint> usedHere, ISet<uint> usedPeer, uint first)
    {
        uint Free(Func<uint, bool> ok) { for (uint i = first; ; i++) if (ok(i)) return i; }
        uint h = here ?? (peer is { } p0 && !usedHere.Contains(p0) ? p0 : Free(i => !usedHere.Contains(i) && !usedPeer.Contains(i)));
        uint p = peer ?? (!usedPeer.Contains(h) ? h : Free(i => !usedPeer.Contains(i)));
        return (h, p);
    }

    /// <summary>Given ports as given; otherwise one free at both ends (the same number both ways), from 1701 up.</summary>
    private (ushort Source, ushort Destination) PickPorts(ushort? source, ushort? destination, IPAddress local, IPAddress remote, End peer)
    {
        if (source is { } s0 && destination is { } d0)
            return (s0, d0);
        var candidates = Enumerable.Range(FirstPort, 256).Select(i => (ushort)i).ToArray();
        var freePeer = destination is null ? peer.FreeUdpPorts(remote, candidates) : new HashSet<ushort>();
        var freeHere = source is null ? FreeUdpPortsHere(local, candidates) : new HashSet<ushort>();
        ushort First(IEnumerable<ushort> set, string where) => set.Cast<ushort?>().FirstOrDefault()
            ?? throw new L2tpException("L2tp.PortInUse", L2tpErrorKind.ResourceExists, $"{FirstPort}-{FirstPort + 255}",
                $"No UDP port from {FirstPort} to {FirstPort + 255} is free {where}: give -SourcePort and -DestinationPort.");
        if (source is { } s)
            return (s, freePeer.Contains(s) ? s : First(candidates.Where(freePeer.Contains), "at the peer"));
        if (destination is { } d)
            return (freeHere.Contains(d) ? d : First(candidates.Where(freeHere.Contains), "here"), d);
        ushort both = First(candidates.Where(p => freeHere.Contains(p) && freePeer.Contains(p)), "at both ends");
        return (both, both);
    }

    /// <summary>The candidate ports a UDP socket can bind on <paramref name="address"/> in this end's namespace right now.</summary>
    private HashSet<ushort> FreeUdpPortsHere(IPAddress address, IEnumerable<ushort> candidates)
    {
        var free = new HashSet<ushort>();
        using (NetNamespace.Enter(_netns))
            foreach (var port in candidates)
            {
                try
                {
                    using var s = new Socket(address.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
                    s.Bind(new IPEndPoint(address, port));
                    free.Add(port);
                }
                catch (SocketException e) when (e.SocketErrorCode == SocketError.AddressAlreadyInUse) { }
                catch (SocketException) { free.Add(port); } // address not here yet: New-L2tpTunnel names that problem
            }
        return free;
    }

    /// <summary>Opens (or takes) the peer's runspace and makes sure the L2tp module is loaded there.</summary>
    private Peer Connect(PeerTarget target, bool copyModule, string moduleBase)
    {
        PSSession session;
        bool owned = false;
        if (target.Session is { } given)
        {
            if (given.Runspace.RunspaceStateInfo.State != RunspaceState.Opened)
                throw new L2tpException("L2tp.PeerUnreachable", L2tpErrorKind.ConnectionError, given.ComputerName,
                    $"The PSSession to {given.ComputerName} is {given.Runspace.RunspaceStateInfo.State}, not Opened: open a new one with New-PSSession.");
            session = given;
        }
        else
        {
            var parameters = new Hashtable { ["HostName"] = target.HostName!, ["ErrorAction"] = "Stop" };
            if (!string.IsNullOrEmpty(target.UserName)) parameters["UserName"] = target.UserName;
            if (!string.IsNullOrEmpty(target.KeyFilePath)) parameters["KeyFilePath"] = target.KeyFilePath;
            _verbose($"Opening an SSH PSSession to {target.HostName}");
            try
            {
                session = End.RunHere("param($p) New-PSSession @p", parameters).Select(o => o.BaseObject).OfType<PSSession>().Single();
            }
            catch (Exception e) when (e is RuntimeException or InvalidOperationException)
            {
                throw new L2tpException("L2tp.PeerUnreachable", L2tpErrorKind.ConnectionError, target.HostName,
                    $"Cannot open an SSH PSSession to {target.HostName}: {e.Message}", e);
            }
            owned = true;
        }
        var peer = new Peer(new End(session.Runspace, "", target.Backend, session.ComputerName), session, owned);
        try
        {
            EnsureModule(peer, session, copyModule, moduleBase);
        }
        catch
        {
            peer.Dispose();
            throw;
        }
        return peer;
    }

    private void EnsureModule(Peer peer, PSSession session, bool copyModule, string moduleBase)
    {
        const string import = "if (Get-Module L2tp) { '' } else { try { Import-Module L2tp -ErrorAction Stop; '' } catch { $_.Exception.Message } }";
        string problem = peer.End.Run(import).Select(o => o.ToString()).FirstOrDefault() ?? "";
        if (problem.Length == 0)
            return;
        if (!copyModule)
            throw new L2tpException("L2tp.RemoteModuleMissing", L2tpErrorKind.ResourceUnavailable, session.ComputerName,
                $"The L2tp module cannot be imported on {session.ComputerName} ({problem}). Install it there, or give -CopyModule " +
                $"to copy this one ({moduleBase}) into a temporary folder there for the session.");
        string dir = peer.End.Run("$d = Join-Path ([IO.Path]::GetTempPath()) ('L2tp-module-' + [guid]::NewGuid().ToString('N').Substring(0, 8)); " +
                                  "New-Item -ItemType Directory -Path $d | Out-Null; $d").Single().ToString();
        _verbose($"Copying {moduleBase} to {session.ComputerName}:{dir}");
        try
        {
            End.RunHere("param($p, $d, $s) Copy-Item -LiteralPath $p -Destination $d -ToSession $s -Recurse -Force -ErrorAction Stop",
                moduleBase, dir, session);
            string psd1 = $"{dir}/{Path.GetFileName(moduleBase.TrimEnd('/'))}/L2tp.psd1";
            peer.End.Run("param($m) Import-Module $m -ErrorAction Stop", psd1);
        }
        catch (Exception e) when (e is RuntimeException or L2tpException)
        {
            throw new L2tpException("L2tp.RemoteModuleMissing", L2tpErrorKind.ResourceUnavailable, session.ComputerName,
                $"Copying the L2tp module to {session.ComputerName}:{dir} and importing it there failed: {e.Message}", e);
        }
    }

    /// <summary>The peer end and the PSSession it runs in; closes the session when this service opened it.</summary>
    private sealed record Peer(End End, PSSession Session, bool Owned) : IDisposable
    {
        public void Dispose()
        {
            if (Owned)
                try { End.RunHere("param($s) Remove-PSSession -Session $s", Session); } catch (RuntimeException) { }
        }
    }

    /// <summary>
    /// One end of a pseudowire: a runspace (null for the caller's own, used as a nested pipeline on the cmdlet's thread)
    /// and the -NetworkNamespace/-Backend its L2tp cmdlets are given.
    /// </summary>
    internal sealed class End
    {
        private readonly Runspace? _runspace;
        private readonly Hashtable _common = new();

        public string ComputerName { get; }

        public End(Runspace? runspace, string netns, BackendKind backend, string computerName)
        {
            _runspace = runspace;
            ComputerName = computerName;
            if (!string.IsNullOrEmpty(netns)) _common["NetworkNamespace"] = netns;
            if (backend != BackendKind.Auto) _common["Backend"] = backend.ToString();
        }

        public static End Here(string netns, BackendKind backend) => new(null, netns, backend, Environment.MachineName);

        private bool IsPeer => _runspace is not null;
        private Hashtable Common => (Hashtable)_common.Clone();

        /// <summary>Runs a script in this process's runspace (nested pipeline); errors throw as they are.</summary>
        public static Collection<PSObject> RunHere(string script, params object[] args)
        {
            using var ps = PowerShell.Create(RunspaceMode.CurrentRunspace);
            ps.AddScript(script, useLocalScope: true);
            foreach (var a in args) ps.AddArgument(a);
            var output = ps.Invoke();
            if (ps.Streams.Error.Count > 0)
                throw new RuntimeException(ps.Streams.Error[0].Exception.Message, ps.Streams.Error[0].Exception, ps.Streams.Error[0]);
            return output;
        }

        /// <summary>Runs a script at this end; its first error becomes an L2tpException carrying the L2tp.* id it had there.</summary>
        public Collection<PSObject> Run(string script, params object[] args)
        {
            using var ps = _runspace is null ? PowerShell.Create(RunspaceMode.CurrentRunspace) : PowerShell.Create();
            if (_runspace is not null) ps.Runspace = _runspace;
            ps.AddScript(script, useLocalScope: true);
            foreach (var a in args) ps.AddArgument(a);
            try
            {
                var output = ps.Invoke();
                if (ps.Streams.Error.Count > 0)
                    throw Translate(ps.Streams.Error[0]);
                return output;
            }
            catch (RuntimeException e) when (e.ErrorRecord is not null)
            {
                throw Translate(e.ErrorRecord);
            }
        }

        private L2tpException Translate(ErrorRecord r)
        {
            for (Exception? e = r.Exception; e is not null; e = e.InnerException)
                if (e is L2tpException le)
                    return le;
            string id = r.FullyQualifiedErrorId.Split(',')[0];
            if (!id.StartsWith("L2tp.", StringComparison.Ordinal))
                id = IsPeer ? "L2tp.PeerError" : "L2tp.InternalError";
            var kind = r.CategoryInfo.Category switch
            {
                ErrorCategory.InvalidArgument => L2tpErrorKind.InvalidArgument,
                ErrorCategory.ResourceExists => L2tpErrorKind.ResourceExists,
                ErrorCategory.ObjectNotFound => L2tpErrorKind.ObjectNotFound,
                ErrorCategory.PermissionDenied => L2tpErrorKind.PermissionDenied,
                ErrorCategory.ResourceUnavailable => L2tpErrorKind.ResourceUnavailable,
                ErrorCategory.NotImplemented => L2tpErrorKind.NotImplemented,
                ErrorCategory.InvalidOperation => L2tpErrorKind.InvalidOperation,
                _ => L2tpErrorKind.ConnectionError,
            };
            object? target = r.TargetObject is PSObject p ? p.BaseObject : r.TargetObject;
            string message = r.Exception?.Message ?? r.ToString();
            return new L2tpException(id, kind, target, IsPeer ? $"At the peer {ComputerName}: {message}" : message, r.Exception);
        }

        public List<L2tpTunnel> Tunnels(uint? tunnelId = null)
        {
            var c = Common;
            if (tunnelId is { } t) c["TunnelId"] = t;
            return Run("param($c) Get-L2tpTunnel @c -ErrorAction Stop", c).Select(Map<L2tpTunnel>).ToList();
        }

        /// <summary>Sessions with their counters (sent as objects of their own: remoting serializes one level deep).</summary>
        public List<L2tpSession> Sessions(uint? tunnelId, uint? sessionId)
        {
            var c = Common;
            if (tunnelId is { } t) c["TunnelId"] = t;
            if (sessionId is { } s) c["SessionId"] = s;
            var o = Run("param($c) foreach ($s in @(Get-L2tpSession @c -ErrorAction Stop)) { $s; $s.Statistics }", c);
            var list = new List<L2tpSession>();
            for (int i = 0; i + 1 < o.Count; i += 2)
            {
                var session = Map<L2tpSession>(o[i]);
                session.Statistics = Map<L2tpStatistics>(o[i + 1]);
                list.Add(session);
            }
            return list;
        }

        public void MakeTunnel(TunnelSpec t)
        {
            var tc = Common;
            tc["TunnelId"] = t.TunnelId; tc["PeerTunnelId"] = t.PeerTunnelId; tc["Encapsulation"] = t.Encapsulation.ToString();
            tc["Local"] = t.Local!.ToString(); tc["Remote"] = t.Remote!.ToString();
            if (t.Encapsulation == Encapsulation.Udp) { tc["SourcePort"] = t.SourcePort; tc["DestinationPort"] = t.DestinationPort; }
            Run("param($t) $null = New-L2tpTunnel @t -Confirm:$false -ErrorAction Stop", tc);
        }

        /// <summary>Session, interface up with MTU Auto, then the address or the bridge port; returns the session.</summary>
        public L2tpSession MakeSession(SessionSpec s, string? address, string? bridge)
        {
            var sc = Common;
            sc["TunnelId"] = s.TunnelId; sc["SessionId"] = s.SessionId; sc["PeerSessionId"] = s.PeerSessionId;
            sc["L2SpecType"] = s.L2SpecType.ToString(); sc["Sequencing"] = s.Sequencing.ToString();
            if (s.Cookie.Length > 0) sc["Cookie"] = Cookie.Format(s.Cookie);
            if (s.PeerCookie.Length > 0) sc["PeerCookie"] = Cookie.Format(s.PeerCookie);
            var ic = Common;
            ic["Up"] = true; ic["Mtu"] = "Auto";
            if (address is not null) ic["Address"] = address;
            var bc = new Hashtable();
            if (_common["NetworkNamespace"] is { } ns) bc["NetworkNamespace"] = ns;
            if (bridge is not null) bc["Bridge"] = bridge;
            var o = Run("""
                param($s, $i, $b)
                $x = New-L2tpSession @s -Confirm:$false -ErrorAction Stop
                $null = Set-L2tpInterface @i -InterfaceName $x.InterfaceName -Confirm:$false -ErrorAction Stop
                if ($b.Contains('Bridge')) { Add-L2tpBridgePort @b -InterfaceName $x.InterfaceName -Confirm:$false -ErrorAction Stop }
                $x
                """, sc, ic, bc);
            return Map<L2tpSession>(o.Last());
        }

        public void RemoveSessionAndEmptyTunnel(uint tunnelId, uint sessionId)
        {
            var c = Common;
            c["TunnelId"] = tunnelId;
            Run("""
                param($c, $sid)
                Remove-L2tpSession @c -SessionId $sid -Confirm:$false -ErrorAction Stop
                if (-not (Get-L2tpSession @c -ErrorAction Stop)) { Remove-L2tpTunnel @c -Confirm:$false -ErrorAction Stop }
                """, c, sessionId);
        }

        /// <summary>Removes a tunnel with its sessions, for a rollback: failures are reported, never thrown over the original error.</summary>
        public void TryRemoveTunnel(uint tunnelId, Action<string> verbose)
        {
            var c = Common;
            c["TunnelId"] = tunnelId;
            try { Run("param($c) Remove-L2tpTunnel @c -Force -Confirm:$false -ErrorAction Stop", c); }
            catch (L2tpException e) { verbose($"Rollback of tunnel {tunnelId} at {(IsPeer ? ComputerName : "this end")} failed: {e.Message}"); }
        }

        /// <summary>The candidate UDP ports a socket can bind on <paramref name="address"/> at this end now.</summary>
        public HashSet<ushort> FreeUdpPorts(IPAddress address, ushort[] candidates)
        {
            var o = Run("""
                param($a, $ports)
                $ip = [System.Net.IPAddress]::Parse($a)
                foreach ($p in $ports) {
                    $s = [System.Net.Sockets.Socket]::new($ip.AddressFamily, [System.Net.Sockets.SocketType]::Dgram, [System.Net.Sockets.ProtocolType]::Udp)
                    try { $s.Bind([System.Net.IPEndPoint]::new($ip, [int]$p)); [int]$p }
                    catch [System.Net.Sockets.SocketException] { if ($_.Exception.SocketErrorCode -ne 'AddressAlreadyInUse') { [int]$p } }
                    finally { $s.Dispose() }
                }
                """, address.ToString(), candidates.Select(p => (int)p).ToArray());
            return o.Select(x => Convert.ToUInt16(x.BaseObject, System.Globalization.CultureInfo.InvariantCulture)).ToHashSet();
        }

        /// <summary>Three IPv6 all-nodes pings out of <paramref name="interfaceName"/>: frames onto the pseudowire, and replies back.</summary>
        public void Probe(string interfaceName)
        {
            var ns = _common["NetworkNamespace"] as string ?? "";
            Run("""
                param($ns, $if)
                $a = @('-6', '-c', '3', '-i', '0.2', '-w', '1', '-I', $if, 'ff02::1')
                # No ping (iputils) at this end: nothing is sent, and the counters say so.
                if (-not (Get-Command ping -CommandType Application -ErrorAction Ignore)) { return }
                if ($ns) { $null = & ip netns exec $ns ping @a 2>&1 } else { $null = & ping @a 2>&1 }
                """, ns, interfaceName);
        }

        /// <summary>
        /// A model object from what an end returned: the object itself from this runspace; from a peer, a deserialized
        /// property bag, read by name (enums and addresses come back as their text).
        /// </summary>
        internal static T Map<T>(PSObject o) where T : class, new()
        {
            if (o.BaseObject is T same)
                return same;
            var x = new T();
            foreach (var prop in typeof(T).GetProperties(BindingFlags.Public | BindingFlags.Instance).Where(p => p.CanWrite))
            {
                object? v = o.Properties[prop.Name]?.Value;
                if (v is PSObject pv) v = pv.BaseObject;
                if (v is null || prop.PropertyType == typeof(L2tpStatistics))
                    continue;
                var type = Nullable.GetUnderlyingType(prop.PropertyType) ?? prop.PropertyType;
                try
                {
                    object? value = type == typeof(IPAddress) ? IPAddress.Parse(v.ToString()!)
                        : type.IsEnum ? Enum.Parse(type, v.ToString()!, ignoreCase: true)
                        : type == typeof(string) ? v.ToString()
                        : LanguagePrimitives.ConvertTo(v, type, System.Globalization.CultureInfo.InvariantCulture);
                    prop.SetValue(x, value);
                }
                catch (Exception e) when (e is FormatException or PSInvalidCastException or ArgumentException)
                {
                    // A field this version does not know how to read stays at its default.
                }
            }
            return x;
        }
    }
}
