#Requires -Version 7.2
# Pester 5 tests of New-/Get-/Remove-L2tpSession against real network namespaces (needs root).
# Underlay: 192.0.2.1/24 (namespace $A, veth0, MTU 1500) <-> 192.0.2.2/24 (namespace $B, veth0).
# Tunnel 3000 (peer 4000, UDP 5000 -> 6000) in $A carries the sessions.

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot '../lab/Lab.psm1') -Force
    $ModulePath = [System.IO.Path]::GetFullPath((Join-Path $PSScriptRoot '../../out/L2tp/L2tp.psd1'))
    Import-Module $ModulePath -Force

    $A = New-LabNamespace -Prefix 'l2tpS-a'
    $B = New-LabNamespace -Prefix 'l2tpS-b'
    New-LabVethPair -Namespace $A -Peer $B -Address 192.0.2.1/24 -PeerAddress 192.0.2.2/24 | Out-Null

    function New-FixtureTunnel([uint32]$TunnelId = 3000, [uint16]$SourcePort = 5000) {
        New-L2tpTunnel -NetworkNamespace $A -TunnelId $TunnelId -PeerTunnelId 4000 -Local 192.0.2.1 -Remote 192.0.2.2 `
            -SourcePort $SourcePort -DestinationPort 6000 -ErrorAction Stop
    }

    # MTU of an interface in a namespace, from /sys.
    function Get-Mtu([string]$Namespace, [string]$Name) {
        [int](Invoke-LabNs $Namespace "cat /sys/class/net/$Name/mtu")
    }
}

AfterAll {
    if (Get-Command Remove-LabL2tpConfig -ErrorAction Ignore) { Remove-LabL2tpConfig -Namespace $A, $B }
    if (Get-Command Remove-LabNamespace -ErrorAction Ignore) { Remove-LabNamespace -Name $A, $B }
}

Describe 'New-L2tpSession' {
    BeforeEach {
        Remove-LabL2tpConfig -Namespace $A
        New-FixtureTunnel | Out-Null
    }
    AfterAll { Remove-LabL2tpConfig -Namespace $A }

    It 'creates a session and returns an L2tp.L2tpSession with every field set' {
        $s = New-L2tpSession -NetworkNamespace $A -TunnelId 3000 -SessionId 1000 -PeerSessionId 2000 -ErrorAction Stop
        @($s).Count | Should -Be 1
        $s | Should -BeOfType ([L2tp.L2tpSession])
        $s.TunnelId | Should -Be 3000
        $s.PeerTunnelId | Should -Be 4000
        $s.SessionId | Should -Be 1000
        $s.PeerSessionId | Should -Be 2000
        $s.InterfaceName | Should -Be 'l2tpeth0'
        $s.Cookie | Should -Be ''
        $s.PeerCookie | Should -Be ''
        $s.L2SpecType | Should -Be ([L2tp.L2SpecType]::Default)
        $s.Sequencing | Should -Be ([L2tp.SequencingMode]::None)
        $s.Statistics | Should -BeOfType ([L2tp.L2tpStatistics])
        $s.Backend | Should -Be ([L2tp.BackendKind]::Managed)
        $s.NetworkNamespace | Should -Be $A
    }

    It 'makes the TAP interface l2tpeth0 in the namespace (only there) with MTU 1446' {
        New-L2tpSession -netns $A -TunnelId 3000 -SessionId 1000 -PeerSessionId 2000 -ErrorAction Stop | Out-Null
        Get-LabLinkName -Namespace $A | Should -Contain 'l2tpeth0'
        Get-LabLinkName -Namespace $B | Should -Not -Contain 'l2tpeth0'
        Get-LabLinkName -Namespace '' | Should -Not -Contain 'l2tpeth0'
        Invoke-LabNs $A 'cat /sys/class/net/l2tpeth0/tun_flags' | Should -Not -BeNullOrEmpty -Because 'the session interface is a TAP device'
        Get-Mtu $A 'l2tpeth0' | Should -Be 1446
    }

    It 'makes an interface with MTU 1450 with -L2SpecType None' {
        $s = New-L2tpSession -netns $A -TunnelId 3000 -SessionId 1000 -PeerSessionId 2000 -L2SpecType None -ErrorAction Stop
        $s.L2SpecType | Should -Be ([L2tp.L2SpecType]::None)
        Get-Mtu $A $s.InterfaceName | Should -Be 1450
    }

    It 'numbers interfaces l2tpeth0, l2tpeth1, ... and honours -Name' {
        $s0 = New-L2tpSession -netns $A -TunnelId 3000 -SessionId 1000 -PeerSessionId 2000 -ErrorAction Stop
        $s1 = New-L2tpSession -netns $A -TunnelId 3000 -SessionId 1001 -PeerSessionId 2001 -ErrorAction Stop
        $s2 = New-L2tpSession -netns $A -TunnelId 3000 -SessionId 1002 -PeerSessionId 2002 -Name 'pw-test0' -ErrorAction Stop
        $s0.InterfaceName | Should -Be 'l2tpeth0'
        $s1.InterfaceName | Should -Be 'l2tpeth1'
        $s2.InterfaceName | Should -Be 'pw-test0'
        $links = Get-LabLinkName -Namespace $A
        $links | Should -Contain 'l2tpeth1'
        $links | Should -Contain 'pw-test0'
    }

    It 'keeps cookies as hex and sizes the MTU for them' {
        $s = New-L2tpSession -netns $A -TunnelId 3000 -SessionId 1000 -PeerSessionId 2000 -Cookie 0102030405060708 -PeerCookie 0A0B0C0D -ErrorAction Stop
        $s.Cookie | Should -BeExactly '0102030405060708'
        $s.PeerCookie | Should -BeExactly '0a0b0c0d'
        $g = Get-L2tpSession -netns $A -TunnelId 3000 -SessionId 1000 -ErrorAction Stop
        $g.Cookie | Should -BeExactly '0102030405060708'
        $g.PeerCookie | Should -BeExactly '0a0b0c0d'
        # 1500 - IPv4 20 - UDP 8 - L2TPv3 data header 8 - cookie 8 - sublayer 4 - Ethernet 14
        Get-Mtu $A $s.InterfaceName | Should -Be 1438
    }

    It 'takes the ip-l2tp words: -tunnel_id -session_id -peer_session_id -name -cookie -peer_cookie -l2spec_type -seq' {
        $s = New-L2tpSession -netns $A -tunnel_id 3000 -session_id 1005 -peer_session_id 2005 -name pw-alias0 `
            -cookie 11223344 -peer_cookie 55667788 -l2spec_type default -seq both -ErrorAction Stop
        $s.TunnelId | Should -Be 3000
        $s.SessionId | Should -Be 1005
        $s.PeerSessionId | Should -Be 2005
        $s.InterfaceName | Should -Be 'pw-alias0'
        $s.Cookie | Should -Be '11223344'
        $s.PeerCookie | Should -Be '55667788'
        $s.L2SpecType | Should -Be ([L2tp.L2SpecType]::Default)
        $s.Sequencing | Should -Be ([L2tp.SequencingMode]::Both)
        $n = New-L2tpSession -netns $A -tunnel_id 3000 -session_id 1006 -peer_session_id 2006 -l2spec_type none -ErrorAction Stop
        $n.L2SpecType | Should -Be ([L2tp.L2SpecType]::None)
        $n.Sequencing | Should -Be ([L2tp.SequencingMode]::None)
    }

    It 'binds TunnelId and NetworkNamespace from New-L2tpTunnel on the pipeline' {
        $s = New-FixtureTunnel -TunnelId 3001 -SourcePort 5001 | New-L2tpSession -SessionId 1000 -PeerSessionId 2000 -ErrorAction Stop
        $s.TunnelId | Should -Be 3001
        $s.NetworkNamespace | Should -Be $A
        (Get-L2tpSession -netns $A -TunnelId 3001 -ErrorAction Stop).SessionId | Should -Be 1000
    }
}

