using System.Buffers.Binary;
using System.Net;
using System.Text;

namespace L2tp.Netlink;

/// <summary>One netlink message out of a received buffer.</summary>
internal readonly record struct NetlinkMessage(ushort Type, ushort Flags, uint Seq, uint Pid, ReadOnlyMemory<byte> Payload)
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
    private readonly Dictionary<ushort, ReadOnlyMemory<byte>> _attrs = new();

    public static NetlinkAttributes Parse(ReadOnlyMemory<byte> data)
    {
        var result = new NetlinkAttributes();
        var span = data.Span;
        int o = 0;
        while (o + Nl.AttrHeaderLength <= span.Length)
        {
            ushort len = BinaryPrimitives.ReadUInt16LittleEndian(span[o..]);
            ushort type = (ushort)(BinaryPrimitives.ReadUInt16LittleEndian(span[(o + 2)..]) & Nl.NLA_TYPE_MASK);
            if (len < Nl.AttrHeaderLength || o + len > span.Length)
                throw new InvalidDataException($"netlink attribute {type} length {len} at offset {o} does not fit");
            result._attrs[type] = data.Slice(o + Nl.AttrHeaderLength, len - Nl.AttrHeaderLength);
            o += Nl.Align(len);
        }
        return result;
    }

    public bool Has(ushort type) => _attrs.ContainsKey(type);
    public IEnumerable<ushort> Types => _attrs.Keys;
    public ReadOnlyMemory<byte>? Bytes(ushort type) => _attrs.TryGetValue(type, out var v) ? v : (ReadOnlyMemory<byte>?)null;

    private ReadOnlySpan<byte> Need(ushort type, int size)
    {
        if (!_attrs.TryGetValue(type, out var v))
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
        if (!_attrs.TryGetValue(type, out var v))
            return null;
        var s = v.Span;
        int nul = s.IndexOf((byte)0);
        return Encoding.UTF8.GetString(nul >= 0 ? s[..nul] : s);
    }

    public IPAddress? Address(ushort type)
    {
        if (!_attrs.TryGetValue(type, out var v) || v.Length is not (4 or 16))
            return null;
        return new IPAddress(v.Span);
    }

    public NetlinkAttributes Nested(ushort type) =>
        _attrs.TryGetValue(type, out var v) ? Parse(v) : new NetlinkAttributes();
}
