#Requires -Version 7.2
# Pester 5 tests of New-/Get-/Remove-L2tpSession against real network namespaces (needs root), for one backend:
# Managed (the default; this host) or Kernel (the kernel lab guest runs this file with Backend = Kernel, see
# tests/lab/kernel/guest/GuestSuite.psd1). What differs by backend is data below or a -Skip.
# Underlay: 192.0.2.1/24 (namespace $A, veth0, MTU 1500) <-> 192.0.2.2/24 (namespace $B, veth0).
# Tunnel 3000 (peer 4000, UDP 5000 -> 6000) in $A carries the sessions.
param([ValidateSet('Managed', 'Kernel')][string]$Backend = 'Managed')

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot '../lab/Lab.psm1') -Force
    $ModulePath = if ($env:L2TP_MODULE_PATH) { $env:L2TP_MODULE_PATH } else { [System.IO.Path]::GetFullPath((Join-Path $PSScriptRoot '../../out/L2tp/L2tp.psd1')) }
    Import-Module $ModulePath -Force

    $A, $B = New-LabSitePair -Prefix 'l2tpS-a', 'l2tpS-b'

    function New-FixtureTunnel([uint32]$TunnelId = 3000, [uint16]$SourcePort = 5000) {
        New-L2tpTunnel -Backend $Backend -NetworkNamespace $A -TunnelId $TunnelId -PeerTunnelId 4000 -Local 192.0.2.1 -Remote 192.0.2.2 `
            -SourcePort $SourcePort -DestinationPort 6000 -ErrorAction Stop
    }

    # A session's -L2SpecType as the backend reports it: the kernel's SESSION_GET reply carries no L2SPEC_TYPE, so
    # with Kernel the property is always null (the interface's MTU shows what the kernel got instead).
    function Assert-L2SpecType($Session, [string]$Given) {
        if ($Backend -eq 'Kernel') { $Session.L2SpecType | Should -BeNullOrEmpty -Because "the kernel's SESSION_GET reply carries no L2SPEC_TYPE" }
        else { $Session.L2SpecType | Should -Be ([L2tp.L2SpecType]$Given) }
    }
    function Get-State { Get-LabL2tpState -Namespace $A -Backend $Backend }
    function Clear-Tunnels { Remove-LabL2tpConfig -Namespace $A -Backend $Backend }
}

AfterAll {
    if (Get-Command Remove-LabL2tpConfig -ErrorAction Ignore) { Remove-LabL2tpConfig -Namespace $A, $B -Backend $Backend }
    if (Get-Command Remove-LabNamespace -ErrorAction Ignore) { Remove-LabNamespace -Name $A, $B }
}

Describe 'New-L2tpSession' {
    BeforeEach {
        Clear-Tunnels
        New-FixtureTunnel | Out-Null
    }
    AfterAll { Clear-Tunnels }

    It 'creates a session and returns an L2tp.L2tpSession with every field set' {
        $s = New-L2tpSession -Backend $Backend -NetworkNamespace $A -TunnelId 3000 -SessionId 1000 -PeerSessionId 2000 -ErrorAction Stop
        @($s).Count | Should -Be 1
        $s | Should -BeOfType ([L2tp.L2tpSession])
        $s.TunnelId | Should -Be 3000
        $s.PeerTunnelId | Should -Be 4000
        $s.SessionId | Should -Be 1000
        $s.PeerSessionId | Should -Be 2000
        $s.InterfaceName | Should -Be 'l2tpeth0'
        $s.Cookie | Should -Be ''
        $s.PeerCookie | Should -Be ''
        Assert-L2SpecType $s 'Default'
        $s.Sequencing | Should -Be ([L2tp.SequencingMode]::None)
        $s.Statistics | Should -BeOfType ([L2tp.L2tpStatistics])
        $s.Backend | Should -Be ([L2tp.BackendKind]$Backend)
        $s.NetworkNamespace | Should -Be $A
    }

    It 'returns the session as Get-L2tpSession then shows it, read from the create''s echo where the backend sends one (Managed: no SESSION_GET)' {
        $v = @(New-L2tpSession -Backend $Backend -NetworkNamespace $A -TunnelId 3000 -SessionId 1000 -PeerSessionId 2000 -Cookie 0a0b0c0d -ErrorAction Stop -Verbose 4>&1)
        $s = @($v | Where-Object { $_ -is [L2tp.L2tpSession] })
        $requests = @($v | Where-Object { $_ -is [System.Management.Automation.VerboseRecord] } | ForEach-Object Message | Where-Object { $_ -match 'backend.*: [A-Z_]+' })
        @($requests -match 'SESSION_CREATE').Count | Should -Be 1
        # The forwarder answers NLM_F_ECHO with the new session; the kernel's l2tp family ignores the flag.
        @($requests -match 'SESSION_GET').Count | Should -Be $(if ($Backend -eq 'Managed') { 0 } else { 1 })
        $s.Count | Should -Be 1
        $got = Get-L2tpSession -Backend $Backend -NetworkNamespace $A -TunnelId 3000 -SessionId 1000 -ErrorAction Stop
        foreach ($p in 'TunnelId', 'PeerTunnelId', 'SessionId', 'PeerSessionId', 'InterfaceName', 'Cookie', 'PeerCookie', 'L2SpecType', 'Sequencing', 'Mtu', 'SuggestedMtu', 'Backend', 'NetworkNamespace') {
            "$($s[0].$p)" | Should -Be "$($got.$p)" -Because "$p of the created session is what the backend holds"
        }
        $s[0].Mtu | Should -BeGreaterThan 0
    }

    It 'makes the interface l2tpeth0 in the namespace (only there), a <Kind>, with MTU 1446' -ForEach @(
        @{ Kind = @{ Managed = 'TAP device'; Kernel = 'kernel l2tp_eth device (not a TAP)' }[$Backend] }
    ) {
        New-L2tpSession -Backend $Backend -netns $A -TunnelId 3000 -SessionId 1000 -PeerSessionId 2000 -ErrorAction Stop | Out-Null
        Get-LabLinkName -Namespace $A | Should -Contain 'l2tpeth0'
        Get-LabLinkName -Namespace $B | Should -Not -Contain 'l2tpeth0'
        Get-LabLinkName -Namespace '' | Should -Not -Contain 'l2tpeth0'
        $tunFlags = Invoke-LabNs $A 'cat /sys/class/net/l2tpeth0/tun_flags 2>/dev/null || true'
        if ($Backend -eq 'Managed') { $tunFlags | Should -Not -BeNullOrEmpty -Because 'the session interface is a TAP device' }
        else { $tunFlags | Should -BeNullOrEmpty -Because 'l2tp_eth makes its own device, not a TAP' }
        Get-LabMtu $A 'l2tpeth0' | Should -Be 1446
    }

    It 'makes an interface with MTU 1450 with -L2SpecType None' {
        $s = New-L2tpSession -Backend $Backend -netns $A -TunnelId 3000 -SessionId 1000 -PeerSessionId 2000 -L2SpecType None -ErrorAction Stop
        Assert-L2SpecType $s 'None'
        Assert-L2SpecType (Get-L2tpSession -Backend $Backend -netns $A -TunnelId 3000 -SessionId 1000 -ErrorAction Stop) 'None'
        Get-LabMtu $A $s.InterfaceName | Should -Be 1450
    }

    It 'numbers interfaces l2tpeth0, l2tpeth1, ... and honours -Name' {
        $s0 = New-L2tpSession -Backend $Backend -netns $A -TunnelId 3000 -SessionId 1000 -PeerSessionId 2000 -ErrorAction Stop
        $s1 = New-L2tpSession -Backend $Backend -netns $A -TunnelId 3000 -SessionId 1001 -PeerSessionId 2001 -ErrorAction Stop
        $s2 = New-L2tpSession -Backend $Backend -netns $A -TunnelId 3000 -SessionId 1002 -PeerSessionId 2002 -Name 'pw-test0' -ErrorAction Stop
        $s0.InterfaceName | Should -Be 'l2tpeth0'
        $s1.InterfaceName | Should -Be 'l2tpeth1'
        $s2.InterfaceName | Should -Be 'pw-test0'
        $links = Get-LabLinkName -Namespace $A
        $links | Should -Contain 'l2tpeth1'
        $links | Should -Contain 'pw-test0'
    }

    It 'keeps cookies as lowercase hex, as ip l2tp shows them, and sizes the MTU for them' {
        $s = New-L2tpSession -Backend $Backend -netns $A -TunnelId 3000 -SessionId 1000 -PeerSessionId 2000 -Cookie 0102030405060708 -PeerCookie 0A0B0C0D -ErrorAction Stop
        $s.Cookie | Should -BeExactly '0102030405060708'
        $s.PeerCookie | Should -BeExactly '0a0b0c0d'
        $g = Get-L2tpSession -Backend $Backend -netns $A -TunnelId 3000 -SessionId 1000 -ErrorAction Stop
        $g.Cookie | Should -BeExactly '0102030405060708'
        $g.PeerCookie | Should -BeExactly '0a0b0c0d'
        if ($Backend -eq 'Kernel') {
            $ip = Get-LabIpL2tp $A session | Where-Object session_id -EQ 1000
            $ip.cookie | Should -BeExactly '0102030405060708'
            $ip.peer_cookie | Should -BeExactly '0a0b0c0d'
        }
        # 1500 - IPv4 20 - UDP 8 - L2TPv3 data header 8 - cookie 8 - sublayer 4 - Ethernet 14
        Get-LabMtu $A $s.InterfaceName | Should -Be 1438
    }

    It 'takes the ip-l2tp words: -tunnel_id -session_id -peer_session_id -name -cookie -peer_cookie -l2spec_type -seq' {
        $s = New-L2tpSession -Backend $Backend -netns $A -tunnel_id 3000 -session_id 1005 -peer_session_id 2005 -name pw-alias0 `
            -cookie 11223344 -peer_cookie 55667788 -l2spec_type default -seq both -ErrorAction Stop
        $s.TunnelId | Should -Be 3000
        $s.SessionId | Should -Be 1005
        $s.PeerSessionId | Should -Be 2005
        $s.InterfaceName | Should -Be 'pw-alias0'
        $s.Cookie | Should -Be '11223344'
        $s.PeerCookie | Should -Be '55667788'
        Assert-L2SpecType $s 'Default'
        $s.Sequencing | Should -Be ([L2tp.SequencingMode]::Both)
        $n = New-L2tpSession -Backend $Backend -netns $A -tunnel_id 3000 -session_id 1006 -peer_session_id 2006 -l2spec_type none -seq none -ErrorAction Stop
        Assert-L2SpecType $n 'None'
        $n.Sequencing | Should -Be ([L2tp.SequencingMode]::None)
        Get-LabMtu $A $n.InterfaceName | Should -Be 1450 -Because 'l2spec_type none reached the backend'
    }

    It 'binds TunnelId, NetworkNamespace and Backend from New-L2tpTunnel on the pipeline' {
        $s = New-FixtureTunnel -TunnelId 3001 -SourcePort 5001 | New-L2tpSession -SessionId 1000 -PeerSessionId 2000 -ErrorAction Stop
        $s.TunnelId | Should -Be 3001
        $s.NetworkNamespace | Should -Be $A
        $s.Backend | Should -Be ([L2tp.BackendKind]$Backend)
        (Get-L2tpSession -Backend $Backend -netns $A -TunnelId 3001 -ErrorAction Stop).SessionId | Should -Be 1000
        if ($Backend -eq 'Kernel') { (Get-LabIpL2tp $A session | Where-Object tunnel_id -EQ 3001).session_id | Should -Be 1000 }
    }
}

