using L2tp.Netlink;
using L2tp.Protocol;
using static Tmds.Linux.LibC;

namespace L2tp.Services;

/// <summary>
/// The module's one mapping from a refusal (an errno from the kernel or the forwarder, with its extended ack) to an
/// error a user can act on: an L2tp.* id, a category, the offending value and words that name the parameter.
/// </summary>
internal static class Refusals
{
    /// <summary>Runs a request; its refusal becomes the error <paramref name="refusal"/> words.</summary>
    public static T Guard<T>(Func<T> request, Func<NetlinkException, L2tpException> refusal)
    {
        try { return request(); }
        catch (NetlinkException e) { throw refusal(e); }
    }

    /// <inheritdoc cref="Guard{T}"/>
    public static void Guard(Action request, Func<NetlinkException, L2tpException> refusal) =>
        Guard(() => { request(); return 0; }, refusal);

    public static string InNs(string netns) => string.IsNullOrEmpty(netns) ? "" : $" in network namespace '{netns}'";

    private static L2tpException Err(NetlinkException e, string id, L2tpErrorKind kind, object? target, string text) =>
        new(id, kind, target, text, e) { Errno = e.Errno };

    /// <summary>TUNNEL_CREATE refused.</summary>
    public static L2tpException TunnelCreate(NetlinkException e, TunnelSpec spec, BackendKind backend, string netns) => e.Errno switch
    {
        _ when e.Errno == EEXIST => Err(e, "L2tp.TunnelExists", L2tpErrorKind.ResourceExists, spec.TunnelId,
            $"Tunnel {spec.TunnelId} already exists{InNs(netns)}. Remove it first or choose another -TunnelId."),
        _ when e.Errno == EADDRNOTAVAIL => Err(e, "L2tp.AddressNotLocal", L2tpErrorKind.InvalidArgument, spec.Local,
            $"-Local {spec.Local} is not an address of this host{InNs(netns)}. Assign it to an interface first, or use 'any'."),
        _ when e.Errno == EADDRINUSE => Err(e, "L2tp.PortInUse", L2tpErrorKind.ResourceExists, spec.SourcePort,
            $"UDP port {spec.SourcePort} on {spec.Local} is already in use{InNs(netns)}. Choose another -SourcePort."),
        _ => Generic(e, backend, spec.TunnelId, netns),
    };

    /// <summary>SESSION_CREATE refused; <paramref name="sessionExists"/> tells EEXIST's two meanings apart on kernels that say no more.</summary>
    public static L2tpException SessionCreate(NetlinkException e, SessionSpec spec, BackendKind backend, string netns, Func<bool> sessionExists) => e.Errno switch
    {
        // Kernels before 6.x say nothing more than EEXIST when register_netdev refuses the name: a session id that
        // is not taken tells that case apart.
        _ when e.Errno == EEXIST && spec.InterfaceName is not null
            && (e.ExtendedAck?.Contains("interface", StringComparison.OrdinalIgnoreCase) == true || !sessionExists()) =>
            Err(e, "L2tp.InterfaceExists", L2tpErrorKind.ResourceExists, spec.InterfaceName,
                $"An interface named '{spec.InterfaceName}' already exists{InNs(netns)}. Choose another -Name."),
        _ when e.Errno == EEXIST => Err(e, "L2tp.SessionExists", L2tpErrorKind.ResourceExists, spec.SessionId,
            $"Session {spec.SessionId} already exists in tunnel {spec.TunnelId}{InNs(netns)}. Choose another -SessionId."),
        // The forwarder holds a TAP fd per session and refuses one that would leave it short of fds (FileLimit).
        _ when e.Errno == EMFILE || e.Errno == ENFILE => Err(e, "L2tp.OpenFileLimit", L2tpErrorKind.ResourceUnavailable, spec.SessionId,
            $"No session {spec.SessionId} in tunnel {spec.TunnelId}{InNs(netns)}: {e.ExtendedAck ?? e.Message}"),
        _ when Backends.GenlBackend.IsNotFound(e) => TunnelNotFound(spec.TunnelId, netns, e),
        _ => Generic(e, backend, spec.SessionId, netns),
    };

    /// <summary>TUNNEL_DELETE refused.</summary>
    public static L2tpException TunnelDelete(NetlinkException e, uint tunnelId, BackendKind backend, string netns) =>
        Backends.GenlBackend.IsNotFound(e) ? TunnelNotFound(tunnelId, netns, e) : Generic(e, backend, tunnelId, netns);

    /// <summary>SESSION_DELETE refused.</summary>
    public static L2tpException SessionDelete(NetlinkException e, uint tunnelId, uint sessionId, BackendKind backend, string netns) =>
        Backends.GenlBackend.IsNotFound(e) ? SessionNotFound(tunnelId, sessionId, netns, e) : Generic(e, backend, sessionId, netns);

