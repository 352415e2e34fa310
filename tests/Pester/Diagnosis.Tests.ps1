#Requires -Version 7.2
# Pester 5: Test-L2tpSession, PeerState and Watch-L2tpSession against real namespaces (needs root), Managed backend.
# Underlay: 192.0.2.1/24 (namespace $A, veth0) <-> 192.0.2.2/24 (namespace $B, veth0).
# $A is the end under test and is always configured right: tunnel 3000 (peer 4000, UDP 5000 -> 6000), session 1000
# (peer 2000) on 198.51.100.1/24. $B mirrors it (tunnel 4000, UDP 6000 -> 5000, session 2000 -> 1000, 198.51.100.2/24)
# with one setting made wrong per case, and sends pings to a static (made-up) neighbour, so frames flow at 10/s
# whether or not anything answers (the sequencing case gives $A Recv only: a sequenced $A would turn $B's sending of
# sequence numbers on, as l2tp_core follows its peer, and the mismatch would heal). A spare tunnel 9000 in each
# namespace keeps both forwarders running between cases.

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot '../lab/Lab.psm1') -Force
    $ModulePath = if ($env:L2TP_MODULE_PATH) { $env:L2TP_MODULE_PATH } else { [System.IO.Path]::GetFullPath((Join-Path $PSScriptRoot '../../out/L2tp/L2tp.psd1')) }
    Import-Module $ModulePath -Force

    $A, $B = New-LabSitePair -Prefix 'l2tpD-a', 'l2tpD-b'
    New-L2tpTunnel -netns $A -TunnelId 9000 -PeerTunnelId 9000 -Local 192.0.2.1 -Remote 192.0.2.2 -SourcePort 7000 -DestinationPort 7001 -ErrorAction Stop | Out-Null
    New-L2tpTunnel -netns $B -TunnelId 9000 -PeerTunnelId 9000 -Local 192.0.2.2 -Remote 192.0.2.1 -SourcePort 7001 -DestinationPort 7000 -ErrorAction Stop | Out-Null
    $script:Traffic = [System.Collections.Generic.List[System.Diagnostics.Process]]::new()

    function Merge([hashtable]$Base, [hashtable]$Over) {
        $r = $Base.Clone()
        foreach ($k in $Over.Keys) { $r[$k] = $Over[$k] }
        if ($r['Encapsulation'] -eq 'Ip') { $r.Remove('SourcePort'); $r.Remove('DestinationPort') }
        $r
    }

    # One end: tunnel, session, interface up with its address.
    function New-End([string]$Ns, [hashtable]$Tunnel, [hashtable]$Session, [string]$Address) {
        New-L2tpTunnel -netns $Ns @Tunnel -ErrorAction Stop | Out-Null
        $s = New-L2tpSession -netns $Ns -TunnelId $Tunnel.TunnelId @Session -ErrorAction Stop
        Invoke-LabNs $Ns "ip link set '$($s.InterfaceName)' up && ip addr add $Address dev '$($s.InterfaceName)'" | Out-Null
        $s
    }

    # Both ends, $B's settings overridden by -B* (and $A's by -A*), with no traffic yet.
    function New-Case([hashtable]$ATunnel = @{}, [hashtable]$ASession = @{}, [hashtable]$BTunnel = @{}, [hashtable]$BSession = @{}) {
        Stop-Traffic
        Remove-LabL2tpConfig -Namespace $A, $B -Keep 9000
        $script:SA = New-End $A (Merge @{ TunnelId = 3000; PeerTunnelId = 4000; Local = '192.0.2.1'; Remote = '192.0.2.2'; SourcePort = 5000; DestinationPort = 6000 } $ATunnel) `
            (Merge @{ SessionId = 1000; PeerSessionId = 2000 } $ASession) '198.51.100.1/24'
        $script:SB = New-End $B (Merge @{ TunnelId = 4000; PeerTunnelId = 3000; Local = '192.0.2.2'; Remote = '192.0.2.1'; SourcePort = 6000; DestinationPort = 5000 } $BTunnel) `
            (Merge @{ SessionId = 2000; PeerSessionId = 1000 } $BSession) '198.51.100.2/24'
    }

    # Pings from $Ns to $To every 0.1 s through a static neighbour entry, so frames leave whatever comes back.
    function Start-Traffic([string]$Ns, [string]$Interface, [string]$To) {
        Invoke-LabNs $Ns "ip neigh replace $To lladdr 02:00:00:00:00:99 dev '$Interface' nud permanent" | Out-Null
        $log = Join-Path ([System.IO.Path]::GetTempPath()) ("l2tpD-ping-{0}.log" -f [guid]::NewGuid().ToString('N').Substring(0, 8))
        $script:Traffic.Add((Start-LabBackgroundProcess -Namespace $Ns -FilePath ping -ArgumentList @('-q', '-i', '0.1', $To) -LogPath $log))
    }
    function Stop-Traffic {
        foreach ($p in $script:Traffic) { Stop-LabBackgroundProcess $p }
        $script:Traffic.Clear()
    }
    function Start-BTraffic { Start-Traffic $B $script:SB.InterfaceName 198.51.100.1 }

    function Test-A([double]$Seconds = 1) { Test-L2tpSession -netns $A -TunnelId 3000 -SessionId 1000 -Seconds $Seconds -ErrorAction Stop }
    function Get-A([double]$Silent = 2) { Get-L2tpSession -netns $A -TunnelId 3000 -SessionId 1000 -SilentSeconds $Silent -ErrorAction Stop }
}

