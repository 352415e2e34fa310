#!/usr/bin/env pwsh
#Requires -Version 7.2
<#
.SYNOPSIS
    Demonstrates (and checks) the real-kernel lab: Debian's kernel under QEMU as the far end of an L2TPv3 pseudowire.
.DESCRIPTION
    In a fresh network namespace (unique name, removed at the end even on failure):
      1. Initialize-KernelLab (builds the image once per machine, then cached).
      2. Invoke-KernelLab: the guest gives its NIC 192.0.2.2/24 (the host's TAP ktap0 has 192.0.2.1/24), makes the
         ip-l2tp(8) man page's tunnel 4000/3000 and session 2000/1000 with l2tp_eth, prints `ip l2tp show tunnel` and
         `ip l2tp show session`, pings 192.0.2.1, and times `dotnet pwsh` starting in the guest.
      3. Unless -SkipManagedPeer or the module is not built: Start-KernelLab with the same guest configuration; once
         the guest has written /mnt/ready the host runs this module's managed forwarder as the other end
         (New-L2tpTunnel -NetworkNamespace ... | New-L2tpSession ...), pings 198.51.100.2 through the pseudowire,
         writes go-on, and the guest pings 198.51.100.1 back through it.
    Prints the measured times and ends with 'N passed, N failed'; exits 1 if any step failed.
    Needs root. Addresses are documentation ranges only (192.0.2.0/24 underlay, 198.51.100.0/24 in the pseudowire).
.EXAMPLE
    cd /work/main && dotnet tool restore && dotnet pwsh -NoProfile -File tests/lab/kernel/Demo-KernelLab.ps1
#>
[CmdletBinding()]
param(
    # The built L2tp module (build.ps1 publishes it there).
    [string]$ModulePath = (Join-Path $PSScriptRoot '../../../out/L2tp/L2tp.psd1'),
    [switch]$SkipManagedPeer,
    [switch]$SkipPwsh
)

$ErrorActionPreference = 'Stop'
Set-StrictMode -Version 3.0
Import-Module (Join-Path $PSScriptRoot '../KernelLab.psm1') -Force

$passed = 0
$failed = 0
function Step([string]$Name, [bool]$Ok, [string]$Detail) {
    if ($Ok) { $script:passed++; Write-Host "PASS  $Name $Detail" }
    else { $script:failed++; Write-Host "FAIL  $Name $Detail" }
}

$guestPseudowire = Get-Content -Raw (Join-Path $PSScriptRoot 'guest/pseudowire.sh')

$total = [System.Diagnostics.Stopwatch]::StartNew()
$ns = 'kernellab-' + [guid]::NewGuid().ToString('N').Substring(0, 8)
$lab = $null
try {
    $sw = [System.Diagnostics.Stopwatch]::StartNew()
    $image = Initialize-KernelLab
    Step 'Initialize-KernelLab' $true ("{0} ({1}) in {2:0.0} s, from cache: {3}" -f $image.KernelVersion, $image.PackageVersion, $sw.Elapsed.TotalSeconds, $image.FromCache)

    ip netns add $ns
    if ($LASTEXITCODE) { throw "ip netns add $ns failed" }
    ip -n $ns link set lo up

    # 1. The guest alone: Linux's own l2tp_eth, ping over the TAP, pwsh in the guest.
    $pwshPart = if ($SkipPwsh) { '' } else {
        @'
t0=$(date +%s.%N)
(cd /work/main && dotnet pwsh -NoProfile -c '$PSVersionTable.PSVersion.ToString()')
t1=$(date +%s.%N)
echo "pwsh-seconds=$(awk "BEGIN{printf \"%.1f\", $t1 - $t0}")"
'@
    }
    $script1 = $guestPseudowire + @'

echo '--- ip l2tp show tunnel'
ip l2tp show tunnel
echo '--- ip l2tp show session'
ip l2tp show session
echo '---'
ping -c 2 -W 5 192.0.2.1
'@ + "`n" + $pwshPart
    $r = Invoke-KernelLab -Namespace $ns -Image $image -TapAddress 192.0.2.1/24 -TimeoutSeconds 300 -Script $script1
    Write-Host $r.Output
    Step 'guest ip l2tp + ping 192.0.2.1' ($r.ExitCode -eq 0 -and $r.Output -match 'Tunnel 4000, encap UDP' -and $r.Output -match 'Session 2000 in tunnel 4000' -and $r.Output -match ' 0% packet loss') `
        ("exit {0}, run {1:0.0} s, QEMU start to script {2:0.0} s (guest uptime {3:0.0} s)" -f $r.ExitCode, $r.Duration.TotalSeconds, $r.BootSeconds, $r.GuestUptimeAtScript)
    if (-not $SkipPwsh) {
        $m = [regex]::Match($r.Output, 'pwsh-seconds=([0-9.]+)')
        Step 'pwsh in the guest' ($m.Success -and $r.Output -match '(?m)^7\.\d+\.\d+') $(if ($m.Success) { "started and ran in $($m.Groups[1].Value) s" } else { '' })
    }
    if ($r.FilesKept) { Write-Host "serial log: $($r.SerialLogPath)" }

    # 2. The guest's kernel against this module's managed forwarder, through the pseudowire.
    if ($SkipManagedPeer) {
        Write-Host 'SKIP  managed peer (-SkipManagedPeer)'
    }
    elseif (-not (Test-Path -LiteralPath $ModulePath)) {
        Write-Host "SKIP  managed peer: $ModulePath is not built (dotnet pwsh -NoProfile -File build.ps1)"
    }
    else {
        $sw.Restart()
        $lab = Start-KernelLab -Namespace $ns -Image $image -TapAddress 192.0.2.1/24 -TimeoutSeconds 240 -Script ($guestPseudowire + @'

touch /mnt/ready
kernel_lab_wait_file /mnt/go-on 180
ping -c 3 -W 5 198.51.100.1
'@)
        $null = Wait-KernelLabFile $lab ready -TimeoutSeconds 120
        Write-Host ("guest ready after {0:0.0} s" -f $sw.Elapsed.TotalSeconds)
        Import-Module $ModulePath -Force
        $session = New-L2tpTunnel -NetworkNamespace $ns -TunnelId 3000 -PeerTunnelId 4000 -Local 192.0.2.1 -Remote 192.0.2.2 -SourcePort 5000 -DestinationPort 6000 |
            New-L2tpSession -SessionId 1000 -PeerSessionId 2000
        Write-Host "host session: backend $($session.Backend), interface $($session.InterfaceName)"
        ip -n $ns link set l2tpeth0 up
        ip -n $ns addr add 198.51.100.1 peer 198.51.100.2 dev l2tpeth0
        $hostPing = ip netns exec $ns ping -c 3 -W 5 198.51.100.2 2>&1
        Write-Host ($hostPing -join "`n")
        Step 'host (managed) pings guest (l2tp_eth) through the pseudowire' ($LASTEXITCODE -eq 0) ''
        $null = New-Item -ItemType File -Path (Join-Path $lab.ShareDirectory 'go-on')
        $r2 = Wait-KernelLab $lab
        Write-Host $r2.Output
        Step 'guest (l2tp_eth) pings host (managed) through the pseudowire' ($r2.ExitCode -eq 0 -and $r2.Output -match ' 0% packet loss') ("exit {0}, run {1:0.0} s" -f $r2.ExitCode, $r2.Duration.TotalSeconds)
        try { Get-L2tpTunnel -NetworkNamespace $ns | Remove-L2tpTunnel -Force } catch { Write-Host "cleanup: $_" }
    }
}
catch {
    Step 'demo' $false "$_"
}
finally {
    Stop-KernelLab $lab
    foreach ($p in @(ip netns pids $ns 2>$null)) { if ($p) { kill -9 $p 2>$null } }
    ip netns del $ns 2>$null
    Write-Host ("whole demo {0:0.0} s" -f $total.Elapsed.TotalSeconds)
    Write-Host "$passed passed, $failed failed"
}
if ($failed) { exit 1 }
