#Requires -Version 7.2
<#
.SYNOPSIS
Times each control-plane cmdlet (Managed backend) at two namespace sizes, to find work that grows with the square of
the sessions: a single-item cmdlet whose time is ~4x at 4x the sessions, or a whole-namespace one at ~16x (needs root).

.DESCRIPTION
Per size: a fresh namespace (lo 192.0.2.1/24), tunnel 3000 with N sessions made in one pipeline, then each cmdlet
timed (best of -Repeat; a changing cmdlet on a different item each time). With -Addresses every session interface also
gets an IPv6 address (2001:db8:1::/48, by ip -batch), so the per-interface address reads are exercised at N addresses.
Prints one row per cmdlet: milliseconds at each size (the single-item rows are a few ms: seconds to three places hid their growth) and their ratio.

.EXAMPLE
sudo pwsh -c "tests/bench/ScaleCheck.ps1 -Sizes 1000, 4000"   # -c: with -File, "1000,4000" would be read as the one number 10004000
#>
param(
    [int[]]$Sizes = @(1000, 4000),
    [int]$Repeat = 3,
    [switch]$Addresses
)
$ErrorActionPreference = 'Stop'
Import-Module (Join-Path $PSScriptRoot '../lab/Lab.psm1') -Force
$null = Import-LabL2tpModule

function Best([scriptblock]$Block, [int]$Times = $Repeat) {
    (1..$Times | ForEach-Object { (Measure-Command $Block).TotalSeconds } | Measure-Object -Minimum).Minimum
}

$results = [ordered]@{}
function Note([string]$What, [int]$N, [double]$Seconds) {
    if (-not $results.Contains($What)) { $results[$What] = [ordered]@{} }
    $results[$What]["$N"] = $Seconds
    Write-Host ("  {0,-58} N={1,5}  {2,9:N1} ms" -f $What, $N, ($Seconds * 1000))
}