AfterAll {
    if (Get-Command Stop-Traffic -ErrorAction Ignore) { Stop-Traffic }
    if (Get-Command Remove-LabL2tpConfig -ErrorAction Ignore) { Remove-LabL2tpConfig -Namespace $A, $B }
    if (Get-Command Remove-LabNamespace -ErrorAction Ignore) { Remove-LabNamespace -Name $A, $B }
}

Describe 'Test-L2tpSession' {
    AfterEach { Stop-Traffic }

    It 'finds nothing on a healthy pair: Verdict Healthy, no findings, packets received' {
        New-Case
        Start-BTraffic
        $d = Test-A
        $d | Should -BeOfType ([L2tp.L2tpDiagnosis])
        $d.Verdict | Should -Be Healthy -Because ($d.Findings.Message -join '; ')
        $d.Findings | Should -BeNullOrEmpty
        $d.ReceivedPackets | Should -BeGreaterThan 0
    }

    It 'takes a session from Get-L2tpSession through the pipeline' {
        New-Case
        Start-BTraffic
        $d = Get-L2tpSession -netns $A -TunnelId 3000 | Test-L2tpSession -Seconds 0.5 -ErrorAction Stop
        @($d).Count | Should -Be 1
        $d.SessionId | Should -Be 1000
        $d.NetworkNamespace | Should -Be $A
    }

    It 'cannot see a wrong PeerTunnelId (L2TPv3 data packets carry none): still Healthy' {
        New-Case -BTunnel @{ PeerTunnelId = 3999 }
        Start-BTraffic
        (Test-A).Verdict | Should -Be Healthy
    }

    It 'names <Name> made at the far end' -ForEach @(
        @{ Name = 'a wrong session id'; BSession = @{ PeerSessionId = 1001 }; ASession = @{}; BTunnel = @{}; ATunnel = @{}
            Kind = 'UnknownSession'; Field = 'SessionId'; Actual = '1001'
            Message = '192.0.2.2 sends session id 1001 in tunnel 3000, which has no session 1001; session 1000 takes packets sent to 1000*' }
        @{ Name = 'a wrong cookie'; ASession = @{ PeerCookie = '0a0b0c0d' }; BSession = @{ Cookie = '01020304' }; BTunnel = @{}; ATunnel = @{}
            Kind = 'CookieMismatch'; Field = 'PeerCookie'; Actual = '01020304'
            Message = "the peer sends cookie 01020304; this session's PeerCookie is 0a0b0c0d*" }
        @{ Name = 'a missing cookie'; ASession = @{ PeerCookie = '0a0b0c0d' }; BSession = @{}; BTunnel = @{}; ATunnel = @{}
            Kind = 'CookieMissing'; Field = 'PeerCookie'; Actual = 'none'
            Message = "the peer sends no cookie; this session's PeerCookie is 0a0b0c0d*" }
        @{ Name = 'an unexpected cookie'; ASession = @{}; BSession = @{ Cookie = '01020304' }; BTunnel = @{}; ATunnel = @{}
            Kind = 'CookieUnexpected'; Field = 'PeerCookie'; Actual = '01020304'
            Message = 'the peer sends cookie 01020304; this session expects none*' }
        @{ Name = 'no sublayer'; ASession = @{}; BSession = @{ L2SpecType = 'None' }; BTunnel = @{}; ATunnel = @{}
            Kind = 'SublayerMissing'; Field = 'L2SpecType'; Actual = 'None'
            Message = 'the peer sends no L2-specific sublayer; this session expects the default 4-byte one*' }
        @{ Name = 'an unexpected sublayer'; ASession = @{ L2SpecType = 'None' }; BSession = @{}; BTunnel = @{}; ATunnel = @{}
            Kind = 'SublayerUnexpected'; Field = 'L2SpecType'; Actual = 'Default'
            Message = 'the peer sends the default 4-byte L2-specific sublayer; this session expects none*' }
        @{ Name = 'no sequence numbers'; ASession = @{ Sequencing = 'Recv' }; BSession = @{}; BTunnel = @{}; ATunnel = @{}
            Kind = 'SequenceMissing'; Field = 'Sequencing'; Actual = 'none'
            Message = 'the peer sends no sequence numbers; this session requires them*' }
        @{ Name = 'a wrong source port'; ASession = @{}; BSession = @{}; BTunnel = @{ SourcePort = 6001 }; ATunnel = @{}
            Kind = 'WrongSource'; Field = 'Remote, DestinationPort'; Actual = '192.0.2.2:6001'
            Message = '192.0.2.2:6001 sends L2TPv3 to port 5000 of tunnel 3000, which takes packets from 192.0.2.2 port 6000 only*' }
        @{ Name = 'a wrong destination port'; ASession = @{}; BSession = @{}; BTunnel = @{ DestinationPort = 5001 }; ATunnel = @{}
            Kind = 'WrongPort'; Field = 'SourcePort'; Actual = '5001'
            Message = '192.0.2.2:6000 sends L2TPv3 to port 5001; tunnel 3000 listens on port 5000*' }
        @{ Name = 'the other encapsulation'; ASession = @{}; BSession = @{}; BTunnel = @{ Encapsulation = 'Ip' }; ATunnel = @{}
            Kind = 'WrongEncapsulation'; Field = 'Encapsulation'; Actual = 'Ip'
            Message = '192.0.2.2 sends L2TPv3 as IP protocol 115; tunnel 3000 uses UDP*' }
    ) {
        New-Case -ATunnel $ATunnel -ASession $ASession -BTunnel $BTunnel -BSession $BSession
        Start-BTraffic
        $d = Test-A
        $d.Verdict | Should -Be Mismatch -Because "findings: $($d.Findings.Message -join '; ')"
        $f = @($d.Findings | Where-Object Kind -EQ $Kind)
        $f.Count | Should -Be 1 -Because "the findings were: $($d.Findings.Message -join '; ')"
        $f[0].Field | Should -Be $Field
        $f[0].Actual | Should -Be $Actual
        $f[0].Count | Should -BeGreaterThan 0
        $f[0].LastSeen | Should -BeGreaterThan ([DateTime]::UtcNow.AddSeconds(-15))
        $f[0].Message | Should -BeLike $Message
    }

    It 'says Silent when this end sends and nothing arrives' {
        New-Case
        Invoke-LabNs $B 'ip link set veth0 down' | Out-Null
        try {
            Start-Traffic $A $script:SA.InterfaceName 198.51.100.2
            $d = Test-A
            $d.Verdict | Should -Be Silent
            $d.Findings.Kind | Should -Be Silent
            $d.SentPackets | Should -BeGreaterThan 0
        }
        finally { Invoke-LabNs $B 'ip link set veth0 up' | Out-Null }
    }
}

