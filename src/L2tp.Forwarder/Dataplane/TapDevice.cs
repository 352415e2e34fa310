using System.Runtime.InteropServices;
using System.Text;
using L2tp.Native;
using static Tmds.Linux.LibC;

namespace L2tp.Forwarder.Dataplane;

/// <summary>
/// A persistent TAP device standing in for l2tp_eth's session interface. Persistence keeps the interface, its
/// addresses and bridge port when the forwarder restarts; a new forwarder attaches to it again by name.
/// </summary>
internal sealed unsafe class TapDevice : IDisposable
{
    private const uint TUNSETIFF = 0x400454ca, TUNSETPERSIST = 0x400454cb, TUNSETOFFLOAD = 0x400454d0;
    private const int IFF_TAP = 0x0002, IFF_NO_PI = 0x1000, IFF_VNET_HDR = 0x4000, IFF_TUN_EXCL = 0x8000;
    private const int TUN_F_CSUM = 0x01, TUN_F_TSO4 = 0x02, TUN_F_TSO6 = 0x04, TUN_F_USO4 = 0x20, TUN_F_USO6 = 0x40;
    /// <summary>What every offload TAP offers the stack: TSO and checksum offload (never USO, see ProbeUdpGso).</summary>
    private const int OffloadFlags = TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6;

    /// <summary>
    /// Whether TAPs carry a virtio_net_hdr and take TCP super-frames and partial checksums (TSO, checksum offload).
    /// On by default; L2TP_FORWARDER_OFFLOAD=0 turns it off (frame by frame, as before), for comparison in Bench.
    /// </summary>
    public static readonly bool OffloadEnabled = Environment.GetEnvironmentVariable("L2TP_FORWARDER_OFFLOAD") != "0";
    private const int IfReqSize = 40, IfNameSize = 16;

    /// <summary>
    /// Whether this kernel takes UDP super-frames written to a TAP (VIRTIO_NET_HDR_GSO_UDP_L4, Linux 6.2 and later):
    /// learnt at the first TAP this forwarder makes with offloads, from whether it accepts TUN_F_USO4/6, which came with
    /// them (a forwarder that only attaches to TAPs of an earlier one learns it at its first new session).
    /// </summary>
    public static bool UdpGsoWrites { get; private set; }
    private static int _usoProbed;

    public int Fd { get; private set; }
    /// <summary>The interface name; the control thread follows renames (ip link set name).</summary>
    public string Name { get; set; }
    /// <summary>Every read and write on <see cref="Fd"/> starts with a <see cref="VnetHdr"/>.</summary>
    public bool VnetHeader { get; }

    private TapDevice(int fd, string name, bool vnetHeader)
    {
        Fd = fd;
        Name = name;
        VnetHeader = vnetHeader;
    }

    /// <summary>
    /// Makes a new TAP. A name with %d gets the lowest free number from the kernel (which scans every interface name
    /// for it: the forwarder picks l2tpeth names itself, see InterfaceNames). An existing interface of that name is
    /// refused with EEXIST rather than silently attached to: IFF_TUN_EXCL makes the check and the creation one step.
    /// </summary>
    public static TapDevice Create(string namePattern)
    {
        var tap = Open(namePattern, exclusive: true);
        try
        {
            Ioctl(tap.Fd, TUNSETPERSIST, 1, "TUNSETPERSIST");
            return tap;
        }
        catch
        {
            tap.Dispose();
            throw;
        }
    }

    /// <summary>Attaches to a persistent TAP left by an earlier forwarder.</summary>
    public static TapDevice Attach(string name, InterfaceControl control)
    {
        if (control.IndexOf(name) <= 0)
            throw new ErrnoException(ENODEV, $"interface {name} is gone");
        return Open(name, exclusive: false);
    }

