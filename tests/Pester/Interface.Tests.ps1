#Requires -Version 7.2
# Pester 5 tests of Set-L2tpInterface (ip link set ... up/down/mtu/address, ip addr add ... [peer ...]) on session
# interfaces and plain ones, -Mtu Auto for every encapsulation, and the argument completers (needs root).
#   underlay: $A veth0 192.0.2.1/24 2001:db8::1/64  <->  $B veth0 192.0.2.2/24 2001:db8::2/64 (MTU 1500, 9000 later)
#   $A also has a plain veth pair plain0/plain1 (not a session interface).
# Only $A holds tunnels: the session interfaces exist as soon as the session does, no peer is needed.

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot '../lab/Lab.psm1') -Force
    $ModulePath = Import-LabL2tpModule

    $A, $B = New-LabSitePair -Prefix 'l2tpI-a', 'l2tpI-b'
    Invoke-LabNs $A 'ip addr add 2001:db8::1/64 dev veth0 nodad' | Out-Null
    Invoke-LabNs $B 'ip addr add 2001:db8::2/64 dev veth0 nodad' | Out-Null
    Invoke-LabNs $A 'ip link add plain0 type veth peer name plain1' | Out-Null

    # A tunnel in $A: UDP over IPv4 (default) or IPv6, or encap ip.
    function New-FixtureTunnel([uint32]$TunnelId = 3000, [uint16]$SourcePort = 5000, [switch]$IPv6, [switch]$Ip) {
        $p = @{ NetworkNamespace = $A; TunnelId = $TunnelId; PeerTunnelId = 4000; ErrorAction = 'Stop' }
        if ($IPv6) { $p.Local = '2001:db8::1'; $p.Remote = '2001:db8::2' } else { $p.Local = '192.0.2.1'; $p.Remote = '192.0.2.2' }
        if ($Ip) { $p.Encapsulation = 'Ip' } else { $p.SourcePort = $SourcePort; $p.DestinationPort = 6000 }
        New-L2tpTunnel @p
    }

    function Get-SysNet([string]$Name, [string]$File) {
        (Invoke-LabNs $A "cat /sys/class/net/$Name/$File").Trim()
    }
    function Get-Mtu([string]$Name) { [int](Get-SysNet $Name 'mtu') }
    # IFF_UP, the administrative state `ip link set up/down` changes.
    function Test-AdminUp([string]$Name) { ([Convert]::ToInt32((Get-SysNet $Name 'flags'), 16) -band 1) -eq 1 }
    # `ip -o addr show dev NAME` lines for the global addresses (the kernel's own link-local IPv6 left out).
    function Get-AddrLine([string]$Name) {
        @((Invoke-LabNs $A "ip -o addr show dev $Name") -split "`n" | Where-Object { $_ -match '\binet6? ' -and $_ -notmatch 'scope link' } |
                ForEach-Object { ($_ -replace '^\d+:\s+\S+\s+', '' -replace '\\.*$', '').Trim() })
    }
    # Everything Set-L2tpInterface could change, as one comparable string.
    function Get-LinkSnapshot([string]$Name) {
        "up=$(Test-AdminUp $Name) mtu=$(Get-Mtu $Name) mac=$(Get-SysNet $Name 'address') addr=$((Get-AddrLine $Name) -join ';')"
    }
    function Clear-Link([string]$Name) {
        Invoke-LabNs $A "ip addr flush dev $Name && ip link set $Name down" | Out-Null
    }
}

AfterAll {
    if (Get-Command Remove-LabL2tpConfig -ErrorAction Ignore) { Remove-LabL2tpConfig -Namespace $A, $B }
    if (Get-Command Remove-LabNamespace -ErrorAction Ignore) { Remove-LabNamespace -Name $A, $B }
}