Describe 'Test-L2tpSession against frames that only look like IP' {
    # $B sends, for 2 s, the same bytes (an IPv4/UDP packet from the peer 192.0.2.2:6000 to port 5001 of 192.0.2.1,
    # carrying an L2TPv3 data header) under EtherType <Type>, from its veth0 to $A's, or into its session interface,
    # as a host on the far LAN could, to come out of $A's. AF_PACKET hands every frame of every EtherType on every
    # interface over from its network header on: bytes under 0x88b5 (or MPLS, or a second VLAN tag) that read as IP,
    # and IP packets out of a pseudowire, are not packets that reached the tunnel and must not become findings.
    BeforeAll {
        $Sender = @'
import socket, struct, sys, time
mac = lambda s: bytes.fromhex(s.replace(':', ''))
dst, src, etype, dev = mac(sys.argv[1]), mac(sys.argv[2]), int(sys.argv[3], 0), sys.argv[4]
l2tp = struct.pack('!HHI', 3, 0, 1000) + bytes(4) + bytes(46)
udp = struct.pack('!HHHH', 6000, 5001, 8 + len(l2tp), 0) + l2tp
ip = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 20 + len(udp), 1, 0, 64, 17, 0, socket.inet_aton('192.0.2.2'), socket.inet_aton('192.0.2.1'))
csum = sum(struct.unpack('!10H', ip)); csum = (csum & 0xffff) + (csum >> 16); csum = ~((csum & 0xffff) + (csum >> 16)) & 0xffff
ip = ip[:10] + struct.pack('!H', csum) + ip[12:]
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW); s.bind((dev, 0))
end = time.time() + 2
while time.time() < end:
    s.send(dst + src + struct.pack('!H', etype) + ip + udp); time.sleep(0.02)
