using System.Management.Automation;

namespace L2tp.Commands;

/// <summary>Test-L2tpSession: says from this end alone why a pseudowire is silent (or that it is healthy).</summary>
[Cmdlet(VerbsDiagnostic.Test, "L2tpSession")]
[OutputType(typeof(L2tpDiagnosis))]
public sealed class TestL2tpSessionCommand : L2tpCmdlet
{
    /// <summary>The tunnel of the session; binds from a piped L2tpSession.</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
    [Alias("tunnel_id")]
    [ArgumentCompleter(typeof(TunnelIdCompleter))]
    public uint TunnelId { get; set; }

    /// <summary>The session to diagnose; binds from a piped L2tpSession.</summary>
    [Parameter(Mandatory = true, Position = 1, ValueFromPipelineByPropertyName = true)]
    [Alias("session_id")]
    [ArgumentCompleter(typeof(SessionIdCompleter))]
    public uint SessionId { get; set; }

    /// <summary>How long to watch the counters and the arriving packets, in seconds.</summary>
    [Parameter]
    public double Seconds { get; set; } = 3;

    /// <inheritdoc/>
    protected override void ProcessL2tpRecord() =>
        WriteObject(Pseudowires.Diagnose(TunnelId, SessionId, TimeSpan.FromSeconds(Seconds)));
}
