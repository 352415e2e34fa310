using System.Buffers.Binary;
using System.Text;
using L2tp.Netlink;
using Xunit;
using static L2tp.Tests.Hex;

namespace L2tp.Tests;

/// <summary>
/// An in-memory transport: each Send records the request and queues the scripted reply buffers (built from the
/// request, so they can echo its sequence number); each Receive hands out one queued buffer.
/// </summary>
internal sealed class ScriptedTransport : INetlinkTransport
{
    private readonly Func<byte[], uint, IEnumerable<byte[]>> _script;
    private readonly Queue<byte[]> _pending = new();
    public List<byte[]> Sent { get; } = new();
    public int Receives { get; private set; }
    public int Pending => _pending.Count;
    public bool Disposed { get; private set; }

    public ScriptedTransport(Func<byte[], uint, IEnumerable<byte[]>> script) => _script = script;

    public void Send(ReadOnlySpan<byte> buffer)
    {
        var req = buffer.ToArray();
        Sent.Add(req);
        foreach (var r in _script(req, BinaryPrimitives.ReadUInt32LittleEndian(req.AsSpan(8))))
            _pending.Enqueue(r);
    }

    public int Receive(Span<byte> buffer)
    {
        if (!_pending.TryDequeue(out var r))
            throw new InvalidOperationException("the client asked for a reply that was never sent");
        Receives++;
        r.CopyTo(buffer);
        return r.Length;
    }

    public void Dispose() => Disposed = true;
}

/// <summary>Hand-built netlink replies (independent of NetlinkWriter).</summary>
internal static class Replies
{
    public const ushort Family = 0x1c;

    public static byte[] Data(uint seq, byte cmd, uint connId, ushort flags = 0x2) =>
        Bytes.Message(Family, flags, seq, 0, new Bytes().U8(cmd).U8(1).U16(0).Attr(9, BitConverter.GetBytes(connId)).ToArray());

    public static byte[] Done(uint seq) => Bytes.Message(3, 0x2, seq, 0, new byte[4]);

    public static byte[] Noop(uint seq) => Bytes.Message(1, 0, seq, 0, Array.Empty<byte>());

    /// <summary>NLMSG_ERROR as af_netlink.c netlink_ack builds it.</summary>
    public static byte[] Error(uint seq, int errno, byte[] request, bool capped, params (ushort Type, byte[] Value)[] tlvs)
    {
        var p = new Bytes().I32(-errno);
        if (capped || errno == 0)
            p.Raw(request[..16]);
        else
            p.Raw(request).Pad();
        foreach (var (type, value) in tlvs)
            p.Attr(type, value);
        ushort flags = (ushort)((capped || errno == 0 ? 0x100 : 0) | (tlvs.Length > 0 ? 0x200 : 0));
        return Bytes.Message(2, flags, seq, 0, p.ToArray());
    }

    public static byte[] Ack(uint seq, byte[] request) => Error(seq, 0, request, true);

    public static (ushort, byte[]) Msg(string text) => (1, Encoding.UTF8.GetBytes(text + "\0"));
    public static (ushort, byte[]) Offs(uint offset) => (2, BitConverter.GetBytes(offset));
}

public class NetlinkErrorParseTests
{
    // TUNNEL_CREATE request, 28 bytes: nlmsghdr, genl header, CONN_ID.
    private static readonly byte[] Request = B("1c000000 1c00 0500 09000000 00000000 01010000 0800 0900 64000000");

    private static NetlinkMessage One(byte[] buf) => Assert.Single(NetlinkMessage.Split(buf));

    [Fact]
    public void Uncapped_error_with_ext_ack_message_after_the_echoed_request()
    {
        var reply = B(
            "60000000 0200 0002 09000000 00000000" +           // NLMSG_ERROR, flags ACK_TLVS, len 96
            "deffffff" +                                       // error -34 (ERANGE)
            "1c000000 1c00 0500 09000000 00000000 01010000 0800 0900 64000000" +   // the whole request
            "2700 0100 41747472696275746520666169" +            // MSG "Attribute fai..." len 4+35
            "6c656420706f6c6963792076616c69646174696f6e00 00" +
            "0800 0200 14000000");                              // OFFS 20
        Assert.Equal(0x60, reply.Length);
        var (errno, text) = NetlinkClient.ParseError(One(reply));
        Assert.Equal(34, errno);
        Assert.Equal("Attribute failed policy validation", text);
    }

