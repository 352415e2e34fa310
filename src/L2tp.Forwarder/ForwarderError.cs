namespace L2tp.Forwarder;

/// <summary>A refusal to send back as a netlink error: the errno the kernel would give, and words for the user.</summary>
internal sealed class ForwarderError : Exception
{
    public int Errno { get; }

    public ForwarderError(int errno, string message) : base(message) => Errno = errno;
}
