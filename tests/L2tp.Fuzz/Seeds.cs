using System.Buffers.Binary;
using System.Net;
using L2tp.Netlink;
using L2tp.Protocol;

namespace L2tp.Fuzz;

/// <summary>
/// The hand-made seed corpus: small valid inputs for each target, one per path through the parsers worth starting
/// from. Written by `L2tp.Fuzz seeds tests/fuzz/corpus`; the files are kept in the repository.
/// </summary>
internal static class Seeds
{
    public static int Write(string root)
    {
        int n = 0;
        foreach (var (target, seeds) in new[] { ("rx", Rx()), ("gro", Gro()), ("control", Control()) })
        {
            var dir = Path.Combine(root, target);
            Directory.CreateDirectory(dir);
            foreach (var (name, bytes) in seeds)
            {
                File.WriteAllBytes(Path.Combine(dir, "seed-" + name), bytes);
                n++;
            }
        }
        return n;
    }

    private static byte[] H(string hex) => Convert.FromHexString(hex.Replace(" ", ""));

    /// <summary>A 60-byte Ethernet frame: broadcast, a local MAC, ethertype 0x88b5, a counting payload.</summary>
    private static byte[] EthFrame(int length = 60) =>
        H("ffffffffffff 020000000001 88b5").Concat(Enumerable.Range(0, length - 14).Select(i => (byte)i)).ToArray();

    private static byte[] Cat(params byte[][] parts) => parts.SelectMany(p => p).ToArray();

    /// <summary>An rx input: mode byte, then [u16 length][u16 segment][datagram] per datagram.</summary>
    private static byte[] RxInput(byte mode, params (byte[] Datagram, ushort Segment)[] datagrams)
    {
        var w = new FuzzInputWriter().U8(mode);
        foreach (var (d, seg) in datagrams)
            w.U16((ushort)d.Length).U16(seg).Raw(d);
        return w.ToArray();
    }

    private static (byte[], ushort) D(byte[] datagram, ushort segment = 0) => (datagram, segment);

    private static IEnumerable<(string, byte[])> Rx()
    {
        var f = EthFrame();
        yield return ("udp-nocookie-sublayer", RxInput(0, D(Cat(H("00030000 00000001 00000000"), f))));
        yield return ("udp-cookie4-nosublayer", RxInput(0, D(Cat(H("00030000 00000002 cafef00d"), f))));
        yield return ("udp-cookie8-seqrecv", RxInput(0,
            D(Cat(H("00030000 00000003 0102030405060708 40000000"), f)),
            D(Cat(H("00030000 00000003 0102030405060708 40000001"), f)),
            D(Cat(H("00030000 00000003 0102030405060708 40000003"), f))));
        yield return ("udp-seqboth-unsequenced", RxInput(0,
            D(Cat(H("00030000 00000004 deadbeef 40000007"), f)),
            D(Cat(H("00030000 00000004 deadbeef 00000000"), f))));
        yield return ("udp-session-ffffffff", RxInput(0, D(Cat(H("00030000 ffffffff"), f))));
        yield return ("udp-control-and-session0", RxInput(0,
            D(H("c8030014 00000000 00000000 0001 0000")), D(Cat(H("00030000 00000000 00000000"), f))));
        yield return ("udp-wrong-cookie", RxInput(0, D(Cat(H("00030000 00000002 01020304"), f))));
        var udp1 = Cat(H("00030000 00000001 00000000"), f);
        yield return ("udp-gro-split", RxInput(0, D(Cat(udp1, udp1, udp1[..40]), (ushort)udp1.Length)));
        yield return ("ip-nocookie-sublayer", RxInput(1, D(Cat(H("00000001 00000000"), f))));
        yield return ("ip-cookie4", RxInput(1, D(Cat(H("00000002 cafef00d"), f))));
        yield return ("ip-control", RxInput(1, D(H("00000000 c8030014 00000000"))));
        var ipHeader = H("45000058 1234 4000 4073 0000 c0000202 c0000201");
        yield return ("ip-with-ipv4-header", RxInput(2, D(Cat(ipHeader, H("00000001 00000000"), f))));
        yield return ("ip-with-ipv4-options", RxInput(2, D(Cat(H("46000058 1234 4000 4073 0000 c0000202 c0000201 01010101"), H("00000002 cafef00d"), f))));
        yield return ("udp-mtu576-jumbo", RxInput(4, D(Cat(H("00030000 00000001 00000000"), EthFrame(1000)))));
        // A TCP stream to a vnet-header TAP: the receive coalescer joins it.
        var segs = TcpRun(false, 0x1000, 3, 400);
        yield return ("udp-vnet-tcp-run", RxInput(3, segs.Select(s => D(Cat(H("00030000 00000001 00000000"), s))).ToArray()));
        yield return ("udp-vnet-not-tcp", RxInput(3, D(Cat(H("00030000 00000002 cafef00d"), f))));
    }

