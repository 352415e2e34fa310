using System.Text;

namespace L2tp.Protocol;

/// <summary>What `ip l2tp add session` asks for, checked against the kernel's rules before any backend sees it.</summary>
internal sealed record SessionSpec
{
    /// <summary>The kernel's default interface name pattern; %d is replaced by the lowest free number.</summary>
    public const string DefaultNamePattern = "l2tpeth%d";

    public uint TunnelId { get; init; }
    public uint SessionId { get; init; }
    public uint PeerSessionId { get; init; }
    public string? InterfaceName { get; init; }
    public byte[] Cookie { get; init; } = Array.Empty<byte>();
    public byte[] PeerCookie { get; init; } = Array.Empty<byte>();
    public L2SpecType L2SpecType { get; init; } = L2SpecType.Default;
    public SequencingMode Sequencing { get; init; } = SequencingMode.None;
    /// <summary>
    /// How long an out-of-order packet waits for the ones before it, in milliseconds (L2TP_ATTR_RECV_TIMEOUT, the
    /// kernel's reorder_timeout); 0, the default, drops it instead.
    /// </summary>
    public ulong ReorderTimeoutMs { get; init; }

    /// <summary>The longest reorder timeout taken: 2^32-1 ms (49 days); anything near it is already "wait forever".</summary>
    public const ulong MaxReorderTimeoutMs = uint.MaxValue;

    public bool SendSequence => Sequencing is SequencingMode.Send or SequencingMode.Both;
    public bool RecvSequence => Sequencing is SequencingMode.Recv or SequencingMode.Both;

    /// <summary>Throws an <see cref="L2tpException"/> naming the first rule broken.</summary>
    public void Validate()
    {
        Ids.Check(TunnelId, "TunnelId", "L2tp.InvalidTunnelId");
        Ids.Check(SessionId, "SessionId", "L2tp.InvalidSessionId");
        Ids.Check(PeerSessionId, "PeerSessionId", "L2tp.InvalidSessionId");
        if (Cookie.Length is not (0 or 4 or 8))
            throw L2tpException.Rule("L2tp.InvalidCookie", L2tpErrorKind.InvalidArgument, Protocol.Cookie.Format(Cookie),
                "{Cookie} must be 4 or 8 bytes (8 or 16 hex digits).");
        if (PeerCookie.Length is not (0 or 4 or 8))
            throw L2tpException.Rule("L2tp.InvalidCookie", L2tpErrorKind.InvalidArgument, Protocol.Cookie.Format(PeerCookie),
                "{PeerCookie} must be 4 or 8 bytes (8 or 16 hex digits).");
        // As for a tunnel's encapsulation: only a decoded request can carry another value, and the data plane would
        // take it for no sublayer.
        if (!Enum.IsDefined(typeof(L2SpecType), L2SpecType))
            throw L2tpException.Rule("L2tp.InvalidL2SpecType", L2tpErrorKind.InvalidArgument, (int)L2SpecType,
                $"{{L2SpecType}} {(int)L2SpecType} is neither None (0) nor Default (1).");
        if (!Enum.IsDefined(typeof(SequencingMode), Sequencing))
            throw L2tpException.Rule("L2tp.InvalidArgument", L2tpErrorKind.InvalidArgument, (int)Sequencing,
                $"{{Sequencing}} {(int)Sequencing} is not None, Send, Recv or Both.");
        if (Sequencing != SequencingMode.None && L2SpecType == L2SpecType.None)
            throw L2tpException.Rule("L2tp.SequencingNeedsSublayer", L2tpErrorKind.InvalidArgument, Sequencing,
                $"{{Sequencing}} {Sequencing} needs {{L2SpecType}} Default: with no L2-specific sublayer there is nowhere to carry a sequence number.");
        CheckReorderTimeout(ReorderTimeoutMs);
        if (InterfaceName is not null)
            CheckInterfaceName(InterfaceName);
    }

    /// <summary>Refuses a reorder timeout past <see cref="MaxReorderTimeoutMs"/>.</summary>
    public static void CheckReorderTimeout(ulong ms)
    {
        if (ms > MaxReorderTimeoutMs)
            throw L2tpException.Rule("L2tp.InvalidReorderTimeout", L2tpErrorKind.InvalidArgument, ms,
                $"{{ReorderTimeout}} {ms} ms is longer than the {MaxReorderTimeoutMs} ms taken.");
    }

    /// <summary>
    /// A reorder timeout as the cmdlets take it (a TimeSpan) in whole milliseconds, fractions rounded up as the kernel
    /// rounds to its clock; a negative or too long one is refused.
    /// </summary>
    public static ulong ReorderTimeoutFrom(TimeSpan t)
    {
        if (t < TimeSpan.Zero)
            throw L2tpException.Rule("L2tp.InvalidReorderTimeout", L2tpErrorKind.InvalidArgument, t,
                $"{{ReorderTimeout}} {t} is negative; give 0 to turn reordering off.");
        ulong ms = (ulong)Math.Ceiling(t.TotalMilliseconds);
        CheckReorderTimeout(ms);
        return ms;
    }

    /// <summary>Linux's dev_valid_name rules: 1..15 bytes, not . or .., no '/', ':' or white space.</summary>
    public static void CheckInterfaceName(string name)
    {
        int bytes = Encoding.UTF8.GetByteCount(name);
        bool bad = bytes == 0 || bytes > 15 || name is "." or ".."
            || name.Any(c => c == '/' || c == ':' || char.IsWhiteSpace(c) || char.IsControl(c));
        if (bad)
            throw L2tpException.Rule("L2tp.InvalidInterfaceName", L2tpErrorKind.InvalidArgument, name,
                $"{{InterfaceName}} '{name}' is not a valid interface name: 1 to 15 characters, no '/', ':' or spaces.");
    }
}
