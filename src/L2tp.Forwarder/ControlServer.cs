using L2tp.Control;
using System.Buffers.Binary;
using L2tp.Native;
using L2tp.Netlink;
using L2tp.Protocol;
using Tmds.Linux;
using static Tmds.Linux.LibC;

namespace L2tp.Forwarder;

/// <summary>
/// The forwarder's control socket: generic-netlink messages of the kernel's `l2tp` family (and the nlctrl family
/// lookup) over an abstract SOCK_SEQPACKET unix socket, answered as the kernel answers them.
/// </summary>
internal sealed unsafe class ControlServer : IDisposable
{
    /// <summary>The family id this forwarder answers to; any id above GENL_ID_CTRL would do, clients look it up.</summary>
    public const ushort FamilyId = 0x20;
    private const int MaxReplyChunk = 32 * 1024;

    /// <summary>Connections at once, and per non-root uid: a local user cannot exhaust fds or the poll set.</summary>
    internal const int MaxClients = 256, MaxClientsPerUid = 8;
    /// <summary>The largest request accepted; a genl request is a few hundred bytes.</summary>
    internal const int MaxRequest = 64 * 1024;
    /// <summary>Replies queued for a client that does not read them, beyond which it is dropped.</summary>
    internal const int MaxQueuedReply = 16 * 1024 * 1024;
    /// <summary>How long an unprivileged client may stay connected (time to send a request and read its refusal).</summary>
    internal static readonly TimeSpan UnprivilegedGrace = TimeSpan.FromSeconds(2);
    /// <summary>How long a reply may wait for a client that stopped reading before the client is dropped.</summary>
    internal static readonly TimeSpan StalledReply = TimeSpan.FromSeconds(30);
    /// <summary>
    /// How long the control socket stays quiet before the state journal is folded into a snapshot: after a burst of
    /// requests, not in the middle of one.
    /// </summary>
    internal static readonly TimeSpan QuietBeforeSnapshot = TimeSpan.FromMilliseconds(200);

    private sealed class Client
    {
        public required int Fd { get; init; }
        public required PeerIdentity Peer { get; init; }
        public DateTime Connected { get; } = DateTime.UtcNow;
        /// <summary>Chunks of whole reply messages not yet sent; while any wait, no request is read (backpressure).</summary>
        public Queue<byte[]> Out { get; } = new();
        public long OutBytes { get; set; }
        public DateTime OutSince { get; set; }
        /// <summary>Close once the queued replies are sent (an unprivileged client after its refusal).</summary>
        public bool CloseAfterReply { get; set; }
    }