    /// <summary>SESSION_MODIFY refused: gone meanwhile, or a change the backend cannot make on a live session.</summary>
    public static L2tpException SessionModify(NetlinkException e, uint tunnelId, uint sessionId, BackendKind backend, string netns) => e.Errno switch
    {
        _ when Backends.GenlBackend.IsNotFound(e) => SessionNotFound(tunnelId, sessionId, netns, e),
        _ when e.Errno == EOPNOTSUPP || e.Errno == EPROTONOSUPPORT => Err(e, "L2tp.CannotModify", L2tpErrorKind.NotImplemented, sessionId,
            $"The {backend} backend cannot make this change to session {sessionId} in tunnel {tunnelId}{InNs(netns)}: {e.Message}"),
        _ => Generic(e, backend, sessionId, netns),
    };

    public static L2tpException TunnelNotFound(uint tunnelId, string netns, Exception? inner = null) =>
        new("L2tp.TunnelNotFound", L2tpErrorKind.ObjectNotFound, tunnelId, $"There is no tunnel {tunnelId}{InNs(netns)}.", inner)
            { Errno = (inner as NetlinkException)?.Errno ?? 0 };

    public static L2tpException SessionNotFound(uint? tunnelId, uint sessionId, string netns, Exception? inner = null) =>
        new("L2tp.SessionNotFound", L2tpErrorKind.ObjectNotFound, sessionId,
            (tunnelId is { } t ? $"There is no session {sessionId} in tunnel {t}" : $"There is no session {sessionId}") + InNs(netns) + ".", inner)
            { Errno = (inner as NetlinkException)?.Errno ?? 0 };

    /// <summary>Errno values with no operation-specific meaning, in words a user can act on.</summary>
    public static L2tpException Generic(NetlinkException e, BackendKind backend, object? target, string netns)
    {
        string detail = e.Message;
        if (e.Errno == EPERM || e.Errno == EACCES)
            return Err(e, "L2tp.PermissionDenied", L2tpErrorKind.PermissionDenied, target,
                $"Permission denied{InNs(netns)}: L2TP configuration needs root or CAP_NET_ADMIN. {detail}");
        if (e.Errno == EPROTONOSUPPORT || e.Errno == EOPNOTSUPP)
            return Err(e, "L2tp.NotSupported", L2tpErrorKind.NotImplemented, target,
                $"The {backend} backend does not support this: {detail}");
        if (e.Errno == EINVAL)
            return Err(e, "L2tp.InvalidArgument", L2tpErrorKind.InvalidArgument, target, $"Refused as invalid: {detail}");
        if (e.Errno == ENODEV)
            return Err(e, "L2tp.DeviceUnavailable", L2tpErrorKind.ResourceUnavailable, target, $"Device unavailable: {detail}");
        return Err(e, "L2tp.BackendError", L2tpErrorKind.ConnectionError, target, $"The {backend} backend failed: {detail}");
    }

    /// <summary>A request of the forwarder's own family (INFO, STOP) refused.</summary>
    public static L2tpException ForwarderRequest(NetlinkException e, string netns) => e.Errno == EPERM || e.Errno == EACCES
        ? Err(e, "L2tp.PermissionDenied", L2tpErrorKind.PermissionDenied, string.IsNullOrEmpty(netns) ? null : netns,
            $"Operating l2tp-forwarder{InNs(netns)} needs root or CAP_NET_ADMIN. {e.Message}")
        : Err(e, "L2tp.ForwarderError", L2tpErrorKind.ConnectionError, Control.ForwarderPaths.SocketName,
            $"l2tp-forwarder{InNs(netns)} refused the request: {e.Message}");

    /// <summary>An rtnetlink change refused (interface and bridge helpers): what is not operation-specific.</summary>
    public static L2tpException LinkChange(NetlinkException e, object? target) =>
        Err(e, "L2tp.KernelRefused", e.Errno == EPERM ? L2tpErrorKind.PermissionDenied : L2tpErrorKind.InvalidArgument,
            target, $"The kernel refused the change to '{target}': {e.Message}");

    /// <summary>RTM_NEWADDR refused.</summary>
    public static L2tpException AddressAdd(NetlinkException e, string address, string ifname) => e.Errno == EEXIST
        ? Err(e, "L2tp.AddressExists", L2tpErrorKind.ResourceExists, address, $"{address} is already on {ifname}.")
        : LinkChange(e, ifname);

    /// <summary>RTM_NEWLINK (set) refused; an MTU the device does not take is named as such.</summary>
    public static L2tpException LinkSet(NetlinkException e, string ifname, int? mtu, string? mtuText) =>
        mtu is not null && e.ExtendedAck?.Contains("mtu", StringComparison.OrdinalIgnoreCase) == true
            ? Err(e, "L2tp.InvalidMtu", L2tpErrorKind.InvalidArgument, mtuText, $"{ifname} does not take MTU {mtu}: {e.ExtendedAck}.")
            : LinkChange(e, ifname);

    /// <summary>RTM_NEWLINK (create a bridge) refused.</summary>
    public static L2tpException BridgeAdd(NetlinkException e, string name) => e.Errno switch
    {
        _ when e.Errno == EEXIST => Err(e, "L2tp.InterfaceExists", L2tpErrorKind.ResourceExists, name, $"An interface named '{name}' already exists."),
        _ when e.Errno == EOPNOTSUPP => Err(e, "L2tp.NotSupported", L2tpErrorKind.NotImplemented, name, "This kernel has no bridge support."),
        _ => LinkChange(e, name),
    };
}