    /// <summary>A gro input record: [u8 op][u16 length][bytes].</summary>
    private static byte[] GroInput(params (byte Op, byte[] Bytes)[] records)
    {
        var w = new FuzzInputWriter();
        foreach (var (op, b) in records)
            w.U8(op).U16((ushort)b.Length).Raw(b);
        return w.ToArray();
    }

    private static IEnumerable<(string, byte[])> Gro()
    {
        yield return ("v4-run", GroInput(TcpRun(false, 0x10000000, 4, 1000).Select(s => ((byte)0, s)).ToArray()));
        yield return ("v6-run-short-last", GroInput(TcpRun(true, 0xfffffc00, 3, 1200, lastPayload: 300).Select(s => ((byte)0, s)).ToArray()));
        yield return ("v4-run-psh", GroInput(TcpRun(false, 5, 3, 500, pshLast: true).Select(s => ((byte)0, s)).ToArray()));
        var a = TcpRun(false, 100, 3, 200);
        var b = TcpRun(true, 900, 3, 200);
        yield return ("two-sessions", GroInput((0, a[0]), (4, b[0]), (0, a[1]), (4, b[1]), (0, a[2]), (4, b[2])));
        yield return ("flush-between", GroInput((8, a[0]), (0, a[1]), (0, a[2])));
        yield return ("fix-lengths-and-checksums", GroInput(a.Select(s => ((byte)3, s)).ToArray()));
        yield return ("not-tcp", GroInput((0, EthFrame())));
        // Transmit side: a TCP super-frame of 3000 bytes to cut into 1000-byte segments, and a frame to checksum.
        var super = TcpRun(false, 77, 1, 3000)[0];
        var gso = new byte[10];
        new Forwarder.Dataplane.VnetHdr(1, 1, (ushort)(14 + 20 + 32), 1000, 14 + 20, 16).Write(gso);
        yield return ("tx-tso-v4", GroInput((0x10, Cat(gso, super))));
        var super6 = TcpRun(true, 77, 1, 2500)[0];
        new Forwarder.Dataplane.VnetHdr(1, 4, (ushort)(14 + 40 + 32), 1200, 14 + 40, 16).Write(gso);
        yield return ("tx-tso-v6", GroInput((0x10, Cat(gso, super6))));
        var csum = new byte[10];
        new Forwarder.Dataplane.VnetHdr(1, 0, 0, 0, 14 + 20, 16).Write(csum);
        yield return ("tx-needs-csum", GroInput((0x10, Cat(csum, a[0]))));
        // UDP: a run of one size closed by a shorter datagram; an IPv6 run; an id gap and a zero checksum that must not join.
        yield return ("udp-v4-run-short-last", GroInput(UdpRun(false, 0x7ffe, 5, 18, lastPayload: 7).Select(d => ((byte)0, d)).ToArray()));
        yield return ("udp-v6-run", GroInput(UdpRun(true, 0, 4, 100).Select(d => ((byte)0, d)).ToArray()));
        var gap = UdpRun(false, 10, 2, 18).Concat(UdpRun(false, 13, 2, 18)).ToList();
        var noSum = UdpRun(false, 20, 2, 18);
        noSum[1].AsSpan(14 + 20 + 6, 2).Clear();
        yield return ("udp-id-gap-and-no-checksum", GroInput(gap.Concat(noSum).Select(d => ((byte)0, d)).ToArray()));
        yield return ("udp-fix-lengths-and-checksums", GroInput(UdpRun(false, 30, 3, 40).Select(d => ((byte)3, d)).ToArray()));
    }

