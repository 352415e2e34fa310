namespace L2tp.Protocol;

/// <summary>Parses and prints L2TPv3 cookies the way ip-l2tp does: 8 or 16 hex digits for 4 or 8 bytes.</summary>
internal static class Cookie
{
    /// <summary>Parses <paramref name="text"/>; null or empty means no cookie. Throws L2tp.InvalidCookie.</summary>
    public static byte[] Parse(string? text, string parameterName)
    {
        if (string.IsNullOrEmpty(text))
            return Array.Empty<byte>();
        string hex = text.StartsWith("0x", StringComparison.OrdinalIgnoreCase) ? text[2..] : text;
        if ((hex.Length != 8 && hex.Length != 16) || !hex.All(Uri.IsHexDigit))
            throw L2tpException.Rule("L2tp.InvalidCookie", L2tpErrorKind.InvalidArgument, text,
                $"{{{parameterName}}} '{text}' is not a cookie: give 8 or 16 hex digits (4 or 8 bytes), for example 014d3636deadbeef.");
        return Convert.FromHexString(hex);
    }

    /// <summary>Lower-case hex, empty for no cookie.</summary>
    public static string Format(ReadOnlySpan<byte> cookie) => cookie.IsEmpty ? "" : Convert.ToHexString(cookie).ToLowerInvariant();
}
