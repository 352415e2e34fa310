using System.Management.Automation;
using L2tp.Services;

namespace L2tp.Commands;

/// <summary>ConvertFrom-IpL2tp: a site configured by hand (an `ip l2tp` script, or `ip -j l2tp show` output) as a configuration file.</summary>
[Cmdlet(VerbsData.ConvertFrom, "IpL2tp", DefaultParameterSetName = "Text", SupportsShouldProcess = true)]
[OutputType(typeof(string))]
public sealed class ConvertFromIpL2tpCommand : L2tpCmdletBase
{
    /// <summary>A shell script of ip l2tp/link/addr lines, or a file of `ip -j l2tp show tunnel` and `... show session` output.</summary>
    [Parameter(Mandatory = true, Position = 0, ParameterSetName = "Path")]
    public string Path { get; set; } = "";

    /// <summary>The same as text: lines or whole texts from the pipeline (Get-Content, or `ip -j l2tp show ...`).</summary>
    [Parameter(Mandatory = true, ValueFromPipeline = true, ParameterSetName = "Text")]
    [AllowEmptyString]
    public string[] InputObject { get; set; } = Array.Empty<string>();

    /// <summary>The namespace of lines that name none (no `ip -n NS` or `ip netns exec NS`); "" (the default) for the caller's own.</summary>
    [Parameter]
    [Alias("netns")]
    [AllowEmptyString]
    public string NetworkNamespace { get; set; } = "";

    /// <summary>Writes the configuration to this file instead of writing its JSON text as output.</summary>
    [Parameter]
    public string? OutFile { get; set; }

    private readonly List<string> _lines = new();

    /// <inheritdoc/>
    protected override void ProcessL2tpRecord()
    {
        if (ParameterSetName == "Text")
            _lines.AddRange(InputObject);
    }

    /// <inheritdoc/>
    protected override void EndProcessing()
    {
        try
        {
            string text = ParameterSetName == "Path"
                ? L2tpConfiguration.ReadText(GetUnresolvedProviderPathFromPSPath(Path), what: "")
                : string.Join("\n", _lines);
            var (config, warnings) = ConfigurationService.FromIpL2tp(text, NetworkNamespace);
            foreach (var w in warnings)
                WriteWarning(w);
            if (OutFile is null)
                WriteObject(config.ToJson());
            else
            {
                string file = GetUnresolvedProviderPathFromPSPath(OutFile);
                if (ShouldProcess(file, "Write the configuration read from ip l2tp"))
                    config.Write(file);
            }
        }
        catch (L2tpException e)
        {
            WriteError(ToErrorRecord(e));
        }
    }
}
