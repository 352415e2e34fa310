using System.Management.Automation;

namespace L2tp.Commands;

/// <summary>Test-L2tpSession: says from this end alone why a pseudowire is silent (or that it is healthy).</summary>
[Cmdlet(VerbsDiagnostic.Test, "L2tpSession")]
[OutputType(typeof(L2tpDiagnosis))]
public sealed class TestL2tpSessionCommand : L2tpSessionCmdlet
{
    /// <summary>How long to watch the counters and the arriving packets, in seconds.</summary>
    [Parameter]
    public double Seconds { get; set; } = 3;

    /// <inheritdoc/>
    protected override void ProcessL2tpRecord() =>
        WriteObject(Pseudowires.Diagnose(TunnelId, SessionId, TimeSpan.FromSeconds(Seconds)));
}