Describe 'Get-L2tpSession and Remove-L2tpSession' {
    # Tunnels 3000 (sessions 1000, 1001) and 3001 (session 1100), rebuilt only when a test changed them (under
    # the kernel lab's TCG every rebuild counts).
    BeforeEach {
        $tunnels = @(Get-L2tpTunnel -Backend $Backend -netns $A -ErrorAction Stop | ForEach-Object { "$($_.TunnelId)" } | Sort-Object) -join ','
        $sessions = @(Get-L2tpSession -Backend $Backend -netns $A -ErrorAction Stop | ForEach-Object { "$($_.TunnelId)/$($_.SessionId)" } | Sort-Object) -join ','
        if ($tunnels -ne '3000,3001' -or $sessions -ne '3000/1000,3000/1001,3001/1100') {
            Clear-Tunnels
            New-FixtureTunnel -TunnelId 3000 -SourcePort 5000 | Out-Null
            New-FixtureTunnel -TunnelId 3001 -SourcePort 5001 | Out-Null
            New-L2tpSession -Backend $Backend -netns $A -TunnelId 3000 -SessionId 1000 -PeerSessionId 2000 -ErrorAction Stop | Out-Null
            New-L2tpSession -Backend $Backend -netns $A -TunnelId 3000 -SessionId 1001 -PeerSessionId 2001 -ErrorAction Stop | Out-Null
            New-L2tpSession -Backend $Backend -netns $A -TunnelId 3001 -SessionId 1100 -PeerSessionId 2100 -ErrorAction Stop | Out-Null
        }
    }
    AfterAll { Clear-Tunnels }

    It 'lists every session, or those of one tunnel, or one session' {
        (Get-L2tpSession -Backend $Backend -netns $A -ErrorAction Stop | ForEach-Object { "$($_.TunnelId)/$($_.SessionId)" } | Sort-Object) |
            Should -Be @('3000/1000', '3000/1001', '3001/1100')
        (Get-L2tpSession -Backend $Backend -netns $A -TunnelId 3000 -ErrorAction Stop).SessionId | Sort-Object | Should -Be @(1000, 1001)
        $one = Get-L2tpSession -Backend $Backend -netns $A -TunnelId 3000 -SessionId 1001 -ErrorAction Stop
        @($one).Count | Should -Be 1
        $one | Should -BeOfType ([L2tp.L2tpSession])
        $one.PeerSessionId | Should -Be 2001
        $one.PeerTunnelId | Should -Be 4000
        $one.Backend | Should -Be ([L2tp.BackendKind]$Backend)
        $one.NetworkNamespace | Should -Be $A
        @(Get-L2tpSession -Backend $Backend -netns $B -ErrorAction Stop).Count | Should -Be 0
    }

    It 'Get-L2tpTunnel -TunnelId 3000 -netns A | Get-L2tpSession returns that tunnel''s sessions' {
        (Get-L2tpTunnel -Backend $Backend -TunnelId 3000 -netns $A -ErrorAction Stop | Get-L2tpSession -ErrorAction Stop).SessionId |
            Sort-Object | Should -Be @(1000, 1001)
    }

    It 'Set-L2tpInterface -Mtu Auto on one session''s interface sets its SuggestedMtu, asking for that session by its interface name (no dump)' {
        $s = Get-L2tpSession -Backend $Backend -netns $A -TunnelId 3001 -SessionId 1100 -ErrorAction Stop
        $s.SuggestedMtu | Should -Be 1446
        Set-L2tpInterface -Backend $Backend -netns $A $s.InterfaceName -Mtu 1300 -ErrorAction Stop | Out-Null
        $out = @(Set-L2tpInterface -Backend $Backend -netns $A $s.InterfaceName -Mtu Auto -Verbose -ErrorAction Stop 4>&1)
        $verbose = @($out | Where-Object { $_ -is [System.Management.Automation.VerboseRecord] } | ForEach-Object Message)
        ($out | Where-Object { $_ -is [L2tp.L2tpInterface] }).Mtu | Should -Be 1446
        (Get-L2tpSession -Backend $Backend -netns $A -TunnelId 3001 -SessionId 1100 -ErrorAction Stop).Mtu | Should -Be 1446
        @($verbose -match '\(dump\)').Count | Should -Be 0 -Because ($verbose -join "`n")
        @($verbose -match "SESSION_GET session on $($s.InterfaceName)").Count | Should -Be 1 -Because ($verbose -join "`n")
    }

    It 'Remove-L2tpSession removes the session and its interface, and keeps the tunnel' {
        $s = Get-L2tpSession -Backend $Backend -netns $A -TunnelId 3000 -SessionId 1000 -ErrorAction Stop
        Remove-L2tpSession -Backend $Backend -netns $A -TunnelId 3000 -SessionId 1000 -ErrorAction Stop
        (Get-L2tpSession -Backend $Backend -netns $A -TunnelId 3000 -ErrorAction Stop).SessionId | Should -Be @(1001)
        @(Get-LabIpL2tp $A session | Where-Object session_id -EQ 1000).Count | Should -Be 0
        Get-LabLinkName -Namespace $A | Should -Not -Contain $s.InterfaceName
        (Get-L2tpTunnel -Backend $Backend -netns $A -ErrorAction Stop).TunnelId | Sort-Object | Should -Be @(3000, 3001)
        (Get-LabUdpSocket -Namespace $A).Local | Should -Contain '192.0.2.1:5000'
    }

    It 'Get-L2tpSession -netns A | Remove-L2tpSession removes every session and interface' {
        Get-L2tpSession -Backend $Backend -netns $A -ErrorAction Stop | Remove-L2tpSession -ErrorAction Stop
        @(Get-L2tpSession -Backend $Backend -netns $A -ErrorAction Stop).Count | Should -Be 0
        @(Get-LabIpL2tp $A session).Count | Should -Be 0
        Get-LabLinkName -Namespace $A | Should -Not -Match '^l2tpeth'
        @(Get-L2tpTunnel -Backend $Backend -netns $A -ErrorAction Stop).Count | Should -Be 2
    }

    It 'Remove-L2tpSession of a session that does not exist (ENODEV) gives L2tp.SessionNotFound, in a tunnel or without one' {
        $before = Get-State
        Remove-L2tpSession -Backend $Backend -netns $A -TunnelId 3000 -SessionId 1999 -ErrorVariable err -ErrorAction SilentlyContinue
        Assert-LabL2tpError $err -Id 'L2tp.SessionNotFound' -Category ObjectNotFound -Target 1999
        Remove-L2tpSession -Backend $Backend -netns $A -TunnelId 3999 -SessionId 1000 -ErrorVariable err2 -ErrorAction SilentlyContinue
        Assert-LabL2tpError $err2 -Id 'L2tp.SessionNotFound' -Category ObjectNotFound -Target 1000
        Assert-LabL2tpState -Namespace $A -Expected $before -Backend $Backend -Because 'removing a missing session must change nothing'
    }

    It 'Get-L2tpSession of a session that does not exist gives L2tp.SessionNotFound' {
        $out = Get-L2tpSession -Backend $Backend -netns $A -TunnelId 3000 -SessionId 1999 -ErrorVariable err -ErrorAction SilentlyContinue
        $out | Should -BeNullOrEmpty
        Assert-LabL2tpError $err -Id 'L2tp.SessionNotFound' -Category ObjectNotFound -Target 1999
    }
}

