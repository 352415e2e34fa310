#Requires -Version 7.2
# Pester 5: our pseudowire against an independent L2TPv3 implementation, QEMU's l2tpv3 netdev (needs root).
#   namespace $A (ours):  veth0 192.0.2.1/24, tunnel 3000 -> 4000 udp 5000 -> 6000, session 1000 -> 2000 on l2tpeth0 198.51.100.1/24
#   namespace $Q (QEMU):  veth0 192.0.2.2/24, qemu l2tpv3 src 192.0.2.2:6000 dst 192.0.2.1:5000, hubbed to qtap0 198.51.100.2/24
# QEMU's txsession (the id it writes) is our SessionId; its rxsession (the id it accepts) our PeerSessionId.
# QEMU's counter=off means no L2-specific sublayer (our -L2SpecType None); counter=on is the 4-byte default sublayer.
# QEMU's txcookie is our -PeerCookie, its rxcookie our -Cookie.

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot '../lab/Lab.psm1') -Force
    $ModulePath = [System.IO.Path]::GetFullPath((Join-Path $PSScriptRoot '../../out/L2tp/L2tp.psd1'))
    Import-Module $ModulePath -Force

    $A = New-LabNamespace -Prefix 'qemu-ours'
    $Q = New-LabNamespace -Prefix 'qemu-peer'
    New-LabVethPair -Namespace $A -Peer $Q -Address 192.0.2.1/24 -PeerAddress 192.0.2.2/24 | Out-Null

    # Our end: tunnel + session in $A with l2tpeth0 up as 198.51.100.1/24.
    function New-OurEnd {
        param([string]$L2SpecType, [string]$Cookie, [string]$PeerCookie)
        Remove-LabL2tpConfig -Namespace $A
        $p = @{ TunnelId = 3000; SessionId = 1000; PeerSessionId = 2000; L2SpecType = $L2SpecType }
        if ($Cookie) { $p.Cookie = $Cookie }
        if ($PeerCookie) { $p.PeerCookie = $PeerCookie }
        New-L2tpTunnel -netns $A -TunnelId 3000 -PeerTunnelId 4000 -Local 192.0.2.1 -Remote 192.0.2.2 -SourcePort 5000 -DestinationPort 6000 -ErrorAction Stop | Out-Null
        $s = New-L2tpSession -netns $A @p -ErrorAction Stop
        Invoke-LabNs $A "ip link set '$($s.InterfaceName)' up && ip addr add 198.51.100.1/24 dev '$($s.InterfaceName)'" | Out-Null
        $s
    }

    # QEMU's end in $Q; extra parameters (-Counter, -TxCookie ...) go to Start-LabQemuL2tpv3.
    function Start-QemuEnd {
        param([hashtable]$Extra = @{})
        Start-LabQemuL2tpv3 -Namespace $Q -TapName qtap0 -Src 192.0.2.2 -Dst 192.0.2.1 -SrcPort 6000 -DstPort 5000 `
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

Describe 'QEMU l2tpv3 with counter=off and our -L2SpecType None' {
    BeforeAll {
        $session = New-OurEnd -L2SpecType None
        $qemu = Start-QemuEnd
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

Describe 'QEMU l2tpv3 with counter=on and our default sublayer' {
    BeforeAll {
        $session = New-OurEnd -L2SpecType Default
        $qemu = Start-QemuEnd -Extra @{ Counter = $true }
    }
    AfterAll {
        Stop-LabQemuL2tpv3 -Process $qemu
        Remove-LabL2tpConfig -Namespace $A
    }

    It 'QEMU accepts the frames we send' { Assert-QemuAcceptsOurFrames }

    It 'we accept the frames QEMU sends' { Assert-WeAcceptQemuFrames }

    It 'pings QEMU''s side from ours' {
        Test-LabPing -Namespace $A -Address 198.51.100.2 -Count 3 -Attempts 3 | Should -BeTrue -Because "QEMU ran: $($qemu.QemuCommand)"
    }

    It 'pings our side from QEMU''s' {
        Test-LabPing -Namespace $Q -Address 198.51.100.1 -Count 3 -Attempts 3 | Should -BeTrue
    }
}

Describe 'QEMU l2tpv3 with 4-byte cookies, counter=off' {
    BeforeAll {
        # We send cookie 0a0b0c0d (QEMU's rxcookie) and require 01020304 (QEMU's txcookie).
        $session = New-OurEnd -L2SpecType None -Cookie 0a0b0c0d -PeerCookie 01020304
        $qemu = Start-QemuEnd -Extra @{ TxCookie = '01020304'; RxCookie = '0a0b0c0d' }
    }
    AfterAll {
        Stop-LabQemuL2tpv3 -Process $qemu
        Remove-LabL2tpConfig -Namespace $A
    }

    It 'QEMU accepts the frames we send (with our cookie)' { Assert-QemuAcceptsOurFrames }

    It 'we accept the frames QEMU sends (with its cookie)' { Assert-WeAcceptQemuFrames }

    It 'pings both ways' {
        Test-LabPing -Namespace $A -Address 198.51.100.2 -Count 3 -Attempts 3 | Should -BeTrue -Because "QEMU ran: $($qemu.QemuCommand)"
        Test-LabPing -Namespace $Q -Address 198.51.100.1 -Count 3 -Attempts 3 | Should -BeTrue
    }
}

Describe 'QEMU l2tpv3 with 8-byte cookies, counter=on' {
    BeforeAll {
        $session = New-OurEnd -L2SpecType Default -Cookie 1112131415161718 -PeerCookie 0102030405060708
        $qemu = Start-QemuEnd -Extra @{ TxCookie = '0102030405060708'; RxCookie = '1112131415161718'; Cookie64 = $true; Counter = $true }
    }
    AfterAll {
        Stop-LabQemuL2tpv3 -Process $qemu
        Remove-LabL2tpConfig -Namespace $A
    }

    It 'QEMU accepts the frames we send (with our cookie)' { Assert-QemuAcceptsOurFrames }

    It 'we accept the frames QEMU sends (with its cookie)' { Assert-WeAcceptQemuFrames }

    It 'pings both ways' {
        Test-LabPing -Namespace $A -Address 198.51.100.2 -Count 3 -Attempts 3 | Should -BeTrue -Because "QEMU ran: $($qemu.QemuCommand)"
        Test-LabPing -Namespace $Q -Address 198.51.100.1 -Count 3 -Attempts 3 | Should -BeTrue
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
