#Requires -Version 7.2
# Pester 5: configuration as a file (Export-, Sync-, Compare-L2tpConfiguration, Install-L2tpConfigurationService) with
# the Managed backend, in network namespaces (needs root).
#   $A veth0 192.0.2.1/24  <->  $B veth0 192.0.2.2/24
#   $A: tunnel 3000, session 1000 on l2tpeth0 (198.51.100.1/24, cookies), session 1001 on l2tpeth1 in bridge br0 with
#       vx0 (one end of a veth pair inside $A: a port that is no session)
#   $B: tunnel 4000, session 2000 on l2tpeth0 (198.51.100.2/24), session 2001 on l2tpeth1
# "The reboot": $A is exported, wiped (forwarder stopped, namespace and its TAPs gone), its underlay made again, and the
# boot unit's own ExecStart line restores it from the file.

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot '../lab/Lab.psm1') -Force
    $ModulePath = Import-LabL2tpModule
    $Work = Join-Path ([IO.Path]::GetTempPath()) "l2tpcfg-$([guid]::NewGuid().ToString('N').Substring(0, 8))"
    New-Item -ItemType Directory $Work | Out-Null
    $File = Join-Path $Work 'a.json'

    $A, $B = New-LabSitePair -Prefix 'l2tpCfg-a', 'l2tpCfg-b'
    $Sites = @(
        @{ Ns = $A; Tunnel = 3000; Peer = 4000; Local = '192.0.2.1'; Remote = '192.0.2.2'; Sport = 5000; Dport = 6000; Session = 1000; Address = '198.51.100.1/24' },
        @{ Ns = $B; Tunnel = 4000; Peer = 3000; Local = '192.0.2.2'; Remote = '192.0.2.1'; Sport = 6000; Dport = 5000; Session = 2000; Address = '198.51.100.2/24' })
    foreach ($s in $Sites) {
        $peerSession = if ($s.Session -eq 1000) { 2000 } else { 1000 }
        New-L2tpTunnel -netns $s.Ns -Backend Managed -TunnelId $s.Tunnel -PeerTunnelId $s.Peer -Local $s.Local -Remote $s.Remote `
            -SourcePort $s.Sport -DestinationPort $s.Dport -ErrorAction Stop | Out-Null
        New-L2tpSession -netns $s.Ns -Backend Managed -TunnelId $s.Tunnel -SessionId $s.Session -PeerSessionId $peerSession -Name l2tpeth0 `
            -Cookie 0102030405060708 -PeerCookie 0102030405060708 -ErrorAction Stop | Set-L2tpInterface -Up -Address $s.Address -ErrorAction Stop | Out-Null
        New-L2tpSession -netns $s.Ns -Backend Managed -TunnelId $s.Tunnel -SessionId ($s.Session + 1) -PeerSessionId ($peerSession + 1) -Name l2tpeth1 `
            -Sequencing Both -ErrorAction Stop | Set-L2tpInterface -Up -Mtu 1400 -ErrorAction Stop | Out-Null
    }
    # The underlay of $A that a reboot keeps (made again by hand after the wipe): vx0/vx1 is a veth pair inside $A.
    function New-UnderlayExtra { Invoke-LabNs $A 'ip link add vx0 type veth peer name vx1 && ip link set vx0 up && ip link set vx1 up' | Out-Null }
    New-UnderlayExtra
    New-L2tpBridge -netns $A -Name br0 -Up -ErrorAction Stop | Out-Null
    'l2tpeth1', 'vx0' | ForEach-Object { Add-L2tpBridgePort -netns $A -Bridge br0 -InterfaceName $_ -ErrorAction Stop } | Out-Null

    # What the module reports of $A, for before/after comparisons (no counters, no pids).
    function Get-AState {
        [pscustomobject]@{
            Tunnels    = @(Get-L2tpTunnel -netns $A -ErrorAction Stop | ForEach-Object { "$($_.TunnelId) $($_.PeerTunnelId) $($_.Encapsulation) $($_.Local) $($_.Remote) $($_.SourcePort) $($_.DestinationPort) $($_.UdpChecksum)" })
            Sessions   = @(Get-L2tpSession -netns $A -ErrorAction Stop | Sort-Object SessionId | ForEach-Object { "$($_.TunnelId) $($_.SessionId) $($_.PeerSessionId) $($_.InterfaceName) $($_.Cookie) $($_.PeerCookie) $($_.L2SpecType) $($_.Sequencing) $($_.Mtu)" })
            Interfaces = @('l2tpeth0', 'l2tpeth1' | ForEach-Object {
                    $i = Invoke-LabNs $A "ip -j addr show dev $_" | ConvertFrom-Json
                    "$($i.ifname) $($i.flags -contains 'UP') $($i.mtu) $($i.address) $(@($i.addr_info | Where-Object scope -EQ 'global' | ForEach-Object { "$($_.local)/$($_.prefixlen)" }) -join ',') $($i.master)"
                })
            Bridges    = @(Get-L2tpBridge -netns $A -ErrorAction Stop | ForEach-Object { "$($_.Name) $($_.Up) $($_.Ports -join ',')" })
        }
    }
    function Set-FileValue([string]$Path, [scriptblock]$Edit) {
        $j = Get-Content -Raw $File | ConvertFrom-Json -Depth 20
        & $Edit $j
        $j | ConvertTo-Json -Depth 20 | Set-Content $Path
    }
}

AfterAll {
    Remove-LabL2tpConfig $A, $B -Backend Managed
    Remove-LabNamespace -Name $A, $B
    if ($Work) { Remove-Item -Recurse -Force $Work -ErrorAction Ignore }
}

Describe 'Export-L2tpConfiguration' {
    It 'writes every tunnel, session, interface state and bridge of the namespace, with $schema pointing at the shipped schema' {
        @(Export-L2tpConfiguration -NetworkNamespace $A -Path $File -ErrorAction Stop) | Should -HaveCount 0
        $j = Get-Content -Raw $File | ConvertFrom-Json -Depth 20
        ([uri]$j.'$schema').LocalPath | Should -Be (Join-Path (Split-Path $ModulePath) 'L2tpConfiguration.schema.json')
        Test-Path ([uri]$j.'$schema').LocalPath | Should -BeTrue
        $ns = $j.namespaces
        @($ns) | Should -HaveCount 1
        $ns.name | Should -Be $A
        $ns.backend | Should -Be 'Managed'
        $t = $ns.tunnels
        @($t) | Should -HaveCount 1
        "$($t.tunnelId) $($t.peerTunnelId) $($t.local) $($t.remote) $($t.sourcePort) $($t.destinationPort)" | Should -Be '3000 4000 192.0.2.1 192.0.2.2 5000 6000'
        $t.sessions.sessionId | Should -Be @(1000, 1001)
        $t.sessions[0].cookie | Should -Be '0102030405060708'
        $t.sessions[0].interface.mtu | Should -Be 'Auto'
        $t.sessions[0].interface.addresses[0].address | Should -Be '198.51.100.1/24'
        $t.sessions[1].sequencing | Should -Be 'Both'
        $t.sessions[1].interface.mtu | Should -Be 1400
        $ns.bridges.name | Should -Be 'br0'
        $ns.bridges.ports | Should -Be @('l2tpeth1', 'vx0')
    }

    It 'writes the JSON text without -Path, for several namespaces (-netns)' {
        $j = Export-L2tpConfiguration -netns $A, $B -ErrorAction Stop | ConvertFrom-Json -Depth 20
        $j.namespaces.name | Should -Be @($A, $B)
        $j.namespaces[1].tunnels.tunnelId | Should -Be 4000
    }
}

Describe 'The boot unit restores a wiped namespace from its file' {
    It 'is a oneshot after network-online.target that systemd-analyze verify accepts' {
        $unit = Install-L2tpConfigurationService -Path $File -UnitDirectory $Work -WarningVariable w -WarningAction SilentlyContinue -ErrorAction Stop
        $unit.FullName | Should -Be (Join-Path $Work 'l2tp-configuration.service')
        $text = Get-Content -Raw $unit.FullName
        $text | Should -Match '(?m)^Type=oneshot$'
        $text | Should -Match '(?m)^After=network-online.target'
        $text | Should -Match ([regex]::Escape("Sync-L2tpConfiguration -Path '$File'"))
        if (-not (Test-Path /run/systemd/system)) { "$w" | Should -Match 'systemd is not running' }
        if (Get-Command systemd-analyze -ErrorAction Ignore) {
            $r = Invoke-LabCommand -FilePath systemd-analyze -ArgumentList @('verify', $unit.FullName)
            "$($r.StdErr)$($r.StdOut)" | Should -BeNullOrEmpty
            $r.ExitCode | Should -Be 0
        }
    }

    It 'brings back the same tunnels, sessions, interfaces and bridge, and ping passes again' {
        $before = Get-AState
        Test-LabPing -Namespace $A -Address 198.51.100.2 -Attempts 5 | Should -BeTrue
        # The wipe: the forwarder stops, the namespace goes and its TAP devices with it.
        Stop-L2tpForwarder -netns $A -Confirm:$false -ErrorAction Stop
        Remove-LabNamespace -Name $A
        Test-Path "/run/netns/$A" | Should -BeFalse
        # The kernel dismantles a deleted namespace asynchronously: $B's end of the veth goes a moment later.
        Wait-LabCondition -Condition { 'veth0' -notin @(Get-LabLinkName -Namespace $B) } -TimeoutSeconds 10 | Should -BeTrue
        # The underlay a reboot keeps: the namespace, its veth to $B with its address, and vx0/vx1.
        Invoke-LabNs '' "ip netns add '$A'" | Out-Null
        New-LabVethPair -Namespace $A -Peer $B -Address 192.0.2.1/24 -PeerAddress 192.0.2.2/24 | Out-Null
        New-UnderlayExtra
        @(Get-L2tpTunnel -netns $A) | Should -HaveCount 0

        # Exactly the unit's command (systemd's quoting here is the shell's: double quotes, no $).
        $exec = ((Get-Content (Join-Path $Work 'l2tp-configuration.service')) -match '^ExecStart=')[0] -replace '^ExecStart=', ''
        $r = Invoke-LabCommand -FilePath sh -ArgumentList @('-c', $exec)
        $r.ExitCode | Should -Be 0 -Because "$($r.StdOut)$($r.StdErr)"

        $after = Get-AState
        $after.Tunnels | Should -Be $before.Tunnels
        $after.Sessions | Should -Be $before.Sessions
        $after.Interfaces | Should -Be $before.Interfaces
        $after.Bridges | Should -Be $before.Bridges
        Test-LabPing -Namespace $A -Address 198.51.100.2 -Attempts 10 | Should -BeTrue
    }
}

Describe 'Sync-L2tpConfiguration and Compare-L2tpConfiguration' {
    It 'returns no steps and no differences on a system that matches the file' {
        @(Sync-L2tpConfiguration -Path $File -ErrorAction Stop) | Should -HaveCount 0
        @(Compare-L2tpConfiguration -Path $File -ErrorAction Stop) | Should -HaveCount 0
    }

    It 'Compare names a changed MTU, a removed address and a changed cookie, field by field' {
        Set-L2tpInterface -netns $A -InterfaceName l2tpeth0 -Mtu 1300 -ErrorAction Stop | Out-Null
        Invoke-LabNs $A 'ip addr del 198.51.100.1/24 dev l2tpeth0' | Out-Null
        $changed = Join-Path $Work 'cookie.json'
        Set-FileValue $changed { param($j) $j.namespaces[0].tunnels[0].sessions[0].cookie = 'a1b2c3d4' }
        $drift = @(Compare-L2tpConfiguration -Path $changed -ErrorAction Stop | ForEach-Object { "$($_.Target)|$($_.Field)|$($_.Expected)|$($_.Actual)" })
        $drift | Should -Be @(
            'session 1000 in tunnel 3000|cookie|a1b2c3d4|0102030405060708',
            'interface l2tpeth0|mtu|Auto (1438)|1300',
            'interface l2tpeth0|addresses|198.51.100.1/24|missing')
    }

    It '-WhatIf prints the plan and changes nothing' {
        $out = @(Sync-L2tpConfiguration -Path $File -WhatIf -ErrorAction Stop)
        $out | Should -HaveCount 0
        Get-LabMtu $A l2tpeth0 | Should -Be 1300
        @(Compare-L2tpConfiguration -Path $File) | Should -HaveCount 2
    }

    It 'applies the change in place as one Update step written as it is applied, and converges' {
        $steps = @(Sync-L2tpConfiguration -Path $File -ErrorAction Stop)
        $steps | Should -HaveCount 1
        "$($steps[0].Action) $($steps[0].Kind) $($steps[0].Target)" | Should -Be 'Update Interface interface l2tpeth0'
        $steps[0].Detail | Should -Be 'mtu 1300 -> Auto (1438), add address 198.51.100.1/24'
        $steps[0].NetworkNamespace | Should -Be $A
        Get-LabMtu $A l2tpeth0 | Should -Be 1438
        @(Sync-L2tpConfiguration -Path $File -ErrorAction Stop) | Should -HaveCount 0
    }

    It 'replaces a session whose cookie changed (it cannot change in place), and says so' {
        $changed = Join-Path $Work 'cookie.json'
        $steps = @(Sync-L2tpConfiguration -Path $changed -ErrorAction Stop)
        ($steps | ForEach-Object { "$($_.Action) $($_.Target)" }) | Should -Be @('Replace session 1000 in tunnel 3000', 'Update interface l2tpeth0')
        $steps[0].Detail | Should -Match 'cookie 0102030405060708 -> a1b2c3d4 .*removed and created again'
        (Get-L2tpSession -netns $A -TunnelId 3000 -SessionId 1000).Cookie | Should -Be 'a1b2c3d4'
        @(Sync-L2tpConfiguration -Path $File -ErrorAction Stop) | Should -HaveCount 2
        Test-LabPing -Namespace $A -Address 198.51.100.2 -Attempts 10 | Should -BeTrue
    }

    It 'leaves a session the file does not name without -Prune, and removes it with -Prune' {
        New-L2tpSession -netns $A -Backend Managed -TunnelId 3000 -SessionId 1009 -PeerSessionId 2009 -Name extra0 -ErrorAction Stop | Out-Null
        @(Sync-L2tpConfiguration -Path $File -ErrorAction Stop) | Should -HaveCount 0
        @(Get-L2tpSession -netns $A -TunnelId 3000 -SessionId 1009) | Should -HaveCount 1
        $steps = @(Sync-L2tpConfiguration -Path $File -Prune -ErrorAction Stop)
        ($steps | ForEach-Object { "$($_.Action) $($_.Target)" }) | Should -Be @('Remove session 1009 in tunnel 3000')
        @(Get-L2tpSession -netns $A -TunnelId 3000 -ErrorAction Stop).SessionId | Should -Be @(1000, 1001)
    }

    It 'rejects a bad file with every error and its JSON path, and changes nothing' {
        $bad = Join-Path $Work 'bad.json'
        Set-FileValue $bad {
            param($j)
            $j.namespaces[0].tunnels[0].sessions[0].cookie = '0102'
            $j.namespaces[0].tunnels[0].sessions[1].interface.addresses = @(@{ address = '198.51.100.300/24' })
            $j.namespaces[0].tunnels += [pscustomobject]@{ tunnelId = 3000; peerTunnelId = 4001; local = '192.0.2.1'; remote = '192.0.2.2'; sourcePort = 5001; destinationPort = 6001 }
            $j.namespaces[0].tunnels += [pscustomobject]@{ tunnelId = 3005; peerTunnelId = 4005; local = '192.0.2.1'; remote = '192.0.2.2'; sourcePort = 5005; destinationPort = 6005 }
        }
        $before = Get-AState
        $steps = Sync-L2tpConfiguration -Path $bad -ErrorVariable err -ErrorAction SilentlyContinue
        $steps | Should -BeNullOrEmpty
        Assert-LabL2tpError -ErrorRecord $err -Id 'L2tp.InvalidConfiguration' -Category InvalidArgument
        $text = "$($err[0])"
        $text | Should -Match ([regex]::Escape('$.namespaces[0].tunnels[0].sessions[0].cookie:'))
        $text | Should -Match ([regex]::Escape('$.namespaces[0].tunnels[0].sessions[1].interface.addresses[0].address:'))
        $text | Should -Match ([regex]::Escape('$.namespaces[0].tunnels[1].tunnelId: tunnel 3000 is already described'))
        $text | Should -Match 'nothing was changed'
        @(Get-L2tpTunnel -netns $A -TunnelId 3005 -ErrorAction SilentlyContinue) | Should -HaveCount 0
        (Get-AState | ConvertTo-Json) | Should -Be ($before | ConvertTo-Json)
    }

    It 'stops at a failing step with the steps applied and not applied, and a second run converges' {
        $missing = Join-Path $Work 'missing-port.json'
        Set-FileValue $missing {
            param($j)
            $j.namespaces[0].tunnels[0].sessions[1].interface.mtu = 1350
            $j.namespaces[0].bridges[0].ports += 'vx9'
        }
        $steps = @(Sync-L2tpConfiguration -Path $missing -ErrorVariable err -ErrorAction SilentlyContinue)
        ($steps | ForEach-Object { "$($_.Action) $($_.Target)" }) | Should -Be @('Update interface l2tpeth1')
        Assert-LabL2tpError -ErrorRecord $err -Id 'L2tp.ConfigurationStepFailed' -Category ObjectNotFound
        "$($err[0])" | Should -Match "Step 2 of 2 failed: Create port vx9 of bridge br0 .*There is no interface 'vx9'"
        "$($err[0])" | Should -Match '(?s)Applied:\s+Update interface l2tpeth1.*Not applied:\s+Create port vx9'
        Invoke-LabNs $A 'ip link add vx9 type dummy 2>/dev/null || ip link add vx9 type veth peer name vx8' | Out-Null
        ($(Sync-L2tpConfiguration -Path $missing -ErrorAction Stop) | ForEach-Object { "$($_.Action) $($_.Target)" }) | Should -Be @('Create port vx9 of bridge br0')
        @(Sync-L2tpConfiguration -Path $missing -ErrorAction Stop) | Should -HaveCount 0
    }
}
