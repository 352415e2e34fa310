<#
.SYNOPSIS
    The cmdlet side of the control-plane bench (Bench.ps1 -Part ControlPlane), run by `ip netns exec NS pwsh` so that it
    is a fresh pwsh inside the namespace, as a user's loop would be. Writes its figures as JSON to -OutFile.
.DESCRIPTION
    Loop: a tunnel, then -Count sessions made with one New-L2tpSession call each (timed per hundred), then removed
    with one Remove-L2tpSession call each. Many: a tunnel and -Count sessions through one pipeline into New-L2tpSession,
    then one Get-L2tpSession of them all; the forwarder (Managed) is left running for the caller to measure and kill,
    the kernel's sessions (Kernel) for the guest's power-off to take.
    Output goes to $null: the figure is the cmdlet's, not the console's formatting of 1,000 objects.
#>
param(
    [Parameter(Mandatory)] [string] $Module,
    [Parameter(Mandatory)] [ValidateSet('Loop', 'Many')] [string] $Mode,
    [Parameter(Mandatory)] [int] $Count,
    [Parameter(Mandatory)] [string] $OutFile,
    # Kernel: in the kernel lab's guest, against Linux l2tp_core (Bench.ps1 -Part KernelControlPlane).
    [ValidateSet('Managed', 'Kernel')] [string] $Backend = 'Managed'
)
$ErrorActionPreference = 'Stop'
Import-Module $Module
$env:L2TP_BACKEND = $Backend
$null = New-L2tpTunnel -TunnelId 3000 -PeerTunnelId 4000 -Local 192.0.2.1 -Remote 192.0.2.2 -SourcePort 5000 -DestinationPort 6000
$perHundred = [System.Collections.Generic.List[double]]::new()
$sw = [System.Diagnostics.Stopwatch]::StartNew()
$lap = 0.0
$result = [ordered]@{}
if ($Mode -eq 'Loop') {
    foreach ($i in 1..$Count) {
        $null = New-L2tpSession -TunnelId 3000 -SessionId $i -PeerSessionId $i
        if ($i % 100 -eq 0) { $t = $sw.Elapsed.TotalSeconds; $perHundred.Add($t - $lap); $lap = $t }
    }
    $result.CreateSeconds = $sw.Elapsed.TotalSeconds
    $result.PerHundredSeconds = $perHundred.ToArray()
    $result.Made = @(Get-L2tpSession -TunnelId 3000).Count
    $sw.Restart()
    foreach ($i in 1..$Count) { Remove-L2tpSession -TunnelId 3000 -SessionId $i -Confirm:$false }
    $result.RemoveSeconds = $sw.Elapsed.TotalSeconds
    $result.Left = @(Get-L2tpSession -TunnelId 3000).Count
    Remove-L2tpTunnel -TunnelId 3000 -Confirm:$false -Force
}
else {
    $n = 0
    1..$Count | ForEach-Object { [pscustomobject]@{ TunnelId = 3000; SessionId = $_; PeerSessionId = $_ } } | New-L2tpSession |
        ForEach-Object { if (++$n % 100 -eq 0) { $t = $sw.Elapsed.TotalSeconds; $perHundred.Add($t - $lap); $lap = $t } }
    $result.CreateSeconds = $sw.Elapsed.TotalSeconds
    $result.PerHundredSeconds = $perHundred.ToArray()
    # The first Get-L2tpSession of this pwsh, as a user would run it after making them.
    $sw.Restart()
    $all = Get-L2tpSession
    $result.GetSeconds = $sw.Elapsed.TotalSeconds
    $result.Got = @($all).Count
    if ($Backend -eq 'Managed') {
        $f = Get-L2tpForwarder
        $result.ForwarderPid = $f.ProcessId
        $result.StatePath = $f.StatePath
    }
}
$result | ConvertTo-Json -Depth 4 | Set-Content $OutFile
