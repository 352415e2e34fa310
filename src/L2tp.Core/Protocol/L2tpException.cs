namespace L2tp;

/// <summary>What kind of failure an <see cref="L2tpException"/> is; cmdlets map it to a PowerShell ErrorCategory.</summary>
public enum L2tpErrorKind
{
    /// <summary>A value the user gave is not acceptable.</summary>
    InvalidArgument,
    /// <summary>A tunnel, session, interface or port with that identity already exists.</summary>
    ResourceExists,
    /// <summary>The named tunnel or session does not exist.</summary>
    ObjectNotFound,
    /// <summary>The caller lacks root or CAP_NET_ADMIN.</summary>
    PermissionDenied,
    /// <summary>A needed resource (address, device, forwarder) is not there.</summary>
    ResourceUnavailable,
    /// <summary>The backend does not do this yet.</summary>
    NotImplemented,
    /// <summary>The operation is not allowed in the object's current state.</summary>
    InvalidOperation,
    /// <summary>Talking to the kernel or the forwarder failed.</summary>
    ConnectionError,
}

/// <summary>A failure with a stable error id (L2tp.*), a kind and the offending value, turned into an ErrorRecord by the cmdlets.</summary>
public sealed class L2tpException : Exception
{
    /// <summary>Stable identifier, e.g. L2tp.TunnelExists.</summary>
    public string ErrorId { get; }
    /// <summary>What kind of failure this is.</summary>
    public L2tpErrorKind Kind { get; }
    /// <summary>The offending value (an id, address, cookie text ...).</summary>
    public object? Target { get; }
    /// <summary>The errno behind the failure, when it came from the kernel or the forwarder.</summary>
    public int Errno { get; init; }

    /// <summary>
    /// The message with {Field} marks where a spec's field (TunnelId, Cookie, ...) is named: Core states the rule, and
    /// each consumer words the field its own way (-TunnelId for a cmdlet, the netlink attribute for the forwarder).
    /// Null for a message with nothing to word.
    /// </summary>
    public string? Template { get; private init; }

    /// <summary>A broken rule of a spec, its fields marked {Field} in <paramref name="template"/>.</summary>
    public static L2tpException Rule(string errorId, L2tpErrorKind kind, object? target, string template) =>
        new(errorId, kind, target, Fields.Replace(template, m => m.Groups[1].Value)) { Template = Printable(template) };

    /// <summary>The message with each {Field} worded by <paramref name="name"/>.</summary>
    public string Word(Func<string, string> name) =>
        Template is null ? Message : Fields.Replace(Template, m => name(m.Groups[1].Value));

    private static readonly System.Text.RegularExpressions.Regex Fields = new(@"\{(\w+)\}");

    /// <summary>
    /// <paramref name="text"/> with control characters but line breaks and tabs written as \uXXXX: messages quote
    /// names and values from files, scripts and the forwarder, and none of them may drive the user's terminal.
    /// </summary>
    internal static string Printable(string text)
    {
        if (!text.Any(NotPrintable))
            return text;
        var b = new System.Text.StringBuilder(text.Length + 16);
        foreach (char c in text)
            if (NotPrintable(c))
                b.Append("\\u").Append(((int)c).ToString("x4", System.Globalization.CultureInfo.InvariantCulture));
            else
                b.Append(c);
        return b.ToString();
    }

    private static bool NotPrintable(char c) => char.IsControl(c) && c is not ('\n' or '\t');

    /// <summary>Creates the exception; <paramref name="errorId"/> gets the L2tp. prefix if it lacks one.</summary>
    public L2tpException(string errorId, L2tpErrorKind kind, object? target, string message, Exception? inner = null)
        : base(Printable(message), inner)
    {
        ErrorId = errorId.StartsWith("L2tp.", StringComparison.Ordinal) ? errorId : "L2tp." + errorId;
        Kind = kind;
        Target = target;
    }
}
