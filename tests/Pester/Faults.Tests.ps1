#Requires -Version 7.2
# Pester 5: the managed forwarder under the faults an operator meets (needs root). Each Describe builds its own
# namespaces (removed in its AfterAll even on failure):
#   - a session interface deleted by hand (`ip link del`): the session goes, as with l2tp_eth, the forwarder stays idle,
#     and the same id and name can be used again at once;
#   - underlay faults (link down/up, local address removed/re-added, route to the remote moved to another path): the
#     pseudowire carries traffic again with no command, and Get-L2tpTunnel says meanwhile that the tunnel cannot send;
#   - a flood of forged packets (unknown sessions, wrong cookies): the forwarder's memory stays flat and its counters
#     account for every packet.
# Recovery times and rates are written to the information stream (Write-Host) for the record.

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot '../lab/Lab.psm1') -Force
    Import-Module ([System.IO.Path]::GetFullPath((Join-Path $PSScriptRoot '../../out/L2tp/L2tp.psd1'))) -Force

    function Get-ForwarderPid([string] $Namespace) {
        @(Get-LabNamespaceProcess -Namespace $Namespace -CommandLinePattern 'l2tp-forwarder') | Select-Object -First 1 -ExpandProperty Id
    }
    # utime + stime of a process in clock ticks (fields 14 and 15 of /proc/PID/stat, after the command name).
    function Get-CpuTicks([int] $Id) {
        $stat = [System.IO.File]::ReadAllText("/proc/$Id/stat")
        $f = $stat.Substring($stat.LastIndexOf(')') + 2) -split ' '
        [long]$f[11] + [long]$f[12]
    }
    function Get-RssKb([int] $Id) {
        $line = [System.IO.File]::ReadAllLines("/proc/$Id/status") | Where-Object { $_ -like 'VmRSS:*' }
        [long](($line -split '\s+')[1])
    }
    # The forwarder's folder under /run/l2tp: its stdout is the log file there.
    function Get-ForwarderStateFile([int] $Id) {
        Join-Path (Split-Path ([System.IO.File]::ResolveLinkTarget("/proc/$Id/fd/1", $false).FullName)) 'state.json'
    }
    # One ping with a short timeout, until one is answered: the milliseconds from the call to that answer, or -1.
    function Measure-Recovery([string] $Namespace, [string] $Address, [double] $TimeoutSeconds = 10) {
        $sw = [System.Diagnostics.Stopwatch]::StartNew()
        while ($sw.Elapsed.TotalSeconds -lt $TimeoutSeconds) {
            $r = Invoke-LabCommand -Namespace $Namespace -FilePath 'ping' -ArgumentList @('-n', '-c', '1', '-W', '0.2', $Address)
            if ($r.ExitCode -eq 0) { return [int]$sw.Elapsed.TotalMilliseconds }
        }
        -1
    }
    # A pseudowire between two namespaces over their veth0: inner 198.51.100.1 (A) <-> 198.51.100.2 (B).
    function New-Pseudowire([string] $A, [string] $B, [string] $LocalA, [string] $LocalB, [string] $PeerCookieB = '') {
        New-L2tpTunnel -netns $A -TunnelId 3000 -PeerTunnelId 4000 -Local $LocalA -Remote $LocalB -SourcePort 5000 -DestinationPort 6000 -ErrorAction Stop |
            New-L2tpSession -SessionId 1000 -PeerSessionId 2000 -InterfaceName l2tpeth0 -ErrorAction Stop |
            Set-L2tpInterface -Up -Address 198.51.100.1 -PeerAddress 198.51.100.2 -ErrorAction Stop | Out-Null
        $cookie = @{}
        if ($PeerCookieB) { $cookie = @{ PeerCookie = $PeerCookieB } }
        New-L2tpTunnel -netns $B -TunnelId 4000 -PeerTunnelId 3000 -Local $LocalB -Remote $LocalA -SourcePort 6000 -DestinationPort 5000 -ErrorAction Stop |
            New-L2tpSession -SessionId 2000 -PeerSessionId 1000 -InterfaceName l2tpeth0 @cookie -ErrorAction Stop |
            Set-L2tpInterface -Up -Address 198.51.100.2 -PeerAddress 198.51.100.1 -ErrorAction Stop | Out-Null
    }
}