    [Fact]
    public void Capped_error_with_ext_ack_has_only_the_echoed_header_before_the_TLVs()
    {
        var reply = B(
            "2c000000 0200 0003 09000000 00000000" +           // flags CAPPED|ACK_TLVS, len 44
            "edffffff" +                                       // -19 ENODEV
            "1c000000 1c00 0500 09000000 00000000" +           // header only, its len still says 28
            "0800 0100 6e6f2100");                             // MSG "no!"
        var (errno, text) = NetlinkClient.ParseError(One(reply));
        Assert.Equal(19, errno);
        Assert.Equal("no!", text);
    }

    [Fact]
    public void Uncapped_echo_of_an_unaligned_request_is_skipped_with_its_padding()
    {
        var request = new Bytes().U32(21).U16(0x1c).U16(5).U32(3).U32(0).Raw(1, 2, 3, 4, 5).ToArray();   // 21 bytes
        var reply = Replies.Error(3, 22, request, capped: false, Replies.Msg("bad"));
        var (errno, text) = NetlinkClient.ParseError(One(reply));
        Assert.Equal(22, errno);
        Assert.Equal("bad", text);
    }

    [Fact]
    public void Message_TLV_is_found_after_other_TLVs()
    {
        var reply = Replies.Error(9, 17, Request, capped: true, Replies.Offs(20), (3, B("0102030405060708")), Replies.Msg("Tunnel exists"));
        Assert.Equal((17, "Tunnel exists"), NetlinkClient.ParseError(One(reply)));
    }

    [Fact]
    public void Error_without_ACK_TLVS_has_no_message()
    {
        Assert.Equal((22, (string?)null), NetlinkClient.ParseError(One(Replies.Error(9, 22, Request, capped: false))));
        Assert.Equal((1, (string?)null), NetlinkClient.ParseError(One(Replies.Error(9, 1, Request, capped: true))));
    }

    [Fact]
    public void Ack_is_errno_0()
    {
        var reply = B("24000000 0200 0001 09000000 00000000 00000000 1c000000 1c00 0500 09000000 00000000");
        Assert.Equal((0, (string?)null), NetlinkClient.ParseError(One(reply)));
    }

    [Theory]
    [InlineData(0xFFFFFFFFu)]   // negative once cast to int
    [InlineData(0x80000000u)]
    [InlineData(0x7FFFFFFFu)]
    [InlineData(0x00000000u)]   // shorter than a header: the "TLVs" would start inside the echoed header
    public void Error_reply_with_a_corrupt_echoed_length_still_gives_the_errno(uint echoedLen)
    {
        var reply = Bytes.Message(2, 0x200, 9, 0, new Bytes().I32(-17)
            .U32(echoedLen).U16(0x1c).U16(5).U32(9).U32(0)
            .Attr(1, Encoding.UTF8.GetBytes("x\0")).ToArray());
        var (errno, _) = NetlinkClient.ParseError(One(reply));
        Assert.Equal(17, errno);
    }

    [Fact]
    public void Error_payload_shorter_than_the_errno_throws_InvalidDataException()
    {
        var m = One(Bytes.Message(2, 0, 1, 0, new byte[] { 0xff, 0xff }));
        Assert.Throws<InvalidDataException>(() => NetlinkClient.ParseError(m));
    }

    [Fact]
    public void ACK_TLVS_flag_with_a_payload_too_short_for_the_echoed_header_gives_no_message()
    {
        var m = One(Bytes.Message(2, 0x200, 1, 0, B("eaffffff 1c000000")));
        Assert.Equal((22, (string?)null), NetlinkClient.ParseError(m));
    }
}

public class NetlinkClientTests
{
    private static uint SeqOf(byte[] msg) => BinaryPrimitives.ReadUInt32LittleEndian(msg.AsSpan(8));
    private static ushort FlagsOf(byte[] msg) => BinaryPrimitives.ReadUInt16LittleEndian(msg.AsSpan(6));
    private static ushort TypeOf(byte[] msg) => BinaryPrimitives.ReadUInt16LittleEndian(msg.AsSpan(4));
    private static uint ConnId(NetlinkMessage m) => m.GenlAttributes.U32(9);

