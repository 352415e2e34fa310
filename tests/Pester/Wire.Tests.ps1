#Requires -Version 7.2
# Pester 5: what the managed forwarder puts on the wire, decoded by an independent dissector (tshark's L2TP) rather
# than by our own codec (needs root, tshark).
#   namespace $A: veth0 192.0.2.1/24 and 2001:db8::1/64; tunnel 3000 -> 4000 (udp 5000 -> 6000), session 1000 -> 2000
#   namespace $B: veth0 192.0.2.2/24 and 2001:db8::2/64; tunnel 4000 -> 3000 (udp 6000 -> 5000), session 2000 -> 1000
#   inside the pseudowire: l2tpeth0 198.51.100.1/24 (A) and 198.51.100.2/24 (B), IPv6 off so only the pings travel.
# Transmit checksum offload is off on both veths, so the captured UDP checksums are the real ones and tshark can
# verify them. tshark prefs used: l2tp.cookie_size (None, 4 Byte Cookie, 8 Byte Cookie) and l2tp.l2_specific
# (None, Default L2-Specific); UDP is decoded as L2TP with -d udp.port==5000/6000,l2tp, IP protocol 115 natively.

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot '../lab/Lab.psm1') -Force
    $ModulePath = [System.IO.Path]::GetFullPath((Join-Path $PSScriptRoot '../../out/L2tp/L2tp.psd1'))
    Import-Module $ModulePath -Force

    $A, $B = New-LabSitePair -Prefix 'wire-A', 'wire-B'
    Invoke-LabNs $A 'ip addr add 2001:db8::1/64 dev veth0 nodad' | Out-Null
    Invoke-LabNs $B 'ip addr add 2001:db8::2/64 dev veth0 nodad' | Out-Null
    foreach ($ns in $A, $B) {
        Set-LabTxChecksumOffload -Namespace $ns -Interface veth0 -Enabled $false | Should -BeFalse -Because 'captured checksums must be complete'
        # Interfaces made from now on (the l2tpeth TAPs) get no IPv6, so no ND/MLD traffic mixes with the pings.
        Invoke-LabNs $ns 'sysctl -qw net.ipv6.conf.default.disable_ipv6=1' | Out-Null
    }

    # Builds the pseudowire A <-> B afresh. -Family 4 or 6; -Common goes to both sessions, -SessionA/-SessionB and
    # -TunnelA/-TunnelB to one side.
    function New-Wire {
        param(
            [ValidateSet('Udp', 'Ip')][string]$Encapsulation = 'Udp',
            [ValidateSet(4, 6)][int]$Family = 4,
            [hashtable]$Common = @{},
            [hashtable]$SessionA = @{},
            [hashtable]$SessionB = @{},
            [hashtable]$TunnelA = @{},
            [hashtable]$TunnelB = @{}
        )
        Remove-LabL2tpConfig -Namespace $A, $B
        $la, $lb = if ($Family -eq 4) { '192.0.2.1', '192.0.2.2' } else { '2001:db8::1', '2001:db8::2' }
        $pa = @{}; $pb = @{}
        if ($Encapsulation -eq 'Udp') { $pa = @{ SourcePort = 5000; DestinationPort = 6000 }; $pb = @{ SourcePort = 6000; DestinationPort = 5000 } }
        New-L2tpTunnel -netns $A -TunnelId 3000 -PeerTunnelId 4000 -Encapsulation $Encapsulation -Local $la -Remote $lb @pa @TunnelA -ErrorAction Stop | Out-Null
        New-L2tpTunnel -netns $B -TunnelId 4000 -PeerTunnelId 3000 -Encapsulation $Encapsulation -Local $lb -Remote $la @pb @TunnelB -ErrorAction Stop | Out-Null
        New-L2tpSession -netns $A -TunnelId 3000 -SessionId 1000 -PeerSessionId 2000 @Common @SessionA -ErrorAction Stop | Out-Null
        New-L2tpSession -netns $B -TunnelId 4000 -SessionId 2000 -PeerSessionId 1000 @Common @SessionB -ErrorAction Stop | Out-Null
        Invoke-LabNs $A 'ip link set l2tpeth0 up && ip addr add 198.51.100.1/24 dev l2tpeth0' | Out-Null
        Invoke-LabNs $B 'ip link set l2tpeth0 up && ip addr add 198.51.100.2/24 dev l2tpeth0' | Out-Null
    }

    # Captures site A's veth0 while A pings B (3 replies needed; the first attempt may wait for ARP) and decodes
    # every L2TP packet with tshark, the payload as Ethernet (pseudowire type 0: tshark saw no control channel).
    # Returns one object per packet with From ('A' or 'B') and the tshark fields (first occurrence: the outer IP and
    # UDP; icmp.type can only be the inner one).
    function Get-WirePacket {
        param([string]$CookieSize = 'None', [string]$L2Specific = 'Default L2-Specific')
        $cap = Start-LabCapture -Namespace $A -Interface veth0 -Filter 'udp port 5000 or udp port 6000 or ip proto 115'
        $ok = Test-LabPing -Namespace $A -Address 198.51.100.2 -Count 3 -Attempts 3
        $null = Stop-LabCapture -Capture $cap -KeepFile -Field 'frame.number'
        try {
            $fields = 'frame.number', 'ip.src', 'ipv6.src', 'ip.proto', 'udp.srcport', 'udp.dstport', 'udp.checksum', 'udp.checksum.status',
            'l2tp.version', 'l2tp.sid', 'l2tp.cookie', 'l2tp.l2_spec_def', 'l2tp.l2_spec_s', 'l2tp.l2_spec_sequence', 'icmp.type'
            $rows = @(Read-LabCapture -Path $cap.Path -Field $fields -DecodeAs 'udp.port==5000,l2tp', 'udp.port==6000,l2tp', 'l2tp.pw_type==0,eth' `
                    -Option "l2tp.cookie_size:$CookieSize", "l2tp.l2_specific:$L2Specific", 'udp.check_checksum:TRUE')
        }
        finally {
            Remove-Item -Force -ErrorAction Ignore $cap.Path
        }
        $ok | Should -BeTrue -Because 'the pseudowire must carry the pings being captured'
        foreach ($r in $rows) {
            # ipv6.src first: over IPv6 the first ip.src is the inner (pseudowire) IPv4 source.
            $src = if ($r.'ipv6.src') { $r.'ipv6.src' } else { $r.'ip.src' }
            $r | Add-Member -NotePropertyName From -NotePropertyValue $(if ($src -in '192.0.2.1', '2001:db8::1') { 'A' } else { 'B' }) -PassThru
        }
    }

    # tshark prints integers of FT_UINT32 hex fields as 0x...; this gives the number.
    function ConvertFrom-TsharkNumber([string]$Text) {
        if ($Text -match '^0x([0-9a-fA-F]+)$') { [Convert]::ToUInt64($Matches[1], 16) } elseif ($Text -match '^\d+$') { [uint64]$Text } else { $null }
    }

    # Common checks of one direction: data messages, version 3, the peer's session id, the cookie, and an inner
    # Ethernet/IPv4/ICMP frame right where the header ends (so tshark found the echo requests or replies).
    function Assert-L2tpPacket($Packets, [uint32]$SessionId, [string]$Cookie, [int]$IcmpType, [switch]$Udp) {
        $Packets.Count | Should -BeGreaterOrEqual 3 -Because 'at least the 3 pings'
        foreach ($p in $Packets) {
            ConvertFrom-TsharkNumber $p.'l2tp.sid' | Should -Be $SessionId -Because "frame $($p.'frame.number') carries the peer session id"
            ($p.'l2tp.cookie' -replace ':', '') | Should -Be $Cookie -Because "frame $($p.'frame.number')"
            if ($Udp) { $p.'l2tp.version' | Should -Be '3' -Because "frame $($p.'frame.number') is L2TPv3 over UDP" }
        }
        @($Packets | Where-Object { $_.'icmp.type' -eq "$IcmpType" }).Count | Should -BeGreaterOrEqual 3 -Because (
            'the inner frames decode as Ethernet/IPv4/ICMP only if the L2TP header has the expected length')
    }
}

AfterAll {
    if (Get-Command Remove-LabL2tpConfig -ErrorAction Ignore) { Remove-LabL2tpConfig -Namespace $A, $B }
    if (Get-Command Remove-LabNamespace -ErrorAction Ignore) { Remove-LabNamespace -Name $A, $B }
}

Describe 'UDP/IPv4 with the default sublayer and no cookie' {
    BeforeAll {
        New-Wire
        $packets = @(Get-WirePacket)
        $fromA = @($packets | Where-Object From -EQ 'A')
        $fromB = @($packets | Where-Object From -EQ 'B')
    }

    It 'tshark reads our packets as L2TPv3 data for session 2000, no cookie, UDP 5000 -> 6000' {
        Assert-L2tpPacket $fromA -SessionId 2000 -Cookie '' -IcmpType 8 -Udp
        foreach ($p in $fromA) { "$($p.'udp.srcport')->$($p.'udp.dstport')" | Should -Be '5000->6000' }
        Assert-L2tpPacket $fromB -SessionId 1000 -Cookie '' -IcmpType 0 -Udp
    }

    It 'has the default sublayer with S=0 and sequence 0' {
        foreach ($p in $fromA) {
            $p.'l2tp.l2_spec_s' | Should -Be '0' -Because "frame $($p.'frame.number') has a default sublayer without a sequence number"
            $p.'l2tp.l2_spec_sequence' | Should -Be '0'
        }
    }

    It 'sends IPv4 UDP checksums that verify (the Managed default is -UdpChecksum on)' {
        $fromA.Count | Should -BeGreaterOrEqual 3
        foreach ($p in $fromA) {
            $p.'udp.checksum' | Should -Not -Be '0x0000' -Because "frame $($p.'frame.number')"
            $p.'udp.checksum.status' | Should -Be '1' -Because "tshark verifies frame $($p.'frame.number') (1 = Good)"
        }
    }
}

Describe 'UDP/IPv4 with <Bytes>-byte cookies' -ForEach @(
    @{ Bytes = 4; CookieA = '0a0b0c0d'; CookieB = '01020304'; Pref = '4 Byte Cookie' }
    @{ Bytes = 8; CookieA = '1112131415161718'; CookieB = '0102030405060708'; Pref = '8 Byte Cookie' }
) {
    BeforeAll {
        New-Wire -SessionA @{ Cookie = $CookieA; PeerCookie = $CookieB } -SessionB @{ Cookie = $CookieB; PeerCookie = $CookieA }
        $packets = @(Get-WirePacket -CookieSize $Pref)
    }

    It 'tshark finds each side''s -Cookie after the session id' {
        Assert-L2tpPacket @($packets | Where-Object From -EQ 'A') -SessionId 2000 -Cookie $CookieA -IcmpType 8 -Udp
        Assert-L2tpPacket @($packets | Where-Object From -EQ 'B') -SessionId 1000 -Cookie $CookieB -IcmpType 0 -Udp
    }
}

Describe 'UDP/IPv4 with -L2SpecType None' {
    BeforeAll {
        New-Wire -Common @{ L2SpecType = 'None' }
        $packets = @(Get-WirePacket -L2Specific 'None')
    }

    It 'tshark finds the Ethernet frame right after the session id, with no sublayer' {
        $fromA = @($packets | Where-Object From -EQ 'A')
        Assert-L2tpPacket $fromA -SessionId 2000 -Cookie '' -IcmpType 8 -Udp
        Assert-L2tpPacket @($packets | Where-Object From -EQ 'B') -SessionId 1000 -Cookie '' -IcmpType 0 -Udp
        foreach ($p in $fromA) { $p.'l2tp.l2_spec_s' | Should -BeNullOrEmpty }
    }
}

Describe 'UDP/IPv4 with -Sequencing Send on both sides' {
    BeforeAll {
        New-Wire -Common @{ Sequencing = 'Send' }
        $packets = @(Get-WirePacket)
    }

    It 'sets the S bit in every packet and numbers each side''s packets 0, 1, 2, ...' {
        foreach ($side in 'A', 'B') {
            $mine = @($packets | Where-Object From -EQ $side | Sort-Object { [int]$_.'frame.number' })
            $mine.Count | Should -BeGreaterOrEqual 4 -Because 'ARP and 3 pings'
            for ($i = 0; $i -lt $mine.Count; $i++) {
                $mine[$i].'l2tp.l2_spec_s' | Should -Be '1' -Because "packet $i from $side carries a sequence number"
                [int]$mine[$i].'l2tp.l2_spec_sequence' | Should -Be $i -Because "site $side numbers its packets from 0 (frame $($mine[$i].'frame.number'))"
            }
        }
        Assert-L2tpPacket @($packets | Where-Object From -EQ 'A') -SessionId 2000 -Cookie '' -IcmpType 8 -Udp
    }
}

Describe 'L2TPv3 over IP (protocol 115) on IPv4 with 4-byte cookies' {
    BeforeAll {
        New-Wire -Encapsulation Ip -SessionA @{ Cookie = '0a0b0c0d'; PeerCookie = '01020304' } -SessionB @{ Cookie = '01020304'; PeerCookie = '0a0b0c0d' }
        $packets = @(Get-WirePacket -CookieSize '4 Byte Cookie')
    }

    It 'sends IP protocol 115 with no UDP header, session id first' {
        $fromA = @($packets | Where-Object From -EQ 'A')
        foreach ($p in $fromA) {
            $p.'ip.proto' | Should -Be '115'
            $p.'udp.srcport' | Should -BeNullOrEmpty
        }
        Assert-L2tpPacket $fromA -SessionId 2000 -Cookie '0a0b0c0d' -IcmpType 8
        Assert-L2tpPacket @($packets | Where-Object From -EQ 'B') -SessionId 1000 -Cookie '01020304' -IcmpType 0
    }
}

Describe 'UDP/IPv4 with -UdpChecksum off on site A' {
    BeforeAll {
        New-Wire -TunnelA @{ UdpChecksum = 'off' }
        $packets = @(Get-WirePacket)
    }

    It 'site A sends UDP checksum 0, as the kernel''s default udp_csum off' {
        $fromA = @($packets | Where-Object From -EQ 'A')
        $fromA.Count | Should -BeGreaterOrEqual 3
        foreach ($p in $fromA) { $p.'udp.checksum' | Should -Be '0x0000' -Because "frame $($p.'frame.number')" }
    }

    It 'site B (no -UdpChecksum: on) sends checksums that verify, and each end takes the other''s' {
        $fromB = @($packets | Where-Object From -EQ 'B')
        $fromB.Count | Should -BeGreaterOrEqual 3 -Because 'B answered every ping that zero-checksum packets carried'
        foreach ($p in $fromB) {
            $p.'udp.checksum' | Should -Not -Be '0x0000' -Because "frame $($p.'frame.number')"
            $p.'udp.checksum.status' | Should -Be '1' -Because "tshark verifies frame $($p.'frame.number') (1 = Good)"
        }
    }
}

Describe 'UDP/IPv6 with -Udp6ChecksumTx off on site A (site B: -Udp6ChecksumRx off)' {
    BeforeAll {
        New-Wire -Family 6 -TunnelA @{ Udp6ChecksumTx = 'off' } -TunnelB @{ Udp6ChecksumRx = 'off' }
        $packets = @(Get-WirePacket)
    }

    It 'site A sends UDP checksum 0 over IPv6' {
        $fromA = @($packets | Where-Object From -EQ 'A')
        Assert-L2tpPacket $fromA -SessionId 2000 -Cookie '' -IcmpType 8 -Udp
        foreach ($p in $fromA) { $p.'udp.checksum' | Should -Be '0x0000' -Because "frame $($p.'frame.number')" }
    }

    It 'site B (default -Udp6ChecksumTx on) sends a checksum that verifies' {
        $fromB = @($packets | Where-Object From -EQ 'B')
        Assert-L2tpPacket $fromB -SessionId 1000 -Cookie '' -IcmpType 0 -Udp
        foreach ($p in $fromB) {
            $p.'udp.checksum' | Should -Not -Be '0x0000'
            $p.'udp.checksum.status' | Should -Be '1' -Because "tshark verifies frame $($p.'frame.number') (1 = Good)"
        }
    }
}
