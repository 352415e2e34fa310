using System.Buffers.Binary;
using System.Net;
using System.Text;

namespace L2tp.Netlink;

/// <summary>Builds netlink messages (header, optional genl header, attributes with nesting) into a growable buffer.</summary>
internal sealed class NetlinkWriter
{
    private byte[] _buf = new byte[256];
    private int _len;
    private int _msgStart = -1;
    // Open nests' starts; an array, not a Stack<int> (runtime code JIT-compiled in every process).
    private int[] _nests = new int[8];
    private int _nestCount;

    public int Length => _len;
    public ReadOnlySpan<byte> Span => _buf.AsSpan(0, _len);
    public byte[] ToArray() => Span.ToArray();
    public void Clear() { _len = 0; _msgStart = -1; _nestCount = 0; }

    private Span<byte> Grow(int n)
    {
        if (_len + n > _buf.Length)
            Array.Resize(ref _buf, Math.Max(_buf.Length * 2, _len + n));
        var s = _buf.AsSpan(_len, n);
        s.Clear();
        _len += n;
        return s;
    }

    /// <summary>Starts a message; several may follow each other in one buffer (a dump reply).</summary>
    public NetlinkWriter Begin(ushort type, ushort flags, uint seq, uint pid = 0)
    {
        if (_msgStart >= 0)
            End();
        _msgStart = _len;
        var h = Grow(Nl.HeaderLength);
        BinaryPrimitives.WriteUInt16LittleEndian(h[4..], type);
        BinaryPrimitives.WriteUInt16LittleEndian(h[6..], flags);
        BinaryPrimitives.WriteUInt32LittleEndian(h[8..], seq);
        BinaryPrimitives.WriteUInt32LittleEndian(h[12..], pid);
        return this;
    }

    public NetlinkWriter Genl(byte cmd, byte version)
    {
        var g = Grow(Nl.GenlHeaderLength);
        g[0] = cmd;
        g[1] = version;
        return this;
    }

    public NetlinkWriter Raw(ReadOnlySpan<byte> bytes)
    {
        int padded = Nl.Align(bytes.Length);
        bytes.CopyTo(Grow(padded));
        return this;
    }

    /// <summary>Finishes the current message by writing its length.</summary>
    public NetlinkWriter End()
    {
        if (_msgStart < 0)
            return this;
        if (_nestCount != 0)
            throw new InvalidOperationException("unclosed nested attribute");
        BinaryPrimitives.WriteUInt32LittleEndian(_buf.AsSpan(_msgStart), (uint)(_len - _msgStart));
        _msgStart = -1;
        return this;
    }

    public NetlinkWriter Attr(ushort type, ReadOnlySpan<byte> value)
    {
        var a = Grow(Nl.Align(Nl.AttrHeaderLength + value.Length));
        BinaryPrimitives.WriteUInt16LittleEndian(a, (ushort)(Nl.AttrHeaderLength + value.Length));
        BinaryPrimitives.WriteUInt16LittleEndian(a[2..], type);
        value.CopyTo(a[Nl.AttrHeaderLength..]);
        return this;
    }

    public NetlinkWriter Flag(ushort type) => Attr(type, ReadOnlySpan<byte>.Empty);
    public NetlinkWriter U8(ushort type, byte v) => Attr(type, stackalloc byte[] { v });
    public NetlinkWriter U16(ushort type, ushort v) { Span<byte> b = stackalloc byte[2]; BinaryPrimitives.WriteUInt16LittleEndian(b, v); return Attr(type, b); }
    public NetlinkWriter U32(ushort type, uint v) { Span<byte> b = stackalloc byte[4]; BinaryPrimitives.WriteUInt32LittleEndian(b, v); return Attr(type, b); }
    public NetlinkWriter U64(ushort type, ulong v) { Span<byte> b = stackalloc byte[8]; BinaryPrimitives.WriteUInt64LittleEndian(b, v); return Attr(type, b); }
    public NetlinkWriter I32(ushort type, int v) => U32(type, unchecked((uint)v));
    /// <summary>A NUL-terminated string, as the kernel's NLA_NUL_STRING / NLA_STRING policies accept.</summary>
    public NetlinkWriter StringZ(ushort type, string s)
    {
        int n = Encoding.UTF8.GetByteCount(s);
        Span<byte> b = n < 256 ? stackalloc byte[n + 1] : new byte[n + 1];
        Encoding.UTF8.GetBytes(s, b);
        b[n] = 0;
        return Attr(type, b);
    }
    /// <summary>An address in network byte order: 4 bytes for IPv4, 16 for IPv6.</summary>
    public NetlinkWriter Address(ushort type, IPAddress a) => Attr(type, a.GetAddressBytes());

    public NetlinkWriter BeginNested(ushort type)
    {
        if (_nestCount == _nests.Length)
        {
            var more = new int[_nests.Length * 2];
            Array.Copy(_nests, more, _nestCount);
            _nests = more;
        }
        _nests[_nestCount++] = _len;
        var a = Grow(Nl.AttrHeaderLength);
        BinaryPrimitives.WriteUInt16LittleEndian(a[2..], (ushort)(type | Nl.NLA_F_NESTED));
        return this;
    }

    public NetlinkWriter EndNested()
    {
        if (_nestCount == 0)
            throw new InvalidOperationException("no nested attribute is open");
        int start = _nests[--_nestCount];
        BinaryPrimitives.WriteUInt16LittleEndian(_buf.AsSpan(start), (ushort)(_len - start));
        return this;
    }
}
