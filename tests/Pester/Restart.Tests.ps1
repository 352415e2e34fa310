#Requires -Version 7.2
# Pester 5: the managed forwarder survives its own death. Killed with SIGKILL, the next cmdlet starts a new one, which
# re-creates the tunnel sockets from the state file and re-attaches the persistent TAPs, so the session interfaces
# keep their addresses and the pseudowire carries traffic again. SIGTERM stops it cleanly, keeping the same.

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot '../lab/Lab.psm1') -Force
    Import-Module ([System.IO.Path]::GetFullPath((Join-Path $PSScriptRoot '../../out/L2tp/L2tp.psd1'))) -Force

    $A, $B = New-LabSitePair -Prefix 'rst-A', 'rst-B'

    New-L2tpTunnel -netns $A -TunnelId 3000 -PeerTunnelId 4000 -Local 192.0.2.1 -Remote 192.0.2.2 -SourcePort 5000 -DestinationPort 6000 -ErrorAction Stop |
        New-L2tpSession -SessionId 1000 -PeerSessionId 2000 -Cookie 0102030405060708 -PeerCookie 1112131415161718 -ErrorAction Stop |
        Set-L2tpInterface -Up -Address 198.51.100.1 -PeerAddress 198.51.100.2 -ErrorAction Stop | Out-Null
    New-L2tpTunnel -netns $B -TunnelId 4000 -PeerTunnelId 3000 -Local 192.0.2.2 -Remote 192.0.2.1 -SourcePort 6000 -DestinationPort 5000 -ErrorAction Stop |
        New-L2tpSession -SessionId 2000 -PeerSessionId 1000 -Cookie 1112131415161718 -PeerCookie 0102030405060708 -ErrorAction Stop |
        Set-L2tpInterface -Up -Address 198.51.100.2 -PeerAddress 198.51.100.1 -ErrorAction Stop | Out-Null

    function Get-ForwarderPid([string] $Namespace) {
        @(Get-LabNamespaceProcess -Namespace $Namespace -CommandLinePattern 'l2tp-forwarder') | Select-Object -First 1 -ExpandProperty Id
    }
    function Get-LinkLine([string] $Namespace) {
        # index, name, MAC and addresses: what must survive a forwarder restart
        (Invoke-LabNs $Namespace 'ip -o link show dev l2tpeth0') -replace ' state \S+', '' -replace 'NO-CARRIER,', '' -replace ',LOWER_UP', ''
        Invoke-LabNs $Namespace 'ip -o addr show dev l2tpeth0 scope global'
    }
}

AfterAll {
    if (Get-Command Remove-LabL2tpConfig -ErrorAction Ignore) { Remove-LabL2tpConfig -Namespace $A, $B }
    if (Get-Command Remove-LabNamespace -ErrorAction Ignore) { Remove-LabNamespace -Name $A, $B }
}

Describe 'A forwarder killed with SIGKILL' {
    BeforeAll {
        Test-LabPing -Namespace $A -Address 198.51.100.2 -Count 2 -Attempts 3 | Should -BeTrue -Because 'the pseudowire works before the kill'
        $script:linkBefore = Get-LinkLine $A
        $script:oldPid = Get-ForwarderPid $A
        $oldPid | Should -Not -BeNullOrEmpty
        & kill -9 $oldPid
        Wait-LabCondition { -not (Test-LabProcessAlive $oldPid) } -TimeoutSeconds 5 | Should -BeTrue
    }

    It 'leaves the session interface, its MAC and its addresses in place (a persistent TAP)' {
        Get-LinkLine $A | Should -Be $linkBefore
    }

    It 'stops the traffic until a cmdlet runs (nothing carries it)' {
        Test-LabPing -Namespace $A -Address 198.51.100.2 -Count 1 -TimeoutSeconds 1 | Should -BeFalse
    }

    It 'is replaced by a new forwarder on the next Get-L2tpSession, which reports the same session' {
        $s = Get-L2tpSession -netns $A -ErrorAction Stop
        $s.SessionId | Should -Be 1000
        $s.InterfaceName | Should -Be 'l2tpeth0'
        $s.Cookie | Should -Be '0102030405060708'
        $s.PeerCookie | Should -Be '1112131415161718'
        $newPid = Get-ForwarderPid $A
        $newPid | Should -Not -BeNullOrEmpty
        $newPid | Should -Not -Be $oldPid
    }

    It 're-attaches to the same interface (same index, MAC and addresses)' {
        Get-LinkLine $A | Should -Be $linkBefore
    }

    It 'carries traffic again, both ways' {
        Test-LabPing -Namespace $A -Address 198.51.100.2 -Count 2 -Attempts 3 | Should -BeTrue
        Test-LabPing -Namespace $B -Address 198.51.100.1 -Count 2 -Attempts 3 | Should -BeTrue
        (Get-L2tpSession -netns $A).Statistics.RxPackets | Should -BeGreaterThan 0
    }
}

Describe 'A forwarder stopped with SIGTERM' {
    It 'exits, keeps its state, and a new one takes over on the next cmdlet' {
        $pidBefore = Get-ForwarderPid $A
        & kill -TERM $pidBefore
        Wait-LabCondition { -not (Test-LabProcessAlive $pidBefore) } -TimeoutSeconds 5 | Should -BeTrue
        (Get-L2tpTunnel -netns $A -ErrorAction Stop).TunnelId | Should -Be 3000
        Get-ForwarderPid $A | Should -Not -Be $pidBefore
        Test-LabPing -Namespace $A -Address 198.51.100.2 -Count 2 -Attempts 3 | Should -BeTrue
    }
}

Describe 'Removing everything after a restart' {
    It 'leaves no TAP, no socket and no forwarder' {
        Get-L2tpTunnel -netns $A | Remove-L2tpTunnel -Force -ErrorAction Stop
        Invoke-LabNs $A 'ip -o link show' | Should -Not -Match 'l2tpeth'
        Wait-LabCondition { -not (Get-ForwarderPid $A) } -TimeoutSeconds 5 | Should -BeTrue
        Invoke-LabNs $A 'ss -uanp' | Should -Not -Match ':5000'
    }
}