Describe 'A session interface deleted by hand (ip link del)' {
    BeforeAll {
        $A = New-LabNamespace -Prefix 'flt-del-A'
        $B = New-LabNamespace -Prefix 'flt-del-B'
        New-LabVethPair -Namespace $A -Peer $B -Address 192.0.2.1/24 -PeerAddress 192.0.2.2/24 | Out-Null
        New-Pseudowire $A $B 192.0.2.1 192.0.2.2
        Test-LabPing -Namespace $A -Address 198.51.100.2 -Count 2 -Attempts 3 | Should -BeTrue -Because 'the pseudowire works before the deletion'
        $script:fwd = Get-ForwarderPid $A
        $fwd | Should -Not -BeNullOrEmpty
        $script:stateFile = Get-ForwarderStateFile $fwd
        (Get-Content -Raw $stateFile) | Should -Match '"SessionId": 1000' -Because 'the session is recorded before the deletion'

        Invoke-LabNs $A 'ip link del l2tpeth0' | Out-Null
        Start-Sleep -Milliseconds 300
        $t0 = Get-CpuTicks $fwd
        $sw = [System.Diagnostics.Stopwatch]::StartNew()
        Start-Sleep -Seconds 3
        $ticks = (Get-CpuTicks $fwd) - $t0
        $script:cpuPercent = 100.0 * $ticks / 100 / $sw.Elapsed.TotalSeconds   # CLK_TCK is 100
        Write-Host ("forwarder CPU in the 3 s after ip link del: {0:N1} % of a core ({1} ticks)" -f $cpuPercent, $ticks)
    }
    AfterAll {
        if (Get-Command Remove-LabL2tpConfig -ErrorAction Ignore) { Remove-LabL2tpConfig -Namespace $A, $B }
        Remove-LabNamespace -Name $A, $B
    }

    It 'leaves the forwarder idle: under 5 % of a core over the next 3 s (no busy loop on the dead TAP fd)' {
        Test-LabProcessAlive $fwd | Should -BeTrue
        $cpuPercent | Should -BeLessThan 5
    }

    It 'deletes the session, as deleting an l2tp_eth interface does' {
        Wait-LabCondition { -not @(Get-L2tpSession -netns $A -TunnelId 3000 -ErrorAction Stop) } -TimeoutSeconds 2 | Should -BeTrue
        (Get-L2tpTunnel -netns $A -TunnelId 3000 -ErrorAction Stop).TunnelId | Should -Be 3000 -Because 'the tunnel stays'
    }

    It 'drops the session from state.json, so a restarted forwarder does not bring it back' {
        Wait-LabCondition { (Get-Content -Raw $stateFile) -notmatch '"SessionId": 1000' } -TimeoutSeconds 2 | Should -BeTrue
        (Get-Content -Raw $stateFile) | Should -Match '"TunnelId": 3000'
    }

    It 'says so in its log' {
        Get-Content -Raw (Join-Path (Split-Path $stateFile) 'forwarder.log') | Should -Match 'session 1000 in tunnel 3000 deleted: .*l2tpeth0'
    }

    It 'takes the same session id and interface name again at once, and the new session carries traffic' {
        $s = New-L2tpSession -netns $A -TunnelId 3000 -SessionId 1000 -PeerSessionId 2000 -InterfaceName l2tpeth0 -ErrorAction Stop
        $s.InterfaceName | Should -Be 'l2tpeth0'
        $s | Set-L2tpInterface -Up -Address 198.51.100.1 -PeerAddress 198.51.100.2 -ErrorAction Stop | Out-Null
        Test-LabPing -Namespace $A -Address 198.51.100.2 -Count 2 -Attempts 5 | Should -BeTrue
        (Get-L2tpSession -netns $A -TunnelId 3000 -SessionId 1000).Statistics.RxPackets | Should -BeGreaterThan 0
        Get-ForwarderPid $A | Should -Be $fwd -Because 'the same forwarder serves on'
    }
}
