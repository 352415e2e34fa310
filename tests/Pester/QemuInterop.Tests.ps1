#Requires -Version 7.2
# Pester 5: our pseudowire against an independent L2TPv3 implementation, QEMU's l2tpv3 netdev (needs root).
#   namespace $A (ours):  veth0 192.0.2.1/24, tunnel 3000 -> 4000 udp 5000 -> 6000, session 1000 -> 2000 on l2tpeth0 198.51.100.1/24
#   namespace $Q (QEMU):  veth0 192.0.2.2/24, qemu l2tpv3 src 192.0.2.2:6000 dst 192.0.2.1:5000, hubbed to qtap0 198.51.100.2/24
# QEMU's txsession (the id it writes) is our SessionId; its rxsession (the id it accepts) our PeerSessionId.
# QEMU's counter=off means no L2-specific sublayer (our -L2SpecType None); counter=on is the 4-byte default sublayer.
# QEMU's txcookie is our -PeerCookie, its rxcookie our -Cookie.
# The matrix below also runs over IPv6 (2001:db8::1 ours, 2001:db8::2 QEMU's, both nodad) and over IP protocol 115
# (QEMU's udp=off raw socket). IPv6 is off on the pseudowire interfaces (l2tpeth0, qtap0), so only the tests' own
# frames travel on them.

