using System.Buffers;
using System.Buffers.Binary;

namespace L2tp.Netlink;

/// <summary>A refusal from the kernel or forwarder: errno plus the extended-ack text when one was sent.</summary>
internal sealed class NetlinkException : Exception
{
    public int Errno { get; }
    public string? ExtendedAck { get; }

    public NetlinkException(int errno, string? extendedAck)
        : base((extendedAck is { Length: > 0 } ? extendedAck + " " : "") +
               $"({System.Runtime.InteropServices.Marshal.GetPInvokeErrorMessage(errno)}, errno {errno})")
    {
        Errno = errno;
        ExtendedAck = extendedAck;
    }
}

/// <summary>One request/reply path over a transport: sequence numbers, multi-part dumps, acks and error replies.</summary>
internal sealed class NetlinkClient : IDisposable
{
    private readonly INetlinkTransport _transport;
    /// <summary>
    /// Room for the largest reply packet. Rented, not allocated: a cmdlet opens a client or two per call, and 256 KB
    /// arrays go to the large object heap, whose churn made a loop of cmdlets spend most of its time in the GC.
    /// </summary>
    private byte[]? _rx = ArrayPool<byte>.Shared.Rent(256 * 1024);
    private readonly NetlinkWriter _tx = new();
    private uint _seq = (uint)Environment.TickCount;
    // Ids boxed (object, not ushort): a Dictionary<string, ushort> is runtime code JIT-compiled in every process.
    private readonly Dictionary<string, object> _families = new();

    public NetlinkClient(INetlinkTransport transport) => _transport = transport;

    /// <summary>
    /// True when every request so far was answered to its end (ack, NLMSG_DONE or an error reply): the socket holds
    /// no reply still on its way, so another caller may take it over (the kernel backend keeps such sockets).
    /// </summary>
    public bool Settled { get; private set; } = true;

    /// <summary>
    /// Sends one request (built by <paramref name="body"/> after the header) and returns the data replies:
    /// for a dump every part up to NLMSG_DONE, otherwise up to the ack. An error reply throws <see cref="NetlinkException"/>.
    /// </summary>
    public List<NetlinkMessage> Request(ushort type, ushort flags, Action<NetlinkWriter> body)
    {
        Settled = false;
        uint seq = ++_seq;
        bool dump = (flags & Nl.F_DUMP) == Nl.F_DUMP;
        _tx.Clear();
        _tx.Begin(type, (ushort)(flags | Nl.F_REQUEST | Nl.F_ACK), seq);
        body(_tx);
        _tx.End();
        _transport.Send(_tx.Span);

        var replies = new List<NetlinkMessage>();
        while (true)
        {
            var rx = _rx ?? throw new ObjectDisposedException(nameof(NetlinkClient));
            int n = _transport.Receive(rx);
            // Copy out: the receive buffer is reused for the next part.
            var chunk = rx.AsSpan(0, n).ToArray();
            foreach (var m in NetlinkMessage.Split(chunk))
            {
                if (m.Seq != seq)
                    continue;   // a stale reply to an earlier, abandoned request
                switch (m.Type)
                {
                    case Nl.DONE:
                        Settled = true;
                        // A dump the kernel refused (a strict socket's check of the request, a device gone) ends
                        // with its errno in NLMSG_DONE, not in an error reply: it is a refusal, not an empty answer.
                        if (ParseDone(m) is { Errno: > 0 } refused)
                            throw new NetlinkException(refused.Errno, refused.Message);
                        return replies;
                    case Nl.ERROR:
                        var (errno, ack) = ParseError(m);
                        Settled = errno != 0 || !dump;
                        if (errno != 0)
                            throw new NetlinkException(errno, ack);
                        if (!dump)
                            return replies;
                        break;
                    case Nl.NOOP:
                        break;
                    default:
                        // Every request asks for an ack, so even a single reply is followed by one: wait for it.
                        replies.Add(m);
                        break;
                }
            }
        }
    }

    /// <summary>
    /// Requests sent in one buffer at a time: at most this many unanswered, so their acks (a few hundred bytes of
    /// receive buffer each, counted by the kernel at the skb's true size) fit the socket's default 208 KB.
    /// </summary>
    public const int PipelineWindow = 64;

