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
    # Traffic through the pseudowire again, with no command: A reaches B (time to the first reply logged), B reaches A,
    # and the tunnel says Up. Returns A's tunnel.
    function Assert-Recovered([string] $A, [string] $B, [string] $After) {
        $ms = Measure-Recovery $A 198.51.100.2
        Write-Host "recovery after ${After}: $ms ms"
        $ms | Should -BeGreaterOrEqual 0
        Test-LabPing -Namespace $B -Address 198.51.100.1 -Count 2 -Attempts 3 | Should -BeTrue -Because 'both directions work'
        $t = Get-L2tpTunnel -netns $A -TunnelId 3000
        $t.State | Should -Be ([L2tp.L2tpTunnelState]::Up)
        $t
    }
    # A pseudowire between two namespaces over their veth0: inner 198.51.100.1 (A) <-> 198.51.100.2 (B).
    # With -CookieA, A's session sends that cookie and B's requires it.
    function New-Pseudowire([string] $A, [string] $B, [string] $LocalA, [string] $LocalB, [string] $CookieA = '') {
        $send = @{}; $require = @{}
        if ($CookieA) { $send = @{ Cookie = $CookieA }; $require = @{ PeerCookie = $CookieA } }
        New-L2tpTunnel -netns $A -TunnelId 3000 -PeerTunnelId 4000 -Local $LocalA -Remote $LocalB -SourcePort 5000 -DestinationPort 6000 -ErrorAction Stop |
            New-L2tpSession -SessionId 1000 -PeerSessionId 2000 -InterfaceName l2tpeth0 @send -ErrorAction Stop |
            Set-L2tpInterface -Up -Address 198.51.100.1 -PeerAddress 198.51.100.2 -ErrorAction Stop | Out-Null
        New-L2tpTunnel -netns $B -TunnelId 4000 -PeerTunnelId 3000 -Local $LocalB -Remote $LocalA -SourcePort 6000 -DestinationPort 5000 -ErrorAction Stop |
            New-L2tpSession -SessionId 2000 -PeerSessionId 1000 -InterfaceName l2tpeth0 @require -ErrorAction Stop |
            Set-L2tpInterface -Up -Address 198.51.100.2 -PeerAddress 198.51.100.1 -ErrorAction Stop | Out-Null
    }
}