    /// <summary>UDP datagrams of one flow with consecutive IPv4 ids, every length and checksum right.</summary>
    private static List<byte[]> UdpRun(bool v6, ushort ipId, int count, int payload, int lastPayload = -1)
    {
        var frames = new List<byte[]>();
        for (int i = 0; i < count; i++)
        {
            int p = i == count - 1 && lastPayload > 0 ? lastPayload : payload;
            int ipLen = v6 ? 40 : 20;
            var frame = new byte[14 + ipLen + 8 + p];
            H("020000000002 020000000001").CopyTo(frame, 0);
            BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(12), v6 ? (ushort)0x86dd : (ushort)0x0800);
            var ip = frame.AsSpan(14);
            if (v6)
            {
                H("60000000").CopyTo(ip);
                BinaryPrimitives.WriteUInt16BigEndian(ip[4..], (ushort)(8 + p));
                ip[6] = 17;
                ip[7] = 64;
                H("20010db8000000000000000000000001 20010db8000000010000000000000002").CopyTo(ip[8..]);
            }
            else
            {
                ip[0] = 0x45;
                BinaryPrimitives.WriteUInt16BigEndian(ip[2..], (ushort)(ipLen + 8 + p));
                BinaryPrimitives.WriteUInt16BigEndian(ip[4..], (ushort)(ipId + i));
                ip[6] = 0x40;
                ip[8] = 64;
                ip[9] = 17;
                H("c0000201 c6336402").CopyTo(ip[12..]);
                Rfc1071.FixIpv4(ip[..20]);
            }
            var udp = ip[ipLen..];
            BinaryPrimitives.WriteUInt16BigEndian(udp, 50000);
            BinaryPrimitives.WriteUInt16BigEndian(udp[2..], 5201);
            BinaryPrimitives.WriteUInt16BigEndian(udp[4..], (ushort)(8 + p));
            for (int k = 0; k < p; k++)
                udp[8 + k] = (byte)(i * 31 + k);
            Rfc1071.FixUdp(ip, v6, udp);
            frames.Add(frame);
        }
        return frames;
    }

    /// <summary>Contiguous TCP segments of one flow, every length and checksum right.</summary>
    private static List<byte[]> TcpRun(bool v6, uint seq, int count, int payload, int lastPayload = -1, bool pshLast = false)
    {
        var frames = new List<byte[]>();
        for (int i = 0; i < count; i++)
        {
            int p = i == count - 1 && lastPayload > 0 ? lastPayload : payload;
            byte flags = (byte)(0x10 | (pshLast && i == count - 1 ? 0x08 : 0));
            frames.Add(Tcp(v6, seq, p, flags, (ushort)(0x100 + i)));
            seq += (uint)p;
        }
        return frames;
    }

    private static byte[] Tcp(bool v6, uint seq, int payload, byte flags, ushort ipId)
    {
        int ipLen = v6 ? 40 : 20, tcpLen = 32;
        var frame = new byte[14 + ipLen + tcpLen + payload];
        H("020000000002 020000000001").CopyTo(frame, 0);
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(12), v6 ? (ushort)0x86dd : (ushort)0x0800);
        var ip = frame.AsSpan(14);
        if (v6)
        {
            H("60000000").CopyTo(ip);
            BinaryPrimitives.WriteUInt16BigEndian(ip[4..], (ushort)(tcpLen + payload));
            ip[6] = 6;
            ip[7] = 64;
            H("20010db8000000000000000000000001 20010db8000000010000000000000002").CopyTo(ip[8..]);
        }
        else
        {
            ip[0] = 0x45;
            BinaryPrimitives.WriteUInt16BigEndian(ip[2..], (ushort)(ipLen + tcpLen + payload));
            BinaryPrimitives.WriteUInt16BigEndian(ip[4..], ipId);
            ip[6] = 0x40;
            ip[8] = 64;
            ip[9] = 6;
            H("c0000201 c6336402").CopyTo(ip[12..]);
            Rfc1071.FixIpv4(ip[..20]);
        }
        var tcp = ip[ipLen..];
        BinaryPrimitives.WriteUInt16BigEndian(tcp, 50000);
        BinaryPrimitives.WriteUInt16BigEndian(tcp[2..], 5001);
        BinaryPrimitives.WriteUInt32BigEndian(tcp[4..], seq);
        BinaryPrimitives.WriteUInt32BigEndian(tcp[8..], 0x01020304);
        tcp[12] = (byte)(tcpLen / 4 << 4);
        tcp[13] = flags;
        BinaryPrimitives.WriteUInt16BigEndian(tcp[14..], 0x0200);
        H("0101080a1122334455667788").CopyTo(tcp[20..]);
        for (int i = 0; i < payload; i++)
            tcp[tcpLen + i] = (byte)(seq + i);
        Rfc1071.FixTcp(ip, v6, tcp);
        return frame;
    }

    private static IEnumerable<(string, byte[])> Control()
    {
        var udp4 = new TunnelSpec
        {
            TunnelId = 3000, PeerTunnelId = 4000, Local = IPAddress.Parse("192.0.2.1"), Remote = IPAddress.Parse("192.0.2.2"),
            SourcePort = 5000, DestinationPort = 6000, UdpChecksum = true,
        };
        var ip6 = new TunnelSpec
        {
            TunnelId = 1, PeerTunnelId = 2, Encapsulation = Encapsulation.Ip, Local = IPAddress.Parse("2001:db8::1"),
            Remote = IPAddress.Parse("2001:db8::2"),
        };
        var udp6 = ip6 with { Encapsulation = Encapsulation.Udp, Local = IPAddress.IPv6Any, SourcePort = 1701, DestinationPort = 1701, Udp6ChecksumRx = false };
        var session = new SessionSpec
        {
            TunnelId = 3000, SessionId = 1000, PeerSessionId = 2000, Cookie = H("01020304"), PeerCookie = H("0506070809101112"),
            Sequencing = SequencingMode.Both, InterfaceName = "l2tpeth7",
        };
        var plain = new SessionSpec { TunnelId = 1, SessionId = 5, PeerSessionId = 6, L2SpecType = L2SpecType.None };

        byte[] Msg(ushort type, ushort flags, byte cmd, Action<NetlinkWriter> attrs)
        {
            var w = new NetlinkWriter();
            w.Begin(type, flags, 42, 0).Genl(cmd, L2tpGenl.Version);
            attrs(w);
            return w.End().ToArray();
        }
        const ushort Req = Nl.F_REQUEST | Nl.F_ACK;
        ushort fam = ControlTarget.FamilyId;

        yield return ("getfamily", Msg(Nl.GENL_ID_CTRL, Req, Nl.CTRL_CMD_GETFAMILY, w => w.StringZ(Nl.CTRL_ATTR_FAMILY_NAME, L2tpGenl.FamilyName)));
        yield return ("tunnel-create-udp4", Msg(fam, Req, L2tpGenl.CMD_TUNNEL_CREATE, w => L2tpGenl.WriteTunnelCreate(w, udp4)));
        yield return ("tunnel-create-ip6", Msg(fam, Req, L2tpGenl.CMD_TUNNEL_CREATE, w => L2tpGenl.WriteTunnelCreate(w, ip6)));
        yield return ("tunnel-create-udp6", Msg(fam, Req, L2tpGenl.CMD_TUNNEL_CREATE, w => L2tpGenl.WriteTunnelCreate(w, udp6)));
        yield return ("session-create-cookies-seq", Msg(fam, Req, L2tpGenl.CMD_SESSION_CREATE, w => L2tpGenl.WriteSessionCreate(w, session)));
        yield return ("session-create-plain", Msg(fam, Req, L2tpGenl.CMD_SESSION_CREATE, w => L2tpGenl.WriteSessionCreate(w, plain)));
        yield return ("tunnel-get", Msg(fam, Req, L2tpGenl.CMD_TUNNEL_GET, w => w.U32(L2tpGenl.ATTR_CONN_ID, 3000)));
        yield return ("tunnel-dump", Msg(fam, Nl.F_REQUEST | Nl.F_DUMP, L2tpGenl.CMD_TUNNEL_GET, _ => { }));
        yield return ("session-get", Msg(fam, Req, L2tpGenl.CMD_SESSION_GET, w => w.U32(L2tpGenl.ATTR_CONN_ID, 3000).U32(L2tpGenl.ATTR_SESSION_ID, 1000)));
        yield return ("session-dump", Msg(fam, Nl.F_REQUEST | Nl.F_DUMP, L2tpGenl.CMD_SESSION_GET, _ => { }));
        yield return ("tunnel-delete", Msg(fam, Req, L2tpGenl.CMD_TUNNEL_DELETE, w => w.U32(L2tpGenl.ATTR_CONN_ID, 3000)));
        yield return ("session-delete", Msg(fam, Req, L2tpGenl.CMD_SESSION_DELETE, w => w.U32(L2tpGenl.ATTR_CONN_ID, 3000).U32(L2tpGenl.ATTR_SESSION_ID, 1000)));
        yield return ("stats-nested", Msg(fam, Req, L2tpGenl.CMD_TUNNEL_GET, w => L2tpGenl.WriteTunnel(w, udp4, new L2tpStatistics { RxPackets = 5, TxBytes = 7 })));
        // Several requests in one datagram, as a client may batch them.
        yield return ("batch", Cat(
            Msg(fam, Req, L2tpGenl.CMD_TUNNEL_CREATE, w => L2tpGenl.WriteTunnelCreate(w, udp4)),
            Msg(fam, Req, L2tpGenl.CMD_SESSION_CREATE, w => L2tpGenl.WriteSessionCreate(w, session)),
            Msg(fam, Nl.F_REQUEST | Nl.F_DUMP, L2tpGenl.CMD_SESSION_GET, _ => { })));
    }
}