'@
    }

    It '<Name>' -ForEach @(
        @{ Name = 'reports no finding for an IP packet under EtherType 0x88b5'; Type = '0x88b5'; Pseudowire = $false; Expected = $null }
        @{ Name = 'reports no finding for the IP packet out of the pseudowire, from the far LAN'; Type = '0x0800'; Pseudowire = $true; Expected = $null }
        @{ Name = 'reports WrongPort for the same bytes as a real IPv4 packet (0x0800): the forged packet is one the look reads'; Type = '0x0800'; Pseudowire = $false; Expected = 'WrongPort' }
    ) {
        New-Case
        $devA, $devB = if ($Pseudowire) { $script:SA.InterfaceName, $script:SB.InterfaceName } else { 'veth0', 'veth0' }
        $macA = Invoke-LabNs $A "cat '/sys/class/net/$devA/address'"
        $macB = Invoke-LabNs $B "cat '/sys/class/net/$devB/address'"
        $log = Join-Path ([System.IO.Path]::GetTempPath()) ("l2tpD-forge-{0}.log" -f [guid]::NewGuid().ToString('N').Substring(0, 8))
        $script:Traffic.Add((Start-LabBackgroundProcess -Namespace $B -FilePath python3 -ArgumentList @('-c', $Sender, $macA, $macB, $Type, $devB) -LogPath $log))
        Start-Sleep -Milliseconds 200
        $d = Test-A
        Stop-Traffic
        if ($Pseudowire) { $d.ReceivedPackets | Should -BeGreaterThan 0 -Because 'the forged frames went through the pseudowire' }
        Get-Content $log -ErrorAction Ignore | Should -BeNullOrEmpty
        Remove-Item $log -ErrorAction Ignore
        # Silent is about this end's own traffic (its interface may send an IPv6 solicitation or two in the window, which
        # nobody answers here), not about the forged frames: every other finding is.
        @($d.Findings | Where-Object Kind -NE 'Silent').Kind | Should -Be $Expected -Because "the findings were: $($d.Findings.Message -join '; ')"
    }
}

