#Requires -Version 7.2
# Pester 5: the ip-l2tp(8) man page examples "Setup L2TP tunnels and sessions" and "Configure as IP interfaces",
# done with the L2tp cmdlets between two network namespaces, site-A and site-B (needs root).
#   underlay:        site-A veth0 192.0.2.1/24  <->  site-B veth0 192.0.2.2/24
#   tunnel:          3000 (udp 5000)            <->  4000 (udp 6000)
#   session:         1000 on l2tpeth0           <->  2000 on l2tpeth0
#   inside the wire: 198.51.100.1 peer 198.51.100.2  <->  198.51.100.2 peer 198.51.100.1

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot '../lab/Lab.psm1') -Force
    $ModulePath = [System.IO.Path]::GetFullPath((Join-Path $PSScriptRoot '../../out/L2tp/L2tp.psd1'))
    Import-Module $ModulePath -Force

    $A, $B = New-LabSitePair -Prefix 'site-A', 'site-B'

    # "Configure as IP interfaces": site-A 198.51.100.1 peer .2, site-B the reverse.
    function Set-PseudowireAddress {
        Invoke-LabNs $A 'ip link set l2tpeth0 up && ip addr add 198.51.100.1 peer 198.51.100.2 dev l2tpeth0' | Out-Null
        Invoke-LabNs $B 'ip link set l2tpeth0 up && ip addr add 198.51.100.2 peer 198.51.100.1 dev l2tpeth0' | Out-Null
    }

    # Pings from -From to -To; the first tries again while ARP resolves across the pseudowire.
    function Test-Pseudowire([string]$From, [string]$To) {
        Test-LabPing -Namespace $From -Address $To -Count 3 -TimeoutSeconds 1 -Attempts 3
    }

    # Captures the underlay in site A while pinging B from A; returns the L2TP payloads split by
    # ConvertFrom-LabL2tpv3Payload, each with Src, SrcPort, DstPort.
    function Get-WireFrame([string]$L2SpecType) {
        $cap = Start-LabCapture -Namespace $A -Interface veth0 -Filter 'udp port 5000 or udp port 6000'
        $ok = Test-LabPing -Namespace $A -Address 198.51.100.2 -Count 3
        $packets = Stop-LabCapture -Capture $cap -Field 'ip.src', 'udp.srcport', 'udp.dstport', 'udp.payload'
        $ok | Should -BeTrue -Because 'the pseudowire must carry the pings being captured'
        foreach ($p in $packets) {
            $f = ConvertFrom-LabL2tpv3Payload -Payload $p.'udp.payload' -L2SpecType $L2SpecType
            $f | Add-Member -NotePropertyName Src -NotePropertyValue $p.'ip.src' -PassThru |
                Add-Member -NotePropertyName SrcPort -NotePropertyValue ([int]$p.'udp.srcport') -PassThru |
                Add-Member -NotePropertyName DstPort -NotePropertyValue ([int]$p.'udp.dstport') -PassThru
        }
    }

    function Get-Mtu([string]$Namespace, [string]$Name) {
        [int](Invoke-LabNs $Namespace "cat /sys/class/net/$Name/mtu")
    }
}

AfterAll {
    if (Get-Command Remove-LabL2tpConfig -ErrorAction Ignore) { Remove-LabL2tpConfig -Namespace $A, $B }
    if (Get-Command Remove-LabNamespace -ErrorAction Ignore) { Remove-LabNamespace -Name $A, $B }
}

