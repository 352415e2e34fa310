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

    private sealed class Client
    {
        public required int Fd { get; init; }
        public required bool Privileged { get; init; }
        public required int Pid { get; init; }
    }

    private readonly int _listen;
    private readonly Forwarder _fwd;
    private readonly List<Client> _clients = new();
    private readonly byte[] _rx = new byte[64 * 1024];
    private readonly NetlinkWriter _w = new();
    private volatile bool _stop;

    public ControlServer(int listenFd, Forwarder forwarder)
    {
        _listen = listenFd;
        _fwd = forwarder;
    }

    public void Stop() => _stop = true;

    /// <summary>Serves until stopped, or until no tunnel and no client is left (after <paramref name="idle"/> with none at start).</summary>
    public void Run(TimeSpan idle)
    {
        var started = DateTime.UtcNow;
        bool servedAny = false;
        var fds = new pollfd[2 + 256];
        while (!_stop)
        {
            if (_fwd.TunnelCount == 0 && _clients.Count == 0 && (servedAny || DateTime.UtcNow - started > idle))
            {
                Log.Info("no tunnel and no client left: exiting");
                return;
            }
            int n = 0;
            fds[n++] = new pollfd { fd = _listen, events = (short)POLLIN };
            fds[n++] = new pollfd { fd = _fwd.EventFd, events = (short)POLLIN };
            foreach (var c in _clients.Take(fds.Length - 2))
                fds[n++] = new pollfd { fd = c.Fd, events = (short)POLLIN };
            int ready;
            fixed (pollfd* p = fds)
                ready = poll(p, (ulong_t)(ulong)n, 500);
            if (ready <= 0)
                continue;
            // Before any request: a link deleted before a request was sent is gone for that request.
            if (fds[1].revents != 0)
                _fwd.ProcessEvents();
            if ((fds[0].revents & POLLIN) != 0)
                Accept();
            for (int i = 2; i < n; i++)
            {
                if (fds[i].revents == 0)
                    continue;
                var c = _clients.First(x => x.Fd == fds[i].fd);
                if (!Serve(c))
                {
                    Sys.Close(c.Fd);
                    _clients.Remove(c);
                    servedAny = true;
                }
            }
        }
    }

    private void Accept()
    {
        int fd = accept4(_listen, null, null, SOCK_CLOEXEC);
        if (fd < 0)
            return;
        var (pid, uid, _) = Sys.PeerCredentials(fd);
        _clients.Add(new Client { Fd = fd, Pid = pid, Privileged = uid == 0 || Capabilities.HasNetAdmin(pid.ToString()) });
    }

    /// <summary>Reads and answers one buffer of requests; false when the client is gone.</summary>
    private bool Serve(Client c)
    {
        long n = Sys.Recv(c.Fd, _rx, MSG_DONTWAIT);
        if (n == 0)
            return false;
        if (n < 0)
            return Sys.Errno is var e && (e == EAGAIN || e == EINTR);
        List<NetlinkMessage> requests;
        try
        {
            requests = NetlinkMessage.Split(_rx.AsMemory(0, (int)n).ToArray());
        }
        catch (InvalidDataException e)
        {
            Log.Error($"client {c.Pid}: malformed request: {e.Message}");
            return false;
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
                Ack(m, EINVAL, e.Message);
            }
            catch (Exception e)
            {
                Log.Error($"request {m.Type}/{m.GenlCommand} failed: {e}");
                _w.Clear();
                Ack(m, EIO, "l2tp-forwarder: internal error: " + e.Message);
            }
            if (!Flush(c, force: true))
                return false;
        }
        return true;
    }

    private void Handle(Client c, NetlinkMessage m)
    {
        if (m.Type == Nl.GENL_ID_CTRL)
        {
            HandleControl(m);
            return;
        }
        if (m.Type != FamilyId)
            throw new ForwarderError(EOPNOTSUPP, $"l2tp-forwarder only speaks the l2tp family (got message type {m.Type}).");
        byte cmd = m.GenlCommand;
        if (cmd != L2tpGenl.CMD_NOOP && !c.Privileged)
            throw new ForwarderError(EPERM, "L2TP configuration needs root or CAP_NET_ADMIN.");
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
                _fwd.CreateSession(L2tpGenl.ReadSessionCreate(a));
                break;
            case L2tpGenl.CMD_SESSION_DELETE:
                Require(a, L2tpGenl.ATTR_CONN_ID, L2tpGenl.ATTR_SESSION_ID);
                _fwd.DeleteSession(a.U32(L2tpGenl.ATTR_CONN_ID), a.U32(L2tpGenl.ATTR_SESSION_ID));
                break;
            case L2tpGenl.CMD_SESSION_GET:
                if (dump)
                {
                    foreach (var t in _fwd.Tunnels)
                        foreach (var s in t.Sessions.Values)
                        {
                            ReplySession(m, t, s, Nl.F_MULTI);
                            Flush(c, force: false);
                        }
                    Done(m);
                    return;
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
        L2tpGenl.WriteSession(_w, s.Spec, t.Spec.PeerTunnelId, s.Tap.Name, s.Runtime.Counters.Snapshot());
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

    /// <summary>Sends what is buffered, in chunks of whole messages; false when the client is gone.</summary>
    private bool Flush(Client c, bool force)
    {
        if (_w.Length == 0 || (!force && _w.Length < MaxReplyChunk))
            return true;
        var data = _w.Span;
        int o = 0;
        while (o < data.Length)
        {
            int end = o;
            // Take whole messages up to the chunk size (at least one).
            while (end < data.Length)
            {
                int len = Nl.Align((int)BinaryPrimitives.ReadUInt32LittleEndian(data[end..]));
                if (end > o && end + len - o > MaxReplyChunk)
                    break;
                end += len;
            }
            if (Sys.Send(c.Fd, data[o..end]) < 0)
            {
                _w.Clear();
                return false;
            }
            o = end;
        }
        _w.Clear();
        return true;
    }

    public void Dispose()
    {
        foreach (var c in _clients)
            Sys.Close(c.Fd);
        _clients.Clear();
    }
}
