using System.Buffers.Binary;

namespace L2tp.Protocol;

/// <summary>Why a received packet was not delivered; each maps to one counter.</summary>
internal enum DropReason : byte
{
    None = 0,
    /// <summary>Shorter than the header it claims (rx_invalid... counted as rx_errors on the session when the session is known).</summary>
    Truncated,
    /// <summary>An L2TP control message (T bit, or session id 0 with IP encapsulation): not data.</summary>
    Control,
    /// <summary>Version field is not 3.</summary>
    BadVersion,
    /// <summary>No session with that id.</summary>
    UnknownSession,
    /// <summary>The cookie does not match the session's peer cookie.</summary>
    CookieMismatch,
    /// <summary>Sequencing rules (seq recv) refused the packet.</summary>
    Sequence,
}

/// <summary>
/// The L2TPv3 data header (RFC 3931 section 4, RFC 4719 section 3): for UDP a flags/version word and 16 reserved bits,
/// then the session id, the cookie, and optionally the default L2-specific sublayer.
/// </summary>
internal static class L2tpHeader
{
    /// <summary>T=0, L=0, S=0, Ver=3 in the first 16 bits of a UDP-encapsulated L2TPv3 data packet.</summary>
    public const ushort UdpDataFlagsVersion3 = 0x0003;
    public const ushort FlagT = 0x8000;
    public const ushort VersionMask = 0x000F;
    /// <summary>S bit of the default L2-specific sublayer (RFC 4719): a sequence number follows.</summary>
    public const uint SequenceBit = 0x4000_0000;
    public const uint SequenceMask = 0x00FF_FFFF;
    /// <summary>The largest header this codec writes: UDP word, session id, 8-byte cookie, sublayer.</summary>
    public const int MaxLength = 4 + 4 + 8 + 4;

    /// <summary>Bytes of L2TP header for these settings (what l2tp_core calls hdr_len, plus the UDP word).</summary>
    public static int Length(Encapsulation encap, int cookieLength, L2SpecType l2spec) =>
        (encap == Encapsulation.Udp ? 4 : 0) + 4 + cookieLength + (l2spec == L2SpecType.Default ? 4 : 0);

    /// <summary>Writes a data header into <paramref name="dst"/> and returns its length.</summary>
    public static int Write(Span<byte> dst, Encapsulation encap, uint peerSessionId, ReadOnlySpan<byte> cookie,
        L2SpecType l2spec, bool withSequence, uint sequence)
    {
        int o = 0;
        if (encap == Encapsulation.Udp)
        {
            BinaryPrimitives.WriteUInt16BigEndian(dst, UdpDataFlagsVersion3);
            BinaryPrimitives.WriteUInt16BigEndian(dst[2..], 0);
            o = 4;
        }
        BinaryPrimitives.WriteUInt32BigEndian(dst[o..], peerSessionId);
        o += 4;
        cookie.CopyTo(dst[o..]);
        o += cookie.Length;
        if (l2spec == L2SpecType.Default)
        {
            uint word = withSequence ? SequenceBit | (sequence & SequenceMask) : 0;
            BinaryPrimitives.WriteUInt32BigEndian(dst[o..], word);
            o += 4;
        }
        return o;
    }

    /// <summary>Reads the session id a received packet is addressed to, and where the rest of the header starts.</summary>
    public static DropReason ReadSessionId(ReadOnlySpan<byte> packet, Encapsulation encap, out uint sessionId, out int offset)
    {
        sessionId = 0;
        offset = 0;
        if (encap == Encapsulation.Udp)
        {
            if (packet.Length < 2)
                return DropReason.Truncated;
            ushort flags = BinaryPrimitives.ReadUInt16BigEndian(packet);
            if ((flags & VersionMask) != 3)
                return DropReason.BadVersion;
            if ((flags & FlagT) != 0)
                return DropReason.Control;
            if (packet.Length < 8)
                return DropReason.Truncated;
            sessionId = BinaryPrimitives.ReadUInt32BigEndian(packet[4..]);
            offset = 8;
        }
        else
        {
            if (packet.Length < 4)
                return DropReason.Truncated;
            sessionId = BinaryPrimitives.ReadUInt32BigEndian(packet);
            offset = 4;
        }
        // Session id 0 is reserved: over IP it marks a control message, over UDP it names no session.
        return sessionId == 0 ? DropReason.Control : DropReason.None;
    }

    /// <summary>Checks the cookie and reads the sublayer that follow the session id at <paramref name="offset"/>.</summary>
    public static DropReason ReadAfterSessionId(ReadOnlySpan<byte> packet, int offset, ReadOnlySpan<byte> peerCookie,
        L2SpecType l2spec, out int payloadOffset, out bool hasSequence, out uint sequence)
    {
        payloadOffset = 0;
        hasSequence = false;
        sequence = 0;
        int need = offset + peerCookie.Length + (l2spec == L2SpecType.Default ? 4 : 0);
        if (packet.Length < need)
            return DropReason.Truncated;
        if (!packet.Slice(offset, peerCookie.Length).SequenceEqual(peerCookie))
            return DropReason.CookieMismatch;
        offset += peerCookie.Length;
        if (l2spec == L2SpecType.Default)
        {
            uint word = BinaryPrimitives.ReadUInt32BigEndian(packet[offset..]);
            if ((word & SequenceBit) != 0)
            {
                hasSequence = true;
                sequence = word & SequenceMask;
            }
            offset += 4;
        }
        payloadOffset = offset;
        return DropReason.None;
    }
}