Describe 'Set-L2tpInterface on a session interface' {
    BeforeAll {
        Remove-LabL2tpConfig -Namespace $A
        New-FixtureTunnel | Out-Null
        $S = New-L2tpSession -netns $A -TunnelId 3000 -SessionId 1000 -PeerSessionId 2000 -ErrorAction Stop
    }
    BeforeEach {
        Clear-Link 'l2tpeth0'
        Invoke-LabNs $A 'ip link set l2tpeth0 mtu 1446' | Out-Null
    }
    AfterAll { Remove-LabL2tpConfig -Namespace $A }

    It 'without changes returns the interface as an L2tp.L2tpInterface' {
        $i = Set-L2tpInterface -netns $A -InterfaceName l2tpeth0 -ErrorAction Stop
        @($i).Count | Should -Be 1
        $i | Should -BeOfType ([L2tp.L2tpInterface])
        $i.InterfaceName | Should -Be 'l2tpeth0'
        $i.Index | Should -Be ([int](Get-SysNet l2tpeth0 'ifindex'))
        $i.Up | Should -BeFalse
        $i.Mtu | Should -Be 1446
        $i.MacAddress | Should -BeExactly (Get-SysNet l2tpeth0 'address')
        @($i.Addresses).Count | Should -Be 0
        $i.Master | Should -Be ''
        $i.NetworkNamespace | Should -Be $A
    }

    It '-Up brings it up (ip link set up)' {
        $i = Set-L2tpInterface -netns $A l2tpeth0 -Up -ErrorAction Stop
        $i.Up | Should -BeTrue
        Test-AdminUp l2tpeth0 | Should -BeTrue
        Invoke-LabNs $A 'ip -o link show dev l2tpeth0' | Should -Match '<[^>]*\bUP\b'
    }

    It '-Down takes it down again (ip link set down)' {
        Set-L2tpInterface -netns $A l2tpeth0 -Up -ErrorAction Stop | Out-Null
        $i = Set-L2tpInterface -netns $A l2tpeth0 -Down -ErrorAction Stop
        $i.Up | Should -BeFalse
        Test-AdminUp l2tpeth0 | Should -BeFalse
    }

    It '-Mtu 1400 sets the MTU; the session reports it and keeps SuggestedMtu 1446' {
        $i = Set-L2tpInterface -netns $A l2tpeth0 -Mtu 1400 -ErrorAction Stop
        $i.Mtu | Should -Be 1400
        Get-Mtu l2tpeth0 | Should -Be 1400
        $s = Get-L2tpSession -netns $A -TunnelId 3000 -SessionId 1000 -ErrorAction Stop
        $s.Mtu | Should -Be 1400
        $s.SuggestedMtu | Should -Be 1446
    }

    It '-Mtu Auto applies the SuggestedMtu (1446) again' {
        Set-L2tpInterface -netns $A l2tpeth0 -Mtu 1300 -ErrorAction Stop | Out-Null
        $i = Set-L2tpInterface -netns $A l2tpeth0 -Mtu Auto -ErrorAction Stop
        $i.Mtu | Should -Be 1446
        Get-Mtu l2tpeth0 | Should -Be 1446
        (Set-L2tpInterface -netns $A l2tpeth0 -Mtu auto -ErrorAction Stop).Mtu | Should -Be 1446 -Because 'Auto is case-insensitive'
    }

    It '-Mtu takes the smallest MTU, 68' {
        (Set-L2tpInterface -netns $A l2tpeth0 -Mtu 68 -ErrorAction Stop).Mtu | Should -Be 68
        Get-Mtu l2tpeth0 | Should -Be 68
        Set-L2tpInterface -netns $A l2tpeth0 -Mtu Auto -ErrorAction Stop | Out-Null
    }

    It '-Mtu <Text> gives L2tp.InvalidMtu and changes nothing' -ForEach @(
        @{ Text = '67' }, @{ Text = '0' }, @{ Text = '65536' }, @{ Text = '100000' }, @{ Text = 'abc' }, @{ Text = '-1' },
        @{ Text = '1400.5' }, @{ Text = '' }, @{ Text = 'Automatic' }
    ) {
        $before = Get-LinkSnapshot l2tpeth0
        $out = Set-L2tpInterface -netns $A l2tpeth0 -Up -Mtu $Text -ErrorVariable err -ErrorAction SilentlyContinue
        $out | Should -BeNullOrEmpty
        Assert-LabL2tpError $err -Id 'L2tp.InvalidMtu' -Category InvalidArgument -Target $Text
        Get-LinkSnapshot l2tpeth0 | Should -Be $before -Because '-Up must not be applied when -Mtu is refused'
    }

    It '-Mtu above what the device takes (65535 on a TAP) fails naming the value and changes nothing' {
        # README, Errors: failures carry the offending value as target object.
        $before = Get-LinkSnapshot l2tpeth0
        $out = Set-L2tpInterface -netns $A l2tpeth0 -Mtu 65535 -ErrorVariable err -ErrorAction SilentlyContinue
        $out | Should -BeNullOrEmpty
        @($err).Count | Should -Be 1
        "$($err[0].TargetObject)" | Should -Be '65535' -Because "the error was [$($err[0].FullyQualifiedErrorId)] $($err[0])"
        Get-LinkSnapshot l2tpeth0 | Should -Be $before
    }

    It '-Address 198.51.100.1/24 adds the address (ip addr add 198.51.100.1/24)' {
        $i = Set-L2tpInterface -netns $A l2tpeth0 -Address 198.51.100.1/24 -ErrorAction Stop
        $i.Addresses | Should -Contain '198.51.100.1/24'
        Get-AddrLine l2tpeth0 | Should -Be @('inet 198.51.100.1/24 scope global l2tpeth0') -Because (Invoke-LabNs $A 'ip addr show dev l2tpeth0')
    }

    It '-Address without a prefix adds a host address (/32)' {
        $i = Set-L2tpInterface -netns $A l2tpeth0 -Address 198.51.100.1 -ErrorAction Stop
        ($i.Addresses | Where-Object { $_ -notlike 'fe80:*' }) | Should -Be @('198.51.100.1/32')
        Invoke-LabNs $A 'ip addr show dev l2tpeth0' | Should -Match 'inet 198\.51\.100\.1/32 scope global l2tpeth0'
    }

    It '-Address 198.51.100.1 -PeerAddress 198.51.100.2 gives the point-to-point form of the man page' {
        $i = Set-L2tpInterface -netns $A l2tpeth0 -Up -Address 198.51.100.1 -PeerAddress 198.51.100.2 -ErrorAction Stop
        ($i.Addresses | Where-Object { $_ -notlike 'fe80:*' }) | Should -Be @('198.51.100.1 peer 198.51.100.2/32')
        $i.Up | Should -BeTrue
        Invoke-LabNs $A 'ip addr show dev l2tpeth0' | Should -Match 'inet 198\.51\.100\.1 peer 198\.51\.100\.2/32 scope global l2tpeth0'
        Invoke-LabNs $A 'ip route show dev l2tpeth0' | Should -Match '^198\.51\.100\.2 proto kernel scope link src 198\.51\.100\.1'
    }

    It 'adds IPv6 addresses, with a prefix and in the peer form' {
        Set-L2tpInterface -netns $A l2tpeth0 -Address 2001:db8:1::1/64 -ErrorAction Stop | Out-Null
        $i = Set-L2tpInterface -netns $A l2tpeth0 -Address 2001:db8:2::1 -PeerAddress 2001:db8:2::2 -ErrorAction Stop
        $text = Invoke-LabNs $A 'ip -6 addr show dev l2tpeth0'
        $text | Should -Match 'inet6 2001:db8:1::1/64 scope global'
        $text | Should -Match 'inet6 2001:db8:2::1 peer 2001:db8:2::2/128 scope global'
        # The object lists them as `ip addr` writes them, as it does IPv4 addresses.
        $i.Addresses | Should -Contain '2001:db8:1::1/64' -Because "ip -6 addr shows: $text"
        $i.Addresses | Should -Contain '2001:db8:2::1 peer 2001:db8:2::2/128'
    }

    It 'an address already there gives L2tp.AddressExists' {
        Set-L2tpInterface -netns $A l2tpeth0 -Address 198.51.100.1/24 -ErrorAction Stop | Out-Null
        $out = Set-L2tpInterface -netns $A l2tpeth0 -Address 198.51.100.1/24 -ErrorVariable err -ErrorAction SilentlyContinue
        $out | Should -BeNullOrEmpty
        Assert-LabL2tpError $err -Id 'L2tp.AddressExists' -Category ResourceExists -Target '198.51.100.1/24'
        @(Get-AddrLine l2tpeth0).Count | Should -Be 1
    }

    It 'a failed -Address (already there) leaves -Up and -Mtu unapplied' {
        # README, Errors: failures leave nothing behind.
        Set-L2tpInterface -netns $A l2tpeth0 -Address 198.51.100.1/24 -ErrorAction Stop | Out-Null
        $before = Get-LinkSnapshot l2tpeth0
        Set-L2tpInterface -netns $A l2tpeth0 -Up -Mtu 1300 -Address 198.51.100.1/24 -ErrorVariable err -ErrorAction SilentlyContinue | Out-Null
        Assert-LabL2tpError $err -Id 'L2tp.AddressExists' -Category ResourceExists -Target '198.51.100.1/24'
        Get-LinkSnapshot l2tpeth0 | Should -Be $before
        Set-L2tpInterface -netns $A l2tpeth0 -Mtu Auto -ErrorAction Stop | Out-Null
    }

    It '-MacAddress sets the MAC address (colon or dash separated)' {
        $i = Set-L2tpInterface -netns $A l2tpeth0 -MacAddress 02:00:5E:00:53:01 -ErrorAction Stop
        $i.MacAddress | Should -BeExactly '02:00:5e:00:53:01'
        Get-SysNet l2tpeth0 'address' | Should -BeExactly '02:00:5e:00:53:01'
        (Set-L2tpInterface -netns $A l2tpeth0 -MacAddress 02-00-5e-00-53-02 -ErrorAction Stop).MacAddress | Should -BeExactly '02:00:5e:00:53:02'
        Get-SysNet l2tpeth0 'address' | Should -BeExactly '02:00:5e:00:53:02'
    }

    It '<Why> gives <Id> and changes nothing' -ForEach @(
        @{ Why = '-PeerAddress without -Address'; Params = @{ Up = $true; PeerAddress = '198.51.100.2' }; Id = 'L2tp.PeerWithoutAddress'; Target = '198.51.100.2' }
        foreach ($text in '198.51.100.300', '198.51.100.1/33', '2001:db8::1/129', '198.51.100', 'not-an-address', '198.51.100.1/x', '198.51.100.1/-1') {
            @{ Why = "-Address $text"; Params = @{ Up = $true; Address = $text }; Id = 'L2tp.InvalidAddress'; Target = $text }
        }
        @{ Why = 'an invalid -PeerAddress'; Params = @{ Address = '198.51.100.1'; PeerAddress = '198.51.100.999' }; Id = 'L2tp.InvalidAddress'; Target = '198.51.100.999' }
        @{ Why = '-Address and -PeerAddress of different families'; Params = @{ Address = '198.51.100.1'; PeerAddress = '2001:db8::2' }; Id = 'L2tp.AddressFamilyMismatch'; Target = '2001:db8::2' }
        foreach ($text in 'zz', '01:00:5e:00:00:01', 'ff:ff:ff:ff:ff:ff', '02:00:5e:00:53', '02:00:5e:00:53:01:02', '02:00:5e:00:53:g1', '0200.5e00.5301') {
            @{ Why = "-MacAddress $text"; Params = @{ Up = $true; MacAddress = $text }; Id = 'L2tp.InvalidMacAddress'; Target = $text }
        }
        @{ Why = '-Up -Down'; Params = @{ Up = $true; Down = $true; Mtu = '1300' }; Id = 'L2tp.ConflictingParameters'; Target = 'l2tpeth0' }
        @{ Why = '-Mtu Auto on an interface that is no session interface'; Interface = 'plain0'; Params = @{ Up = $true; Mtu = 'Auto' }; Id = 'L2tp.NotASessionInterface'; Target = 'plain0' }
    ) {
        $name = if ($_.ContainsKey('Interface')) { $_.Interface } else { 'l2tpeth0' }
        $before = Get-LinkSnapshot $name
        $out = Set-L2tpInterface -netns $A $name @Params -ErrorVariable err -ErrorAction SilentlyContinue
        $out | Should -BeNullOrEmpty
        Assert-LabL2tpError $err -Id $Id -Category InvalidArgument -Target $Target
        Get-LinkSnapshot $name | Should -Be $before
    }

    It 'an unknown interface gives L2tp.InterfaceNotFound' {
        $out = Set-L2tpInterface -netns $A nosuch0 -Up -ErrorVariable err -ErrorAction SilentlyContinue
        $out | Should -BeNullOrEmpty
        Assert-LabL2tpError $err -Id 'L2tp.InterfaceNotFound' -Category ObjectNotFound -Target 'nosuch0'
    }

    It 'an interface of another namespace is not found here' {
        Set-L2tpInterface -netns $B l2tpeth0 -Up -ErrorVariable err -ErrorAction SilentlyContinue | Out-Null
        Assert-LabL2tpError $err -Id 'L2tp.InterfaceNotFound' -Category ObjectNotFound -Target 'l2tpeth0'
        Test-AdminUp l2tpeth0 | Should -BeFalse
    }

    It '-WhatIf changes nothing' {
        $before = Get-LinkSnapshot l2tpeth0
        Set-L2tpInterface -netns $A l2tpeth0 -Up -Mtu 1300 -Address 198.51.100.1 -PeerAddress 198.51.100.2 -MacAddress 02:00:5e:00:53:0a -WhatIf -ErrorAction Stop | Out-Null
        Set-L2tpInterface -netns $A l2tpeth0 -Mtu Auto -WhatIf -ErrorAction Stop | Out-Null
        Get-LinkSnapshot l2tpeth0 | Should -Be $before
    }

    It 'supports -Confirm (ShouldProcess) and acts with -Confirm:$false' {
        (Get-Command Set-L2tpInterface).Parameters.Keys | Should -Contain 'Confirm'
        (Get-Command Set-L2tpInterface).Parameters.Keys | Should -Contain 'WhatIf'
        (Set-L2tpInterface -netns $A l2tpeth0 -Up -Confirm:$false -ErrorAction Stop).Up | Should -BeTrue
        Test-AdminUp l2tpeth0 | Should -BeTrue
    }

    It 'takes -dev and -Name for -InterfaceName' {
        (Set-L2tpInterface -netns $A -dev l2tpeth0 -Up -ErrorAction Stop).Up | Should -BeTrue
        (Set-L2tpInterface -netns $A -Name l2tpeth0 -Down -ErrorAction Stop).Up | Should -BeFalse
    }

    It 'works on any interface: a plain veth by name' {
        try {
            $i = Set-L2tpInterface -netns $A plain0 -Up -Mtu 9000 -Address 203.0.113.1/24 -ErrorAction Stop
            $i.InterfaceName | Should -Be 'plain0'
            $i.Up | Should -BeTrue
            $i.Mtu | Should -Be 9000
            ($i.Addresses | Where-Object { $_ -notlike 'fe80:*' }) | Should -Be @('203.0.113.1/24')
            Get-Mtu plain0 | Should -Be 9000
            (Set-L2tpInterface -netns $A plain0 -Mtu 65535 -ErrorAction Stop).Mtu | Should -Be 65535 -Because 'a veth takes the largest MTU'
        }
        finally { Invoke-LabNs $A 'ip addr flush dev plain0 && ip link set plain0 down mtu 1500' | Out-Null }
    }
}

