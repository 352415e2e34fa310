using System.Management.Automation;
using L2tp.Services;
using L2tp.Backends;

namespace L2tp.Commands;

/// <summary>Stop-L2tpForwarder: ends a namespace's managed forwarder, keeping its interfaces and state for the next one.</summary>
[Cmdlet(VerbsLifecycle.Stop, "L2tpForwarder", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(L2tpForwarder))]
public sealed class StopL2tpForwarderCommand : L2tpNetnsCmdlet
{
    /// <summary>Writes the forwarder as it was before the stop.</summary>
    [Parameter]
    public SwitchParameter PassThru { get; set; }

    /// <inheritdoc/>
    protected override void ProcessL2tpRecord()
    {
        string ns = NetworkNamespace ?? "";
        var forwarder = ForwarderService.Get(ns);
        if (forwarder is null)
        {
            WriteVerbose($"No l2tp-forwarder runs{(ns.Length > 0 ? $" in network namespace '{ns}'" : "")}: nothing to stop.");
            return;
        }
        string target = $"l2tp-forwarder {forwarder.ProcessId}{(ns.Length > 0 ? $" in network namespace '{ns}'" : "")}";
        if (!ShouldProcess(target, $"Stop (its {forwarder.Tunnels} tunnel(s) stop carrying traffic until a cmdlet starts a new forwarder)"))
            return;
        ForwarderService.Stop(ns, TimeSpan.FromSeconds(10));
        if (PassThru)
            WriteObject(forwarder);
    }
}
