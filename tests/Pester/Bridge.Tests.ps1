#Requires -Version 7.2
# Pester 5: the ip-l2tp(8) example "Configure as bridged interfaces", done with the L2tp bridge helpers (needs root).
# Two sites joined by an underlay veth; at each site a bridge br0 holds the session interface and a veth to a host
# behind it. The hosts share one Ethernet segment through the pseudowire; the sites have no address inside it.
#
#   hostA eth0 198.51.100.10/24                                                       hostB eth0 198.51.100.20/24
#        |                                                                                 |
#   site-A vhost0 -- br0 -- l2tpeth0 (tunnel 3000/session 1000, UDP 5000)                  |
#                               site-A veth0 192.0.2.1/24 <-> site-B veth0 192.0.2.2/24    |
#   site-B vhost0 -- br0 -- l2tpeth0 (tunnel 4000/session 2000, UDP 6000) -----------------+
#
# A sixth namespace ($C) holds the error and -WhatIf cases of the bridge cmdlets.

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot '../lab/Lab.psm1') -Force
    $ModulePath = Import-LabL2tpModule

    $A = New-LabNamespace -Prefix 'l2tpBr-a'
    $B = New-LabNamespace -Prefix 'l2tpBr-b'
    $HA = New-LabNamespace -Prefix 'l2tpBr-ha'
    $HB = New-LabNamespace -Prefix 'l2tpBr-hb'
    $C = New-LabNamespace -Prefix 'l2tpBr-c'
    New-LabVethPair -Namespace $A -Peer $B -Address 192.0.2.1/24 -PeerAddress 192.0.2.2/24 | Out-Null
    New-LabVethPair -Namespace $HA -Peer $A -Name eth0 -PeerName vhost0 -Address 198.51.100.10/24 | Out-Null
    New-LabVethPair -Namespace $HB -Peer $B -Name eth0 -PeerName vhost0 -Address 198.51.100.20/24 | Out-Null
    $MacA = (Invoke-LabNs $HA 'cat /sys/class/net/eth0/address').Trim()
    $MacB = (Invoke-LabNs $HB 'cat /sys/class/net/eth0/address').Trim()

    $Python = if (Test-Path /usr/bin/python3) { '/usr/bin/python3' } else { (Get-Command python3 -ErrorAction Stop).Source }
    # Receives up to COUNT frames of EtherType 0x88b5 on IFNAME for SECONDS: prints 'ready' once bound, then one
    # line per frame: the frame as hex and the packet type (0 host, 1 broadcast, 3 other host).
    $ReceivePy = @'
import select, socket, sys, time
ifname, count, seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x88b5))
s.bind((ifname, 0x88b5))
print("ready", flush=True)
end = time.time() + seconds
got = 0
while got < count:
    left = end - time.time()
    if left <= 0 or not select.select([s], [], [], left)[0]:
        break
    data, addr = s.recvfrom(65535)
    if addr[2] == socket.PACKET_OUTGOING:
        continue
    print(data.hex(), addr[2], flush=True)
    got += 1
'@
    # Sends each hex argument as one Ethernet frame out of IFNAME through an AF_PACKET socket.
    $SendPy = @'
import socket, sys
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((sys.argv[1], 0))
for h in sys.argv[2:]:
    s.send(bytes.fromhex(h))