Describe 'Man page example: Setup L2TP tunnels and sessions, Configure as IP interfaces' {
    BeforeAll {
        Remove-LabL2tpConfig -Namespace $A, $B
        # site-A: ip l2tp add tunnel tunnel_id 3000 peer_tunnel_id 4000 encap udp local 192.0.2.1 remote 192.0.2.2 udp_sport 5000 udp_dport 6000
        $tA = New-L2tpTunnel -netns $A -TunnelId 3000 -PeerTunnelId 4000 -Encapsulation Udp -Local 192.0.2.1 -Remote 192.0.2.2 -SourcePort 5000 -DestinationPort 6000 -ErrorAction Stop
        # site-A: ip l2tp add session tunnel_id 3000 session_id 1000 peer_session_id 2000
        $sA = New-L2tpSession -netns $A -TunnelId 3000 -SessionId 1000 -PeerSessionId 2000 -ErrorAction Stop
        # site-B: the mirror image
        $tB = New-L2tpTunnel -netns $B -TunnelId 4000 -PeerTunnelId 3000 -Encapsulation Udp -Local 192.0.2.2 -Remote 192.0.2.1 -SourcePort 6000 -DestinationPort 5000 -ErrorAction Stop
        $sB = New-L2tpSession -netns $B -TunnelId 4000 -SessionId 2000 -PeerSessionId 1000 -ErrorAction Stop
        Set-PseudowireAddress
    }
    AfterAll { Remove-LabL2tpConfig -Namespace $A, $B }

    It 'New-L2tpTunnel returns L2tp.L2tpTunnel objects with the man page values' {
        $tA | Should -BeOfType ([L2tp.L2tpTunnel])
        $tA.TunnelId | Should -Be 3000
        $tA.PeerTunnelId | Should -Be 4000
        $tA.Encapsulation | Should -Be ([L2tp.Encapsulation]::Udp)
        "$($tA.Local)" | Should -Be '192.0.2.1'
        "$($tA.Remote)" | Should -Be '192.0.2.2'
        $tA.SourcePort | Should -Be 5000
        $tA.DestinationPort | Should -Be 6000
        $tA.Backend | Should -Be ([L2tp.BackendKind]::Managed)
        $tA.NetworkNamespace | Should -Be $A
        $tB.TunnelId | Should -Be 4000
        $tB.PeerTunnelId | Should -Be 3000
        $tB.SourcePort | Should -Be 6000
        $tB.DestinationPort | Should -Be 5000
        $tB.NetworkNamespace | Should -Be $B
    }

    It 'Get-L2tpTunnel returns the same tunnel on each site' {
        $g = Get-L2tpTunnel -netns $A -ErrorAction Stop
        @($g).Count | Should -Be 1
        $g | Should -BeOfType ([L2tp.L2tpTunnel])
        $g.TunnelId | Should -Be 3000
        $g.PeerTunnelId | Should -Be 4000
        "$($g.Local)" | Should -Be '192.0.2.1'
        "$($g.Remote)" | Should -Be '192.0.2.2'
        $g.SourcePort | Should -Be 5000
        $g.DestinationPort | Should -Be 6000
        $g.Backend | Should -Be ([L2tp.BackendKind]::Managed)
        $g.NetworkNamespace | Should -Be $A
        (Get-L2tpTunnel -netns $B -ErrorAction Stop).TunnelId | Should -Be 4000
    }

    It 'New-L2tpSession and Get-L2tpSession return L2tp.L2tpSession objects on l2tpeth0' {
        foreach ($pair in @(@($sA, $A, 3000, 4000, 1000, 2000), @($sB, $B, 4000, 3000, 2000, 1000))) {
            $s, $ns, $tid, $ptid, $sid, $psid = $pair
            $g = Get-L2tpSession -netns $ns -ErrorAction Stop
            @($g).Count | Should -Be 1
            foreach ($o in @($s, $g)) {
                $o | Should -BeOfType ([L2tp.L2tpSession])
                $o.TunnelId | Should -Be $tid
                $o.PeerTunnelId | Should -Be $ptid
                $o.SessionId | Should -Be $sid
                $o.PeerSessionId | Should -Be $psid
                $o.InterfaceName | Should -Be 'l2tpeth0'
                $o.L2SpecType | Should -Be ([L2tp.L2SpecType]::Default)
                $o.Cookie | Should -Be ''
                $o.PeerCookie | Should -Be ''
                $o.Backend | Should -Be ([L2tp.BackendKind]::Managed)
                $o.NetworkNamespace | Should -Be $ns
            }
        }
    }

    It 'makes l2tpeth0 with MTU 1446 on both sites' {
        Get-Mtu $A 'l2tpeth0' | Should -Be 1446
        Get-Mtu $B 'l2tpeth0' | Should -Be 1446
    }

    It 'pings 198.51.100.2 (site B) from site A' {
        Test-Pseudowire -From $A -To 198.51.100.2 | Should -BeTrue
    }

    It 'pings 198.51.100.1 (site A) from site B' {
        Test-Pseudowire -From $B -To 198.51.100.1 | Should -BeTrue
    }

    It 'carries a full-size frame (1418-byte ping, 1446-byte IP packet) without fragmenting' {
        Test-LabPing -Namespace $A -Address 198.51.100.2 -Count 2 -Size 1418 -DontFragment -Attempts 2 | Should -BeTrue
    }

    It 'counts the frames in the session statistics on both sites' {
        $a0 = (Get-L2tpSession -netns $A -TunnelId 3000 -SessionId 1000 -ErrorAction Stop).Statistics
        $b0 = (Get-L2tpSession -netns $B -TunnelId 4000 -SessionId 2000 -ErrorAction Stop).Statistics
        $ok = Test-LabPing -Namespace $A -Address 198.51.100.2 -Count 3
        $a1 = (Get-L2tpSession -netns $A -TunnelId 3000 -SessionId 1000 -ErrorAction Stop).Statistics
        $b1 = (Get-L2tpSession -netns $B -TunnelId 4000 -SessionId 2000 -ErrorAction Stop).Statistics
        $tB = (Get-L2tpTunnel -netns $B -TunnelId 4000 -ErrorAction Stop).Statistics
        $why = "ping ok: $ok; site B session RxErrors $($b1.RxErrors), tunnel RxInvalid $($tB.RxInvalid)"
        # 3 echo requests A->B and 3 replies B->A, each a 98-byte Ethernet frame; ARP may add more.
        ($a1.TxPackets - $a0.TxPackets) | Should -BeGreaterOrEqual 3 -Because $why
        ($b1.RxPackets - $b0.RxPackets) | Should -BeGreaterOrEqual 3 -Because $why
        ($b1.TxPackets - $b0.TxPackets) | Should -BeGreaterOrEqual 3 -Because $why
        ($a1.RxPackets - $a0.RxPackets) | Should -BeGreaterOrEqual 3 -Because $why
        ($a1.TxBytes - $a0.TxBytes) | Should -BeGreaterOrEqual (3 * 98)
        ($b1.RxBytes - $b0.RxBytes) | Should -BeGreaterOrEqual (3 * 98)
        # Deltas: a frame that arrived while the far l2tpeth0 was still down (IPv6 neighbour discovery during set-up)
        # could not be written to the TAP and counts as an error; none of the pings' frames may.
        ($a1.RxErrors - $a0.RxErrors) | Should -Be 0 -Because $why
        ($b1.RxErrors - $b0.RxErrors) | Should -Be 0 -Because $why
        $a1.RxCookieDiscards | Should -Be 0
    }

    It 'counts the frames in the tunnel statistics too' {
        $t0 = (Get-L2tpTunnel -netns $A -TunnelId 3000 -ErrorAction Stop).Statistics
        Test-LabPing -Namespace $A -Address 198.51.100.2 -Count 3 | Should -BeTrue
        $t1 = (Get-L2tpTunnel -netns $A -TunnelId 3000 -ErrorAction Stop).Statistics
        ($t1.TxPackets - $t0.TxPackets) | Should -BeGreaterOrEqual 3
        ($t1.RxPackets - $t0.RxPackets) | Should -BeGreaterOrEqual 3
    }

    It 'puts UDP 5000 -> 6000, the peer session id and the 4-byte default sublayer on the wire' {
        $frames = @(Get-WireFrame -L2SpecType Default)
        $fromA = @($frames | Where-Object Src -EQ '192.0.2.1')
        $fromB = @($frames | Where-Object Src -EQ '192.0.2.2')
        $fromA.Count | Should -BeGreaterOrEqual 3
        $fromB.Count | Should -BeGreaterOrEqual 3
        foreach ($f in $fromA) {
            $f.SrcPort | Should -Be 5000
            $f.DstPort | Should -Be 6000
            $f.IsData | Should -BeTrue
            $f.Version | Should -Be 3
            $f.SessionId | Should -Be 2000 -Because 'site A writes the peer session id'
        }
        foreach ($f in $fromB) { $f.SessionId | Should -Be 1000 }
        # Read with the default sublayer, the echo requests and replies parse as IPv4/ICMP frames.
        @($fromA | Where-Object IcmpType -EQ 8).Count | Should -BeGreaterOrEqual 3
        @($fromB | Where-Object IcmpType -EQ 0).Count | Should -BeGreaterOrEqual 3
    }

    It 'Get-L2tpTunnel -netns A | Remove-L2tpTunnel -Force leaves no TAP device, no UDP socket and no forwarder' {
        $fw = @(Get-LabNamespaceProcess -Namespace $A -CommandLinePattern 'l2tp-forwarder')
        $fw.Count | Should -Be 1 -Because 'one l2tp-forwarder runs per namespace'
        Get-L2tpTunnel -netns $A -ErrorAction Stop | Remove-L2tpTunnel -Force -ErrorAction Stop
        Get-LabLinkName -Namespace $A | Should -Not -Contain 'l2tpeth0'
        Invoke-LabNs $A 'ip link' | Should -Not -Match 'l2tpeth'
        Invoke-LabNs $A 'ss -uanp' | Should -Not -Match ':5000\b'
        @(Get-LabUdpSocket -Namespace $A).Count | Should -Be 0
        Wait-LabCondition -TimeoutSeconds 5 { -not (Test-LabProcessAlive $fw[0].Id) } |
            Should -BeTrue -Because "the forwarder (pid $($fw[0].Id)) should exit once its last tunnel is gone"
        @(Get-L2tpTunnel -netns $A -ErrorAction Stop).Count | Should -Be 0
        @(Get-L2tpSession -netns $A -ErrorAction Stop).Count | Should -Be 0
        # Site B is untouched.
        (Get-L2tpSession -netns $B -ErrorAction Stop).InterfaceName | Should -Be 'l2tpeth0'
        Test-LabPing -Namespace $B -Address 198.51.100.1 -Count 1 | Should -BeFalse -Because 'site A is gone'
    }
}

