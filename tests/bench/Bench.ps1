<#
.SYNOPSIS
    Throughput and latency of a managed-forwarder pseudowire, as ratios to baselines measured in the same run.
.DESCRIPTION
    Each path gets its own pair of namespaces joined by a veth underlay (192.0.2.1/.2), measured one after the other:
    the bare veth, a kernel VXLAN tunnel (where the kernel has VXLAN), QEMU's -netdev l2tpv3 (a userspace L2TPv3
    forwarder: the peer to beat), and our pseudowire, with the forwarder's TAP offloads off (frame by frame,
    L2TP_FORWARDER_OFFLOAD=0), on (the default), and on with -UdpChecksum on (which adds UDP GSO and GRO). iperf3
    TCP for -Seconds each, and ping RTT. Prints a table with ratios to the veth and to QEMU, and writes
    out/bench/bench.json.
#>
param([int] $Seconds = 5, [string] $Module = (Join-Path $PSScriptRoot '../../out/L2tp/L2tp.psd1'))
$ErrorActionPreference = 'Stop'
Import-Module $Module -Force
Import-Module (Join-Path $PSScriptRoot '../lab/Lab.psm1') -Force
foreach ($tool in 'iperf3', 'ping', 'qemu-system-x86_64') {
    if (-not (Get-Command $tool -ErrorAction Ignore)) { throw "$tool is missing: build.ps1 -Task Bench installs it." }
}

function ns([string] $n, [string] $cmd) {
    $out = & ip netns exec $n bash -c $cmd 2>&1
    if ($LASTEXITCODE -ne 0) { throw "[$n] $cmd failed: $out" }
    $out
}

function Measure-Path([string] $name, [string] $a, [string] $b, [string] $target) {
    ns $b 'iperf3 -s -D -1 -p 5201 >/dev/null' | Out-Null
    Start-Sleep -Milliseconds 300
    $json = ns $a "iperf3 -c $target -p 5201 -t $Seconds -J" | Out-String | ConvertFrom-Json
    $gbps = $json.end.sum_received.bits_per_second / 1e9
    $rtt = ns $a "ping -c 200 -i 0.005 -q $target" | Select-String 'rtt' | ForEach-Object { ($_ -split '/')[4] }
    [pscustomobject]@{ Path = $name; Gbps = [math]::Round($gbps, 3); RttUs = [math]::Round([double]$rtt * 1000) }
}

# Runs $body with two fresh namespaces on a veth underlay, then removes them (and whatever runs in them).
function Use-Pair([scriptblock] $body) {
    $a = New-LabNamespace -Prefix 'bench-a'
    $b = New-LabNamespace -Prefix 'bench-b'
    try {
        New-LabVethPair -Namespace $a -Peer $b -Address 192.0.2.1/24 -PeerAddress 192.0.2.2/24 | Out-Null
        & $body $a $b
    }
    finally {
        Remove-LabL2tpConfig -Namespace $a, $b
        Remove-LabNamespace -Name $a, $b
    }
}

function Measure-Managed([string] $name, [bool] $offload, [bool] $udpChecksum = $false) {
    $saved = $env:L2TP_FORWARDER_OFFLOAD
    $env:L2TP_FORWARDER_OFFLOAD = if ($offload) { '1' } else { '0' }
    try {
        Use-Pair {
            param($a, $b)
            New-L2tpTunnel -netns $a -TunnelId 3000 -PeerTunnelId 4000 -Local 192.0.2.1 -Remote 192.0.2.2 -SourcePort 5000 -DestinationPort 6000 -UdpChecksum:$udpChecksum |
                New-L2tpSession -SessionId 1000 -PeerSessionId 2000 | Set-L2tpInterface -Up -Address 198.51.100.1 -PeerAddress 198.51.100.2 | Out-Null
            New-L2tpTunnel -netns $b -TunnelId 4000 -PeerTunnelId 3000 -Local 192.0.2.2 -Remote 192.0.2.1 -SourcePort 6000 -DestinationPort 5000 -UdpChecksum:$udpChecksum |
                New-L2tpSession -SessionId 2000 -PeerSessionId 1000 | Set-L2tpInterface -Up -Address 198.51.100.2 -PeerAddress 198.51.100.1 | Out-Null
            ns $a 'ping -c 3 -W 1 198.51.100.2' | Out-Null
            Measure-Path $name $a $b '198.51.100.2'
        }
    }
    finally {
        $env:L2TP_FORWARDER_OFFLOAD = $saved
    }
}

$results = @()
$results += Use-Pair { param($a, $b) Measure-Path 'veth (baseline)' $a $b '192.0.2.2' }

$results += Use-Pair {
    param($a, $b)
    $null = & ip -n $a link add vx0 type vxlan id 42 local 192.0.2.1 remote 192.0.2.2 dstport 4789 2>&1
    if ($LASTEXITCODE -ne 0) { return }
    ns $b 'ip link add vx0 type vxlan id 42 local 192.0.2.2 remote 192.0.2.1 dstport 4789' | Out-Null
    ns $a 'ip addr add 203.0.113.1/24 dev vx0; ip link set vx0 up' | Out-Null
    ns $b 'ip addr add 203.0.113.2/24 dev vx0; ip link set vx0 up' | Out-Null
    Measure-Path 'kernel VXLAN (baseline)' $a $b '203.0.113.2'
}

$results += Use-Pair {
    param($a, $b)
    $qa = $qb = $null
    try {
        $qa = Start-LabQemuL2tpv3 -Namespace $a -Src 192.0.2.1 -Dst 192.0.2.2 -SrcPort 5000 -DstPort 6000 -TxSession 2000 -RxSession 1000 -Counter -TapAddress 198.51.100.1/24
        $qb = Start-LabQemuL2tpv3 -Namespace $b -Src 192.0.2.2 -Dst 192.0.2.1 -SrcPort 6000 -DstPort 5000 -TxSession 1000 -RxSession 2000 -Counter -TapAddress 198.51.100.2/24
        foreach ($n in $a, $b) { ns $n 'ip link set qtap0 mtu 1446' | Out-Null }
        ns $a 'ping -c 3 -W 1 198.51.100.2' | Out-Null
        Measure-Path 'QEMU -netdev l2tpv3 (baseline)' $a $b '198.51.100.2'
    }
    finally {
        Stop-LabQemuL2tpv3 $qa
        Stop-LabQemuL2tpv3 $qb
    }
}

$results += Measure-Managed 'L2tp managed, offload off' $false
$results += Measure-Managed 'L2tp managed' $true
$results += Measure-Managed 'L2tp managed, udp_csum on (UDP GSO/GRO)' $true $true

$veth = $results[0]
$qemu = $results | Where-Object Path -Like 'QEMU*' | Select-Object -First 1
foreach ($r in $results) {
    $r | Add-Member RatioToVeth ([math]::Round($r.Gbps / $veth.Gbps, 3))
    $r | Add-Member RatioToQemu $(if ($qemu -and $qemu.Gbps -gt 0) { [math]::Round($r.Gbps / $qemu.Gbps, 2) } else { $null })
}
$results | Format-Table -AutoSize | Out-String | Write-Host
$outDir = Join-Path $PSScriptRoot '../../out/bench'
New-Item -ItemType Directory -Force $outDir | Out-Null
$results | ConvertTo-Json | Set-Content (Join-Path $outDir 'bench.json')
$results
