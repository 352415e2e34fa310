using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Numerics;

namespace L2tp.Forwarder.Dataplane;

/// <summary>
/// The virtio_net_hdr a TAP with IFF_VNET_HDR puts before every frame: how the kernel hands over a TCP super-frame
/// (TSO) or a frame whose checksum is still to be filled in, instead of segmenting and summing it itself; and how the
/// forwarder hands it TCP and UDP super-frames (GRO).
/// </summary>
internal readonly struct VnetHdr
{
    public const int Size = 10;
    public const byte FlagNeedsCsum = 1, FlagDataValid = 2;
    public const byte GsoNone = 0, GsoTcpV4 = 1, GsoTcpV6 = 4, GsoUdpL4 = 5, GsoEcn = 0x80;

    public readonly byte Flags;
    public readonly byte GsoType;
    public readonly ushort HdrLen;
    public readonly ushort GsoSize;
    public readonly ushort CsumStart;
    public readonly ushort CsumOffset;

    public VnetHdr(byte flags, byte gsoType, ushort hdrLen, ushort gsoSize, ushort csumStart, ushort csumOffset)
    {
        Flags = flags; GsoType = gsoType; HdrLen = hdrLen; GsoSize = gsoSize; CsumStart = csumStart; CsumOffset = csumOffset;
    }

    /// <summary>The header as the TAP writes it (little-endian: TUNSETVNETLE is never set, and this runs on x86 and arm64).</summary>
    public static VnetHdr Read(ReadOnlySpan<byte> b) => new(b[0], b[1],
        BinaryPrimitives.ReadUInt16LittleEndian(b[2..]), BinaryPrimitives.ReadUInt16LittleEndian(b[4..]),
        BinaryPrimitives.ReadUInt16LittleEndian(b[6..]), BinaryPrimitives.ReadUInt16LittleEndian(b[8..]));

    public void Write(Span<byte> b)
    {
        b[0] = Flags;
        b[1] = GsoType;
        BinaryPrimitives.WriteUInt16LittleEndian(b[2..], HdrLen);
        BinaryPrimitives.WriteUInt16LittleEndian(b[4..], GsoSize);
        BinaryPrimitives.WriteUInt16LittleEndian(b[6..], CsumStart);
        BinaryPrimitives.WriteUInt16LittleEndian(b[8..], CsumOffset);
    }
}

/// <summary>The Internet checksum (RFC 1071), summed 8 bytes at a time.</summary>
internal static class InetChecksum
{
    /// <summary>
    /// Adds data to a running one's-complement sum. The sum is kept in the machine's byte order (RFC 1071 shows the
    /// sum does not care), so spans must start at even offsets of the summed whole; <see cref="Finish"/> converts.
    /// </summary>
    public static ulong Add(ReadOnlySpan<byte> data, ulong sum)
    {
        ref byte p = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(data);
        int n = data.Length, i = 0;
        // The bulk as 32-bit words widened into 64-bit lanes: no carry to chase from one add to the next (the profile
        // showed the scalar add-with-carry chain as the forwarder's largest cost). A word sum folds to the same
        // one's-complement sum as 16-bit words, since 2^16 is 1 modulo 0xffff. 64 KiB adds at most 2^46 to a lane.
        if (Vector.IsHardwareAccelerated && n >= 2 * Vector<byte>.Count)
        {
            int step = Vector<byte>.Count;
            Vector<ulong> a0 = Vector<ulong>.Zero, a1 = Vector<ulong>.Zero;
            for (; i + 2 * step <= n; i += 2 * step)
            {
                Vector.Widen(Unsafe.ReadUnaligned<Vector<uint>>(ref Unsafe.Add(ref p, i)), out var l0, out var h0);
                Vector.Widen(Unsafe.ReadUnaligned<Vector<uint>>(ref Unsafe.Add(ref p, i + step)), out var l1, out var h1);
                a0 += l0 + h0;
                a1 += l1 + h1;
            }
            sum = AddCarry(sum, Vector.Sum(a0 + a1));
        }
        for (; i + 32 <= n; i += 32)
        {
            sum = AddCarry(sum, Unsafe.ReadUnaligned<ulong>(ref Unsafe.Add(ref p, i)));
            sum = AddCarry(sum, Unsafe.ReadUnaligned<ulong>(ref Unsafe.Add(ref p, i + 8)));
            sum = AddCarry(sum, Unsafe.ReadUnaligned<ulong>(ref Unsafe.Add(ref p, i + 16)));
            sum = AddCarry(sum, Unsafe.ReadUnaligned<ulong>(ref Unsafe.Add(ref p, i + 24)));
        }
        for (; i + 8 <= n; i += 8)
            sum = AddCarry(sum, Unsafe.ReadUnaligned<ulong>(ref Unsafe.Add(ref p, i)));
        for (; i + 2 <= n; i += 2)
            sum = AddCarry(sum, Unsafe.ReadUnaligned<ushort>(ref Unsafe.Add(ref p, i)));
        if (i < n)
            sum = AddCarry(sum, BitConverter.IsLittleEndian ? Unsafe.Add(ref p, i) : (ulong)Unsafe.Add(ref p, i) << 8);
        return sum;
    }