Describe 'The same pseudowire with -L2SpecType None on both sides' {
    BeforeAll {
        Remove-LabL2tpConfig -Namespace $A, $B
        New-L2tpTunnel -netns $A -TunnelId 3000 -PeerTunnelId 4000 -Encapsulation Udp -Local 192.0.2.1 -Remote 192.0.2.2 -SourcePort 5000 -DestinationPort 6000 -ErrorAction Stop |
            New-L2tpSession -SessionId 1000 -PeerSessionId 2000 -L2SpecType None -ErrorAction Stop | Out-Null
        New-L2tpTunnel -netns $B -TunnelId 4000 -PeerTunnelId 3000 -Encapsulation Udp -Local 192.0.2.2 -Remote 192.0.2.1 -SourcePort 6000 -DestinationPort 5000 -ErrorAction Stop |
            New-L2tpSession -SessionId 2000 -PeerSessionId 1000 -L2SpecType None -ErrorAction Stop | Out-Null
        Set-PseudowireAddress
    }
    AfterAll { Remove-LabL2tpConfig -Namespace $A, $B }

    It 'reports L2SpecType None and makes l2tpeth0 with MTU 1450' {
        (Get-L2tpSession -netns $A -ErrorAction Stop).L2SpecType | Should -Be ([L2tp.L2SpecType]::None)
        (Get-L2tpSession -netns $B -ErrorAction Stop).L2SpecType | Should -Be ([L2tp.L2SpecType]::None)
        Get-Mtu $A 'l2tpeth0' | Should -Be 1450
        Get-Mtu $B 'l2tpeth0' | Should -Be 1450
    }

    It 'pings site B from site A' {
        Test-Pseudowire -From $A -To 198.51.100.2 | Should -BeTrue
    }

    It 'pings site A from site B' {
        Test-Pseudowire -From $B -To 198.51.100.1 | Should -BeTrue
    }

    It 'puts the Ethernet frame right after the session id on the wire' {
        $frames = @(Get-WireFrame -L2SpecType None)
        $fromA = @($frames | Where-Object Src -EQ '192.0.2.1')
        $fromA.Count | Should -BeGreaterOrEqual 3
        foreach ($f in $fromA) { $f.SessionId | Should -Be 2000 }
        @($fromA | Where-Object IcmpType -EQ 8).Count | Should -BeGreaterOrEqual 3
        @($frames | Where-Object { $_.Src -eq '192.0.2.2' -and $_.IcmpType -eq 0 }).Count | Should -BeGreaterOrEqual 3
    }
}