Describe 'Out-of-range durations' {
    It '<Command> gives <Id> naming the value' -ForEach @(
        @{ Command = 'Test-L2tpSession -Seconds 0'; Id = 'L2tp.InvalidSeconds'; Target = 0; Run = { Test-L2tpSession -netns $A -TunnelId 3000 -SessionId 1000 -Seconds 0 -ErrorVariable e -ErrorAction SilentlyContinue; $e } }
        @{ Command = 'Watch-L2tpSession -Interval 0.01'; Id = 'L2tp.InvalidInterval'; Target = 0.01; Run = { Watch-L2tpSession -netns $A -Interval 0.01 -Count 1 -ErrorVariable e -ErrorAction SilentlyContinue; $e } }
        @{ Command = 'Watch-L2tpSession -Count 0'; Id = 'L2tp.InvalidCount'; Target = 0; Run = { Watch-L2tpSession -netns $A -Count 0 -ErrorVariable e -ErrorAction SilentlyContinue; $e } }
        @{ Command = 'Get-L2tpSession -SilentSeconds 0'; Id = 'L2tp.InvalidSilentSeconds'; Target = 0; Run = { Get-L2tpSession -netns $A -SilentSeconds 0 -ErrorVariable e -ErrorAction SilentlyContinue; $e } }
    ) {
        $err = & $Run
        Assert-LabL2tpError $err -Id $Id -Category InvalidArgument -Target $Target
    }
}

Describe 'PeerState' {
    AfterAll { Stop-Traffic }

    It 'is Up while the far end answers, Silent once its session is removed, Up again when it returns' {
        New-Case
        Start-Traffic $A $script:SA.InterfaceName 198.51.100.2
        Start-BTraffic
        Wait-LabCondition -TimeoutSeconds 5 -Condition { (Get-A).PeerState -eq 'Up' } | Should -BeTrue
        $s = Get-A
        $s.LastReceived | Should -BeGreaterThan ([DateTime]::UtcNow.AddSeconds(-2))
        $s.LastSent | Should -BeGreaterThan ([DateTime]::UtcNow.AddSeconds(-2))

        Remove-L2tpSession -netns $B -TunnelId 4000 -SessionId 2000 -Confirm:$false -ErrorAction Stop
        Wait-LabCondition -TimeoutSeconds 6 -Condition { (Get-A).PeerState -eq 'Silent' } | Should -BeTrue -Because 'nothing arrives for 2 s while A sends'
        (Get-A -Silent 60).PeerState | Should -Be Up -Because 'within a 60 s limit the last packet is recent enough'

        $script:SB = New-L2tpSession -netns $B -TunnelId 4000 -SessionId 2000 -PeerSessionId 1000 -ErrorAction Stop
        Invoke-LabNs $B "ip link set '$($script:SB.InterfaceName)' up && ip addr add 198.51.100.2/24 dev '$($script:SB.InterfaceName)'" | Out-Null
        Start-BTraffic
        Wait-LabCondition -TimeoutSeconds 5 -Condition { (Get-A).PeerState -eq 'Up' } | Should -BeTrue
    }
}

Describe 'Watch-L2tpSession' {
    It 'writes -Count 3 samples whose rates are within 10 % of iperf3''s own' {
        New-Case
        $log = Join-Path ([System.IO.Path]::GetTempPath()) ("l2tpD-iperf-{0}.json" -f [guid]::NewGuid().ToString('N').Substring(0, 8))
        $server = Start-LabBackgroundProcess -Namespace $B -FilePath iperf3 -ArgumentList @('-s', '-1', '-B', '198.51.100.2') -LogPath "$log.server"
        try {
            $listening = Wait-LabCondition -TimeoutSeconds 5 -Condition { (Invoke-LabNs $B 'ss -ltn') -match '198\.51\.100\.2:5201' }
            $listening | Should -BeTrue -Because "iperf3 -s listens on 198.51.100.2:5201 (it wrote: $(Get-Content -Raw -ErrorAction Ignore "$log.server"))"
            $client = Start-LabBackgroundProcess -Namespace $A -FilePath iperf3 -ArgumentList @('-c', '198.51.100.2', '-t', '5', '-J') -LogPath $log
            Start-Sleep -Milliseconds 1000
            $samples = @(Watch-L2tpSession -netns $A -TunnelId 3000 -SessionId 1000 -Interval 1 -Count 3 -ErrorAction Stop)
            $client.WaitForExit(15000) | Should -BeTrue
            $samples.Count | Should -Be 3
            $samples[0] | Should -BeOfType ([L2tp.L2tpSessionSample])
            $samples.SessionId | Sort-Object -Unique | Should -Be 1000
            $iperf = Get-Content -Raw $log | ConvertFrom-Json
            # iperf3's seconds 1 to 4 are the ones the three samples cover.
            $theirs = ($iperf.intervals[1..3] | ForEach-Object { $_.sum.bits_per_second } | Measure-Object -Average).Average
            $ours = ($samples | Measure-Object TxBitsPerSecond -Average).Average
            $theirs | Should -BeGreaterThan 0
            [Math]::Abs($ours - $theirs) / $theirs | Should -BeLessThan 0.10 -Because "ours $([int]($ours / 1e6)) Mbit/s, iperf3's $([int]($theirs / 1e6)) Mbit/s"
            ($samples | Measure-Object TxPacketsPerSecond -Minimum).Minimum | Should -BeGreaterThan 0
            $samples[-1].PeerState | Should -Be Up
        }
        finally {
            Stop-LabBackgroundProcess $server
            Remove-Item -Force -ErrorAction Ignore $log, "$log.server"
        }
    }
}

