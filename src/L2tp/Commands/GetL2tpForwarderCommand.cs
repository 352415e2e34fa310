using System.Management.Automation;
using L2tp.Services;
using L2tp.Backends;

namespace L2tp.Commands;

/// <summary>Get-L2tpForwarder: the managed forwarder of a network namespace, if one runs; never starts one.</summary>
[Cmdlet(VerbsCommon.Get, "L2tpForwarder")]
[OutputType(typeof(L2tpForwarder))]
public sealed class GetL2tpForwarderCommand : L2tpNetnsCmdlet
{
    /// <inheritdoc/>
    protected override void ProcessL2tpRecord()
    {
        if (ForwarderService.Get(NetworkNamespace ?? "") is { } forwarder)
            WriteObject(forwarder);
    }
}