'@

    # An EtherType 0x88b5 frame: destination, source, then a 100-byte payload starting with -Text.
    function New-ProbeFrame([string]$Destination, [string]$Source, [string]$Text) {
        $payload = [System.Text.Encoding]::ASCII.GetBytes($Text)
        $pad = [byte[]](0..(99 - $payload.Length) | ForEach-Object { [byte](($_ * 7 + 3) -band 0xff) })
        [Convert]::FromHexString(($Destination -replace ':', '') + ($Source -replace ':', '') + '88b5') + $payload + $pad
    }

    # Starts the receiver in -Namespace on eth0, sends -Frame (byte arrays) from -From's eth0, returns what arrived
    # as objects Hex/PacketType.
    function Send-ProbeFrame([string]$From, [string]$To, [object[]]$Frame, [int]$Seconds = 5) {
        $psi = [System.Diagnostics.ProcessStartInfo]::new('ip')
        foreach ($a in @('netns', 'exec', $To, $Python, '-c', $ReceivePy, 'eth0', "$($Frame.Count)", "$Seconds")) { $psi.ArgumentList.Add($a) }
        $psi.UseShellExecute = $false
        $psi.RedirectStandardOutput = $true
        $psi.RedirectStandardError = $true
        $p = [System.Diagnostics.Process]::Start($psi)
        try {
            $errText = $p.StandardError.ReadToEndAsync()
            $first = $p.StandardOutput.ReadLineAsync()
            if (-not $first.Wait(10000) -or $first.Result -ne 'ready') {
                throw "The receiver in $To did not start: $($first.Result) $(if ($p.HasExited) { $errText.Result })"
            }
            $hex = @($Frame | ForEach-Object { [Convert]::ToHexString([byte[]]$_) })
            $r = Invoke-LabCommand -Namespace $From -FilePath $Python -ArgumentList (@('-c', $SendPy, 'eth0') + $hex)
            if ($r.ExitCode -ne 0) { throw "Sending from $From failed: $($r.StdErr)" }
            $rest = $p.StandardOutput.ReadToEndAsync()
            if (-not $p.WaitForExit(($Seconds + 5) * 1000)) { throw "The receiver in $To did not finish." }
            foreach ($line in ($rest.Result -split "`n")) {
                if ($line -match '^([0-9a-f]+) (\d+)$') { [pscustomobject]@{ Hex = $Matches[1].ToUpperInvariant(); PacketType = [int]$Matches[2] } }
            }
        }
        finally {
            if (-not $p.HasExited) { try { $p.Kill() } catch { } }
            $p.Dispose()
        }
    }

    function Test-HostPing([string]$From, [string]$To, [int]$Size = -1) {
        if ($Size -ge 0) {
            Test-LabPing -Namespace $From -Address $To -Count 3 -Size $Size -DontFragment -Attempts 3
        }
        else {
            Test-LabPing -Namespace $From -Address $To -Count 3 -TimeoutSeconds 1 -Attempts 3
        }
    }

    function Get-Master([string]$Namespace, [string]$Name) {
        $l = Invoke-LabNs $Namespace "readlink /sys/class/net/$Name/master" -IgnoreExitCode
        if ($l) { Split-Path -Leaf $l.Trim() } else { '' }
    }
}

AfterAll {
    if (Get-Command Remove-LabL2tpConfig -ErrorAction Ignore) { Remove-LabL2tpConfig -Namespace $A, $B }
    if (Get-Command Remove-LabNamespace -ErrorAction Ignore) { Remove-LabNamespace -Name $A, $B, $HA, $HB, $C }
}

