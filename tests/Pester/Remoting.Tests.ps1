#Requires -Version 7.2
# Pester 5: New-, Test- and Remove-L2tpPseudowire make, check and remove both ends of a pseudowire at once over real
# PowerShell SSH remoting (needs root):
#   site A: this process's module acts there with -NetworkNamespace; its ssh client runs there (tests/lab/Ssh.psm1)
#   site B: an sshd of its own on 192.0.2.2:22, whose powershell subsystem runs pwsh inside B
#   underlay: A veth0 192.0.2.1/24 <-> B veth0 192.0.2.2/24; inside the wire 198.51.100.1/30 <-> 198.51.100.2/30
# One PSSession serves every test (opening one costs about a second); its peer has no L2tp until -CopyModule copies it,
# and the last test links the built module where the peer's new sessions import it by name. B's state is also read directly, through
# -NetworkNamespace B, so that "nothing left at the far end" does not rest on the code under test.

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot '../lab/Lab.psm1') -Force
    $ModulePath = Import-LabL2tpModule
    $CopiesBefore = @(Get-ChildItem ([System.IO.Path]::GetTempPath()) -Filter 'L2tp-module-*' -Directory -ErrorAction Ignore | ForEach-Object FullName)
    $A, $B = New-LabSitePair -Prefix 'ssh-A', 'ssh-B'
    $Server = Start-LabSshServer -Namespace $B -ClientNamespace $A -ListenAddress 192.0.2.2
    $OldPath = Enter-LabSshClient -Server $Server
    $Peer = New-PSSession -HostName 192.0.2.2 -UserName root -KeyFilePath $Server.KeyFilePath -ErrorAction Stop

    # Everything at each end, as this process reads it directly: tunnels and session interfaces.
    function Get-EndState([string]$Namespace) {
        [pscustomobject]@{
            Tunnels    = @(Get-L2tpTunnel -NetworkNamespace $Namespace -ErrorAction Stop | ForEach-Object TunnelId)
            Interfaces = @(Get-LabLinkName -Namespace $Namespace | Where-Object { $_ -like 'l2tpeth*' })
        }
    }
    function New-Pseudowire {
        param([hashtable]$Extra = @{})
        New-L2tpPseudowire -NetworkNamespace $A -Local 192.0.2.1 -Remote 192.0.2.2 -PeerSession $Peer -ErrorAction Stop @Extra
    }
}

AfterAll {
    if (Get-Variable Peer -ErrorAction Ignore) { $Peer | Remove-PSSession -ErrorAction Ignore }
    if (Get-Command Exit-LabSshClient -ErrorAction Ignore) { Exit-LabSshClient -Path $OldPath; Stop-LabSshServer -Server $Server }
    if (Get-Command Remove-LabL2tpConfig -ErrorAction Ignore) { Remove-LabL2tpConfig -Namespace $A, $B }
    if (Get-Command Remove-LabNamespace -ErrorAction Ignore) { Remove-LabNamespace -Name $A, $B }
    # The copies -CopyModule made at the peer (B shares this machine's /tmp): only the ones this run made.
    Get-ChildItem ([System.IO.Path]::GetTempPath()) -Filter 'L2tp-module-*' -Directory -ErrorAction Ignore |
        Where-Object FullName -NotIn $CopiesBefore | Remove-Item -Recurse -Force -ErrorAction Ignore
}

