using L2tp.Netlink;

namespace L2tp.Backends;

/// <summary>The backend for kernels with L2TP: genl requests to the kernel's own l2tp family.</summary>
internal sealed class KernelBackend : GenlBackend
{
    private readonly string _key;
    private readonly bool _keep;
    private int _disposed;

    private KernelBackend(NetlinkClient client, RtNetlink? rt, ushort family, string netns, string key, bool keep)
        : base(client, family, netns, rt)
    {
        _key = key;
        _keep = keep;
    }

    /// <summary>A genl and an rtnetlink socket of one namespace, kept between cmdlet calls.</summary>
    private sealed record Sockets(NetlinkClient Genl, RtNetlink Rt);

    /// <summary>
    /// Sockets of the process's own namespace, kept across cmdlet invocations (a loop of New-L2tpSession opened and
    /// closed two sockets per call). Only there: a socket holds its namespace alive, and one kept for a named
    /// namespace would keep that namespace (its interfaces, its veths' peers) after `ip netns del`; the process's own
    /// lives as long as the process anyway. A few per namespace, for runspaces working at once.
    /// </summary>
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, System.Collections.Concurrent.ConcurrentBag<Sockets>> Kept = new();
    private const int KeptPerNamespace = 4;

    public override BackendKind Kind => BackendKind.Kernel;

    /// <summary>The kernel takes many requests in one send and acks each (netlink_rcv_skb), so bulk creation pipelines.</summary>
    public override bool PipelinesRequests => true;

    /// <summary>
    /// The l2tp family id per network namespace (by its never-reused cookie, NetNamespace.CurrentKey), resolved once
    /// per process: a CTRL_CMD_GETFAMILY round trip on every cmdlet call was a fifth of a New-L2tpSession loop's
    /// requests. A stale id (l2tp_netlink unloaded and loaded again under a new id) is caught where it is used:
    /// <see cref="GenlBackend"/> re-resolves once when a request is refused with a family-level errno.
    /// </summary>
    /// <remarks>Ids boxed (object, not ushort): a dictionary over ushort is runtime code JIT-compiled in every process.</remarks>
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, object> Families = new();

    /// <summary>Opens the kernel's l2tp family, or returns null when this kernel has no L2TP (the lookup also loads the module where one exists).</summary>
    public static KernelBackend? TryOpen(string netns)
    {
        string key = Native.NetNamespace.CurrentKey();
        bool keep = string.IsNullOrEmpty(netns);
        Sockets? kept = null;
        if (keep && Kept.TryGetValue(key, out var bag))
            bag.TryTake(out kept);
        var client = kept?.Genl ?? new NetlinkClient(new NetlinkSocket(Nl.NETLINK_GENERIC));
        ushort family;
        if (Families.TryGetValue(key, out var known))
            family = (ushort)known;
        else
        {
            if (client.ResolveFamily(L2tpGenl.FamilyName) is not { } resolved)
            {
                client.Dispose();
                kept?.Rt.Dispose();
                return null;
            }
            family = resolved;
            Families[key] = family;
        }
        return new KernelBackend(client, kept?.Rt, family, netns, key, keep);
    }

    /// <summary>Keeps the sockets for the next call when they are the process namespace's and hold no reply half read; else closes them.</summary>
    public override void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
            return;
        if (_keep && Client.Settled && Rt.Settled)
        {
            var bag = Kept.GetOrAdd(_key, _ => new());
            if (bag.Count < KeptPerNamespace)
            {
                bag.Add(new Sockets(Client, Rt));
                return;
            }
        }
        base.Dispose();
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