Describe 'Get-L2tpSession and Remove-L2tpSession' {
    BeforeEach {
        Remove-LabL2tpConfig -Namespace $A
        New-FixtureTunnel -TunnelId 3000 -SourcePort 5000 | Out-Null
        New-FixtureTunnel -TunnelId 3001 -SourcePort 5001 | Out-Null
        New-L2tpSession -netns $A -TunnelId 3000 -SessionId 1000 -PeerSessionId 2000 -ErrorAction Stop | Out-Null
        New-L2tpSession -netns $A -TunnelId 3000 -SessionId 1001 -PeerSessionId 2001 -ErrorAction Stop | Out-Null
        New-L2tpSession -netns $A -TunnelId 3001 -SessionId 1100 -PeerSessionId 2100 -ErrorAction Stop | Out-Null
    }
    AfterAll { Remove-LabL2tpConfig -Namespace $A }

    It 'lists every session, or those of one tunnel, or one session' {
        (Get-L2tpSession -netns $A -ErrorAction Stop | ForEach-Object { "$($_.TunnelId)/$($_.SessionId)" } | Sort-Object) |
            Should -Be @('3000/1000', '3000/1001', '3001/1100')
        (Get-L2tpSession -netns $A -TunnelId 3000 -ErrorAction Stop).SessionId | Sort-Object | Should -Be @(1000, 1001)
        $one = Get-L2tpSession -netns $A -TunnelId 3000 -SessionId 1001 -ErrorAction Stop
        @($one).Count | Should -Be 1
        $one | Should -BeOfType ([L2tp.L2tpSession])
        $one.PeerSessionId | Should -Be 2001
        $one.PeerTunnelId | Should -Be 4000
        $one.NetworkNamespace | Should -Be $A
        @(Get-L2tpSession -netns $B -ErrorAction Stop).Count | Should -Be 0
    }

    It 'Get-L2tpTunnel -TunnelId 3000 -netns A | Get-L2tpSession returns that tunnel''s sessions' {
        (Get-L2tpTunnel -TunnelId 3000 -netns $A -ErrorAction Stop | Get-L2tpSession -ErrorAction Stop).SessionId |
            Sort-Object | Should -Be @(1000, 1001)
    }

    It 'Remove-L2tpSession removes the session and its interface, and keeps the tunnel' {
        $s = Get-L2tpSession -netns $A -TunnelId 3000 -SessionId 1000 -ErrorAction Stop
        Remove-L2tpSession -netns $A -TunnelId 3000 -SessionId 1000 -ErrorAction Stop
        (Get-L2tpSession -netns $A -TunnelId 3000 -ErrorAction Stop).SessionId | Should -Be @(1001)
        Get-LabLinkName -Namespace $A | Should -Not -Contain $s.InterfaceName
        (Get-L2tpTunnel -netns $A -ErrorAction Stop).TunnelId | Sort-Object | Should -Be @(3000, 3001)
        (Get-LabUdpSocket -Namespace $A).Local | Should -Contain '192.0.2.1:5000'
    }

    It 'Get-L2tpSession -netns A | Remove-L2tpSession removes every session and interface' {
        Get-L2tpSession -netns $A -ErrorAction Stop | Remove-L2tpSession -ErrorAction Stop
        @(Get-L2tpSession -netns $A -ErrorAction Stop).Count | Should -Be 0
        Get-LabLinkName -Namespace $A | Should -Not -Match '^l2tpeth'
        @(Get-L2tpTunnel -netns $A -ErrorAction Stop).Count | Should -Be 2
    }

    It 'Remove-L2tpSession of a session that does not exist gives L2tp.SessionNotFound' {
        $before = Get-LabL2tpState -Namespace $A
        Remove-L2tpSession -netns $A -TunnelId 3000 -SessionId 1999 -ErrorVariable err -ErrorAction SilentlyContinue
        Assert-LabL2tpError $err -Id 'L2tp.SessionNotFound' -Category ObjectNotFound -Target 1999
        Assert-LabL2tpState -Namespace $A -Expected $before -Because 'removing a missing session must change nothing'
    }
}