Describe 'The same pseudowire in ip-l2tp spelling' {
    BeforeAll {
        Remove-LabL2tpConfig -Namespace $A, $B
        New-L2tpTunnel -netns $A -tunnel_id 3000 -peer_tunnel_id 4000 -encap udp -local 192.0.2.1 -remote 192.0.2.2 -udp_sport 5000 -udp_dport 6000 -ErrorAction Stop | Out-Null
        New-L2tpSession -netns $A -tunnel_id 3000 -session_id 1000 -peer_session_id 2000 -ErrorAction Stop | Out-Null
        New-L2tpTunnel -netns $B -tunnel_id 4000 -peer_tunnel_id 3000 -encap udp -local 192.0.2.2 -remote 192.0.2.1 -udp_sport 6000 -udp_dport 5000 -ErrorAction Stop | Out-Null
        New-L2tpSession -netns $B -tunnel_id 4000 -session_id 2000 -peer_session_id 1000 -ErrorAction Stop | Out-Null
        Set-PseudowireAddress
    }
    AfterAll { Remove-LabL2tpConfig -Namespace $A, $B }

    It 'made the same tunnels and sessions' {
        $t = Get-L2tpTunnel -netns $A -ErrorAction Stop
        "$($t.TunnelId)/$($t.PeerTunnelId)/$($t.Encapsulation)/$($t.SourcePort)/$($t.DestinationPort)" | Should -Be '3000/4000/Udp/5000/6000'
        $s = Get-L2tpSession -netns $B -ErrorAction Stop
        "$($s.TunnelId)/$($s.SessionId)/$($s.PeerSessionId)/$($s.InterfaceName)" | Should -Be '4000/2000/1000/l2tpeth0'
    }

    It 'pings both ways' {
        Test-Pseudowire -From $A -To 198.51.100.2 | Should -BeTrue
        Test-Pseudowire -From $B -To 198.51.100.1 | Should -BeTrue
    }
}