# QEMU takes both cookies or neither ("require both 'rxcookie' and 'txcookie'"), so a one-sided cookie is between
# managed ends only (above).
Describe 'Test-L2tpSession against QEMU''s l2tpv3 as the far end: <Name>' -ForEach @(
    @{ Name = 'a wrong session id'; ASession = @{}; QemuArgs = @{ TxSession = 1001 }; Kind = 'UnknownSession'; Actual = '1001' }
    @{ Name = 'a wrong cookie'; ASession = @{ Cookie = '0a0b0c0d'; PeerCookie = '01020304' }; QemuArgs = @{ TxCookie = '01020305'; RxCookie = '0a0b0c0d' }; Kind = 'CookieMismatch'; Actual = '01020305' }
    @{ Name = 'no sublayer'; ASession = @{}; QemuArgs = @{ Counter = $false }; Kind = 'SublayerMissing'; Actual = 'None' }
    @{ Name = 'no sequence numbers'; ASession = @{ Sequencing = 'Recv' }; QemuArgs = @{}; Kind = 'SequenceMissing'; Actual = 'none' }
    @{ Name = 'a wrong source port'; ASession = @{}; QemuArgs = @{ SrcPort = 6001 }; Kind = 'WrongSource'; Actual = '192.0.2.2:6001' }
    @{ Name = 'a wrong destination port'; ASession = @{}; QemuArgs = @{ DstPort = 5001 }; Kind = 'WrongPort'; Actual = '5001' }
    @{ Name = 'the other encapsulation'; ASession = @{}; QemuArgs = @{ Encapsulation = 'Ip' }; Kind = 'WrongEncapsulation'; Actual = 'Ip' }
) {
    BeforeAll {
        Stop-Traffic
        Remove-LabL2tpConfig -Namespace $A, $B -Keep 9000
        $script:SA = New-End $A @{ TunnelId = 3000; PeerTunnelId = 4000; Local = '192.0.2.1'; Remote = '192.0.2.2'; SourcePort = 5000; DestinationPort = 6000 } `
            (Merge @{ SessionId = 1000; PeerSessionId = 2000 } $ASession) '198.51.100.1/24'
        # QEMU as this end's mirror (its txsession is the id it writes: 1000), then the one thing the case changes.
        $q = Merge @{ Src = '192.0.2.2'; Dst = '192.0.2.1'; SrcPort = 6000; DstPort = 5000; TxSession = 1000; RxSession = 2000; Counter = $true } $QemuArgs
        if ($q['Encapsulation'] -eq 'Ip') { $q.Remove('SrcPort'); $q.Remove('DstPort') }
        $counter = $q['Counter']; $q.Remove('Counter')
        $script:QemuProcess = Start-LabQemuL2tpv3 -Namespace $B -TapName qtap0 -TapAddress 198.51.100.2/24 -Counter:$counter @q
    }
    AfterAll {
        Stop-Traffic
        Stop-LabQemuL2tpv3 -Process $QemuProcess
    }

    It 'names what QEMU sends' {
        Start-Traffic $B qtap0 198.51.100.1
        $d = Test-A
        $d.Verdict | Should -Be Mismatch -Because ($d.Findings | Out-String)
        $f = @($d.Findings | Where-Object Kind -EQ $Kind)
        $f.Count | Should -Be 1 -Because ($d.Findings | Out-String)
        $f[0].Actual | Should -Be $Actual
    }
}