BeforeDiscovery {
    # encap udp/ip x IPv4/IPv6 x cookie none/32/64-bit x l2spec None/Default: 24 variants, each its own Describe.
    $Matrix = foreach ($encap in 'Udp', 'Ip') {
        foreach ($family in 'IPv4', 'IPv6') {
            foreach ($cookie in 'none', '32-bit', '64-bit') {
                foreach ($l2 in 'None', 'Default') {
                    @{ Encap = $encap; Family = $family; CookieName = $cookie; L2Spec = $l2 }
                }
            }
        }
    }
}

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot '../lab/Lab.psm1') -Force
    $ModulePath = [System.IO.Path]::GetFullPath((Join-Path $PSScriptRoot '../../out/L2tp/L2tp.psd1'))
    Import-Module $ModulePath -Force

    $A = New-LabNamespace -Prefix 'qemu-ours'
    $Q = New-LabNamespace -Prefix 'qemu-peer'
    New-LabVethPair -Namespace $A -Peer $Q -Address 192.0.2.1/24 -PeerAddress 192.0.2.2/24 | Out-Null
    Invoke-LabNs $A 'ip addr add 2001:db8::1/64 dev veth0 nodad' | Out-Null
    Invoke-LabNs $Q 'ip addr add 2001:db8::2/64 dev veth0 nodad' | Out-Null
    # Interfaces made from now on (l2tpeth0, qtap0) get no IPv6: no ND/MLD frames mixed with the tests' own.
    foreach ($ns in $A, $Q) { Invoke-LabNs $ns 'sysctl -qw net.ipv6.conf.default.disable_ipv6=1' | Out-Null }

    # Our end: tunnel + session in $A with l2tpeth0 up as 198.51.100.1/24.
    function New-OurEnd {
        param([string]$L2SpecType, [string]$Cookie, [string]$PeerCookie, [ValidateSet('Udp', 'Ip')][string]$Encapsulation = 'Udp',
            [ValidateSet('IPv4', 'IPv6')][string]$Family = 'IPv4', [string]$Sequencing)
        Remove-LabL2tpConfig -Namespace $A
        $p = @{ TunnelId = 3000; SessionId = 1000; PeerSessionId = 2000; L2SpecType = $L2SpecType }
        if ($Cookie) { $p.Cookie = $Cookie }
        if ($PeerCookie) { $p.PeerCookie = $PeerCookie }
        if ($Sequencing) { $p.Sequencing = $Sequencing }
        $t = @{ Encapsulation = $Encapsulation }
        if ($Encapsulation -eq 'Udp') { $t.SourcePort = 5000; $t.DestinationPort = 6000 }
        $local, $remote = if ($Family -eq 'IPv4') { '192.0.2.1', '192.0.2.2' } else { '2001:db8::1', '2001:db8::2' }
        New-L2tpTunnel -netns $A -TunnelId 3000 -PeerTunnelId 4000 -Local $local -Remote $remote @t -ErrorAction Stop | Out-Null
        $s = New-L2tpSession -netns $A @p -ErrorAction Stop
        Invoke-LabNs $A "ip link set '$($s.InterfaceName)' up && ip addr add 198.51.100.1/24 dev '$($s.InterfaceName)'" | Out-Null
        $s
    }

    # QEMU's end in $Q; extra parameters (-Counter, -TxCookie ...) go to Start-LabQemuL2tpv3.
    function Start-QemuEnd {
        param([hashtable]$Extra = @{}, [ValidateSet('Udp', 'Ip')][string]$Encapsulation = 'Udp', [ValidateSet('IPv4', 'IPv6')][string]$Family = 'IPv4')
        $src, $dst = if ($Family -eq 'IPv4') { '192.0.2.2', '192.0.2.1' } else { '2001:db8::2', '2001:db8::1' }
        $ports = if ($Encapsulation -eq 'Udp') { @{ SrcPort = 6000; DstPort = 5000 } } else { @{} }
        Start-LabQemuL2tpv3 -Namespace $Q -TapName qtap0 -Src $src -Dst $dst -Encapsulation $Encapsulation @ports `
            -TxSession 1000 -RxSession 2000 -TapAddress 198.51.100.2/24 @Extra
    }

    function Get-Session { Get-L2tpSession -netns $A -TunnelId 3000 -SessionId 1000 -ErrorAction Stop }

    # A qtap0 counter: rx_* are frames QEMU wrote (accepted from us), tx_* frames QEMU read (to send to us).
    function Get-TapCounter([string]$Name) { [long](Invoke-LabNs $Q "cat /sys/class/net/qtap0/statistics/$Name") }

    # One direction at a time, so a failure says which end drops the frames.
    function Assert-QemuAcceptsOurFrames {
        $rx0 = Get-TapCounter rx_packets
        $tx0 = (Get-Session).Statistics.TxPackets
        $ok = Test-LabPing -Namespace $A -Address 198.51.100.2 -Count 2
        ((Get-Session).Statistics.TxPackets - $tx0) | Should -BeGreaterOrEqual 1 -Because "our session must send (ping ok: $ok)"
        ((Get-TapCounter rx_packets) - $rx0) | Should -BeGreaterOrEqual 1 -Because "QEMU writes to qtap0 each frame of ours it accepts (ping ok: $ok)"
    }
    function Assert-WeAcceptQemuFrames {
        $s0 = (Get-Session).Statistics
        $tx0 = Get-TapCounter tx_packets
        $ok = Test-LabPing -Namespace $Q -Address 198.51.100.1 -Count 2
        ((Get-TapCounter tx_packets) - $tx0) | Should -BeGreaterOrEqual 1 -Because 'QEMU must have frames to send'
        $s1 = (Get-Session).Statistics
        $t = (Get-L2tpTunnel -netns $A -TunnelId 3000 -ErrorAction Stop).Statistics
        ($s1.RxPackets - $s0.RxPackets) | Should -BeGreaterOrEqual 1 -Because (
            "our session must deliver QEMU's frames (ping ok: $ok; session RxErrors $($s1.RxErrors), RxCookieDiscards $($s1.RxCookieDiscards); tunnel RxInvalid $($t.RxInvalid))")
    }
}

AfterAll {
    if (Get-Command Remove-LabL2tpConfig -ErrorAction Ignore) { Remove-LabL2tpConfig -Namespace $A }
    if (Get-Command Remove-LabNamespace -ErrorAction Ignore) { Remove-LabNamespace -Name $A, $Q }
}

# QEMU's txcookie is our -PeerCookie and its rxcookie our -Cookie, so each variant's cookies mirror QEMU's.
Describe 'QEMU l2tpv3 <Title>' -ForEach @(
    @{ Title = 'with counter=off and our -L2SpecType None'; L2SpecType = 'None'; Cookies = @{}; Extra = @{} }
    @{ Title = 'with counter=on and our default sublayer'; L2SpecType = 'Default'; Cookies = @{}; Extra = @{ Counter = $true } }
    @{ Title = 'with 4-byte cookies, counter=off'; L2SpecType = 'None'; Cookies = @{ Cookie = '0a0b0c0d'; PeerCookie = '01020304' }
        Extra = @{ TxCookie = '01020304'; RxCookie = '0a0b0c0d' }
    }
    @{ Title = 'with 8-byte cookies, counter=on'; L2SpecType = 'Default'; Cookies = @{ Cookie = '1112131415161718'; PeerCookie = '0102030405060708' }
        Extra = @{ TxCookie = '0102030405060708'; RxCookie = '1112131415161718'; Cookie64 = $true; Counter = $true }
    }
) {
    BeforeAll {
        $session = New-OurEnd -L2SpecType $L2SpecType @Cookies
        $qemu = Start-QemuEnd -Extra $Extra
    }
    AfterAll {
        Stop-LabQemuL2tpv3 -Process $qemu
        Remove-LabL2tpConfig -Namespace $A
    }

    It 'QEMU accepts the frames we send' { Assert-QemuAcceptsOurFrames }

    It 'we accept the frames QEMU sends' { Assert-WeAcceptQemuFrames }

    It 'pings QEMU''s side (198.51.100.2) from ours' {
        Test-LabPing -Namespace $A -Address 198.51.100.2 -Count 3 -Attempts 3 | Should -BeTrue -Because "QEMU ran: $($qemu.QemuCommand)"
    }

    It 'pings our side (198.51.100.1) from QEMU''s' {
        Test-LabPing -Namespace $Q -Address 198.51.100.1 -Count 3 -Attempts 3 | Should -BeTrue
    }

    It 'counts the frames both ways in the session statistics' {
        $s0 = (Get-Session).Statistics
        $ok = Test-LabPing -Namespace $Q -Address 198.51.100.1 -Count 3
        $s1 = (Get-Session).Statistics
        ($s1.RxPackets - $s0.RxPackets) | Should -BeGreaterOrEqual 3 -Because "3 echo requests came from QEMU (ping ok: $ok)"
        ($s1.TxPackets - $s0.TxPackets) | Should -BeGreaterOrEqual 3 -Because "3 echo replies went back (ping ok: $ok)"
    }
}

Describe 'QEMU l2tpv3 sending the wrong cookie' {
    BeforeAll {
        $session = New-OurEnd -L2SpecType None -Cookie 0a0b0c0d -PeerCookie 01020304
        # QEMU accepts our cookie but sends 01020305, which we must refuse.
        $qemu = Start-QemuEnd -Extra @{ TxCookie = '01020305'; RxCookie = '0a0b0c0d' }
    }
    AfterAll {
        Stop-LabQemuL2tpv3 -Process $qemu
        Remove-LabL2tpConfig -Namespace $A
    }

    It 'drops its frames and counts them in RxCookieDiscards' {
        $s0 = (Get-Session).Statistics
        Test-LabPing -Namespace $Q -Address 198.51.100.1 -Count 2 | Should -BeFalse
        $s1 = (Get-Session).Statistics
        ($s1.RxCookieDiscards - $s0.RxCookieDiscards) | Should -BeGreaterOrEqual 1
        ($s1.RxPackets - $s0.RxPackets) | Should -Be 0
    }
}

Describe 'QEMU l2tpv3 matrix: encap <Encap>, <Family>, cookie <CookieName>, l2spec <L2Spec>' -ForEach $Matrix {
    BeforeAll {
        # Our -Cookie is QEMU's rxcookie and our -PeerCookie its txcookie; the two differ, so a swap fails.
        $ours = @{ Encapsulation = $Encap; Family = $Family; L2SpecType = $L2Spec }
        $extra = @{ Counter = ($L2Spec -eq 'Default') }
        switch ($CookieName) {
            '32-bit' {
                $ours.Cookie = 'c0c1c2c3'; $ours.PeerCookie = 'd0d1d2d3'
                $extra.RxCookie = 'c0c1c2c3'; $extra.TxCookie = 'd0d1d2d3'
            }
            '64-bit' {
                $ours.Cookie = 'c0c1c2c3c4c5c6c7'; $ours.PeerCookie = 'd0d1d2d3d4d5d6d7'
                $extra.RxCookie = 'c0c1c2c3c4c5c6c7'; $extra.TxCookie = 'd0d1d2d3d4d5d6d7'; $extra.Cookie64 = $true
            }
        }
        $qemu = $null
        $session = New-OurEnd @ours
        $qemu = Start-QemuEnd -Extra $extra -Encapsulation $Encap -Family $Family
    }
    AfterAll {
        Stop-LabQemuL2tpv3 -Process $qemu
        Remove-LabL2tpConfig -Namespace $A
    }

    It 'pings QEMU''s side (198.51.100.2) from ours' {
        Test-LabPing -Namespace $A -Address 198.51.100.2 -Count 2 -Attempts 3 | Should -BeTrue -Because "QEMU ran: $($qemu.QemuCommand)"
    }

    It 'pings our side (198.51.100.1) from QEMU''s' {
        Test-LabPing -Namespace $Q -Address 198.51.100.1 -Count 2 -Attempts 3 | Should -BeTrue -Because "QEMU ran: $($qemu.QemuCommand)"
    }

    It 'delivered QEMU''s frames without a drop on our side, on the tunnel asked for' {
        $tunnel = Get-L2tpTunnel -netns $A -TunnelId 3000 -ErrorAction Stop
        "$($tunnel.Encapsulation)" | Should -Be $Encap
        "$($tunnel.Local)" | Should -Be $(if ($Family -eq 'IPv4') { '192.0.2.1' } else { '2001:db8::1' })
        $s = (Get-Session).Statistics
        $t = $tunnel.Statistics
        $s.RxPackets | Should -BeGreaterOrEqual 2
        $s.RxErrors | Should -Be 0
        $s.RxCookieDiscards | Should -Be 0
        $s.RxSeqDiscards | Should -Be 0
        $t.RxInvalid | Should -Be 0
    }
}

# QEMU's counter=on word is a plain counter (1, 2, 3 ...): the S bit (0x40000000) is never set, so to a Linux
# session with seq recv every one of its packets is unsequenced and dropped (rx_seq_discards and rx_errors).
Describe 'QEMU l2tpv3 counter=on against our -Sequencing <Seq>' -ForEach @(
    @{ Seq = 'Recv' }
    @{ Seq = 'Both' }
) {
    BeforeAll {
        $session = New-OurEnd -L2SpecType Default -Sequencing $Seq
        $qemu = Start-QemuEnd -Extra @{ Counter = $true }
    }
    AfterAll {
        Stop-LabQemuL2tpv3 -Process $qemu
        Remove-LabL2tpConfig -Namespace $A
    }

    It 'QEMU still accepts the frames we send (it does not look at the sublayer)' { Assert-QemuAcceptsOurFrames }

    It 'drops every frame QEMU sends, counting each in RxSeqDiscards and RxErrors; RxPackets stays 0' {
        $tx0 = Get-TapCounter tx_packets
        Test-LabPing -Namespace $Q -Address 198.51.100.1 -Count 2 -Attempts 2 | Should -BeFalse
        ((Get-TapCounter tx_packets) - $tx0) | Should -BeGreaterOrEqual 1 -Because 'QEMU must have sent frames to drop'
        $s = (Get-Session).Statistics
        $t = (Get-L2tpTunnel -netns $A -TunnelId 3000 -ErrorAction Stop).Statistics
        $s.RxSeqDiscards | Should -BeGreaterOrEqual 1
        $s.RxErrors | Should -Be $s.RxSeqDiscards -Because 'each seq discard is also an rx error, and nothing else was dropped'
        $s.RxPackets | Should -Be 0
        $t.RxPackets | Should -Be 0
        $t.RxInvalid | Should -Be 0
    }
}

# With seq send and LNS mode off (static tunnels), Linux's send_seq follows the peer: a received packet without a
# sequence number turns it off. QEMU's never carry one, so our first frame is sequenced and, after QEMU's first
# frame, ours carry a zero sublayer word.
Describe 'QEMU l2tpv3 counter=on against our -Sequencing Send' {
    BeforeAll {
        $session = New-OurEnd -L2SpecType Default -Sequencing Send
        $qemu = Start-QemuEnd -Extra @{ Counter = $true }
        $cap = Start-LabCapture -Namespace $A -Interface veth0 -Filter 'udp port 5000 or udp port 6000'
        $pingOk = Test-LabPing -Namespace $A -Address 198.51.100.2 -Count 3 -Attempts 3
        $rows = @(Stop-LabCapture -Capture $cap -Field 'frame.number', 'ip.src', 'udp.payload')
        $frames = @(foreach ($r in $rows) {
                ConvertFrom-LabL2tpv3Payload -Payload $r.'udp.payload' -L2SpecType Default |
                    Add-Member -NotePropertyName Number -NotePropertyValue ([int]$r.'frame.number') -PassThru |
                    Add-Member -NotePropertyName Src -NotePropertyValue $r.'ip.src' -PassThru
            }) | Sort-Object Number
        $ours = @($frames | Where-Object Src -EQ '192.0.2.1')
        $theirs = @($frames | Where-Object Src -EQ '192.0.2.2')
        $capText = ($frames | ForEach-Object { "#$($_.Number) $($_.Src) sub=$($_.Sublayer) icmp=$($_.IcmpType)" }) -join '; '
    }
    AfterAll {
        Stop-LabQemuL2tpv3 -Process $qemu
        Remove-LabL2tpConfig -Namespace $A
    }

    It 'pings QEMU''s side' {
        $pingOk | Should -BeTrue -Because "QEMU ran: $($qemu.QemuCommand)"
    }

    It 'QEMU''s counter word never has the S bit' {
        $theirs.Count | Should -BeGreaterOrEqual 3 -Because "captured: $capText"
        foreach ($f in $theirs) {
            ([Convert]::ToUInt32($f.Sublayer, 16) -band 0x40000000) | Should -Be 0 -Because "frame #$($f.Number) ($capText)"
            [Convert]::ToUInt32($f.Sublayer, 16) | Should -BeGreaterThan 0 -Because 'counter=on counts from 1'
        }
    }

    It 'our first frame, sent before QEMU sent anything, carries a sequence number' {
        $ours.Count | Should -BeGreaterOrEqual 1 -Because "captured: $capText"
        $theirs.Count | Should -BeGreaterOrEqual 1 -Because "captured: $capText"
        $ours[0].Number | Should -BeLessThan $theirs[0].Number -Because "we spoke first (the ARP request): $capText"
        $ours[0].Sublayer | Should -Be '40000000' -Because "seq send starts on, numbering from 0: $capText"
    }

    It 'our frames after QEMU''s first have the sublayer word 0 (send_seq followed the peer off)' {
        $later = @($ours | Where-Object Number -GT $theirs[0].Number)
        $later.Count | Should -BeGreaterOrEqual 3 -Because "the echo requests come after QEMU's ARP reply: $capText"
        foreach ($f in $later) { $f.Sublayer | Should -Be '00000000' -Because "frame #$($f.Number): $capText" }
        @($later | Where-Object IcmpType -EQ 8).Count | Should -BeGreaterOrEqual 3
    }
}
