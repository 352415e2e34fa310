#Requires -Version 7.2
<#
    Runs each of the six L2tp cmdlets once with -Backend Kernel and prints, as one JSON array on stdout, what each
    did: Command, Uid, Output (objects returned), Errors (Id = FullyQualifiedErrorId, Category, Target, Message).

    The kernel lab script (tests/Pester/KernelBackend.Tests.ps1) starts it in the guest as nobody without
    capabilities (setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all), in the guest's root
    namespace, after making tunnel 3901 / session 1901 (interface kbt-fixture0) there with ip l2tp:
    KernelLab.Guest.Tests.ps1 then checks that every cmdlet was refused with L2tp.PermissionDenied
    (the kernel's EPERM: every l2tp genl command needs CAP_NET_ADMIN) and that nothing changed.
#>
param([Parameter(Mandatory)][string]$ModulePath)

$ErrorActionPreference = 'Continue'
$uid = [int](& id -u)
try {
    Import-Module $ModulePath -ErrorAction Stop
}
catch {
    , @([pscustomobject]@{ Command = 'Import-Module'; Uid = $uid; Output = 0; Errors = @([pscustomobject]@{ Id = $_.FullyQualifiedErrorId; Category = "$($_.CategoryInfo.Category)"; Target = "$($_.TargetObject)"; Message = "$_" }) }) |
        ConvertTo-Json -Depth 5
    exit 1
}

$calls = @(
    @{ Command = 'Get-L2tpTunnel'; Parameters = @{ Backend = 'Kernel' } }
    @{ Command = 'Get-L2tpSession'; Parameters = @{ Backend = 'Kernel' } }
    @{ Command = 'New-L2tpTunnel'; Parameters = @{ Backend = 'Kernel'; TunnelId = 3900; PeerTunnelId = 4900; Local = '192.0.2.2'; Remote = '192.0.2.1'; SourcePort = 5900; DestinationPort = 6900 } }
    @{ Command = 'New-L2tpSession'; Parameters = @{ Backend = 'Kernel'; TunnelId = 3901; SessionId = 1900; PeerSessionId = 2900; Name = 'kbt-nobody0' } }
    @{ Command = 'Remove-L2tpSession'; Parameters = @{ Backend = 'Kernel'; TunnelId = 3901; SessionId = 1901; Confirm = $false } }
    @{ Command = 'Remove-L2tpTunnel'; Parameters = @{ Backend = 'Kernel'; TunnelId = 3901; Force = $true; Confirm = $false } }
)

$results = foreach ($c in $calls) {
    $p = $c.Parameters
    $err = $null
    $out = @()
    try {
        $out = @(& $c.Command @p -ErrorVariable err -ErrorAction SilentlyContinue)
    }
    catch {
        $err = @($_)
    }
    [pscustomobject]@{
        Command = $c.Command
        Uid     = $uid
        Output  = $out.Count
        Errors  = @($err | Where-Object { $null -ne $_ } | ForEach-Object {
                [pscustomobject]@{ Id = $_.FullyQualifiedErrorId; Category = "$($_.CategoryInfo.Category)"; Target = "$($_.TargetObject)"; Message = "$_" }
            })
    }
}
, @($results) | ConvertTo-Json -Depth 5