Describe 'Set-L2tpInterface from the pipeline' {
    BeforeAll {
        Remove-LabL2tpConfig -Namespace $A
        New-FixtureTunnel | Out-Null
        New-L2tpSession -netns $A -TunnelId 3000 -SessionId 1000 -PeerSessionId 2000 -ErrorAction Stop | Out-Null
        New-L2tpSession -netns $A -TunnelId 3000 -SessionId 1001 -PeerSessionId 2001 -Cookie 0102030405060708 -ErrorAction Stop | Out-Null
        New-L2tpSession -netns $A -TunnelId 3000 -SessionId 1002 -PeerSessionId 2002 -L2SpecType None -Name pw-none0 -ErrorAction Stop | Out-Null
    }
    AfterAll { Remove-LabL2tpConfig -Namespace $A }

    It 'Get-L2tpSession -netns A | Set-L2tpInterface -Up -Mtu Auto sets every session interface in A, each to its own MTU' {
        foreach ($n in 'l2tpeth0', 'l2tpeth1', 'pw-none0') { Invoke-LabNs $A "ip link set $n mtu 1280" | Out-Null }
        $out = @(Get-L2tpSession -netns $A -ErrorAction Stop | Set-L2tpInterface -Up -Mtu Auto -ErrorAction Stop)
        $out.Count | Should -Be 3
        ($out.InterfaceName | Sort-Object) -join ',' | Should -Be 'l2tpeth0,l2tpeth1,pw-none0'
        foreach ($o in $out) {
            $o | Should -BeOfType ([L2tp.L2tpInterface])
            $o.NetworkNamespace | Should -Be $A
            $o.Up | Should -BeTrue
        }
        Get-Mtu l2tpeth0 | Should -Be 1446
        Get-Mtu l2tpeth1 | Should -Be 1438 -Because 'an 8-byte cookie costs 8 bytes'
        Get-Mtu pw-none0 | Should -Be 1450 -Because 'no sublayer saves 4 bytes'
        foreach ($s in Get-L2tpSession -netns $A -ErrorAction Stop) { $s.Mtu | Should -Be $s.SuggestedMtu }
    }

    It 'takes the namespace from the piped object (no -netns on Set-L2tpInterface)' {
        $o = Get-L2tpSession -netns $A -TunnelId 3000 -SessionId 1000 -ErrorAction Stop | Set-L2tpInterface -Down -ErrorAction Stop
        $o.NetworkNamespace | Should -Be $A
        Test-AdminUp l2tpeth0 | Should -BeFalse
    }

    It 'pipes its own output on: Set-L2tpInterface | Set-L2tpInterface' {
        $o = Set-L2tpInterface -netns $A l2tpeth1 -Mtu 1400 -ErrorAction Stop | Set-L2tpInterface -Down -ErrorAction Stop | Set-L2tpInterface -Up -ErrorAction Stop
        $o.InterfaceName | Should -Be 'l2tpeth1'
        $o.Mtu | Should -Be 1400
        $o.Up | Should -BeTrue
    }

    It "the issue's pipeline: New-L2tpSession | Set-L2tpInterface -Up -Mtu Auto" {
        $o = New-L2tpSession -netns $A -TunnelId 3000 -SessionId 1003 -PeerSessionId 2003 -ErrorAction Stop | Set-L2tpInterface -Up -Mtu Auto -ErrorAction Stop
        $o.InterfaceName | Should -Be 'l2tpeth2'
        $o.Up | Should -BeTrue
        $o.Mtu | Should -Be 1446
        $o.NetworkNamespace | Should -Be $A
    }

    It 'a piped session whose interface is gone gives L2tp.InterfaceNotFound, and the others are still set' {
        $sessions = @(Get-L2tpSession -netns $A -ErrorAction Stop | Sort-Object SessionId)
        $ghost = [L2tp.L2tpSession]@{ InterfaceName = 'gone0'; NetworkNamespace = $A }
        $out = @($sessions[0], $ghost, $sessions[1] | Set-L2tpInterface -Mtu 1300 -ErrorVariable err -ErrorAction SilentlyContinue)
        $out.Count | Should -Be 2
        Assert-LabL2tpError $err -Id 'L2tp.InterfaceNotFound' -Category ObjectNotFound -Target 'gone0'
        Get-Mtu $sessions[0].InterfaceName | Should -Be 1300
        Get-Mtu $sessions[1].InterfaceName | Should -Be 1300
    }
}