Describe 'Man page example: Configure as bridged interfaces' {
    BeforeAll {
        New-L2tpTunnel -netns $A -TunnelId 3000 -PeerTunnelId 4000 -Local 192.0.2.1 -Remote 192.0.2.2 -SourcePort 5000 -DestinationPort 6000 -ErrorAction Stop | Out-Null
        New-L2tpTunnel -netns $B -TunnelId 4000 -PeerTunnelId 3000 -Local 192.0.2.2 -Remote 192.0.2.1 -SourcePort 6000 -DestinationPort 5000 -ErrorAction Stop | Out-Null
        # site A: the issue's pipeline, then the host's veth by name (ip link set vhost0 master br0).
        $PipeA = @(New-L2tpSession -netns $A -TunnelId 3000 -SessionId 1000 -PeerSessionId 2000 -ErrorAction Stop |
                Set-L2tpInterface -Up -Mtu Auto -ErrorAction Stop |
                Add-L2tpBridgePort -Bridge (New-L2tpBridge br0 -Up -netns $A -ErrorAction Stop) -ErrorAction Stop)
        Add-L2tpBridgePort -netns $A -Bridge br0 -InterfaceName vhost0 -ErrorAction Stop | Out-Null
        # site B: the same with -PassThru and positional parameters.
        $PortB = @(New-L2tpSession -netns $B -TunnelId 4000 -SessionId 2000 -PeerSessionId 1000 -ErrorAction Stop |
                Set-L2tpInterface -Up -Mtu Auto -ErrorAction Stop |
                Add-L2tpBridgePort -Bridge (New-L2tpBridge br0 -Up -netns $B -ErrorAction Stop) -PassThru -ErrorAction Stop)
        $HostPortB = @(Add-L2tpBridgePort -netns $B br0 vhost0 -PassThru -ErrorAction Stop)
    }

    It "the issue's pipeline writes nothing and leaves l2tpeth0 up, at its SuggestedMtu, in br0" {
        $PipeA.Count | Should -Be 0 -Because 'Add-L2tpBridgePort writes nothing without -PassThru'
        $s = Get-L2tpSession -netns $A -ErrorAction Stop
        $s.Mtu | Should -Be 1446
        $s.SuggestedMtu | Should -Be 1446
        Get-Master $A 'l2tpeth0' | Should -Be 'br0'
        Invoke-LabNs $A 'ip -o link show dev l2tpeth0' | Should -Match '<[^>]*\bUP\b.*\bmaster br0\b'
        Invoke-LabNs $A 'ip -o link show dev br0' | Should -Match '<[^>]*\bUP\b'
    }

    It '-PassThru writes the port as an L2tp.L2tpInterface with Master br0' {
        $PortB.Count | Should -Be 1
        $PortB[0] | Should -BeOfType ([L2tp.L2tpInterface])
        $PortB[0].InterfaceName | Should -Be 'l2tpeth0'
        $PortB[0].Master | Should -Be 'br0'
        $PortB[0].Up | Should -BeTrue
        $PortB[0].Mtu | Should -Be 1446
        $PortB[0].NetworkNamespace | Should -Be $B
        $HostPortB.Count | Should -Be 1
        $HostPortB[0].InterfaceName | Should -Be 'vhost0'
        $HostPortB[0].Master | Should -Be 'br0'
        Get-Master $B 'vhost0' | Should -Be 'br0'
    }

    It 'Get-L2tpBridge lists br0 with its two ports on each site' {
        foreach ($ns in $A, $B) {
            $b = @(Get-L2tpBridge -netns $ns -ErrorAction Stop)
            $b.Count | Should -Be 1
            $b[0] | Should -BeOfType ([L2tp.L2tpBridge])
            $b[0].Name | Should -Be 'br0'
            $b[0].Index | Should -Be ([int](Invoke-LabNs $ns 'cat /sys/class/net/br0/ifindex'))
            $b[0].Up | Should -BeTrue
            $b[0].Mtu | Should -Be 1446 -Because 'a bridge takes the smallest MTU of its ports'
            $b[0].Ports -join ',' | Should -Be 'l2tpeth0,vhost0'
            $b[0].NetworkNamespace | Should -Be $ns
            (Get-L2tpBridge -netns $ns -Name br0 -ErrorAction Stop).Ports -join ',' | Should -Be 'l2tpeth0,vhost0'
            Invoke-LabNs $ns 'ip -o link show master br0' | Should -Match 'l2tpeth0'
        }
    }

    It 'the sites have no address on l2tpeth0, br0 or vhost0: only the hosts have one' {
        foreach ($ns in $A, $B) {
            foreach ($dev in 'l2tpeth0', 'br0', 'vhost0') {
                Invoke-LabNs $ns "ip -4 -o addr show dev $dev" | Should -BeNullOrEmpty
                (Set-L2tpInterface -netns $ns $dev -ErrorAction Stop).Addresses | Where-Object { $_ -notmatch '^fe80:' } | Should -BeNullOrEmpty
            }
        }
    }

    It 'hostA (198.51.100.10) pings hostB (198.51.100.20) through the pseudowire' {
        Test-HostPing -From $HA -To 198.51.100.20 | Should -BeTrue
    }

    It 'hostB pings hostA' {
        Test-HostPing -From $HB -To 198.51.100.10 | Should -BeTrue
    }

    It "the hosts share one Ethernet segment: hostA knows hostB's MAC, both bridges learned it" {
        Test-HostPing -From $HA -To 198.51.100.20 | Should -BeTrue
        Invoke-LabNs $HA 'ip neigh show 198.51.100.20' | Should -Match ([regex]::Escape("lladdr $MacB"))
        Invoke-LabNs $A "bridge fdb show br br0" | Should -Match ([regex]::Escape($MacB) + ' dev l2tpeth0')
        Invoke-LabNs $B "bridge fdb show br br0" | Should -Match ([regex]::Escape($MacA) + ' dev l2tpeth0')
    }

    It "a non-IP frame (EtherType 0x88b5) to hostB's MAC and one to broadcast arrive at hostB intact" {
        $uni = New-ProbeFrame -Destination $MacB -Source $MacA -Text 'l2tp-bridge-probe unicast A->B'
        $bc = New-ProbeFrame -Destination 'ff:ff:ff:ff:ff:ff' -Source $MacA -Text 'l2tp-bridge-probe broadcast A->B'
        $got = @(Send-ProbeFrame -From $HA -To $HB -Frame $uni, $bc)
        $got.Count | Should -Be 2 -Because "both frames must arrive (got: $($got.Hex -join ', '))"
        $u = @($got | Where-Object Hex -EQ ([Convert]::ToHexString($uni)))
        $u.Count | Should -Be 1 -Because "the unicast frame must arrive byte for byte; got $($got.Hex -join ', ')"
        $u[0].PacketType | Should -Be 0 -Because 'it is addressed to hostB (PACKET_HOST)'
        $b = @($got | Where-Object Hex -EQ ([Convert]::ToHexString($bc)))
        $b.Count | Should -Be 1 -Because "the broadcast frame must arrive byte for byte; got $($got.Hex -join ', ')"
        $b[0].PacketType | Should -Be 1 -Because 'it is a broadcast (PACKET_BROADCAST)'
    }

    It "a non-IP frame from hostB to hostA's MAC arrives intact" {
        $uni = New-ProbeFrame -Destination $MacA -Source $MacB -Text 'l2tp-bridge-probe unicast B->A'
        $got = @(Send-ProbeFrame -From $HB -To $HA -Frame (, $uni))
        $got.Count | Should -Be 1
        $got[0].Hex | Should -BeExactly ([Convert]::ToHexString($uni))
        $got[0].PacketType | Should -Be 0
    }
}

