using System.Buffers.Binary;

namespace L2tp.Fuzz;

/// <summary>
/// The Internet checksum (RFC 1071) the slow, obvious way: the harness's own reference, so a fix-up or a check made
/// here never relies on the InetChecksum it is testing.
/// </summary>
internal static class Rfc1071
{
    /// <summary>The folded one's-complement sum of data as big-endian 16-bit words (an odd last byte padded with 0).</summary>
    public static ushort Sum(ReadOnlySpan<byte> data, uint start = 0)
    {
        uint sum = start;
        for (int i = 0; i + 1 < data.Length; i += 2)
            sum += (uint)(data[i] << 8 | data[i + 1]);
        if (data.Length % 2 == 1)
            sum += (uint)data[^1] << 8;
        while (sum > 0xffff)
            sum = (sum & 0xffff) + (sum >> 16);
        return (ushort)sum;
    }

    /// <summary>The TCP (or, with protocol 17, UDP) pseudo-header sum for the IPv4 or IPv6 header at ip and an L4 length.</summary>
    public static uint Pseudo(ReadOnlySpan<byte> ip, bool v6, int l4Length, byte protocol = 6)
    {
        uint s = v6 ? Sum(ip.Slice(8, 32)) : Sum(ip.Slice(12, 8));
        return s + protocol + (uint)(l4Length >> 16) + (uint)(l4Length & 0xffff);
    }

    /// <summary>Stores a correct UDP checksum in the datagram (a computed 0 goes out as 0xffff: 0 means none).</summary>
    public static void FixUdp(ReadOnlySpan<byte> ip, bool v6, Span<byte> udp)
    {
        BinaryPrimitives.WriteUInt16BigEndian(udp[6..], 0);
        ushort c = (ushort)~Sum(udp, Pseudo(ip, v6, udp.Length, 17));
        BinaryPrimitives.WriteUInt16BigEndian(udp[6..], c == 0 ? (ushort)0xffff : c);
    }

    /// <summary>Whether a TCP segment (checksum field included) verifies against its pseudo-header.</summary>
    public static bool TcpVerifies(ReadOnlySpan<byte> ip, bool v6, ReadOnlySpan<byte> tcp) =>
        Sum(tcp, Pseudo(ip, v6, tcp.Length)) == 0xffff;

    /// <summary>Stores a correct TCP checksum in the segment.</summary>
    public static void FixTcp(ReadOnlySpan<byte> ip, bool v6, Span<byte> tcp)
    {
        BinaryPrimitives.WriteUInt16BigEndian(tcp[16..], 0);
        BinaryPrimitives.WriteUInt16BigEndian(tcp[16..], (ushort)~Sum(tcp, Pseudo(ip, v6, tcp.Length)));
    }

    /// <summary>Stores a correct IPv4 header checksum.</summary>
    public static void FixIpv4(Span<byte> header)
    {
        BinaryPrimitives.WriteUInt16BigEndian(header[10..], 0);
        BinaryPrimitives.WriteUInt16BigEndian(header[10..], (ushort)~Sum(header));
    }
}
