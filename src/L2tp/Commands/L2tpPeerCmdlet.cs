using System.Management.Automation;
using System.Management.Automation.Runspaces;
using L2tp.Services;

namespace L2tp.Commands;

/// <summary>Base of the cmdlets that act at both ends of a pseudowire: where the peer is (-PeerSession, or -HostName to open one), and its backend.</summary>
public abstract class L2tpPeerCmdlet : L2tpCmdlet
{
    /// <summary>An open PSSession (New-PSSession -HostName ... over SSH) to the computer of the peer end.</summary>
    [Parameter(Mandatory = true, ParameterSetName = "PeerSession", ValueFromPipelineByPropertyName = true)]
    public PSSession? PeerSession { get; set; }

    /// <summary>The peer computer, for an SSH PSSession this cmdlet opens and closes itself.</summary>
    [Parameter(Mandatory = true, ParameterSetName = "HostName")]
    public string? HostName { get; set; }

    /// <summary>The user to log in as on -HostName (default: the SSH client's).</summary>
    [Parameter(ParameterSetName = "HostName")]
    public string? UserName { get; set; }

    /// <summary>The SSH private key for -HostName.</summary>
    [Parameter(ParameterSetName = "HostName")]
    public string? KeyFilePath { get; set; }

    /// <summary>Kernel or Managed at the peer; by default the peer's own choice (its L2TP_BACKEND, its kernel).</summary>
    [Parameter]
    public BackendKind PeerBackend { get; set; } = BackendKind.Auto;

    /// <summary>Copy this module to a temporary folder at the peer and import it there when the peer cannot import L2tp.</summary>
    [Parameter] public SwitchParameter CopyModule { get; set; }

    /// <summary>This module's folder, which -CopyModule copies.</summary>
    internal string ModuleBase => MyInvocation.MyCommand.Module?.ModuleBase ?? "";

    /// <summary>Where the peer end is, from the parameters.</summary>
    internal PeerTarget Peer => new(PeerSession, HostName, UserName,
        string.IsNullOrEmpty(KeyFilePath) ? null : SessionState.Path.GetUnresolvedProviderPathFromPSPath(KeyFilePath), PeerBackend);

    /// <summary>The service for both ends, with this end's namespace and backend.</summary>
    internal RemotePseudowireService BothEnds => new(NetworkNamespace ?? "", Backend, WriteVerbose);

    /// <summary>How the peer is named in ShouldProcess messages.</summary>
    internal string PeerName => PeerSession?.ComputerName ?? HostName ?? "";
}
