#Requires -Version 7.2
# Pester 5 tests of New-/Get-/Remove-L2tpTunnel against real network namespaces (needs root).
# Underlay: 192.0.2.1/24 and 2001:db8::1/64 (namespace $A, veth0) <-> 192.0.2.2/24 and 2001:db8::2/64 ($B, veth0).

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot '../lab/Lab.psm1') -Force
    $ModulePath = [System.IO.Path]::GetFullPath((Join-Path $PSScriptRoot '../../out/L2tp/L2tp.psd1'))
    Import-Module $ModulePath -Force

    $A = New-LabNamespace -Prefix 'l2tpT-a'
    $B = New-LabNamespace -Prefix 'l2tpT-b'
    New-LabVethPair -Namespace $A -Peer $B -Address 192.0.2.1/24 -PeerAddress 192.0.2.2/24 | Out-Null
    Invoke-LabNs $A 'ip addr add 2001:db8::1/64 dev veth0 nodad' | Out-Null
    Invoke-LabNs $B 'ip addr add 2001:db8::2/64 dev veth0 nodad' | Out-Null

    # The parameters of the UDP tunnel most tests start from, as a hashtable to splat; a test overrides what it is about.
    function Get-TunnelArgs {
        param(
            [uint32]$TunnelId = 3000, [uint16]$SourcePort = 5000, [uint32]$PeerTunnelId = 4000,
            [string]$Local = '192.0.2.1', [string]$Remote = '192.0.2.2', [uint16]$DestinationPort = 6000
        )
        @{
            NetworkNamespace = $A
            TunnelId         = $TunnelId
            PeerTunnelId     = $PeerTunnelId
            Local            = $Local
            Remote           = $Remote
            SourcePort       = $SourcePort
            DestinationPort  = $DestinationPort
        }
    }
}

AfterAll {
    if (Get-Command Remove-LabL2tpConfig -ErrorAction Ignore) { Remove-LabL2tpConfig -Namespace $A, $B }
    if (Get-Command Remove-LabNamespace -ErrorAction Ignore) { Remove-LabNamespace -Name $A, $B }
}