Describe 'Set-L2tpInterface -Mtu Auto applies the MTU that fits each encapsulation' {
    BeforeAll {
        # SuggestedMtu says $Mtu, -Mtu Auto sets it, and the interface has it.
        function Assert-AutoMtu($Case, [int] $Mtu) {
            $s = Get-L2tpSession -netns $A | Where-Object InterfaceName -EQ $Case.Interface
            $s.SuggestedMtu | Should -Be $Mtu -Because $Case.Name
            $o = Set-L2tpInterface -netns $A $Case.Interface -Mtu Auto -ErrorAction Stop
            $o.Mtu | Should -Be $Mtu -Because $Case.Name
            Get-Mtu $Case.Interface | Should -Be $Mtu -Because $Case.Name
        }
        Remove-LabL2tpConfig -Namespace $A
        $Cases = @(
            @{ Name = 'UDP/IPv4, default sublayer, no cookie'; Tunnel = @{ TunnelId = 3001; SourcePort = 5001 }; Session = @{}; Expected = 1446; Jumbo = 8946 }
            @{ Name = 'UDP/IPv4, no sublayer'; Tunnel = @{ TunnelId = 3002; SourcePort = 5002 }; Session = @{ L2SpecType = 'None' }; Expected = 1450; Jumbo = 8950 }
            @{ Name = 'UDP/IPv4, 8-byte cookie'; Tunnel = @{ TunnelId = 3003; SourcePort = 5003 }; Session = @{ Cookie = '0102030405060708' }; Expected = 1438; Jumbo = 8938 }
            @{ Name = 'UDP/IPv4, 4-byte cookie'; Tunnel = @{ TunnelId = 3004; SourcePort = 5004 }; Session = @{ Cookie = '01020304' }; Expected = 1442; Jumbo = 8942 }
            @{ Name = 'UDP/IPv6'; Tunnel = @{ TunnelId = 3005; SourcePort = 5005; IPv6 = $true }; Session = @{}; Expected = 1426; Jumbo = 8926 }
            @{ Name = 'encap ip over IPv4'; Tunnel = @{ TunnelId = 3006; Ip = $true }; Session = @{}; Expected = 1458; Jumbo = 8958 }
        )
        $n = 0
        foreach ($c in $Cases) {
            $t = $c.Tunnel
            New-FixtureTunnel @t | Out-Null
            $s = $c.Session
            $c.Interface = "pw-auto$n"
            New-L2tpSession -netns $A -TunnelId $t.TunnelId -SessionId (1100 + $n) -PeerSessionId (2100 + $n) -Name $c.Interface @s -ErrorAction Stop | Out-Null
            $n++
        }
    }
    AfterAll {
        Remove-LabL2tpConfig -Namespace $A
        Invoke-LabNs $A 'ip link set veth0 mtu 1500' | Out-Null
        Invoke-LabNs $B 'ip link set veth0 mtu 1500' | Out-Null
    }

    It 'over a 1500-byte underlay: SuggestedMtu and -Mtu Auto are 1446/1450/1438/1442/1426/1458' {
        foreach ($c in $Cases) {
            Invoke-LabNs $A "ip link set $($c.Interface) mtu 1280" | Out-Null
            Assert-AutoMtu $c $c.Expected
        }
    }

    It 'over a 9000-byte underlay: -Mtu Auto grows to 9000 less the same overhead (8946 for UDP/IPv4)' {
        Invoke-LabNs $A 'ip link set veth0 mtu 9000' | Out-Null
        Invoke-LabNs $B 'ip link set veth0 mtu 9000' | Out-Null
        foreach ($c in $Cases) { Assert-AutoMtu $c $c.Jumbo }
    }

    It 'a route with its own MTU (ip route ... mtu 1400) wins over the device MTU' {
        Invoke-LabNs $A 'ip route add 192.0.2.2/32 dev veth0 mtu 1400' | Out-Null
        try {
            $o = Set-L2tpInterface -netns $A pw-auto0 -Mtu Auto -ErrorAction Stop
            $o.Mtu | Should -Be 1346
        }
        finally { Invoke-LabNs $A 'ip route del 192.0.2.2/32 dev veth0' -IgnoreExitCode | Out-Null }
    }
}

