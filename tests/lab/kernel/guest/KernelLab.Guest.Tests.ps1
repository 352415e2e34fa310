#Requires -Version 7.2
# The kernel lab's own tests, run INSIDE the guest (tests/lab/KernelLab.psm1) by Invoke-KernelBackendGuest.ps1
# before the shared cmdlet files (GuestSuite.psd1: L2tpTunnel.Tests.ps1 and L2tpSession.Tests.ps1 with
# Backend = Kernel). Here only what needs the lab itself: the mixed pseudowire with the host, the refusals seen by
# the unprivileged pwsh the lab script started, backend selection on a kernel that has L2TP, and Test-L2tpSession
# on a kernel session (its capture-only diagnosis of what a managed peer sends wrong). Anywhere else
# every test is skipped.
#
# Guest network:
#   root namespace  $env:GUEST_NIC 192.0.2.2/24, facing the host's ktap0 192.0.2.1/24: the mixed pseudowire
#                   (kernel site-A here, managed site-B on the host; files in $env:KERNEL_LAB_SHARE/mixed).
#                   The host's lab script also made tunnel 3901 / session 1901 (kbt-fixture0) there with ip l2tp, and
#                   ran Invoke-UnprivilegedCmdlets.ps1 as nobody; its findings are in the share's unprivileged.json.
#   $A veth0 192.0.2.1/24 <-> $B veth0 192.0.2.2/24: backend selection; Test-L2tpSession (kernel $A, managed $B).

BeforeDiscovery {
    Import-Module (Join-Path $PSScriptRoot 'InGuest.psm1') -Force
    $NotInGuest = -not (Test-InKernelLabGuest)
}

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'InGuest.psm1') -Force
    if (-not (Test-InKernelLabGuest)) { return }

    Import-GuestL2tpModule
    $Share = $env:KERNEL_LAB_SHARE

    $A = New-LabNamespace -Prefix 'kA'
    $B = New-LabNamespace -Prefix 'kB'
    New-LabVethPair -Namespace $A -Peer $B -Address 192.0.2.1/24 -PeerAddress 192.0.2.2/24 | Out-Null

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
}

AfterAll {
    # Never leave the host waiting for site-A (it waits for this file before making site-B).
    if ($env:KERNEL_LAB_SHARE -and -not (Test-Path -LiteralPath (Join-Path $env:KERNEL_LAB_SHARE 'mixed/siteA-ready'))) {
        $null = New-Item -ItemType Directory -Force -Path (Join-Path $env:KERNEL_LAB_SHARE 'mixed')
        Set-Content -LiteralPath (Join-Path $env:KERNEL_LAB_SHARE 'mixed/siteA-ready') -Value '{"Ok":false,"Error":"the guest tests ended before site-A was made"}'
    }
    Remove-Item Env:L2TP_BACKEND -ErrorAction Ignore
    if (Get-Command Remove-LabL2tpConfig -ErrorAction Ignore) { Remove-LabL2tpConfig -Namespace $A, $B -Backend Kernel }
    if (Get-Command Remove-LabNamespace -ErrorAction Ignore) { Remove-LabNamespace -Name $A, $B }
}