Describe 'A full-size Ethernet frame over the 1500-byte underlay' {
    BeforeAll {
        # Session interfaces at 1500 like the bridge's other ports: a 1514-byte frame becomes a 1562-byte UDP/IPv4
        # packet, which the tunnel socket must send as IP fragments (as l2tp_core does) rather than drop.
        Set-L2tpInterface -netns $A l2tpeth0 -Mtu 1500 -ErrorAction Stop | Out-Null
        Set-L2tpInterface -netns $B l2tpeth0 -Mtu 1500 -ErrorAction Stop | Out-Null
    }

    It 'the bridges follow their ports to MTU 1500' {
        (Get-L2tpBridge -netns $A br0 -ErrorAction Stop).Mtu | Should -Be 1500
        (Get-L2tpBridge -netns $B br0 -ErrorAction Stop).Mtu | Should -Be 1500
    }

    It 'ping -s 1472 -M do between the hosts works both ways, carried as IP fragments of UDP to the tunnel port' {
        $cap = Start-LabCapture -Namespace $A -Interface veth0 -Filter 'ip host 192.0.2.1 and ip host 192.0.2.2'
        $ab = Test-HostPing -From $HA -To 198.51.100.20 -Size 1472
        $ba = Test-HostPing -From $HB -To 198.51.100.10 -Size 1472
        $packets = @(Stop-LabCapture -Capture $cap -Option 'ip.defragment:FALSE' -Field 'ip.src', 'ip.flags.mf', 'ip.frag_offset', 'ip.proto', 'udp.dstport', 'ip.len')
        $ab | Should -BeTrue -Because 'a 1500-byte IP packet from hostA must reach hostB whole'
        $ba | Should -BeTrue -Because 'and back'
        $isMf = { param($p) $p.'ip.flags.mf' -in '1', 'True', 'true' }
        $text = ($packets | ForEach-Object { "$($_.'ip.src') mf=$($_.'ip.flags.mf') off=$($_.'ip.frag_offset') proto=$($_.'ip.proto') dport=$($_.'udp.dstport') len=$($_.'ip.len')" }) -join '; '
        foreach ($d in @(@('192.0.2.1', '6000'), @('192.0.2.2', '5000'))) {
            $src, $port = $d
            $first = @($packets | Where-Object { $_.'ip.src' -eq $src -and (& $isMf $_) -and [int]$_.'ip.frag_offset' -eq 0 -and $_.'ip.proto' -eq '17' -and $_.'udp.dstport' -eq $port })
            $later = @($packets | Where-Object { $_.'ip.src' -eq $src -and [int]$_.'ip.frag_offset' -gt 0 -and $_.'ip.proto' -eq '17' })
            $first.Count | Should -BeGreaterOrEqual 3 -Because "each echo from $src is a first fragment (MF set) of UDP to port $port; captured: $text"
            $later.Count | Should -BeGreaterOrEqual 3 -Because "and a later fragment (offset > 0); captured: $text"
        }
    }
}