    private readonly int _listen;
    private readonly Forwarder _fwd;
    private readonly List<Client> _clients = new();
    private readonly byte[] _rx = new byte[MaxRequest];
    private readonly NetlinkWriter _w = new();
    private readonly int _wake = Sys.Check(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK), "eventfd");
    private volatile bool _stop;

    /// <summary>Serves <paramref name="listenFd"/> (a listening unix socket, made non-blocking here) for <paramref name="forwarder"/>.</summary>
    public ControlServer(int listenFd, Forwarder forwarder)
    {
        _listen = listenFd;
        _fwd = forwarder;
        Sys.SetNonBlocking(_listen);
    }

    /// <summary>Ends <see cref="Run"/> from any thread (SIGTERM's handler, the STOP command): the wake fd breaks its poll.</summary>
    public void Stop()
    {
        _stop = true;
        ulong one = 1;
        write(_wake, &one, 8);
    }

    /// <summary>How long a used forwarder with no tunnel and no client waits before it exits.</summary>
    private static readonly TimeSpan ExitLinger = TimeSpan.FromSeconds(1);

    /// <summary>Whether a connection waits in the listen backlog (a poll that does not wait).</summary>
    private bool ConnectionPending()
    {
        var p = new pollfd { fd = _listen, events = (short)POLLIN };
        return poll(&p, 1, 0) > 0 && (p.revents & POLLIN) != 0;
    }

    /// <summary>Poll slots before the clients': the listener, the forwarder's events, the wake fd.</summary>
    private const int Fixed = 3;

    /// <summary>
    /// How long poll may sleep: until the next deadline (an unprivileged client's grace, a stalled reply, the idle exit
    /// of a forwarder nobody used, the snapshot after a burst of changes), else for ever. An idle forwarder wakes for nothing.
    /// </summary>
    private int Timeout(DateTime now, DateTime started, TimeSpan idle, bool waitingForFirst, DateTime? lingerUntil)
    {
        DateTime? next = waitingForFirst && idle != System.Threading.Timeout.InfiniteTimeSpan ? started + idle : lingerUntil;
        if (_fwd.SnapshotStale && (next is null || _fwd.LastChange + QuietBeforeSnapshot < next))
            next = _fwd.LastChange + QuietBeforeSnapshot;
        foreach (var c in _clients)
        {
            if (!c.Peer.Privileged && (next is null || c.Connected + UnprivilegedGrace < next))
                next = c.Connected + UnprivilegedGrace;
            if (c.Out.Count > 0 && (next is null || c.OutSince + StalledReply < next))
                next = c.OutSince + StalledReply;
        }
        return next is { } t ? (int)Math.Clamp(Math.Ceiling((t - now).TotalMilliseconds) + 1, 0, int.MaxValue) : -1;
    }

    /// <summary>Connections currently held (for tests and the forwarder's own report).</summary>
    internal int ClientCount => _clients.Count;

    /// <summary>
    /// Serves until stopped, or until no tunnel and no client is left (after <paramref name="idle"/> with none at start).
    /// One thread, non-blocking sockets, every client polled: no client can hold the loop beyond one request.
    /// </summary>
    public void Run(TimeSpan idle)
    {
        var started = DateTime.UtcNow;
        bool servedAny = false;
        DateTime? emptySince = null;
        var fds = new pollfd[Fixed + MaxClients];
        var polled = new Client?[fds.Length];
        while (!_stop)
        {
            var now = DateTime.UtcNow;
            ExpireClients(now);
            if (_fwd.SnapshotStale && now - _fwd.LastChange >= QuietBeforeSnapshot)
                _fwd.CompactIfStale();
            bool empty = _fwd.TunnelCount == 0 && _clients.Count == 0;
            emptySince = empty ? emptySince ?? now : null;
            // Once used, a forwarder left with nothing lingers a moment before it exits, and a client already connecting
            // (in the listen backlog, not yet accepted) is served first: a cmdlet that connects as the last tunnel goes
            // (Remove-L2tpTunnel, then Get-L2tpTunnel) must not have its connection reset under its first request.
            bool done = servedAny ? now - emptySince >= ExitLinger : now - started > idle;
            if (idle != System.Threading.Timeout.InfiniteTimeSpan && empty && done && !ConnectionPending())
            {
                Log.Info("no tunnel and no client left: exiting");
                return;
            }
            int n = 0;
            fds[n] = new pollfd { fd = _listen, events = (short)POLLIN };
            polled[n++] = null;
            fds[n] = new pollfd { fd = _fwd.EventFd, events = (short)POLLIN };
            polled[n++] = null;
            fds[n] = new pollfd { fd = _wake, events = (short)POLLIN };
            polled[n++] = null;
            foreach (var c in _clients)
            {
                fds[n] = new pollfd { fd = c.Fd, events = (short)(c.Out.Count > 0 ? POLLOUT : POLLIN) };
                polled[n++] = c;
            }
            int ready;
            fixed (pollfd* p = fds)
                ready = poll(p, (ulong_t)(ulong)n, Timeout(now, started, idle, empty && !servedAny,
                    empty && servedAny && idle != System.Threading.Timeout.InfiniteTimeSpan ? emptySince + ExitLinger : null));
            if (ready <= 0)
                continue;
            // Before any request: a link deleted before a request was sent is gone for that request.
            if (fds[1].revents != 0)
                _fwd.ProcessEvents();
            for (int i = Fixed; i < n; i++)
            {
                var c = polled[i]!;
                short ev = fds[i].revents;
                if (ev == 0)
                    continue;
                bool keep = (ev & POLLOUT) != 0 ? Send(c)
                    : (ev & POLLIN) != 0 ? Serve(c)
                    : false;   // POLLERR, POLLHUP or POLLNVAL alone: the peer is gone
                if (!keep)
                {
                    Drop(c);
                    servedAny = true;
                }
            }
            if ((fds[0].revents & POLLIN) != 0)
                AcceptPending();
        }
    }

    /// <summary>Drops unprivileged clients past their grace time and clients that stopped reading their replies.</summary>
    private void ExpireClients(DateTime now)
    {
        for (int i = _clients.Count - 1; i >= 0; i--)
        {
            var c = _clients[i];
            if (!c.Peer.Privileged && now - c.Connected > UnprivilegedGrace)
                Drop(c);
            else if (c.Out.Count > 0 && now - c.OutSince > StalledReply)
            {
                Log.Error($"client pid {c.Peer.Pid} (uid {c.Peer.Uid}) has not read its reply for {StalledReply.TotalSeconds:0} s: dropped");
                Drop(c);
            }
        }
    }

    /// <summary>Accepts what is waiting (bounded per round, so a connect flood cannot starve served clients).</summary>
    private void AcceptPending()
    {
        for (int k = 0; k < 64; k++)
        {
            int fd = accept4(_listen, null, null, SOCK_CLOEXEC | SOCK_NONBLOCK);
            if (fd < 0)
                return;
            Admit(fd);
        }
    }

    private void Admit(int fd)
    {
        PeerIdentity peer;
        try
        {
            var (pid, uid, _) = Sys.PeerCredentials(fd);
            // Count before looking further: a flood from one uid costs an accept and a close, no /proc reads.
            if (uid != 0 && _clients.Count(x => x.Peer.Uid == uid) >= MaxClientsPerUid)
            {
                Sys.Close(fd);
                return;
            }
            peer = PeerAuthorization.Check(fd);
        }
        catch (ErrnoException)
        {
            Sys.Close(fd);
            return;
        }
        if (_clients.Count >= MaxClients)
        {
            // A privileged caller is never locked out by others: it takes the place of the oldest unprivileged one.
            var victim = peer.Privileged ? _clients.Where(x => !x.Peer.Privileged).MinBy(x => x.Connected) : null;
            if (victim is null)
            {
                Sys.Close(fd);
                return;
            }
            Drop(victim);
        }
        _clients.Add(new Client { Fd = fd, Peer = peer });
    }

    private void Drop(Client c)
    {
        Sys.Close(c.Fd);
        _clients.Remove(c);
    }

    /// <summary>Reads and answers one request buffer; false when the client is gone or is to be dropped.</summary>
    private bool Serve(Client c)
    {
        long n = Sys.Recv(c.Fd, _rx, MSG_DONTWAIT | MSG_TRUNC);
        if (n == 0)
            return false;
        if (n < 0)
            return Sys.Errno is var e && (e == EAGAIN || e == EINTR);
        if (n > _rx.Length)
        {
            Log.Error($"client pid {c.Peer.Pid} (uid {c.Peer.Uid}): request of {n} bytes is over the {MaxRequest}-byte limit: dropped");
            return false;
        }
        List<NetlinkMessage> requests;
        try
        {
            requests = NetlinkMessage.Split(_rx.AsMemory(0, (int)n).ToArray());
        }
        catch (InvalidDataException e)
        {
            Log.Error($"client pid {c.Peer.Pid} (uid {c.Peer.Uid}): malformed request: {e.Message}");
            return false;
        }
        if (requests.Count == 0)
            return false;
        if (!c.Peer.Privileged)
        {
            // One refusal, in words the module turns into L2tp.PermissionDenied, then the connection goes.
            _w.Clear();
            Ack(requests[0], EPERM, $"l2tp-forwarder refuses pid {c.Peer.Pid} (uid {c.Peer.Uid}): L2TP configuration needs root or CAP_NET_ADMIN in the user namespace that owns this network namespace ({c.Peer.Reason}).");
            c.CloseAfterReply = true;
            Queue(c);
            Log.Info($"refused pid {c.Peer.Pid} (uid {c.Peer.Uid}): {c.Peer.Reason}");
            return Send(c);
        }
        foreach (var m in requests)
        {
            _w.Clear();
            try
            {
                Handle(c, m);
            }
            catch (ForwarderError e)
            {
                _w.Clear();
                Ack(m, e.Errno, e.Message);
            }
            catch (Exception e) when (e is KeyNotFoundException or InvalidDataException or L2tpException)
            {
                _w.Clear();
                Ack(m, EINVAL, e is L2tpException l ? l.Word(L2tpGenl.AttributeName) : e.Message);
            }
            catch (Exception e)
            {
                Log.Error($"request {m.Type}/{m.GenlCommand} failed: {e}");
                _w.Clear();
                Ack(m, EIO, "l2tp-forwarder: internal error: " + e.Message);
            }
            Queue(c);
            if (c.OutBytes > MaxQueuedReply)
            {
                Log.Error($"client pid {c.Peer.Pid} (uid {c.Peer.Uid}) has {c.OutBytes} bytes of replies waiting: dropped");
                return false;
            }
        }
        return Send(c);
    }

    private void Handle(Client c, NetlinkMessage m)
    {
        if (m.Type == Nl.GENL_ID_CTRL)
        {
            HandleControl(m);
            return;
        }
        if (m.Type == ForwarderGenl.FamilyId)
        {
            ForwarderControl.Handle(m, c.Peer.Privileged, _fwd, Stop, _w);
            Ack(m, 0, null);
            return;
        }
        if (m.Type != FamilyId)
            throw new ForwarderError(EOPNOTSUPP, $"l2tp-forwarder only speaks the l2tp family (got message type {m.Type}).");
        byte cmd = m.GenlCommand;
        var a = m.GenlAttributes;
        bool dump = (m.Flags & Nl.F_DUMP) == Nl.F_DUMP;
        switch (cmd)
        {
            case L2tpGenl.CMD_NOOP:
                break;
            case L2tpGenl.CMD_TUNNEL_CREATE:
                Require(a, L2tpGenl.ATTR_CONN_ID, L2tpGenl.ATTR_PEER_CONN_ID, L2tpGenl.ATTR_PROTO_VERSION, L2tpGenl.ATTR_ENCAP_TYPE);
                if (a.U8(L2tpGenl.ATTR_PROTO_VERSION) != 3)
                    throw new ForwarderError(EPROTONOSUPPORT, "Only L2TPv3 (static, unmanaged) tunnels are supported.");
                if (a.U16(L2tpGenl.ATTR_ENCAP_TYPE) > 1)
                    throw new ForwarderError(EINVAL, "Unknown encapsulation type.");
                if (a.Has(L2tpGenl.ATTR_FD))
                    throw new ForwarderError(EPROTONOSUPPORT, "Tunnels on a caller's socket (L2TP_ATTR_FD) are not supported by the forwarder.");
                _fwd.CreateTunnel(L2tpGenl.ReadTunnelCreate(a));
                break;
            case L2tpGenl.CMD_TUNNEL_DELETE:
                Require(a, L2tpGenl.ATTR_CONN_ID);
                _fwd.DeleteTunnel(a.U32(L2tpGenl.ATTR_CONN_ID));
                break;
            case L2tpGenl.CMD_TUNNEL_GET:
                if (dump)
                {
                    foreach (var t in _fwd.Tunnels)
                        ReplyTunnel(m, t, Nl.F_MULTI);
                    Done(m);
                    return;
                }
                Require(a, L2tpGenl.ATTR_CONN_ID);
                uint tid = a.U32(L2tpGenl.ATTR_CONN_ID);
                ReplyTunnel(m, _fwd.FindTunnel(tid) ?? throw new ForwarderError(ENODEV, $"There is no tunnel {tid}."), 0);
                break;
            case L2tpGenl.CMD_SESSION_CREATE:
                Require(a, L2tpGenl.ATTR_CONN_ID);
                if (_fwd.FindTunnel(a.U32(L2tpGenl.ATTR_CONN_ID)) is null)
                    throw new ForwarderError(ENODEV, $"There is no tunnel {a.U32(L2tpGenl.ATTR_CONN_ID)}.");
                Require(a, L2tpGenl.ATTR_SESSION_ID, L2tpGenl.ATTR_PEER_SESSION_ID, L2tpGenl.ATTR_PW_TYPE);
                if (a.U16(L2tpGenl.ATTR_PW_TYPE) != L2tpGenl.PWTYPE_ETH)
                    throw new ForwarderError(EPROTONOSUPPORT, "Only Ethernet pseudowires (pw type 5) are supported.");
                if (a.U8OrNull(L2tpGenl.ATTR_L2SPEC_TYPE) is > 1)
                    throw new ForwarderError(EINVAL, "Unknown L2-specific sublayer type.");
                var created = _fwd.CreateSession(L2tpGenl.ReadSessionCreate(a));
                // NLM_F_ECHO: the new session comes back with the ack, saving the caller the GET it would send next.
                if ((m.Flags & Nl.F_ECHO) != 0 && _fwd.FindTunnel(created.Spec.TunnelId) is { } owner)
                    ReplySession(m, owner, created, 0);
                break;
            case L2tpGenl.CMD_SESSION_DELETE:
                Require(a, L2tpGenl.ATTR_CONN_ID, L2tpGenl.ATTR_SESSION_ID);
                _fwd.DeleteSession(a.U32(L2tpGenl.ATTR_CONN_ID), a.U32(L2tpGenl.ATTR_SESSION_ID));
                break;
            case L2tpGenl.CMD_SESSION_MODIFY:
                Require(a, L2tpGenl.ATTR_CONN_ID, L2tpGenl.ATTR_SESSION_ID);
                foreach (var type in a.Types)
                    if (Array.IndexOf(L2tpGenl.SessionModifiable, type) < 0)
                        throw new ForwarderError(EOPNOTSUPP, $"Attribute {type} cannot be modified on a live session " +
                            "(only sequencing and the reorder timeout can): remove the session and create it anew.");
                if (a.U8OrNull(L2tpGenl.ATTR_LNS_MODE) is > 0)
                    throw new ForwarderError(EOPNOTSUPP, "LNS mode is not supported by l2tp-forwarder (static pseudowires follow the peer's sequencing).");
                var mtun = _fwd.FindTunnel(a.U32(L2tpGenl.ATTR_CONN_ID)) ?? throw new ForwarderError(ENODEV, "There is no such tunnel.");
                var mses = mtun.Sessions.GetValueOrDefault(a.U32(L2tpGenl.ATTR_SESSION_ID)) ?? throw new ForwarderError(ENODEV, "There is no such session.");
                _fwd.ModifySession(L2tpGenl.ReadSessionModify(a, mses.Spec.Sequencing));
                break;
            case L2tpGenl.CMD_SESSION_GET:
                if (dump)
                {
                    foreach (var t in _fwd.Tunnels)
                        foreach (var s in t.Sessions.Values)
                        {
                            ReplySession(m, t, s, Nl.F_MULTI);
                            if (_w.Length >= MaxReplyChunk)
                                Queue(c);
                        }
                    Done(m);
                    return;
                }
                // As the kernel's l2tp_nl_session_get: an interface name, when given, names the session.
                if (a.String(L2tpGenl.ATTR_IFNAME) is { Length: > 0 } ifname)
                {
                    var named = _fwd.FindSession(ifname) ?? throw new ForwarderError(ENODEV, $"No session has the interface '{ifname}'.");
                    ReplySession(m, named.Tunnel, named, 0);
                    break;
                }
                Require(a, L2tpGenl.ATTR_CONN_ID, L2tpGenl.ATTR_SESSION_ID);
                var tun = _fwd.FindTunnel(a.U32(L2tpGenl.ATTR_CONN_ID)) ?? throw new ForwarderError(ENODEV, "There is no such tunnel.");
                var ses = tun.Sessions.GetValueOrDefault(a.U32(L2tpGenl.ATTR_SESSION_ID)) ?? throw new ForwarderError(ENODEV, "There is no such session.");
                ReplySession(m, tun, ses, 0);
                break;
            default:
                throw new ForwarderError(EOPNOTSUPP, $"Command {cmd} is not supported by l2tp-forwarder.");
        }
        Ack(m, 0, null);
    }

    private static void Require(NetlinkAttributes a, params ushort[] types)
    {
        foreach (var t in types)
            if (!a.Has(t))
                throw new ForwarderError(EINVAL, $"Missing attribute {t}.");
    }

    /// <summary>nlctrl CTRL_CMD_GETFAMILY: how a client learns the id of the `l2tp` family.</summary>
    private void HandleControl(NetlinkMessage m)
    {
        if (m.GenlCommand != Nl.CTRL_CMD_GETFAMILY)
            throw new ForwarderError(EOPNOTSUPP, "Only CTRL_CMD_GETFAMILY is supported.");
        string? name = m.GenlAttributes.String(Nl.CTRL_ATTR_FAMILY_NAME);
        if (name == ForwarderGenl.FamilyName)
        {
            ForwarderControl.WriteFamily(_w, m);
            Ack(m, 0, null);
            return;
        }
        if (name != L2tpGenl.FamilyName)
            throw new ForwarderError(ENOENT, $"Unknown generic netlink family '{name}'.");
        _w.Begin(Nl.GENL_ID_CTRL, 0, m.Seq, m.Pid).Genl(1 /* CTRL_CMD_NEWFAMILY */, 2)
            .StringZ(Nl.CTRL_ATTR_FAMILY_NAME, L2tpGenl.FamilyName)
            .U16(Nl.CTRL_ATTR_FAMILY_ID, FamilyId)
            .U32(Nl.CTRL_ATTR_VERSION, L2tpGenl.Version)
            .U32(Nl.CTRL_ATTR_HDRSIZE, 0)
            .U32(Nl.CTRL_ATTR_MAXATTR, L2tpGenl.ATTR_PAD)
            .End();
        Ack(m, 0, null);
    }

    private void ReplyTunnel(NetlinkMessage req, Forwarder.TunnelEntry t, ushort flags)
    {
        _w.Begin(FamilyId, flags, req.Seq, req.Pid).Genl(L2tpGenl.CMD_TUNNEL_GET, L2tpGenl.Version);
        L2tpGenl.WriteTunnel(_w, t.Spec, t.Counters.Snapshot(), t.Counters.SendError());
        _w.End();
    }

    private void ReplySession(NetlinkMessage req, Forwarder.TunnelEntry t, Forwarder.SessionEntry s, ushort flags)
    {
        _w.Begin(FamilyId, flags, req.Seq, req.Pid).Genl(L2tpGenl.CMD_SESSION_GET, L2tpGenl.Version);
        L2tpGenl.WriteSession(_w, s.Spec, t.Spec.PeerTunnelId, s.Tap.Name, s.Runtime.Counters.Snapshot(), s.Runtime.Counters.Times());
        _w.End();
    }

    private void Done(NetlinkMessage req)
    {
        _w.Begin(Nl.DONE, Nl.F_MULTI, req.Seq, req.Pid).Raw(stackalloc byte[4]).End();
    }

    /// <summary>An NLMSG_ERROR reply (error 0 is an ack) echoing the request header, with the message as extended ack.</summary>
    private void Ack(NetlinkMessage req, int errno, string? message)
    {
        ushort flags = Nl.F_CAPPED;
        if (!string.IsNullOrEmpty(message))
            flags |= Nl.F_ACK_TLVS;
        Span<byte> head = stackalloc byte[4 + Nl.HeaderLength];
        BinaryPrimitives.WriteInt32LittleEndian(head, -errno);
        BinaryPrimitives.WriteUInt32LittleEndian(head[4..], (uint)(Nl.HeaderLength + req.Payload.Length));
        BinaryPrimitives.WriteUInt16LittleEndian(head[8..], req.Type);
        BinaryPrimitives.WriteUInt16LittleEndian(head[10..], req.Flags);
        BinaryPrimitives.WriteUInt32LittleEndian(head[12..], req.Seq);
        BinaryPrimitives.WriteUInt32LittleEndian(head[16..], req.Pid);
        _w.Begin(Nl.ERROR, flags, req.Seq, req.Pid).Raw(head);
        if (!string.IsNullOrEmpty(message))
            _w.StringZ((ushort)Nl.NLMSGERR_ATTR_MSG, message);
        _w.End();
    }

    /// <summary>Moves what the writer holds into the client's queue, in chunks of whole messages (one packet each).</summary>
    private void Queue(Client c)
    {
        var data = _w.Span;
        int o = 0;
        while (o < data.Length)
        {
            int end = o;
            while (end < data.Length)
            {
                int len = Nl.Align((int)BinaryPrimitives.ReadUInt32LittleEndian(data[end..]));
                if (end > o && end + len - o > MaxReplyChunk)
                    break;
                end += len;
            }
            if (c.Out.Count == 0)
                c.OutSince = DateTime.UtcNow;
            c.Out.Enqueue(data[o..end].ToArray());
            c.OutBytes += end - o;
            o = end;
        }
        _w.Clear();
    }

    /// <summary>Sends queued replies without blocking; false when the client is gone or is done.</summary>
    private bool Send(Client c)
    {
        while (c.Out.Count > 0)
        {
            var chunk = c.Out.Peek();
            if (Sys.Send(c.Fd, chunk, MSG_DONTWAIT) < 0)
                return Sys.Errno is var e && (e == EAGAIN || e == EINTR);
            c.Out.Dequeue();
            c.OutBytes -= chunk.Length;
            c.OutSince = DateTime.UtcNow;
        }
        return !c.CloseAfterReply;
    }

    public void Dispose()
    {
        Sys.Close(_wake);
        foreach (var c in _clients)
            Sys.Close(c.Fd);
        _clients.Clear();
    }
}
