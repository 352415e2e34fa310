using System.Management.Automation;
using L2tp.Backends;
using L2tp.Native;
using L2tp.Netlink;

namespace L2tp.Commands;

/// <summary>Base of every cmdlet of the module: -NetworkNamespace, rtnetlink access, and errors as ErrorRecords.</summary>
public abstract class L2tpNetnsCmdlet : PSCmdlet, IDisposable
{
    private readonly Dictionary<string, RtNetlink> _rt = new();

    /// <summary>Run in this network namespace (a name under /run/netns), as `ip -n NAME`; the caller's own when empty.</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    [Alias("netns")]
    [ArgumentCompleter(typeof(NetworkNamespaceCompleter))]
    public string NetworkNamespace { get; set; } = "";

    /// <summary>An rtnetlink socket in the current record's namespace, opened once per invocation.</summary>
    internal RtNetlink Rt
    {
        get
        {
            string ns = NetworkNamespace ?? "";
            if (!_rt.TryGetValue(ns, out var rt))
            {
                using (NetNamespace.Enter(ns))
                    rt = new RtNetlink();
                _rt[ns] = rt;
            }
            return rt;
        }
    }

    /// <summary>Runs the cmdlet's work for one record, turning failures into ErrorRecords that name what to fix.</summary>
    protected sealed override void ProcessRecord()
    {
        try
        {
            ProcessL2tpRecord();
        }
        catch (L2tpException e)
        {
            WriteError(ToErrorRecord(e));
        }
        catch (NetlinkException e)
        {
            WriteError(ToErrorRecord(new L2tpException("L2tp.KernelRefused",
                e.Errno == Tmds.Linux.LibC.EPERM ? L2tpErrorKind.PermissionDenied : L2tpErrorKind.InvalidArgument,
                ErrorTarget, $"The kernel refused the change to '{ErrorTarget}': {e.Message}", e) { Errno = e.Errno }));
        }
        catch (ErrnoException e)
        {
            WriteError(ToErrorRecord(new L2tpException("L2tp.SystemError", L2tpErrorKind.ConnectionError, null, e.Message, e) { Errno = e.Errno }));
        }
        catch (OperationCanceledException)
        {
            // Ctrl+C cancelled a request: the pipeline is stopping, which PowerShell reports itself.
            throw new PipelineStoppedException();
        }
        catch (Exception e) when (e is not RuntimeException)
        {
            // A bug of ours still reaches the user as an L2tp.* error, with the whole exception kept for a report.
            WriteError(ToErrorRecord(new L2tpException("L2tp.InternalError", L2tpErrorKind.ConnectionError, null,
                $"Internal error in the L2tp module ({e.GetType().Name}: {e.Message}). Please report it with $Error[0].Exception.InnerException.", e)));
        }
    }

    /// <summary>The per-record work of the cmdlet.</summary>
    protected abstract void ProcessL2tpRecord();

    /// <summary>What a kernel refusal is about (the interface or bridge name), as the ErrorRecord's target.</summary>
    protected virtual object? ErrorTarget => null;

    internal static ErrorRecord ToErrorRecord(L2tpException e)
    {
        var category = e.Kind switch
        {
            L2tpErrorKind.InvalidArgument => ErrorCategory.InvalidArgument,
            L2tpErrorKind.ResourceExists => ErrorCategory.ResourceExists,
            L2tpErrorKind.ObjectNotFound => ErrorCategory.ObjectNotFound,
            L2tpErrorKind.PermissionDenied => ErrorCategory.PermissionDenied,
            L2tpErrorKind.ResourceUnavailable => ErrorCategory.ResourceUnavailable,
            L2tpErrorKind.NotImplemented => ErrorCategory.NotImplemented,
            L2tpErrorKind.InvalidOperation => ErrorCategory.InvalidOperation,
            _ => ErrorCategory.ConnectionError,
        };
        return new ErrorRecord(e, e.ErrorId, category, e.Target);
    }

    /// <summary>Closes what this invocation opened.</summary>
    protected override void EndProcessing() => Close();

    private readonly CancellationTokenSource _stopping = new();

    /// <summary>Cancelled by Ctrl+C: whatever this invocation waits on (a forwarder's reply, its start) returns at once.</summary>
    internal CancellationToken Cancellation => _stopping.Token;

    /// <summary>
    /// Ctrl+C, on another thread: cancel the token, which shuts blocked sockets down so their calls return; closing the
    /// fds is left to the pipeline thread, which may still be inside a system call on them.
    /// </summary>
    protected override void StopProcessing() => _stopping.Cancel();

    /// <summary>
    /// PowerShell disposes a cmdlet when its pipeline ends, also when an error stopped it before EndProcessing: a
    /// forwarder connection must not outlive the pipeline (the forwarder waits for its clients before exiting).
    /// </summary>
    public void Dispose() => Close();

    /// <summary>Releases sockets; derived cmdlets add their own.</summary>
    protected virtual void Close()
    {
        foreach (var r in _rt.Values)
            r.Dispose();
        _rt.Clear();
    }
}

/// <summary>Base of the tunnel and session cmdlets: adds -Backend and the backend's lifetime.</summary>
public abstract class L2tpCmdlet : L2tpNetnsCmdlet
{
    private readonly Dictionary<(string, BackendKind), IL2tpBackend> _backends = new();

    /// <summary>Kernel or Managed; by default L2TP_BACKEND, else Kernel where the kernel has L2TP, else Managed.</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    public BackendKind Backend { get; set; } = BackendKind.Auto;

    /// <summary>
    /// The backend for the current record's namespace, opened once per cmdlet invocation. With <paramref name="create"/>
    /// false, returns null where nothing was ever configured (no forwarder to start).
    /// </summary>
    internal IL2tpBackend? GetBackend(bool create)
    {
        var key = (NetworkNamespace ?? "", Backend);
        if (_backends.TryGetValue(key, out var b))
            return b;
        var opened = BackendSelector.Open(Backend, NetworkNamespace ?? "", create, WriteVerbose, Cancellation);
        if (opened is not null)
            _backends[key] = opened;
        if (opened is ManagedBackend managed)
            foreach (var warning in managed.Warnings)
                WriteWarning(warning);
        return opened;
    }

    /// <inheritdoc/>
    protected override void Close()
    {
        foreach (var b in _backends.Values)
            b.Dispose();
        _backends.Clear();
        base.Close();
    }
}

/// <summary>Completes -NetworkNamespace from the names under /run/netns.</summary>
public sealed class NetworkNamespaceCompleter : IArgumentCompleter
{
    /// <summary>Lists namespace names that start with what was typed.</summary>
    public IEnumerable<CompletionResult> CompleteArgument(string commandName, string parameterName, string wordToComplete,
        System.Management.Automation.Language.CommandAst commandAst, System.Collections.IDictionary fakeBoundParameters)
    {
        if (!Directory.Exists("/run/netns"))
            yield break;
        foreach (var f in Directory.EnumerateFiles("/run/netns").Select(Path.GetFileName).Order())
            if (f!.StartsWith(wordToComplete, StringComparison.Ordinal))
                yield return new CompletionResult(f, f, CompletionResultType.ParameterValue, f);
    }
}