Describe 'Taking the bridges apart' {
    It 'Remove-L2tpBridgePort -WhatIf and Remove-L2tpBridge -WhatIf change nothing' {
        Remove-L2tpBridgePort -netns $A -InterfaceName vhost0 -WhatIf -ErrorAction Stop
        Remove-L2tpBridge -netns $A -Name br0 -WhatIf -ErrorAction Stop
        (Get-L2tpBridge -netns $A br0 -ErrorAction Stop).Ports -join ',' | Should -Be 'l2tpeth0,vhost0'
        Test-HostPing -From $HA -To 198.51.100.20 | Should -BeTrue
    }

    It 'Remove-L2tpBridgePort -InterfaceName vhost0 takes hostA off the segment' {
        $out = Remove-L2tpBridgePort -netns $A -InterfaceName vhost0 -ErrorAction Stop
        $out | Should -BeNullOrEmpty
        (Get-L2tpBridge -netns $A br0 -ErrorAction Stop).Ports -join ',' | Should -Be 'l2tpeth0'
        Get-Master $A 'vhost0' | Should -Be ''
        (Set-L2tpInterface -netns $A vhost0 -ErrorAction Stop).Master | Should -Be ''
        Test-LabPing -Namespace $HA -Address 198.51.100.20 -Count 2 | Should -BeFalse
    }

    It 'Get-L2tpSession | Remove-L2tpBridgePort takes the session interface out by property name' {
        Get-L2tpSession -netns $A -ErrorAction Stop | Remove-L2tpBridgePort -ErrorAction Stop
        (Get-L2tpBridge -netns $A br0 -ErrorAction Stop).Ports | Should -BeNullOrEmpty
        Get-Master $A 'l2tpeth0' | Should -Be ''
    }

    It 'Get-L2tpBridge | Remove-L2tpBridge removes the bridge by property name' {
        Get-L2tpBridge -netns $A br0 -ErrorAction Stop | Remove-L2tpBridge -ErrorAction Stop
        @(Get-L2tpBridge -netns $A -ErrorAction Stop).Count | Should -Be 0
        Get-LabLinkName -Namespace $A | Should -Not -Contain 'br0'
        Get-LabLinkName -Namespace $A | Should -Contain 'l2tpeth0'
        Get-LabLinkName -Namespace $A | Should -Contain 'vhost0'
    }

    It 'Remove-L2tpBridge of a bridge that still has ports leaves the ports, unenslaved' {
        Remove-L2tpBridge -netns $B -Name br0 -Confirm:$false -ErrorAction Stop
        Get-LabLinkName -Namespace $B | Should -Not -Contain 'br0'
        Get-Master $B 'l2tpeth0' | Should -Be ''
        Get-Master $B 'vhost0' | Should -Be ''
        (Get-L2tpSession -netns $B -ErrorAction Stop).InterfaceName | Should -Be 'l2tpeth0'
    }

    It 'the sessions still work without bridges (addresses on l2tpeth0)' {
        Set-L2tpInterface -netns $A l2tpeth0 -Address 198.51.100.1 -PeerAddress 198.51.100.2 -ErrorAction Stop | Out-Null
        Set-L2tpInterface -netns $B l2tpeth0 -Address 198.51.100.2 -PeerAddress 198.51.100.1 -ErrorAction Stop | Out-Null
        Test-LabPing -Namespace $A -Address 198.51.100.2 -Count 2 -Attempts 3 | Should -BeTrue
    }
}