Describe 'Mixed pseudowire: kernel site-A in the guest, managed site-B on the host' -Skip:$NotInGuest {
    # Site-A: tunnel 4000 -> 3000, UDP 6000 -> 5000, session 2000 -> 1000, cookie 0102030405060708, peer cookie a1b2c3d4.
    # The host's site-B mirrors it (managed backend on ktap0 192.0.2.1) once mixed/siteA-ready says Ok, pings
    # 198.51.100.2 from there, and then writes mixed/siteB-ready.
    AfterAll {
        Set-ShareFile 'mixed/siteA-done' 'done'
        Remove-LabL2tpConfig -Namespace '' -RootNamespace -Backend Kernel -Keep 3901
    }

    It 'New-L2tpTunnel | New-L2tpSession -Backend Kernel make site-A on the guest NIC (192.0.2.2)' {
        $ready = [ordered]@{ Ok = $false; Error = '' }
        try {
            $env:GUEST_NIC | Should -Not -BeNullOrEmpty -Because 'the kernel lab names the NIC facing the host'
            Invoke-LabIp '' @('-br', 'addr', 'show', 'dev', $env:GUEST_NIC) | Should -Match '192\.0\.2\.2/24'
            $t = New-L2tpTunnel -Backend Kernel -TunnelId 4000 -PeerTunnelId 3000 -Local 192.0.2.2 -Remote 192.0.2.1 `
                -SourcePort 6000 -DestinationPort 5000 -ErrorAction Stop
            $t.Backend | Should -Be ([L2tp.BackendKind]::Kernel)
            $s = $t | New-L2tpSession -SessionId 2000 -PeerSessionId 1000 -Cookie 0102030405060708 -PeerCookie a1b2c3d4 -ErrorAction Stop
            $s.Backend | Should -Be ([L2tp.BackendKind]::Kernel)
            $s.InterfaceName | Should -Be 'l2tpeth0'
            Invoke-LabIpBatch '' "link set l2tpeth0 up`naddr add 198.51.100.2 peer 198.51.100.1 dev l2tpeth0"
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
        Test-LabPing -Namespace '' -Address 198.51.100.1 -Count 3 -TimeoutSeconds 2 -Attempts 3 | Should -BeTrue
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
    AfterAll { Remove-LabL2tpConfig -Namespace '' -RootNamespace -Backend Kernel }

    It 'New-L2tpTunnel and New-L2tpSession give L2tp.PermissionDenied and create nothing' {
        Assert-Refused 'New-L2tpTunnel'
        Assert-Refused 'New-L2tpSession'
        (Get-L2tpTunnel -Backend Kernel -ErrorAction Stop).TunnelId | Should -Not -Contain 3900
        (Get-LabIpL2tp '' tunnel).tunnel_id | Should -Not -Contain 3900
        (Get-LabIpL2tp '' session | Where-Object tunnel_id -EQ 3901).session_id | Should -Be @(1901)
        Get-LabLinkName -Namespace '' | Should -Not -Contain 'kbt-nobody0'
        (Get-LabUdpSocket -Namespace '').Local | Should -Not -Contain '192.0.2.2:5900'
    }

    It 'Get-L2tpTunnel and Get-L2tpSession give L2tp.PermissionDenied (the kernel wants CAP_NET_ADMIN even to list)' {
        Assert-Refused 'Get-L2tpTunnel'
        Assert-Refused 'Get-L2tpSession'
    }

    It 'Remove-L2tpSession and Remove-L2tpTunnel give L2tp.PermissionDenied and remove nothing' {
        Assert-Refused 'Remove-L2tpSession'
        Assert-Refused 'Remove-L2tpTunnel'
        (Get-LabIpL2tp '' tunnel).tunnel_id | Should -Contain 3901
        (Get-LabIpL2tp '' session | Where-Object tunnel_id -EQ 3901).session_id | Should -Be @(1901)
        Get-LabLinkName -Namespace '' | Should -Contain 'kbt-fixture0'
    }
}

Describe 'Backend selection in the guest (a kernel with L2TP)' -Skip:$NotInGuest {
    BeforeAll { Remove-LabL2tpConfig -Namespace $A -Backend Kernel }
    AfterEach {
        Remove-Item Env:L2TP_BACKEND -ErrorAction Ignore
        Get-L2tpTunnel -Backend Managed -netns $A -ErrorAction SilentlyContinue | Remove-L2tpTunnel -Force -ErrorAction SilentlyContinue
        Remove-LabL2tpConfig -Namespace $A -Backend Kernel
    }

    It 'without -Backend (Auto) New-, Get- and Remove- use the kernel here' {
        $t = New-L2tpTunnel -netns $A -TunnelId 3400 -PeerTunnelId 4400 -Local 192.0.2.1 -Remote 192.0.2.2 -SourcePort 5400 -DestinationPort 6400 -ErrorAction Stop
        $t.Backend | Should -Be ([L2tp.BackendKind]::Kernel)
        (Get-LabIpL2tp $A tunnel).tunnel_id | Should -Be @(3400)
        $s = New-L2tpSession -netns $A -TunnelId 3400 -SessionId 1400 -PeerSessionId 2400 -ErrorAction Stop
        $s.Backend | Should -Be ([L2tp.BackendKind]::Kernel)
        (Get-LabIpL2tp $A session).session_id | Should -Be @(1400)
        (Get-L2tpTunnel -netns $A -ErrorAction Stop).Backend | Should -Be ([L2tp.BackendKind]::Kernel)
        (Get-L2tpSession -netns $A -ErrorAction Stop).Backend | Should -Be ([L2tp.BackendKind]::Kernel)
        Remove-L2tpSession -netns $A -TunnelId 3400 -SessionId 1400 -ErrorAction Stop
        @(Get-LabIpL2tp $A session).Count | Should -Be 0
        Remove-L2tpTunnel -netns $A -TunnelId 3400 -ErrorAction Stop
        Wait-LabL2tpTunnelGone $A 3400 5400 -Backend Kernel | Should -BeTrue
        @(Get-LabNamespaceProcess -Namespace $A -CommandLinePattern 'l2tp-forwarder').Count | Should -Be 0
    }

    It 'L2TP_BACKEND=Managed makes them use l2tp-forwarder instead of the kernel' {
        $env:L2TP_BACKEND = 'Managed'
        $t = New-L2tpTunnel -netns $A -TunnelId 3401 -PeerTunnelId 4401 -Local 192.0.2.1 -Remote 192.0.2.2 -SourcePort 5401 -DestinationPort 6401 -ErrorAction Stop
        $t.Backend | Should -Be ([L2tp.BackendKind]::Managed)
        @(Get-LabIpL2tp $A tunnel).Count | Should -Be 0 -Because 'the kernel knows nothing of a managed tunnel'
        @(Get-LabNamespaceProcess -Namespace $A -CommandLinePattern 'l2tp-forwarder').Count | Should -Be 1
        (Get-L2tpTunnel -netns $A -ErrorAction Stop | ForEach-Object { "$($_.TunnelId)/$($_.Backend)" }) | Should -Be '3401/Managed'
        @(Get-L2tpTunnel -Backend Kernel -netns $A -ErrorAction Stop).Count | Should -Be 0
        Remove-L2tpTunnel -netns $A -TunnelId 3401 -ErrorAction Stop
        @(Get-L2tpTunnel -netns $A -ErrorAction Stop).Count | Should -Be 0
        # The forwarder exits a second after its last tunnel: gone before the next test counts forwarders.
        Wait-LabCondition -TimeoutSeconds 30 { @(Get-LabNamespaceProcess -Namespace $A -CommandLinePattern 'l2tp-forwarder').Count -eq 0 } |
            Should -BeTrue -Because 'a forwarder left with no tunnel exits by itself'
    }

    It '-Backend Kernel, given or bound from a piped kernel object, wins over L2TP_BACKEND=Managed' {
        $env:L2TP_BACKEND = 'Managed'
        $t = New-L2tpTunnel -Backend Kernel -NetworkNamespace $A -TunnelId 3402 -PeerTunnelId 4000 -Local 192.0.2.1 -Remote 192.0.2.2 -SourcePort 5402 -DestinationPort 6000 -ErrorAction Stop
        $t.Backend | Should -Be ([L2tp.BackendKind]::Kernel)
        $s = $t | New-L2tpSession -SessionId 1402 -PeerSessionId 2402 -ErrorAction Stop
        $s.Backend | Should -Be ([L2tp.BackendKind]::Kernel) -Because 'Backend binds from the piped tunnel'
        (Get-LabIpL2tp $A session).session_id | Should -Be @(1402)
        (Get-L2tpTunnel -Backend Kernel -netns $A -ErrorAction Stop | Get-L2tpSession -ErrorAction Stop).SessionId | Should -Be @(1402)
        Get-L2tpTunnel -Backend Kernel -netns $A -ErrorAction Stop | Remove-L2tpTunnel -Force -ErrorAction Stop
        @(Get-LabIpL2tp $A session).Count | Should -Be 0
        Wait-LabL2tpTunnelGone $A 3402 5402 -Backend Kernel | Should -BeTrue
        @(Get-LabNamespaceProcess -Namespace $A -CommandLinePattern 'l2tp-forwarder').Count | Should -Be 0 -Because 'nothing went to the managed backend'
    }

    It 'an L2TP_BACKEND that names no backend gives L2tp.InvalidBackend' {
        $env:L2TP_BACKEND = 'Kernal'
        $out = New-L2tpTunnel -netns $A -TunnelId 3403 -PeerTunnelId 4403 -Local 192.0.2.1 -Remote 192.0.2.2 -SourcePort 5403 -DestinationPort 6403 -ErrorVariable err -ErrorAction SilentlyContinue
        $out | Should -BeNullOrEmpty
        Assert-LabL2tpError $err -Id 'L2tp.InvalidBackend' -Category InvalidArgument -Target 'Kernal'
        @(Get-LabIpL2tp $A tunnel).Count | Should -Be 0
    }
}

Describe 'What one pwsh keeps of the Kernel backend between cmdlet calls' -Skip:$NotInGuest {
    BeforeAll { Remove-LabL2tpConfig -Namespace $A -Backend Kernel }
    AfterEach { Remove-LabL2tpConfig -Namespace $A -Backend Kernel }

    It 'a cached l2tp family id gone stale (as after l2tp_netlink is loaded again) is looked up again and the request sent again' {
        # The id a reloaded l2tp_netlink leaves behind: one that names no family now (the kernel answers ENOENT).
        $families = [L2tp.Commands.NewL2tpSessionCommand].Assembly.GetType('L2tp.Backends.KernelBackend', $true).GetField('Families', [System.Reflection.BindingFlags]'NonPublic,Static').GetValue($null)
        # Only $A's entry from here on (earlier tests of this pwsh cached other namespaces', which nothing here asks for).
        $families.Clear()
        $null = Get-L2tpTunnel -Backend Kernel -netns $A -ErrorAction Stop
        @($families.Keys).Count | Should -Be 1
        foreach ($k in @($families.Keys)) { $families[$k] = [uint16]0xFFF0 }
        $t = New-L2tpTunnel -Backend Kernel -netns $A -TunnelId 3410 -PeerTunnelId 4410 -Local 192.0.2.1 -Remote 192.0.2.2 -SourcePort 5410 -DestinationPort 6410 -ErrorAction Stop -Verbose 4>&1
        ($t | Where-Object { $_ -is [System.Management.Automation.VerboseRecord] }).Message -join "`n" | Should -Match 'the l2tp family is now id \d+ \(was 65520\)'
        ($t | Where-Object { $_ -is [L2tp.L2tpTunnel] }).TunnelId | Should -Be 3410
        (Get-LabIpL2tp $A tunnel).tunnel_id | Should -Be @(3410)
        @($families.Values) | Should -Not -Contain ([uint16]0xFFF0)
    }

    It 'New-L2tpSession in a pipeline (tunnel and route MTU asked once) returns what Get-L2tpSession then reads of each session' {
        $null = New-L2tpTunnel -Backend Kernel -netns $A -TunnelId 3411 -PeerTunnelId 4411 -Local 192.0.2.1 -Remote 192.0.2.2 -SourcePort 5411 -DestinationPort 6411 -ErrorAction Stop
        $made = 1..3 | ForEach-Object { [pscustomobject]@{ TunnelId = 3411; SessionId = 1410 + $_; PeerSessionId = 2410 + $_; Cookie = if ($_ -eq 2) { 'a1b2c3d4' } } } |
            New-L2tpSession -Backend Kernel -netns $A -ErrorAction Stop
        $made.Count | Should -Be 3
        foreach ($m in $made) {
            $g = Get-L2tpSession -Backend Kernel -netns $A -TunnelId 3411 -SessionId $m.SessionId -ErrorAction Stop
            "$($m.InterfaceName) $($m.Mtu) $($m.SuggestedMtu) $($m.Cookie)" | Should -Be "$($g.InterfaceName) $($g.Mtu) $($g.SuggestedMtu) $($g.Cookie)"
            $m.Mtu | Should -BeGreaterThan 0
            $m.SuggestedMtu | Should -BeGreaterThan 0
        }
        $made[1].SuggestedMtu | Should -Be ($made[0].SuggestedMtu - 4) -Because 'a 4-byte cookie costs 4 bytes of MTU'
    }

    It 'a namespace the cmdlets worked in goes away with ip netns del (no socket of theirs keeps it)' {
        $x = New-LabNamespace -Prefix 'kX'
        try {
            ip link add kxv0 netns $x type veth peer name kxv1 netns $B
            $LASTEXITCODE | Should -Be 0
            foreach ($i in 1..3) { $null = Get-L2tpTunnel -Backend Kernel -netns $x -ErrorAction Stop }
            $null = New-L2tpTunnel -Backend Kernel -netns $x -TunnelId 3412 -PeerTunnelId 4412 -Local 192.0.2.9 -Remote 192.0.2.10 -SourcePort 5412 -DestinationPort 6412 -ErrorAction SilentlyContinue
        }
        finally {
            ip netns del $x
        }
        # The veth's peer in $B goes only when the namespace is destroyed, which an open socket there would prevent.
        Wait-LabCondition -TimeoutSeconds 30 -IntervalMilliseconds 200 { -not (ip -n $B link show kxv1 2>$null) } | Should -BeTrue
    }
}

Describe 'Test-L2tpSession -Backend Kernel: the kernel end names <Name> that the managed peer sends' -Skip:$NotInGuest -ForEach @(
    @{ Name = 'a wrong cookie'; ASession = @{ PeerCookie = '0a0b0c0d' }; BTunnel = @{}; BSession = @{ Cookie = '01020304' }; Kind = 'CookieMismatch'; Actual = '01020304'
        Message = "the peer sends cookie 01020304; this session's PeerCookie is 0a0b0c0d*" }
    @{ Name = 'a wrong session id'; ASession = @{}; BTunnel = @{}; BSession = @{ PeerSessionId = 1501 }; Kind = 'UnknownSession'; Actual = '1501'; Message = '192.0.2.2 sends session id 1501*' }
    @{ Name = 'no sequence numbers'; ASession = @{ Sequencing = 'Recv' }; BTunnel = @{}; BSession = @{}; Kind = 'SequenceMissing'; Actual = 'none'; Message = 'the peer sends no sequence numbers*' }
    @{ Name = 'a wrong source port'; ASession = @{}; BTunnel = @{ SourcePort = 6501 }; BSession = @{}; Kind = 'WrongSource'; Actual = '192.0.2.2:6501'; Message = '192.0.2.2:6501 sends L2TPv3 to port 5500*' }
    @{ Name = 'a wrong destination port'; ASession = @{}; BTunnel = @{ DestinationPort = 5501 }; BSession = @{}; Kind = 'WrongPort'; Actual = '5501'; Message = '192.0.2.2:6500 sends L2TPv3 to port 5501*' }
    @{ Name = 'the other encapsulation'; ASession = @{}; BTunnel = @{ Encapsulation = 'Ip' }; BSession = @{}; Kind = 'WrongEncapsulation'; Actual = 'Ip'; Message = '192.0.2.2 sends L2TPv3 as IP protocol 115*' }
) {
    # $A: kernel tunnel 3500 (UDP 5500 -> 6500), session 1500 -> 2500. $B: the managed mirror with the one thing the
    # case changes, pinging a static neighbour so frames flow whatever comes back.
    BeforeAll {
        Remove-LabL2tpConfig -Namespace $A -Backend Kernel
        Get-L2tpTunnel -Backend Managed -netns $B -ErrorAction SilentlyContinue | Remove-L2tpTunnel -Force -ErrorAction SilentlyContinue
        New-L2tpTunnel -Backend Kernel -netns $A -TunnelId 3500 -PeerTunnelId 4500 -Local 192.0.2.1 -Remote 192.0.2.2 -SourcePort 5500 -DestinationPort 6500 -ErrorAction Stop |
            New-L2tpSession -SessionId 1500 -PeerSessionId 2500 -ErrorAction Stop @ASession | Out-Null
        $bt = @{ Encapsulation = 'Udp'; SourcePort = 6500; DestinationPort = 5500 }
        foreach ($k in $BTunnel.Keys) { $bt[$k] = $BTunnel[$k] }
        if ($bt.Encapsulation -eq 'Ip') { $bt.Remove('SourcePort'); $bt.Remove('DestinationPort') }
        $bs = @{ PeerSessionId = 1500 }
        foreach ($k in $BSession.Keys) { $bs[$k] = $BSession[$k] }
        $sb = New-L2tpTunnel -Backend Managed -netns $B -TunnelId 4500 -PeerTunnelId 3500 -Local 192.0.2.2 -Remote 192.0.2.1 -ErrorAction Stop @bt |
            New-L2tpSession -SessionId 2500 -ErrorAction Stop @bs
        Invoke-LabNs $B "ip link set '$($sb.InterfaceName)' up && ip addr add 198.51.100.2/24 dev '$($sb.InterfaceName)' && ip neigh replace 198.51.100.1 lladdr 02:00:00:00:00:99 dev '$($sb.InterfaceName)' nud permanent" | Out-Null
        $ping = Start-LabBackgroundProcess -Namespace $B -FilePath ping -ArgumentList @('-q', '-i', '0.2', '198.51.100.1') -LogPath '/tmp/kdiag-ping.log'
    }
    AfterAll {
        if ($ping) { Stop-LabBackgroundProcess $ping }
        Get-L2tpTunnel -Backend Managed -netns $B -ErrorAction SilentlyContinue | Remove-L2tpTunnel -Force -ErrorAction SilentlyContinue
        Remove-LabL2tpConfig -Namespace $A -Backend Kernel
    }

    It 'finds it from a capture alone and words it' {
        $d = Test-L2tpSession -Backend Kernel -netns $A -TunnelId 3500 -SessionId 1500 -Seconds 3 -ErrorAction Stop
        $d.Backend | Should -Be ([L2tp.BackendKind]::Kernel)
        $d.Verdict | Should -Be Mismatch -Because ($d.Findings.Message -join '; ')
        $f = @($d.Findings | Where-Object Kind -EQ $Kind)
        $f.Count | Should -Be 1 -Because ($d.Findings.Message -join '; ')
        $f[0].Actual | Should -Be $Actual
        $f[0].Message | Should -BeLike $Message
    }
}
