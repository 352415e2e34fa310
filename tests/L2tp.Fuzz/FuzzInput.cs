using System.Buffers.Binary;

namespace L2tp.Fuzz;

/// <summary>
/// Reads a fuzz input as a list of records. A length that runs past the end takes what is left, so no input is
/// wasted on a framing error and every byte the fuzzer mutates still reaches the code under test.
/// </summary>
internal ref struct FuzzInput
{
    private ReadOnlySpan<byte> _rest;

    public FuzzInput(ReadOnlySpan<byte> data) => _rest = data;

    public bool IsEmpty => _rest.IsEmpty;

    public byte U8()
    {
        if (_rest.IsEmpty)
            return 0;
        byte b = _rest[0];
        _rest = _rest[1..];
        return b;
    }

    public ushort U16()
    {
        if (_rest.Length < 2)
        {
            _rest = default;
            return 0;
        }
        ushort v = BinaryPrimitives.ReadUInt16BigEndian(_rest);
        _rest = _rest[2..];
        return v;
    }

    public ReadOnlySpan<byte> Take(int n)
    {
        n = Math.Min(n, _rest.Length);
        var s = _rest[..n];
        _rest = _rest[n..];
        return s;
    }
}

/// <summary>Writes inputs in the record format <see cref="FuzzInput"/> reads: for the seed corpus and the tests.</summary>
internal sealed class FuzzInputWriter
{
    private readonly List<byte> _b = new();

    public FuzzInputWriter U8(byte v) { _b.Add(v); return this; }
    public FuzzInputWriter U16(ushort v) { _b.Add((byte)(v >> 8)); _b.Add((byte)v); return this; }
    public FuzzInputWriter Raw(ReadOnlySpan<byte> v) { _b.AddRange(v.ToArray()); return this; }
    public byte[] ToArray() => _b.ToArray();
}

/// <summary>An invariant of the code under test does not hold: a crash for the fuzzer, a failure for the tests.</summary>
public sealed class FuzzInvariantException : Exception
{
    /// <summary>Creates the exception with what was expected and what happened.</summary>
    public FuzzInvariantException(string message) : base(message) { }
}

/// <summary>Invariant checks that throw <see cref="FuzzInvariantException"/>.</summary>
internal static class Check
{
    public static void True(bool condition, string what)
    {
        if (!condition)
            throw new FuzzInvariantException(what);
    }

    public static void Equal(long expected, long actual, string what)
    {
        if (expected != actual)
            throw new FuzzInvariantException($"{what}: expected {expected}, got {actual}");
    }
}
