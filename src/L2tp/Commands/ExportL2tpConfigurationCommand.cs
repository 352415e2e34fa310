using System.Management.Automation;
using L2tp.Services;

namespace L2tp.Commands;

/// <summary>Export-L2tpConfiguration: writes the tunnels, sessions, their interfaces and the bridges of namespaces as a configuration file.</summary>
[Cmdlet(VerbsData.Export, "L2tpConfiguration", SupportsShouldProcess = true)]
[OutputType(typeof(string))]
public sealed class ExportL2tpConfigurationCommand : L2tpCmdletBase
{
    /// <summary>The file to write (overwritten); without it the JSON text is the output.</summary>
    [Parameter(Position = 0)]
    public string? Path { get; set; }

    /// <summary>The network namespaces to export (names under /run/netns; "" for the caller's own); the caller's own when omitted.</summary>
    [Parameter]
    [Alias("netns")]
    [ArgumentCompleter(typeof(NetworkNamespaceCompleter))]
    [AllowEmptyString]
    public string[] NetworkNamespace { get; set; } = { "" };

    /// <inheritdoc/>
    protected override void ProcessL2tpRecord()
    {
        using var service = new ConfigurationService(WriteVerbose, Cancellation);
        var config = service.Export(NetworkNamespace.Select(n => n ?? ""));
        foreach (var warning in service.TakeWarnings())
            WriteWarning(warning);
        if (Path is null)
            WriteObject(config.ToJson());
        else
        {
            string file = GetUnresolvedProviderPathFromPSPath(Path);
            if (ShouldProcess(file, $"Write the configuration of {config.Namespaces.Sum(n => n.Tunnels.Count)} tunnel(s) and {config.Namespaces.Sum(n => n.Tunnels.Sum(t => t.Sessions.Count))} session(s)"))
                config.Write(file);
        }
    }
}
