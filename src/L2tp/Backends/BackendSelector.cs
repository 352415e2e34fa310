using L2tp.Native;

namespace L2tp.Backends;

/// <summary>Picks the backend: the -Backend parameter, else L2TP_BACKEND, else Kernel where the kernel has L2TP, else Managed.</summary>
internal static class BackendSelector
{
    public static BackendKind Requested(BackendKind parameter)
    {
        if (parameter != BackendKind.Auto)
            return parameter;
        string? env = Environment.GetEnvironmentVariable("L2TP_BACKEND");
        if (string.IsNullOrWhiteSpace(env))
            return BackendKind.Auto;
        if (Enum.TryParse<BackendKind>(env, ignoreCase: true, out var kind))
            return kind;
        throw new L2tpException("L2tp.InvalidBackend", L2tpErrorKind.InvalidArgument, env,
            $"L2TP_BACKEND='{env}' is not a backend: use Kernel, Managed or Auto.");
    }

    /// <summary>
    /// Opens a backend inside <paramref name="netns"/>. With <paramref name="create"/> false (Get/Remove) a managed
    /// backend with nothing to manage is not started, and null is returned.
    /// </summary>
    public static IL2tpBackend? Open(BackendKind parameter, string netns, bool create, Action<string>? verbose = null,
        CancellationToken cancel = default)
    {
        var kind = Requested(parameter);
        string why = parameter != BackendKind.Auto ? $"-Backend {parameter}"
            : kind != BackendKind.Auto ? $"L2TP_BACKEND={kind}" : "automatic choice";
        using var scope = NetNamespace.Enter(netns);
        if (kind is BackendKind.Kernel or BackendKind.Auto)
        {
            var kernel = KernelBackend.TryOpen(netns);
            if (kernel is not null)
            {
                verbose?.Invoke($"Backend: Kernel ({why}; the kernel has the 'l2tp' generic-netlink family)");
                kernel.Verbose = verbose;
                return kernel;
            }
            if (kind == BackendKind.Kernel)
                throw new L2tpException("L2tp.KernelL2tpUnavailable", L2tpErrorKind.ResourceUnavailable, "l2tp",
                    "This kernel has no L2TP (the generic-netlink family 'l2tp' is missing and l2tp_netlink could not be loaded). Use -Backend Managed.");
        }
        verbose?.Invoke(kind == BackendKind.Managed ? $"Backend: Managed ({why})"
            : "Backend: Managed (automatic choice: this kernel has no L2TP, the generic-netlink family 'l2tp' is missing)");
        return ManagedBackend.Connect(netns, create, verbose, cancel);
    }
}
