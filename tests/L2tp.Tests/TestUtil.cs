using System.Buffers.Binary;

namespace L2tp.Tests;

/// <summary>Small helpers shared by the tests: hex literals and hand-built byte strings.</summary>
internal static class Hex
{
    /// <summary>Bytes from a hex literal; spaces, newlines and '|' separators are ignored.</summary>
    public static byte[] B(string hex) =>
        Convert.FromHexString(new string(hex.Where(Uri.IsHexDigit).ToArray()));

    public static string S(ReadOnlySpan<byte> bytes) => Convert.ToHexString(bytes).ToLowerInvariant();
}

/// <summary>Appends little-endian fields by hand, independent of the NetlinkWriter under test.</summary>
internal sealed class Bytes
{
    private readonly List<byte> _b = new();
    public int Length => _b.Count;
    public Bytes U8(byte v) { _b.Add(v); return this; }
    public Bytes U16(ushort v) { _b.Add((byte)v); _b.Add((byte)(v >> 8)); return this; }
    public Bytes U32(uint v) { for (int i = 0; i < 4; i++) _b.Add((byte)(v >> (8 * i))); return this; }
    public Bytes I32(int v) => U32(unchecked((uint)v));
    public Bytes Raw(params byte[] v) { _b.AddRange(v); return this; }
    public Bytes Pad() { while (_b.Count % 4 != 0) _b.Add(0); return this; }
    public byte[] ToArray() => _b.ToArray();

    /// <summary>An attribute: u16 len (header + payload), u16 type, payload, padding to 4.</summary>
    public Bytes Attr(ushort type, byte[] payload)
    {
        U16((ushort)(4 + payload.Length)).U16(type).Raw(payload);
        return Pad();
    }

    /// <summary>A whole netlink message with its length filled in.</summary>
    public static byte[] Message(ushort type, ushort flags, uint seq, uint pid, byte[] payload)
    {
        var b = new Bytes().U32((uint)(16 + payload.Length)).U16(type).U16(flags).U32(seq).U32(pid).Raw(payload);
        return b.Pad().ToArray();
    }

    public static byte[] Concat(params byte[][] parts) => parts.SelectMany(p => p).ToArray();
}

/// <summary>The tunnel and session the data-plane tests share: UDP/IPv4 on documentation addresses, 4-byte cookies both ways.</summary>
internal static class TestSpecs
{
    public static readonly L2tp.Protocol.TunnelSpec UdpTunnel = new()
    {
        TunnelId = 100, PeerTunnelId = 200, Local = System.Net.IPAddress.Parse("192.0.2.1"), Remote = System.Net.IPAddress.Parse("192.0.2.2"),
        SourcePort = 1701, DestinationPort = 1702,
    };

    /// <summary>A 60-byte Ethernet frame: broadcast dst, src, ethertype 0x88b5 (local experimental), then a counting payload.</summary>
    public static readonly byte[] Frame = Hex.B("ffffffffffff 020000000001 88b5").Concat(Enumerable.Range(0, 46).Select(i => (byte)i)).ToArray();

    public static readonly L2tp.Protocol.SessionSpec CookieSession = new()
    {
        TunnelId = 100, SessionId = 1001, PeerSessionId = 2002, Cookie = Hex.B("01020304"), PeerCookie = Hex.B("cafef00d"),
    };
}