Describe 'A session interface deleted by hand (ip link del)' {
    BeforeAll {
        $A, $B = New-LabSitePair -Prefix 'flt-del-A', 'flt-del-B'
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

    It 'follows an MTU change of a session interface from the link notification (frames above it are dropped, as l2tp_eth does)' {
        $errors = { (Get-L2tpSession -netns $B -TunnelId 4000 -SessionId 2000).Statistics.RxErrors }
        $before = & $errors
        Invoke-LabNs $B 'ip link set l2tpeth0 mtu 1000' | Out-Null
        Test-LabPing -Namespace $A -Address 198.51.100.2 -Count 2 -Size 1200 | Should -BeFalse -Because 'B takes no frame above 1000 + 18 bytes now'
        & $errors | Should -BeGreaterThan $before
        Invoke-LabNs $B 'ip link set l2tpeth0 mtu 1446' | Out-Null
        Test-LabPing -Namespace $A -Address 198.51.100.2 -Count 2 -Size 1200 | Should -BeTrue
    }
}

Describe 'Underlay faults on the path between the tunnel ends' {
    BeforeAll {
        $A, $B = New-LabSitePair -Prefix 'flt-ul-A', 'flt-ul-B'
        New-Pseudowire $A $B 192.0.2.1 192.0.2.2
        Test-LabPing -Namespace $A -Address 198.51.100.2 -Count 2 -Attempts 3 | Should -BeTrue -Because 'the pseudowire works before the faults'

        # Frames from site A's session while the underlay is broken: each one a send the forwarder cannot make.
        function Send-DuringFault {
            Test-LabPing -Namespace $A -Address 198.51.100.2 -Count 3 -TimeoutSeconds 1 | Should -BeFalse -Because 'nothing can pass during the fault'
            Get-L2tpTunnel -netns $A -TunnelId 3000 -ErrorAction Stop
        }
    }
    AfterAll {
        if (Get-Command Remove-LabL2tpConfig -ErrorAction Ignore) { Remove-LabL2tpConfig -Namespace $A, $B }
        Remove-LabNamespace -Name $A, $B
    }

    It 'reports a sending tunnel as Up, with no send error' {
        $t = Get-L2tpTunnel -netns $A -TunnelId 3000 -ErrorAction Stop
        $t.State | Should -Be ([L2tp.L2tpTunnelState]::Up)
        $t.LastSendError | Should -BeNullOrEmpty
        $t.LastSendErrorTime | Should -BeNullOrEmpty
    }

    Context 'the underlay link goes down, then up' {
        It 'says SendFailing with the reason and time while the link is down (not a silent drop)' {
            $before = (Get-L2tpTunnel -netns $A -TunnelId 3000).Statistics.TxErrors
            Invoke-LabNs $A 'ip link set veth0 down' | Out-Null
            $t = Send-DuringFault
            $t.State | Should -Be ([L2tp.L2tpTunnelState]::SendFailing)
            $t.LastSendError | Should -Be 'Network is unreachable (ENETUNREACH)'
            $t.LastSendErrorTime | Should -BeGreaterThan ([DateTime]::UtcNow.AddSeconds(-30))
            $t.Statistics.TxErrors | Should -BeGreaterThan $before
        }

        It 'carries traffic again once the link is up, with no command, and says Up again' {
            Invoke-LabNs $A 'ip link set veth0 up' | Out-Null
            $t = Assert-Recovered $A $B 'underlay link up'
            $t.LastSendError | Should -BeNullOrEmpty
        }
    }

    Context 'the local address is removed, then added again' {
        It 'says SendFailing with the reason while the tunnel''s local address is gone' {
            Invoke-LabNs $A 'ip addr del 192.0.2.1/24 dev veth0' | Out-Null
            $t = Send-DuringFault
            Write-Host "send error with the local address removed: $($t.LastSendError)"
            $t.State | Should -Be ([L2tp.L2tpTunnelState]::SendFailing)
            $t.LastSendError | Should -Match '\(E[A-Z]+\)$'
        }

        It 'carries traffic again once the address is back, with no command' {
            Invoke-LabNs $A 'ip addr add 192.0.2.1/24 dev veth0' | Out-Null
            Assert-Recovered $A $B 'the local address came back' | Out-Null
        }
    }
}

Describe 'The route to the remote moves to another path' {
    # Two veth pairs between A and B; the tunnel runs between addresses on lo (203.0.113.1 and .2), routed over
    # veth0 first, then over veth1 while veth0 goes down.
    BeforeAll {
        $A = New-LabNamespace -Prefix 'flt-rt-A'
        $B = New-LabNamespace -Prefix 'flt-rt-B'
        New-LabVethPair -Namespace $A -Peer $B -Address 192.0.2.1/25 -PeerAddress 192.0.2.2/25 | Out-Null
        New-LabVethPair -Namespace $A -Peer $B -Address 192.0.2.129/25 -PeerAddress 192.0.2.130/25 -Name veth1 -PeerName veth1 | Out-Null
        Invoke-LabNs $A 'ip addr add 203.0.113.1/32 dev lo && ip route add 203.0.113.2/32 via 192.0.2.2 dev veth0' | Out-Null
        Invoke-LabNs $B 'ip addr add 203.0.113.2/32 dev lo && ip route add 203.0.113.1/32 via 192.0.2.1 dev veth0' | Out-Null
        New-Pseudowire $A $B 203.0.113.1 203.0.113.2
        Test-LabPing -Namespace $A -Address 198.51.100.2 -Count 2 -Attempts 3 | Should -BeTrue -Because 'the pseudowire works over veth0'
    }
    AfterAll {
        if (Get-Command Remove-LabL2tpConfig -ErrorAction Ignore) { Remove-LabL2tpConfig -Namespace $A, $B }
        Remove-LabNamespace -Name $A, $B
    }

    It 'carries traffic over the new path with no command' {
        $rx1 = [long](Invoke-LabNs $B 'cat /sys/class/net/veth1/statistics/rx_packets')
        Invoke-LabNs $A 'ip route replace 203.0.113.2/32 via 192.0.2.130 dev veth1' | Out-Null
        Invoke-LabNs $B 'ip route replace 203.0.113.1/32 via 192.0.2.129 dev veth1' | Out-Null
        Invoke-LabNs $A 'ip link set veth0 down' | Out-Null
        $ms = Measure-Recovery $A 198.51.100.2
        Write-Host "recovery after the route moved to veth1 (veth0 down): $ms ms"
        $ms | Should -BeGreaterOrEqual 0
        Test-LabPing -Namespace $B -Address 198.51.100.1 -Count 3 -Attempts 3 | Should -BeTrue -Because 'both directions work'
        [long](Invoke-LabNs $B 'cat /sys/class/net/veth1/statistics/rx_packets') | Should -BeGreaterThan ($rx1 + 3) -Because 'the packets took veth1'
        (Get-L2tpTunnel -netns $A -TunnelId 3000).State | Should -Be ([L2tp.L2tpTunnelState]::Up)
    }
}

Describe 'A flood of forged packets (unknown sessions, wrong cookies)' {
    # Site A's namespace forges, through a raw socket, UDP packets with its tunnel's own 4-tuple 192.0.2.1:5000 ->
    # 192.0.2.2:6000, so site B's connected tunnel socket takes them: half for sessions B does not have, half for its
    # session 2000 with a wrong cookie (B requires 0102030405060708). Bounded in count and in time.
    BeforeAll {
        $A, $B = New-LabSitePair -Prefix 'flt-mem-A', 'flt-mem-B'
        New-Pseudowire $A $B 192.0.2.1 192.0.2.2 -CookieA 0102030405060708
        Test-LabPing -Namespace $A -Address 198.51.100.2 -Count 2 -Attempts 3 | Should -BeTrue -Because 'the pseudowire works before the flood'
        $script:fwdB = Get-ForwarderPid $B

        $sender = @'
import socket, struct, sys, time
n, limit = int(sys.argv[1]), float(sys.argv[2])
src, dst, sport, dport = '192.0.2.1', '192.0.2.2', 5000, 6000
frame = bytes.fromhex('ffffffffffff02005e00536688b5') + b'L2TP-FAULTS-FLOOD'.ljust(46, b'#')
def udp(payload):
    u = struct.pack('!HHHH', sport, dport, 8 + len(payload), 0) + payload
    return struct.pack('!BBHHHBBH4s4s', 0x45, 0, 20 + len(u), 0, 0, 64, 17, 0, socket.inet_aton(src), socket.inet_aton(dst)) + u
cookie = bytes.fromhex('0102030405060708')
packets = [udp(struct.pack('!HHI', 3, 0, sid) + cookie + bytes(4) + frame) for sid in (2001, 2002, 99999, 4294967295)]
packets += [udp(struct.pack('!HHI', 3, 0, 2000) + bytes.fromhex(c) + bytes(4) + frame)
            for c in ('0102030405060709', '1102030405060708', '0000000000000000', 'ffffffffffffffff')]
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
to = (dst, 0)
sent = failed = 0
t0 = time.monotonic()
while sent < n:
    if (sent & 4095) == 0 and time.monotonic() - t0 > limit:
        break
    try:
        s.sendto(packets[sent & 7], to)
        sent += 1
    except OSError:
        failed += 1
        if failed > 1000000: break
print(sent, time.monotonic() - t0)
'@
        # Sends -Count forged packets (a multiple of 8: half unknown sessions, half wrong cookies) within 60 s.
        function Send-Flood([int] $Count) {
            $r = Invoke-LabCommand -Namespace $A -FilePath 'python3' -ArgumentList @('-c', $sender, "$Count", '60')
            if ($r.ExitCode -ne 0) { throw "flood sender failed: $($r.StdErr)" }
            $sent, $seconds = $r.StdOut.Trim() -split ' '
            [pscustomobject]@{ Sent = [long]$sent; Seconds = [double]$seconds; Pps = [long]([long]$sent / [double]$seconds) }
        }
        # What B's forwarder counted, and what the kernel dropped before it could (socket buffer full, veth backlog).
        function Get-Accounting {
            $t = (Get-L2tpTunnel -netns $B -TunnelId 4000 -ErrorAction Stop).Statistics
            $s = (Get-L2tpSession -netns $B -TunnelId 4000 -SessionId 2000 -ErrorAction Stop).Statistics
            $snmp = (Invoke-LabNs $B 'cat /proc/net/snmp') -split "`n" | Where-Object { $_ -like 'Udp:*' }
            $names = $snmp[0] -split '\s+'; $values = $snmp[1] -split '\s+'
            $udp = @{}; for ($i = 1; $i -lt $names.Count; $i++) { $udp[$names[$i]] = [long]$values[$i] }
            [pscustomobject]@{
                TunnelRxInvalid   = [long]$t.RxInvalid
                RxCookieDiscards  = [long]$s.RxCookieDiscards
                SessionRxErrors   = [long]$s.RxErrors
                KernelDrops       = $udp['RcvbufErrors'] + [long](Invoke-LabNs $A 'cat /sys/class/net/veth0/statistics/tx_dropped') +
                    [long](Invoke-LabNs $B 'cat /sys/class/net/veth0/statistics/rx_dropped')
            }
        }

        # Warm-up: the receive path's buffers, the JIT and the GC heap reach their working size.
        Send-Flood 100000 | Out-Null
        Start-Sleep -Milliseconds 500
        $script:before = Get-Accounting
        $script:rssBefore = Get-RssKb $fwdB
        $cpu0 = Get-CpuTicks $fwdB
        $script:flood = Send-Flood 1000000
        Start-Sleep -Milliseconds 500
        $script:cpuTicks = (Get-CpuTicks $fwdB) - $cpu0
        $script:rssAfter = Get-RssKb $fwdB
        $script:after = Get-Accounting
        Write-Host ("flood: {0} packets in {1:N2} s ({2} pkt/s); forwarder CPU {3} ticks; VmRSS {4} kB before, {5} kB after ({6:+0.0;-0.0} %)" -f
            $flood.Sent, $flood.Seconds, $flood.Pps, $cpuTicks, $rssBefore, $rssAfter, (100.0 * ($rssAfter - $rssBefore) / $rssBefore))
        Write-Host ("counted: RxInvalid +{0}, RxCookieDiscards +{1}, kernel drops +{2}" -f ($after.TunnelRxInvalid - $before.TunnelRxInvalid),
            ($after.RxCookieDiscards - $before.RxCookieDiscards), ($after.KernelDrops - $before.KernelDrops))
    }
    AfterAll {
        if (Get-Command Remove-LabL2tpConfig -ErrorAction Ignore) { Remove-LabL2tpConfig -Namespace $A, $B }
        Remove-LabNamespace -Name $A, $B
    }

    It 'sends the whole million (the flood really happened)' {
        $flood.Sent | Should -Be 1000000
    }

    It 'leaves the forwarder''s resident memory within 10 % of where it was after the warm-up' {
        Test-LabProcessAlive $fwdB | Should -BeTrue
        [math]::Abs($rssAfter - $rssBefore) | Should -BeLessOrEqual ($rssBefore * 0.10)
    }

    It 'accounts for every packet: unknown sessions as tunnel RxInvalid, wrong cookies as RxCookieDiscards, or dropped by the kernel' {
        $invalid = $after.TunnelRxInvalid - $before.TunnelRxInvalid
        $cookie = $after.RxCookieDiscards - $before.RxCookieDiscards
        $kernel = $after.KernelDrops - $before.KernelDrops
        $invalid + $cookie + $kernel | Should -Be $flood.Sent
        $invalid | Should -BeLessOrEqual ($flood.Sent / 2)
        $cookie | Should -BeLessOrEqual ($flood.Sent / 2)
        ($after.SessionRxErrors - $before.SessionRxErrors) | Should -Be $cookie -Because 'a cookie discard is a receive error, as in the kernel'
    }

    It 'still carries the pseudowire''s own traffic' {
        Test-LabPing -Namespace $A -Address 198.51.100.2 -Count 2 -Attempts 3 | Should -BeTrue
    }
}
