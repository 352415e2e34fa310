using System.Management.Automation;
using L2tp.Backends;
using L2tp.Services;
using L2tp.Native;
using L2tp.Netlink;

namespace L2tp.Commands;

/// <summary>Base of every cmdlet of the module: errors as ErrorRecords, Ctrl+C, and closing what an invocation opened.</summary>
public abstract class L2tpCmdletBase : PSCmdlet, IDisposable
{
    /// <summary>Runs the cmdlet's work for one record, turning failures into ErrorRecords that name what to fix.</summary>
    protected sealed override void ProcessRecord()
    {
        try
        {
            try
            {
                ProcessL2tpRecord();
            }
            finally
            {
                AfterRecord();
            }
        }
        catch (L2tpException e)
        {
            WriteError(ToErrorRecord(e));
        }
        catch (NetlinkException e)
        {
            WriteError(ToErrorRecord(Refusals.LinkChange(e, ErrorTarget)));
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

    /// <summary>After each record, also a failed one: what the services have to tell (warnings).</summary>
    protected virtual void AfterRecord() { }

    /// <summary>What a kernel refusal is about (the interface or bridge name), as the ErrorRecord's target.</summary>
    protected virtual object? ErrorTarget => null;

    internal static ErrorRecord ToErrorRecord(L2tpException e)
    {
        // Core states a broken rule with its fields marked; a cmdlet user knows them as parameters.
        if (e.Template is not null)
            e = new L2tpException(e.ErrorId, e.Kind, e.Target, e.Word(field => "-" + field), e.InnerException) { Errno = e.Errno };
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
    protected virtual void Close() { }
}

/// <summary>Base of the cmdlets that work in one namespace per record: -NetworkNamespace and rtnetlink access.</summary>
public abstract class L2tpNetnsCmdlet : L2tpCmdletBase
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

    /// <summary>Interfaces and bridges of the current record's namespace.</summary>
    internal InterfaceService Interfaces => new(Rt, NetworkNamespace ?? "");

    /// <inheritdoc/>
    protected override void Close()
    {
        foreach (var r in _rt.Values)
            r.Dispose();
        _rt.Clear();
    }
}

/// <summary>Base of the tunnel and session cmdlets: adds -Backend, and the service that owns their requests.</summary>
public abstract class L2tpCmdlet : L2tpNetnsCmdlet
{
    private readonly Dictionary<(string, BackendKind), PseudowireService> _services = new();

    /// <summary>Kernel or Managed; by default L2TP_BACKEND, else Kernel where the kernel has L2TP, else Managed.</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    public BackendKind Backend { get; set; } = BackendKind.Auto;

    /// <summary>Tunnels and sessions of the current record's namespace and backend, one service per invocation.</summary>
    internal PseudowireService Pseudowires
    {
        get
        {
            var key = (NetworkNamespace ?? "", Backend);
            if (!_services.TryGetValue(key, out var s))
                _services[key] = s = new PseudowireService(Backend, NetworkNamespace ?? "", WriteVerbose, Cancellation);
            return s;
        }
    }

    /// <inheritdoc/>
    protected override void AfterRecord()
    {
        foreach (var s in _services.Values)
            foreach (var warning in s.TakeWarnings())
                WriteWarning(warning);
    }

    /// <inheritdoc/>
    protected override void Close()
    {
        foreach (var s in _services.Values)
            s.Dispose();
        _services.Clear();
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

/// <summary>Base of the cmdlets that act on one session named by its tunnel and session id, as a piped L2tpSession binds them.</summary>
public abstract class L2tpSessionCmdlet : L2tpCmdlet
{
    /// <summary>The session's tunnel; binds from a piped L2tpSession.</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
    [Alias("tunnel_id")]
    [ArgumentCompleter(typeof(TunnelIdCompleter))]
    public uint TunnelId { get; set; }

    /// <summary>The session; binds from a piped L2tpSession.</summary>
    [Parameter(Mandatory = true, Position = 1, ValueFromPipelineByPropertyName = true)]
    [Alias("session_id")]
    [ArgumentCompleter(typeof(SessionIdCompleter))]
    public uint SessionId { get; set; }
}
