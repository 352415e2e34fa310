using L2tp.Netlink;

namespace L2tp.Backends;

/// <summary>The backend for kernels with L2TP: genl requests to the kernel's own l2tp family.</summary>
internal sealed class KernelBackend : GenlBackend
{
    private KernelBackend(NetlinkClient client, ushort family, string netns) : base(client, family, netns) { }

    public override BackendKind Kind => BackendKind.Kernel;

    /// <summary>Opens the kernel's l2tp family, or returns null when this kernel has no L2TP (the lookup also loads the module where one exists).</summary>
    public static KernelBackend? TryOpen(string netns)
    {
        var client = new NetlinkClient(new NetlinkSocket(Nl.NETLINK_GENERIC));
        ushort? family = client.ResolveFamily(L2tpGenl.FamilyName);
        if (family is null)
        {
            client.Dispose();
            return null;
        }
        return new KernelBackend(client, family.Value, netns);
    }
}
