using System.Runtime.InteropServices;
using Tmds.Linux;
using static Tmds.Linux.LibC;

namespace L2tp.Native;

/// <summary>
/// A short look at the IP packets arriving in the current thread's network namespace: an AF_PACKET socket (cooked,
/// so each packet starts at its IP header) that sees packets before any socket filter, connected tunnel socket or
/// firewall does, which is how Test-L2tpSession sees what a tunnel's socket never gets. Needs CAP_NET_RAW.
/// </summary>
internal static unsafe class PacketCapture
{
    private const int AF_PACKET_ = 17, ETH_P_ALL = 0x0003, PACKET_OUTGOING = 4;
    private const ushort ETH_P_IP = 0x0800, ETH_P_IPV6 = 0x86DD;

    /// <summary>What is done with each received IP packet (IPv4 or IPv6 bytes from its header on; other EtherTypes are skipped).</summary>
    public delegate void PacketHandler(ReadOnlySpan<byte> ipPacket);

    [StructLayout(LayoutKind.Sequential)]
    private struct SockAddrLl
    {
        public ushort Family;
        public ushort Protocol;
        public int IfIndex;
        public ushort HaType;
        public byte PktType;
        public byte HaLen;
        public ulong Addr;
    }

    [DllImport("libc", EntryPoint = "if_nametoindex")]
    private static extern uint IfNameToIndex([MarshalAs(UnmanagedType.LPUTF8Str)] string name);

    [DllImport("libc", SetLastError = true, EntryPoint = "recvfrom")]
    private static extern nint RecvFrom(int fd, byte* buf, nuint len, int flags, SockAddrLl* from, uint* fromLen);

    /// <summary>
    /// Hands every IP packet received (not sent) in this namespace to <paramref name="onPacket"/> for
    /// <paramref name="duration"/>, or until <paramref name="cancel"/>; returns how many it handed over. Packets
    /// received on <paramref name="skipInterfaces"/> (session interfaces: what came out of a pseudowire, which a host
    /// behind its far end chose) are not handed over.
    /// </summary>
    public static long Run(TimeSpan duration, CancellationToken cancel, PacketHandler onPacket, IEnumerable<string>? skipInterfaces = null)
    {
        var skip = (skipInterfaces ?? Array.Empty<string>()).Where(n => n.Length > 0).Select(IfNameToIndex).Where(i => i != 0)
            .Select(i => (int)i).ToHashSet();
        int fd = Sys.Socket(AF_PACKET_, SOCK_DGRAM, (ushort)((ETH_P_ALL << 8) | (ETH_P_ALL >> 8)));
        try
        {
            try { Sys.SetInt(fd, SOL_SOCKET, SO_RCVBUF, 4 * 1024 * 1024, "SO_RCVBUF"); } catch (ErrnoException) { }
            var buffer = new byte[65536];
            long count = 0;
            var deadline = DateTime.UtcNow + duration;
            while (!cancel.IsCancellationRequested)
            {
                int left = (int)Math.Ceiling((deadline - DateTime.UtcNow).TotalMilliseconds);
                if (left <= 0)
                    break;
                pollfd p = new() { fd = fd, events = (short)POLLIN };
                // Short waits, so Ctrl+C is noticed within a tenth of a second.
                int ready = poll(&p, 1, Math.Min(left, 100));
                if (ready < 0 && errno != EINTR)
                    throw new ErrnoException(errno, "poll(AF_PACKET)");
                if (ready <= 0)
                    continue;
                for (int k = 0; k < 256; k++)
                {
                    SockAddrLl from;
                    uint len = (uint)sizeof(SockAddrLl);
                    nint n;
                    fixed (byte* b = buffer)
                        n = RecvFrom(fd, b, (nuint)buffer.Length, MSG_DONTWAIT, &from, &len);
                    if (n < 0)
                        break;
                    if (from.PktType == PACKET_OUTGOING)
                        continue;
                    // Every EtherType arrives from its network header on: only IP is an IP packet, whatever else reads as one.
                    ushort proto = (ushort)System.Net.IPAddress.NetworkToHostOrder((short)from.Protocol);
                    if (proto is not (ETH_P_IP or ETH_P_IPV6) || skip.Contains(from.IfIndex))
                        continue;
                    count++;
                    onPacket(buffer.AsSpan(0, (int)n));
                }
            }
            return count;
        }
        finally
        {
            Sys.Close(fd);
        }
    }
}
