<#
.SYNOPSIS
    The cmdlet side of the control-plane bench (Bench.ps1 -Part ControlPlane), run by `ip netns exec NS pwsh` so that it
    is a fresh pwsh inside the namespace, as a user's loop would be. Writes its figures as JSON to -OutFile.
.DESCRIPTION
    Loop: a tunnel, then -Count sessions made with one New-L2tpSession call each (timed per hundred), then removed
    with one Remove-L2tpSession call each. Many: a tunnel and -Count sessions through one pipeline into New-L2tpSession,
    then one Get-L2tpSession of them all; the forwarder (Managed) is left running for the caller to measure and kill,
    the kernel's sessions (Kernel) for the guest's power-off to take.
    Reads: Export-L2tpConfiguration of the namespace and Compare-L2tpConfiguration of that file with it, timed.
    Sync: a configuration file of the tunnel and -Count sessions (written before the clock starts), applied by one
    Sync-L2tpConfiguration: the time covers reading and checking the file, planning against the live state, the
    tunnel and every session (on the Kernel backend pipelined; no read-back, no step needs one), and the steps' output;
    not pwsh's start, Import-Module or writing the file (as ip -batch's figure covers ip's start, not writing its
    batch file). The sessions are left for the guest's power-off to take.
    Output goes to $null: the figure is the cmdlet's, not the console's formatting of 1,000 objects.
#>
param(
    [Parameter(Mandatory)] [string] $Module,
    [Parameter(Mandatory)] [ValidateSet('Loop', 'Many', 'Sync', 'Reads')] [string] $Mode,
    [Parameter(Mandatory)] [int] $Count,
    [Parameter(Mandatory)] [string] $OutFile,
    # Kernel: in the kernel lab's guest, against Linux l2tp_core (Bench.ps1 -Part KernelControlPlane).
    [ValidateSet('Managed', 'Kernel')] [string] $Backend = 'Managed',
    # Loop: leave the sessions made (the caller kills the forwarder and its namespace) rather than time their removal.
    [switch] $NoRemove
)
$ErrorActionPreference = 'Stop'
Import-Module $Module
$env:L2TP_BACKEND = $Backend
if ($Mode -eq 'Sync') {
    $file = Join-Path ([System.IO.Path]::GetTempPath()) "l2tp-bench-$PID.json"
    @{ namespaces = @(@{ name = ''; backend = $Backend; tunnels = @(@{
                        tunnelId = 3000; peerTunnelId = 4000; encapsulation = 'Udp'; local = '192.0.2.1'; remote = '192.0.2.2'; sourcePort = 5000; destinationPort = 6000
                        sessions = @(foreach ($i in 1..$Count) { @{ sessionId = $i; peerSessionId = $i } })
                    }) })
    } | ConvertTo-Json -Depth 10 | Set-Content -LiteralPath $file
    $sw = [System.Diagnostics.Stopwatch]::StartNew()
    $steps = @(Sync-L2tpConfiguration -Path $file -ErrorAction Stop).Count
    $result = [ordered]@{ CreateSeconds = $sw.Elapsed.TotalSeconds; Steps = $steps
        JitSeconds = [System.Runtime.JitInfo]::GetCompilationTime().TotalSeconds; JitMethods = [System.Runtime.JitInfo]::GetCompiledMethodCount() }
    $result.Got = @(Get-L2tpSession -TunnelId 3000).Count
    Remove-Item -LiteralPath $file
    $result | ConvertTo-Json -Depth 4 | Set-Content $OutFile
    return
}
if ($Mode -eq 'Reads') {
    # Whole-namespace reads of what a Many run left: the export of it all, and the comparison of that file with the
    # live state (no differences expected).
    $file = Join-Path ([System.IO.Path]::GetTempPath()) "l2tp-bench-export-$PID.json"
    $sw = [System.Diagnostics.Stopwatch]::StartNew()
    Export-L2tpConfiguration -Path $file
    $result = [ordered]@{ ExportSeconds = $sw.Elapsed.TotalSeconds }
    $sw.Restart()
    $result.CompareDifferences = @(Compare-L2tpConfiguration -Path $file).Count
    $result.CompareSeconds = $sw.Elapsed.TotalSeconds
    Remove-Item -LiteralPath $file
    $result | ConvertTo-Json -Depth 4 | Set-Content $OutFile
    return
}
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
    if ($NoRemove) {
        $result.ForwarderPid = (Get-L2tpForwarder).ProcessId
        $result | ConvertTo-Json -Depth 4 | Set-Content $OutFile
        return
    }
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
