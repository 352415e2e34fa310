using System.Globalization;

namespace L2tp.Forwarder;

/// <summary>
/// Picks the numbers of a name pattern such as l2tpeth%d as the kernel does (the lowest one free), from the names this
/// forwarder holds. Asking the kernel for l2tpeth%d costs a scan of every interface name of the namespace per
/// session, so creating N sessions costs N²; here a pick costs a hash lookup per number tried.
/// </summary>
internal sealed class InterfaceNames
{
    private readonly string _prefix, _suffix;
    private readonly HashSet<int> _held = new();
    /// <summary>No number below this one is free among the names held (numbers only grow past held ones).</summary>
    private int _lowest;

    public InterfaceNames(string pattern)
    {
        int at = pattern.IndexOf("%d", StringComparison.Ordinal);
        if (at < 0)
            throw new ArgumentException($"'{pattern}' has no %d", nameof(pattern));
        _prefix = pattern[..at];
        _suffix = pattern[(at + 2)..];
    }

    /// <summary>Numbers looked at by <see cref="Candidates"/> so far: what a test counts to see a pick stay cheap.</summary>
    public long Probes { get; private set; }

    public string Name(int n) => _prefix + n.ToString(CultureInfo.InvariantCulture) + _suffix;

    /// <summary>The number in a name of the pattern, as the kernel writes it (decimal, no sign, no leading zero).</summary>
    public bool TryNumber(string name, out int n)
    {
        n = 0;
        if (name.Length <= _prefix.Length + _suffix.Length || !name.StartsWith(_prefix, StringComparison.Ordinal)
            || !name.EndsWith(_suffix, StringComparison.Ordinal))
            return false;
        var digits = name.AsSpan(_prefix.Length, name.Length - _prefix.Length - _suffix.Length);
        if (digits.Length > 1 && digits[0] == '0')
            return false;
        foreach (char c in digits)
            if (c is < '0' or > '9')
                return false;
        return int.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out n);
    }

    /// <summary>Records a name this forwarder now holds (made, re-attached, or renamed to).</summary>
    public void Hold(string name)
    {
        if (!TryNumber(name, out int n) || !_held.Add(n))
            return;
        while (_held.Contains(_lowest))
            _lowest++;
    }

    /// <summary>Records a name given up (session deleted, interface renamed away).</summary>
    public void Release(string name)
    {
        if (TryNumber(name, out int n) && _held.Remove(n) && n < _lowest)
            _lowest = n;
    }

    /// <summary>
    /// Names not held, lowest first. The caller tries each: an interface the forwarder does not hold (made by hand) can
    /// still have the name, and then the kernel refuses it and the next one is tried.
    /// </summary>
    public IEnumerable<string> Candidates()
    {
        for (int n = _lowest; n >= 0; n++)
        {
            Probes++;
            if (!_held.Contains(n))
                yield return Name(n);
        }
    }
}
