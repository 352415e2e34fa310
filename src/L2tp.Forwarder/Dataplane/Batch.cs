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
    /// <summary>
    /// Room for the largest UDP payload or TAP super-frame (an IP length of 65535 behind an Ethernet header and two
    /// VLAN tags), plus header headroom.
    /// </summary>
    public const int SlotSize = 65535 + 14 + 8 + 40 + Headroom;
    /// <summary>Space kept before each frame so a header is written in place, never copied around the frame.</summary>
    public const int Headroom = 64;

    private readonly byte* _memory;
    /// <summary>Slot buffers by index, plus one spare at [Size]: <see cref="TakeSlot"/> swaps a filled slot out.</summary>
    private readonly byte** _slots;
    public readonly Sys.MMsgHdr* Msgs;
    public readonly iovec* Iov;
    /// <summary>Room for one cmsg per message (UDP_SEGMENT to send, UDP_GRO received): CMSG_SPACE of an int.</summary>
    public const int ControlSize = 24;
    public readonly byte* Control;
    /// <summary>L2TP packets in message i: more than 1 for a UDP GSO send.</summary>
    public readonly int* Packets;

    public Batch()
    {
        _memory = (byte*)NativeMemory.AlignedAlloc((nuint)((Size + 1) * SlotSize), 64);
        _slots = (byte**)NativeMemory.Alloc((nuint)((Size + 1) * sizeof(byte*)));
        for (int i = 0; i <= Size; i++)
            _slots[i] = _memory + (long)i * SlotSize;
        Msgs = (Sys.MMsgHdr*)NativeMemory.AllocZeroed((nuint)(Size * sizeof(Sys.MMsgHdr)));
        Iov = (iovec*)NativeMemory.AllocZeroed((nuint)(Size * sizeof(iovec)));
        Control = (byte*)NativeMemory.AllocZeroed((nuint)(Size * ControlSize));
        Packets = (int*)NativeMemory.AllocZeroed((nuint)(Size * sizeof(int)));
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
        NativeMemory.Free(Control);
        NativeMemory.Free(Packets);
    }
}
