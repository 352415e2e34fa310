#Requires -Version 7.2
# Pester 5 tests of New-/Get-/Remove-L2tpTunnel against real network namespaces (needs root), for one backend:
# Managed (the default; this host) or Kernel (the kernel lab guest runs this file with Backend = Kernel, see
# tests/lab/kernel/guest/GuestSuite.psd1). What differs by backend is data below or a -Skip.
# Underlay: 192.0.2.1/24 and 2001:db8::1/64 (namespace $A, veth0) <-> 192.0.2.2/24 and 2001:db8::2/64 ($B, veth0).
param([ValidateSet('Managed', 'Kernel')][string]$Backend = 'Managed')

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot '../lab/Lab.psm1') -Force
    $ModulePath = if ($env:L2TP_MODULE_PATH) { $env:L2TP_MODULE_PATH } else { [System.IO.Path]::GetFullPath((Join-Path $PSScriptRoot '../../out/L2tp/L2tp.psd1')) }
    Import-Module $ModulePath -Force

    $A, $B = New-LabSitePair -Prefix 'l2tpT-a', 'l2tpT-b'
    Invoke-LabIp $A @('addr', 'add', '2001:db8::1/64', 'dev', 'veth0', 'nodad') | Out-Null
    Invoke-LabIp $B @('addr', 'add', '2001:db8::2/64', 'dev', 'veth0', 'nodad') | Out-Null

    # The parameters of the UDP tunnel most tests start from, as a hashtable to splat; a test overrides what it is about.
    function Get-TunnelArgs {
        param(
            [uint32]$TunnelId = 3000, [uint16]$SourcePort = 5000, [uint32]$PeerTunnelId = 4000,
            [string]$Local = '192.0.2.1', [string]$Remote = '192.0.2.2', [uint16]$DestinationPort = 6000
        )
        @{
            Backend          = $Backend
            NetworkNamespace = $A
            TunnelId         = $TunnelId
            PeerTunnelId     = $PeerTunnelId
            Local            = $Local
            Remote           = $Remote
            SourcePort       = $SourcePort
            DestinationPort  = $DestinationPort
        }
    }

    function New-FixtureTunnel([uint32]$TunnelId = 3000, [uint16]$SourcePort = 5000) {
        $p = Get-TunnelArgs -TunnelId $TunnelId -SourcePort $SourcePort
        New-L2tpTunnel @p -ErrorAction Stop
    }

    # The forwarder removes a tunnel before it replies; the kernel only queues the deletion (its socket and the
    # listing go a little later). So "gone" must hold at once with Managed and within 10 s with Kernel.
    $GoneWithin = @{ Managed = 0; Kernel = 10 }[$Backend]
    function Test-TunnelGone([string]$Namespace, [uint32[]]$TunnelId, [uint16[]]$Port = @()) {
        Wait-LabL2tpTunnelGone $Namespace $TunnelId $Port -Backend $Backend -TimeoutSeconds $GoneWithin
    }
    function Get-State([string]$Namespace = $A) { Get-LabL2tpState -Namespace $Namespace -Backend $Backend }
    function Clear-Tunnels([string]$Namespace = $A) { Remove-LabL2tpConfig -Namespace $Namespace -Backend $Backend }
}

AfterAll {
    if (Get-Command Remove-LabL2tpConfig -ErrorAction Ignore) { Remove-LabL2tpConfig -Namespace $A, $B -Backend $Backend }
    if (Get-Command Remove-LabNamespace -ErrorAction Ignore) { Remove-LabNamespace -Name $A, $B }
}

