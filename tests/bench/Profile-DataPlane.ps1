<#
.SYNOPSIS
    Where the managed data plane spends its CPU: perf samples of both forwarders while iperf3 pushes one TCP stream
    through a pseudowire between two namespaces. Prints the top symbols: the native forwarder's through the symbols
    build.ps1 keeps in out/forwarder-aot/l2tp-forwarder.dbg (bin/l2tp-forwarder is stripped), JIT code (a forwarder
    run on .NET) through perf maps.
.EXAMPLE
    dotnet pwsh -NoProfile -File tests/bench/Profile-DataPlane.ps1 -UdpChecksum off
#>
param(
    [int] $Seconds = 5,
    [ValidateSet('default', 'on', 'off')] [string] $UdpChecksum = 'default',
    [int] $Top = 40,
    # 64-byte frames (iperf3 UDP -l 18 -b 0) instead of one TCP stream.
    [switch] $SmallFrames,
    [string] $Module = (Join-Path $PSScriptRoot '../../out/L2tp/L2tp.psd1')
)
$ErrorActionPreference = 'Stop'
Import-Module $Module -Force
Import-Module (Join-Path $PSScriptRoot '../lab/Lab.psm1') -Force
if (-not (Get-Command perf -ErrorAction Ignore)) { throw 'perf is missing: apt-get install linux-perf' }
# The forwarders inherit this: the JIT writes /tmp/perf-PID.map, so perf names managed frames.
$env:DOTNET_PerfMapEnabled = '1'
# Without W^X the JIT's code sits where the perf map says (with it, in a double-mapped memfd perf cannot name).
$env:DOTNET_EnableWriteXorExecute = '0'
$cache = $null
$a, $b = New-LabSitePair -Prefix 'prof-a', 'prof-b'
try {
    $csum = if ($UdpChecksum -ne 'default') { @{ UdpChecksum = $UdpChecksum } } else { @{} }
    New-L2tpTunnel -netns $a -TunnelId 3000 -PeerTunnelId 4000 -Local 192.0.2.1 -Remote 192.0.2.2 -SourcePort 5000 -DestinationPort 6000 @csum |
        New-L2tpSession -SessionId 1000 -PeerSessionId 2000 | Set-L2tpInterface -Up -Address 198.51.100.1/24 | Out-Null
    New-L2tpTunnel -netns $b -TunnelId 4000 -PeerTunnelId 3000 -Local 192.0.2.2 -Remote 192.0.2.1 -SourcePort 6000 -DestinationPort 5000 @csum |
        New-L2tpSession -SessionId 2000 -PeerSessionId 1000 | Set-L2tpInterface -Up -Address 198.51.100.2/24 | Out-Null
    Test-LabPing -Namespace $a -Address 198.51.100.2 -Count 2 -Attempts 3 | Out-Null
    $pids = @((Get-L2tpForwarder -netns $a).ProcessId, (Get-L2tpForwarder -netns $b).ProcessId)
    & ip netns exec $b iperf3 -s -D -1 -p 5201
    Start-Sleep -Milliseconds 300
    $load = if ($SmallFrames) { @('-u', '-l', '18', '-b', '0') } else { @() }
    $client = Start-Process -FilePath ip -ArgumentList (@('netns', 'exec', $a, 'iperf3', '-c', '198.51.100.2', '-t', ($Seconds + 2), '-J') + $load) -PassThru -RedirectStandardOutput /tmp/prof-iperf.json
    Start-Sleep -Seconds 1
    $data = Join-Path ([System.IO.Path]::GetTempPath()) 'l2tp-dataplane.perf.data'
    # perf finds a stripped binary's symbols by its build id; a cache of this run's own holds the native forwarder's.
    $cache = Join-Path ([System.IO.Path]::GetTempPath()) "l2tp-perf-buildids-$PID"
    $perf = @('perf', '--buildid-dir', $cache)
    $dbg = Join-Path (Split-Path (Split-Path (Resolve-Path $Module).Path)) 'forwarder-aot/l2tp-forwarder.dbg'
    if (Test-Path $dbg) { & $perf[0] @($perf | Select-Object -Skip 1) buildid-cache -a $dbg 2>&1 | Out-Null }
    else { Write-Warning "no $dbg (a build without the native forwarder, or one made elsewhere): its frames stay unnamed" }
    & $perf[0] @($perf | Select-Object -Skip 1) record -F 999 -g -o $data -p ($pids -join ',') -- sleep $Seconds 2>&1 | Out-Null
    $client.WaitForExit()
    $sum = (Get-Content -Raw /tmp/prof-iperf.json | ConvertFrom-Json).end.sum_received
    if ($SmallFrames) { Write-Host ("iperf3: {0:N1} kpps of 64-byte frames delivered, udp_csum {1}" -f ($sum.bytes / 18 / $sum.seconds / 1000), $UdpChecksum) }
    else { Write-Host ("iperf3: {0:N2} Gbit/s, udp_csum {1}" -f ($sum.bits_per_second / 1e9), $UdpChecksum) }
    Write-Host '--- by thread and DSO (share of the forwarders'' samples)'
    & $perf[0] @($perf | Select-Object -Skip 1) report -i $data --no-children --sort comm,dso --stdio 2>$null | Where-Object { $_ -match '^\s+\d' } | Select-Object -First 15 | Write-Host
    Write-Host "--- top $Top symbols"
    & $perf[0] @($perf | Select-Object -Skip 1) report -i $data --no-children --sort sym --stdio -g none 2>$null | Where-Object { $_ -match '^\s+\d' } | Select-Object -First $Top | Write-Host
}
finally {
    if ($cache) { Remove-Item -Recurse -Force $cache -ErrorAction Ignore }
    Remove-LabL2tpConfig -Namespace $a, $b
    Remove-LabNamespace -Name $a, $b
}