Describe 'New-L2tpSession refuses bad input and leaves nothing behind' {
    BeforeAll {
        Clear-Tunnels
        # Something to collide with: tunnel 3000 (UDP) with session 1000 on l2tpeth0, and the IP-encapsulated
        # tunnel 3001 with session 1100 on l2tpeth1.
        New-FixtureTunnel | New-L2tpSession -SessionId 1000 -PeerSessionId 2000 -ErrorAction Stop | Out-Null
        New-L2tpTunnel -Backend $Backend -netns $A -TunnelId 3001 -PeerTunnelId 4001 -Encapsulation Ip -Local 192.0.2.1 -Remote 192.0.2.2 -ErrorAction Stop |
            New-L2tpSession -SessionId 1100 -PeerSessionId 2100 -ErrorAction Stop | Out-Null
    }
    AfterAll { Clear-Tunnels }

    BeforeEach { $before = Get-State }
    AfterEach { Assert-LabL2tpState -Namespace $A -Expected $before -Backend $Backend }

    # With IP encapsulation session ids are unique in the whole namespace (the kernel demultiplexes IP protocol 115
    # by session id alone), so 1100 is taken in tunnel 3000 too.
    It '<Why> gives <Id>' -ForEach @(
        @{ Why = 'SessionId 0'; Ids = @{ TunnelId = 3000; SessionId = 0; PeerSessionId = 2001 }; Id = 'L2tp.InvalidSessionId'; Category = 'InvalidArgument'; Target = 0 }
        @{ Why = 'PeerSessionId 0'; Ids = @{ TunnelId = 3000; SessionId = 1001; PeerSessionId = 0 }; Id = 'L2tp.InvalidSessionId'; Category = 'InvalidArgument'; Target = 0 }
        @{ Why = 'TunnelId 0'; Ids = @{ TunnelId = 0; SessionId = 1001; PeerSessionId = 2001 }; Id = 'L2tp.InvalidTunnelId'; Category = 'InvalidArgument'; Target = 0 }
        @{ Why = 'a session in a tunnel that does not exist (ENODEV)'; Ids = @{ TunnelId = 3999; SessionId = 1001; PeerSessionId = 2001 }; Id = 'L2tp.TunnelNotFound'; Category = 'ObjectNotFound'; Target = 3999 }
        @{ Why = 'a session id already in the tunnel (EEXIST)'; Ids = @{ TunnelId = 3000; SessionId = 1000; PeerSessionId = 2001 }; Id = 'L2tp.SessionExists'; Category = 'ResourceExists'; Target = 1000 }
        @{ Why = 'a session id that an IP-encapsulated tunnel uses, in any other tunnel'; Ids = @{ TunnelId = 3000; SessionId = 1100; PeerSessionId = 2101 }; Id = 'L2tp.SessionExists'; Category = 'ResourceExists'; Target = 1100 }
        @{ Why = '-Name of an existing interface (veth0)'; Ids = @{ TunnelId = 3000; SessionId = 1001; PeerSessionId = 2001; Name = 'veth0' }; Id = 'L2tp.InterfaceExists'; Category = 'ResourceExists'; Target = 'veth0' }
        @{ Why = '-Name of another session''s interface (l2tpeth0)'; Ids = @{ TunnelId = 3000; SessionId = 1001; PeerSessionId = 2001; Name = 'l2tpeth0' }; Id = 'L2tp.InterfaceExists'; Category = 'ResourceExists'; Target = 'l2tpeth0' }
        @{ Why = '-Cookie xyz'; Ids = @{ TunnelId = 3000; SessionId = 1001; PeerSessionId = 2001; Cookie = 'xyz' }; Id = 'L2tp.InvalidCookie'; Category = 'InvalidArgument'; Target = 'xyz' }
        @{ Why = '-Cookie 0102'; Ids = @{ TunnelId = 3000; SessionId = 1001; PeerSessionId = 2001; Cookie = '0102' }; Id = 'L2tp.InvalidCookie'; Category = 'InvalidArgument'; Target = '0102' }
        @{ Why = '-Cookie 010203040506'; Ids = @{ TunnelId = 3000; SessionId = 1001; PeerSessionId = 2001; Cookie = '010203040506' }; Id = 'L2tp.InvalidCookie'; Category = 'InvalidArgument'; Target = '010203040506' }
        @{ Why = '-Cookie 01020304zz'; Ids = @{ TunnelId = 3000; SessionId = 1001; PeerSessionId = 2001; Cookie = '01020304zz' }; Id = 'L2tp.InvalidCookie'; Category = 'InvalidArgument'; Target = '01020304zz' }
        @{ Why = '-PeerCookie xyz'; Ids = @{ TunnelId = 3000; SessionId = 1001; PeerSessionId = 2001; PeerCookie = 'xyz' }; Id = 'L2tp.InvalidCookie'; Category = 'InvalidArgument'; Target = 'xyz' }
        @{ Why = '-PeerCookie 0102'; Ids = @{ TunnelId = 3000; SessionId = 1001; PeerSessionId = 2001; PeerCookie = '0102' }; Id = 'L2tp.InvalidCookie'; Category = 'InvalidArgument'; Target = '0102' }
    ) {
        $out = New-L2tpSession -Backend $Backend -netns $A @Ids -ErrorVariable err -ErrorAction SilentlyContinue
        $out | Should -BeNullOrEmpty
        Assert-LabL2tpError $err -Id $Id -Category $Category -Target $Target
    }

    It 'a session id already in the tunnel throws L2tp.SessionExists with -ErrorAction Stop' {
        { New-L2tpSession -Backend $Backend -netns $A -TunnelId 3000 -SessionId 1000 -PeerSessionId 2001 -ErrorAction Stop } |
            Should -Throw -ErrorId 'L2tp.SessionExists,*'
    }
}