Describe 'New-L2tpPseudowire over SSH remoting' {
    It 'refuses with L2tp.RemoteModuleMissing when the peer cannot import L2tp, and makes nothing at either end' {
        $err = $null
        New-L2tpPseudowire -NetworkNamespace $A -Local 192.0.2.1 -Remote 192.0.2.2 -PeerSession $Peer -ErrorVariable err -ErrorAction SilentlyContinue
        Assert-LabL2tpError -ErrorRecord $err -Id 'L2tp.RemoteModuleMissing' -Category ResourceUnavailable -Target '192.0.2.2'
        "$($err[0])" | Should -Match 'CopyModule'
        (Get-EndState $A).Tunnels | Should -BeNullOrEmpty
        (Get-EndState $B).Tunnels | Should -BeNullOrEmpty
    }

    It '-CopyModule copies the module to the peer and makes mirrored ends with fresh cookies; pings cross both ways' {
        $script:pw = New-Pseudowire @{ CopyModule = $true; Address = '198.51.100.1/30'; PeerAddress = '198.51.100.2/30' }
        $pw | Should -BeOfType ([L2tp.L2tpPseudowire])
        $pw.PeerComputerName | Should -Be '192.0.2.2'
        $pw.TunnelId, $pw.PeerTunnelId, $pw.SessionId, $pw.PeerSessionId | Should -Be 3000, 3000, 1000, 1000
        $pw.Tunnel.SourcePort | Should -Be 1701
        $pw.PeerTunnel.DestinationPort | Should -Be 1701
        $pw.Session.Cookie | Should -Match '^[0-9a-f]{16}$'
        $pw.Session.PeerCookie | Should -Match '^[0-9a-f]{16}$'
        $pw.Session.Cookie | Should -Not -Be $pw.Session.PeerCookie
        # The far end, read directly in B: the mirror image.
        $far = Get-L2tpSession -NetworkNamespace $B -TunnelId 3000 -SessionId 1000 -ErrorAction Stop
        $far.PeerCookie | Should -Be $pw.Session.Cookie
        $far.Cookie | Should -Be $pw.Session.PeerCookie
        $far.Mtu | Should -Be $far.SuggestedMtu
        Test-LabPing -Namespace $A -Address 198.51.100.2 -Count 2 -Attempts 3 | Should -BeTrue
        Test-LabPing -Namespace $B -Address 198.51.100.1 -Count 2 -Attempts 3 | Should -BeTrue
    }

    It 'Test-L2tpPseudowire finds the new pseudowire Healthy, frames counted both ways' {
        $r = $pw | Test-L2tpPseudowire -ErrorAction Stop
        $r.Verdict | Should -Be 'Healthy' -Because ($r.Findings | Out-String)
        $r.Findings | Should -BeNullOrEmpty
    }

    It 'Test-L2tpPseudowire names a far session recreated with a wrong peer cookie, with both values' {
        $good = Get-L2tpSession -NetworkNamespace $B -TunnelId 3000 -SessionId 1000 -ErrorAction Stop
        Remove-L2tpSession -NetworkNamespace $B -TunnelId 3000 -SessionId 1000 -ErrorAction Stop
        New-L2tpSession -NetworkNamespace $B -TunnelId 3000 -SessionId 1000 -PeerSessionId 1000 -Cookie $good.Cookie -PeerCookie 00112233deadbeef -ErrorAction Stop | Out-Null
        try {
            $r = Test-L2tpPseudowire -NetworkNamespace $A -TunnelId 3000 -SessionId 1000 -PeerSession $Peer -ErrorAction Stop
            $r.Verdict | Should -Be 'Mismatch'
            $f = @($r.Findings)
            $f.Count | Should -Be 1 -Because ($f | Out-String)
            $f[0].Field | Should -Be 'Cookie'
            $f[0].Local | Should -Be $pw.Session.Cookie
            $f[0].Peer | Should -Be '00112233deadbeef'
            $f[0].Message | Should -Match $pw.Session.Cookie
        }
        finally {
            Remove-L2tpSession -NetworkNamespace $B -TunnelId 3000 -SessionId 1000 -ErrorAction SilentlyContinue
            New-L2tpSession -NetworkNamespace $B -TunnelId 3000 -SessionId 1000 -PeerSessionId 1000 -Cookie $good.Cookie -PeerCookie $good.PeerCookie -ErrorAction Stop |
                Set-L2tpInterface -NetworkNamespace $B -Up -Mtu Auto -Address 198.51.100.2/30 | Out-Null
        }
    }

    It 'Test-L2tpPseudowire names a far session recreated with another session id, with both values' {
        $good = Get-L2tpSession -NetworkNamespace $B -TunnelId 3000 -SessionId 1000 -ErrorAction Stop
        Remove-L2tpSession -NetworkNamespace $B -TunnelId 3000 -SessionId 1000 -ErrorAction Stop
        New-L2tpSession -NetworkNamespace $B -TunnelId 3000 -SessionId 1001 -PeerSessionId 1000 -Cookie $good.Cookie -PeerCookie $good.PeerCookie -ErrorAction Stop | Out-Null
        try {
            $r = Test-L2tpPseudowire -NetworkNamespace $A -TunnelId 3000 -SessionId 1000 -PeerSession $Peer -ErrorAction Stop
            $r.Verdict | Should -Be 'Mismatch'
            $f = @($r.Findings | Where-Object Field -EQ 'PeerSessionId')
            $f.Count | Should -Be 1 -Because ($r.Findings | Out-String)
            $f[0].Local | Should -Be '1000'
            $f[0].Peer | Should -Be '1001'
        }
        finally {
            Remove-L2tpSession -NetworkNamespace $B -TunnelId 3000 -SessionId 1001 -ErrorAction SilentlyContinue
            New-L2tpSession -NetworkNamespace $B -TunnelId 3000 -SessionId 1000 -PeerSessionId 1000 -Cookie $good.Cookie -PeerCookie $good.PeerCookie -ErrorAction Stop |
                Set-L2tpInterface -NetworkNamespace $B -Up -Mtu Auto | Out-Null
        }
    }

    It 'Test-L2tpPseudowire names a missing cookie with sequencing, then the sublayer, with both values each' {
        $good = Get-L2tpSession -NetworkNamespace $B -TunnelId 3000 -SessionId 1000 -ErrorAction Stop
        function Set-FarSession([hashtable]$Session) {
            Remove-L2tpSession -NetworkNamespace $B -TunnelId 3000 -SessionId 1000 -ErrorAction SilentlyContinue
            New-L2tpSession -NetworkNamespace $B -TunnelId 3000 -SessionId 1000 -PeerSessionId 1000 -ErrorAction Stop @Session | Out-Null
        }
        try {
            Set-FarSession @{ Sequencing = 'Both' }
            $r = Test-L2tpPseudowire -NetworkNamespace $A -TunnelId 3000 -SessionId 1000 -PeerSession $Peer -ErrorAction Stop
            $r.Verdict | Should -Be 'Mismatch'
            $by = @{}; foreach ($x in $r.Findings) { $by[$x.Field] = $x }
            @('Cookie', 'PeerCookie', 'Sequencing') | ForEach-Object { $by.Keys | Should -Contain $_ -Because ($r.Findings | Out-String) }
            $by.Cookie.Local | Should -Be $pw.Session.Cookie
            $by.Sequencing.Local, $by.Sequencing.Peer | Should -Be 'None', 'Both'

            Set-FarSession @{ Cookie = $good.Cookie; PeerCookie = $good.PeerCookie; L2SpecType = 'None' }
            $r = Test-L2tpPseudowire -NetworkNamespace $A -TunnelId 3000 -SessionId 1000 -PeerSession $Peer -ErrorAction Stop
            $l = @($r.Findings | Where-Object Field -EQ 'L2SpecType')
            $l.Count | Should -Be 1 -Because ($r.Findings | Out-String)
            $l[0].Local, $l[0].Peer | Should -Be 'Default', 'None'
        }
        finally {
            Set-FarSession @{ Cookie = $good.Cookie; PeerCookie = $good.PeerCookie }
            Get-L2tpSession -NetworkNamespace $B -TunnelId 3000 -SessionId 1000 | Set-L2tpInterface -NetworkNamespace $B -Up -Mtu Auto -Address 198.51.100.2/30 | Out-Null
        }
    }

    It 'Test-L2tpPseudowire names a far tunnel with another peer tunnel id and port, then another encapsulation' {
        $goodT = Get-L2tpTunnel -NetworkNamespace $B -TunnelId 3000 -ErrorAction Stop
        $goodS = Get-L2tpSession -NetworkNamespace $B -TunnelId 3000 -SessionId 1000 -ErrorAction Stop
        function Set-FarTunnel([hashtable]$Tunnel) {
            Remove-L2tpTunnel -NetworkNamespace $B -TunnelId 3000 -Force -ErrorAction Stop
            New-L2tpTunnel -NetworkNamespace $B -TunnelId 3000 -Local 192.0.2.2 -Remote 192.0.2.1 -ErrorAction Stop @Tunnel |
                New-L2tpSession -SessionId 1000 -PeerSessionId 1000 -Cookie $goodS.Cookie -PeerCookie $goodS.PeerCookie -ErrorAction Stop | Out-Null
        }
        try {
            Set-FarTunnel @{ PeerTunnelId = 3999; SourcePort = 1799; DestinationPort = $goodT.DestinationPort }
            $r = Test-L2tpPseudowire -NetworkNamespace $A -TunnelId 3000 -SessionId 1000 -PeerSession $Peer -ErrorAction Stop
            $r.Verdict | Should -Be 'Mismatch'
            $t = @($r.Findings | Where-Object Field -EQ 'TunnelId')
            $t.Count | Should -Be 1 -Because ($r.Findings | Out-String)
            $t[0].Local, $t[0].Peer | Should -Be '3000', '3999'
            $d = @($r.Findings | Where-Object Field -EQ 'DestinationPort')
            $d.Count | Should -Be 1 -Because ($r.Findings | Out-String)
            $d[0].Local, $d[0].Peer | Should -Be "$($pw.Tunnel.DestinationPort)", '1799'

            Set-FarTunnel @{ PeerTunnelId = 3000; Encapsulation = 'Ip' }
            $r = Test-L2tpPseudowire -NetworkNamespace $A -TunnelId 3000 -SessionId 1000 -PeerSession $Peer -ErrorAction Stop
            $e = @($r.Findings | Where-Object Field -EQ 'Encapsulation')
            $e.Count | Should -Be 1 -Because ($r.Findings | Out-String)
            $e[0].Local, $e[0].Peer | Should -Be 'Udp', 'Ip'
        }
        finally {
            Set-FarTunnel @{ PeerTunnelId = $goodT.PeerTunnelId; SourcePort = $goodT.SourcePort; DestinationPort = $goodT.DestinationPort }
            Get-L2tpSession -NetworkNamespace $B -TunnelId 3000 -SessionId 1000 | Set-L2tpInterface -NetworkNamespace $B -Up -Mtu Auto -Address 198.51.100.2/30 | Out-Null
        }
    }

    It 'Test-L2tpPseudowire says NoTraffic when the far interface is down, naming the direction that does not cross' {
        $far = Get-L2tpSession -NetworkNamespace $B -TunnelId 3000 -SessionId 1000 -ErrorAction Stop
        Set-L2tpInterface -NetworkNamespace $B -InterfaceName $far.InterfaceName -Down -ErrorAction Stop | Out-Null
        try {
            $r = $pw | Test-L2tpPseudowire -ErrorAction Stop
            $r.Verdict | Should -Be 'NoTraffic' -Because ($r.Findings | Out-String)
            @($r.Findings | Where-Object Message -Match 'The peer sent no frame').Count | Should -Be 1 -Because ($r.Findings | Out-String)
            $r.Findings[0].Field | Should -Be 'Traffic'
        }
        finally { Set-L2tpInterface -NetworkNamespace $B -InterfaceName $far.InterfaceName -Up -ErrorAction SilentlyContinue | Out-Null }
    }

    It 'Remove-L2tpPseudowire from the pipeline leaves nothing at either end' {
        $pw | Remove-L2tpPseudowire -ErrorAction Stop
        $a = Get-EndState $A; $b = Get-EndState $B
        $a.Tunnels | Should -BeNullOrEmpty
        $a.Interfaces | Should -BeNullOrEmpty
        $b.Tunnels | Should -BeNullOrEmpty
        $b.Interfaces | Should -BeNullOrEmpty
    }

    It '-Encapsulation Ip with explicit ids and -NoCookie mirrors them at the peer; pings cross' {
        $p = New-Pseudowire @{ Encapsulation = 'Ip'; TunnelId = 3000; PeerTunnelId = 4000; SessionId = 1000; PeerSessionId = 2000; NoCookie = $true; Address = '198.51.100.1/30'; PeerAddress = '198.51.100.2/30' }
        try {
            $far = Get-L2tpTunnel -NetworkNamespace $B -TunnelId 4000 -ErrorAction Stop
            $far.Encapsulation | Should -Be 'Ip'
            $far.PeerTunnelId | Should -Be 3000
            (Get-L2tpSession -NetworkNamespace $B -TunnelId 4000 -SessionId 2000 -ErrorAction Stop).PeerSessionId | Should -Be 1000
            $p.Session.Cookie | Should -BeNullOrEmpty
            Test-LabPing -Namespace $A -Address 198.51.100.2 -Count 2 -Attempts 3 | Should -BeTrue
        }
        finally { $p | Remove-L2tpPseudowire -ErrorAction Stop }
        (Get-EndState $A).Tunnels | Should -BeNullOrEmpty
        (Get-EndState $B).Tunnels | Should -BeNullOrEmpty
    }

    It 'picks a UDP port free at both ends: 1702 when a process in B holds 1701' {
        $sock = Start-LabUdpSocket -Namespace $B -Address 0.0.0.0 -Port 1701
        try {
            $p = New-Pseudowire
            $p.Tunnel.SourcePort, $p.Tunnel.DestinationPort | Should -Be 1702, 1702
            $p | Remove-L2tpPseudowire -ErrorAction Stop
        }
        finally { Stop-LabUdpSocket -Process $sock }
    }

    It 'a far end that fails (its UDP port taken by a process in B) leaves nothing at this end' {
        $sock = Start-LabUdpSocket -Namespace $B -Address 192.0.2.2 -Port 1801
        try {
            $err = $null
            New-L2tpPseudowire -NetworkNamespace $A -Local 192.0.2.1 -Remote 192.0.2.2 -PeerSession $Peer -SourcePort 1800 -DestinationPort 1801 -ErrorVariable err -ErrorAction SilentlyContinue
            Assert-LabL2tpError -ErrorRecord $err -Id 'L2tp.PortInUse' -Category ResourceExists
            "$($err[0])" | Should -Match '^At the peer 192\.0\.2\.2'
            $a = Get-EndState $A
            $a.Tunnels | Should -BeNullOrEmpty
            $a.Interfaces | Should -BeNullOrEmpty
            (Get-EndState $B).Tunnels | Should -BeNullOrEmpty
        }
        finally { Stop-LabUdpSocket -Process $sock }
    }

    It 'a far tunnel id already taken (-PeerTunnelId) leaves nothing new at either end' {
        New-L2tpTunnel -NetworkNamespace $B -TunnelId 3100 -PeerTunnelId 9 -Local 192.0.2.2 -Remote 192.0.2.1 -SourcePort 1900 -DestinationPort 1900 -ErrorAction Stop | Out-Null
        try {
            $err = $null
            New-L2tpPseudowire -NetworkNamespace $A -Local 192.0.2.1 -Remote 192.0.2.2 -PeerSession $Peer -PeerTunnelId 3100 -ErrorVariable err -ErrorAction SilentlyContinue
            Assert-LabL2tpError -ErrorRecord $err -Id 'L2tp.TunnelExists' -Category ResourceExists -Target 3100
            (Get-EndState $A).Tunnels | Should -BeNullOrEmpty
            (Get-EndState $B).Tunnels | Should -Be @(3100) -Because 'the tunnel that was there stays, and nothing else is made'
        }
        finally { Remove-L2tpTunnel -NetworkNamespace $B -TunnelId 3100 -Force -ErrorAction SilentlyContinue }
    }

    It 'a far end that fails after its tunnel and session were made (-PeerBridge missing) rolls back both ends' {
        $err = $null
        New-L2tpPseudowire -NetworkNamespace $A -Local 192.0.2.1 -Remote 192.0.2.2 -PeerSession $Peer -PeerBridge nosuchbr0 -ErrorVariable err -ErrorAction SilentlyContinue
        Assert-LabL2tpError -ErrorRecord $err -Id 'L2tp.InterfaceNotFound' -Category ObjectNotFound
        foreach ($ns in $A, $B) {
            $st = Get-EndState $ns
            $st.Tunnels | Should -BeNullOrEmpty -Because "nothing may be left in $ns"
            $st.Interfaces | Should -BeNullOrEmpty -Because "nothing may be left in $ns"
        }
    }

    It 'a tunnel id taken here (-TunnelId) makes nothing at the peer and leaves the existing tunnel alone' {
        New-L2tpTunnel -NetworkNamespace $A -TunnelId 3200 -PeerTunnelId 9 -Local 192.0.2.1 -Remote 192.0.2.2 -SourcePort 1950 -DestinationPort 1950 -ErrorAction Stop | Out-Null
        try {
            $err = $null
            New-L2tpPseudowire -NetworkNamespace $A -Local 192.0.2.1 -Remote 192.0.2.2 -PeerSession $Peer -TunnelId 3200 -ErrorVariable err -ErrorAction SilentlyContinue
            Assert-LabL2tpError -ErrorRecord $err -Id 'L2tp.TunnelExists' -Category ResourceExists -Target 3200
            (Get-EndState $A).Tunnels | Should -Be @(3200)
            (Get-EndState $B).Tunnels | Should -BeNullOrEmpty
        }
        finally { Remove-L2tpTunnel -NetworkNamespace $A -TunnelId 3200 -Force -ErrorAction SilentlyContinue }
    }

    It '-HostName where no sshd answers is L2tp.PeerUnreachable and makes nothing here' {
        $err = $null
        New-L2tpPseudowire -NetworkNamespace $A -Local 192.0.2.1 -Remote 192.0.2.2 -HostName 192.0.2.1 -UserName root -KeyFilePath $Server.KeyFilePath -ErrorVariable err -ErrorAction SilentlyContinue
        Assert-LabL2tpError -ErrorRecord $err -Id 'L2tp.PeerUnreachable' -Category ConnectionError -Target '192.0.2.1'
        (Get-EndState $A).Tunnels | Should -BeNullOrEmpty
    }

    It '-HostName opens its own SSH PSSession for the peer (which imports the built module by name) and closes it' {
        Add-LabSshModule -Server $Server -Path (Split-Path $ModulePath) -Name L2tp
        $before = @(Get-LabNamespaceProcess -Namespace $B -CommandLinePattern '-sshs').Count
        $p = New-L2tpPseudowire -NetworkNamespace $A -Local 192.0.2.1 -Remote 192.0.2.2 -HostName 192.0.2.2 -UserName root -KeyFilePath $Server.KeyFilePath -NoCookie -ErrorAction Stop
        $p.PeerSession | Should -BeNullOrEmpty
        $p.Session.Cookie | Should -BeNullOrEmpty
        (Get-L2tpSession -NetworkNamespace $B -TunnelId $p.PeerTunnelId -SessionId $p.PeerSessionId -ErrorAction Stop).PeerCookie | Should -BeNullOrEmpty
        Wait-LabCondition -TimeoutSeconds 5 -Condition { @(Get-LabNamespaceProcess -Namespace $B -CommandLinePattern '-sshs').Count -eq $before } |
            Should -BeTrue -Because 'the PSSession it opened is closed again'
        Remove-L2tpPseudowire -NetworkNamespace $A -TunnelId $p.TunnelId -SessionId $p.SessionId -PeerSession $Peer -ErrorAction Stop
        (Get-EndState $A).Tunnels | Should -BeNullOrEmpty
        (Get-EndState $B).Tunnels | Should -BeNullOrEmpty
    }
}