    private static TapDevice Open(string name, bool exclusive)
    {
        int fd;
        fixed (byte* path = "/dev/net/tun\0"u8)
            fd = open(path, O_RDWR | O_CLOEXEC | O_NONBLOCK);
        if (fd < 0)
            throw new ErrnoException(errno, "open(/dev/net/tun)");
        byte* ifr = stackalloc byte[IfReqSize];
        new Span<byte>(ifr, IfReqSize).Clear();
        Encoding.ASCII.GetBytes(name, new Span<byte>(ifr, IfNameSize - 1));
        bool offload = OffloadEnabled;
        *(short*)(ifr + IfNameSize) = unchecked((short)(IFF_TAP | IFF_NO_PI | (offload ? IFF_VNET_HDR : 0) | (exclusive ? IFF_TUN_EXCL : 0)));
        if (ioctl(fd, unchecked((int)TUNSETIFF), ifr) < 0)
        {
            int e = errno;
            close(fd);
            // With IFF_TUN_EXCL the kernel answers EBUSY for a name in use, whatever kind of interface holds it.
            if (exclusive && e == EBUSY)
                throw new ErrnoException(EEXIST, $"interface {name} already exists");
            throw new ErrnoException(e, $"TUNSETIFF({name})");
        }
        string actual = Marshal.PtrToStringAnsi((IntPtr)ifr) ?? name;
        // TSO lets the stack behind the TAP send 64 KB at once; the forwarder cuts it up (TxOffload). Set on attach
        // too: a TAP left by a forwarder that ran without offload has none.
        if (offload && ioctl(fd, unchecked((int)TUNSETOFFLOAD), OffloadFlags) < 0)
        {
            int e = errno;
            close(fd);
            throw new ErrnoException(e, $"TUNSETOFFLOAD({actual})");
        }
        // Only on a TAP just made (down, so nothing can be queued for reading meanwhile): for the instant USO is set, the
        // stack could hand a UDP super-frame to a live TAP's reader, and TxLoop would drop it.
        if (offload && exclusive && Interlocked.Exchange(ref _usoProbed, 1) == 0)
        {
            try
            {
                ProbeUdpGso(fd, actual);
            }
            catch
            {
                close(fd);
                throw;
            }
        }
        return new TapDevice(fd, actual, offload);
    }

    /// <summary>
    /// Sets TUN_F_USO4/6 and takes them off again: the TAP then never hands the forwarder UDP super-frames to read
    /// (TxLoop cuts only TCP ones), while the kernel's yes says it takes them written.
    /// </summary>
    private static void ProbeUdpGso(int fd, string name)
    {
        if (ioctl(fd, unchecked((int)TUNSETOFFLOAD), OffloadFlags | TUN_F_USO4 | TUN_F_USO6) < 0)
            return;
        Ioctl(fd, TUNSETOFFLOAD, OffloadFlags, $"TUNSETOFFLOAD({name})");
        UdpGsoWrites = true;
    }

    private static void Ioctl(int fd, uint request, int value, string what)
    {
        if (ioctl(fd, unchecked((int)request), value) < 0)
            throw new ErrnoException(errno, what);
    }

    /// <summary>Drops persistence and closes: the kernel then removes the interface, as deleting an l2tp_eth session does.</summary>
    public void Destroy()
    {
        if (Fd >= 0)
            ioctl(Fd, unchecked((int)TUNSETPERSIST), 0);
        Dispose();
    }

    /// <summary>Closes the fd and leaves the persistent interface in place.</summary>
    public void Dispose()
    {
        if (Fd >= 0)
            close(Fd);
        Fd = -1;
    }
}

/// <summary>
/// The SIOC* interface ioctls the forwarder needs (index lookup and MTU), on one socket for the forwarder's life rather
/// than one per call. The socket answers for the network namespace it was opened in.
/// </summary>
internal sealed unsafe class InterfaceControl : IDisposable
{
    private const int IfReqSize = 40, IfNameSize = 16;
    private int _fd = Sys.Check(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), "socket(AF_INET)");

    private int WithIfReq(string name, int request, int value, out int result)
    {
        byte* ifr = stackalloc byte[IfReqSize];
        new Span<byte>(ifr, IfReqSize).Clear();
        Encoding.ASCII.GetBytes(name.Length < IfNameSize ? name : name[..(IfNameSize - 1)], new Span<byte>(ifr, IfNameSize - 1));
        *(int*)(ifr + IfNameSize) = value;
        int rc = ioctl(_fd, request, ifr);
        result = *(int*)(ifr + IfNameSize);
        return rc < 0 ? errno : 0;
    }

    /// <summary>The interface index, or 0 when there is no such interface.</summary>
    public int IndexOf(string name) => WithIfReq(name, SIOCGIFINDEX, 0, out int index) == 0 ? index : 0;

    public void SetMtu(string name, int mtu)
    {
        int e = WithIfReq(name, SIOCSIFMTU, mtu, out _);
        if (e != 0)
            throw new ErrnoException(e, $"SIOCSIFMTU({name}, {mtu})");
    }

    public int GetMtu(string name)
    {
        int e = WithIfReq(name, SIOCGIFMTU, 0, out int mtu);
        if (e != 0)
            throw new ErrnoException(e, $"SIOCGIFMTU({name})");
        return mtu;
    }

    public void Dispose()
    {
        if (_fd >= 0)
            close(_fd);
        _fd = -1;
    }
}
