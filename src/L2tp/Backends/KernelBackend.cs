using L2tp.Netlink;

namespace L2tp.Backends;

/// <summary>The backend for kernels with L2TP: genl requests to the kernel's own l2tp family.</summary>
internal sealed class KernelBackend : GenlBackend
{
    private readonly string _key;

    private KernelBackend(NetlinkClient client, ushort family, string netns, string key) : base(client, family, netns) => _key = key;

    public override BackendKind Kind => BackendKind.Kernel;

    /// <summary>
    /// The l2tp family id per network namespace (by its never-reused cookie, NetNamespace.CurrentKey), resolved once
    /// per process: a CTRL_CMD_GETFAMILY round trip on every cmdlet call was a fifth of a New-L2tpSession loop's
    /// requests. A stale id (l2tp_netlink unloaded and loaded again under a new id) is caught where it is used:
    /// <see cref="GenlBackend"/> re-resolves once when a request is refused with a family-level errno.
    /// </summary>
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, ushort> Families = new();

    /// <summary>Opens the kernel's l2tp family, or returns null when this kernel has no L2TP (the lookup also loads the module where one exists).</summary>
    public static KernelBackend? TryOpen(string netns)
    {
        string key = Native.NetNamespace.CurrentKey();
        var client = new NetlinkClient(new NetlinkSocket(Nl.NETLINK_GENERIC));
        if (!Families.TryGetValue(key, out ushort family))
        {
            if (client.ResolveFamily(L2tpGenl.FamilyName) is not { } resolved)
            {
                client.Dispose();
                return null;
            }
            Families[key] = family = resolved;
        }
        return new KernelBackend(client, family, netns, key);
    }

    /// <summary>Looks the family id up again after a request under the cached one was refused; null when the family is gone.</summary>
    protected override ushort? ResolveAgain()
    {
        Families.TryRemove(_key, out _);
        // The client caches names too: ask the kernel, not the client's memory.
        if (Client.ResolveFamily(L2tpGenl.FamilyName, fresh: true) is not { } id)
            return null;
        Families[_key] = id;
        return id;
    }
}
