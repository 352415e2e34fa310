#Requires -Version 7.2
# Pester 5: forged and malformed packets against the managed forwarder's receive path (needs root).
#   namespace $A (site A):    veth0 192.0.2.1/24, tunnel 3000 -> 4000 udp 5000 -> 6000, session 1000 -> 2000, l2tpeth0 198.51.100.1/24
#   namespace $B (site B):    veth0 192.0.2.2/24, tunnel 4000 -> 3000 udp 6000 -> 5000, session 2000 -> 1000, l2tpeth0 198.51.100.2/24
#                             veth1 203.0.113.2/24 towards the attacker, rp_filter off (so spoofed sources are accepted)
#   namespace $X (attacker):  veth0 203.0.113.1/24, route to 192.0.2.0/24 via site B; forges IPv4/UDP packets with
#                             site A's exact 4-tuple 192.0.2.1:5000 -> 192.0.2.2:6000 through a raw socket.
# Site B's session requires site A's 8-byte cookie 1122334455667788 (-PeerCookie) and uses the default sublayer.
# IPv6 is off on the pseudowire interfaces and the inner neighbours are static, so l2tpeth0 carries nothing but the
# pings of the tests and whatever forged frame gets through. Every forged frame meant for a session is an Ethernet
# broadcast with EtherType 0x88b5 (IEEE local experimental) and an ASCII marker, so a capture on site B's l2tpeth0
# can tell it apart; the first test forges a correct packet and sees it delivered, which shows that the capture
# would see a leak.

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot '../lab/Lab.psm1') -Force
    $ModulePath = [System.IO.Path]::GetFullPath((Join-Path $PSScriptRoot '../../out/L2tp/L2tp.psd1'))
    Import-Module $ModulePath -Force

    $A, $B = New-LabSitePair -Prefix 'hostile-A', 'hostile-B'
    $X = New-LabNamespace -Prefix 'hostile-X'
    New-LabVethPair -Namespace $X -Peer $B -Address 203.0.113.1/24 -PeerAddress 203.0.113.2/24 -PeerName veth1 | Out-Null
    Invoke-LabNs $X 'ip route add 192.0.2.0/24 via 203.0.113.2' | Out-Null
    Invoke-LabNs $B 'sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0 net.ipv4.conf.veth1.rp_filter=0' | Out-Null
    foreach ($ns in $A, $B) { Invoke-LabNs $ns 'sysctl -qw net.ipv6.conf.default.disable_ipv6=1' | Out-Null }

    $CookieA = '1122334455667788'   # site A sends it, site B requires it
    $CookieB = 'a1a2a3a4a5a6a7a8'   # the other way
    $Marker = 'L2TP-HOSTILE'
    $MarkerType = 0x88b5

    New-L2tpTunnel -netns $A -TunnelId 3000 -PeerTunnelId 4000 -Local 192.0.2.1 -Remote 192.0.2.2 -SourcePort 5000 -DestinationPort 6000 -ErrorAction Stop |
        New-L2tpSession -SessionId 1000 -PeerSessionId 2000 -Cookie $CookieA -PeerCookie $CookieB -ErrorAction Stop | Out-Null
    New-L2tpTunnel -netns $B -TunnelId 4000 -PeerTunnelId 3000 -Local 192.0.2.2 -Remote 192.0.2.1 -SourcePort 6000 -DestinationPort 5000 -ErrorAction Stop |
        New-L2tpSession -SessionId 2000 -PeerSessionId 1000 -Cookie $CookieB -PeerCookie $CookieA -ErrorAction Stop | Out-Null
    $MacA = Invoke-LabNs $A 'cat /sys/class/net/l2tpeth0/address'
    $MacB = Invoke-LabNs $B 'cat /sys/class/net/l2tpeth0/address'
    Invoke-LabNs $A "ip link set l2tpeth0 up && ip addr add 198.51.100.1/24 dev l2tpeth0 && ip neigh replace 198.51.100.2 lladdr $MacB dev l2tpeth0 nud permanent" | Out-Null
    Invoke-LabNs $B "ip link set l2tpeth0 up && ip addr add 198.51.100.2/24 dev l2tpeth0 && ip neigh replace 198.51.100.1 lladdr $MacA dev l2tpeth0 nud permanent" | Out-Null
    $MtuB = [int](Invoke-LabNs $B 'cat /sys/class/net/l2tpeth0/mtu')
    $ForwarderB = @(Get-LabNamespaceProcess -Namespace $B -CommandLinePattern 'l2tp-forwarder')

    # Site B's session and tunnel counters, flattened: S* session, T* tunnel.
    function Get-BCounter {
        $s = (Get-L2tpSession -netns $B -TunnelId 4000 -SessionId 2000 -ErrorAction Stop).Statistics
        $t = (Get-L2tpTunnel -netns $B -TunnelId 4000 -ErrorAction Stop).Statistics
        [pscustomobject]@{
            SRxPackets = [long]$s.RxPackets; SRxErrors = [long]$s.RxErrors; SRxCookieDiscards = [long]$s.RxCookieDiscards
            SRxSeqDiscards = [long]$s.RxSeqDiscards; TRxPackets = [long]$t.RxPackets; TRxInvalid = [long]$t.RxInvalid
        }
    }
    function Get-CounterSum($c) { $c.SRxPackets + $c.SRxErrors + $c.SRxCookieDiscards + $c.SRxSeqDiscards + $c.TRxPackets + $c.TRxInvalid }

    # A marker frame, as every forged frame meant for a session carries.
    function New-MarkerFrame([string]$Tag, [int]$PadTo = 0) {
        $text = "$Marker $Tag"
        if ($PadTo -gt $text.Length) { $text = $text.PadRight($PadTo, '#') }
        New-LabEthernetFrame -Destination 'ff:ff:ff:ff:ff:ff' -Source '02:00:5e:00:53:66' -EtherType $MarkerType -Payload $text
    }

    # The UDP payload for each kind of forged packet (all aimed at site B's session 2000 unless said otherwise).
    function New-ForgedPayload([string]$Kind) {
        $f = New-MarkerFrame $Kind
        switch ($Kind) {
            'valid' { New-LabL2tpv3Packet -SessionId 2000 -Cookie $CookieA -Frame $f }
            'truncated1' { , [byte[]]@(0x00) }
            'truncated3' { , [byte[]]@(0x00, 0x03, 0x00) }
            'truncated7' { , [byte[]]@(0x00, 0x03, 0x00, 0x00, 0x00, 0x00, 0x07) }
            # A well-formed data packet for session 2000 in every respect but the T bit.
            'control' { New-LabL2tpv3Packet -FlagsVersion 0x8003 -SessionId 2000 -Cookie $CookieA -Frame $f }
            # The same with version 2 in the flags word.
            'version2' { New-LabL2tpv3Packet -FlagsVersion 0x0002 -SessionId 2000 -Cookie $CookieA -Frame $f }
            'unknown' { New-LabL2tpv3Packet -SessionId 2001 -Cookie $CookieA -Frame $f }
            'session0' { New-LabL2tpv3Packet -SessionId 0 -Cookie $CookieA -Frame $f }
            'wrongcookie' { New-LabL2tpv3Packet -SessionId 2000 -Cookie '1122334455667789' -Frame $f }
            'nocookie' { New-LabL2tpv3Packet -SessionId 2000 -Frame $f }
            'shortframe' { New-LabL2tpv3Packet -SessionId 2000 -Cookie $CookieA -Frame ([byte[]](0x4c, 0x32, 0x54, 0x50, 0x2d, 0x48, 0x4f, 0x53, 0x54, 0x21)) }
            # A 4000-byte frame (above l2tpeth0's MTU + Ethernet header + VLAN tag), so 3 IP fragments on the underlay.
            'oversize' { New-LabL2tpv3Packet -SessionId 2000 -Cookie $CookieA -Frame (New-MarkerFrame $Kind -PadTo 3986) }
            # l2tp_eth hands frames to dev_forward_skb, which takes up to MTU + 14 (Ethernet header) + 4 (VLAN tag).
            'mtu18' { New-LabL2tpv3Packet -SessionId 2000 -Cookie $CookieA -Frame (New-MarkerFrame $Kind -PadTo ($MtuB + 4)) }
            'mtu19' { New-LabL2tpv3Packet -SessionId 2000 -Cookie $CookieA -Frame (New-MarkerFrame $Kind -PadTo ($MtuB + 5)) }
            'oversizeunknown' { New-LabL2tpv3Packet -SessionId 2001 -Cookie $CookieA -Frame (New-MarkerFrame $Kind -PadTo 8986) }
            'random' {
                $r = [System.Random]::new(4719)
                $b = [byte[]]::new(200)
                $r.NextBytes($b)
                , $b
            }
            default { throw "unknown kind $Kind" }
        }
    }

    # Captures on site B's l2tpeth0 while the attacker sends one forged packet from 192.0.2.1:5000; waits until one
    # of site B's receive counters moves. Returns Before/After counters, Moved and the frames captured (Len, Type, Data).
    function Invoke-ForgedPacket([byte[]]$Payload) {
        $before = Get-BCounter
        $cap = Start-LabCapture -Namespace $B -Interface l2tpeth0
        try {
            Send-LabRawIPv4Packet -Namespace $X -Source 192.0.2.1 -Destination 192.0.2.2 -SourcePort 5000 -DestinationPort 6000 -Payload @(, $Payload)
            $moved = Wait-LabCondition -TimeoutSeconds 3 { (Get-CounterSum (Get-BCounter)) -ne (Get-CounterSum $before) }
        }
        finally {
            $frames = @(Stop-LabCapture -Capture $cap -Field 'frame.len', 'eth.type', 'data.data')
        }
        [pscustomobject]@{
            Before = $before
            After  = Get-BCounter
            Moved  = $moved
            Frames = @($frames | ForEach-Object {
                    $text = if ($_.'data.data') { [System.Text.Encoding]::ASCII.GetString([Convert]::FromHexString(($_.'data.data' -replace '[^0-9a-fA-F]', ''))) } else { '' }
                    [pscustomobject]@{ Len = [int]$_.'frame.len'; Type = $_.'eth.type'; Data = $text }
                })
        }
    }

    # The forged frames that reached l2tpeth0: our EtherType, our marker, or shorter than an Ethernet header.
    function Get-LeakedFrame($Result) {
        @($Result.Frames | Where-Object { $_.Type -eq '0x88b5' -or $_.Data.Contains($Marker) -or $_.Len -lt 14 })
    }

    function Assert-ForwarderAlive {
        $ForwarderB.Count | Should -Be 1 -Because 'one l2tp-forwarder runs in site B'
        Test-LabProcessAlive $ForwarderB[0].Id | Should -BeTrue -Because "site B's forwarder (pid $($ForwarderB[0].Id)) must survive hostile input"
        @(Get-LabNamespaceProcess -Namespace $B -CommandLinePattern 'l2tp-forwarder').Id | Should -Be @($ForwarderB[0].Id) -Because 'it must be the same process, not a restarted one'
    }
}