Describe 'New-L2tpTunnel' {
    AfterEach { Remove-LabL2tpConfig -Namespace $A }

    It 'creates a UDP tunnel and returns an L2tp.L2tpTunnel with every field set' {
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
        $t.UdpChecksum | Should -BeFalse
        $t.Backend | Should -Be ([L2tp.BackendKind]::Managed)
        $t.NetworkNamespace | Should -Be $A
        $t.Statistics | Should -BeOfType ([L2tp.L2tpStatistics])
        $t.Statistics.TxPackets | Should -Be 0
        $t.Statistics.RxPackets | Should -Be 0
    }

    It 'binds the UDP socket on Local:SourcePort inside the namespace, not outside it' {
        $p = Get-TunnelArgs
        New-L2tpTunnel @p -ErrorAction Stop | Out-Null
        (Get-LabUdpSocket -Namespace $A).Local | Should -Contain '192.0.2.1:5000'
        (Get-LabUdpSocket -Namespace $B).Local | Should -Not -Contain '192.0.2.1:5000'
        (Invoke-LabNs '' 'ss -uanH') | Should -Not -Match '192\.0\.2\.1:5000'
    }

    It 'starts one l2tp-forwarder process inside the namespace' {
        $p = Get-TunnelArgs
        New-L2tpTunnel @p -ErrorAction Stop | Out-Null
        $p = Get-TunnelArgs -TunnelId 3001 -SourcePort 5001
        New-L2tpTunnel @p -ErrorAction Stop | Out-Null
        @(Get-LabNamespaceProcess -Namespace $A -CommandLinePattern 'l2tp-forwarder').Count | Should -Be 1
        @(Get-LabNamespaceProcess -Namespace $B -CommandLinePattern 'l2tp-forwarder').Count | Should -Be 0
    }

    It 'is returned by Get-L2tpTunnel with the same fields' {
        $p = Get-TunnelArgs
        New-L2tpTunnel @p -ErrorAction Stop | Out-Null
        $p = Get-TunnelArgs -TunnelId 3001 -SourcePort 5001
        New-L2tpTunnel @p -ErrorAction Stop | Out-Null
        $all = @(Get-L2tpTunnel -NetworkNamespace $A -ErrorAction Stop)
        ($all.TunnelId | Sort-Object) | Should -Be @(3000, 3001)
        $g = Get-L2tpTunnel -TunnelId 3001 -NetworkNamespace $A -ErrorAction Stop
        @($g).Count | Should -Be 1
        $g | Should -BeOfType ([L2tp.L2tpTunnel])
        $g.TunnelId | Should -Be 3001
        $g.PeerTunnelId | Should -Be 4000
        "$($g.Local)" | Should -Be '192.0.2.1'
        "$($g.Remote)" | Should -Be '192.0.2.2'
        $g.SourcePort | Should -Be 5001
        $g.DestinationPort | Should -Be 6000
        $g.Backend | Should -Be ([L2tp.BackendKind]::Managed)
        $g.NetworkNamespace | Should -Be $A
        @(Get-L2tpTunnel -NetworkNamespace $B -ErrorAction Stop).Count | Should -Be 0
    }

    It 'takes the ip-l2tp words: -tunnel_id -peer_tunnel_id -encap -local -remote -udp_sport -udp_dport -udp_csum' {
        $t = New-L2tpTunnel -netns $A -tunnel_id 3002 -peer_tunnel_id 4002 -encap udp -local 192.0.2.1 -remote 192.0.2.2 `
            -udp_sport 5002 -udp_dport 6002 -udp_csum on -ErrorAction Stop
        $t.TunnelId | Should -Be 3002
        $t.PeerTunnelId | Should -Be 4002
        $t.Encapsulation | Should -Be ([L2tp.Encapsulation]::Udp)
        $t.SourcePort | Should -Be 5002
        $t.DestinationPort | Should -Be 6002
        $t.UdpChecksum | Should -BeTrue
        (Get-L2tpTunnel -netns $A -TunnelId 3002 -ErrorAction Stop).UdpChecksum | Should -BeTrue
        $u = New-L2tpTunnel -netns $A -tunnel_id 3003 -peer_tunnel_id 4003 -encap udp -local 192.0.2.1 -remote 192.0.2.2 `
            -udp_sport 5003 -udp_dport 6003 -udp_csum off -ErrorAction Stop
        $u.UdpChecksum | Should -BeFalse
    }

    It 'creates an IPv6 tunnel and keeps -udp6_csum_tx off -udp6_csum_rx off' {
        $t = New-L2tpTunnel -netns $A -tunnel_id 3005 -peer_tunnel_id 4005 -encap udp -local 2001:db8::1 -remote 2001:db8::2 `
            -udp_sport 5005 -udp_dport 6005 -udp6_csum_tx off -udp6_csum_rx off -ErrorAction Stop
        "$($t.Local)" | Should -Be '2001:db8::1'
        "$($t.Remote)" | Should -Be '2001:db8::2'
        $t.Udp6ChecksumTx | Should -BeFalse
        $t.Udp6ChecksumRx | Should -BeFalse
        $g = Get-L2tpTunnel -netns $A -TunnelId 3005 -ErrorAction Stop
        $g.Udp6ChecksumTx | Should -BeFalse
        $g.Udp6ChecksumRx | Should -BeFalse
        (Get-LabUdpSocket -Namespace $A).Local | Should -Contain '[2001:db8::1]:5005'
        $d = New-L2tpTunnel -netns $A -TunnelId 3006 -PeerTunnelId 4006 -Local 2001:db8::1 -Remote 2001:db8::2 -SourcePort 5006 -DestinationPort 6006 -ErrorAction Stop
        $d.Udp6ChecksumTx | Should -BeTrue -Because 'IPv6 UDP checksums are on by default'
        $d.Udp6ChecksumRx | Should -BeTrue
    }

    It 'accepts -Local any, reports 0.0.0.0 and binds SourcePort' {
        $p = Get-TunnelArgs -Local any
        $t = New-L2tpTunnel @p -ErrorAction Stop
        "$($t.Local)" | Should -Be '0.0.0.0'
        "$((Get-L2tpTunnel -netns $A -TunnelId 3000 -ErrorAction Stop).Local)" | Should -Be '0.0.0.0'
        # Bound to the wildcard; a socket connected to the peer shows the source address the route picked.
        @((Get-LabUdpSocket -Namespace $A).Local -match '^(0\.0\.0\.0|192\.0\.2\.1):5000$').Count | Should -Be 1
    }

    It 'creates an IP-encapsulated tunnel (no UDP ports)' {
        $t = New-L2tpTunnel -netns $A -TunnelId 3004 -PeerTunnelId 4004 -Encapsulation Ip -Local 192.0.2.1 -Remote 192.0.2.2 -ErrorAction Stop
        $t.Encapsulation | Should -Be ([L2tp.Encapsulation]::Ip)
        $t.SourcePort | Should -Be 0
        $t.DestinationPort | Should -Be 0
        (Get-L2tpTunnel -netns $A -TunnelId 3004 -ErrorAction Stop).Encapsulation | Should -Be ([L2tp.Encapsulation]::Ip)
    }
}

Describe 'New-L2tpTunnel refuses bad input and leaves nothing behind' {
    BeforeAll {
        Remove-LabL2tpConfig -Namespace $A
        # An existing tunnel, so the forwarder runs and there is something to collide with.
        $p = Get-TunnelArgs
        New-L2tpTunnel @p -ErrorAction Stop | Out-Null
    }
    AfterAll { Remove-LabL2tpConfig -Namespace $A }

    BeforeEach { $before = Get-LabL2tpState -Namespace $A }
    AfterEach { Assert-LabL2tpState -Namespace $A -Expected $before }

    It 'TunnelId 0 gives L2tp.InvalidTunnelId' {
        $p = Get-TunnelArgs -TunnelId 0 -SourcePort 5010
        $out = New-L2tpTunnel @p -ErrorVariable err -ErrorAction SilentlyContinue
        $out | Should -BeNullOrEmpty
        Assert-LabL2tpError $err -Id 'L2tp.InvalidTunnelId' -Category InvalidArgument -Target 0
    }

    It 'PeerTunnelId 0 gives L2tp.InvalidTunnelId' {
        $p = Get-TunnelArgs -TunnelId 3010 -SourcePort 5010 -PeerTunnelId 0
        $out = New-L2tpTunnel @p -ErrorVariable err -ErrorAction SilentlyContinue
        $out | Should -BeNullOrEmpty
        Assert-LabL2tpError $err -Id 'L2tp.InvalidTunnelId' -Category InvalidArgument -Target 0
    }

    It 'TunnelId 0 throws L2tp.InvalidTunnelId with -ErrorAction Stop' {
        $p = Get-TunnelArgs -TunnelId 0 -SourcePort 5010
        { New-L2tpTunnel @p -ErrorAction Stop } |
            Should -Throw -ErrorId 'L2tp.InvalidTunnelId,*'
    }

    It 'an id already in use gives L2tp.TunnelExists' {
        $p = Get-TunnelArgs -TunnelId 3000 -SourcePort 5011
        $out = New-L2tpTunnel @p -ErrorVariable err -ErrorAction SilentlyContinue
        $out | Should -BeNullOrEmpty
        Assert-LabL2tpError $err -Id 'L2tp.TunnelExists' -Category ResourceExists -Target 3000
    }

    It 'a -Local address not assigned in the namespace gives L2tp.AddressNotLocal' {
        $p = Get-TunnelArgs -TunnelId 3012 -SourcePort 5012 -Local 192.0.2.77
        $out = New-L2tpTunnel @p -ErrorVariable err -ErrorAction SilentlyContinue
        $out | Should -BeNullOrEmpty
        Assert-LabL2tpError $err -Id 'L2tp.AddressNotLocal' -Category InvalidArgument -Target '192.0.2.77'
    }

    It "-Local of namespace B's address (assigned elsewhere, not here) gives L2tp.AddressNotLocal" {
        $p = Get-TunnelArgs -TunnelId 3013 -SourcePort 5013 -Local 192.0.2.2 -Remote 192.0.2.1
        $out = New-L2tpTunnel @p -ErrorVariable err -ErrorAction SilentlyContinue
        $out | Should -BeNullOrEmpty
        Assert-LabL2tpError $err -Id 'L2tp.AddressNotLocal' -Category InvalidArgument -Target '192.0.2.2'
    }

    It 'a second tunnel on the same local address and -SourcePort gives L2tp.PortInUse' {
        $p = Get-TunnelArgs -TunnelId 3014 -SourcePort 5000
        $out = New-L2tpTunnel @p -ErrorVariable err -ErrorAction SilentlyContinue
        $out | Should -BeNullOrEmpty
        Assert-LabL2tpError $err -Id 'L2tp.PortInUse' -Category ResourceExists -Target 5000
    }

    It 'a -SourcePort where another process holds a UDP socket gives L2tp.PortInUse' {
        $holder = Start-LabUdpSocket -Namespace $A -Address 192.0.2.1 -Port 5099
        try {
            $withHolder = Get-LabL2tpState -Namespace $A   # includes the holder's socket
            $p = Get-TunnelArgs -TunnelId 3015 -SourcePort 5099
            $out = New-L2tpTunnel @p -ErrorVariable err -ErrorAction SilentlyContinue
            $out | Should -BeNullOrEmpty
            Assert-LabL2tpError $err -Id 'L2tp.PortInUse' -Category ResourceExists -Target 5099
            Assert-LabL2tpState -Namespace $A -Expected $withHolder
        }
        finally {
            Stop-LabUdpSocket -Process $holder
        }
    }

    It '-Local <Text> gives L2tp.InvalidAddress' -ForEach @(
        @{ Text = 'not-an-ip' }
        @{ Text = '192.0.2' }
        @{ Text = '192.0.2.300' }
    ) {
        $p = Get-TunnelArgs -TunnelId 3016 -SourcePort 5016 -Local $Text
        $out = New-L2tpTunnel @p -ErrorVariable err -ErrorAction SilentlyContinue
        $out | Should -BeNullOrEmpty
        Assert-LabL2tpError $err -Id 'L2tp.InvalidAddress' -Category InvalidArgument -Target $Text
    }

    It '-Remote <Text> gives L2tp.InvalidAddress' -ForEach @(
        @{ Text = 'peer.example' }
        @{ Text = '192.0.2' }
    ) {
        $p = Get-TunnelArgs -TunnelId 3017 -SourcePort 5017 -Remote $Text
        $out = New-L2tpTunnel @p -ErrorVariable err -ErrorAction SilentlyContinue
        $out | Should -BeNullOrEmpty
        Assert-LabL2tpError $err -Id 'L2tp.InvalidAddress' -Category InvalidArgument -Target $Text
    }
}

Describe 'Remove-L2tpTunnel and pipeline binding' {
    BeforeEach { Remove-LabL2tpConfig -Namespace $A }
    AfterAll { Remove-LabL2tpConfig -Namespace $A }

    It 'New-L2tpTunnel | Remove-L2tpTunnel removes the tunnel it made' {
        $p = Get-TunnelArgs -TunnelId 3020 -SourcePort 5020
        New-L2tpTunnel @p -ErrorAction Stop | Remove-L2tpTunnel -ErrorAction Stop
        @(Get-L2tpTunnel -NetworkNamespace $A -ErrorAction Stop).Count | Should -Be 0
        (Get-LabUdpSocket -Namespace $A).Local | Should -Not -Contain '192.0.2.1:5020'
    }

    It 'Get-L2tpTunnel -TunnelId X -netns A | Remove-L2tpTunnel removes only that tunnel' {
        $p = Get-TunnelArgs -TunnelId 3021 -SourcePort 5021
        New-L2tpTunnel @p -ErrorAction Stop | Out-Null
        $p = Get-TunnelArgs -TunnelId 3022 -SourcePort 5022
        New-L2tpTunnel @p -ErrorAction Stop | Out-Null
        Get-L2tpTunnel -TunnelId 3021 -netns $A -ErrorAction Stop | Remove-L2tpTunnel -ErrorAction Stop
        (Get-L2tpTunnel -netns $A -ErrorAction Stop).TunnelId | Should -Be @(3022)
        $sockets = (Get-LabUdpSocket -Namespace $A).Local
        $sockets | Should -Not -Contain '192.0.2.1:5021'
        $sockets | Should -Contain '192.0.2.1:5022'
    }

    It 'refuses a tunnel with sessions (L2tp.TunnelHasSessions) and keeps it and its session' {
        $p = Get-TunnelArgs -TunnelId 3023 -SourcePort 5023
        New-L2tpTunnel @p -ErrorAction Stop |
            New-L2tpSession -SessionId 1000 -PeerSessionId 2000 -ErrorAction Stop | Out-Null
        $before = Get-LabL2tpState -Namespace $A
        Remove-L2tpTunnel -TunnelId 3023 -netns $A -ErrorVariable err -ErrorAction SilentlyContinue
        Assert-LabL2tpError $err -Id 'L2tp.TunnelHasSessions' -Category InvalidOperation -Target 3023
        Assert-LabL2tpState -Namespace $A -Expected $before -Because 'a refused Remove-L2tpTunnel must change nothing'
        (Get-L2tpSession -TunnelId 3023 -netns $A -ErrorAction Stop).SessionId | Should -Be 1000
    }

    It 'removes a tunnel with sessions with -Force, and the session interface with it' {
        $p = Get-TunnelArgs -TunnelId 3024 -SourcePort 5024
        $s = New-L2tpTunnel @p -ErrorAction Stop |
            New-L2tpSession -SessionId 1000 -PeerSessionId 2000 -ErrorAction Stop
        Get-LabLinkName -Namespace $A | Should -Contain $s.InterfaceName
        Remove-L2tpTunnel -TunnelId 3024 -netns $A -Force -ErrorAction Stop
        @(Get-L2tpTunnel -netns $A -ErrorAction Stop).Count | Should -Be 0
        @(Get-L2tpSession -netns $A -ErrorAction Stop).Count | Should -Be 0
        Get-LabLinkName -Namespace $A | Should -Not -Contain $s.InterfaceName
        (Get-LabUdpSocket -Namespace $A).Local | Should -Not -Contain '192.0.2.1:5024'
    }

    It 'Get-L2tpTunnel -netns A | Remove-L2tpTunnel -Force removes every tunnel, and the forwarder exits' {
        $p = Get-TunnelArgs -TunnelId 3025 -SourcePort 5025
        New-L2tpTunnel @p -ErrorAction Stop |
            New-L2tpSession -SessionId 1000 -PeerSessionId 2000 -ErrorAction Stop | Out-Null
        $p = Get-TunnelArgs -TunnelId 3026 -SourcePort 5026
        New-L2tpTunnel @p -ErrorAction Stop | Out-Null
        $fw = @(Get-LabNamespaceProcess -Namespace $A -CommandLinePattern 'l2tp-forwarder')
        $fw.Count | Should -Be 1
        Get-L2tpTunnel -netns $A -ErrorAction Stop | Remove-L2tpTunnel -Force -ErrorAction Stop
        Get-LabLinkName -Namespace $A | Should -Not -Match '^l2tpeth'
        @(Get-LabUdpSocket -Namespace $A).Count | Should -Be 0
        Wait-LabCondition -TimeoutSeconds 5 { -not (Test-LabProcessAlive $fw[0].Id) } |
            Should -BeTrue -Because "the forwarder (pid $($fw[0].Id)) should exit once its last tunnel is gone"
        @(Get-L2tpTunnel -netns $A -ErrorAction Stop).Count | Should -Be 0
    }

    It 'Remove-L2tpTunnel of a tunnel that does not exist gives L2tp.TunnelNotFound' {
        $p = Get-TunnelArgs -TunnelId 3027 -SourcePort 5027
        New-L2tpTunnel @p -ErrorAction Stop | Out-Null
        $before = Get-LabL2tpState -Namespace $A
        Remove-L2tpTunnel -TunnelId 3999 -netns $A -ErrorVariable err -ErrorAction SilentlyContinue
        Assert-LabL2tpError $err -Id 'L2tp.TunnelNotFound' -Category ObjectNotFound -Target 3999
        Assert-LabL2tpState -Namespace $A -Expected $before -Because 'removing a missing tunnel must change nothing'
    }

    It 'objects carry NetworkNamespace, so one pipeline serves two namespaces' {
        $p = Get-TunnelArgs -TunnelId 3028 -SourcePort 5028
        New-L2tpTunnel @p -ErrorAction Stop | Out-Null
        New-L2tpTunnel -netns $B -TunnelId 4028 -PeerTunnelId 3028 -Local 192.0.2.2 -Remote 192.0.2.1 -SourcePort 6028 -DestinationPort 5028 -ErrorAction Stop | Out-Null
        $both = @(Get-L2tpTunnel -netns $A -ErrorAction Stop) + @(Get-L2tpTunnel -netns $B -ErrorAction Stop)
        ($both | ForEach-Object { "$($_.NetworkNamespace)/$($_.TunnelId)" }) | Should -Be @("$A/3028", "$B/4028")
        $both | Remove-L2tpTunnel -ErrorAction Stop
        @(Get-L2tpTunnel -netns $A -ErrorAction Stop).Count | Should -Be 0
        @(Get-L2tpTunnel -netns $B -ErrorAction Stop).Count | Should -Be 0
    }
}

Describe 'Without root' {
    BeforeAll {
        Remove-LabL2tpConfig -Namespace $A
        $p = Get-TunnelArgs
        New-L2tpTunnel @p -ErrorAction Stop | Out-Null   # the forwarder now runs in $A

        # The child pwsh runs as nobody, so it gets readable copies: pwsh (under /root, mode 0700, in the NuGet
        # cache) hard-linked, and the built module copied.
        $Child = Join-Path ([System.IO.Path]::GetTempPath()) ('l2tp-nonroot-' + [guid]::NewGuid().ToString('N').Substring(0, 8))
        New-Item -ItemType Directory -Path $Child | Out-Null
        Invoke-LabNs '' "chmod 755 '$Child'" | Out-Null
        $r = Invoke-LabCommand -FilePath 'cp' -ArgumentList @('-al', $PSHOME, "$Child/pwsh")
        if ($r.ExitCode -ne 0) { Invoke-LabNs '' "rm -rf '$Child/pwsh' && cp -a '$PSHOME' '$Child/pwsh'" | Out-Null }
        Invoke-LabNs '' "cp -a '$(Split-Path $ModulePath)' '$Child/L2tp' && chmod -R a+rX '$Child/L2tp'" | Out-Null
        New-Item -ItemType Directory -Path "$Child/home" | Out-Null
        Invoke-LabNs '' "chown 65534:65534 '$Child/home'" | Out-Null
        Set-Content -Path "$Child/child.ps1" -Value @'
param([string]$ModulePath, [string]$Namespace)
$ErrorActionPreference = 'Stop'
try {
    Import-Module $ModulePath
    $t = New-L2tpTunnel -NetworkNamespace $Namespace -TunnelId 3900 -PeerTunnelId 4900 -Local 192.0.2.1 -Remote 192.0.2.2 -SourcePort 5900 -DestinationPort 6900 -ErrorAction Stop
    [pscustomobject]@{ Created = $true; Id = ''; Category = ''; Target = ''; Message = "$t" } | ConvertTo-Json -Compress
}
catch {
    [pscustomobject]@{
        Created = $false; Id = $_.FullyQualifiedErrorId; Category = "$($_.CategoryInfo.Category)"
        Target = "$($_.TargetObject)"; Message = $_.Exception.Message
    } | ConvertTo-Json -Compress
}
'@
        Invoke-LabNs '' "chmod 644 '$Child/child.ps1'" | Out-Null
    }
    AfterAll {
        Remove-LabL2tpConfig -Namespace $A
        if ($Child -and (Test-Path $Child)) { Remove-Item -Recurse -Force $Child }
    }

    It 'New-L2tpTunnel from an unprivileged pwsh gives L2tp.PermissionDenied and changes nothing' {
        @(Get-LabNamespaceProcess -Namespace $A -CommandLinePattern 'l2tp-forwarder').Count | Should -Be 1
        $before = Get-LabL2tpState -Namespace $A
        $dotnet = [Environment]::ProcessPath
        $r = Invoke-LabCommand -FilePath 'setpriv' -Environment @{ HOME = "$Child/home"; POWERSHELL_TELEMETRY_OPTOUT = '1'; POWERSHELL_UPDATECHECK = 'Off' } -ArgumentList @(
            '--reuid=65534', '--regid=65534', '--clear-groups', '--inh-caps=-all', '--',
            $dotnet, "$Child/pwsh/pwsh.dll", '-NoProfile', '-NonInteractive', '-File', "$Child/child.ps1",
            "$Child/L2tp/L2tp.psd1", $A)
        $json = ($r.StdOut -split "`n" | Where-Object { $_.StartsWith('{') } | Select-Object -Last 1)
        $json | Should -Not -BeNullOrEmpty -Because "the child printed: $($r.StdOut) $($r.StdErr)"
        $res = $json | ConvertFrom-Json
        $res.Created | Should -BeFalse -Because 'an unprivileged caller must not create a tunnel'
        $res.Id | Should -Match '^L2tp\.PermissionDenied(,|$)' -Because "the child got: $($res.Message)"
        $res.Category | Should -Be 'PermissionDenied'
        $res.Target | Should -Be $A
        Assert-LabL2tpState -Namespace $A -Expected $before -Because 'a refused caller must change nothing'
        @(Get-LabNamespaceProcess -Namespace $A -CommandLinePattern 'l2tp-forwarder').Count | Should -Be 1
    }
}