    /// <summary>
    /// Sends <paramref name="count"/> requests pipelined (request i built by <paramref name="body"/>): up to
    /// <paramref name="window"/> of them written in one send, each with its own sequence number and NLM_F_ACK, then
    /// their acks read and matched by sequence number before the next window goes. Returns per request its refusal, or
    /// null when it was acked; requests in windows after one with a refusal are not sent unless
    /// <paramref name="pastRefusal"/> (their entries stay null, and <paramref name="sent"/> says how many went). Data
    /// replies (a GET's) are read and dropped: this is for requests whose answer is the ack. Not for dumps.
    /// </summary>
    public NetlinkException?[] Pipeline(int count, ushort type, ushort flags, Action<int, NetlinkWriter> body, out int sent,
        int window = PipelineWindow, bool pastRefusal = false, CancellationToken cancel = default)
    {
        if ((flags & Nl.F_DUMP) == Nl.F_DUMP)
            throw new ArgumentException("a dump cannot be pipelined: its parts end with NLMSG_DONE, not an ack", nameof(flags));
        ArgumentOutOfRangeException.ThrowIfLessThan(window, 1);
        var refusals = new NetlinkException?[count];
        sent = 0;
        bool refused = false;
        var answered = new bool[Math.Min(window, Math.Max(count, 1))];
        while (sent < count && (pastRefusal || !refused) && !cancel.IsCancellationRequested)
        {
            int n = Math.Min(window, count - sent);
            uint first = _seq + 1;
            _tx.Clear();
            for (int i = 0; i < n; i++)
            {
                _tx.Begin(type, (ushort)(flags | Nl.F_REQUEST | Nl.F_ACK), ++_seq);
                body(sent + i, _tx);
                _tx.End();
            }
            Settled = false;
            _transport.Send(_tx.Span);
            Array.Clear(answered);
            int open = n;
            while (open > 0)
            {
                var rx = _rx ?? throw new ObjectDisposedException(nameof(NetlinkClient));
                int got = _transport.Receive(rx);
                foreach (var m in NetlinkMessage.Split(rx.AsSpan(0, got).ToArray()))
                {
                    // Unsigned: a window that wraps the sequence space still maps to 0..n-1; anything else is stale.
                    uint k = m.Seq - first;
                    if (k >= (uint)n || m.Type != Nl.ERROR || answered[k])
                        continue;
                    answered[k] = true;
                    open--;
                    var (errno, ack) = ParseError(m);
                    if (errno != 0)
                    {
                        refusals[sent + (int)k] = new NetlinkException(errno, ack);
                        refused = true;
                    }
                }
            }
            sent += n;
            Settled = true;
        }
        return refusals;
    }

    /// <summary>A generic-netlink request to a family by id.</summary>
    public List<NetlinkMessage> Genl(ushort familyId, byte cmd, byte version, ushort flags, Action<NetlinkWriter> attrs) =>
        Request(familyId, flags, w => { w.Genl(cmd, version); attrs(w); });

    /// <summary>Resolves a generic-netlink family id by name (cached unless <paramref name="fresh"/>); null when the peer has no such family.</summary>
    public ushort? ResolveFamily(string name, bool fresh = false)
    {
        if (!fresh && _families.TryGetValue(name, out var id))
            return (ushort)id;
        _families.Remove(name);
        try
        {
            var replies = Genl(Nl.GENL_ID_CTRL, Nl.CTRL_CMD_GETFAMILY, 1, 0, w => w.StringZ(Nl.CTRL_ATTR_FAMILY_NAME, name));
            foreach (var r in replies)
            {
                var a = r.GenlAttributes;
                if (a.Has(Nl.CTRL_ATTR_FAMILY_ID))
                {
                    ushort found = a.U16(Nl.CTRL_ATTR_FAMILY_ID);
                    _families[name] = found;
                    return found;
                }
            }
            return null;
        }
        catch (NetlinkException e) when (e.Errno == Tmds.Linux.LibC.ENOENT)
        {
            return null;
        }
    }

    /// <summary>Reads errno (negated in the reply) and the NLMSGERR_ATTR_MSG text from an NLMSG_ERROR message.</summary>
    public static (int Errno, string? Message) ParseError(NetlinkMessage m)
    {
        var p = m.Payload.Span;
        if (p.Length < 4)
            throw new InvalidDataException("truncated netlink error reply");
        int errno = -BinaryPrimitives.ReadInt32LittleEndian(p);
        string? text = null;
        if ((m.Flags & Nl.F_ACK_TLVS) != 0 && p.Length >= 4 + Nl.HeaderLength)
        {
            // The echoed request header, then (unless capped) its payload, then the TLVs. A corrupt echoed length
            // costs only the message text, never the errno.
            uint echoedLen = BinaryPrimitives.ReadUInt32LittleEndian(p[4..]);
            long tlvStart = 4 + ((m.Flags & Nl.F_CAPPED) != 0 ? Nl.HeaderLength : (((long)echoedLen + 3) & ~3L));
            if (echoedLen >= Nl.HeaderLength && tlvStart <= p.Length)
            {
                try { text = NetlinkAttributes.Parse(m.Payload[(int)tlvStart..]).String(Nl.NLMSGERR_ATTR_MSG); }
                catch (InvalidDataException) { text = null; }
            }
        }
        return (errno, text);
    }

    /// <summary>
    /// Reads the errno a dump ended with (NLMSG_DONE's payload, negated; 0 for an empty payload) and the
    /// NLMSGERR_ATTR_MSG text that follows it when the kernel set NLM_F_ACK_TLVS.
    /// </summary>
    public static (int Errno, string? Message) ParseDone(NetlinkMessage m)
    {
        var p = m.Payload.Span;
        if (p.Length < 4)
            return (0, null);
        int errno = -BinaryPrimitives.ReadInt32LittleEndian(p);
        string? text = null;
        if (errno > 0 && (m.Flags & Nl.F_ACK_TLVS) != 0)
        {
            try { text = NetlinkAttributes.Parse(m.Payload[4..]).String(Nl.NLMSGERR_ATTR_MSG); }
            catch (InvalidDataException) { text = null; }
        }
        return (errno, text);
    }

    public void Dispose()
    {
        _transport.Dispose();
        if (Interlocked.Exchange(ref _rx, null) is { } rx)
            ArrayPool<byte>.Shared.Return(rx);
    }
}
