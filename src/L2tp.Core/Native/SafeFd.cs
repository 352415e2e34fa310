using System.Runtime.InteropServices;
using static Tmds.Linux.LibC;

namespace L2tp.Native;

/// <summary>
/// A file descriptor owned by a SafeHandle: closed exactly once, and never while a system call on another thread is
/// using it (the number could otherwise be reused by a new file and the call land on it).
/// </summary>
internal sealed class SafeFd : SafeHandle
{
    /// <summary>Takes ownership of <paramref name="fd"/>.</summary>
    public SafeFd(int fd) : base(new IntPtr(-1), ownsHandle: true) => SetHandle(new IntPtr(fd));

    /// <inheritdoc/>
    public override bool IsInvalid => handle.ToInt64() < 0;

    /// <summary>Runs <paramref name="call"/> with the fd held open for its duration.</summary>
    public T Use<T>(Func<int, T> call)
    {
        bool added = false;
        try
        {
            DangerousAddRef(ref added);
            return call(handle.ToInt32());
        }
        finally
        {
            if (added)
                DangerousRelease();
        }
    }

    /// <summary>Holds the fd open until <see cref="Release"/>; for calls that take pointers, which lambdas cannot capture.</summary>
    public int Acquire()
    {
        bool added = false;
        DangerousAddRef(ref added);
        return handle.ToInt32();
    }

    /// <summary>Ends an <see cref="Acquire"/>.</summary>
    public void Release() => DangerousRelease();

    /// <inheritdoc/>
    protected override bool ReleaseHandle() => close(handle.ToInt32()) == 0;
}
