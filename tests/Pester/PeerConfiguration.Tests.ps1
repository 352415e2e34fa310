#Requires -Version 7.2
# Pester 5: the far end written from this one, run at a real far end. ConvertTo-L2tpPeerConfiguration's Qemu output
# starts QEMU's l2tpv3 netdev in namespace B; its L2tp output is applied with Sync-L2tpConfiguration in B; and
# ConvertFrom-IpL2tp reads a hand-written ip l2tp script into a file that Sync makes real. Each time ping crosses
# both ways. (Its IpRoute2 output runs in the kernel lab: KernelInterop.Tests.ps1 makes the guest's end with it.)
#   underlay: A veth0 192.0.2.1/24 <-> B veth0 192.0.2.2/24; inside: 198.51.100.1/24 (A) and .2/24 (B)

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot '../lab/Lab.psm1') -Force
    $null = Import-LabL2tpModule
    $A, $B = New-LabSitePair -Prefix 'peer-a', 'peer-b'
    $Tmp = Join-Path ([System.IO.Path]::GetTempPath()) ("l2tp-peer-{0}" -f [guid]::NewGuid().ToString('N').Substring(0, 8))
    New-Item -ItemType Directory $Tmp | Out-Null

    # Site A's end, managed: tunnel 3000 -> 4000, session 1000 -> 2000, addressed 198.51.100.1/24.
    function New-SiteA([string]$Encapsulation, [string]$Cookie, [string]$PeerCookie, [string]$L2SpecType = 'Default') {
        $t = @{ netns = $A; TunnelId = 3000; PeerTunnelId = 4000; Local = '192.0.2.1'; Remote = '192.0.2.2'; Encapsulation = $Encapsulation; ErrorAction = 'Stop' }
        if ($Encapsulation -eq 'Udp') { $t.SourcePort = 5000; $t.DestinationPort = 6000 }
        $s = @{ SessionId = 1000; PeerSessionId = 2000; L2SpecType = $L2SpecType; ErrorAction = 'Stop' }
        if ($Cookie) { $s.Cookie = $Cookie; $s.PeerCookie = $PeerCookie }
        New-L2tpTunnel @t | New-L2tpSession @s | Set-L2tpInterface -Up -Address 198.51.100.1/24 -ErrorAction Stop
    }

    function Assert-PingBothWays([string]$Why) {
        Test-LabPing -Namespace $A -Address 198.51.100.2 -Count 2 -Attempts 5 | Should -BeTrue -Because "A reaches B: $Why"
        Test-LabPing -Namespace $B -Address 198.51.100.1 -Count 2 -Attempts 3 | Should -BeTrue -Because "B reaches A: $Why"
    }
}

AfterAll {
    Remove-LabL2tpConfig -Namespace $A, $B
    Remove-LabNamespace -Name $A, $B
    Remove-Item -Recurse -Force $Tmp -ErrorAction Ignore
}

Describe 'ConvertTo-L2tpPeerConfiguration -Format Qemu: QEMU''s l2tpv3 netdev made from it is the far end (<Name>)' -ForEach @(
    @{ Name = 'UDP, 8-byte cookies, default sublayer'; Encap = 'Udp'; Cookie = '0102030405060708'; PeerCookie = '1112131415161718'; L2Spec = 'Default' }
    @{ Name = 'IP, 4-byte cookies, no sublayer'; Encap = 'Ip'; Cookie = '0a0b0c0d'; PeerCookie = 'a1b2c3d4'; L2Spec = 'None' }
) {
    BeforeAll {
        New-SiteA $Encap $Cookie $PeerCookie $L2Spec | Out-Null
        $Netdev = @(Get-L2tpSession -netns $A -TunnelId 3000 -ErrorAction Stop | ConvertTo-L2tpPeerConfiguration -Format Qemu -ErrorAction Stop)
        $Qemu = Start-LabQemuL2tpv3 -Namespace $B -Netdev $Netdev[0] -TapAddress 198.51.100.2/24
    }
    AfterAll {
        Stop-LabQemuL2tpv3 $Qemu
        Remove-LabL2tpConfig -Namespace $A
    }

    It 'writes one -netdev value with the session ids and cookies as QEMU names them' {
        $Netdev | Should -HaveCount 1
        $Netdev[0] | Should -Match '^l2tpv3,'
        $Netdev[0] | Should -Match 'txsession=1000,rxsession=2000'
        $Netdev[0] | Should -Match "txcookie=$([Convert]::ToUInt64($PeerCookie, 16)),rxcookie=$([Convert]::ToUInt64($Cookie, 16))"
    }

    It 'QEMU started with it and the managed end ping each other' {
        Assert-PingBothWays "QEMU ran: $($Qemu.QemuCommand)"
    }
}