foreach ($N in $Sizes) {
    $ns = New-LabNamespace -Prefix 'l2tpScale'
    $dir = Join-Path ([System.IO.Path]::GetTempPath()) "l2tpScale-$N-$PID"
    New-Item -ItemType Directory -Force $dir | Out-Null
    try {
        Invoke-LabNs $ns 'ip addr add 192.0.2.1/24 dev lo' | Out-Null
        New-L2tpTunnel -netns $ns -TunnelId 3000 -PeerTunnelId 4000 -Local 192.0.2.1 -Remote 192.0.2.2 -SourcePort 5000 -DestinationPort 6000 | Out-Null
        $sw = [System.Diagnostics.Stopwatch]::StartNew()
        1..$N | ForEach-Object { [pscustomobject]@{ TunnelId = 3000; SessionId = $_; PeerSessionId = $_ } } |
            New-L2tpSession -netns $ns | Out-Null
        Note 'New-L2tpSession pipeline of N (whole)' $N $sw.Elapsed.TotalSeconds
        if ($Addresses) {
            $batch = Join-Path $dir 'addr.batch'
            (0..($N - 1) | ForEach-Object { 'addr add 2001:db8:1::{0:x}/128 dev l2tpeth{1} nodad' -f ($_ + 1), $_ }) | Set-Content $batch
            Invoke-LabNs $ns "ip -batch '$batch'" | Out-Null
        }

        Note 'Get-L2tpSession (all)' $N (Best { $null = @(Get-L2tpSession -netns $ns) })
        Note 'Get-L2tpSession -SessionId one' $N (Best { $null = Get-L2tpSession -netns $ns -TunnelId 3000 -SessionId ([int]($N / 2)) })
        $i = 0
        Note 'Set-L2tpInterface one -Up' $N (Best { $null = Set-L2tpInterface -netns $ns "l2tpeth$(10 + $script:i++)" -Up })
        $i = 0
        Note 'Set-L2tpInterface one -Address' $N (Best { $null = Set-L2tpInterface -netns $ns "l2tpeth$(20 + $script:i++)" -Address "2001:db8:2::$($script:i)/128" })
        Note 'Set-L2tpInterface one -Mtu Auto' $N (Best { $null = Set-L2tpInterface -netns $ns 'l2tpeth30' -Mtu Auto })
        $i = 0
        Note 'Set-L2tpSession one' $N (Best { $null = Set-L2tpSession -netns $ns -TunnelId 3000 -SessionId (40 + $script:i++) -Sequencing Both -PassThru })
        Note 'Test-L2tpSession one (-Seconds 0.1, less 0.1 s)' $N ((Best { $null = Test-L2tpSession -netns $ns -TunnelId 3000 -SessionId 50 -Seconds 0.1 }) - 0.1)

        New-L2tpBridge -netns $ns -Name br0 -Up | Out-Null
        $t = Measure-Command { 0..199 | ForEach-Object { "l2tpeth$(200 + $_)" } | ForEach-Object { Add-L2tpBridgePort -netns $ns br0 $_ } }
        Note 'Add-L2tpBridgePort x200 (whole)' $N $t.TotalSeconds
        $i = 0
        Note 'Add-L2tpBridgePort one' $N (Best { Add-L2tpBridgePort -netns $ns br0 "l2tpeth$(500 + $script:i++)" })
        Note 'Get-L2tpBridge br0 (203 ports)' $N (Best { $null = Get-L2tpBridge -netns $ns br0 })

        $file = Join-Path $dir 'live.json'
        Note 'Export-L2tpConfiguration' $N (Best { Export-L2tpConfiguration -netns $ns -Path $file })
        Note 'Compare-L2tpConfiguration (matching)' $N (Best { $null = @(Compare-L2tpConfiguration -Path $file) })
        Note 'Sync-L2tpConfiguration (matching)' $N (Best { $null = @(Sync-L2tpConfiguration -Path $file -Confirm:$false) })
        Note 'Sync-L2tpConfiguration -Prune (matching)' $N (Best { $null = @(Sync-L2tpConfiguration -Path $file -Prune -Confirm:$false) })
        $more = Get-Content $file -Raw | ConvertFrom-Json -Depth 20
        $more.namespaces[0].tunnels[0].sessions += @(($N + 1)..($N + 100) | ForEach-Object { [pscustomobject]@{ sessionId = $_; peerSessionId = $_ } })
        $plus = Join-Path $dir 'plus100.json'
        $more | ConvertTo-Json -Depth 20 | Set-Content $plus
        Note 'Sync-L2tpConfiguration (adds 100 sessions)' $N ((Measure-Command { $null = @(Sync-L2tpConfiguration -Path $plus -Confirm:$false) }).TotalSeconds)

        $i = 0
        Note 'Remove-L2tpSession one' $N (Best { Remove-L2tpSession -netns $ns -TunnelId 3000 -SessionId ($N - $script:i++) -Confirm:$false })
        $i = 0
        Note 'New-L2tpSession one more' $N (Best { $null = New-L2tpSession -netns $ns -TunnelId 3000 -SessionId ($N + 1000 + $script:i++) -PeerSessionId 1 })
        Note 'Get-L2tpForwarder' $N (Best { $null = Get-L2tpForwarder -netns $ns })
        Note 'Stop-L2tpForwarder + Get-L2tpSession one (restart, state reload)' $N (Best -Times 2 {
                Stop-L2tpForwarder -netns $ns -Confirm:$false
                $null = Get-L2tpSession -netns $ns -TunnelId 3000 -SessionId 5
            })
    }
    finally {
        Remove-LabL2tpConfig -Namespace $ns
        Remove-LabNamespace -Name $ns
        Remove-Item -Recurse -Force $dir -ErrorAction Ignore
    }
}

Write-Host ''
$a, $b = $Sizes[0], $Sizes[-1]
Write-Host ("{0,-64} {1,9} {2,9} {3,7}" -f 'cmdlet (ms)', "N=$a", "N=$b", 'ratio')
foreach ($k in $results.Keys) {
    $x = $results[$k]["$a"]; $y = $results[$k]["$b"]
    Write-Host ("{0,-64} {1,9:N1} {2,9:N1} {3,7:N1}" -f $k, ($x * 1000), ($y * 1000), ($y / [math]::Max($x, 1e-4)))
}