    /// <summary>Adds a 16-bit value given in network order (a length, a protocol number).</summary>
    public static ulong AddWord(ulong sum, ushort networkOrderValue) =>
        AddCarry(sum, BitConverter.IsLittleEndian ? BinaryPrimitives.ReverseEndianness(networkOrderValue) : networkOrderValue);

    /// <summary>
    /// The checksum to store (complemented, in network order), as TCP and IP headers carry it: all-ones sums give 0,
    /// never 0xffff, which receivers such as Wireshark call illegal for TCP.
    /// </summary>
    public static ushort Finish(ulong sum)
    {
        ushort folded = Fold(sum);
        return (ushort)~(BitConverter.IsLittleEndian ? BinaryPrimitives.ReverseEndianness(folded) : folded);
    }

    /// <summary>The checksum as UDP stores it: 0 means "no checksum", so a computed 0 is sent as 0xffff (RFC 768).</summary>
    public static ushort FinishUdp(ulong sum)
    {
        ushort c = Finish(sum);
        return c == 0 ? (ushort)0xffff : c;
    }

    /// <summary>The folded sum, not complemented, in network order: what a CHECKSUM_PARTIAL field holds.</summary>
    public static ushort Partial(ulong sum)
    {
        ushort folded = Fold(sum);
        return BitConverter.IsLittleEndian ? BinaryPrimitives.ReverseEndianness(folded) : folded;
    }

    /// <summary>Whether data whose checksum field is included sums to all ones, as a receiver checks it.</summary>
    public static bool Verifies(ulong sum) => Fold(sum) == 0xffff;

    private static ushort Fold(ulong sum)
    {
        sum = (sum & 0xffffffff) + (sum >> 32);
        sum = (sum & 0xffffffff) + (sum >> 32);
        sum = (sum & 0xffff) + (sum >> 16);
        sum = (sum & 0xffff) + (sum >> 16);
        return (ushort)sum;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong AddCarry(ulong sum, ulong v)
    {
        ulong r = sum + v;
        return r + (r < v ? 1UL : 0UL);
    }

    /// <summary>The TCP/UDP pseudo-header of RFC 793 / RFC 8200 section 8.1, for an IPv4 or IPv6 header at ip.</summary>
    public static ulong PseudoHeader(ReadOnlySpan<byte> ip, bool ipv6, byte protocol, int l4Length)
    {
        ulong sum = ipv6 ? Add(ip.Slice(8, 32), 0) : Add(ip.Slice(12, 8), 0);
        sum = AddWord(sum, protocol);
        if (ipv6)
            sum = AddWord(sum, (ushort)(l4Length >> 16));
        return AddWord(sum, (ushort)l4Length);
    }
}

/// <summary>
/// Software TSO and checksum completion for frames read from a TAP with offloads on: what a NIC would do, done here
/// so the sending stack hands over 64 KB at a time and every frame still leaves on the wire whole and summed, exactly
/// as Linux l2tp_eth sends it (the peer never sees an offload).
/// </summary>
internal static class TxOffload
{
    private const int EthHeader = 14;

    /// <summary>Where the headers of a TCP super-frame lie, and how it divides into segments.</summary>
    public readonly record struct TcpSuperFrame(int IpOffset, bool IPv6, int TcpOffset, int HeaderLength, int PayloadLength, int Mss)
    {
        public int Segments => (PayloadLength + Mss - 1) / Mss;
    }

    /// <summary>Fills in a checksum the stack left partial (VIRTIO_NET_HDR_F_NEEDS_CSUM); false when the offsets lie.</summary>
    public static bool CompleteChecksum(Span<byte> frame, in VnetHdr h)
    {
        int field = h.CsumStart + h.CsumOffset;
        if (h.CsumStart >= frame.Length || field + 2 > frame.Length)
            return false;
        // The field holds the pseudo-header sum already: summing over it folds that in. UDP's field sits at offset 6
        // (TCP's at 16); only UDP turns a computed 0 into 0xffff.
        ulong sum = InetChecksum.Add(frame[h.CsumStart..], 0);
        BinaryPrimitives.WriteUInt16BigEndian(frame[field..], h.CsumOffset == 6 ? InetChecksum.FinishUdp(sum) : InetChecksum.Finish(sum));
        return true;
    }