Describe 'Bridge cmdlets: objects, errors and -WhatIf' {
    BeforeAll {
        Invoke-LabNs $C 'ip link add c0 type veth peer name c1' | Out-Null
    }

    It 'New-L2tpBridge returns an L2tp.L2tpBridge; down without -Up, up with it' {
        $b = New-L2tpBridge -netns $C -Name br-down -ErrorAction Stop
        $b | Should -BeOfType ([L2tp.L2tpBridge])
        $b.Name | Should -Be 'br-down'
        $b.Index | Should -Be ([int](Invoke-LabNs $C 'cat /sys/class/net/br-down/ifindex'))
        $b.Up | Should -BeFalse
        $b.Mtu | Should -Be 1500
        @($b.Ports).Count | Should -Be 0
        $b.NetworkNamespace | Should -Be $C
        Invoke-LabNs $C 'ip -d -o link show dev br-down' | Should -Match '\bbridge\b'
        $u = New-L2tpBridge br-up -Up -netns $C -ErrorAction Stop
        $u.Up | Should -BeTrue
        Invoke-LabNs $C 'ip -o link show dev br-up' | Should -Match '<[^>]*\bUP\b'
        (Get-L2tpBridge -netns $C -ErrorAction Stop).Name -join ',' | Should -Be 'br-down,br-up'
    }

    It 'New-L2tpBridge -WhatIf makes nothing' {
        $out = New-L2tpBridge -netns $C -Name br-whatif -Up -WhatIf -ErrorAction Stop
        $out | Should -BeNullOrEmpty
        Get-LabLinkName -Namespace $C | Should -Not -Contain 'br-whatif'
    }

    It 'a taken name gives L2tp.InterfaceExists (<Name>)' -ForEach @(@{ Name = 'br-down' }, @{ Name = 'c0' }, @{ Name = 'lo' }) {
        $out = New-L2tpBridge -netns $C -Name $Name -ErrorVariable err -ErrorAction SilentlyContinue
        $out | Should -BeNullOrEmpty
        Assert-LabL2tpError $err -Id 'L2tp.InterfaceExists' -Category ResourceExists -Target $Name
        Invoke-LabNs $C "ip -d -o link show dev $Name" | Should -Not -Match $(if ($Name -eq 'br-down') { 'veth' } else { '\bbridge\b' })
    }

    It 'an invalid name gives L2tp.InvalidInterfaceName' {
        New-L2tpBridge -netns $C -Name 'br with space' -ErrorVariable err -ErrorAction SilentlyContinue | Out-Null
        Assert-LabL2tpError $err -Id 'L2tp.InvalidInterfaceName' -Category InvalidArgument -Target 'br with space'
        New-L2tpBridge -netns $C -Name 'a-name-too-long-x' -ErrorVariable err2 -ErrorAction SilentlyContinue | Out-Null
        Assert-LabL2tpError $err2 -Id 'L2tp.InvalidInterfaceName' -Category InvalidArgument -Target 'a-name-too-long-x'
    }

    It 'Add-L2tpBridgePort -WhatIf changes nothing' {
        $out = Add-L2tpBridgePort -netns $C -Bridge br-down -InterfaceName c0 -PassThru -WhatIf -ErrorAction Stop
        $out | Should -BeNullOrEmpty
        Get-Master $C 'c0' | Should -Be ''
    }

    It 'Add-L2tpBridgePort takes a plain veth by name (eth-style) and a bridge object for -Bridge' {
        $b = Get-L2tpBridge -netns $C br-down -ErrorAction Stop
        $p = Add-L2tpBridgePort -netns $C -Bridge $b -InterfaceName c0 -PassThru -ErrorAction Stop
        $p.InterfaceName | Should -Be 'c0'
        $p.Master | Should -Be 'br-down'
        Get-Master $C 'c0' | Should -Be 'br-down'
        (Get-L2tpBridge -netns $C br-down -ErrorAction Stop).Ports -join ',' | Should -Be 'c0'
        Add-L2tpBridgePort -netns $C -Bridge br-up -dev c1 -Confirm:$false -ErrorAction Stop | Should -BeNullOrEmpty
        Get-Master $C 'c1' | Should -Be 'br-up'
    }

    It 'Add-L2tpBridgePort to an interface that is no bridge gives L2tp.NotABridge' {
        Add-L2tpBridgePort -netns $C -Bridge c0 -InterfaceName lo -ErrorVariable err -ErrorAction SilentlyContinue | Out-Null
        Assert-LabL2tpError $err -Id 'L2tp.NotABridge' -Category InvalidArgument -Target 'c0'
    }

    It 'Add-L2tpBridgePort with an unknown bridge or port gives L2tp.InterfaceNotFound' {
        Add-L2tpBridgePort -netns $C -Bridge br-nosuch -InterfaceName c0 -ErrorVariable err -ErrorAction SilentlyContinue | Out-Null
        Assert-LabL2tpError $err -Id 'L2tp.InterfaceNotFound' -Category ObjectNotFound -Target 'br-nosuch'
        Add-L2tpBridgePort -netns $C -Bridge br-up -InterfaceName nosuch0 -ErrorVariable err2 -ErrorAction SilentlyContinue | Out-Null
        Assert-LabL2tpError $err2 -Id 'L2tp.InterfaceNotFound' -Category ObjectNotFound -Target 'nosuch0'
    }

    It 'a bridge into itself gives L2tp.InvalidBridgePort' {
        Add-L2tpBridgePort -netns $C -Bridge br-up -InterfaceName br-up -ErrorVariable err -ErrorAction SilentlyContinue | Out-Null
        Assert-LabL2tpError $err -Id 'L2tp.InvalidBridgePort' -Category InvalidArgument -Target 'br-up'
        Get-Master $C 'br-up' | Should -Be ''
    }

    It 'a port the kernel refuses (the loopback) fails naming it' {
        # README, Errors: failures carry the offending value as target object.
        Add-L2tpBridgePort -netns $C -Bridge br-up -InterfaceName lo -ErrorVariable err -ErrorAction SilentlyContinue | Out-Null
        @($err).Count | Should -Be 1
        "$($err[0].TargetObject)" | Should -Be 'lo' -Because "the error was [$($err[0].FullyQualifiedErrorId)] $($err[0])"
        Get-Master $C 'lo' | Should -Be ''
    }

    It 'Remove-L2tpBridgePort of an interface in no bridge gives L2tp.NotABridgePort; of an unknown one L2tp.InterfaceNotFound' {
        Invoke-LabNs $C 'ip link add c2 type veth peer name c3' | Out-Null
        Remove-L2tpBridgePort -netns $C -InterfaceName c2 -ErrorVariable err -ErrorAction SilentlyContinue | Out-Null
        Assert-LabL2tpError $err -Id 'L2tp.NotABridgePort' -Category InvalidOperation -Target 'c2'
        Remove-L2tpBridgePort -netns $C -InterfaceName nosuch0 -ErrorVariable err2 -ErrorAction SilentlyContinue | Out-Null
        Assert-LabL2tpError $err2 -Id 'L2tp.InterfaceNotFound' -Category ObjectNotFound -Target 'nosuch0'
    }

    It 'several interfaces piped in (L2tpInterface objects) all become ports' {
        $out = @('c2', 'c3' | ForEach-Object { Set-L2tpInterface -netns $C $_ -Up -ErrorAction Stop } |
                Add-L2tpBridgePort -Bridge br-up -PassThru -ErrorAction Stop)
        ($out.InterfaceName | Sort-Object) -join ',' | Should -Be 'c2,c3'
        $out.Master | Sort-Object -Unique | Should -Be 'br-up'
        (Get-L2tpBridge -netns $C br-up -ErrorAction Stop).Ports -join ',' | Should -Be 'c1,c2,c3'
        'c2', 'c3' | ForEach-Object { Set-L2tpInterface -netns $C $_ -ErrorAction Stop } | Remove-L2tpBridgePort -ErrorAction Stop
        (Get-L2tpBridge -netns $C br-up -ErrorAction Stop).Ports -join ',' | Should -Be 'c1'
    }

    It 'a bridge object pipes into Set-L2tpInterface (Name binds -InterfaceName)' {
        $i = Get-L2tpBridge -netns $C br-down -ErrorAction Stop | Set-L2tpInterface -Up -ErrorAction Stop
        $i.InterfaceName | Should -Be 'br-down'
        $i.Up | Should -BeTrue
        (Get-L2tpBridge -netns $C br-down -ErrorAction Stop).Up | Should -BeTrue
    }

    It 'Get-L2tpBridge and Remove-L2tpBridge of something that is no bridge give L2tp.NotABridge and remove nothing' {
        Get-L2tpBridge -netns $C -Name c2 -ErrorVariable err -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
        Assert-LabL2tpError $err -Id 'L2tp.NotABridge' -Category InvalidArgument -Target 'c2'
        Remove-L2tpBridge -netns $C -Name c2 -ErrorVariable err2 -ErrorAction SilentlyContinue
        Assert-LabL2tpError $err2 -Id 'L2tp.NotABridge' -Category InvalidArgument -Target 'c2'
        Get-LabLinkName -Namespace $C | Should -Contain 'c2'
    }

    It 'Get-L2tpBridge and Remove-L2tpBridge of an unknown name give L2tp.InterfaceNotFound' {
        Get-L2tpBridge -netns $C -Name br-nosuch -ErrorVariable err -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
        Assert-LabL2tpError $err -Id 'L2tp.InterfaceNotFound' -Category ObjectNotFound -Target 'br-nosuch'
        Remove-L2tpBridge -netns $C -Name br-nosuch -ErrorVariable err2 -ErrorAction SilentlyContinue
        Assert-LabL2tpError $err2 -Id 'L2tp.InterfaceNotFound' -Category ObjectNotFound -Target 'br-nosuch'
    }

    It 'every bridge cmdlet that changes state takes -WhatIf and -Confirm' {
        foreach ($name in 'New-L2tpBridge', 'Remove-L2tpBridge', 'Add-L2tpBridgePort', 'Remove-L2tpBridgePort', 'Set-L2tpInterface') {
            $keys = (Get-Command $name).Parameters.Keys
            $keys | Should -Contain 'WhatIf' -Because $name
            $keys | Should -Contain 'Confirm' -Because $name
        }
        (Get-Command Get-L2tpBridge).Parameters.Keys | Should -Not -Contain 'WhatIf'
    }

    It 'an unknown -NetworkNamespace gives L2tp.NetworkNamespaceNotFound' {
        Get-L2tpBridge -netns 'l2tpBr-no-such-ns' -ErrorVariable err -ErrorAction SilentlyContinue | Out-Null
        Assert-LabL2tpError $err -Id 'L2tp.NetworkNamespaceNotFound' -Category ObjectNotFound -Target 'l2tpBr-no-such-ns'
        New-L2tpBridge -netns 'l2tpBr-no-such-ns' br0 -ErrorVariable err2 -ErrorAction SilentlyContinue | Out-Null
        Assert-LabL2tpError $err2 -Id 'L2tp.NetworkNamespaceNotFound' -Category ObjectNotFound -Target 'l2tpBr-no-such-ns'
    }
}
