using System.Buffers.Binary;
using System.Net;
using System.Text;

namespace L2tp.Netlink;

/// <summary>One netlink message out of a received buffer.</summary>
/// <remarks>
/// A class, not a struct: lists and queries of a struct from this assembly are runtime code (List&lt;T&gt; and LINQ
/// live outside the module's precompiled version bubble), JIT-compiled in every process; over a class they share
/// the framework's precompiled code.
/// </remarks>
internal sealed record NetlinkMessage(ushort Type, ushort Flags, uint Seq, uint Pid, ReadOnlyMemory<byte> Payload)
{
    /// <summary>Splits a buffer holding one or more messages; throws on a length that does not fit.</summary>
    public static List<NetlinkMessage> Split(ReadOnlyMemory<byte> buffer)
    {
        var list = new List<NetlinkMessage>();
        var span = buffer.Span;
        int o = 0;
        while (o + Nl.HeaderLength <= span.Length)
        {
            uint len = BinaryPrimitives.ReadUInt32LittleEndian(span[o..]);
            if (len < Nl.HeaderLength || o + len > span.Length)
                throw new InvalidDataException($"netlink message length {len} at offset {o} does not fit in {span.Length} bytes");
            list.Add(new NetlinkMessage(
                BinaryPrimitives.ReadUInt16LittleEndian(span[(o + 4)..]),
                BinaryPrimitives.ReadUInt16LittleEndian(span[(o + 6)..]),
                BinaryPrimitives.ReadUInt32LittleEndian(span[(o + 8)..]),
                BinaryPrimitives.ReadUInt32LittleEndian(span[(o + 12)..]),
                buffer.Slice(o + Nl.HeaderLength, (int)len - Nl.HeaderLength)));
            o += Nl.Align((int)len);
        }
        return list;
    }

    /// <summary>For a generic-netlink message: its command byte.</summary>
    public byte GenlCommand => Payload.Length >= Nl.GenlHeaderLength ? Payload.Span[0] : (byte)0;

    /// <summary>For a generic-netlink message: the attributes after the genl header.</summary>
    public NetlinkAttributes GenlAttributes =>
        NetlinkAttributes.Parse(Payload.Length >= Nl.GenlHeaderLength ? Payload[Nl.GenlHeaderLength..] : ReadOnlyMemory<byte>.Empty);
}

/// <summary>A parsed attribute list; the last attribute of a type wins, as in the kernel's nla_parse.</summary>
internal sealed class NetlinkAttributes
{
    // Arrays, not a Dictionary<ushort, ReadOnlyMemory<byte>>: a collection over those types is runtime code that the
    // precompiled module cannot carry, JIT-compiled in every process at its first reply. _types/_values hold the
    // attributes in the order first seen (Types keeps it); _slot[type] is a type's place there plus one.
    private static readonly ushort[] NoTypes = new ushort[0];
    private static readonly ReadOnlyMemory<byte>[] NoValues = new ReadOnlyMemory<byte>[0];
    private static readonly int[] NoSlots = new int[0];
    private ushort[] _types = NoTypes;
    private ReadOnlyMemory<byte>[] _values = NoValues;
    private int[] _slot = NoSlots;
    private int _count;

    public static NetlinkAttributes Parse(ReadOnlyMemory<byte> data)
    {
        var result = new NetlinkAttributes();
        var span = data.Span;
        int o = 0, n = 0, max = -1;
        while (o + Nl.AttrHeaderLength <= span.Length)
        {
            ushort len = BinaryPrimitives.ReadUInt16LittleEndian(span[o..]);
            ushort type = (ushort)(BinaryPrimitives.ReadUInt16LittleEndian(span[(o + 2)..]) & Nl.NLA_TYPE_MASK);
            if (len < Nl.AttrHeaderLength || o + len > span.Length)
                throw new InvalidDataException($"netlink attribute {type} length {len} at offset {o} does not fit");
            n++;
            max = Math.Max(max, type);
            o += Nl.Align(len);
        }
        if (n == 0)
            return result;
        result._types = new ushort[n];
        result._values = new ReadOnlyMemory<byte>[n];
        result._slot = new int[max + 1];
        o = 0;
        while (o + Nl.AttrHeaderLength <= span.Length)
        {
            ushort len = BinaryPrimitives.ReadUInt16LittleEndian(span[o..]);
            ushort type = (ushort)(BinaryPrimitives.ReadUInt16LittleEndian(span[(o + 2)..]) & Nl.NLA_TYPE_MASK);
            var value = data.Slice(o + Nl.AttrHeaderLength, len - Nl.AttrHeaderLength);
            int slot = result._slot[type];
            if (slot > 0)
                result._values[slot - 1] = value;
            else
            {
                result._types[result._count] = type;
                result._values[result._count] = value;
                result._slot[type] = ++result._count;
            }
            o += Nl.Align(len);
        }
        return result;
    }

    private bool TryGet(ushort type, out ReadOnlyMemory<byte> value)
    {
        if (type < _slot.Length && _slot[type] > 0)
        {
            value = _values[_slot[type] - 1];
            return true;
        }
        value = default;
        return false;
    }

    public bool Has(ushort type) => type < _slot.Length && _slot[type] > 0;
    public IEnumerable<ushort> Types => new ArraySegment<ushort>(_types, 0, _count);
    public ReadOnlyMemory<byte>? Bytes(ushort type) => TryGet(type, out var v) ? v : (ReadOnlyMemory<byte>?)null;

    private ReadOnlySpan<byte> Need(ushort type, int size)
    {
        if (!TryGet(type, out var v))
            throw new KeyNotFoundException($"attribute {type} missing");
        if (v.Length < size)
            throw new InvalidDataException($"attribute {type} has {v.Length} bytes, needs {size}");
        return v.Span;
    }

    public byte U8(ushort type) => Need(type, 1)[0];
    public ushort U16(ushort type) => BinaryPrimitives.ReadUInt16LittleEndian(Need(type, 2));
    public uint U32(ushort type) => BinaryPrimitives.ReadUInt32LittleEndian(Need(type, 4));
    public ulong U64(ushort type) => BinaryPrimitives.ReadUInt64LittleEndian(Need(type, 8));
    public byte? U8OrNull(ushort type) => Has(type) ? U8(type) : null;
    public ushort? U16OrNull(ushort type) => Has(type) ? U16(type) : null;
    public uint? U32OrNull(ushort type) => Has(type) ? U32(type) : null;
    public ulong U64OrZero(ushort type) => Has(type) ? U64(type) : 0;
    public ulong? U64OrNull(ushort type) => Has(type) ? U64(type) : null;

    public string? String(ushort type)
    {
        if (!TryGet(type, out var v))
            return null;
        var s = v.Span;
        int nul = s.IndexOf((byte)0);
        return Encoding.UTF8.GetString(nul >= 0 ? s[..nul] : s);
    }

    public IPAddress? Address(ushort type)
    {
        if (!TryGet(type, out var v) || v.Length is not (4 or 16))
            return null;
        return new IPAddress(v.Span);
    }

    public NetlinkAttributes Nested(ushort type) =>
        TryGet(type, out var v) ? Parse(v) : new NetlinkAttributes();
}
