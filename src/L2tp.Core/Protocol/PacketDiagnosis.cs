using System.Buffers.Binary;

namespace L2tp.Protocol;

/// <summary>
/// One kind of undeliverable packet as a table records it: its kind, the session id it named (or was for), and the value
/// that tells what the peer sent (a session id, cookie bytes, a port, a length). Address and port are those of a
/// captured packet's source (zero where the forwarder records it: its socket admits the peer only).
/// </summary>
internal struct DiagnosisEntry
{
    public L2tpFindingKind Kind;
    public uint SessionId;
    public ulong Value;
    /// <summary>Meaningful bytes of <see cref="Value"/> (a cookie's length), or 0.</summary>
    public byte Length;
    public long Count;
    /// <summary>Milliseconds on the recorder's clock (Environment.TickCount64 in the forwarder, Unix time once read).</summary>
    public long LastSeen;
    public UInt128 Address;
    public bool AddressIsV6;
    public ushort Port;

    public readonly bool SameAs(L2tpFindingKind kind, uint session, ulong value, byte length, UInt128 address, ushort port) =>
        Kind == kind && SessionId == session && Value == value && Length == length && Address == address && Port == port;
}

/// <summary>
/// A small fixed table of what a tunnel received and could not deliver: <see cref="Capacity"/> entries, each a kind and
/// value with a count and a last-seen time, the least recently seen evicted for a new one. Written by one thread (the
/// forwarder's receive loop) without allocating; read by another through a sequence count, so a reader never sees an
/// entry half written.
/// </summary>
internal sealed class DiagnosisTable
{
    public const int Capacity = 8;
    private readonly DiagnosisEntry[] _entries = new DiagnosisEntry[Capacity];
    private int _sequence;

    /// <summary>Counts one packet of this kind and value (writer thread only).</summary>
    public void Record(L2tpFindingKind kind, uint session, ulong value, byte length, long now, UInt128 address = default,
        bool v6 = false, ushort port = 0)
    {
        // The slot to take for a new entry: a free one, else the least recently seen.
        int victim = 0;
        long victimKey = long.MaxValue;
        for (int i = 0; i < Capacity; i++)
        {
            ref var e = ref _entries[i];
            if (e.Count > 0 && e.SameAs(kind, session, value, length, address, port))
            {
                Volatile.Write(ref _sequence, _sequence + 1);
                e.Count++;
                e.LastSeen = now;
                Volatile.Write(ref _sequence, _sequence + 1);
                return;
            }
            long key = e.Count == 0 ? long.MinValue : e.LastSeen;
            if (key < victimKey)
            {
                victimKey = key;
                victim = i;
            }
        }
        Volatile.Write(ref _sequence, _sequence + 1);
        _entries[victim] = new DiagnosisEntry
        {
            Kind = kind, SessionId = session, Value = value, Length = length, Count = 1, LastSeen = now,
            Address = address, AddressIsV6 = v6, Port = port,
        };
        Volatile.Write(ref _sequence, _sequence + 1);
    }

    /// <summary>The entries in use, as one consistent picture (any thread).</summary>
    public List<DiagnosisEntry> Snapshot()
    {
        var copy = new DiagnosisEntry[Capacity];
        for (int attempt = 0; ; attempt++)
        {
            int before = Volatile.Read(ref _sequence);
            if ((before & 1) == 0 || attempt > 1000)
            {
                Array.Copy(_entries, copy, Capacity);
                Interlocked.MemoryBarrier();
                if (Volatile.Read(ref _sequence) == before || attempt > 1000)
                    break;
            }
            Thread.SpinWait(10);
        }
        return copy.Where(e => e.Count > 0).ToList();
    }
}

/// <summary>What a session requires of what it receives: the settings a received packet is judged by.</summary>
internal readonly record struct SessionExpectation(uint SessionId, byte[] PeerCookie, L2SpecType L2SpecType, bool RecvSequence, int MaxFrame);

/// <summary>
/// Why a packet that reached a tunnel is not what its session expects: the analysis the forwarder runs on packets it
/// drops (or suspects) and Test-L2tpSession on packets it captures. No I/O, no allocation: the forwarder calls it from
/// its receive loop, off the path of good packets.
/// </summary>
internal static class PacketDiagnosis
{
    /// <summary>RFC 4719's reserved bits of the default sublayer word: a peer that sends one leaves them zero.</summary>
    public const uint SublayerReserved = 0xBF00_0000;

    /// <summary>
    /// The cheap test run on each delivered packet: false when its frame starts as one of the common Ethernet types
    /// would (and the sublayer word, if any, has its reserved bits clear); then the packet needs no closer look.
    /// </summary>
    public static bool Suspicious(ReadOnlySpan<byte> packet, int payload, L2SpecType l2spec)
    {
        if (l2spec == L2SpecType.Default && (BinaryPrimitives.ReadUInt32BigEndian(packet[(payload - 4)..]) & SublayerReserved) != 0)
            return true;
        return !PlausibleFrame(packet[payload..]);
    }