    /// <summary>Checks that a GSO frame is the TCP over IPv4/IPv6 its header says, and finds its parts.</summary>
    public static bool TryParseTcp(ReadOnlySpan<byte> frame, in VnetHdr h, out TcpSuperFrame info)
    {
        info = default;
        int gso = h.GsoType & ~VnetHdr.GsoEcn;
        if ((gso != VnetHdr.GsoTcpV4 && gso != VnetHdr.GsoTcpV6) || h.GsoSize == 0)
            return false;
        int ipOff = EthHeader;
        if (frame.Length < EthHeader)
            return false;
        ushort type = BinaryPrimitives.ReadUInt16BigEndian(frame[12..]);
        while (type is 0x8100 or 0x88a8)
        {
            if (frame.Length < ipOff + 4)
                return false;
            type = BinaryPrimitives.ReadUInt16BigEndian(frame[(ipOff + 2)..]);
            ipOff += 4;
        }
        bool v6 = gso == VnetHdr.GsoTcpV6;
        int tcpOff;
        if (!v6)
        {
            if (type != 0x0800 || frame.Length < ipOff + 20 || frame[ipOff] >> 4 != 4 || frame[ipOff + 9] != 6)
                return false;
            tcpOff = ipOff + (frame[ipOff] & 0x0f) * 4;
            if (tcpOff < ipOff + 20)
                return false;
        }
        else
        {
            if (type != 0x86dd || frame.Length < ipOff + 40 || frame[ipOff] >> 4 != 6 || frame[ipOff + 6] != 6)
                return false;
            tcpOff = ipOff + 40;
        }
        if (frame.Length < tcpOff + 20)
            return false;
        int hdrLen = tcpOff + (frame[tcpOff + 12] >> 4) * 4;
        if (hdrLen < tcpOff + 20 || hdrLen >= frame.Length)
            return false;
        info = new TcpSuperFrame(ipOff, v6, tcpOff, hdrLen, frame.Length - hdrLen, h.GsoSize);
        return true;
    }

    /// <summary>
    /// Gives an IP header (at ip, headerLength long) the length of a packet of ipLength bytes: the IPv6 payload length,
    /// or the IPv4 total length and then the header checksum over everything else already set.
    /// </summary>
    public static void SetIpLength(Span<byte> ip, bool ipv6, int headerLength, int ipLength)
    {
        if (ipv6)
        {
            BinaryPrimitives.WriteUInt16BigEndian(ip[4..], (ushort)(ipLength - 40));
            return;
        }
        BinaryPrimitives.WriteUInt16BigEndian(ip[2..], (ushort)ipLength);
        BinaryPrimitives.WriteUInt16BigEndian(ip[10..], 0);
        BinaryPrimitives.WriteUInt16BigEndian(ip[10..], InetChecksum.Finish(InetChecksum.Add(ip[..headerLength], 0)));
    }

    /// <summary>
    /// Writes segment <paramref name="index"/> of a super-frame to dst as a whole frame: the headers copied, IP
    /// length and id, TCP sequence and flags set as a NIC's TSO sets them, both checksums computed. Returns its length.
    /// </summary>
    public static int WriteSegment(ReadOnlySpan<byte> src, in TcpSuperFrame f, int index, Span<byte> dst)
    {
        int start = index * f.Mss;
        int payload = Math.Min(f.Mss, f.PayloadLength - start);
        int length = f.HeaderLength + payload;
        src[..f.HeaderLength].CopyTo(dst);
        src.Slice(f.HeaderLength + start, payload).CopyTo(dst[f.HeaderLength..]);

        var ip = dst[f.IpOffset..];
        int l4Length = length - f.TcpOffset;
        if (!f.IPv6)
        {
            ushort id = BinaryPrimitives.ReadUInt16BigEndian(src[(f.IpOffset + 4)..]);
            BinaryPrimitives.WriteUInt16BigEndian(ip[4..], (ushort)(id + index));
        }
        SetIpLength(ip, f.IPv6, f.TcpOffset - f.IpOffset, length - f.IpOffset);

        var tcp = dst[f.TcpOffset..length];
        uint seq = BinaryPrimitives.ReadUInt32BigEndian(src[(f.TcpOffset + 4)..]);
        BinaryPrimitives.WriteUInt32BigEndian(tcp[4..], seq + (uint)start);
        const byte Fin = 0x01, Psh = 0x08, Cwr = 0x80;
        if (index != f.Segments - 1)
            tcp[13] &= unchecked((byte)~(Fin | Psh));
        if (index != 0)
            tcp[13] &= unchecked((byte)~Cwr);
        BinaryPrimitives.WriteUInt16BigEndian(tcp[16..], 0);
        ulong sum = InetChecksum.PseudoHeader(ip, f.IPv6, 6, l4Length);
        BinaryPrimitives.WriteUInt16BigEndian(tcp[16..], InetChecksum.Finish(InetChecksum.Add(tcp, sum)));
        return length;
    }
}
