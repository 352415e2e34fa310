<#
.SYNOPSIS
    The managed forwarder's data plane (throughput, latency) and control plane (making, listing and removing sessions),
    each as ratios to baselines measured in the same run.
.DESCRIPTION
    -Part DataPlane, ControlPlane or All (the default). Writes out/bench/bench.json and out/bench/bench.md.

    Control plane: in a fresh namespace, `ip -batch` makes 1,000 TAP devices (`tuntap add dev btN mode tap`) and
    deletes them (`link del btN`): the baselines. Then a fresh pwsh inside another namespace (ControlPlaneLoop.ps1)
    makes 1,000 sessions with one New-L2tpSession call each, timed per hundred, and removes them with one
    Remove-L2tpSession call each; then the same 1,000 calls in a pwsh with tiered compilation off and a 96 MiB gen0
    budget (for information: the loop without the client runtime's own stalls). Then 10,000 sessions (one pipeline into New-L2tpSession) in a third namespace: the
    first Get-L2tpSession of them all, the forwarder's RSS, and its CPU over 10 s of idling (utime+stime from
    /proc/PID/stat). Each figure is printed with its ratio and target, met or not.

    Data plane:
    Each path gets its own pair of namespaces joined by a veth underlay (192.0.2.1/.2), measured one after the other:
    the bare veth, a kernel VXLAN tunnel (where the kernel has VXLAN), QEMU's -netdev l2tpv3 (a userspace L2TPv3
    forwarder: the peer to beat), and our pseudowire, with the forwarder's TAP offloads off (frame by frame,
    L2TP_FORWARDER_OFFLOAD=0) with -UdpChecksum off, on with -UdpChecksum off (the kernel's bytes), and the default
    (IPv4 UDP checksums on, so UDP GSO and GRO). -Rounds rounds (median kept) of iperf3 TCP for -Seconds, the median ping RTT, 64-byte frames
    (iperf3 UDP -l 18) delivered per second, and the forwarders' CPU while idle; for QEMU and the default pseudowire,
    the ping RTT again with both forwarders pinned to vCPU 0 and ping on vCPU 0, then on vCPU 1. Prints each target of issue 11 with
    its ratio to the baseline of the same run, and writes out/bench/bench.json and bench.md.
#>
param(
    [int] $Seconds = 5,
    # Data plane: rounds of each path's measurements; Kernel control plane: rounds of ip -batch and Sync. Each figure is their median.
    [int] $Rounds = 3,
    [string] $Module = (Join-Path $PSScriptRoot '../../out/L2tp/L2tp.psd1'),
    [ValidateSet('All', 'DataPlane', 'ControlPlane', 'KernelControlPlane')] [string] $Part = 'All',
    # Control plane: sessions made one cmdlet call each, and sessions held for the list/RSS/idle figures.
    [int] $Sessions = 1000,
    [int] $ManySessions = 10000,
    [int] $IdleSeconds = 10,
    # KernelControlPlane: a ReadyToRun copy of this pwsh's $PSHOME (build.ps1 -Task Bench makes out/pwsh-r2r) whose
    # rows are measured beside this pwsh's.
    [string] $ReadyToRunPwsh
)
$ErrorActionPreference = 'Stop'
Import-Module $Module -Force
Import-Module (Join-Path $PSScriptRoot '../lab/Lab.psm1') -Force
$tools = switch ($Part) { 'ControlPlane' { @('ip') } 'KernelControlPlane' { @('ip', 'qemu-system-x86_64') } default { @('iperf3', 'ping', 'qemu-system-x86_64') } }
foreach ($tool in $tools) {
    if (-not (Get-Command $tool -ErrorAction Ignore)) { throw "$tool is missing: build.ps1 -Task Bench installs it." }
}
$outDir = Join-Path $PSScriptRoot '../../out/bench'
New-Item -ItemType Directory -Force $outDir | Out-Null

function ns([string] $n, [string] $cmd) {
    $out = & ip netns exec $n bash -c $cmd 2>&1
    if ($LASTEXITCODE -ne 0) { throw "[$n] $cmd failed: $out" }
    $out
}

# One round of: iperf3 TCP for -Seconds, the median ping RTT of 200 pings 5 ms apart, and the rate of 64-byte frames
# delivered (iperf3 UDP with 18-byte payloads: 14 Ethernet + 20 IP + 8 UDP + 18 = 60 bytes, 64 with the FCS), all from
# $a to $target in $b. -Forwarders: processes whose CPU is read during the small frames and, in the last round, while
# idle (3 s after the traffic). Measure-DataPlane runs each round on a fresh pair, the paths in turn (see there).
function Measure-Round([string] $a, [string] $b, [string] $target, [int[]] $Forwarders = @(), [switch] $PinnedRtt) {
    ns $b 'iperf3 -s -D -1 -p 5201 >/dev/null' | Out-Null
    Start-Sleep -Milliseconds 300
    $json = ns $a "iperf3 -c $target -p 5201 -t $Seconds -J" | Out-String | ConvertFrom-Json
    $times = @(ns $a "ping -c 200 -i 0.005 $target" | Select-String 'time=([0-9.]+) ms' | ForEach-Object { [double]$_.Matches[0].Groups[1].Value * 1000 } | Sort-Object)
    ns $b 'iperf3 -s -D -1 -p 5202 >/dev/null' | Out-Null
    Start-Sleep -Milliseconds 300
    # Where small frames are lost: datagrams the receiving iperf3's socket had no room for (it did not get the CPU
    # to read them) are UdpRcvbufErrors in B; the rest of the gap between sent and delivered is on the path.
    $rcvbuf0 = Get-UdpRcvbufErrors $b
    $cpu0 = ($Forwarders | ForEach-Object { Get-CpuTicks $_ } | Measure-Object -Sum).Sum
    $udp = ns $a "iperf3 -c $target -p 5202 -u -l 18 -b 0 -t $Seconds -J" | Out-String | ConvertFrom-Json
    $cpu = ($Forwarders | ForEach-Object { Get-CpuTicks $_ } | Measure-Object -Sum).Sum - $cpu0
    $rcvbuf = (Get-UdpRcvbufErrors $b) - $rcvbuf0
    # The same with a 4 MiB receive buffer (iperf3 -w sets both ends'): bursts the default 208 KiB (256 such
    # datagrams) drops, a receiver that reads at the same average rate keeps.
    ns $b 'iperf3 -s -D -1 -p 5203 >/dev/null' | Out-Null
    Start-Sleep -Milliseconds 300
    $udpBig = ns $a "iperf3 -c $target -p 5203 -u -l 18 -b 0 -w 4M -t $Seconds -J" | Out-String | ConvertFrom-Json
    $round = [ordered]@{
        Gbps = $json.end.sum_received.bits_per_second / 1e9
        RttUs = if ($times.Count) { $times[[int][math]::Floor($times.Count / 2)] } else { [double]::NaN }
        Pps = $udp.end.sum_received.bytes / 18 / $udp.end.sum_received.seconds
        SentPps = $udp.end.sum_sent.bytes / 18 / $udp.end.sum_sent.seconds
        DropPps = $rcvbuf / $udp.end.sum_received.seconds
        PpsBigBuffer = $udpBig.end.sum_received.bytes / 18 / $udpBig.end.sum_received.seconds
        # Both forwarders' CPU while the small frames ran (clock ticks are hundredths of a second): % of one core.
        FwdCpu = if ($Forwarders.Count) { $cpu / $udp.end.sum_sent.seconds } else { [double]::NaN }
        IdleCpu = $null; RttUsSameVcpu = $null; RttUsOtherVcpu = $null
    }
    if ($Forwarders.Count -and $script:LastRound) {
        Start-Sleep -Seconds 1
        $t0 = ($Forwarders | ForEach-Object { Get-CpuTicks $_ } | Measure-Object -Sum).Sum
        $sw = [System.Diagnostics.Stopwatch]::StartNew()
        Start-Sleep -Seconds 3
        $round.IdleCpu = [math]::Round(100.0 * ((($Forwarders | ForEach-Object { Get-CpuTicks $_ } | Measure-Object -Sum).Sum) - $t0) / 100 / $sw.Elapsed.TotalSeconds, 2)
    }
    # Where the scheduler puts ping and the forwarders decides much of a round trip on this VM: a wake-up on the other
    # vCPU costs some 50 µs more (tests/bench/wake-latency.c). So the RTT again with every thread of both forwarders
    # (or QEMUs) pinned to vCPU 0 and ping on vCPU 0, then on vCPU 1: the same placement for both paths.
    if ($PinnedRtt -and $Forwarders.Count -and [Environment]::ProcessorCount -ge 2) {
        foreach ($f in $Forwarders) { $null = & taskset -a -p -c 0 $f 2>&1 }
        foreach ($cpu in 0, 1) {
            $t = @(ns $a "taskset -c $cpu ping -c 200 -i 0.005 $target" | Select-String 'time=([0-9.]+) ms' | ForEach-Object { [double]$_.Matches[0].Groups[1].Value * 1000 } | Sort-Object)
            $median = if ($t.Count) { $t[[int][math]::Floor($t.Count / 2)] } else { $null }
            if ($cpu -eq 0) { $round.RttUsSameVcpu = $median } else { $round.RttUsOtherVcpu = $median }
        }
    }
    [pscustomobject]$round
}

# A path's figures from its rounds: the median of each.
function Join-Rounds([string] $name, [object[]] $rounds) {
    $same = @($rounds.RttUsSameVcpu | Where-Object { $null -ne $_ })
    $other = @($rounds.RttUsOtherVcpu | Where-Object { $null -ne $_ })
    $idle = @($rounds.IdleCpu | Where-Object { $null -ne $_ })
    [pscustomobject]@{ Path = $name; Gbps = [math]::Round((Get-Median $rounds.Gbps), 3); RttUs = [math]::Round((Get-Median $rounds.RttUs))
        RttUsSameVcpu = if ($same.Count) { [math]::Round((Get-Median $same)) } else { $null }
        RttUsOtherVcpu = if ($other.Count) { [math]::Round((Get-Median $other)) } else { $null }
        Kpps64 = [math]::Round((Get-Median $rounds.Pps) / 1000, 1); SentKpps64 = [math]::Round((Get-Median $rounds.SentPps) / 1000, 1)
        ReceiverDropKpps64 = [math]::Round((Get-Median $rounds.DropPps) / 1000, 1); IdleCpuPercent = if ($idle.Count) { $idle[-1] } else { $null }
        Kpps64BigBuffer = [math]::Round((Get-Median $rounds.PpsBigBuffer) / 1000, 1)
        ForwarderCpuPercent64 = if (-not [double]::IsNaN($rounds[0].FwdCpu)) { [math]::Round((Get-Median $rounds.FwdCpu)) } else { $null }
        GbpsRounds = @($rounds.Gbps | ForEach-Object { [math]::Round($_, 2) }); RttUsRounds = @($rounds.RttUs); Kpps64Rounds = @($rounds.Pps | ForEach-Object { [math]::Round($_ / 1000, 1) })
        RttUsSameVcpuRounds = $same; RttUsOtherVcpuRounds = $other }
}

# The middle value (the mean of the two middle ones for an even count).
function Get-Median([double[]] $values) {
    $sorted = @($values | Sort-Object)
    if ($sorted.Count % 2) { $sorted[($sorted.Count - 1) / 2] } else { ($sorted[$sorted.Count / 2 - 1] + $sorted[$sorted.Count / 2]) / 2 }
}

# The namespace's UDP RcvbufErrors (/proc/net/snmp): datagrams dropped because a socket's receive buffer was full.
function Get-UdpRcvbufErrors([string] $n) {
    $lines = @(ns $n 'grep ^Udp: /proc/net/snmp')
    $names = $lines[0] -split '\s+'; $values = $lines[1] -split '\s+'
    [long]$values[[array]::IndexOf($names, 'RcvbufErrors')]
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

# The managed pseudowire between two fresh namespaces. -UdpChecksum: $null leaves the parameter out (the default).
# -Threads 2: a receive and a transmit thread per forwarder (L2TP_FORWARDER_THREADS=2) instead of one for both.
# -Join $false: equal-sized single packets each in its own send (L2TP_FORWARDER_JOIN=0), not joined into UDP GSO sends.
# -UdpGro $false: received UDP datagrams each in its own TAP write (L2TP_FORWARDER_UDP_GRO=0), not joined into UDP GSO writes.
function Measure-Managed([bool] $offload, $udpChecksum = $null, [int] $Threads = 1, [bool] $Join = $true, [bool] $UdpGro = $true, [switch] $PinnedRtt) {
    $saved = $env:L2TP_FORWARDER_OFFLOAD, $env:L2TP_FORWARDER_THREADS, $env:L2TP_FORWARDER_JOIN, $env:L2TP_FORWARDER_UDP_GRO
    $env:L2TP_FORWARDER_OFFLOAD = if ($offload) { '1' } else { '0' }
    $env:L2TP_FORWARDER_THREADS = "$Threads"
    $env:L2TP_FORWARDER_JOIN = if ($Join) { '1' } else { '0' }
    $env:L2TP_FORWARDER_UDP_GRO = if ($UdpGro) { '1' } else { '0' }
    try {
        Use-Pair {
            param($a, $b)
            $csum = if ($null -ne $udpChecksum) { @{ UdpChecksum = $udpChecksum } } else { @{} }
            New-L2tpTunnel -netns $a -TunnelId 3000 -PeerTunnelId 4000 -Local 192.0.2.1 -Remote 192.0.2.2 -SourcePort 5000 -DestinationPort 6000 @csum |
                New-L2tpSession -SessionId 1000 -PeerSessionId 2000 | Set-L2tpInterface -Up -Address 198.51.100.1 -PeerAddress 198.51.100.2 | Out-Null
            New-L2tpTunnel -netns $b -TunnelId 4000 -PeerTunnelId 3000 -Local 192.0.2.2 -Remote 192.0.2.1 -SourcePort 6000 -DestinationPort 5000 @csum |
                New-L2tpSession -SessionId 2000 -PeerSessionId 1000 | Set-L2tpInterface -Up -Address 198.51.100.2 -PeerAddress 198.51.100.1 | Out-Null
            ns $a 'ping -c 3 -W 1 198.51.100.2' | Out-Null
            $pids = @((Get-L2tpForwarder -netns $a).ProcessId, (Get-L2tpForwarder -netns $b).ProcessId)
            Measure-Round $a $b '198.51.100.2' -Forwarders $pids -PinnedRtt:$PinnedRtt
        }
    }
    finally {
        $env:L2TP_FORWARDER_OFFLOAD, $env:L2TP_FORWARDER_THREADS, $env:L2TP_FORWARDER_JOIN, $env:L2TP_FORWARDER_UDP_GRO = $saved
    }
}

# ---- Control plane -------------------------------------------------------------------------------------------------

# `ip -batch` of the given lines in a namespace, timed; throws when a line fails.
function Measure-IpBatch([string] $ns, [string[]] $lines) {
    $file = Join-Path $outDir "ip-$ns.batch"
    Set-Content $file $lines
    $sw = [System.Diagnostics.Stopwatch]::StartNew()
    $out = & ip -n $ns -batch $file 2>&1
    $seconds = $sw.Elapsed.TotalSeconds
    Remove-Item $file
    if ($LASTEXITCODE -ne 0) { throw "ip -n $ns -batch failed: $out" }
    $seconds
}

# A fresh pwsh inside the namespace running ControlPlaneLoop.ps1; returns what it wrote.
function Invoke-CmdletLoop([string] $ns, [string] $mode, [int] $count, [string[]] $Environment = @(), [switch] $NoRemove) {
    $json = Join-Path $outDir "loop-$mode.json"
    Remove-Item $json -ErrorAction Ignore
    $self = [System.Diagnostics.Process]::GetCurrentProcess().MainModule.FileName
    $pwsh = if ((Split-Path -Leaf $self) -eq 'dotnet') { @($self, 'pwsh') } else { @($self) }
    $loop = Join-Path $PSScriptRoot 'ControlPlaneLoop.ps1'
    # From the repository root, where `dotnet pwsh` finds its local tool manifest.
    Push-Location (Join-Path $PSScriptRoot '../..')
    try {
        $extra = @(if ($NoRemove) { '-NoRemove' })
        & ip netns exec $ns env @Environment @pwsh -NoProfile -File $loop -Module (Resolve-Path $Module).Path -Mode $mode -Count $count -OutFile $json @extra
        if ($LASTEXITCODE -ne 0 -or -not (Test-Path $json)) { throw "ControlPlaneLoop.ps1 -Mode $mode failed in $ns (exit code $LASTEXITCODE)" }
    }
    finally { Pop-Location }
    Get-Content -Raw $json | ConvertFrom-Json
}

# utime+stime of a process in clock ticks (/proc/PID/stat fields 14 and 15; the name in field 2 may hold spaces).
function Get-CpuTicks([int] $id) {
    $stat = Get-Content -Raw "/proc/$id/stat"
    $fields = $stat.Substring($stat.LastIndexOf(')') + 2).Split(' ')
    [long]$fields[11] + [long]$fields[12]
}

function New-UnderlayNamespace([string] $prefix) {
    $ns = New-LabNamespace -Prefix $prefix
    foreach ($cmd in 'link add u0 type veth peer name u1', 'addr add 192.0.2.1/24 dev u0', 'link set u0 up', 'link set u1 up') {
        $out = & ip -n $ns @($cmd -split ' ') 2>&1
        if ($LASTEXITCODE -ne 0) { throw "ip -n $ns $cmd failed: $out" }
    }
    $ns
}

function Measure-ControlPlane {
    $cp = [ordered]@{ Sessions = $Sessions; ManySessions = $ManySessions }

    Write-Host "==> Baseline: ip -batch making and deleting $Sessions TAP devices"
    $ns = New-LabNamespace -Prefix 'bench-ip'
    try {
        $cp.IpBatchAddSeconds = Measure-IpBatch $ns @(0..($Sessions - 1) | ForEach-Object { "tuntap add dev bt$_ mode tap" })
        $cp.IpBatchDelSeconds = Measure-IpBatch $ns @(0..($Sessions - 1) | ForEach-Object { "link del bt$_" })
    }
    finally { Remove-LabNamespace -Name $ns }

    Write-Host "==> $Sessions sessions, one New-L2tpSession call each, then one Remove-L2tpSession call each"
    $ns = New-UnderlayNamespace 'bench-cp'
    try {
        $r = Invoke-CmdletLoop $ns 'Loop' $Sessions
        if ($r.Made -ne $Sessions -or $r.Left -ne 0) { throw "the loop made $($r.Made) sessions and left $($r.Left)" }
        $cp.CreateSeconds = $r.CreateSeconds
        $cp.PerHundredSeconds = @($r.PerHundredSeconds)
        $cp.RemoveSeconds = $r.RemoveSeconds
    }
    finally {
        Remove-LabL2tpConfig -Namespace $ns
        Remove-LabNamespace -Name $ns
    }

    # The same loop in a pwsh whose runtime neither collects garbage (a gen0 budget larger than the loop allocates)
    # nor recompiles hot methods in the background (tiered compilation off). A trace of the default loop
    # (perf sched) showed the slow hundreds' stalls there: pwsh's first gen0 collection and the runtime suspensions
    # that install tier-1 code, 10-15 ms each, while the forwarder answered each request in under a millisecond.
    # This row shows what the module and the forwarder do with those taken out; the row above stays the target.
    Write-Host "==> $Sessions sessions, one New-L2tpSession call each, in a pwsh with tiered compilation off and a 96 MiB gen0 budget"
    $ns = New-UnderlayNamespace 'bench-cpq'
    $fwd = $null
    try {
        $r = Invoke-CmdletLoop $ns 'Loop' $Sessions -Environment 'DOTNET_TieredCompilation=0', 'DOTNET_GCgen0size=0x6000000' -NoRemove
        $fwd = [int]$r.ForwarderPid
        if ($r.Made -ne $Sessions) { throw "the loop made $($r.Made) sessions" }
        $cp.QuietClientCreateSeconds = $r.CreateSeconds
        $cp.QuietClientPerHundredSeconds = @($r.PerHundredSeconds)
    }
    finally {
        if ($fwd) { & kill -9 $fwd 2>$null }
        Remove-LabNamespace -Name $ns
    }

    Write-Host "==> $ManySessions sessions (one pipeline): Get-L2tpSession, forwarder RSS, and $IdleSeconds s of idling"
    $ns = New-UnderlayNamespace 'bench-many'
    $fwd = $null; $state = $null
    try {
        $r = Invoke-CmdletLoop $ns 'Many' $ManySessions
        $fwd = [int]$r.ForwarderPid; $state = [string]$r.StatePath
        if ($r.Got -ne $ManySessions) { throw "Get-L2tpSession returned $($r.Got) sessions of $ManySessions" }
        $cp.ManyCreateSeconds = $r.CreateSeconds
        $cp.ManyPerHundredSeconds = @($r.PerHundredSeconds)
        $cp.GetSeconds = $r.GetSeconds
        # Past the state snapshot the forwarder writes once the control socket is quiet.
        Start-Sleep -Seconds 2
        $t0 = Get-CpuTicks $fwd
        $sw = [System.Diagnostics.Stopwatch]::StartNew()
        Start-Sleep -Seconds $IdleSeconds
        $ticks = (Get-CpuTicks $fwd) - $t0
        $cp.IdleCpuPercent = 100.0 * $ticks / 100 / $sw.Elapsed.TotalSeconds   # CLK_TCK is 100
        $cp.RssMiB = [double](Select-String -Path "/proc/$fwd/status" -Pattern '^VmRSS:\s+(\d+)').Matches[0].Groups[1].Value / 1024
        # Whole-namespace reads, after the RSS and idle figures (the forwarder's heap grows with the dumps it answers):
        # a fresh pwsh's Export of them all and Compare of that file with them, then the forwarder's RSS again.
        $reads = Invoke-CmdletLoop $ns 'Reads' $ManySessions
        if ($reads.CompareDifferences -ne 0) { throw "Compare-L2tpConfiguration found $($reads.CompareDifferences) differences between the export and the live state" }
        $cp.ExportSeconds = $reads.ExportSeconds
        $cp.CompareSeconds = $reads.CompareSeconds
        $cp.RssAfterReadsMiB = [double](Select-String -Path "/proc/$fwd/status" -Pattern '^VmRSS:\s+(\d+)').Matches[0].Groups[1].Value / 1024
    }
    finally {
        # 10,000 sessions removed one by one cost the kernel minutes: kill the forwarder and let the namespace take its
        # TAPs; its state folder goes too, or a forwarder of a reused namespace would restore it.
        if ($fwd) { & kill -9 $fwd 2>$null }
        if ($state -and $state.StartsWith('/run/l2tp/')) { Remove-Item -Recurse -Force (Split-Path $state) -ErrorAction Ignore }
        Remove-LabNamespace -Name $ns
    }

    $per = $cp.PerHundredSeconds
    $slowest = ($per | Select-Object -Skip 1 | Measure-Object -Maximum).Maximum
    $quiet = $cp.QuietClientPerHundredSeconds
    $quietSlowest = ($quiet | Select-Object -Skip 1 | Measure-Object -Maximum).Maximum
    $rows = @(
        [pscustomobject]@{ Figure = "make $Sessions sessions, one New-L2tpSession each"; Value = '{0:N2} s' -f $cp.CreateSeconds
            Baseline = 'ip -batch, {0} tuntap add: {1:N2} s' -f $Sessions, $cp.IpBatchAddSeconds
            Ratio = $cp.CreateSeconds / $cp.IpBatchAddSeconds; Target = '≤ 5'; Met = $cp.CreateSeconds / $cp.IpBatchAddSeconds -le 5 }
        [pscustomobject]@{ Figure = 'slowest later hundred vs the first'; Value = '{0:N3} s vs {1:N3} s' -f $slowest, $per[0]
            Baseline = 'first hundred'; Ratio = $slowest / $per[0]; Target = '≤ 1'; Met = $slowest -le $per[0] }
        [pscustomobject]@{ Figure = 'same, slowest later hundred vs the first, pwsh with tiered compilation off and a 96 MiB gen0 budget'
            Value = '{0:N3} s vs {1:N3} s' -f $quietSlowest, $quiet[0]; Baseline = 'first hundred'; Ratio = $quietSlowest / $quiet[0]; Target = '(for information)'; Met = $null }
        [pscustomobject]@{ Figure = "remove $Sessions sessions, one Remove-L2tpSession each"; Value = '{0:N2} s' -f $cp.RemoveSeconds
            Baseline = 'ip -batch, {0} link del: {1:N2} s' -f $Sessions, $cp.IpBatchDelSeconds
            Ratio = $cp.RemoveSeconds / $cp.IpBatchDelSeconds; Target = '≤ 3'; Met = $cp.RemoveSeconds / $cp.IpBatchDelSeconds -le 3 }
        [pscustomobject]@{ Figure = "Get-L2tpSession of $ManySessions sessions"; Value = '{0:N3} s' -f $cp.GetSeconds
            Baseline = ''; Ratio = $null; Target = '< 1 s'; Met = $cp.GetSeconds -lt 1 }
        [pscustomobject]@{ Figure = "Export-L2tpConfiguration of $ManySessions sessions (one read of the namespace)"; Value = '{0:N3} s' -f $cp.ExportSeconds
            Baseline = ''; Ratio = $null; Target = '(for information)'; Met = $null }
        [pscustomobject]@{ Figure = "Compare-L2tpConfiguration of that file with the $ManySessions live sessions (no differences)"; Value = '{0:N3} s' -f $cp.CompareSeconds
            Baseline = ''; Ratio = $null; Target = '(for information)'; Met = $null }
        [pscustomobject]@{ Figure = "forwarder RSS at $ManySessions sessions"; Value = '{0:N1} MiB' -f $cp.RssMiB
            Baseline = ''; Ratio = $null; Target = '< 64 MiB'; Met = $cp.RssMiB -lt 64 }
        [pscustomobject]@{ Figure = "forwarder RSS at $ManySessions sessions after that Export and Compare"; Value = '{0:N1} MiB' -f $cp.RssAfterReadsMiB
            Baseline = ''; Ratio = $null; Target = '(for information)'; Met = $null }
        [pscustomobject]@{ Figure = "idle forwarder at $ManySessions sessions ($IdleSeconds s)"; Value = '{0:N2} % of a core' -f $cp.IdleCpuPercent
            Baseline = ''; Ratio = $null; Target = '< 1 %'; Met = $cp.IdleCpuPercent -lt 1 }
        [pscustomobject]@{ Figure = "make $ManySessions sessions, one pipeline into New-L2tpSession"; Value = '{0:N2} s' -f $cp.ManyCreateSeconds
            Baseline = ''; Ratio = $null; Target = '(for information)'; Met = $null }
    )
    $cp.Table = $rows
    $cp
}

function Format-ControlPlane($cp) {
    $lines = @(Format-Targets $cp.Table)
    $lines += ''
    $lines += "Seconds per hundred sessions made, one New-L2tpSession call each (hundreds 1 to $($cp.PerHundredSeconds.Count)):"
    $lines += ''
    $lines += ($cp.PerHundredSeconds | ForEach-Object { '{0:N3}' -f $_ }) -join ' '
    $lines += ''
    $lines += 'The same in a pwsh with tiered compilation off and a 96 MiB gen0 budget:'
    $lines += ''
    $lines += ($cp.QuietClientPerHundredSeconds | ForEach-Object { '{0:N3}' -f $_ }) -join ' '
    $lines -join "`n"
}

# ---- Control plane of the Kernel backend, in the kernel lab --------------------------------------------------------

# Boots the kernel lab (Linux with l2tp_core under QEMU) and, inside it: `ip -batch` of one `l2tp add tunnel` and
# $Sessions `l2tp add session` lines (then `l2tp del tunnel`), and ControlPlaneLoop.ps1 -Backend Kernel making as many
# sessions from one configuration file with Sync-L2tpConfiguration (-Mode Sync: the file names the tunnel too, as the
# batch does), then with one New-L2tpSession call each (-Mode Loop), then through one pipeline into New-L2tpSession (-Mode Many).
# All run under TCG in the same guest, so the ratios are what counts.
function Measure-KernelControlPlane {
    Import-Module (Join-Path $PSScriptRoot '../lab/KernelLab.psm1') -Force
    $kcp = [ordered]@{ Sessions = $Sessions; Rounds = $Rounds }
    $ns = New-LabNamespace -Prefix 'bench-klab'
    $share = Join-Path ([System.IO.Path]::GetTempPath()) ('l2tp-bench-klab-' + [guid]::NewGuid().ToString('N').Substring(0, 8))
    $null = New-Item -ItemType Directory -Path $share
    # The pwshes the guest runs: this one ('tool': the dotnet tool's, IL only, when that is what runs this) and, with
    # -ReadyToRunPwsh, a precompiled copy of it ('r2r'), run by the same dotnet.
    $hostPath = [Environment]::ProcessPath
    $pwshDll = if ((Split-Path -Leaf $hostPath) -eq 'dotnet') { Join-Path $PSHOME 'pwsh.dll' } else { '' }
    $r2rDll = if ($ReadyToRunPwsh -and $pwshDll) { Join-Path (Resolve-Path $ReadyToRunPwsh).Path 'pwsh.dll' } else { '' }
    $kinds = @('tool') + @(if ($r2rDll) { 'r2r' })
    try {
        Copy-Item -Recurse -LiteralPath (Split-Path (Resolve-Path $Module).Path) -Destination (Join-Path $share 'L2tp')
        Copy-Item -LiteralPath (Join-Path $PSScriptRoot 'ControlPlaneLoop.ps1') -Destination $share
        # -Rounds rounds of ip -batch and one Sync-L2tpConfiguration per pwsh, alternating (under TCG one run can be
        # twice the next: the medians are kept); then one New-L2tpSession each and one pipeline per pwsh.
        $script = @'
ip addr add 192.0.2.1/24 dev "$GUEST_NIC" || exit 90
export DOTNET_TieredPGO=0
pwsh_for() { if [ "$1" = r2r ]; then echo "$L2TP_PWSH_HOST $L2TP_PWSH_R2R_DLL"; else echo "$L2TP_PWSH_HOST $L2TP_PWSH_DLL"; fi; }
clean() { ip l2tp del tunnel tunnel_id 3000 2>/dev/null; n=0; while ls /sys/class/net | grep -q '^l2tpeth' && [ "$n" -lt 600 ]; do sleep 0.1; n=$((n + 1)); done; }
{
    echo "l2tp add tunnel tunnel_id 3000 peer_tunnel_id 4000 encap udp local 192.0.2.1 remote 192.0.2.2 udp_sport 5000 udp_dport 6000"
    for ((i = 1; i <= L2TP_SESSIONS; i++)); do echo "l2tp add session tunnel_id 3000 session_id $i peer_session_id $i"; done
} >/tmp/add.batch
for ((r = 1; r <= L2TP_ROUNDS; r++)); do
    t0=$EPOCHREALTIME
    ip -batch /tmp/add.batch || exit 91
    t1=$EPOCHREALTIME
    echo "$t0 $t1" >/mnt/ipbatch-$r.txt
    clean
    for k in $L2TP_KINDS; do
        $(pwsh_for $k) -NoProfile -NonInteractive -File /mnt/ControlPlaneLoop.ps1 -Module /mnt/L2tp/L2tp.psd1 -Mode Sync -Count "$L2TP_SESSIONS" -Backend Kernel -OutFile /mnt/sync-$k-$r.json || exit 93
        clean
    done
done
for k in $L2TP_KINDS; do
    $(pwsh_for $k) -NoProfile -NonInteractive -File /mnt/ControlPlaneLoop.ps1 -Module /mnt/L2tp/L2tp.psd1 -Mode Loop -Count "$L2TP_SESSIONS" -Backend Kernel -OutFile /mnt/loop-$k.json || exit 92
    $(pwsh_for $k) -NoProfile -NonInteractive -File /mnt/ControlPlaneLoop.ps1 -Module /mnt/L2tp/L2tp.psd1 -Mode Many -Count "$L2TP_SESSIONS" -Backend Kernel -OutFile /mnt/many-$k.json || exit 94
    clean
done
'@
        Write-Host "==> Kernel lab: ip -batch and Sync-L2tpConfiguration ($Rounds rounds), New-L2tpSession -Backend Kernel, $Sessions sessions each, on pwsh: $($kinds -join ', ')"
        $lab = Start-KernelLab -Namespace $ns -TapAddress 192.0.2.254/24 -ShareDirectory $share -TimeoutSeconds 3000 -Script $script -Environment @{
            L2TP_PWSH_HOST = $hostPath; L2TP_PWSH_DLL = $pwshDll; L2TP_PWSH_R2R_DLL = $r2rDll; L2TP_SESSIONS = "$Sessions"; L2TP_ROUNDS = "$Rounds"; L2TP_KINDS = "$kinds"
        }
        $r = Wait-KernelLab $lab
        if ($r.ExitCode -ne 0 -or -not (Test-Path (Join-Path $share "many-$($kinds[-1]).json"))) { throw "the kernel lab's control-plane run failed (exit $($r.ExitCode)): $($r.Output)" }
        $read = { param($name) Get-Content -Raw (Join-Path $share $name) | ConvertFrom-Json }
        $ip = foreach ($i in 1..$Rounds) { $t = (Get-Content (Join-Path $share "ipbatch-$i.txt")).Split(' ') | ForEach-Object { [double]$_ }; $t[1] - $t[0] }
        $kcp.IpBatchAddSeconds = Get-Median $ip
        $kcp.IpBatchAddRounds = @($ip)
        foreach ($k in $kinds) {
            $prefix = if ($k -eq 'tool') { '' } else { 'R2r' }
            $sync = foreach ($i in 1..$Rounds) {
                $j = & $read "sync-$k-$i.json"
                if ($j.Got -ne $Sessions) { throw "Sync-L2tpConfiguration ($k pwsh) made $($j.Got) sessions of $Sessions" }
                $j
            }
            $kcp["${prefix}SyncCreateSeconds"] = Get-Median $sync.CreateSeconds
            $kcp["${prefix}SyncRounds"] = @($sync.CreateSeconds)
            $kcp["${prefix}SyncJitSeconds"] = Get-Median $sync.JitSeconds
            $kcp["${prefix}SyncJitMethods"] = Get-Median $sync.JitMethods
            $loop = & $read "loop-$k.json"
            if ($loop.Made -ne $Sessions) { throw "the loop ($k pwsh) made $($loop.Made) sessions of $Sessions" }
            $kcp["${prefix}CreateSeconds"] = $loop.CreateSeconds
            $kcp["${prefix}PerHundredSeconds"] = @($loop.PerHundredSeconds)
            $kcp["${prefix}RemoveSeconds"] = $loop.RemoveSeconds
            $many = & $read "many-$k.json"
            if ($many.Got -ne $Sessions) { throw "the pipeline ($k pwsh) made $($many.Got) sessions of $Sessions" }
            $kcp["${prefix}ManyCreateSeconds"] = $many.CreateSeconds
            $kcp["${prefix}ManyPerHundredSeconds"] = @($many.PerHundredSeconds)
            $kcp["${prefix}GetSeconds"] = $many.GetSeconds
        }
    }
    finally {
        Remove-LabNamespace -Name $ns
        Remove-Item -Recurse -Force $share -ErrorAction Ignore
    }
    $base = 'ip -batch, the same l2tp add session lines: {0:N2} s' -f $kcp.IpBatchAddSeconds
    $row = {
        param($figure, $seconds)
        [pscustomobject]@{ Figure = $figure; Value = '{0:N2} s' -f $seconds; Baseline = $base; Ratio = $seconds / $kcp.IpBatchAddSeconds; Target = '≤ 1.5'; Met = $seconds / $kcp.IpBatchAddSeconds -le 1.5 }
    }
    $on = @{ tool = if ($pwshDll) { 'pwsh as the dotnet tool (IL only)' } else { 'this pwsh' }; r2r = 'pwsh precompiled (ReadyToRun), as Microsoft''s packages ship it' }
    $kcp.Table = foreach ($k in $kinds) {
        $prefix = if ($k -eq 'tool') { '' } else { 'R2r' }
        & $row "Kernel backend, kernel lab (TCG), $($on[$k]): make $Sessions sessions, one New-L2tpSession each" $kcp["${prefix}CreateSeconds"]
        & $row "Kernel backend, kernel lab (TCG), $($on[$k]): make $Sessions sessions, one pipeline into New-L2tpSession" $kcp["${prefix}ManyCreateSeconds"]
        & $row "Kernel backend, kernel lab (TCG), $($on[$k]): make $Sessions sessions from one configuration file (Sync-L2tpConfiguration, median of $Rounds, each round beside its own ip -batch; timed from the call to its return, pwsh start and Import-Module not counted)" $kcp["${prefix}SyncCreateSeconds"]
    }
    $kcp
}

# ---- Data plane ----------------------------------------------------------------------------------------------------

function Measure-DataPlane {
    # Each round of each path gets a fresh pair (namespaces, forwarders or QEMUs), and the paths take turns round by
    # round: where the scheduler puts the processes of one pair on the two vCPUs, and what else the machine does
    # meanwhile, then falls on every path alike rather than on all rounds of one.
    $paths = [ordered]@{
        'veth (baseline)' = { Use-Pair { param($a, $b) Measure-Round $a $b '192.0.2.2' } }
        'kernel VXLAN (baseline)' = {
            Use-Pair {
                param($a, $b)
                $null = & ip -n $a link add vx0 type vxlan id 42 local 192.0.2.1 remote 192.0.2.2 dstport 4789 2>&1
                if ($LASTEXITCODE -ne 0) { return }
                ns $b 'ip link add vx0 type vxlan id 42 local 192.0.2.2 remote 192.0.2.1 dstport 4789' | Out-Null
                ns $a 'ip addr add 203.0.113.1/24 dev vx0; ip link set vx0 up' | Out-Null
                ns $b 'ip addr add 203.0.113.2/24 dev vx0; ip link set vx0 up' | Out-Null
                Measure-Round $a $b '203.0.113.2'
            }
        }
        'QEMU -netdev l2tpv3 (baseline)' = {
            Use-Pair {
                param($a, $b)
                $qa = $qb = $null
                try {
                    $qa = Start-LabQemuL2tpv3 -Namespace $a -Src 192.0.2.1 -Dst 192.0.2.2 -SrcPort 5000 -DstPort 6000 -TxSession 2000 -RxSession 1000 -Counter -TapAddress 198.51.100.1/24
                    $qb = Start-LabQemuL2tpv3 -Namespace $b -Src 192.0.2.2 -Dst 192.0.2.1 -SrcPort 6000 -DstPort 5000 -TxSession 1000 -RxSession 2000 -Counter -TapAddress 198.51.100.2/24
                    foreach ($n in $a, $b) { ns $n 'ip link set qtap0 mtu 1446' | Out-Null }
                    ns $a 'ping -c 3 -W 1 198.51.100.2' | Out-Null
                    Measure-Round $a $b '198.51.100.2' -Forwarders @($qa.Id, $qb.Id) -PinnedRtt
                }
                finally {
                    Stop-LabQemuL2tpv3 $qa
                    Stop-LabQemuL2tpv3 $qb
                }
            }
        }
        'L2tp managed, offload off, -UdpChecksum off' = { Measure-Managed $false 'off' }
        'L2tp managed, -UdpChecksum off' = { Measure-Managed $true 'off' }
        'L2tp managed, two threads per forwarder' = { Measure-Managed $true -Threads 2 }
        'L2tp managed, small packets sent one by one (not joined)' = { Measure-Managed $true -Join $false }
        'L2tp managed, received UDP datagrams written one by one (no UDP GRO)' = { Measure-Managed $true -UdpGro $false }
        'L2tp managed (default: UDP checksums, GSO/GRO)' = { Measure-Managed $true -PinnedRtt }
    }
    $byPath = @{}
    foreach ($round in 1..$Rounds) {
        $script:LastRound = $round -eq $Rounds
        foreach ($name in $paths.Keys) {
            Write-Host "==> round $round of $Rounds`: $name"
            $r = & $paths[$name]
            if ($r) { $byPath[$name] = @($byPath[$name]) + @($r) | Where-Object { $null -ne $_ } }
        }
    }
    $results = @(foreach ($name in $paths.Keys) { if ($byPath[$name]) { Join-Rounds $name @($byPath[$name]) } })

    $veth = $results[0]
    $vxlan = $results | Where-Object Path -Like 'kernel VXLAN*' | Select-Object -First 1
    $qemu = $results | Where-Object Path -Like 'QEMU*' | Select-Object -First 1
    foreach ($r in $results) {
        $r | Add-Member RatioToVeth ([math]::Round($r.Gbps / $veth.Gbps, 3))
        $r | Add-Member RatioToQemu $(if ($qemu -and $qemu.Gbps -gt 0) { [math]::Round($r.Gbps / $qemu.Gbps, 2) } else { $null })
    }
    $results | Format-Table -AutoSize | Out-String | Write-Host
    $default = $results | Where-Object Path -Like 'L2tp managed (default*' | Select-Object -First 1
    $off = $results | Where-Object Path -EQ 'L2tp managed, -UdpChecksum off' | Select-Object -First 1
    $targets = @()
    if ($qemu -and $default) {
        $targets += [pscustomobject]@{ Figure = 'TCP, default settings'; Value = '{0:N2} Gbit/s' -f $default.Gbps; Baseline = 'QEMU {0:N2} Gbit/s' -f $qemu.Gbps
            Ratio = $default.Gbps / $qemu.Gbps; Target = '≥ 8 × QEMU'; Met = $default.Gbps / $qemu.Gbps -ge 8 }
        if ($vxlan) {
            $targets += [pscustomobject]@{ Figure = 'TCP, default settings'; Value = '{0:N2} Gbit/s' -f $default.Gbps; Baseline = 'VXLAN {0:N2} Gbit/s' -f $vxlan.Gbps
                Ratio = $default.Gbps / $vxlan.Gbps; Target = '≥ 0.5 × VXLAN'; Met = $default.Gbps / $vxlan.Gbps -ge 0.5 }
        }
        $targets += [pscustomobject]@{ Figure = 'TCP, -UdpChecksum off'; Value = '{0:N2} Gbit/s' -f $off.Gbps; Baseline = 'QEMU {0:N2} Gbit/s' -f $qemu.Gbps
            Ratio = $off.Gbps / $qemu.Gbps; Target = '≥ 3 × QEMU'; Met = $off.Gbps / $qemu.Gbps -ge 3 }
        $targets += [pscustomobject]@{ Figure = 'ping RTT median, default settings'; Value = '{0} µs' -f $default.RttUs; Baseline = 'QEMU {0} µs' -f $qemu.RttUs
            Ratio = $default.RttUs / $qemu.RttUs; Target = '≤ 0.6 × QEMU'; Met = $default.RttUs / $qemu.RttUs -le 0.6 }
        if ($default.RttUsSameVcpu -and $qemu.RttUsSameVcpu) {
            $targets += [pscustomobject]@{ Figure = 'ping RTT median, ping and both forwarders pinned to one vCPU'; Value = '{0} µs' -f $default.RttUsSameVcpu
                Baseline = 'QEMU {0} µs' -f $qemu.RttUsSameVcpu; Ratio = $default.RttUsSameVcpu / $qemu.RttUsSameVcpu; Target = '(for information)'; Met = $null }
            $targets += [pscustomobject]@{ Figure = 'ping RTT median, both forwarders pinned to one vCPU, ping to the other'; Value = '{0} µs' -f $default.RttUsOtherVcpu
                Baseline = 'QEMU {0} µs' -f $qemu.RttUsOtherVcpu; Ratio = $default.RttUsOtherVcpu / $qemu.RttUsOtherVcpu; Target = '(for information)'; Met = $null }
        }
        $targets += [pscustomobject]@{ Figure = 'both forwarders idle after the traffic'; Value = '{0:N2} % of a core' -f $default.IdleCpuPercent; Baseline = ''
            Ratio = $null; Target = '~0 (< 1 %)'; Met = $default.IdleCpuPercent -lt 1 }
        $targets += [pscustomobject]@{ Figure = '64-byte frames delivered, default settings'; Value = '{0:N1} kpps' -f $default.Kpps64; Baseline = 'QEMU {0:N1} kpps' -f $qemu.Kpps64
            Ratio = $default.Kpps64 / $qemu.Kpps64; Target = '≥ 3 × QEMU'; Met = $default.Kpps64 / $qemu.Kpps64 -ge 3 }
        $targets += [pscustomobject]@{ Figure = '64-byte frames delivered, default settings, receiver and sender with 4 MiB socket buffers'
            Value = '{0:N1} kpps' -f $default.Kpps64BigBuffer; Baseline = 'QEMU {0:N1} kpps' -f $qemu.Kpps64BigBuffer
            Ratio = $default.Kpps64BigBuffer / $qemu.Kpps64BigBuffer; Target = '(for information)'; Met = $null }
    }
    [pscustomobject]@{ Paths = $results; Table = $targets }
}

# The target table (control or data plane) as markdown: each figure, its baseline in the same run, ratio, target, met.
function Format-Targets($rows) {
    $lines = @('| Figure | Value | Baseline (same run) | Ratio | Target | Met |', '|---|---|---|---|---|---|')
    foreach ($r in $rows) {
        $ratio = if ($null -ne $r.Ratio) { '{0:N2}' -f $r.Ratio } else { '' }
        $met = if ($null -eq $r.Met) { '' } elseif ($r.Met) { 'met' } else { 'NOT met' }
        $lines += "| $($r.Figure) | $($r.Value) | $($r.Baseline) | $ratio | $($r.Target) | $met |"
    }
    $lines
}

$report = [ordered]@{
    Time = (Get-Date).ToUniversalTime().ToString('o')
    Cpus = [Environment]::ProcessorCount
    LoadAverage = (Get-Content /proc/loadavg -Raw).Trim()
}
if ($Part -in 'All', 'DataPlane') { $report.DataPlane = Measure-DataPlane }
if ($Part -in 'All', 'ControlPlane') { $report.ControlPlane = Measure-ControlPlane }
if ($Part -in 'All', 'KernelControlPlane') { $report.KernelControlPlane = Measure-KernelControlPlane }

$md = @("# Bench $($report.Time)", '', "$($report.Cpus) CPUs, load average at the start: $($report.LoadAverage)", '')
if ($report.Contains('ControlPlane')) {
    $table = Format-ControlPlane $report.ControlPlane
    Write-Host ''
    Write-Host $table
    $md += '## Control plane', '', $table, ''
}
if ($report.Contains('KernelControlPlane')) {
    $k = $report.KernelControlPlane
    $table = @(Format-Targets $k.Table) + '' +
        "Seconds per hundred sessions made, one call each: $(($k.PerHundredSeconds | ForEach-Object { '{0:N3}' -f $_ }) -join ' ')" + '' +
        "Seconds per hundred sessions made, one pipeline: $(($k.ManyPerHundredSeconds | ForEach-Object { '{0:N3}' -f $_ }) -join ' ')" + '' +
        "Rounds (seconds): ip -batch $(($k.IpBatchAddRounds | ForEach-Object { '{0:N2}' -f $_ }) -join ' '); Sync $(($k.SyncRounds | ForEach-Object { '{0:N2}' -f $_ }) -join ' ')$(if ($k.Contains('R2rSyncRounds')) { '; Sync on the precompiled pwsh ' + (($k.R2rSyncRounds | ForEach-Object { '{0:N2}' -f $_ }) -join ' ') })" -join "`n"
    Write-Host ''
    Write-Host $table
    $md += '## Control plane, Kernel backend (kernel lab)', '', $table, ''
}
if ($report.Contains('DataPlane')) {
    $table = (Format-Targets $report.DataPlane.Table) -join "`n"
    Write-Host ''
    Write-Host $table
    $md += '## Data plane', '', $table, ''
    $md += '| Path | TCP Gbit/s | RTT median µs | 64-byte kpps delivered | sent | dropped at the receiving socket | forwarders'' CPU % during 64-byte | 64-byte kpps delivered, 4 MiB receive buffer | idle CPU % | × veth | × QEMU |', '|---|---|---|---|---|---|---|---|---|---|---|'
    $md += $report.DataPlane.Paths | ForEach-Object { "| $($_.Path) | $($_.Gbps) | $($_.RttUs) | $($_.Kpps64) | $($_.SentKpps64) | $($_.ReceiverDropKpps64) | $($_.ForwarderCpuPercent64) | $($_.Kpps64BigBuffer) | $($_.IdleCpuPercent) | $($_.RatioToVeth) | $($_.RatioToQemu) |" }
}
$report | ConvertTo-Json -Depth 5 | Set-Content (Join-Path $outDir 'bench.json')
$md -join "`n" | Set-Content (Join-Path $outDir 'bench.md')
Write-Host "Wrote $(Join-Path $outDir 'bench.json') and bench.md"
$report
