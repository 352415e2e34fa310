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
    /// <summary>Room for the largest UDP payload or TAP super-frame plus header headroom.</summary>
    public const int SlotSize = 65536 + Headroom;
    /// <summary>Space kept before each frame so a header is written in place, never copied around the frame.</summary>
    public const int Headroom = 64;

    private readonly byte* _memory;
    /// <summary>Slot buffers by index, plus one spare at [Size]: <see cref="TakeSlot"/> swaps a filled slot out.</summary>
    private readonly byte** _slots;
    public readonly Sys.MMsgHdr* Msgs;
    public readonly iovec* Iov;

    public Batch()
    {
        _memory = (byte*)NativeMemory.AlignedAlloc((nuint)((Size + 1) * SlotSize), 64);
        _slots = (byte**)NativeMemory.Alloc((nuint)((Size + 1) * sizeof(byte*)));
        for (int i = 0; i <= Size; i++)
            _slots[i] = _memory + (long)i * SlotSize;
        Msgs = (Sys.MMsgHdr*)NativeMemory.AllocZeroed((nuint)(Size * sizeof(Sys.MMsgHdr)));
        Iov = (iovec*)NativeMemory.AllocZeroed((nuint)(Size * sizeof(iovec)));
        for (int i = 0; i < Size; i++)
        {
            Msgs[i].Iov = &Iov[i];
            Msgs[i].IovLen = 1;
        }
    }

    public byte* Slot(int i) => _slots[i];

    /// <summary>
    /// Takes slot i's buffer out of the batch (it becomes the spare, and the old spare takes its place), so a frame
    /// read there stays intact while the slots are filled and sent; valid until the next call.
    /// </summary>
    public byte* TakeSlot(int i)
    {
        byte* taken = _slots[i];
        _slots[i] = _slots[Size];
        _slots[Size] = taken;
        return taken;
    }

    public void Dispose()
    {
        NativeMemory.AlignedFree(_memory);
        NativeMemory.Free(_slots);
        NativeMemory.Free(Msgs);
        NativeMemory.Free(Iov);
    }
}