Describe 'New-L2tpTunnel' {
    AfterEach { Clear-Tunnels }

    It 'creates a UDP tunnel and returns an L2tp.L2tpTunnel with every field set, IPv4 UDP checksums as the backend defaults them' {
        $p = Get-TunnelArgs
        $t = New-L2tpTunnel @p -Encapsulation Udp -ErrorAction Stop
        @($t).Count | Should -Be 1
        $t | Should -BeOfType ([L2tp.L2tpTunnel])
        $t.TunnelId | Should -Be 3000
        $t.PeerTunnelId | Should -Be 4000
        $t.Encapsulation | Should -Be ([L2tp.Encapsulation]::Udp)
        "$($t.Local)" | Should -Be '192.0.2.1'
        "$($t.Remote)" | Should -Be '192.0.2.2'
        $t.SourcePort | Should -Be 5000
        $t.DestinationPort | Should -Be 6000
        # Without -UdpChecksum: Managed sends IPv4 UDP checksums (for UDP GSO), Kernel keeps udp_csum off.
        $t.UdpChecksum | Should -Be ($Backend -eq 'Managed')
        (Get-L2tpTunnel -Backend $Backend -netns $A -TunnelId 3000 -ErrorAction Stop).UdpChecksum | Should -Be ($Backend -eq 'Managed')
        $t.Udp6ChecksumTx | Should -BeTrue
        $t.Udp6ChecksumRx | Should -BeTrue
        $t.Backend | Should -Be ([L2tp.BackendKind]$Backend)
        $t.NetworkNamespace | Should -Be $A
        $t.Statistics | Should -BeOfType ([L2tp.L2tpStatistics])
        $t.Statistics.TxPackets | Should -Be 0
        $t.Statistics.RxPackets | Should -Be 0
    }

    It 'binds the UDP socket on Local:SourcePort inside the namespace, not outside it' {
        New-FixtureTunnel | Out-Null
        (Get-LabUdpSocket -Namespace $A).Local | Should -Contain '192.0.2.1:5000'
        (Get-LabUdpSocket -Namespace $B).Local | Should -Not -Contain '192.0.2.1:5000'
        (Get-LabUdpSocket -Namespace '').Local | Should -Not -Contain '192.0.2.1:5000'
    }

    It 'runs <Forwarders> l2tp-forwarder process(es) in the namespace for two tunnels, none in the other' -ForEach @(
        @{ Forwarders = @{ Managed = 1; Kernel = 0 }[$Backend] }
    ) {
        New-FixtureTunnel | Out-Null
        New-FixtureTunnel -TunnelId 3001 -SourcePort 5001 | Out-Null
        @(Get-LabNamespaceProcess -Namespace $A -CommandLinePattern 'l2tp-forwarder').Count | Should -Be $Forwarders
        @(Get-LabNamespaceProcess -Namespace $B -CommandLinePattern 'l2tp-forwarder').Count | Should -Be 0
    }

    It 'is returned by Get-L2tpTunnel with the same fields, only in its own namespace' {
        New-FixtureTunnel | Out-Null
        New-FixtureTunnel -TunnelId 3001 -SourcePort 5001 | Out-Null
        $all = @(Get-L2tpTunnel -Backend $Backend -NetworkNamespace $A -ErrorAction Stop)
        ($all.TunnelId | Sort-Object) | Should -Be @(3000, 3001)
        $g = Get-L2tpTunnel -Backend $Backend -TunnelId 3001 -NetworkNamespace $A -ErrorAction Stop
        @($g).Count | Should -Be 1
        $g | Should -BeOfType ([L2tp.L2tpTunnel])
        $g.TunnelId | Should -Be 3001
        $g.PeerTunnelId | Should -Be 4000
        "$($g.Local)" | Should -Be '192.0.2.1'
        "$($g.Remote)" | Should -Be '192.0.2.2'
        $g.SourcePort | Should -Be 5001
        $g.DestinationPort | Should -Be 6000
        $g.Backend | Should -Be ([L2tp.BackendKind]$Backend)
        $g.NetworkNamespace | Should -Be $A
        @(Get-L2tpTunnel -Backend $Backend -NetworkNamespace $B -ErrorAction Stop).Count | Should -Be 0
        @(Get-LabIpL2tp $B tunnel).Count | Should -Be 0
    }

    It 'takes the ip-l2tp words: -tunnel_id -peer_tunnel_id -encap -local -remote -udp_sport -udp_dport -udp_csum' {
        $t = New-L2tpTunnel -Backend $Backend -netns $A -tunnel_id 3002 -peer_tunnel_id 4002 -encap udp -local 192.0.2.1 -remote 192.0.2.2 `
            -udp_sport 5002 -udp_dport 6002 -udp_csum on -ErrorAction Stop
        $t.TunnelId | Should -Be 3002
        $t.PeerTunnelId | Should -Be 4002
        $t.Encapsulation | Should -Be ([L2tp.Encapsulation]::Udp)
        $t.SourcePort | Should -Be 5002
        $t.DestinationPort | Should -Be 6002
        $t.UdpChecksum | Should -BeTrue
        (Get-L2tpTunnel -Backend $Backend -netns $A -TunnelId 3002 -ErrorAction Stop).UdpChecksum | Should -BeTrue
        $u = New-L2tpTunnel -Backend $Backend -netns $A -tunnel_id 3003 -peer_tunnel_id 4003 -encap udp -local 192.0.2.1 -remote 192.0.2.2 `
            -udp_sport 5003 -udp_dport 6003 -udp_csum off -ErrorAction Stop
        $u.UdpChecksum | Should -BeFalse
        if ($Backend -eq 'Kernel') {
            (Get-LabIpL2tp $A tunnel | Where-Object tunnel_id -EQ 3002).checksum | Should -BeTrue
            (Get-LabIpL2tp $A tunnel | Where-Object tunnel_id -EQ 3003).checksum | Should -BeFalse
        }
    }

    It 'creates an IPv6 tunnel and keeps -udp6_csum_tx off -udp6_csum_rx off' {
        $t = New-L2tpTunnel -Backend $Backend -netns $A -tunnel_id 3005 -peer_tunnel_id 4005 -encap udp -local 2001:db8::1 -remote 2001:db8::2 `
            -udp_sport 5005 -udp_dport 6005 -udp6_csum_tx off -udp6_csum_rx off -ErrorAction Stop
        "$($t.Local)" | Should -Be '2001:db8::1'
        "$($t.Remote)" | Should -Be '2001:db8::2'
        $t.Udp6ChecksumTx | Should -BeFalse
        $t.Udp6ChecksumRx | Should -BeFalse
        $g = Get-L2tpTunnel -Backend $Backend -netns $A -TunnelId 3005 -ErrorAction Stop
        $g.Udp6ChecksumTx | Should -BeFalse
        $g.Udp6ChecksumRx | Should -BeFalse
        (Get-LabUdpSocket -Namespace $A).Local | Should -Contain '[2001:db8::1]:5005'
        $d = New-L2tpTunnel -Backend $Backend -netns $A -TunnelId 3006 -PeerTunnelId 4006 -Local 2001:db8::1 -Remote 2001:db8::2 -SourcePort 5006 -DestinationPort 6006 -ErrorAction Stop
        $d.Udp6ChecksumTx | Should -BeTrue -Because 'IPv6 UDP checksums are on by default'
        $d.Udp6ChecksumRx | Should -BeTrue
    }

    # The forwarder keeps the wildcard it bound; the kernel connects the tunnel socket to the peer, which picks the
    # source address, and reports that (as ip l2tp does).
    It 'accepts -Local any, binds SourcePort and reports <LocalAny> as Local' -ForEach @(
        @{ LocalAny = @{ Managed = '0.0.0.0'; Kernel = '192.0.2.1' }[$Backend] }
    ) {
        $p = Get-TunnelArgs -Local any
        $t = New-L2tpTunnel @p -ErrorAction Stop
        "$($t.Local)" | Should -Be $LocalAny
        "$((Get-L2tpTunnel -Backend $Backend -netns $A -TunnelId 3000 -ErrorAction Stop).Local)" | Should -Be $LocalAny
        # Bound to the wildcard; a socket connected to the peer shows the source address the route picked.
        @((Get-LabUdpSocket -Namespace $A).Local -match '^(0\.0\.0\.0|192\.0\.2\.1):5000$').Count | Should -Be 1
    }

    It 'creates an IP-encapsulated tunnel (no UDP ports)' {
        $t = New-L2tpTunnel -Backend $Backend -netns $A -TunnelId 3004 -PeerTunnelId 4004 -Encapsulation Ip -Local 192.0.2.1 -Remote 192.0.2.2 -ErrorAction Stop
        $t.Encapsulation | Should -Be ([L2tp.Encapsulation]::Ip)
        $t.SourcePort | Should -Be 0
        $t.DestinationPort | Should -Be 0
        (Get-L2tpTunnel -Backend $Backend -netns $A -TunnelId 3004 -ErrorAction Stop).Encapsulation | Should -Be ([L2tp.Encapsulation]::Ip)
    }
}

Describe 'New-L2tpTunnel refuses bad input and leaves nothing behind' {
    BeforeAll {
        Clear-Tunnels
        # Something to collide with (and, with Managed, a running forwarder): UDP tunnel 3000 on 192.0.2.1:5000
        # and the IP-encapsulated tunnel 3001.
        New-FixtureTunnel | Out-Null
        New-L2tpTunnel -Backend $Backend -netns $A -TunnelId 3001 -PeerTunnelId 4001 -Encapsulation Ip -Local 192.0.2.1 -Remote 192.0.2.2 -ErrorAction Stop | Out-Null
    }
    AfterAll { Clear-Tunnels }

    BeforeEach { $before = Get-State }
    AfterEach { Assert-LabL2tpState -Namespace $A -Expected $before -Backend $Backend }

    # Linux 6.1 opens and binds an IP-encapsulated tunnel's socket before it looks for the id, so there the bind
    # (address + conn_id) fails first, with EADDRINUSE; either way the caller is told the id is taken.
    It '<Why> gives <Id>' -ForEach @(
        @{ Why = 'TunnelId 0'; Change = @{ TunnelId = 0; SourcePort = 5010 }; Id = 'L2tp.InvalidTunnelId'; Category = 'InvalidArgument'; Target = 0 }
        @{ Why = 'PeerTunnelId 0'; Change = @{ TunnelId = 3010; SourcePort = 5010; PeerTunnelId = 0 }; Id = 'L2tp.InvalidTunnelId'; Category = 'InvalidArgument'; Target = 0 }
        @{ Why = 'a tunnel id already in use (EEXIST)'; Change = @{ TunnelId = 3000; SourcePort = 5011 }; Id = 'L2tp.TunnelExists'; Category = 'ResourceExists'; Target = 3000 }
        @{ Why = 'an IP-encapsulated tunnel id already in use'; Change = @{ TunnelId = 3001; PeerTunnelId = 4009; Encapsulation = 'Ip'; SourcePort = 0; DestinationPort = 0 }; Id = 'L2tp.TunnelExists'; Category = 'ResourceExists'; Target = 3001 }
        @{ Why = 'a -Local address not assigned in the namespace (EADDRNOTAVAIL)'; Change = @{ TunnelId = 3012; SourcePort = 5012; Local = '192.0.2.77' }; Id = 'L2tp.AddressNotLocal'; Category = 'InvalidArgument'; Target = '192.0.2.77' }
        @{ Why = 'namespace B''s address as -Local (assigned elsewhere, not here)'; Change = @{ TunnelId = 3013; SourcePort = 5013; Local = '192.0.2.2'; Remote = '192.0.2.1' }; Id = 'L2tp.AddressNotLocal'; Category = 'InvalidArgument'; Target = '192.0.2.2' }
        @{ Why = 'an IPv6 -Local not assigned in the namespace'; Change = @{ TunnelId = 3018; SourcePort = 5018; Local = '2001:db8::77'; Remote = '2001:db8::2' }; Id = 'L2tp.AddressNotLocal'; Category = 'InvalidArgument'; Target = '2001:db8::77' }
        @{ Why = 'a second tunnel on the same local address and -SourcePort (EADDRINUSE)'; Change = @{ TunnelId = 3014; SourcePort = 5000 }; Id = 'L2tp.PortInUse'; Category = 'ResourceExists'; Target = 5000 }
        @{ Why = '-Local not-an-ip'; Change = @{ TunnelId = 3016; SourcePort = 5016; Local = 'not-an-ip' }; Id = 'L2tp.InvalidAddress'; Category = 'InvalidArgument'; Target = 'not-an-ip' }
        @{ Why = '-Local 192.0.2'; Change = @{ TunnelId = 3016; SourcePort = 5016; Local = '192.0.2' }; Id = 'L2tp.InvalidAddress'; Category = 'InvalidArgument'; Target = '192.0.2' }
        @{ Why = '-Local 192.0.2.300'; Change = @{ TunnelId = 3016; SourcePort = 5016; Local = '192.0.2.300' }; Id = 'L2tp.InvalidAddress'; Category = 'InvalidArgument'; Target = '192.0.2.300' }
        @{ Why = '-Remote peer.example'; Change = @{ TunnelId = 3017; SourcePort = 5017; Remote = 'peer.example' }; Id = 'L2tp.InvalidAddress'; Category = 'InvalidArgument'; Target = 'peer.example' }
        @{ Why = '-Remote 192.0.2'; Change = @{ TunnelId = 3017; SourcePort = 5017; Remote = '192.0.2' }; Id = 'L2tp.InvalidAddress'; Category = 'InvalidArgument'; Target = '192.0.2' }
    ) {
        $p = Get-TunnelArgs
        foreach ($k in $Change.Keys) { $p[$k] = $Change[$k] }
        if ($Change['Encapsulation'] -eq 'Ip') { $p.Remove('SourcePort'); $p.Remove('DestinationPort') }
        $out = New-L2tpTunnel @p -ErrorVariable err -ErrorAction SilentlyContinue
        $out | Should -BeNullOrEmpty
        Assert-LabL2tpError $err -Id $Id -Category $Category -Target $Target
    }

    It '<Why> throws <Id> with -ErrorAction Stop' -ForEach @(
        @{ Why = 'TunnelId 0'; Change = @{ TunnelId = 0; SourcePort = 5010 }; Id = 'L2tp.InvalidTunnelId' }
        @{ Why = 'a tunnel id already in use'; Change = @{ TunnelId = 3000; SourcePort = 5011 }; Id = 'L2tp.TunnelExists' }
    ) {
        $p = Get-TunnelArgs
        foreach ($k in $Change.Keys) { $p[$k] = $Change[$k] }
        { New-L2tpTunnel @p -ErrorAction Stop } | Should -Throw -ErrorId "$Id,*"
    }

    It 'a -SourcePort where another process holds a UDP socket gives L2tp.PortInUse' {
        $holder = Start-LabUdpSocket -Namespace $A -Address 192.0.2.1 -Port 5099
        try {
            $withHolder = Get-State   # includes the holder's socket
            $p = Get-TunnelArgs -TunnelId 3015 -SourcePort 5099
            $out = New-L2tpTunnel @p -ErrorVariable err -ErrorAction SilentlyContinue
            $out | Should -BeNullOrEmpty
            Assert-LabL2tpError $err -Id 'L2tp.PortInUse' -Category ResourceExists -Target 5099
            Assert-LabL2tpState -Namespace $A -Expected $withHolder -Backend $Backend
        }
        finally {
            Stop-LabUdpSocket -Process $holder
        }
    }

    It 'Remove-L2tpTunnel and Get-L2tpTunnel of a tunnel that does not exist give L2tp.TunnelNotFound' {
        Remove-L2tpTunnel -Backend $Backend -netns $A -TunnelId 3999 -ErrorVariable err -ErrorAction SilentlyContinue
        Assert-LabL2tpError $err -Id 'L2tp.TunnelNotFound' -Category ObjectNotFound -Target 3999
        $out = Get-L2tpTunnel -Backend $Backend -netns $A -TunnelId 3999 -ErrorVariable err2 -ErrorAction SilentlyContinue
        $out | Should -BeNullOrEmpty
        Assert-LabL2tpError $err2 -Id 'L2tp.TunnelNotFound' -Category ObjectNotFound -Target 3999
    }

    It 'a -NetworkNamespace that does not exist gives L2tp.NetworkNamespaceNotFound' {
        $out = Get-L2tpTunnel -Backend $Backend -NetworkNamespace 'l2tpT-no-such-ns' -ErrorVariable err -ErrorAction SilentlyContinue
        $out | Should -BeNullOrEmpty
        Assert-LabL2tpError $err -Id 'L2tp.NetworkNamespaceNotFound' -Category ObjectNotFound -Target 'l2tpT-no-such-ns'
    }
}

Describe 'Remove-L2tpTunnel and pipeline binding' {
    BeforeEach { Clear-Tunnels }
    AfterAll { Clear-Tunnels }

    It 'New-L2tpTunnel | Remove-L2tpTunnel removes the tunnel it made' {
        New-FixtureTunnel -TunnelId 3020 -SourcePort 5020 | Remove-L2tpTunnel -ErrorAction Stop
        Test-TunnelGone $A 3020 5020 | Should -BeTrue
        @(Get-L2tpTunnel -Backend $Backend -NetworkNamespace $A -ErrorAction Stop).Count | Should -Be 0
        (Get-LabUdpSocket -Namespace $A).Local | Should -Not -Contain '192.0.2.1:5020'
    }

    It 'Get-L2tpTunnel -TunnelId X -netns A | Remove-L2tpTunnel removes only that tunnel' {
        New-FixtureTunnel -TunnelId 3021 -SourcePort 5021 | Out-Null
        New-FixtureTunnel -TunnelId 3022 -SourcePort 5022 | Out-Null
        Get-L2tpTunnel -Backend $Backend -TunnelId 3021 -netns $A -ErrorAction Stop | Remove-L2tpTunnel -ErrorAction Stop
        Test-TunnelGone $A 3021 5021 | Should -BeTrue
        (Get-L2tpTunnel -Backend $Backend -netns $A -ErrorAction Stop).TunnelId | Should -Be @(3022)
        $sockets = (Get-LabUdpSocket -Namespace $A).Local
        $sockets | Should -Not -Contain '192.0.2.1:5021'
        $sockets | Should -Contain '192.0.2.1:5022'
    }

    It 'refuses a tunnel with sessions (L2tp.TunnelHasSessions) and keeps it and its session' {
        New-FixtureTunnel -TunnelId 3023 -SourcePort 5023 | New-L2tpSession -SessionId 1000 -PeerSessionId 2000 -ErrorAction Stop | Out-Null
        $before = Get-State
        Remove-L2tpTunnel -Backend $Backend -TunnelId 3023 -netns $A -ErrorVariable err -ErrorAction SilentlyContinue
        Assert-LabL2tpError $err -Id 'L2tp.TunnelHasSessions' -Category InvalidOperation -Target 3023
        Assert-LabL2tpState -Namespace $A -Expected $before -Backend $Backend -Because 'a refused Remove-L2tpTunnel must change nothing'
        (Get-L2tpSession -Backend $Backend -TunnelId 3023 -netns $A -ErrorAction Stop).SessionId | Should -Be 1000
    }

    It '-WhatIf on New-L2tpTunnel, New-L2tpSession, Remove-L2tpSession and Remove-L2tpTunnel -Force changes nothing' {
        New-FixtureTunnel | New-L2tpSession -SessionId 1000 -PeerSessionId 2000 -ErrorAction Stop | Out-Null
        $before = Get-State
        $p = Get-TunnelArgs -TunnelId 3002 -SourcePort 5002
        New-L2tpTunnel @p -WhatIf | Should -BeNullOrEmpty
        New-L2tpSession -Backend $Backend -netns $A -TunnelId 3000 -SessionId 1002 -PeerSessionId 2002 -WhatIf | Should -BeNullOrEmpty
        Remove-L2tpSession -Backend $Backend -netns $A -TunnelId 3000 -SessionId 1000 -WhatIf
        Remove-L2tpTunnel -Backend $Backend -netns $A -TunnelId 3000 -Force -WhatIf
        Assert-LabL2tpState -Namespace $A -Expected $before -Backend $Backend -Because '-WhatIf must not reach the backend'
    }

    It 'removes a tunnel with sessions with -Force, with its interfaces and its socket, and keeps the others' {
        $s = New-FixtureTunnel -TunnelId 3024 -SourcePort 5024 | New-L2tpSession -SessionId 1000 -PeerSessionId 2000 -ErrorAction Stop
        New-FixtureTunnel -TunnelId 3025 -SourcePort 5025 | New-L2tpSession -SessionId 1100 -PeerSessionId 2100 -ErrorAction Stop | Out-Null
        Get-LabLinkName -Namespace $A | Should -Contain $s.InterfaceName
        Remove-L2tpTunnel -Backend $Backend -TunnelId 3024 -netns $A -Force -ErrorAction Stop
        Test-TunnelGone $A 3024 5024 | Should -BeTrue -Because 'tunnel 3024 and UDP port 5024 should be let go'
        (Get-L2tpTunnel -Backend $Backend -netns $A -ErrorAction Stop).TunnelId | Should -Be @(3025)
        (Get-L2tpSession -Backend $Backend -netns $A -ErrorAction Stop).SessionId | Should -Be @(1100)
        @(Get-LabIpL2tp $A session | Where-Object tunnel_id -EQ 3024).Count | Should -Be 0
        Get-LabLinkName -Namespace $A | Should -Not -Contain $s.InterfaceName
        (Get-LabUdpSocket -Namespace $A).Local | Should -Not -Contain '192.0.2.1:5024'
    }

    It 'Get-L2tpTunnel -netns A | Remove-L2tpTunnel -Force removes every tunnel, session interface and socket' {
        New-FixtureTunnel -TunnelId 3025 -SourcePort 5025 | New-L2tpSession -SessionId 1000 -PeerSessionId 2000 -ErrorAction Stop | Out-Null
        New-FixtureTunnel -TunnelId 3026 -SourcePort 5026 | Out-Null
        Get-L2tpTunnel -Backend $Backend -netns $A -ErrorAction Stop | Remove-L2tpTunnel -Force -ErrorAction Stop
        Test-TunnelGone $A 3025, 3026 5025, 5026 | Should -BeTrue
        Get-LabLinkName -Namespace $A | Should -Not -Match '^l2tpeth'
        @(Get-LabUdpSocket -Namespace $A).Count | Should -Be 0
        @(Get-L2tpTunnel -Backend $Backend -netns $A -ErrorAction Stop).Count | Should -Be 0
    }

    It 'the forwarder exits once Remove-L2tpTunnel has removed its last tunnel' -Skip:($Backend -ne 'Managed') {
        New-FixtureTunnel -TunnelId 3025 -SourcePort 5025 | New-L2tpSession -SessionId 1000 -PeerSessionId 2000 -ErrorAction Stop | Out-Null
        New-FixtureTunnel -TunnelId 3026 -SourcePort 5026 | Out-Null
        $fw = @(Get-LabNamespaceProcess -Namespace $A -CommandLinePattern 'l2tp-forwarder')
        $fw.Count | Should -Be 1
        Get-L2tpTunnel -Backend $Backend -netns $A -ErrorAction Stop | Remove-L2tpTunnel -Force -ErrorAction Stop
        Wait-LabCondition -TimeoutSeconds 5 { -not (Test-LabProcessAlive $fw[0].Id) } |
            Should -BeTrue -Because "the forwarder (pid $($fw[0].Id)) should exit once its last tunnel is gone"
    }

    It 'Remove-L2tpTunnel returns once the tunnel is deleted: Get-L2tpTunnel and a new tunnel with its id right after' {
        # The kernel's TUNNEL_DELETE only queues the deletion (l2tp_tunnel_delete -> del_work on l2tp_wq) and acks
        # at once; ip l2tp del tunnel is the same, but a cmdlet should return with the tunnel gone. Timing-dependent:
        # it fails only in rounds where the work item has not run yet. So with Kernel it runs in the caller's own
        # namespace (the guest's root, on its NIC's 192.0.2.2), where no setns per cmdlet gives the kernel time,
        # with a session whose teardown (unregister_netdev) comes just before.
        $site = if ($Backend -eq 'Kernel') { @{ NetworkNamespace = ''; Local = '192.0.2.2'; Remote = '192.0.2.1' } } else { @{ NetworkNamespace = $A; Local = '192.0.2.1'; Remote = '192.0.2.2' } }
        $ns = $site.NetworkNamespace
        $where = @{}; if ($ns) { $where.NetworkNamespace = $ns }
        $stale = 0; $failed = @(); $rounds = 12
        for ($i = 1; $i -le $rounds; $i++) {
            $t = New-L2tpTunnel -Backend $Backend @where -TunnelId 3300 -PeerTunnelId 4300 -Local $site.Local -Remote $site.Remote -SourcePort 5300 -DestinationPort 6300 -ErrorVariable e -ErrorAction SilentlyContinue
            if ($e) {
                $failed += "round ${i}: $($e[0].FullyQualifiedErrorId)"
                $null = Wait-LabL2tpTunnelGone $ns 3300 5300 -Backend $Backend
                continue
            }
            $t | New-L2tpSession -SessionId 1300 -PeerSessionId 2300 -Name l2tpT-async0 -ErrorAction Stop | Out-Null
            Remove-L2tpTunnel -Backend $Backend @where -TunnelId 3300 -Force -ErrorAction Stop
            if (@(Get-L2tpTunnel -Backend $Backend @where -ErrorAction Stop | Where-Object TunnelId -EQ 3300).Count) { $stale++ }
        }
        $null = Wait-LabL2tpTunnelGone $ns 3300 5300 -Backend $Backend
        "Get-L2tpTunnel right after Remove-L2tpTunnel still listed the tunnel in $stale of $rounds rounds; New-L2tpTunnel with the id just removed failed $($failed.Count) times ($($failed -join '; '))" |
            Should -Be "Get-L2tpTunnel right after Remove-L2tpTunnel still listed the tunnel in 0 of $rounds rounds; New-L2tpTunnel with the id just removed failed 0 times ()"
    }

    It 'objects carry NetworkNamespace, so one pipeline serves two namespaces' {
        New-FixtureTunnel -TunnelId 3028 -SourcePort 5028 | Out-Null
        New-L2tpTunnel -Backend $Backend -netns $B -TunnelId 4028 -PeerTunnelId 3028 -Local 192.0.2.2 -Remote 192.0.2.1 -SourcePort 6028 -DestinationPort 5028 -ErrorAction Stop | Out-Null
        $both = @(Get-L2tpTunnel -Backend $Backend -netns $A -ErrorAction Stop) + @(Get-L2tpTunnel -Backend $Backend -netns $B -ErrorAction Stop)
        ($both | ForEach-Object { "$($_.NetworkNamespace)/$($_.TunnelId)" }) | Should -Be @("$A/3028", "$B/4028")
        $both | Remove-L2tpTunnel -ErrorAction Stop
        Test-TunnelGone $A 3028 5028 | Should -BeTrue
        Test-TunnelGone $B 4028 6028 | Should -BeTrue
        @(Get-L2tpTunnel -Backend $Backend -netns $A -ErrorAction Stop).Count | Should -Be 0
        @(Get-L2tpTunnel -Backend $Backend -netns $B -ErrorAction Stop).Count | Should -Be 0
    }
}

# With Kernel the same refusal (EPERM from the kernel) is checked in the kernel lab, whose unprivileged pwsh runs
# alongside the guest's tests (tests/lab/kernel/guest/KernelLab.Guest.Tests.ps1).
Describe 'Without root' -Skip:($Backend -ne 'Managed') {
    BeforeAll {
        Import-Module (Join-Path $PSScriptRoot '../lab/Caller.psm1') -Force
        Clear-Tunnels
        New-FixtureTunnel | Out-Null   # the forwarder now runs in $A
        $CallerHome = New-LabCallerHome -ModulePath $ModulePath
    }
    AfterAll {
        Clear-Tunnels
        if (Get-Command Remove-LabCallerHome -ErrorAction Ignore) { Remove-LabCallerHome -CallerHome $CallerHome }
    }

    It 'New-L2tpTunnel -NetworkNamespace from an unprivileged pwsh gives L2tp.PermissionDenied and changes nothing' {
        @(Get-LabNamespaceProcess -Namespace $A -CommandLinePattern 'l2tp-forwarder').Count | Should -Be 1
        $before = Get-State
        $res = Invoke-LabCaller -CallerHome $CallerHome -Namespace '' -As Nobody -Script "New-L2tpTunnel -NetworkNamespace '$A' -TunnelId 3900 -PeerTunnelId 4900 -Local 192.0.2.1 -Remote 192.0.2.2 -SourcePort 5900 -DestinationPort 6900"
        $res.Ok | Should -BeFalse -Because 'an unprivileged caller must not create a tunnel'
        $res.Id | Should -Match '^L2tp\.PermissionDenied(,|$)' -Because "the child got: $($res.Message)"
        $res.Category | Should -Be 'PermissionDenied'
        $res.Target | Should -Be $A
        Assert-LabL2tpState -Namespace $A -Expected $before -Backend $Backend -Because 'a refused caller must change nothing'
        @(Get-LabNamespaceProcess -Namespace $A -CommandLinePattern 'l2tp-forwarder').Count | Should -Be 1
    }
}

# iproute2 reads the kernel's own state: only the Kernel backend has something to compare with it.
Describe 'ip l2tp and the cmdlets agree on tunnels' -Skip:($Backend -ne 'Kernel') {
    BeforeEach { Clear-Tunnels }
    AfterAll { Clear-Tunnels }

    It 'tunnels made by New-L2tpTunnel show in ip l2tp show tunnel with identical fields' {
        New-L2tpTunnel -Backend $Backend -netns $A -TunnelId 3000 -PeerTunnelId 4000 -Local 192.0.2.1 -Remote 192.0.2.2 -SourcePort 5000 -DestinationPort 6000 -UdpChecksum on -ErrorAction Stop | Out-Null
        New-L2tpTunnel -Backend $Backend -netns $A -TunnelId 3001 -PeerTunnelId 4001 -Local 192.0.2.1 -Remote 192.0.2.2 -SourcePort 5001 -DestinationPort 6001 -ErrorAction Stop | Out-Null
        New-L2tpTunnel -Backend $Backend -netns $A -TunnelId 3005 -PeerTunnelId 4005 -Local 2001:db8::1 -Remote 2001:db8::2 -SourcePort 5005 -DestinationPort 6005 -Udp6ChecksumTx off -ErrorAction Stop | Out-Null
        New-L2tpTunnel -Backend $Backend -netns $A -TunnelId 3004 -PeerTunnelId 4004 -Encapsulation Ip -Local 192.0.2.1 -Remote 192.0.2.2 -ErrorAction Stop | Out-Null
        New-L2tpTunnel -Backend $Backend -netns $A -TunnelId 3006 -PeerTunnelId 4006 -Local any -Remote 192.0.2.2 -SourcePort 5006 -DestinationPort 6006 -ErrorAction Stop | Out-Null
        $ip = @(Get-LabIpL2tp $A tunnel)
        $ours = @(Get-L2tpTunnel -Backend $Backend -netns $A -ErrorAction Stop)
        ($ip.tunnel_id | Sort-Object) | Should -Be @(3000, 3001, 3004, 3005, 3006)
        ($ours.TunnelId | Sort-Object) | Should -Be @(3000, 3001, 3004, 3005, 3006)
        foreach ($t in $ours) {
            $i = $ip | Where-Object tunnel_id -EQ $t.TunnelId
            $why = "tunnel $($t.TunnelId): ip l2tp says $($i | ConvertTo-Json -Compress)"
            $i.encap | Should -Be $t.Encapsulation.ToString().ToUpperInvariant() -Because $why
            $i.local | Should -Be "$($t.Local)" -Because $why
            $i.peer | Should -Be "$($t.Remote)" -Because $why
            $i.peer_tunnel | Should -Be $t.PeerTunnelId -Because $why
            if ($t.Encapsulation -eq 'Udp') {
                $i.local_port | Should -Be $t.SourcePort -Because $why
                $i.peer_port | Should -Be $t.DestinationPort -Because $why
                if ($t.Local.AddressFamily -eq 'InterNetworkV6') {
                    $i.checksum_tx | Should -Be $t.Udp6ChecksumTx -Because $why
                    $i.checksum_rx | Should -Be $t.Udp6ChecksumRx -Because $why
                }
                else {
                    $i.checksum | Should -Be $t.UdpChecksum -Because $why
                }
            }
            else {
                $i.PSObject.Properties.Name | Should -Not -Contain 'local_port' -Because $why
            }
        }
        (Get-LabIpL2tp $A tunnel | Where-Object tunnel_id -EQ 3005).checksum_tx | Should -BeFalse
        (Get-LabIpL2tp $A tunnel | Where-Object tunnel_id -EQ 3000).checksum | Should -BeTrue
        (Get-LabIpL2tp $A tunnel | Where-Object tunnel_id -EQ 3004).encap | Should -Be 'IP'
    }

    It 'tunnels made by ip l2tp add tunnel show in Get-L2tpTunnel with identical fields' {
        Invoke-LabIpBatch $A @'
l2tp add tunnel tunnel_id 3100 peer_tunnel_id 4100 encap udp local 192.0.2.1 remote 192.0.2.2 udp_sport 5100 udp_dport 6100 udp_csum on
l2tp add tunnel tunnel_id 3101 peer_tunnel_id 4101 encap udp local 2001:db8::1 remote 2001:db8::2 udp_sport 5101 udp_dport 6101 udp6_csum_tx off udp6_csum_rx off
l2tp add tunnel tunnel_id 3102 peer_tunnel_id 4102 encap ip local 192.0.2.1 remote 192.0.2.2
'@
        $t = @(Get-L2tpTunnel -Backend $Backend -netns $A -ErrorAction Stop)
        ($t.TunnelId | Sort-Object) | Should -Be @(3100, 3101, 3102)
        $u = $t | Where-Object TunnelId -EQ 3100
        $u.PeerTunnelId | Should -Be 4100
        $u.Encapsulation | Should -Be ([L2tp.Encapsulation]::Udp)
        "$($u.Local)" | Should -Be '192.0.2.1'
        "$($u.Remote)" | Should -Be '192.0.2.2'
        $u.SourcePort | Should -Be 5100
        $u.DestinationPort | Should -Be 6100
        $u.UdpChecksum | Should -BeTrue
        $u.Backend | Should -Be ([L2tp.BackendKind]::Kernel)
        $u.NetworkNamespace | Should -Be $A
        $v = $t | Where-Object TunnelId -EQ 3101
        $v.PeerTunnelId | Should -Be 4101
        "$($v.Local)" | Should -Be '2001:db8::1'
        "$($v.Remote)" | Should -Be '2001:db8::2'
        $v.SourcePort | Should -Be 5101
        $v.DestinationPort | Should -Be 6101
        $v.Udp6ChecksumTx | Should -BeFalse
        $v.Udp6ChecksumRx | Should -BeFalse
        $w = $t | Where-Object TunnelId -EQ 3102
        $w.PeerTunnelId | Should -Be 4102
        $w.Encapsulation | Should -Be ([L2tp.Encapsulation]::Ip)
        "$($w.Local)" | Should -Be '192.0.2.1'
        "$($w.Remote)" | Should -Be '192.0.2.2'
        $w.SourcePort | Should -Be 0
        $w.DestinationPort | Should -Be 0
    }

    It 'Remove-L2tpTunnel -Force removes a tunnel made by ip l2tp, with its sessions and interfaces' {
        Invoke-LabIpBatch $A @'
l2tp add tunnel tunnel_id 3100 peer_tunnel_id 4100 encap udp local 192.0.2.1 remote 192.0.2.2 udp_sport 5100 udp_dport 6100
l2tp add session tunnel_id 3100 session_id 1100 peer_session_id 2100 name pw-ip0
l2tp add session tunnel_id 3100 session_id 1101 peer_session_id 2101 name pw-ip1
'@
        Get-L2tpTunnel -Backend $Backend -netns $A -TunnelId 3100 -ErrorAction Stop | Remove-L2tpTunnel -Force -ErrorAction Stop
        @(Get-LabIpL2tp $A session).Count | Should -Be 0 -Because 'the sessions go first, synchronously'
        Test-TunnelGone $A 3100 5100 | Should -BeTrue -Because 'ip l2tp should stop listing tunnel 3100 and port 5100 should be free'
        Get-LabLinkName -Namespace $A | Should -Not -Contain 'pw-ip0'
        Get-LabLinkName -Namespace $A | Should -Not -Contain 'pw-ip1'
    }
}