Describe 'New-L2tpSession refuses bad input and leaves nothing behind' {
    BeforeAll {
        Remove-LabL2tpConfig -Namespace $A
        New-FixtureTunnel | Out-Null
        New-L2tpSession -netns $A -TunnelId 3000 -SessionId 1000 -PeerSessionId 2000 -ErrorAction Stop | Out-Null
    }
    AfterAll { Remove-LabL2tpConfig -Namespace $A }

    BeforeEach { $before = Get-LabL2tpState -Namespace $A }
    AfterEach { Assert-LabL2tpState -Namespace $A -Expected $before }

    It 'SessionId 0 gives L2tp.InvalidSessionId' {
        $out = New-L2tpSession -netns $A -TunnelId 3000 -SessionId 0 -PeerSessionId 2001 -ErrorVariable err -ErrorAction SilentlyContinue
        $out | Should -BeNullOrEmpty
        Assert-LabL2tpError $err -Id 'L2tp.InvalidSessionId' -Category InvalidArgument -Target 0
    }

    It 'PeerSessionId 0 gives L2tp.InvalidSessionId' {
        $out = New-L2tpSession -netns $A -TunnelId 3000 -SessionId 1001 -PeerSessionId 0 -ErrorVariable err -ErrorAction SilentlyContinue
        $out | Should -BeNullOrEmpty
        Assert-LabL2tpError $err -Id 'L2tp.InvalidSessionId' -Category InvalidArgument -Target 0
    }

    It 'TunnelId 0 gives L2tp.InvalidTunnelId' {
        $out = New-L2tpSession -netns $A -TunnelId 0 -SessionId 1001 -PeerSessionId 2001 -ErrorVariable err -ErrorAction SilentlyContinue
        $out | Should -BeNullOrEmpty
        Assert-LabL2tpError $err -Id 'L2tp.InvalidTunnelId' -Category InvalidArgument -Target 0
    }

    It 'a session in a tunnel that does not exist gives L2tp.TunnelNotFound' {
        $out = New-L2tpSession -netns $A -TunnelId 3999 -SessionId 1001 -PeerSessionId 2001 -ErrorVariable err -ErrorAction SilentlyContinue
        $out | Should -BeNullOrEmpty
        Assert-LabL2tpError $err -Id 'L2tp.TunnelNotFound' -Category ObjectNotFound -Target 3999
    }

    It 'a session id already in the tunnel gives L2tp.SessionExists' {
        $out = New-L2tpSession -netns $A -TunnelId 3000 -SessionId 1000 -PeerSessionId 2001 -ErrorVariable err -ErrorAction SilentlyContinue
        $out | Should -BeNullOrEmpty
        Assert-LabL2tpError $err -Id 'L2tp.SessionExists' -Category ResourceExists -Target 1000
    }

    It 'a session id already in the tunnel throws L2tp.SessionExists with -ErrorAction Stop' {
        { New-L2tpSession -netns $A -TunnelId 3000 -SessionId 1000 -PeerSessionId 2001 -ErrorAction Stop } |
            Should -Throw -ErrorId 'L2tp.SessionExists,*'
    }

    It '-Cookie <Text> gives L2tp.InvalidCookie' -ForEach @(
        @{ Text = 'xyz' }
        @{ Text = '0102' }
        @{ Text = '010203040506' }
        @{ Text = '01020304zz' }
    ) {
        $out = New-L2tpSession -netns $A -TunnelId 3000 -SessionId 1001 -PeerSessionId 2001 -Cookie $Text -ErrorVariable err -ErrorAction SilentlyContinue
        $out | Should -BeNullOrEmpty
        Assert-LabL2tpError $err -Id 'L2tp.InvalidCookie' -Category InvalidArgument -Target $Text
    }

    It '-PeerCookie <Text> gives L2tp.InvalidCookie' -ForEach @(
        @{ Text = 'xyz' }
        @{ Text = '0102' }
    ) {
        $out = New-L2tpSession -netns $A -TunnelId 3000 -SessionId 1001 -PeerSessionId 2001 -PeerCookie $Text -ErrorVariable err -ErrorAction SilentlyContinue
        $out | Should -BeNullOrEmpty
        Assert-LabL2tpError $err -Id 'L2tp.InvalidCookie' -Category InvalidArgument -Target $Text
    }
}