# The kernel's reorder timeout (L2TP_ATTR_RECV_TIMEOUT) and SESSION_MODIFY, which ip-l2tp does not expose. The kernel
# counts the timeout in jiffies: 100 and 200 ms are whole jiffies at HZ 100, 250 and 1000, so they read back exact.
Describe 'New-L2tpSession -ReorderTimeout and Set-L2tpSession' {
    BeforeAll {
        Clear-Tunnels
        New-FixtureTunnel | Out-Null
        $Reordering = New-L2tpSession -Backend $Backend -netns $A -TunnelId 3000 -SessionId 1000 -PeerSessionId 2000 -Sequencing Recv -ReorderTimeout 100 -ErrorAction Stop
        New-L2tpSession -Backend $Backend -netns $A -TunnelId 3000 -SessionId 1001 -PeerSessionId 2001 -ReorderTimeout ([timespan]::FromMilliseconds(200)) -ErrorAction Stop | Out-Null
        New-L2tpSession -Backend $Backend -netns $A -TunnelId 3000 -SessionId 1002 -PeerSessionId 2002 -L2SpecType None -ErrorAction Stop | Out-Null
        function Get-One([uint32]$Id) { Get-L2tpSession -Backend $Backend -netns $A -TunnelId 3000 -SessionId $Id -ErrorAction Stop }
    }
    AfterAll { Clear-Tunnels }

    It 'New-L2tpSession takes milliseconds or a TimeSpan, and Get-L2tpSession shows the timeout (zero when none)' {
        $Reordering.ReorderTimeout | Should -Be ([timespan]::FromMilliseconds(100))
        (Get-One 1000).ReorderTimeout | Should -Be ([timespan]::FromMilliseconds(100))
        (Get-One 1001).ReorderTimeout | Should -Be ([timespan]::FromMilliseconds(200))
        (Get-One 1002).ReorderTimeout | Should -Be ([timespan]::Zero)
    }

    It 'Set-L2tpSession changes sequencing and the timeout of the live session: same interface, and -PassThru shows them' {
        $ifindex = Invoke-LabNs $A "cat /sys/class/net/$($Reordering.InterfaceName)/ifindex"
        $s = Set-L2tpSession -Backend $Backend -netns $A -TunnelId 3000 -SessionId 1000 -Sequencing Both -ReorderTimeout 200 -PassThru -ErrorAction Stop
        ($s.Sequencing, $s.ReorderTimeout) | Should -Be @([L2tp.SequencingMode]::Both, [timespan]::FromMilliseconds(200))
        $g = Get-One 1000
        ($g.Sequencing, $g.ReorderTimeout, $g.InterfaceName) | Should -Be @([L2tp.SequencingMode]::Both, [timespan]::FromMilliseconds(200), $Reordering.InterfaceName)
        Invoke-LabNs $A "cat /sys/class/net/$($Reordering.InterfaceName)/ifindex" | Should -Be $ifindex -Because 'the session is changed, not re-created'
        # What is not given stays.
        Set-L2tpSession -Backend $Backend -netns $A -TunnelId 3000 -SessionId 1000 -Sequencing Send -ErrorAction Stop | Should -BeNullOrEmpty
        $g = Get-One 1000
        ($g.Sequencing, $g.ReorderTimeout) | Should -Be @([L2tp.SequencingMode]::Send, [timespan]::FromMilliseconds(200))
    }

    It 'Get-L2tpSession | Set-L2tpSession -ReorderTimeout 0 turns reordering off for each piped session and leaves sequencing' {
        $seq = (Get-One 1000).Sequencing
        Get-L2tpSession -Backend $Backend -netns $A -TunnelId 3000 -ErrorAction Stop | Set-L2tpSession -ReorderTimeout 0 -ErrorAction Stop
        (Get-L2tpSession -Backend $Backend -netns $A -TunnelId 3000 -ErrorAction Stop).ReorderTimeout | Should -Be @([timespan]::Zero, [timespan]::Zero, [timespan]::Zero)
        (Get-One 1000).Sequencing | Should -Be $seq
    }

    It 'Set-L2tpSession -WhatIf changes nothing' {
        $before = Get-One 1001
        Set-L2tpSession -Backend $Backend -netns $A -TunnelId 3000 -SessionId 1001 -Sequencing Both -ReorderTimeout 100 -WhatIf
        $after = Get-One 1001
        ($after.Sequencing, $after.ReorderTimeout) | Should -Be @($before.Sequencing, $before.ReorderTimeout)
    }

    # One state comparison for all four (under the kernel lab's TCG each costs seconds).
    It 'Set-L2tpSession refuses nothing to change, a missing session and bad timeouts, each with its L2tp.* error, and changes nothing' {
        $before = Get-State
        foreach ($c in @(
                @{ P = @{ SessionId = 1001 }; Id = 'L2tp.NothingToChange'; Category = 'InvalidArgument'; Target = 1001 }
                @{ P = @{ SessionId = 1999; Sequencing = 'Both' }; Id = 'L2tp.SessionNotFound'; Category = 'ObjectNotFound'; Target = 1999 }
                @{ P = @{ SessionId = 1001; ReorderTimeout = -5 }; Id = 'L2tp.InvalidReorderTimeout'; Category = 'InvalidArgument'; Target = [timespan]::FromMilliseconds(-5) }
                @{ P = @{ SessionId = 1001; ReorderTimeout = 4294967296 }; Id = 'L2tp.InvalidReorderTimeout'; Category = 'InvalidArgument'; Target = 4294967296 }
            )) {
            $P = $c.P
            Set-L2tpSession -Backend $Backend -netns $A -TunnelId 3000 @P -ErrorVariable err -ErrorAction SilentlyContinue
            Assert-LabL2tpError $err -Id $c.Id -Category $c.Category -Target $c.Target
        }
        Assert-LabL2tpState -Namespace $A -Expected $before -Backend $Backend
    }

    # The kernel does not report the sublayer, so only the module's forwarder knows a session has none; the kernel
    # takes the change as it takes seq at creation.
    It 'Set-L2tpSession -Sequencing Both on a session with -L2SpecType None gives L2tp.SequencingNeedsSublayer' -Skip:($Backend -eq 'Kernel') {
        Set-L2tpSession -Backend $Backend -netns $A -TunnelId 3000 -SessionId 1002 -Sequencing Both -ErrorVariable err -ErrorAction SilentlyContinue
        Assert-LabL2tpError $err -Id 'L2tp.SequencingNeedsSublayer' -Category InvalidArgument -Target ([L2tp.SequencingMode]::Both)
        (Get-One 1002).Sequencing | Should -Be ([L2tp.SequencingMode]::None)
    }
}

