#Requires -Version 7.2
# Guest side of tests/Pester/KernelBackend.Tests.ps1: Pester 5 tests of the six cmdlets with -Backend Kernel against
# a real Linux L2TP (l2tp_core, l2tp_netlink, l2tp_eth of Debian's kernel). It runs INSIDE the kernel lab guest
# (tests/lab/KernelLab.psm1), started by Invoke-KernelBackendGuest.ps1, which writes each test's result as JSON into
# the share for the host file to report. Anywhere else (no kernel lab, no L2TP in the kernel) every test is skipped.
#
# Guest network:
#   root namespace  $env:GUEST_NIC 192.0.2.2/24, facing the host's ktap0 192.0.2.1/24: the mixed pseudowire
#                   (kernel site-A here, managed site-B on the host; files in $env:KERNEL_LAB_SHARE/mixed).
#                   The host's lab script also made tunnel 3901 / session 1901 (kbt-fixture0) there with ip l2tp, and
#                   ran Invoke-UnprivilegedCmdlets.ps1 as nobody; its findings are in the share's unprivileged.json.
#   $A veth0 192.0.2.1/24 2001:db8::1/64  <->  $B veth0 192.0.2.2/24 2001:db8::2/64: everything else.
#
# The host lists this file's tests from its syntax tree at discovery time, so Describe and It names are plain
# single-quoted strings, never templates or -ForEach.
# The kernel deletes a tunnel asynchronously (a work item closes its sessions and socket), so Remove-L2tpTunnel can
# return while Get-L2tpTunnel and `ip l2tp` still list it; one test pins that, and every other test waits for the
# kernel (Wait-KernelTunnelGone) so that it fails only for its own reason.

BeforeDiscovery {
    $NotInGuest = -not ($env:KERNEL_LAB_SHARE -and (Test-Path -LiteralPath '/sys/module/l2tp_netlink') -and
        (Test-Path -LiteralPath '/sys/module/l2tp_eth'))
}