AfterAll {
    if (Get-Command Remove-LabL2tpConfig -ErrorAction Ignore) { Remove-LabL2tpConfig -Namespace $A, $B }
    if (Get-Command Remove-LabNamespace -ErrorAction Ignore) { Remove-LabNamespace -Name $A, $B, $X }
}

Describe 'Forged packets with site A''s 4-tuple against site B''s forwarder' {
    It 'the pseudowire works before the attack' {
        Test-LabPing -Namespace $A -Address 198.51.100.2 -Count 2 -Attempts 3 | Should -BeTrue
        $ForwarderB.Count | Should -Be 1
    }

    It 'delivers a correctly forged data packet (right session, right cookie) to l2tpeth0, so the capture sees leaks' {
        $r = Invoke-ForgedPacket (New-ForgedPayload 'valid')
        $why = "captured: $(($r.Frames | ForEach-Object { "$($_.Len)/$($_.Type)/$($_.Data)" }) -join '; ')"
        ($r.After.SRxPackets - $r.Before.SRxPackets) | Should -Be 1 -Because "the session delivers it ($why)"
        ($r.After.TRxInvalid - $r.Before.TRxInvalid) | Should -Be 0
        @(Get-LeakedFrame $r | Where-Object Data -Match "$Marker valid").Count | Should -Be 1 -Because "the capture on l2tpeth0 must see the frame ($why)"
        Assert-ForwarderAlive
    }

    It 'delivers a forged frame of exactly MTU + 18 bytes (the longest l2tp_eth passes on: MTU + Ethernet header + VLAN tag)' {
        $r = Invoke-ForgedPacket (New-ForgedPayload 'mtu18')
        $why = "l2tpeth0 MTU $MtuB; captured: $(($r.Frames | ForEach-Object { "$($_.Len)/$($_.Type)" }) -join '; ')"
        ($r.After.SRxPackets - $r.Before.SRxPackets) | Should -Be 1 -Because $why
        @(Get-LeakedFrame $r | Where-Object { $_.Data.StartsWith("$Marker mtu18") -and $_.Len -eq $MtuB + 18 }).Count | Should -Be 1 -Because $why
        Assert-ForwarderAlive
    }

    It 'drops <Name> and counts it in the tunnel''s RxInvalid' -ForEach @(
        @{ Name = 'a 1-byte UDP payload'; Kind = 'truncated1' }
        @{ Name = 'a 3-byte header'; Kind = 'truncated3' }
        @{ Name = 'a 7-byte header (cut inside the session id)'; Kind = 'truncated7' }
        @{ Name = 'a control message (T bit) for session 2000 with a frame'; Kind = 'control' }
        @{ Name = 'version 2 for session 2000 with a frame'; Kind = 'version2' }
        @{ Name = 'an unknown session id (2001) with the right cookie'; Kind = 'unknown' }
        @{ Name = 'session id 0'; Kind = 'session0' }
        @{ Name = 'an oversize (8986-byte frame, fragmented) packet for an unknown session'; Kind = 'oversizeunknown' }
        @{ Name = '200 random bytes'; Kind = 'random' }
    ) {
        $payload = New-ForgedPayload $Kind
        if ($Kind -eq 'random') {
            # Precondition: the seeded bytes are not, by chance, a v3 data header for session 2000.
            $sid = ([uint32]$payload[4] -shl 24) -bor ([uint32]$payload[5] -shl 16) -bor ([uint32]$payload[6] -shl 8) -bor $payload[7]
            (($payload[1] -band 0x0f) -eq 3 -and ($payload[0] -band 0x80) -eq 0 -and $sid -eq 2000) | Should -BeFalse
        }
        $r = Invoke-ForgedPacket $payload
        $why = "before $($r.Before | ConvertTo-Json -Compress), after $($r.After | ConvertTo-Json -Compress)"
        ($r.After.TRxInvalid - $r.Before.TRxInvalid) | Should -Be 1 -Because "the tunnel counts it as invalid ($why)"
        ($r.After.SRxPackets - $r.Before.SRxPackets) | Should -Be 0 -Because $why
        ($r.After.TRxPackets - $r.Before.TRxPackets) | Should -Be 0 -Because $why
        ($r.After.SRxCookieDiscards - $r.Before.SRxCookieDiscards) | Should -Be 0 -Because $why
        ($r.After.SRxErrors - $r.Before.SRxErrors) | Should -Be 0 -Because "it never reaches the session ($why)"
        $leak = Get-LeakedFrame $r
        $leak.Count | Should -Be 0 -Because "nothing forged may reach l2tpeth0 (got $(($leak | ForEach-Object { "$($_.Len)/$($_.Type)/$($_.Data)" }) -join '; '))"
        Assert-ForwarderAlive
    }

    It 'drops <Name> and counts it in the session''s RxCookieDiscards and RxErrors' -ForEach @(
        @{ Name = 'a wrong cookie (last byte off by one)'; Kind = 'wrongcookie' }
        @{ Name = 'a missing cookie'; Kind = 'nocookie' }
    ) {
        $r = Invoke-ForgedPacket (New-ForgedPayload $Kind)
        $why = "before $($r.Before | ConvertTo-Json -Compress), after $($r.After | ConvertTo-Json -Compress)"
        ($r.After.SRxCookieDiscards - $r.Before.SRxCookieDiscards) | Should -Be 1 -Because $why
        ($r.After.SRxErrors - $r.Before.SRxErrors) | Should -Be 1 -Because "l2tp_core counts a cookie discard in rx_errors too ($why)"
        ($r.After.SRxPackets - $r.Before.SRxPackets) | Should -Be 0 -Because $why
        ($r.After.TRxInvalid - $r.Before.TRxInvalid) | Should -Be 0 -Because "the session id is known ($why)"
        $leak = Get-LeakedFrame $r
        $leak.Count | Should -Be 0 -Because "nothing forged may reach l2tpeth0 (got $(($leak | ForEach-Object { "$($_.Len)/$($_.Type)/$($_.Data)" }) -join '; '))"
        Assert-ForwarderAlive
    }

    # Both reach the session (right id and cookie), so the tunnel's RxInvalid stays; Linux counts them in the session's
    # rx_packets before l2tp_eth drops them (a runt: l2tp_eth_dev_recv; too long: dev_forward_skb refuses a frame
    # longer than MTU + Ethernet header + VLAN tag), so either RxPackets or RxErrors may take them, but not both.
    It 'does not deliver <Name> to l2tpeth0' -ForEach @(
        @{ Name = 'a frame shorter than 14 bytes for session 2000'; Kind = 'shortframe' }
        @{ Name = 'a frame of MTU + 19 bytes for session 2000'; Kind = 'mtu19' }
        @{ Name = 'an oversize frame (4000 bytes, fragmented; above MTU + 18) for session 2000'; Kind = 'oversize' }
    ) {
        $payload = New-ForgedPayload $Kind
        $r = Invoke-ForgedPacket $payload
        $why = "l2tpeth0 MTU $MtuB; before $($r.Before | ConvertTo-Json -Compress), after $($r.After | ConvertTo-Json -Compress)"
        $r.Moved | Should -BeTrue -Because "site B must have received it ($why)"
        ($r.After.TRxInvalid - $r.Before.TRxInvalid) | Should -Be 0 -Because "the header is valid ($why)"
        ($r.After.SRxCookieDiscards - $r.Before.SRxCookieDiscards) | Should -Be 0 -Because $why
        (($r.After.SRxPackets + $r.After.SRxErrors) - ($r.Before.SRxPackets + $r.Before.SRxErrors)) | Should -Be 1 -Because "the session counts it once ($why)"
        $leak = Get-LeakedFrame $r
        $leak.Count | Should -Be 0 -Because "nothing forged may reach l2tpeth0 (got $(($leak | ForEach-Object { "$($_.Len)/$($_.Type)/$($_.Data.Substring(0, [Math]::Min(40, $_.Data.Length)))" }) -join '; '))"
        Assert-ForwarderAlive
    }

    It 'counts a burst of 220 malformed packets exactly (160 RxInvalid, 40 RxCookieDiscards) and keeps running' {
        $kinds = 'truncated1', 'truncated3', 'truncated7', 'control', 'version2', 'unknown', 'session0', 'random', 'wrongcookie', 'nocookie', 'shortframe'
        $before = Get-BCounter
        $payloads = foreach ($i in 1..20) { foreach ($k in $kinds) { , (New-ForgedPayload $k) } }
        Send-LabRawIPv4Packet -Namespace $X -Source 192.0.2.1 -Destination 192.0.2.2 -SourcePort 5000 -DestinationPort 6000 -Payload $payloads
        # 20 x 8 invalid (truncated1/3/7, control, version2, unknown, session0, random)
        Wait-LabCondition -TimeoutSeconds 5 { $c = Get-BCounter; ($c.TRxInvalid - $before.TRxInvalid) -ge 160 -and ($c.SRxCookieDiscards - $before.SRxCookieDiscards) -ge 40 } | Out-Null
        $after = Get-BCounter
        ($after.TRxInvalid - $before.TRxInvalid) | Should -Be 160
        ($after.SRxCookieDiscards - $before.SRxCookieDiscards) | Should -Be 40
        Assert-ForwarderAlive
    }

    It 'is still the same forwarder process afterwards, and a normal ping still works both ways' {
        Assert-ForwarderAlive
        Test-LabPing -Namespace $A -Address 198.51.100.2 -Count 2 -Attempts 2 | Should -BeTrue
        Test-LabPing -Namespace $B -Address 198.51.100.1 -Count 2 -Attempts 2 | Should -BeTrue
    }
}