# iproute2 reads the kernel's own state: only the Kernel backend has something to compare with it.
Describe 'ip l2tp and the cmdlets agree on sessions' -Skip:($Backend -ne 'Kernel') {
    BeforeEach { Clear-Tunnels }
    AfterAll { Clear-Tunnels }

    It 'sessions made by New-L2tpSession show in ip l2tp show session with identical fields' {
        # Every session has cookies: iproute2 does not reset its per-message struct while dumping, so a session
        # without one would show the cookie of the session listed before it.
        New-FixtureTunnel | Out-Null
        New-L2tpTunnel -Backend $Backend -netns $A -TunnelId 3004 -PeerTunnelId 4004 -Encapsulation Ip -Local 192.0.2.1 -Remote 192.0.2.2 -ErrorAction Stop | Out-Null
        New-L2tpSession -Backend $Backend -netns $A -TunnelId 3000 -SessionId 1000 -PeerSessionId 2000 -Cookie 01020304 -PeerCookie 0a0b0c0d0e0f1011 -Sequencing Send -ErrorAction Stop | Out-Null
        New-L2tpSession -Backend $Backend -netns $A -TunnelId 3000 -SessionId 1001 -PeerSessionId 2001 -Cookie 1112131415161718 -PeerCookie 21222324 -Sequencing Recv -Name pw-agree1 -ErrorAction Stop | Out-Null
        New-L2tpSession -Backend $Backend -netns $A -TunnelId 3004 -SessionId 1002 -PeerSessionId 2002 -Cookie 3132333435363738 -PeerCookie 4142434445464748 -Sequencing Both -ErrorAction Stop | Out-Null
        $ip = @(Get-LabIpL2tp $A session)
        $ours = @(Get-L2tpSession -Backend $Backend -netns $A -ErrorAction Stop)
        ($ip | ForEach-Object { "$($_.tunnel_id)/$($_.session_id)" } | Sort-Object) | Should -Be @('3000/1000', '3000/1001', '3004/1002')
        ($ours | ForEach-Object { "$($_.TunnelId)/$($_.SessionId)" } | Sort-Object) | Should -Be @('3000/1000', '3000/1001', '3004/1002')
        foreach ($s in $ours) {
            $i = $ip | Where-Object { $_.tunnel_id -eq $s.TunnelId -and $_.session_id -eq $s.SessionId }
            $why = "session $($s.SessionId): ip l2tp says $($i | ConvertTo-Json -Compress)"
            $i.peer_session_id | Should -Be $s.PeerSessionId -Because $why
            $i.peer_tunnel_id | Should -Be $s.PeerTunnelId -Because $why
            $i.interface | Should -Be $s.InterfaceName -Because $why
            $i.cookie | Should -BeExactly $s.Cookie -Because $why
            $i.peer_cookie | Should -BeExactly $s.PeerCookie -Because $why
            ($i.PSObject.Properties.Name -contains 'send_seq') | Should -Be ($s.Sequencing -in 'Send', 'Both') -Because $why
            ($i.PSObject.Properties.Name -contains 'recv_seq') | Should -Be ($s.Sequencing -in 'Recv', 'Both') -Because $why
        }
        ($ours | Sort-Object SessionId).Sequencing | Should -Be @([L2tp.SequencingMode]::Send, [L2tp.SequencingMode]::Recv, [L2tp.SequencingMode]::Both)
        ($ours | Where-Object SessionId -EQ 1001).InterfaceName | Should -Be 'pw-agree1'
    }

    It 'sessions made by ip l2tp add session show in Get-L2tpSession with identical fields (L2SpecType null)' {
        Invoke-LabIpBatch $A @'
l2tp add tunnel tunnel_id 3100 peer_tunnel_id 4100 encap udp local 192.0.2.1 remote 192.0.2.2 udp_sport 5100 udp_dport 6100
l2tp add session tunnel_id 3100 session_id 1100 peer_session_id 2100 cookie 0102030405060708 peer_cookie 0a0b0c0d seq both name pw-ip0
l2tp add session tunnel_id 3100 session_id 1101 peer_session_id 2101 l2spec_type none
l2tp add session tunnel_id 3100 session_id 1102 peer_session_id 2102 seq send
'@
        $s = @(Get-L2tpSession -Backend $Backend -netns $A -TunnelId 3100 -ErrorAction Stop)
        ($s.SessionId | Sort-Object) | Should -Be @(1100, 1101, 1102)
        $a0 = $s | Where-Object SessionId -EQ 1100
        $a0.TunnelId | Should -Be 3100
        $a0.PeerTunnelId | Should -Be 4100
        $a0.PeerSessionId | Should -Be 2100
        $a0.InterfaceName | Should -Be 'pw-ip0'
        $a0.Cookie | Should -BeExactly '0102030405060708'
        $a0.PeerCookie | Should -BeExactly '0a0b0c0d'
        $a0.Sequencing | Should -Be ([L2tp.SequencingMode]::Both)
        $a0.L2SpecType | Should -BeNullOrEmpty
        $a0.Backend | Should -Be ([L2tp.BackendKind]::Kernel)
        $a0.NetworkNamespace | Should -Be $A
        $a1 = $s | Where-Object SessionId -EQ 1101
        $a1.PeerSessionId | Should -Be 2101
        $a1.InterfaceName | Should -Match '^l2tpeth\d+$'
        $a1.Cookie | Should -Be ''
        $a1.PeerCookie | Should -Be ''
        $a1.Sequencing | Should -Be ([L2tp.SequencingMode]::None)
        $a1.L2SpecType | Should -BeNullOrEmpty
        Get-LabMtu $A $a1.InterfaceName | Should -Be 1450
        ($s | Where-Object SessionId -EQ 1102).Sequencing | Should -Be ([L2tp.SequencingMode]::Send)
    }

    It 'Remove-L2tpSession removes a session made by ip l2tp, with its interface' {
        Invoke-LabIpBatch $A @'
l2tp add tunnel tunnel_id 3100 peer_tunnel_id 4100 encap udp local 192.0.2.1 remote 192.0.2.2 udp_sport 5100 udp_dport 6100
l2tp add session tunnel_id 3100 session_id 1100 peer_session_id 2100 name pw-ip0
l2tp add session tunnel_id 3100 session_id 1101 peer_session_id 2101 name pw-ip1
'@
        Remove-L2tpSession -Backend $Backend -netns $A -TunnelId 3100 -SessionId 1100 -ErrorAction Stop
        (Get-LabIpL2tp $A session).session_id | Should -Be @(1101)
        Get-LabLinkName -Namespace $A | Should -Not -Contain 'pw-ip0'
        Get-LabLinkName -Namespace $A | Should -Contain 'pw-ip1'
        (Get-LabIpL2tp $A tunnel).tunnel_id | Should -Be @(3100)
    }
}
