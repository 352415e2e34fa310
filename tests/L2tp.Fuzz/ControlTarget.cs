using System.Net;
using L2tp.Netlink;
using L2tp.Protocol;

namespace L2tp.Fuzz;

/// <summary>
/// Target "control": a buffer as the forwarder's control socket receives it, through the decoding it does before it
/// touches the forwarder: NetlinkMessage.Split, the genl header and attributes, L2tpGenl.ReadTunnelCreate /
/// ReadSessionCreate with the specs' Validate(), the lookups of GET/DELETE, and the nlctrl family name.
/// Only InvalidDataException (a length that does not fit) and L2tpException (a spec rule broken) may escape the
/// decoder; anything else is a crash. A spec that validates must also survive the trip back: written with
/// WriteTunnelCreate / WriteSessionCreate (what the module sends) and decoded again, it is the same request.
/// </summary>
internal static class ControlTarget
{
    /// <summary>The family id the forwarder answers to (ControlServer.FamilyId).</summary>
    public const ushort FamilyId = Forwarder.ControlServer.FamilyId;

    public static void Run(ReadOnlySpan<byte> data)
    {
        // The forwarder reads one datagram of at most 64 KB.
        var buffer = data[..Math.Min(data.Length, 64 * 1024)].ToArray();
        List<NetlinkMessage> messages;
        try
        {
            messages = NetlinkMessage.Split(buffer);
        }
        catch (InvalidDataException)
        {
            return;
        }
        int end = 0;
        foreach (var m in messages)
        {
            Check.True(m.Payload.Length + Nl.HeaderLength <= buffer.Length - end, "a message's payload runs past the buffer");
            end += Nl.Align(m.Payload.Length + Nl.HeaderLength);
            try
            {
                Decode(m);
            }
            catch (Exception e) when (e is InvalidDataException or L2tpException)
            {
                // Documented: the forwarder answers these with EINVAL.
            }
        }
    }

    private static void Decode(NetlinkMessage m)
    {
        byte cmd = m.GenlCommand;
        var a = m.GenlAttributes;
        foreach (var type in a.Types)
            Check.True(a.Bytes(type)!.Value.Length <= m.Payload.Length, $"attribute {type} longer than its message");
        if (m.Type == Nl.GENL_ID_CTRL)
        {
            _ = a.String(Nl.CTRL_ATTR_FAMILY_NAME);
            return;
        }
        if (m.Type != FamilyId)
            return;
        switch (cmd)
        {
            case L2tpGenl.CMD_TUNNEL_CREATE:
            {
                var spec = L2tpGenl.ReadTunnelCreate(a);
                spec.Validate();
                CheckTunnel(spec);
                break;
            }
            case L2tpGenl.CMD_SESSION_CREATE:
            {
                var spec = L2tpGenl.ReadSessionCreate(a);
                spec.Validate();
                CheckSession(spec);
                break;
            }
            case L2tpGenl.CMD_TUNNEL_GET or L2tpGenl.CMD_TUNNEL_DELETE:
                if (a.Has(L2tpGenl.ATTR_CONN_ID))
                    _ = a.U32(L2tpGenl.ATTR_CONN_ID);
                break;
            case L2tpGenl.CMD_SESSION_GET or L2tpGenl.CMD_SESSION_DELETE:
                if (a.Has(L2tpGenl.ATTR_CONN_ID) && a.Has(L2tpGenl.ATTR_SESSION_ID))
                    _ = (a.U32(L2tpGenl.ATTR_CONN_ID), a.U32(L2tpGenl.ATTR_SESSION_ID));
                break;
        }
        // Statistics nest in requests only by mistake, but the same parser reads them in every reply.
        if (a.Has(L2tpGenl.ATTR_STATS))
            _ = L2tpGenl.ReadStats(a.Nested(L2tpGenl.ATTR_STATS));
    }

    /// <summary>A tunnel that validated: one the data plane can run, and the same request once re-encoded.</summary>
    private static void CheckTunnel(TunnelSpec t)
    {
        Check.True(Enum.IsDefined(t.Encapsulation), $"a tunnel with encapsulation {(int)t.Encapsulation} validated");
        var w = new NetlinkWriter();
        w.Begin(FamilyId, Nl.F_REQUEST, 1).Genl(L2tpGenl.CMD_TUNNEL_CREATE, L2tpGenl.Version);
        L2tpGenl.WriteTunnelCreate(w, t);
        w.End();
        var back = L2tpGenl.ReadTunnelCreate(NetlinkMessage.Split(w.ToArray())[0].GenlAttributes);
        back.Validate();
        bool udp = t.Encapsulation == Encapsulation.Udp;
        // What a request carries: the bound address, ports only for UDP, checksum options per family.
        var expected = t with
        {
            Local = t.BindAddress,
            SourcePort = udp ? t.SourcePort : (ushort)0,
            DestinationPort = udp ? t.DestinationPort : (ushort)0,
            UdpChecksum = udp && !t.IsIPv6 && t.UdpChecksum,
            Udp6ChecksumTx = !(udp && t.IsIPv6) || t.Udp6ChecksumTx,
            Udp6ChecksumRx = !(udp && t.IsIPv6) || t.Udp6ChecksumRx,
        };
        Check.True(expected == back, $"tunnel request did not survive re-encoding: {expected} became {back}");
    }

    /// <summary>A session that validated: one the data plane can run, and the same request once re-encoded.</summary>
    private static void CheckSession(SessionSpec s)
    {
        Check.True(Enum.IsDefined(s.L2SpecType), $"a session with L2-specific sublayer type {(int)s.L2SpecType} validated");
        var w = new NetlinkWriter();
        w.Begin(FamilyId, Nl.F_REQUEST, 1).Genl(L2tpGenl.CMD_SESSION_CREATE, L2tpGenl.Version);
        L2tpGenl.WriteSessionCreate(w, s);
        w.End();
        var back = L2tpGenl.ReadSessionCreate(NetlinkMessage.Split(w.ToArray())[0].GenlAttributes);
        back.Validate();
        // An empty name is sent as none (the kernel picks l2tpeth%d).
        string? name = string.IsNullOrEmpty(s.InterfaceName) ? null : s.InterfaceName;
        Check.True(back.TunnelId == s.TunnelId && back.SessionId == s.SessionId && back.PeerSessionId == s.PeerSessionId
            && back.L2SpecType == s.L2SpecType && back.Sequencing == s.Sequencing && back.InterfaceName == name
            && back.Cookie.AsSpan().SequenceEqual(s.Cookie) && back.PeerCookie.AsSpan().SequenceEqual(s.PeerCookie),
            $"session request did not survive re-encoding: {Describe(s)} became {Describe(back)}");
    }

    private static string Describe(SessionSpec s) =>
        $"{s.TunnelId}/{s.SessionId}->{s.PeerSessionId} l2spec {(int)s.L2SpecType} seq {s.Sequencing} if '{s.InterfaceName}' " +
        $"cookie {Protocol.Cookie.Format(s.Cookie)} peer {Protocol.Cookie.Format(s.PeerCookie)}";
}