    [Fact]
    public void Dump_reply_split_across_two_receives_is_collected_up_to_NLMSG_DONE()
    {
        var t = new ScriptedTransport((req, seq) => new[]
        {
            Bytes.Concat(Replies.Data(seq, 4, 1), Replies.Data(seq, 4, 2)),
            Bytes.Concat(Replies.Data(seq, 4, 3), Replies.Done(seq)),
        });
        using var c = new NetlinkClient(t);
        var list = c.Request(Replies.Family, Nl.F_DUMP, w => w.Genl(4, 1));

        Assert.Equal(new uint[] { 1, 2, 3 }, list.Select(ConnId));
        Assert.All(list, m => Assert.Equal(4, m.GenlCommand));
        Assert.Equal(2, t.Receives);
        var sent = Assert.Single(t.Sent);
        Assert.Equal(0x0305, FlagsOf(sent));   // REQUEST | ACK | ROOT | MATCH
        Assert.Equal(Replies.Family, TypeOf(sent));
        Assert.Equal(B("04010000"), sent[16..20]);
        Assert.Equal(20u, BinaryPrimitives.ReadUInt32LittleEndian(sent));
    }

    [Fact]
    public void Dump_reply_payloads_stay_valid_after_later_receives_reuse_the_buffer()
    {
        var t = new ScriptedTransport((req, seq) => new[]
        {
            Replies.Data(seq, 4, 0x11111111),
            Replies.Data(seq, 4, 0x22222222),
            Replies.Done(seq),
        });
        using var c = new NetlinkClient(t);
        var list = c.Request(Replies.Family, Nl.F_DUMP, w => w.Genl(4, 1));
        Assert.Equal(new uint[] { 0x11111111, 0x22222222 }, list.Select(ConnId));
    }

    [Fact]
    public void Stale_replies_with_another_seq_are_skipped()
    {
        var t = new ScriptedTransport((req, seq) => new[]
        {
            Bytes.Concat(Replies.Data(seq - 1, 4, 99), Replies.Error(seq - 1, 17, req, true, Replies.Msg("old")), Replies.Done(seq - 1)),
            Bytes.Concat(Replies.Data(seq + 7, 4, 98), Replies.Data(seq, 4, 5), Replies.Done(seq)),
        });
        using var c = new NetlinkClient(t);
        var list = c.Request(Replies.Family, Nl.F_DUMP, w => w.Genl(4, 1));
        Assert.Equal(new uint[] { 5 }, list.Select(ConnId));
    }

    [Fact]
    public void Stale_ack_does_not_end_a_non_dump_request()
    {
        var t = new ScriptedTransport((req, seq) => new[]
        {
            Replies.Ack(seq - 1, req),
            Bytes.Concat(Replies.Data(seq, 4, 8, flags: 0x4), Replies.Ack(seq, req)),
        });
        using var c = new NetlinkClient(t);
        var list = c.Request(Replies.Family, 0, w => w.Genl(4, 1).U32(9, 8));
        Assert.Equal(new uint[] { 8 }, list.Select(ConnId));
        Assert.Equal(2, t.Receives);
    }

    [Fact]
    public void Error_reply_throws_NetlinkException_with_errno_and_extended_ack()
    {
        var t = new ScriptedTransport((req, seq) => new[]
        {
            Replies.Error(seq, 17, req, capped: true, Replies.Msg("Tunnel 100 exists"), Replies.Offs(20)),
        });
        using var c = new NetlinkClient(t);
        var e = Assert.Throws<NetlinkException>(() => c.Request(Replies.Family, 0, w => w.Genl(1, 1).U32(9, 100)));
        Assert.Equal(17, e.Errno);
        Assert.Equal("Tunnel 100 exists", e.ExtendedAck);
        Assert.Contains("Tunnel 100 exists", e.Message);
        Assert.Contains("errno 17", e.Message);
    }

    [Fact]
    public void Uncapped_error_reply_without_extended_ack_throws_with_null_text()
    {
        var t = new ScriptedTransport((req, seq) => new[] { Replies.Error(seq, 19, req, capped: false) });
        using var c = new NetlinkClient(t);
        var e = Assert.Throws<NetlinkException>(() => c.Request(Replies.Family, 0, w => w.Genl(2, 1).U32(9, 100)));
        Assert.Equal(19, e.Errno);
        Assert.Null(e.ExtendedAck);
    }