    /// <summary>A frame whose ethertype is a common one and whose next bytes fit it (IPv4 header, IPv6 version, ARP).</summary>
    public static bool PlausibleFrame(ReadOnlySpan<byte> frame)
    {
        if (frame.Length < 16)
            return false;
        ushort type = BinaryPrimitives.ReadUInt16BigEndian(frame[12..]);
        byte next = frame[14];
        return type switch
        {
            0x0800 => (next & 0xF0) == 0x40 && (next & 0x0F) >= 5,
            0x86DD => (next & 0xF0) == 0x60,
            0x0806 => next == 0x00 && frame[15] == 0x01,
            0x8100 or 0x88A8 or 0x88CC or 0x8847 or 0x8848 or 0x8863 or 0x8864 or 0x88E5 or 0x88B5 or 0x88B6 => true,
            _ => false,
        };
    }

    /// <summary>
    /// The header layout the bytes after the session id fit best: a cookie of 0, 4 or 8 bytes and a sublayer or none,
    /// tried the expected layout first; null when none gives a plausible Ethernet frame.
    /// </summary>
    public static (int CookieLength, bool Sublayer)? GuessLayout(ReadOnlySpan<byte> rest, int expectedCookie, bool expectedSublayer)
    {
        if (Fits(rest, expectedCookie, expectedSublayer))
            return (expectedCookie, expectedSublayer);
        for (int c = 0; c <= 8; c += 4)
            for (int k = 0; k < 2; k++)
            {
                bool sub = k == 0 ? expectedSublayer : !expectedSublayer;
                if ((c != expectedCookie || sub != expectedSublayer) && Fits(rest, c, sub))
                    return (c, sub);
            }
        return null;
    }

    private static bool Fits(ReadOnlySpan<byte> rest, int cookie, bool sublayer)
    {
        int o = cookie + (sublayer ? 4 : 0);
        if (rest.Length < o + 16)
            return false;
        if (sublayer && (BinaryPrimitives.ReadUInt32BigEndian(rest[cookie..]) & SublayerReserved) != 0)
            return false;
        return PlausibleFrame(rest[o..]);
    }

    /// <summary>Up to 8 bytes as a big-endian number (cookies are recorded so).</summary>
    public static ulong Pack(ReadOnlySpan<byte> bytes)
    {
        ulong v = 0;
        for (int i = 0; i < bytes.Length && i < 8; i++)
            v = (v << 8) | bytes[i];
        return v;
    }

    /// <summary>The bytes <see cref="Pack"/> made, as lower-case hex.</summary>
    public static string Unpack(ulong value, int length)
    {
        Span<byte> b = stackalloc byte[8];
        for (int i = length - 1; i >= 0; i--, value >>= 8)
            b[i] = (byte)value;
        return Cookie.Format(b[..length]);
    }

    /// <summary>
    /// What the header after the session id at <paramref name="offset"/> shows, for a packet of a known session that was
    /// refused for its cookie or looked suspicious: which mismatch it is and its value. Kind 0: nothing to tell (a
    /// frame of an uncommon type that fits the session's own layout no worse than any other).
    /// </summary>
    public static (L2tpFindingKind Kind, ulong Value, byte Length) ExplainHeader(ReadOnlySpan<byte> packet, int offset,
        ReadOnlySpan<byte> peerCookie, L2SpecType l2spec)
    {
        var rest = packet[offset..];
        bool sub = l2spec == L2SpecType.Default;
        int cookie = peerCookie.Length;
        bool cookieOk = rest.Length >= cookie && rest[..cookie].SequenceEqual(peerCookie);
        var guess = GuessLayout(rest, cookie, sub);
        if (guess is { } g)
        {
            if (g.CookieLength == 0 && cookie > 0)
                return (L2tpFindingKind.CookieMissing, 0, 0);
            if (g.CookieLength > 0 && cookie == 0)
                return (L2tpFindingKind.CookieUnexpected, Pack(rest[..g.CookieLength]), (byte)g.CookieLength);
            if (g.CookieLength != cookie || !rest[..cookie].SequenceEqual(peerCookie))
                return (L2tpFindingKind.CookieMismatch, Pack(rest[..g.CookieLength]), (byte)g.CookieLength);
            if (g.Sublayer != sub)
                return (sub ? L2tpFindingKind.SublayerMissing : L2tpFindingKind.SublayerUnexpected, 0, 0);
            return (0, 0, 0);
        }
        if (!cookieOk)
        {
            int n = Math.Min(cookie, rest.Length);
            return (L2tpFindingKind.CookieMismatch, Pack(rest[..n]), (byte)n);
        }
        return (0, 0, 0);
    }

