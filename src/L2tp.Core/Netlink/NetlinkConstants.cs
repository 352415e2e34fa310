namespace L2tp.Netlink;

/// <summary>Netlink and generic-netlink numbers from include/uapi/linux/netlink.h and genetlink.h.</summary>
internal static class Nl
{
    public const int HeaderLength = 16;
    public const int GenlHeaderLength = 4;
    public const int AttrHeaderLength = 4;

    public const ushort NOOP = 1, ERROR = 2, DONE = 3, OVERRUN = 4;

    public const ushort F_REQUEST = 0x01, F_MULTI = 0x02, F_ACK = 0x04, F_ECHO = 0x08;
    public const ushort F_ROOT = 0x100, F_MATCH = 0x200, F_DUMP = F_ROOT | F_MATCH;
    public const ushort F_REPLACE = 0x100, F_EXCL = 0x200, F_CREATE = 0x400;
    /// <summary>In an ERROR reply: the request was not echoed back (NETLINK_CAP_ACK).</summary>
    public const ushort F_CAPPED = 0x100;
    /// <summary>In an ERROR reply: extended-ack attributes follow.</summary>
    public const ushort F_ACK_TLVS = 0x200;

    public const ushort NLA_F_NESTED = 0x8000, NLA_F_NET_BYTEORDER = 0x4000, NLA_TYPE_MASK = 0x3FFF;

    public const int NLMSGERR_ATTR_MSG = 1, NLMSGERR_ATTR_OFFS = 2;
    public const int SOL_NETLINK = 270, NETLINK_CAP_ACK = 10, NETLINK_EXT_ACK = 11, NETLINK_GET_STRICT_CHK = 12;
    public const int NETLINK_ROUTE = 0, NETLINK_GENERIC = 16;

    public const ushort GENL_ID_CTRL = 0x10;
    public const byte CTRL_CMD_GETFAMILY = 3;
    public const ushort CTRL_ATTR_FAMILY_ID = 1, CTRL_ATTR_FAMILY_NAME = 2, CTRL_ATTR_VERSION = 3,
        CTRL_ATTR_HDRSIZE = 4, CTRL_ATTR_MAXATTR = 5;

    public static int Align(int n) => (n + 3) & ~3;
}
