using System.Runtime.InteropServices;
using L2tp.Native;
using Tmds.Linux;

namespace L2tp.Forwarder.Dataplane;

/// <summary>
/// Native buffers and mmsghdr/iovec arrays for one batch of packets, allocated once per loop so that the hot path
/// allocates nothing and the kernel can fill or drain a whole batch in one recvmmsg/sendmmsg.
/// </summary>
internal sealed unsafe class Batch : IDisposable
{
    public const int Size = 64;
    /// <summary>Room for the largest UDP payload plus header headroom.</summary>
    public const int SlotSize = 65536 + Headroom;
    /// <summary>Space kept before each frame so a header is written in place, never copied around the frame.</summary>
    public const int Headroom = 64;

    public readonly byte* Memory;
    public readonly Sys.MMsgHdr* Msgs;
    public readonly iovec* Iov;

    public Batch()
    {
        Memory = (byte*)NativeMemory.AlignedAlloc((nuint)(Size * SlotSize), 64);
        Msgs = (Sys.MMsgHdr*)NativeMemory.AllocZeroed((nuint)(Size * sizeof(Sys.MMsgHdr)));
        Iov = (iovec*)NativeMemory.AllocZeroed((nuint)(Size * sizeof(iovec)));
        for (int i = 0; i < Size; i++)
        {
            Msgs[i].Iov = &Iov[i];
            Msgs[i].IovLen = 1;
        }
    }

    public byte* Slot(int i) => Memory + (long)i * SlotSize;

    public void Dispose()
    {
        NativeMemory.AlignedFree(Memory);
        NativeMemory.Free(Msgs);
        NativeMemory.Free(Iov);
    }
}