Describe 'Argument completion' {
    BeforeAll {
        Remove-LabL2tpConfig -Namespace $A
        New-FixtureTunnel -TunnelId 3000 -SourcePort 5000 | Out-Null
        New-FixtureTunnel -TunnelId 3100 -SourcePort 5100 | Out-Null
        New-L2tpSession -netns $A -TunnelId 3000 -SessionId 1000 -PeerSessionId 2000 -ErrorAction Stop | Out-Null
        New-L2tpSession -netns $A -TunnelId 3000 -SessionId 1001 -PeerSessionId 2001 -ErrorAction Stop | Out-Null
        New-L2tpSession -netns $A -TunnelId 3100 -SessionId 1100 -PeerSessionId 2100 -ErrorAction Stop | Out-Null
        New-L2tpBridge -netns $A br-comp0 -ErrorAction Stop | Out-Null
        New-L2tpBridge -netns $A br-comp1 -ErrorAction Stop | Out-Null
        function Get-Completion([string]$Line) {
            @((TabExpansion2 -inputScript $Line -cursorColumn $Line.Length).CompletionMatches | ForEach-Object CompletionText)
        }
    }
    AfterAll {
        Remove-LabL2tpConfig -Namespace $A
        Invoke-LabNs $A 'ip link del br-comp0; ip link del br-comp1' -IgnoreExitCode | Out-Null
    }

    It 'Get-L2tpSession -netns NS -TunnelId <Tab> lists the live tunnel ids' {
        (Get-Completion "Get-L2tpSession -netns $A -TunnelId ") -join ',' | Should -Be '3000,3100'
        (Get-Completion "Get-L2tpSession -NetworkNamespace $A -TunnelId 31") -join ',' | Should -Be '3100'
    }

    It 'Get-L2tpTunnel -TunnelId <Tab> and New-L2tpSession -TunnelId <Tab> list them too' {
        (Get-Completion "Get-L2tpTunnel -netns $A -TunnelId ") -join ',' | Should -Be '3000,3100'
        (Get-Completion "New-L2tpSession -netns $A -TunnelId ") -join ',' | Should -Be '3000,3100'
    }

    It 'Get-L2tpSession -TunnelId 3000 -SessionId <Tab> lists the session ids of that tunnel' {
        (Get-Completion "Get-L2tpSession -netns $A -TunnelId 3000 -SessionId ") -join ',' | Should -Be '1000,1001'
    }

    It 'Add-L2tpBridgePort -netns NS -Bridge <Tab> lists the bridges only' {
        (Get-Completion "Add-L2tpBridgePort -netns $A -Bridge ") -join ',' | Should -Be 'br-comp0,br-comp1'
        (Get-Completion "Remove-L2tpBridge -netns $A -Name br-comp1") -join ',' | Should -Be 'br-comp1'
    }

    It '-NetworkNamespace <Tab> lists the network namespaces' {
        $all = Get-Completion 'Get-L2tpTunnel -NetworkNamespace '
        $all | Should -Contain $A
        $all | Should -Contain $B
        Get-Completion "Set-L2tpInterface -netns $($A.Substring(0, $A.Length - 2))" | Should -Be @($A)
    }

    It 'Set-L2tpInterface -netns NS -InterfaceName l2tp<Tab> lists the session interfaces' {
        $c = Get-Completion "Set-L2tpInterface -netns $A -InterfaceName l2tp"
        $c | Should -Contain 'l2tpeth0'
        $c -join ',' | Should -Be 'l2tpeth0,l2tpeth1,l2tpeth2'
        Get-Completion "Set-L2tpInterface -netns $A -InterfaceName " | Should -Contain 'veth0'
        Get-Completion "Add-L2tpBridgePort -netns $A -Bridge br-comp0 -InterfaceName l2tpeth1" | Should -Be @('l2tpeth1')
    }

    It 'Set-L2tpInterface -Mtu <Tab> offers Auto' {
        Get-Completion "Set-L2tpInterface -netns $A l2tpeth0 -Mtu " | Should -Contain 'Auto'
        Get-Completion "Set-L2tpInterface -netns $A l2tpeth0 -Mtu a" | Should -Be @('Auto')
    }

    It 'completes nothing (and does not throw) for a namespace that does not exist' {
        Get-Completion 'Get-L2tpSession -netns no-such-namespace-x -TunnelId ' | Should -BeNullOrEmpty
        Get-Completion 'Set-L2tpInterface -netns no-such-namespace-x -InterfaceName l2tp' | Should -BeNullOrEmpty
    }
}