Describe 'ConvertTo-L2tpPeerConfiguration -Format L2tp: the file, synced in the far namespace, is the far end (<Encap>)' -ForEach @(
    @{ Encap = 'Udp' }
    @{ Encap = 'Ip' }
) {
    BeforeAll {
        New-SiteA $Encap '0102030405060708' 'a1b2c3d4' | Out-Null
        $File = Join-Path $Tmp 'site-b.json'
        Get-L2tpSession -netns $A -TunnelId 3000 -ErrorAction Stop | ConvertTo-L2tpPeerConfiguration -PeerNetworkNamespace $B -ErrorAction Stop | Set-Content $File
        $Steps = @(Sync-L2tpConfiguration -Path $File -ErrorAction Stop)
        Get-L2tpSession -netns $B -ErrorAction Stop | Set-L2tpInterface -Address 198.51.100.2/24 -ErrorAction Stop | Out-Null
    }
    AfterAll { Remove-LabL2tpConfig -Namespace $A, $B }

    It 'makes the mirrored tunnel and session in B: ids, ports and cookies swapped, checksum kept' {
        $Steps.Count | Should -BeGreaterThan 1
        $t = Get-L2tpTunnel -netns $B -TunnelId 4000 -ErrorAction Stop
        $t.PeerTunnelId | Should -Be 3000
        $t.Encapsulation | Should -Be $Encap
        "$($t.Local)->$($t.Remote)" | Should -Be '192.0.2.2->192.0.2.1'
        if ($Encap -eq 'Udp') { "$($t.SourcePort)->$($t.DestinationPort)" | Should -Be '6000->5000' }
        $t.UdpChecksum | Should -Be (Get-L2tpTunnel -netns $A -TunnelId 3000).UdpChecksum
        $s = Get-L2tpSession -netns $B -TunnelId 4000 -SessionId 2000 -ErrorAction Stop
        $s.PeerSessionId | Should -Be 1000
        $s.Cookie | Should -Be 'a1b2c3d4'
        $s.PeerCookie | Should -Be '0102030405060708'
    }

    It 'passes traffic both ways' {
        Assert-PingBothWays 'the far end came from the file'
    }
}

Describe 'ConvertFrom-IpL2tp: a hand-written ip l2tp script, moved to a file' {
    BeforeAll {
        New-SiteA 'Ip' '' '' | Out-Null
        # Site B as an engineer would type it, with aliases, a continuation and a comment.
        $Script = @"
# site B
ip -n $B l2tp add tunnel tid 4000 ptid 3000 encap ip \
    local 192.0.2.2 remote 192.0.2.1
ip -n $B l2tp add session tid 4000 sid 2000 psid 1000
ip -n $B link set l2tpeth0 up
ip -n $B addr add 198.51.100.2/24 dev l2tpeth0
"@
        $File = Join-Path $Tmp 'from-script.json'
        $Script -split "`n" | ConvertFrom-IpL2tp -OutFile $File -WarningVariable Warnings -ErrorAction Stop
        $Steps = @(Sync-L2tpConfiguration -Path $File -ErrorAction Stop)
    }
    AfterAll { Remove-LabL2tpConfig -Namespace $A, $B }

    It 'writes a file with B''s tunnel, session and interface, and no warnings' {
        $Warnings | Should -BeNullOrEmpty
        $j = Get-Content -Raw $File | ConvertFrom-Json
        $j.namespaces[0].name | Should -Be $B
        $j.namespaces[0].tunnels[0].tunnelId | Should -Be 4000
        $j.namespaces[0].tunnels[0].sessions[0].interfaceName | Should -Be 'l2tpeth0'
    }

    It 'Sync makes what the script would have made, and traffic passes both ways' {
        (Get-L2tpTunnel -netns $B -TunnelId 4000 -ErrorAction Stop).Encapsulation | Should -Be 'Ip'
        (Get-L2tpSession -netns $B -TunnelId 4000 -SessionId 2000 -ErrorAction Stop).InterfaceName | Should -Be 'l2tpeth0'
        Assert-PingBothWays 'B came from the converted script'
    }

    It 'refuses a line it cannot read with L2tp.InvalidIpL2tpInput, naming the line and the word' {
        $err = $null
        "ip l2tp add tunnel tunnel_id 1 peer_tunnel_id 2 encap ip local 192.0.2.2 remote 192.0.2.1 frobnicate 3" |
            ConvertFrom-IpL2tp -ErrorVariable err -ErrorAction SilentlyContinue | Out-Null
        $err | Should -HaveCount 1
        $err[0].FullyQualifiedErrorId | Should -BeLike 'L2tp.InvalidIpL2tpInput,*'
        $err[0].TargetObject | Should -Be 'frobnicate'
        $err[0].Exception.Message | Should -Match '^line 1:'
    }
}