    [Fact]
    public void Error_in_the_middle_of_a_dump_throws()
    {
        var t = new ScriptedTransport((req, seq) => new[]
        {
            Replies.Data(seq, 4, 1),
            Replies.Error(seq, 1, req, capped: true, Replies.Msg("Operation not permitted")),
        });
        using var c = new NetlinkClient(t);
        var e = Assert.Throws<NetlinkException>(() => c.Request(Replies.Family, Nl.F_DUMP, w => w.Genl(4, 1)));
        Assert.Equal(1, e.Errno);
    }

    [Fact]
    public void Non_dump_request_returns_after_the_ack_without_reading_further()
    {
        var t = new ScriptedTransport((req, seq) => new[]
        {
            Replies.Data(seq, 4, 42, flags: 0x4),
            Replies.Ack(seq, req),
            Replies.Data(seq, 4, 43),       // must not be read by this request
        });
        using var c = new NetlinkClient(t);
        var list = c.Request(Replies.Family, 0, w => w.Genl(4, 1).U32(9, 42));
        Assert.Equal(new uint[] { 42 }, list.Select(ConnId));
        Assert.Equal(2, t.Receives);
        Assert.Equal(1, t.Pending);
        var sent = Assert.Single(t.Sent);
        Assert.Equal(0x0005, FlagsOf(sent));   // REQUEST | ACK
        Assert.Equal(B("1c000000 1c00 0500"), sent[..8]);
        Assert.Equal(B("04010000 0800 0900 2a000000"), sent[16..]);
    }

    [Fact]
    public void Create_request_with_only_an_ack_returns_no_messages()
    {
        var t = new ScriptedTransport((req, seq) => new[] { Bytes.Concat(Replies.Noop(seq), Replies.Ack(seq, req)) });
        using var c = new NetlinkClient(t);
        Assert.Empty(c.Request(Replies.Family, Nl.F_EXCL | Nl.F_CREATE, w => w.Genl(1, 1)));
        Assert.Equal(0x0605, FlagsOf(t.Sent[0]));
    }

    [Fact]
    public void Each_request_gets_the_next_sequence_number()
    {
        var t = new ScriptedTransport((req, seq) => new[] { Replies.Ack(seq, req) });
        using var c = new NetlinkClient(t);
        c.Request(Replies.Family, 0, w => w.Genl(0, 1));
        c.Request(Replies.Family, 0, w => w.Genl(0, 1));
        c.Request(Replies.Family, 0, w => w.Genl(0, 1));
        Assert.Equal(SeqOf(t.Sent[0]) + 1, SeqOf(t.Sent[1]));
        Assert.Equal(SeqOf(t.Sent[1]) + 1, SeqOf(t.Sent[2]));
    }

    [Fact]
    public void ResolveFamily_sends_CTRL_GETFAMILY_with_the_name_and_caches_the_id()
    {
        var t = new ScriptedTransport((req, seq) => new[]
        {
            Bytes.Concat(
                Bytes.Message(0x10, 0, seq, 0, new Bytes().U8(1).U8(2).U16(0)
                    .Attr(2, Encoding.ASCII.GetBytes("l2tp\0")).Attr(1, B("1d00")).Attr(3, B("01000000")).ToArray()),
                Replies.Ack(seq, req)),
        });
        using var c = new NetlinkClient(t);
        Assert.Equal((ushort)0x1d, c.ResolveFamily("l2tp"));
        Assert.Equal((ushort)0x1d, c.ResolveFamily("l2tp"));
        var sent = Assert.Single(t.Sent);
        // nlmsghdr (type GENL_ID_CTRL, REQUEST|ACK), genl cmd 3 version 1, CTRL_ATTR_FAMILY_NAME "l2tp\0" padded.
        Assert.Equal(B("20000000 1000 0500"), sent[..8]);
        Assert.Equal(B("03010000 0900 0200 6c327470 00 000000"), sent[16..]);
    }

    [Fact]
    public void ResolveFamily_of_an_unknown_family_is_null()
    {
        var t = new ScriptedTransport((req, seq) => new[] { Replies.Error(seq, 2, req, capped: true) });
        using var c = new NetlinkClient(t);
        Assert.Null(c.ResolveFamily("nope"));
    }

    [Fact]
    public void Dispose_disposes_the_transport()
    {
        var t = new ScriptedTransport((_, _) => Array.Empty<byte[]>());
        new NetlinkClient(t).Dispose();
        Assert.True(t.Disposed);
    }
}