BeforeAll {
    $InGuest = $env:KERNEL_LAB_SHARE -and (Test-Path -LiteralPath '/sys/module/l2tp_netlink') -and (Test-Path -LiteralPath '/sys/module/l2tp_eth')
    if (-not $InGuest) { return }

    Import-Module (Join-Path $PSScriptRoot '../../Lab.psm1') -Force
    $ModulePath = if ($env:L2TP_MODULE_PATH) { $env:L2TP_MODULE_PATH } else {
        [System.IO.Path]::GetFullPath((Join-Path $PSScriptRoot '../../../../out/L2tp/L2tp.psd1'))
    }
    Import-Module $ModulePath -Force
    Remove-Item Env:L2TP_BACKEND -ErrorAction Ignore
    $Share = $env:KERNEL_LAB_SHARE

    $A = New-LabNamespace -Prefix 'kA'
    $B = New-LabNamespace -Prefix 'kB'
    New-LabVethPair -Namespace $A -Peer $B -Address 192.0.2.1/24 -PeerAddress 192.0.2.2/24 | Out-Null

    # The kernel tunnel most tests start from, as a hashtable to splat; a test overrides what it is about.
    function Get-TunnelArgs {
        param(
            [uint32]$TunnelId = 3000, [uint16]$SourcePort = 5000, [uint32]$PeerTunnelId = 4000,
            [string]$Local = '192.0.2.1', [string]$Remote = '192.0.2.2', [uint16]$DestinationPort = 6000
        )
        @{
            Backend          = 'Kernel'
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

    # `ip -j l2tp show tunnel|session` as objects (iproute2's own view of the kernel's tunnels and sessions).
    function Get-IpL2tp {
        param([AllowEmptyString()][string]$Namespace, [ValidateSet('tunnel', 'session')][string]$What)
        $text = (Invoke-Ip $Namespace @('-j', 'l2tp', 'show', $What)).Trim()
        if (-not $text) { return }
        foreach ($o in @($text | ConvertFrom-Json)) { $o }
    }

    # Helpers run one program each (ip -n, ss -N), not `ip netns exec ... sh -c`: under TCG every exec counts.
    function Invoke-Ip([AllowEmptyString()][string]$Namespace, [string[]]$Arguments) {
        $a = @(); if ($Namespace) { $a += @('-n', $Namespace) }
        $r = Invoke-LabCommand -FilePath 'ip' -ArgumentList ($a + $Arguments)
        if ($r.ExitCode -ne 0) { throw "ip $(($a + $Arguments) -join ' ') failed (exit $($r.ExitCode)): $($r.StdErr.Trim())" }
        $r.StdOut
    }

    # `ip -batch`: several ip commands (one per line, without the leading "ip") in one process.
    function Invoke-IpBatch([AllowEmptyString()][string]$Namespace, [string]$Commands) {
        $file = Join-Path ([System.IO.Path]::GetTempPath()) ('ip-batch-' + [guid]::NewGuid().ToString('N').Substring(0, 8))
        [System.IO.File]::WriteAllText($file, $Commands.Replace("`r`n", "`n") + "`n")
        try { $null = Invoke-Ip $Namespace @('-batch', $file) } finally { Remove-Item -LiteralPath $file -ErrorAction Ignore }
    }

    # Local address:port of every UDP socket in a namespace (`ss -uanH`). Not Get-LabUdpSocket: that throws
    # under StrictMode for a socket without an owning process, which kernel tunnel sockets are.
    function Get-UdpSocketLocal([AllowEmptyString()][string]$Namespace) {
        $a = @(); if ($Namespace) { $a += @('-N', $Namespace) }
        $r = Invoke-LabCommand -FilePath 'ss' -ArgumentList ($a + @('-uanH'))
        if ($r.ExitCode -ne 0) { throw "ss -uanH failed in '$Namespace': $($r.StdErr)" }
        foreach ($line in $r.StdOut -split "`n") {
            $f = @($line.Trim() -split '\s+')
            if ($f.Count -ge 5) { $f[3] }
        }
    }

    # Interface names in a namespace (as Get-LabLinkName, in one process).
    function Get-LinkName([AllowEmptyString()][string]$Namespace) {
        foreach ($line in (Invoke-Ip $Namespace @('-o', 'link', 'show')) -split "`n") {
            if ($line -match '^\d+:\s+([^:@\s]+)') { $Matches[1] }
        }
    }

    function Get-Mtu([string]$Namespace, [string]$Name) {
        if ((Invoke-Ip $Namespace @('-o', 'link', 'show', 'dev', $Name)) -notmatch ' mtu (\d+) ') { throw "no MTU for $Name in '$Namespace'" }
        [int]$Matches[1]
    }

    # A comparable snapshot for "nothing left behind": what the cmdlets report, what ip l2tp reports, interfaces and
    # UDP sockets, each as one sorted, comma-joined string.
    function Get-KernelState([AllowEmptyString()][string]$Namespace) {
        [pscustomobject]@{
            Tunnels    = @(Get-L2tpTunnel -Backend Kernel -NetworkNamespace $Namespace -ErrorAction Stop | ForEach-Object { "$($_.TunnelId)" } | Sort-Object) -join ','
            Sessions   = @(Get-L2tpSession -Backend Kernel -NetworkNamespace $Namespace -ErrorAction Stop |
                    ForEach-Object { "$($_.TunnelId)/$($_.SessionId)/$($_.InterfaceName)" } | Sort-Object) -join ','
            IpTunnels  = @(Get-IpL2tp $Namespace tunnel | ForEach-Object { "$($_.tunnel_id)" } | Sort-Object) -join ','
            IpSessions = @(Get-IpL2tp $Namespace session | ForEach-Object { "$($_.tunnel_id)/$($_.session_id)/$($_.interface)" } | Sort-Object) -join ','
            Links      = @(Get-LinkName $Namespace | Sort-Object) -join ','
            Sockets    = @(Get-UdpSocketLocal $Namespace | Sort-Object) -join ','
        }
    }

    function Assert-KernelState {
        param([AllowEmptyString()][string]$Namespace, [pscustomobject]$Expected, [string]$Because = 'a failed command must leave nothing behind')
        $now = Get-KernelState $Namespace
        foreach ($k in $Expected.PSObject.Properties.Name) {
            $now.$k | Should -Be $Expected.$k -Because "$Because ($k in namespace '$Namespace')"
        }
    }

    # Waits (up to 10 s) until the kernel no longer lists these tunnels nor holds their UDP ports; $true once so.
    # (A loop, not Wait-LabCondition: a closure would not see this file's functions.)
    function Wait-KernelTunnelGone {
        param([AllowEmptyString()][string]$Namespace, [uint32[]]$TunnelId, [uint16[]]$Port = @())
        $deadline = [DateTime]::UtcNow.AddSeconds(10)
        while ($true) {
            $listed = @(Get-IpL2tp $Namespace tunnel | ForEach-Object { [uint32]$_.tunnel_id })
            $bound = @(Get-UdpSocketLocal $Namespace | ForEach-Object { [int]($_ -replace '^.*:', '') })
            if (-not @($TunnelId | Where-Object { $_ -in $listed }).Count -and -not @($Port | Where-Object { [int]$_ -in $bound }).Count) { return $true }
            if ([DateTime]::UtcNow -gt $deadline) { return $false }
            Start-Sleep -Milliseconds 100
        }
    }

    # Pings from the guest's root namespace (Test-LabPing wants a namespace name); $true when all replies came.
    function Test-RootPing([string]$Address, [int]$Count = 3, [int]$Attempts = 3) {
        for ($i = 1; $i -le $Attempts; $i++) {
            $r = Invoke-LabCommand -FilePath 'ping' -ArgumentList @('-n', '-c', "$Count", '-W', '2', '-i', '0.2', $Address)
            if ($r.StdOut -match '(\d+) (packets )?received' -and [int]$Matches[1] -ge $Count) { return $true }
        }
        $false
    }

    # Removes every kernel tunnel of a namespace with the cmdlets and waits until the kernel has let go of them;
    # `ip l2tp del tunnel` only if the cmdlets left one (clean-up must not depend on the code under test).
    function Clear-KernelL2tp([AllowEmptyString()][string]$Namespace, [uint32[]]$Keep = @()) {
        $tunnels = @(Get-L2tpTunnel -Backend Kernel -NetworkNamespace $Namespace -ErrorAction SilentlyContinue | Where-Object TunnelId -NotIn $Keep)
        $tunnels | Remove-L2tpTunnel -Force -Confirm:$false -ErrorAction SilentlyContinue
        $ids = @($tunnels.TunnelId)
        $ports = @($tunnels | Where-Object SourcePort -GT 0 | ForEach-Object SourcePort)
        if (-not (Wait-KernelTunnelGone -Namespace $Namespace -TunnelId $ids -Port $ports)) {
            foreach ($id in $ids) { try { $null = Invoke-Ip $Namespace @('l2tp', 'del', 'tunnel', 'tunnel_id', "$id") } catch { Write-Verbose "$_" } }
            $null = Wait-KernelTunnelGone -Namespace $Namespace -TunnelId $ids -Port $ports
        }
    }

    function Wait-ShareFile([string]$Name, [double]$TimeoutSeconds) {
        $path = Join-Path $Share $Name
        if (-not (Wait-LabCondition -TimeoutSeconds $TimeoutSeconds -IntervalMilliseconds 100 { Test-Path -LiteralPath $path }.GetNewClosure())) {
            throw "$path did not appear within $TimeoutSeconds s"
        }
        $path
    }

    function Set-ShareFile([string]$Name, [string]$Text) {
        $path = Join-Path $Share $Name
        $null = New-Item -ItemType Directory -Force -Path (Split-Path $path)
        [System.IO.File]::WriteAllText("$path.tmp", $Text)
        [System.IO.File]::Move("$path.tmp", $path, $true)
    }

    $null = Invoke-Ip $A @('addr', 'add', '2001:db8::1/64', 'dev', 'veth0', 'nodad')
    $null = Invoke-Ip $B @('addr', 'add', '2001:db8::2/64', 'dev', 'veth0', 'nodad')
}

AfterAll {
    # Never leave the host waiting for site-A (it waits for this file before making site-B).
    if ($env:KERNEL_LAB_SHARE -and -not (Test-Path -LiteralPath (Join-Path $env:KERNEL_LAB_SHARE 'mixed/siteA-ready'))) {
        $null = New-Item -ItemType Directory -Force -Path (Join-Path $env:KERNEL_LAB_SHARE 'mixed')
        Set-Content -LiteralPath (Join-Path $env:KERNEL_LAB_SHARE 'mixed/siteA-ready') -Value '{"Ok":false,"Error":"the guest tests ended before site-A was made"}'
    }
    Remove-Item Env:L2TP_BACKEND -ErrorAction Ignore
    if (Get-Command Clear-KernelL2tp -ErrorAction Ignore) {
        foreach ($ns in @($A, $B)) { if ($ns) { Clear-KernelL2tp $ns } }
    }
    if (Get-Command Remove-LabNamespace -ErrorAction Ignore) { Remove-LabNamespace -Name $A, $B }
}

Describe 'Mixed pseudowire: kernel site-A in the guest, managed site-B on the host' -Skip:$NotInGuest {
    # Site-A: tunnel 4000 -> 3000, UDP 6000 -> 5000, session 2000 -> 1000, cookie 0102030405060708, peer cookie a1b2c3d4.
    # The host's site-B mirrors it (managed backend on ktap0 192.0.2.1) once mixed/siteA-ready says Ok, pings
    # 198.51.100.2 from there, and then writes mixed/siteB-ready.
    AfterAll {
        Set-ShareFile 'mixed/siteA-done' 'done'
        Clear-KernelL2tp '' -Keep 3901
    }

    It 'New-L2tpTunnel | New-L2tpSession -Backend Kernel make site-A on the guest NIC (192.0.2.2)' {
        $ready = [ordered]@{ Ok = $false; Error = '' }
        try {
            $env:GUEST_NIC | Should -Not -BeNullOrEmpty -Because 'the kernel lab names the NIC facing the host'
            Invoke-Ip '' @('-br', 'addr', 'show', 'dev', $env:GUEST_NIC) | Should -Match '192\.0\.2\.2/24'
            $t = New-L2tpTunnel -Backend Kernel -TunnelId 4000 -PeerTunnelId 3000 -Local 192.0.2.2 -Remote 192.0.2.1 `
                -SourcePort 6000 -DestinationPort 5000 -ErrorAction Stop
            $t.Backend | Should -Be ([L2tp.BackendKind]::Kernel)
            $s = $t | New-L2tpSession -SessionId 2000 -PeerSessionId 1000 -Cookie 0102030405060708 -PeerCookie a1b2c3d4 -ErrorAction Stop
            $s.Backend | Should -Be ([L2tp.BackendKind]::Kernel)
            $s.InterfaceName | Should -Be 'l2tpeth0'
            Invoke-IpBatch '' "link set l2tpeth0 up`naddr add 198.51.100.2 peer 198.51.100.1 dev l2tpeth0"
            $ready.Ok = $true
        }
        catch {
            $ready.Error = "$_"
            throw
        }
        finally {
            Set-ShareFile 'mixed/siteA-ready' ($ready | ConvertTo-Json -Compress)
        }
    }

    It 'the kernel site-A pings the managed site-B (198.51.100.1) over l2tpeth0' {
        $hostSide = Get-Content -Raw -LiteralPath (Wait-ShareFile 'mixed/siteB-ready' 120) | ConvertFrom-Json
        $hostSide.Ok | Should -BeTrue -Because "the host must have made site-B: $($hostSide.Error)"
        Test-RootPing 198.51.100.1 | Should -BeTrue
    }

    It 'Get-L2tpSession and Get-L2tpTunnel -Backend Kernel count the traffic both ways' {
        $s = Get-L2tpSession -Backend Kernel -TunnelId 4000 -SessionId 2000 -ErrorAction Stop
        $t = Get-L2tpTunnel -Backend Kernel -TunnelId 4000 -ErrorAction Stop
        $s.Statistics.RxPackets | Should -BeGreaterOrEqual 3 -Because 'the host pinged 3 times and answered 3 pings'
        $s.Statistics.TxPackets | Should -BeGreaterOrEqual 3
        $s.Statistics.RxBytes | Should -BeGreaterThan $s.Statistics.RxPackets
        $s.Statistics.RxCookieDiscards | Should -Be 0
        $s.Statistics.RxErrors | Should -Be 0
        $t.Statistics.RxPackets | Should -BeGreaterOrEqual $s.Statistics.RxPackets
        $t.Statistics.TxPackets | Should -BeGreaterOrEqual $s.Statistics.TxPackets
    }
}

Describe 'New-L2tpTunnel -Backend Kernel' -Skip:$NotInGuest {
    AfterEach { Clear-KernelL2tp $A }

    It 'creates a UDP tunnel and returns an L2tp.L2tpTunnel with every field set (Backend Kernel)' {
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
        $t.Udp6ChecksumTx | Should -BeTrue
        $t.Udp6ChecksumRx | Should -BeTrue
        $t.Backend | Should -Be ([L2tp.BackendKind]::Kernel)
        $t.NetworkNamespace | Should -Be $A
        $t.Statistics | Should -BeOfType ([L2tp.L2tpStatistics])
        $t.Statistics.TxPackets | Should -Be 0
        $t.Statistics.RxPackets | Should -Be 0
    }

    It 'is returned by Get-L2tpTunnel with the same fields, only in its own namespace' {
        New-FixtureTunnel | Out-Null
        New-FixtureTunnel -TunnelId 3001 -SourcePort 5001 | Out-Null
        $all = @(Get-L2tpTunnel -Backend Kernel -NetworkNamespace $A -ErrorAction Stop)
        ($all.TunnelId | Sort-Object) | Should -Be @(3000, 3001)
        $g = Get-L2tpTunnel -Backend Kernel -TunnelId 3001 -NetworkNamespace $A -ErrorAction Stop
        @($g).Count | Should -Be 1
        $g | Should -BeOfType ([L2tp.L2tpTunnel])
        $g.TunnelId | Should -Be 3001
        $g.PeerTunnelId | Should -Be 4000
        "$($g.Local)" | Should -Be '192.0.2.1'
        "$($g.Remote)" | Should -Be '192.0.2.2'
        $g.SourcePort | Should -Be 5001
        $g.DestinationPort | Should -Be 6000
        $g.Backend | Should -Be ([L2tp.BackendKind]::Kernel)
        $g.NetworkNamespace | Should -Be $A
        @(Get-L2tpTunnel -Backend Kernel -NetworkNamespace $B -ErrorAction Stop).Count | Should -Be 0
        @(Get-IpL2tp $B tunnel).Count | Should -Be 0
    }

    It 'has the kernel open the UDP socket on Local:SourcePort in the namespace (no l2tp-forwarder)' {
        New-FixtureTunnel | Out-Null
        (Get-UdpSocketLocal $A) | Should -Contain '192.0.2.1:5000'
        (Get-UdpSocketLocal $B) | Should -Not -Contain '192.0.2.1:5000'
        (Get-UdpSocketLocal '') | Should -Not -Contain '192.0.2.1:5000'
        @(Get-LabNamespaceProcess -Namespace $A -CommandLinePattern 'l2tp-forwarder').Count | Should -Be 0
    }

    It 'takes the ip-l2tp words: -tunnel_id -peer_tunnel_id -encap -local -remote -udp_sport -udp_dport -udp_csum' {
        $t = New-L2tpTunnel -Backend Kernel -netns $A -tunnel_id 3002 -peer_tunnel_id 4002 -encap udp -local 192.0.2.1 -remote 192.0.2.2 `
            -udp_sport 5002 -udp_dport 6002 -udp_csum on -ErrorAction Stop
        $t.TunnelId | Should -Be 3002
        $t.PeerTunnelId | Should -Be 4002
        $t.Encapsulation | Should -Be ([L2tp.Encapsulation]::Udp)
        $t.SourcePort | Should -Be 5002
        $t.DestinationPort | Should -Be 6002
        $t.UdpChecksum | Should -BeTrue
        (Get-L2tpTunnel -Backend Kernel -netns $A -TunnelId 3002 -ErrorAction Stop).UdpChecksum | Should -BeTrue
        (Get-IpL2tp $A tunnel | Where-Object tunnel_id -EQ 3002).checksum | Should -BeTrue
        $u = New-L2tpTunnel -Backend Kernel -netns $A -tunnel_id 3003 -peer_tunnel_id 4003 -encap udp -local 192.0.2.1 -remote 192.0.2.2 `
            -udp_sport 5003 -udp_dport 6003 -udp_csum off -ErrorAction Stop
        $u.UdpChecksum | Should -BeFalse
        (Get-IpL2tp $A tunnel | Where-Object tunnel_id -EQ 3003).checksum | Should -BeFalse
    }

    It 'creates an IPv6 tunnel and keeps -udp6_csum_tx off -udp6_csum_rx off' {
        $t = New-L2tpTunnel -Backend Kernel -netns $A -tunnel_id 3005 -peer_tunnel_id 4005 -encap udp -local 2001:db8::1 -remote 2001:db8::2 `
            -udp_sport 5005 -udp_dport 6005 -udp6_csum_tx off -udp6_csum_rx off -ErrorAction Stop
        "$($t.Local)" | Should -Be '2001:db8::1'
        "$($t.Remote)" | Should -Be '2001:db8::2'
        $t.Udp6ChecksumTx | Should -BeFalse
        $t.Udp6ChecksumRx | Should -BeFalse
        $g = Get-L2tpTunnel -Backend Kernel -netns $A -TunnelId 3005 -ErrorAction Stop
        $g.Udp6ChecksumTx | Should -BeFalse
        $g.Udp6ChecksumRx | Should -BeFalse
        (Get-UdpSocketLocal $A) | Should -Contain '[2001:db8::1]:5005'
        $d = New-L2tpTunnel -Backend Kernel -netns $A -TunnelId 3006 -PeerTunnelId 4006 -Local 2001:db8::1 -Remote 2001:db8::2 -SourcePort 5006 -DestinationPort 6006 -ErrorAction Stop
        $d.Udp6ChecksumTx | Should -BeTrue -Because 'IPv6 UDP checksums are on by default'
        $d.Udp6ChecksumRx | Should -BeTrue
    }

    It 'accepts -Local any and reports the source address the kernel chose, as ip l2tp does' {
        $p = Get-TunnelArgs -Local any
        $t = New-L2tpTunnel @p -ErrorAction Stop
        $ip = Get-IpL2tp $A tunnel | Where-Object tunnel_id -EQ 3000
        "$($t.Local)" | Should -Be $ip.local
        "$($t.Local)" | Should -Be '192.0.2.1' -Because 'the kernel connects the tunnel socket to the peer, which picks the source address'
        @((Get-UdpSocketLocal $A) -match ':5000$').Count | Should -Be 1
    }

    It 'creates an IP-encapsulated tunnel (no UDP ports)' {
        $t = New-L2tpTunnel -Backend Kernel -netns $A -TunnelId 3004 -PeerTunnelId 4004 -Encapsulation Ip -Local 192.0.2.1 -Remote 192.0.2.2 -ErrorAction Stop
        $t.Encapsulation | Should -Be ([L2tp.Encapsulation]::Ip)
        $t.SourcePort | Should -Be 0
        $t.DestinationPort | Should -Be 0
        (Get-L2tpTunnel -Backend Kernel -netns $A -TunnelId 3004 -ErrorAction Stop).Encapsulation | Should -Be ([L2tp.Encapsulation]::Ip)
        (Get-IpL2tp $A tunnel | Where-Object tunnel_id -EQ 3004).encap | Should -Be 'IP'
    }
}

Describe 'New-L2tpSession -Backend Kernel' -Skip:$NotInGuest {
    BeforeEach {
        Clear-KernelL2tp $A
        New-FixtureTunnel | Out-Null
    }
    AfterAll { Clear-KernelL2tp $A }

    It 'creates a session and returns an L2tp.L2tpSession with every field set; L2SpecType is null (the kernel does not report it)' {
        $s = New-L2tpSession -Backend Kernel -NetworkNamespace $A -TunnelId 3000 -SessionId 1000 -PeerSessionId 2000 -ErrorAction Stop
        @($s).Count | Should -Be 1
        $s | Should -BeOfType ([L2tp.L2tpSession])
        $s.TunnelId | Should -Be 3000
        $s.PeerTunnelId | Should -Be 4000
        $s.SessionId | Should -Be 1000
        $s.PeerSessionId | Should -Be 2000
        $s.InterfaceName | Should -Be 'l2tpeth0'
        $s.Cookie | Should -Be ''
        $s.PeerCookie | Should -Be ''
        $s.L2SpecType | Should -BeNullOrEmpty -Because "the kernel's SESSION_GET reply carries no L2SPEC_TYPE"
        $s.Sequencing | Should -Be ([L2tp.SequencingMode]::None)
        $s.Statistics | Should -BeOfType ([L2tp.L2tpStatistics])
        $s.Backend | Should -Be ([L2tp.BackendKind]::Kernel)
        $s.NetworkNamespace | Should -Be $A
        $n = New-L2tpSession -Backend Kernel -NetworkNamespace $A -TunnelId 3000 -SessionId 1001 -PeerSessionId 2001 -L2SpecType None -ErrorAction Stop
        $n.L2SpecType | Should -BeNullOrEmpty
        (Get-L2tpSession -Backend Kernel -NetworkNamespace $A -TunnelId 3000 -SessionId 1001 -ErrorAction Stop).L2SpecType | Should -BeNullOrEmpty
    }

    It 'makes a kernel l2tp_eth interface l2tpeth0 (not a TAP) in the namespace only, with MTU 1446' {
        New-L2tpSession -Backend Kernel -netns $A -TunnelId 3000 -SessionId 1000 -PeerSessionId 2000 -ErrorAction Stop | Out-Null
        Get-LinkName $A | Should -Contain 'l2tpeth0'
        Get-LinkName $B | Should -Not -Contain 'l2tpeth0'
        Get-LinkName '' | Should -Not -Contain 'l2tpeth0' -Because 'the guest root namespace has only the mixed site-A interface, removed by now'
        Invoke-LabNs $A 'test -e /sys/class/net/l2tpeth0/tun_flags && echo tap || echo kernel' | Should -Be 'kernel'
        Get-Mtu $A 'l2tpeth0' | Should -Be 1446
    }

    It 'gets the MTU l2tp_eth computes: 1450 with -L2SpecType None, 1438 with an 8-byte cookie' {
        $n = New-L2tpSession -Backend Kernel -netns $A -TunnelId 3000 -SessionId 1000 -PeerSessionId 2000 -L2SpecType None -ErrorAction Stop
        Get-Mtu $A $n.InterfaceName | Should -Be 1450
        $c = New-L2tpSession -Backend Kernel -netns $A -TunnelId 3000 -SessionId 1001 -PeerSessionId 2001 -Cookie 0102030405060708 -ErrorAction Stop
        Get-Mtu $A $c.InterfaceName | Should -Be 1438
    }

    It 'numbers interfaces l2tpeth0, l2tpeth1, ... and honours -Name' {
        $s0 = New-L2tpSession -Backend Kernel -netns $A -TunnelId 3000 -SessionId 1000 -PeerSessionId 2000 -ErrorAction Stop
        $s1 = New-L2tpSession -Backend Kernel -netns $A -TunnelId 3000 -SessionId 1001 -PeerSessionId 2001 -ErrorAction Stop
        $s2 = New-L2tpSession -Backend Kernel -netns $A -TunnelId 3000 -SessionId 1002 -PeerSessionId 2002 -Name 'pw-test0' -ErrorAction Stop
        $s0.InterfaceName | Should -Be 'l2tpeth0'
        $s1.InterfaceName | Should -Be 'l2tpeth1'
        $s2.InterfaceName | Should -Be 'pw-test0'
        $links = Get-LinkName $A
        $links | Should -Contain 'l2tpeth1'
        $links | Should -Contain 'pw-test0'
    }

    It 'keeps cookies as lowercase hex, as ip l2tp shows them' {
        $s = New-L2tpSession -Backend Kernel -netns $A -TunnelId 3000 -SessionId 1000 -PeerSessionId 2000 -Cookie 0102030405060708 -PeerCookie 0A0B0C0D -ErrorAction Stop
        $s.Cookie | Should -BeExactly '0102030405060708'
        $s.PeerCookie | Should -BeExactly '0a0b0c0d'
        $g = Get-L2tpSession -Backend Kernel -netns $A -TunnelId 3000 -SessionId 1000 -ErrorAction Stop
        $g.Cookie | Should -BeExactly '0102030405060708'
        $g.PeerCookie | Should -BeExactly '0a0b0c0d'
        $ip = Get-IpL2tp $A session | Where-Object session_id -EQ 1000
        $ip.cookie | Should -BeExactly '0102030405060708'
        $ip.peer_cookie | Should -BeExactly '0a0b0c0d'
    }

    It 'takes the ip-l2tp words: -tunnel_id -session_id -peer_session_id -name -cookie -peer_cookie -l2spec_type -seq' {
        $s = New-L2tpSession -Backend Kernel -netns $A -tunnel_id 3000 -session_id 1005 -peer_session_id 2005 -name pw-alias0 `
            -cookie 11223344 -peer_cookie 55667788 -l2spec_type default -seq both -ErrorAction Stop
        $s.TunnelId | Should -Be 3000
        $s.SessionId | Should -Be 1005
        $s.PeerSessionId | Should -Be 2005
        $s.InterfaceName | Should -Be 'pw-alias0'
        $s.Cookie | Should -Be '11223344'
        $s.PeerCookie | Should -Be '55667788'
        $s.Sequencing | Should -Be ([L2tp.SequencingMode]::Both)
        $n = New-L2tpSession -Backend Kernel -netns $A -tunnel_id 3000 -session_id 1006 -peer_session_id 2006 -l2spec_type none -seq none -ErrorAction Stop
        $n.Sequencing | Should -Be ([L2tp.SequencingMode]::None)
        Get-Mtu $A $n.InterfaceName | Should -Be 1450 -Because 'l2spec_type none reached the kernel'
    }

    It 'binds TunnelId, NetworkNamespace and Backend from New-L2tpTunnel on the pipeline' {
        $s = New-FixtureTunnel -TunnelId 3001 -SourcePort 5001 | New-L2tpSession -SessionId 1000 -PeerSessionId 2000 -ErrorAction Stop
        $s.TunnelId | Should -Be 3001
        $s.NetworkNamespace | Should -Be $A
        $s.Backend | Should -Be ([L2tp.BackendKind]::Kernel)
        (Get-L2tpSession -Backend Kernel -netns $A -TunnelId 3001 -ErrorAction Stop).SessionId | Should -Be 1000
        (Get-IpL2tp $A session | Where-Object tunnel_id -EQ 3001).session_id | Should -Be 1000
    }
}

Describe 'Get-L2tpSession, Remove-L2tpSession and Remove-L2tpTunnel -Backend Kernel' -Skip:$NotInGuest {
    # Tunnels 3000 (sessions 1000, 1001) and 3001 (session 1100), rebuilt only when a test changed them.
    BeforeEach {
        $tunnels = @(Get-L2tpTunnel -Backend Kernel -netns $A -ErrorAction Stop | ForEach-Object { "$($_.TunnelId)" }) -join ','
        $sessions = @(Get-L2tpSession -Backend Kernel -netns $A -ErrorAction Stop | ForEach-Object { "$($_.TunnelId)/$($_.SessionId)" }) -join ','
        if ($tunnels -ne '3000,3001' -or $sessions -ne '3000/1000,3000/1001,3001/1100') {
            Clear-KernelL2tp $A
            New-FixtureTunnel -TunnelId 3000 -SourcePort 5000 | Out-Null
            New-FixtureTunnel -TunnelId 3001 -SourcePort 5001 | Out-Null
            New-L2tpSession -Backend Kernel -netns $A -TunnelId 3000 -SessionId 1000 -PeerSessionId 2000 -ErrorAction Stop | Out-Null
            New-L2tpSession -Backend Kernel -netns $A -TunnelId 3000 -SessionId 1001 -PeerSessionId 2001 -ErrorAction Stop | Out-Null
            New-L2tpSession -Backend Kernel -netns $A -TunnelId 3001 -SessionId 1100 -PeerSessionId 2100 -ErrorAction Stop | Out-Null
        }
    }
    AfterAll { Clear-KernelL2tp $A }

    It 'lists every session, or those of one tunnel, or one session' {
        (Get-L2tpSession -Backend Kernel -netns $A -ErrorAction Stop | ForEach-Object { "$($_.TunnelId)/$($_.SessionId)" } | Sort-Object) |
            Should -Be @('3000/1000', '3000/1001', '3001/1100')
        (Get-L2tpSession -Backend Kernel -netns $A -TunnelId 3000 -ErrorAction Stop).SessionId | Sort-Object | Should -Be @(1000, 1001)
        $one = Get-L2tpSession -Backend Kernel -netns $A -TunnelId 3000 -SessionId 1001 -ErrorAction Stop
        @($one).Count | Should -Be 1
        $one | Should -BeOfType ([L2tp.L2tpSession])
        $one.PeerSessionId | Should -Be 2001
        $one.PeerTunnelId | Should -Be 4000
        $one.Backend | Should -Be ([L2tp.BackendKind]::Kernel)
        $one.NetworkNamespace | Should -Be $A
        @(Get-L2tpSession -Backend Kernel -netns $B -ErrorAction Stop).Count | Should -Be 0
    }

    It 'Get-L2tpTunnel -TunnelId 3000 | Get-L2tpSession returns that tunnel''s sessions' {
        (Get-L2tpTunnel -Backend Kernel -TunnelId 3000 -netns $A -ErrorAction Stop | Get-L2tpSession -ErrorAction Stop).SessionId |
            Sort-Object | Should -Be @(1000, 1001)
    }

    It 'Remove-L2tpSession removes the session and its interface, and keeps the tunnel' {
        $s = Get-L2tpSession -Backend Kernel -netns $A -TunnelId 3000 -SessionId 1000 -ErrorAction Stop
        Remove-L2tpSession -Backend Kernel -netns $A -TunnelId 3000 -SessionId 1000 -ErrorAction Stop
        (Get-L2tpSession -Backend Kernel -netns $A -TunnelId 3000 -ErrorAction Stop).SessionId | Should -Be @(1001)
        @(Get-IpL2tp $A session | Where-Object session_id -EQ 1000).Count | Should -Be 0
        Get-LinkName $A | Should -Not -Contain $s.InterfaceName
        (Get-L2tpTunnel -Backend Kernel -netns $A -ErrorAction Stop).TunnelId | Sort-Object | Should -Be @(3000, 3001)
        (Get-UdpSocketLocal $A) | Should -Contain '192.0.2.1:5000'
    }

    It 'Get-L2tpSession | Remove-L2tpSession removes every session and interface' {
        Get-L2tpSession -Backend Kernel -netns $A -ErrorAction Stop | Remove-L2tpSession -ErrorAction Stop
        @(Get-L2tpSession -Backend Kernel -netns $A -ErrorAction Stop).Count | Should -Be 0
        @(Get-IpL2tp $A session).Count | Should -Be 0
        Get-LinkName $A | Should -Not -Match '^l2tpeth'
        @(Get-L2tpTunnel -Backend Kernel -netns $A -ErrorAction Stop).Count | Should -Be 2
    }

    It 'refuses a tunnel with sessions (L2tp.TunnelHasSessions) and keeps it and its sessions' {
        $before = Get-KernelState $A
        Remove-L2tpTunnel -Backend Kernel -TunnelId 3000 -netns $A -ErrorVariable err -ErrorAction SilentlyContinue
        Assert-LabL2tpError $err -Id 'L2tp.TunnelHasSessions' -Category InvalidOperation -Target 3000
        Assert-KernelState $A $before -Because 'a refused Remove-L2tpTunnel must change nothing'
    }

    It '-WhatIf on New-L2tpTunnel, New-L2tpSession, Remove-L2tpSession and Remove-L2tpTunnel -Force changes nothing' {
        $before = Get-KernelState $A
        $p = Get-TunnelArgs -TunnelId 3002 -SourcePort 5002
        New-L2tpTunnel @p -WhatIf | Should -BeNullOrEmpty
        New-L2tpSession -Backend Kernel -netns $A -TunnelId 3000 -SessionId 1002 -PeerSessionId 2002 -WhatIf | Should -BeNullOrEmpty
        Remove-L2tpSession -Backend Kernel -netns $A -TunnelId 3000 -SessionId 1000 -WhatIf
        Remove-L2tpTunnel -Backend Kernel -netns $A -TunnelId 3000 -Force -WhatIf
        Assert-KernelState $A $before -Because '-WhatIf must not reach the kernel'
    }

    It 'removes a tunnel with sessions with -Force, with its interfaces and its socket' {
        Remove-L2tpTunnel -Backend Kernel -TunnelId 3000 -netns $A -Force -ErrorAction Stop
        Wait-KernelTunnelGone $A 3000 5000 | Should -BeTrue -Because 'the kernel should let go of tunnel 3000 and UDP port 5000'
        (Get-L2tpTunnel -Backend Kernel -netns $A -ErrorAction Stop).TunnelId | Should -Be @(3001)
        (Get-L2tpSession -Backend Kernel -netns $A -ErrorAction Stop).SessionId | Should -Be @(1100)
        @(Get-IpL2tp $A session | Where-Object tunnel_id -EQ 3000).Count | Should -Be 0
        Get-LinkName $A | Should -Not -Contain 'l2tpeth0'
        Get-LinkName $A | Should -Not -Contain 'l2tpeth1'
        (Get-UdpSocketLocal $A) | Should -Not -Contain '192.0.2.1:5000'
    }

    It 'Remove-L2tpTunnel returns once the kernel has deleted the tunnel: Get-L2tpTunnel and a new tunnel with its id right after' {
        # The kernel's TUNNEL_DELETE only queues the deletion (l2tp_tunnel_delete -> del_work on l2tp_wq) and acks
        # at once; ip l2tp del tunnel is the same, but a cmdlet should return with the tunnel gone (the managed
        # backend does). Timing-dependent: it fails only in rounds where the work item has not run yet. So it runs
        # in the caller's own namespace (the guest's root, on its NIC's 192.0.2.2), where no setns per cmdlet
        # gives the kernel time, with a session whose teardown (unregister_netdev) comes just before.
        $stale = 0; $failed = @(); $rounds = 12
        for ($i = 1; $i -le $rounds; $i++) {
            $t = New-L2tpTunnel -Backend Kernel -TunnelId 3300 -PeerTunnelId 4300 -Local 192.0.2.2 -Remote 192.0.2.1 -SourcePort 5300 -DestinationPort 6300 -ErrorVariable e -ErrorAction SilentlyContinue
            if ($e) {
                $failed += "round ${i}: $($e[0].FullyQualifiedErrorId)"
                $null = Wait-KernelTunnelGone '' 3300 5300
                continue
            }
            $t | New-L2tpSession -SessionId 1300 -PeerSessionId 2300 -Name kbt-async0 -ErrorAction Stop | Out-Null
            Remove-L2tpTunnel -Backend Kernel -TunnelId 3300 -Force -ErrorAction Stop
            if (@(Get-L2tpTunnel -Backend Kernel -ErrorAction Stop | Where-Object TunnelId -EQ 3300).Count) { $stale++ }
        }
        $null = Wait-KernelTunnelGone '' 3300 5300
        "Get-L2tpTunnel right after Remove-L2tpTunnel still listed the tunnel in $stale of $rounds rounds; New-L2tpTunnel with the id just removed failed $($failed.Count) times ($($failed -join '; '))" |
            Should -Be "Get-L2tpTunnel right after Remove-L2tpTunnel still listed the tunnel in 0 of $rounds rounds; New-L2tpTunnel with the id just removed failed 0 times ()"
    }

    It 'objects carry NetworkNamespace, so one pipeline serves two namespaces' {
        Clear-KernelL2tp $A
        New-FixtureTunnel -TunnelId 3028 -SourcePort 5028 | Out-Null
        New-L2tpTunnel -Backend Kernel -netns $B -TunnelId 4028 -PeerTunnelId 3028 -Local 192.0.2.2 -Remote 192.0.2.1 -SourcePort 6028 -DestinationPort 5028 -ErrorAction Stop | Out-Null
        $both = @(Get-L2tpTunnel -Backend Kernel -netns $A -ErrorAction Stop) + @(Get-L2tpTunnel -Backend Kernel -netns $B -ErrorAction Stop)
        ($both | ForEach-Object { "$($_.NetworkNamespace)/$($_.TunnelId)" }) | Should -Be @("$A/3028", "$B/4028")
        $both | Remove-L2tpTunnel -ErrorAction Stop
        Wait-KernelTunnelGone $A 3028 5028 | Should -BeTrue
        Wait-KernelTunnelGone $B 4028 6028 | Should -BeTrue
        @(Get-L2tpTunnel -Backend Kernel -netns $A -ErrorAction Stop).Count | Should -Be 0
        @(Get-L2tpTunnel -Backend Kernel -netns $B -ErrorAction Stop).Count | Should -Be 0
    }
}

Describe 'ip l2tp and the cmdlets agree' -Skip:$NotInGuest {
    BeforeEach { Clear-KernelL2tp $A }
    AfterAll { Clear-KernelL2tp $A }

    It 'tunnels made by New-L2tpTunnel show in ip l2tp show tunnel with identical fields' {
        New-L2tpTunnel -Backend Kernel -netns $A -TunnelId 3000 -PeerTunnelId 4000 -Local 192.0.2.1 -Remote 192.0.2.2 -SourcePort 5000 -DestinationPort 6000 -UdpChecksum on -ErrorAction Stop | Out-Null
        New-L2tpTunnel -Backend Kernel -netns $A -TunnelId 3001 -PeerTunnelId 4001 -Local 192.0.2.1 -Remote 192.0.2.2 -SourcePort 5001 -DestinationPort 6001 -ErrorAction Stop | Out-Null
        New-L2tpTunnel -Backend Kernel -netns $A -TunnelId 3005 -PeerTunnelId 4005 -Local 2001:db8::1 -Remote 2001:db8::2 -SourcePort 5005 -DestinationPort 6005 -Udp6ChecksumTx off -ErrorAction Stop | Out-Null
        New-L2tpTunnel -Backend Kernel -netns $A -TunnelId 3004 -PeerTunnelId 4004 -Encapsulation Ip -Local 192.0.2.1 -Remote 192.0.2.2 -ErrorAction Stop | Out-Null
        $ip = @(Get-IpL2tp $A tunnel)
        $ours = @(Get-L2tpTunnel -Backend Kernel -netns $A -ErrorAction Stop)
        ($ip.tunnel_id | Sort-Object) | Should -Be @(3000, 3001, 3004, 3005)
        ($ours.TunnelId | Sort-Object) | Should -Be @(3000, 3001, 3004, 3005)
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
        (Get-IpL2tp $A tunnel | Where-Object tunnel_id -EQ 3005).checksum_tx | Should -BeFalse
        (Get-IpL2tp $A tunnel | Where-Object tunnel_id -EQ 3000).checksum | Should -BeTrue
    }

    It 'sessions made by New-L2tpSession show in ip l2tp show session with identical fields' {
        # Every session has cookies: iproute2 does not reset its per-message struct while dumping, so a session
        # without one would show the cookie of the session listed before it.
        New-FixtureTunnel | Out-Null
        New-L2tpTunnel -Backend Kernel -netns $A -TunnelId 3004 -PeerTunnelId 4004 -Encapsulation Ip -Local 192.0.2.1 -Remote 192.0.2.2 -ErrorAction Stop | Out-Null
        New-L2tpSession -Backend Kernel -netns $A -TunnelId 3000 -SessionId 1000 -PeerSessionId 2000 -Cookie 01020304 -PeerCookie 0a0b0c0d0e0f1011 -Sequencing Send -ErrorAction Stop | Out-Null
        New-L2tpSession -Backend Kernel -netns $A -TunnelId 3000 -SessionId 1001 -PeerSessionId 2001 -Cookie 1112131415161718 -PeerCookie 21222324 -Sequencing Recv -Name pw-agree1 -ErrorAction Stop | Out-Null
        New-L2tpSession -Backend Kernel -netns $A -TunnelId 3004 -SessionId 1002 -PeerSessionId 2002 -Cookie 3132333435363738 -PeerCookie 4142434445464748 -Sequencing Both -ErrorAction Stop | Out-Null
        $ip = @(Get-IpL2tp $A session)
        $ours = @(Get-L2tpSession -Backend Kernel -netns $A -ErrorAction Stop)
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

    It 'tunnels made by ip l2tp add tunnel show in Get-L2tpTunnel with identical fields' {
        Invoke-IpBatch $A @'
l2tp add tunnel tunnel_id 3100 peer_tunnel_id 4100 encap udp local 192.0.2.1 remote 192.0.2.2 udp_sport 5100 udp_dport 6100 udp_csum on
l2tp add tunnel tunnel_id 3101 peer_tunnel_id 4101 encap udp local 2001:db8::1 remote 2001:db8::2 udp_sport 5101 udp_dport 6101 udp6_csum_tx off udp6_csum_rx off
l2tp add tunnel tunnel_id 3102 peer_tunnel_id 4102 encap ip local 192.0.2.1 remote 192.0.2.2
'@
        $t = @(Get-L2tpTunnel -Backend Kernel -netns $A -ErrorAction Stop)
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

    It 'sessions made by ip l2tp add session show in Get-L2tpSession with identical fields (L2SpecType null)' {
        Invoke-IpBatch $A @'
l2tp add tunnel tunnel_id 3100 peer_tunnel_id 4100 encap udp local 192.0.2.1 remote 192.0.2.2 udp_sport 5100 udp_dport 6100
l2tp add session tunnel_id 3100 session_id 1100 peer_session_id 2100 cookie 0102030405060708 peer_cookie 0a0b0c0d seq both name pw-ip0
l2tp add session tunnel_id 3100 session_id 1101 peer_session_id 2101 l2spec_type none
l2tp add session tunnel_id 3100 session_id 1102 peer_session_id 2102 seq send
'@
        $s = @(Get-L2tpSession -Backend Kernel -netns $A -TunnelId 3100 -ErrorAction Stop)
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
        Get-Mtu $A $a1.InterfaceName | Should -Be 1450
        ($s | Where-Object SessionId -EQ 1102).Sequencing | Should -Be ([L2tp.SequencingMode]::Send)
    }

    It 'Remove-L2tpSession removes a session made by ip l2tp, with its interface' {
        Invoke-IpBatch $A @'
l2tp add tunnel tunnel_id 3100 peer_tunnel_id 4100 encap udp local 192.0.2.1 remote 192.0.2.2 udp_sport 5100 udp_dport 6100
l2tp add session tunnel_id 3100 session_id 1100 peer_session_id 2100 name pw-ip0
l2tp add session tunnel_id 3100 session_id 1101 peer_session_id 2101 name pw-ip1
'@
        Remove-L2tpSession -Backend Kernel -netns $A -TunnelId 3100 -SessionId 1100 -ErrorAction Stop
        (Get-IpL2tp $A session).session_id | Should -Be @(1101)
        Get-LinkName $A | Should -Not -Contain 'pw-ip0'
        Get-LinkName $A | Should -Contain 'pw-ip1'
        (Get-IpL2tp $A tunnel).tunnel_id | Should -Be @(3100)
    }

    It 'Remove-L2tpTunnel -Force removes a tunnel made by ip l2tp, with its sessions and interfaces' {
        Invoke-IpBatch $A @'
l2tp add tunnel tunnel_id 3100 peer_tunnel_id 4100 encap udp local 192.0.2.1 remote 192.0.2.2 udp_sport 5100 udp_dport 6100
l2tp add session tunnel_id 3100 session_id 1100 peer_session_id 2100 name pw-ip0
l2tp add session tunnel_id 3100 session_id 1101 peer_session_id 2101 name pw-ip1
'@
        Get-L2tpTunnel -Backend Kernel -netns $A -TunnelId 3100 -ErrorAction Stop | Remove-L2tpTunnel -Force -ErrorAction Stop
        @(Get-IpL2tp $A session).Count | Should -Be 0 -Because 'the sessions go first, synchronously'
        Wait-KernelTunnelGone $A 3100 5100 | Should -BeTrue -Because 'ip l2tp should stop listing tunnel 3100 and port 5100 should be free'
        Get-LinkName $A | Should -Not -Contain 'pw-ip0'
        Get-LinkName $A | Should -Not -Contain 'pw-ip1'
    }
}

Describe 'Kernel errors become ErrorRecords that say what to fix, and leave nothing behind' -Skip:$NotInGuest {
    BeforeAll {
        Clear-KernelL2tp $A
        # Something to collide with: tunnel 3000 (UDP 192.0.2.1:5000) with session 1000 on l2tpeth0, and the
        # IP-encapsulated tunnel 3001 with session 1100 on l2tpeth1.
        New-FixtureTunnel | New-L2tpSession -SessionId 1000 -PeerSessionId 2000 -ErrorAction Stop | Out-Null
        New-L2tpTunnel -Backend Kernel -netns $A -TunnelId 3001 -PeerTunnelId 4001 -Encapsulation Ip -Local 192.0.2.1 -Remote 192.0.2.2 -ErrorAction Stop |
            New-L2tpSession -SessionId 1100 -PeerSessionId 2100 -ErrorAction Stop | Out-Null
    }
    AfterAll { Clear-KernelL2tp $A }

    BeforeEach { $before = Get-KernelState $A }
    AfterEach { Assert-KernelState $A $before }

    It 'TunnelId 0 gives L2tp.InvalidTunnelId before the kernel is asked' {
        $p = Get-TunnelArgs -TunnelId 0 -SourcePort 5010
        $out = New-L2tpTunnel @p -ErrorVariable err -ErrorAction SilentlyContinue
        $out | Should -BeNullOrEmpty
        Assert-LabL2tpError $err -Id 'L2tp.InvalidTunnelId' -Category InvalidArgument -Target 0
    }

    It 'a tunnel id already in use (EEXIST) gives L2tp.TunnelExists' {
        $p = Get-TunnelArgs -TunnelId 3000 -SourcePort 5011
        $out = New-L2tpTunnel @p -ErrorVariable err -ErrorAction SilentlyContinue
        $out | Should -BeNullOrEmpty
        Assert-LabL2tpError $err -Id 'L2tp.TunnelExists' -Category ResourceExists -Target 3000
    }

    It 'a tunnel id already in use throws L2tp.TunnelExists with -ErrorAction Stop' {
        $p = Get-TunnelArgs -TunnelId 3000 -SourcePort 5011
        { New-L2tpTunnel @p -ErrorAction Stop } | Should -Throw -ErrorId 'L2tp.TunnelExists,*'
    }

    It 'an IP-encapsulated tunnel id already in use gives L2tp.TunnelExists' {
        # Linux 6.1 opens and binds the tunnel socket before it looks for the id: for IP encapsulation the bind
        # (address + conn_id) fails first, with EADDRINUSE.
        $out = New-L2tpTunnel -Backend Kernel -netns $A -TunnelId 3001 -PeerTunnelId 4009 -Encapsulation Ip -Local 192.0.2.1 -Remote 192.0.2.2 -ErrorVariable err -ErrorAction SilentlyContinue
        $out | Should -BeNullOrEmpty
        Assert-LabL2tpError $err -Id 'L2tp.TunnelExists' -Category ResourceExists -Target 3001
    }

    It 'a -Local address not assigned in the namespace (EADDRNOTAVAIL) gives L2tp.AddressNotLocal' {
        $p = Get-TunnelArgs -TunnelId 3012 -SourcePort 5012 -Local 192.0.2.77
        $out = New-L2tpTunnel @p -ErrorVariable err -ErrorAction SilentlyContinue
        $out | Should -BeNullOrEmpty
        Assert-LabL2tpError $err -Id 'L2tp.AddressNotLocal' -Category InvalidArgument -Target '192.0.2.77'
    }

    It 'namespace B''s address as -Local (assigned elsewhere, not here) gives L2tp.AddressNotLocal' {
        $p = Get-TunnelArgs -TunnelId 3013 -SourcePort 5013 -Local 192.0.2.2 -Remote 192.0.2.1
        $out = New-L2tpTunnel @p -ErrorVariable err -ErrorAction SilentlyContinue
        $out | Should -BeNullOrEmpty
        Assert-LabL2tpError $err -Id 'L2tp.AddressNotLocal' -Category InvalidArgument -Target '192.0.2.2'
    }

    It 'an IPv6 -Local not assigned in the namespace gives L2tp.AddressNotLocal' {
        $p = Get-TunnelArgs -TunnelId 3018 -SourcePort 5018 -Local 2001:db8::77 -Remote 2001:db8::2
        $out = New-L2tpTunnel @p -ErrorVariable err -ErrorAction SilentlyContinue
        $out | Should -BeNullOrEmpty
        Assert-LabL2tpError $err -Id 'L2tp.AddressNotLocal' -Category InvalidArgument -Target '2001:db8::77'
    }

    It 'a second tunnel on the same local address and -SourcePort (EADDRINUSE) gives L2tp.PortInUse' {
        $p = Get-TunnelArgs -TunnelId 3014 -SourcePort 5000
        $out = New-L2tpTunnel @p -ErrorVariable err -ErrorAction SilentlyContinue
        $out | Should -BeNullOrEmpty
        Assert-LabL2tpError $err -Id 'L2tp.PortInUse' -Category ResourceExists -Target 5000
    }

    It 'a -SourcePort where another process holds a UDP socket gives L2tp.PortInUse' {
        $holder = Start-LabUdpSocket -Namespace $A -Address 192.0.2.1 -Port 5099
        try {
            $withHolder = Get-KernelState $A
            $p = Get-TunnelArgs -TunnelId 3015 -SourcePort 5099
            $out = New-L2tpTunnel @p -ErrorVariable err -ErrorAction SilentlyContinue
            $out | Should -BeNullOrEmpty
            Assert-LabL2tpError $err -Id 'L2tp.PortInUse' -Category ResourceExists -Target 5099
            Assert-KernelState $A $withHolder
        }
        finally {
            Stop-LabUdpSocket -Process $holder
        }
    }

    It 'a session id already in the tunnel (EEXIST) gives L2tp.SessionExists' {
        $out = New-L2tpSession -Backend Kernel -netns $A -TunnelId 3000 -SessionId 1000 -PeerSessionId 2001 -ErrorVariable err -ErrorAction SilentlyContinue
        $out | Should -BeNullOrEmpty
        Assert-LabL2tpError $err -Id 'L2tp.SessionExists' -Category ResourceExists -Target 1000
    }

    It 'a session id that an IP-encapsulated tunnel uses gives L2tp.SessionExists in any other tunnel too' {
        # The kernel's rule: with IP encapsulation session ids are unique in the whole namespace.
        $out = New-L2tpSession -Backend Kernel -netns $A -TunnelId 3000 -SessionId 1100 -PeerSessionId 2101 -ErrorVariable err -ErrorAction SilentlyContinue
        $out | Should -BeNullOrEmpty
        Assert-LabL2tpError $err -Id 'L2tp.SessionExists' -Category ResourceExists -Target 1100
    }

    It 'a -Name taken by another interface (EEXIST from register_netdevice) gives L2tp.InterfaceExists' {
        foreach ($name in 'veth0', 'l2tpeth0') {
            $out = New-L2tpSession -Backend Kernel -netns $A -TunnelId 3000 -SessionId 1001 -PeerSessionId 2001 -Name $name -ErrorVariable err -ErrorAction SilentlyContinue
            $out | Should -BeNullOrEmpty
            Assert-LabL2tpError $err -Id 'L2tp.InterfaceExists' -Category ResourceExists -Target $name
            Assert-KernelState $A $before -Because "the kernel removes the session again when -Name $name is taken"
        }
    }

    It 'a session in a tunnel that does not exist (ENODEV) gives L2tp.TunnelNotFound' {
        $out = New-L2tpSession -Backend Kernel -netns $A -TunnelId 3999 -SessionId 1001 -PeerSessionId 2001 -ErrorVariable err -ErrorAction SilentlyContinue
        $out | Should -BeNullOrEmpty
        Assert-LabL2tpError $err -Id 'L2tp.TunnelNotFound' -Category ObjectNotFound -Target 3999
    }

    It 'Remove-L2tpSession of a session that does not exist (ENODEV) gives L2tp.SessionNotFound' {
        Remove-L2tpSession -Backend Kernel -netns $A -TunnelId 3000 -SessionId 1999 -ErrorVariable err -ErrorAction SilentlyContinue
        Assert-LabL2tpError $err -Id 'L2tp.SessionNotFound' -Category ObjectNotFound -Target 1999
        Remove-L2tpSession -Backend Kernel -netns $A -TunnelId 3999 -SessionId 1000 -ErrorVariable err2 -ErrorAction SilentlyContinue
        Assert-LabL2tpError $err2 -Id 'L2tp.SessionNotFound' -Category ObjectNotFound -Target 1000
    }

    It 'Remove-L2tpTunnel and Get-L2tpTunnel of a tunnel that does not exist give L2tp.TunnelNotFound' {
        Remove-L2tpTunnel -Backend Kernel -netns $A -TunnelId 3999 -ErrorVariable err -ErrorAction SilentlyContinue
        Assert-LabL2tpError $err -Id 'L2tp.TunnelNotFound' -Category ObjectNotFound -Target 3999
        $out = Get-L2tpTunnel -Backend Kernel -netns $A -TunnelId 3999 -ErrorVariable err2 -ErrorAction SilentlyContinue
        $out | Should -BeNullOrEmpty
        Assert-LabL2tpError $err2 -Id 'L2tp.TunnelNotFound' -Category ObjectNotFound -Target 3999
    }

    It 'a -NetworkNamespace that does not exist gives L2tp.NetworkNamespaceNotFound' {
        $out = Get-L2tpTunnel -Backend Kernel -NetworkNamespace 'kbt-no-such-ns' -ErrorVariable err -ErrorAction SilentlyContinue
        $out | Should -BeNullOrEmpty
        Assert-LabL2tpError $err -Id 'L2tp.NetworkNamespaceNotFound' -Category ObjectNotFound -Target 'kbt-no-such-ns'
    }

    It 'Get-L2tpSession of a session that does not exist gives L2tp.SessionNotFound' {
        $out = Get-L2tpSession -Backend Kernel -netns $A -TunnelId 3000 -SessionId 1999 -ErrorVariable err -ErrorAction SilentlyContinue
        $out | Should -BeNullOrEmpty
        Assert-LabL2tpError $err -Id 'L2tp.SessionNotFound' -Category ObjectNotFound -Target 1999
    }
}

Describe 'Without CAP_NET_ADMIN: an unprivileged pwsh (setpriv --reuid=65534 --inh-caps=-all)' -Skip:$NotInGuest {
    # Invoke-UnprivilegedCmdlets.ps1 ran every cmdlet as nobody in the guest's root namespace while this file ran,
    # against tunnel 3901 / session 1901 (kbt-fixture0) that the lab script made with ip l2tp.
    BeforeAll {
        $exitFile = Join-Path $Share 'unprivileged.exit'
        $null = Wait-LabCondition -TimeoutSeconds 150 -IntervalMilliseconds 200 { Test-Path -LiteralPath $exitFile }.GetNewClosure()
        $text = Get-Content -Raw -LiteralPath (Join-Path $Share 'unprivileged.json') -ErrorAction SilentlyContinue
        $stderr = Get-Content -Raw -LiteralPath (Join-Path $Share 'unprivileged.err') -ErrorAction SilentlyContinue
        $Unprivileged = @{}
        $UnprivilegedProblem = ''
        try {
            foreach ($r in @($text | ConvertFrom-Json)) { $Unprivileged[$r.Command] = $r }
        }
        catch {
            $UnprivilegedProblem = "the unprivileged pwsh printed no result: $text $stderr"
        }
        if (-not $Unprivileged.Count -and -not $UnprivilegedProblem) { $UnprivilegedProblem = "the unprivileged pwsh printed no result: $text $stderr" }

        function Assert-Refused([string]$Command) {
            $UnprivilegedProblem | Should -BeNullOrEmpty
            $r = $Unprivileged[$Command]
            $r | Should -Not -BeNullOrEmpty -Because "the unprivileged pwsh reports every cmdlet (got $($Unprivileged.Keys -join ', '))"
            $r.Uid | Should -Be 65534
            $r.Output | Should -Be 0 -Because "$Command must not return objects to a caller without CAP_NET_ADMIN"
            $r.Errors.Count | Should -Be 1 -Because "exactly one error was expected, got: $($r.Errors | ConvertTo-Json -Compress)"
            $e = $r.Errors[0]
            $e.Id | Should -Match '^L2tp\.PermissionDenied(,|$)' -Because "$Command said: $($e.Message)"
            $e.Category | Should -Be 'PermissionDenied'
        }
    }
    AfterAll { Clear-KernelL2tp '' }

    It 'New-L2tpTunnel and New-L2tpSession give L2tp.PermissionDenied and create nothing' {
        Assert-Refused 'New-L2tpTunnel'
        Assert-Refused 'New-L2tpSession'
        (Get-L2tpTunnel -Backend Kernel -ErrorAction Stop).TunnelId | Should -Not -Contain 3900
        (Get-IpL2tp '' tunnel).tunnel_id | Should -Not -Contain 3900
        (Get-IpL2tp '' session | Where-Object tunnel_id -EQ 3901).session_id | Should -Be @(1901)
        Get-LinkName '' | Should -Not -Contain 'kbt-nobody0'
        (Get-UdpSocketLocal '') | Should -Not -Contain '192.0.2.2:5900'
    }

    It 'Get-L2tpTunnel and Get-L2tpSession give L2tp.PermissionDenied (the kernel wants CAP_NET_ADMIN even to list)' {
        Assert-Refused 'Get-L2tpTunnel'
        Assert-Refused 'Get-L2tpSession'
    }

    It 'Remove-L2tpSession and Remove-L2tpTunnel give L2tp.PermissionDenied and remove nothing' {
        Assert-Refused 'Remove-L2tpSession'
        Assert-Refused 'Remove-L2tpTunnel'
        (Get-IpL2tp '' tunnel).tunnel_id | Should -Contain 3901
        (Get-IpL2tp '' session | Where-Object tunnel_id -EQ 3901).session_id | Should -Be @(1901)
        Get-LinkName '' | Should -Contain 'kbt-fixture0'
    }
}

Describe 'Backend selection in the guest (a kernel with L2TP)' -Skip:$NotInGuest {
    BeforeAll { Clear-KernelL2tp $A }
    AfterEach {
        Remove-Item Env:L2TP_BACKEND -ErrorAction Ignore
        Get-L2tpTunnel -Backend Managed -netns $A -ErrorAction SilentlyContinue | Remove-L2tpTunnel -Force -ErrorAction SilentlyContinue
        Clear-KernelL2tp $A
    }

    It 'without -Backend (Auto) New-, Get- and Remove- use the kernel here' {
        $t = New-L2tpTunnel -netns $A -TunnelId 3400 -PeerTunnelId 4400 -Local 192.0.2.1 -Remote 192.0.2.2 -SourcePort 5400 -DestinationPort 6400 -ErrorAction Stop
        $t.Backend | Should -Be ([L2tp.BackendKind]::Kernel)
        (Get-IpL2tp $A tunnel).tunnel_id | Should -Be @(3400)
        $s = New-L2tpSession -netns $A -TunnelId 3400 -SessionId 1400 -PeerSessionId 2400 -ErrorAction Stop
        $s.Backend | Should -Be ([L2tp.BackendKind]::Kernel)
        (Get-IpL2tp $A session).session_id | Should -Be @(1400)
        (Get-L2tpTunnel -netns $A -ErrorAction Stop).Backend | Should -Be ([L2tp.BackendKind]::Kernel)
        (Get-L2tpSession -netns $A -ErrorAction Stop).Backend | Should -Be ([L2tp.BackendKind]::Kernel)
        Remove-L2tpSession -netns $A -TunnelId 3400 -SessionId 1400 -ErrorAction Stop
        @(Get-IpL2tp $A session).Count | Should -Be 0
        Remove-L2tpTunnel -netns $A -TunnelId 3400 -ErrorAction Stop
        Wait-KernelTunnelGone $A 3400 5400 | Should -BeTrue
        @(Get-LabNamespaceProcess -Namespace $A -CommandLinePattern 'l2tp-forwarder').Count | Should -Be 0
    }

    It 'L2TP_BACKEND=Managed makes them use l2tp-forwarder instead of the kernel' {
        $env:L2TP_BACKEND = 'Managed'
        $t = New-L2tpTunnel -netns $A -TunnelId 3401 -PeerTunnelId 4401 -Local 192.0.2.1 -Remote 192.0.2.2 -SourcePort 5401 -DestinationPort 6401 -ErrorAction Stop
        $t.Backend | Should -Be ([L2tp.BackendKind]::Managed)
        @(Get-IpL2tp $A tunnel).Count | Should -Be 0 -Because 'the kernel knows nothing of a managed tunnel'
        @(Get-LabNamespaceProcess -Namespace $A -CommandLinePattern 'l2tp-forwarder').Count | Should -Be 1
        (Get-L2tpTunnel -netns $A -ErrorAction Stop | ForEach-Object { "$($_.TunnelId)/$($_.Backend)" }) | Should -Be '3401/Managed'
        @(Get-L2tpTunnel -Backend Kernel -netns $A -ErrorAction Stop).Count | Should -Be 0
        Remove-L2tpTunnel -netns $A -TunnelId 3401 -ErrorAction Stop
        @(Get-L2tpTunnel -netns $A -ErrorAction Stop).Count | Should -Be 0
    }

    It '-Backend Kernel, given or bound from a piped kernel object, wins over L2TP_BACKEND=Managed' {
        $env:L2TP_BACKEND = 'Managed'
        $p = Get-TunnelArgs -TunnelId 3402 -SourcePort 5402
        $t = New-L2tpTunnel @p -ErrorAction Stop
        $t.Backend | Should -Be ([L2tp.BackendKind]::Kernel)
        $s = $t | New-L2tpSession -SessionId 1402 -PeerSessionId 2402 -ErrorAction Stop
        $s.Backend | Should -Be ([L2tp.BackendKind]::Kernel) -Because 'Backend binds from the piped tunnel'
        (Get-IpL2tp $A session).session_id | Should -Be @(1402)
        (Get-L2tpTunnel -Backend Kernel -netns $A -ErrorAction Stop | Get-L2tpSession -ErrorAction Stop).SessionId | Should -Be @(1402)
        Get-L2tpTunnel -Backend Kernel -netns $A -ErrorAction Stop | Remove-L2tpTunnel -Force -ErrorAction Stop
        @(Get-IpL2tp $A session).Count | Should -Be 0
        Wait-KernelTunnelGone $A 3402 5402 | Should -BeTrue
        @(Get-LabNamespaceProcess -Namespace $A -CommandLinePattern 'l2tp-forwarder').Count | Should -Be 0 -Because 'nothing went to the managed backend'
    }

    It 'an L2TP_BACKEND that names no backend gives L2tp.InvalidBackend' {
        $env:L2TP_BACKEND = 'Kernal'
        $out = New-L2tpTunnel -netns $A -TunnelId 3403 -PeerTunnelId 4403 -Local 192.0.2.1 -Remote 192.0.2.2 -SourcePort 5403 -DestinationPort 6403 -ErrorVariable err -ErrorAction SilentlyContinue
        $out | Should -BeNullOrEmpty
        Assert-LabL2tpError $err -Id 'L2tp.InvalidBackend' -Category InvalidArgument -Target 'Kernal'
        @(Get-IpL2tp $A tunnel).Count | Should -Be 0
    }
}