    /// <summary>
    /// The whole analysis of one L2TP packet (after any IP and UDP header) against a tunnel's sessions, for a captured
    /// packet: Kind 0 when the session would take it. <paramref name="delivered"/> names the session of a good packet.
    /// </summary>
    public static (L2tpFindingKind Kind, uint Session, ulong Value, byte Length) Classify(ReadOnlySpan<byte> packet,
        Encapsulation encap, Func<uint, SessionExpectation?> find, out uint delivered)
    {
        delivered = 0;
        var reason = L2tpHeader.ReadSessionId(packet, encap, out uint sid, out int offset);
        switch (reason)
        {
            case DropReason.BadVersion:
                return (L2tpFindingKind.WrongVersion, 0, (ulong)(BinaryPrimitives.ReadUInt16BigEndian(packet) & L2tpHeader.VersionMask), 0);
            case DropReason.Control:
                return (L2tpFindingKind.ControlMessage, 0, 0, 0);
            case DropReason.Truncated:
                return (0, 0, 0, 0);
        }
        if (find(sid) is not { } s)
            return (L2tpFindingKind.UnknownSession, sid, sid, 0);
        reason = L2tpHeader.ReadAfterSessionId(packet, offset, s.PeerCookie, s.L2SpecType, out int payload, out bool hasSeq, out _);
        if (reason == DropReason.CookieMismatch || (reason == DropReason.None && Suspicious(packet, payload, s.L2SpecType)))
        {
            var (kind, value, length) = ExplainHeader(packet, offset, s.PeerCookie, s.L2SpecType);
            if (kind != 0)
                return (kind, sid, value, length);
            if (reason != DropReason.None)
                return (L2tpFindingKind.CookieMismatch, sid, value, length);
        }
        if (reason != DropReason.None)
            return (0, sid, 0, 0);
        if (s.RecvSequence && !hasSeq)
            return (L2tpFindingKind.SequenceMissing, sid, 0, 0);
        int frame = packet.Length - payload;
        if (s.MaxFrame > 0 && frame > s.MaxFrame)
            return (L2tpFindingKind.FrameTooLong, sid, (ulong)frame, 0);
        delivered = sid;
        return (0, sid, 0, 0);
    }

    /// <summary>The parts of an IP packet a tunnel is matched by.</summary>
    internal readonly record struct IpPacket(UInt128 Source, UInt128 Destination, bool V6, byte Protocol, ushort SourcePort,
        ushort DestinationPort, int PayloadOffset, bool Fragment);

    /// <summary>Reads an IPv4 or IPv6 header (no extension headers) and the UDP ports; null for anything else.</summary>
    public static IpPacket? ReadIp(ReadOnlySpan<byte> p)
    {
        if (p.Length < 20)
            return null;
        int version = p[0] >> 4;
        UInt128 src, dst;
        byte proto;
        int off;
        bool fragment;
        if (version == 4)
        {
            off = (p[0] & 0x0F) * 4;
            if (off < 20 || p.Length < off)
                return null;
            proto = p[9];
            src = BinaryPrimitives.ReadUInt32BigEndian(p[12..]);
            dst = BinaryPrimitives.ReadUInt32BigEndian(p[16..]);
            // A later fragment has no L2TP header to read.
            fragment = (BinaryPrimitives.ReadUInt16BigEndian(p[6..]) & 0x1FFF) != 0;
        }
        else if (version == 6)
        {
            if (p.Length < 40)
                return null;
            proto = p[6];
            src = BinaryPrimitives.ReadUInt128BigEndian(p[8..]);
            dst = BinaryPrimitives.ReadUInt128BigEndian(p[24..]);
            off = 40;
            fragment = false;
        }
        else
        {
            return null;
        }
        ushort sport = 0, dport = 0;
        if (proto == 17 && !fragment)
        {
            if (p.Length < off + 8)
                return null;
            sport = BinaryPrimitives.ReadUInt16BigEndian(p[off..]);
            dport = BinaryPrimitives.ReadUInt16BigEndian(p[(off + 2)..]);
            off += 8;
        }
        return new IpPacket(src, dst, version == 6, proto, sport, dport, off, fragment);
    }

    /// <summary>An address as the table keeps it (IPv4 in the low 32 bits).</summary>
    public static UInt128 AddressKey(System.Net.IPAddress a)
    {
        var b = a.GetAddressBytes();
        return b.Length == 4 ? BinaryPrimitives.ReadUInt32BigEndian(b) : BinaryPrimitives.ReadUInt128BigEndian(b);
    }

    /// <summary>The address <see cref="AddressKey"/> made.</summary>
    public static System.Net.IPAddress AddressOf(UInt128 key, bool v6)
    {
        if (!v6)
            return new System.Net.IPAddress(BitConverter.IsLittleEndian
                ? BinaryPrimitives.ReverseEndianness((uint)key) : (uint)key);
        var b = new byte[16];
        BinaryPrimitives.WriteUInt128BigEndian(b, key);
        return new System.Net.IPAddress(b);
    }

    /// <summary>Looks like the start of an L2TPv3 UDP packet: version 3 in the first word.</summary>
    public static bool LooksLikeL2tpv3Udp(ReadOnlySpan<byte> udpPayload) =>
        udpPayload.Length >= 8 && (BinaryPrimitives.ReadUInt16BigEndian(udpPayload) & L2tpHeader.VersionMask) == 3;
}
