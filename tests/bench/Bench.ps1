<#
.SYNOPSIS
    Throughput and latency of a managed-forwarder pseudowire, as ratios to baselines measured in the same run.
.DESCRIPTION
    Two namespaces joined by a veth underlay (192.0.2.1/.2). Measured over the same underlay, one after the other:
    the bare veth, a kernel VXLAN tunnel (where the kernel has VXLAN) and our L2TPv3 pseudowire (198.51.100.1/.2).
    iperf3 TCP for -Seconds each, and ping RTT. Prints a table and writes out/bench/bench.json.
#>
param([int] $Seconds = 5, [string] $Module = (Join-Path $PSScriptRoot '../../out/L2tp/L2tp.psd1'))
$ErrorActionPreference = 'Stop'
Import-Module $Module -Force
foreach ($tool in 'iperf3', 'ping') {
    if (-not (Get-Command $tool -ErrorAction Ignore)) { throw "$tool is missing: build.ps1 -Task Bench installs it." }
}
$id = Get-Random -Maximum 99999
$a = "bench-a-$id"; $b = "bench-b-$id"

function ns([string] $n, [string] $cmd) {
    $out = & ip netns exec $n bash -c $cmd 2>&1
    if ($LASTEXITCODE -ne 0) { throw "[$n] $cmd failed: $out" }
    $out
}

function Measure-Path([string] $name, [string] $target) {
    ns $b 'iperf3 -s -D -1 -p 5201 >/dev/null' | Out-Null
    Start-Sleep -Milliseconds 300
    $json = ns $a "iperf3 -c $target -p 5201 -t $Seconds -J" | Out-String | ConvertFrom-Json
    $gbps = $json.end.sum_received.bits_per_second / 1e9
    $rtt = ns $a "ping -c 200 -i 0.005 -q $target" | Select-String 'rtt' | ForEach-Object { ($_ -split '/')[4] }
    [pscustomobject]@{ Path = $name; Gbps = [math]::Round($gbps, 3); RttUs = [math]::Round([double]$rtt * 1000) }
}

try {
    & ip netns add $a; & ip netns add $b
    & ip link add veth-a netns $a type veth peer name veth-b netns $b
    ns $a 'ip addr add 192.0.2.1/24 dev veth-a; ip link set lo up; ip link set veth-a up' | Out-Null
    ns $b 'ip addr add 192.0.2.2/24 dev veth-b; ip link set lo up; ip link set veth-b up' | Out-Null
    $results = @(Measure-Path 'veth (baseline)' '192.0.2.2')

    $vx = & ip netns exec $a ip link add vx0 type vxlan id 42 local 192.0.2.1 remote 192.0.2.2 dstport 4789 2>&1
    if ($LASTEXITCODE -eq 0) {
        ns $b 'ip link add vx0 type vxlan id 42 local 192.0.2.2 remote 192.0.2.1 dstport 4789' | Out-Null
        ns $a 'ip addr add 203.0.113.1/24 dev vx0; ip link set vx0 up' | Out-Null
        ns $b 'ip addr add 203.0.113.2/24 dev vx0; ip link set vx0 up' | Out-Null
        $results += Measure-Path 'kernel VXLAN (baseline)' '203.0.113.2'
    }

    New-L2tpTunnel -netns $a -TunnelId 3000 -PeerTunnelId 4000 -Local 192.0.2.1 -Remote 192.0.2.2 -SourcePort 5000 -DestinationPort 6000 |
        New-L2tpSession -SessionId 1000 -PeerSessionId 2000 | Set-L2tpInterface -Up -Address 198.51.100.1 -PeerAddress 198.51.100.2 | Out-Null
    New-L2tpTunnel -netns $b -TunnelId 4000 -PeerTunnelId 3000 -Local 192.0.2.2 -Remote 192.0.2.1 -SourcePort 6000 -DestinationPort 5000 |
        New-L2tpSession -SessionId 2000 -PeerSessionId 1000 | Set-L2tpInterface -Up -Address 198.51.100.2 -PeerAddress 198.51.100.1 | Out-Null
    ns $a 'ping -c 3 -W 1 198.51.100.2' | Out-Null
    $results += Measure-Path 'L2tp managed forwarder' '198.51.100.2'

    $base = $results[0]
    foreach ($r in $results) {
        $r | Add-Member RatioToVeth ([math]::Round($r.Gbps / $base.Gbps, 3))
    }
    $results | Format-Table -AutoSize | Out-String | Write-Host
    $outDir = Join-Path $PSScriptRoot '../../out/bench'
    New-Item -ItemType Directory -Force $outDir | Out-Null
    $results | ConvertTo-Json | Set-Content (Join-Path $outDir 'bench.json')
    $results
}
finally {
    foreach ($n in $a, $b) {
        & ip netns pids $n 2>$null | ForEach-Object { & kill -9 $_ 2>$null }
        & ip netns del $n 2>$null
    }
}
