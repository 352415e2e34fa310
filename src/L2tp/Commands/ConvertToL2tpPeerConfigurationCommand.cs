using System.Management.Automation;
using L2tp.Services;

namespace L2tp.Commands;

/// <summary>ConvertTo-L2tpPeerConfiguration: what the far end must run for these sessions, mirrored, as a configuration file, an ip l2tp script or QEMU arguments.</summary>
[Cmdlet(VerbsData.ConvertTo, "L2tpPeerConfiguration", DefaultParameterSetName = "Session")]
[OutputType(typeof(string))]
public sealed class ConvertToL2tpPeerConfigurationCommand : L2tpCmdletBase
{
    /// <summary>Sessions of this end (from Get-L2tpSession or New-L2tpSession), each with its tunnel.</summary>
    [Parameter(Mandatory = true, ValueFromPipeline = true, ParameterSetName = "Session")]
    public L2tpSession[] Session { get; set; } = Array.Empty<L2tpSession>();

    /// <summary>A configuration file of this end (Export-L2tpConfiguration): every tunnel in it is mirrored.</summary>
    [Parameter(Mandatory = true, ParameterSetName = "Path")]
    public string Path { get; set; } = "";

    /// <summary>L2tp (a configuration file for Sync-L2tpConfiguration, the default), IpRoute2 (a shell script), or Qemu (one -netdev value per session).</summary>
    [Parameter(Position = 0)]
    public L2tpPeerFormat Format { get; set; } = L2tpPeerFormat.L2tp;

    /// <summary>The far end's local address; by default this end's Remote.</summary>
    [Parameter]
    public string? PeerLocal { get; set; }

    /// <summary>The address the far end sends to; by default this end's Local (needed when that is 'any').</summary>
    [Parameter]
    public string? PeerRemote { get; set; }

    /// <summary>The far end's network namespace, for the L2tp and IpRoute2 formats ("" for the far host's own).</summary>
    [Parameter]
    [AllowEmptyString]
    public string PeerNetworkNamespace { get; set; } = "";

    private readonly List<L2tpSession> _sessions = new();

    /// <inheritdoc/>
    protected override void ProcessL2tpRecord() => _sessions.AddRange(Session);

    /// <inheritdoc/>
    protected override void EndProcessing()
    {
        try
        {
            using var service = new ConfigurationService(WriteVerbose, Cancellation);
            var (output, warnings) = ParameterSetName == "Path"
                ? service.PeerConfiguration(L2tpConfiguration.Read(GetUnresolvedProviderPathFromPSPath(Path)), Format, PeerLocal, PeerRemote, PeerNetworkNamespace, Path)
                : service.PeerConfiguration(_sessions, Format, PeerLocal, PeerRemote, PeerNetworkNamespace);
            foreach (var w in warnings)
                WriteWarning(w);
            foreach (var text in output)
                WriteObject(text);
        }
        catch (L2tpException e)
        {
            WriteError(ToErrorRecord(e));
        }
    }
}
