#Requires -Version 7.2
# Pester 5: Sync-L2tpConfiguration changes a live session's sequencing and reorder timeout in place (Set-L2tpSession's
# SESSION_MODIFY): the same interface keeps its index and traffic, no Replace. Managed backend, two namespaces.

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot '../lab/Lab.psm1') -Force
    $null = Import-LabL2tpModule
    $A, $B = New-LabSitePair -Prefix 'cfgip-a', 'cfgip-b'
    $File = Join-Path ([System.IO.Path]::GetTempPath()) ("l2tp-cfgip-{0}.json" -f [guid]::NewGuid().ToString('N').Substring(0, 8))
    New-L2tpTunnel -netns $A -TunnelId 3000 -PeerTunnelId 4000 -Local 192.0.2.1 -Remote 192.0.2.2 -SourcePort 5000 -DestinationPort 6000 -ErrorAction Stop |
        New-L2tpSession -SessionId 1000 -PeerSessionId 2000 -ErrorAction Stop | Set-L2tpInterface -Up -Address 198.51.100.1/24 -ErrorAction Stop | Out-Null
    New-L2tpTunnel -netns $B -TunnelId 4000 -PeerTunnelId 3000 -Local 192.0.2.2 -Remote 192.0.2.1 -SourcePort 6000 -DestinationPort 5000 -ErrorAction Stop |
        New-L2tpSession -SessionId 2000 -PeerSessionId 1000 -Sequencing Send -ErrorAction Stop | Set-L2tpInterface -Up -Address 198.51.100.2/24 -ErrorAction Stop | Out-Null
    Export-L2tpConfiguration -netns $A -Path $File -ErrorAction Stop
    $IfIndexBefore = [int](Invoke-LabNs $A 'cat /sys/class/net/l2tpeth0/ifindex')
    $j = Get-Content -Raw $File | ConvertFrom-Json -AsHashtable
    $j.namespaces[0].tunnels[0].sessions[0].sequencing = 'Both'
    $j.namespaces[0].tunnels[0].sessions[0].reorderTimeout = 250
    $j | ConvertTo-Json -Depth 12 | Set-Content $File
    $Steps = @(Sync-L2tpConfiguration -Path $File -ErrorAction Stop)
}

AfterAll {
    Remove-LabL2tpConfig -Namespace $A, $B
    Remove-LabNamespace -Name $A, $B
    Remove-Item $File -ErrorAction Ignore
}

Describe 'Sync-L2tpConfiguration with a changed sequencing and reorder timeout' {
    It 'plans one in-place Update of the session, not a Replace' {
        @($Steps | ForEach-Object { "$($_.Action) $($_.Target)" }) | Should -Be @('Update session 1000 in tunnel 3000')
    }

    It 'leaves the session with the file''s values on the same interface (same ifindex), and traffic passes' {
        $s = Get-L2tpSession -netns $A -TunnelId 3000 -SessionId 1000 -ErrorAction Stop
        $s.Sequencing | Should -Be 'Both'
        $s.ReorderTimeout | Should -Be ([TimeSpan]::FromMilliseconds(250))
        [int](Invoke-LabNs $A 'cat /sys/class/net/l2tpeth0/ifindex') | Should -Be $IfIndexBefore
        Test-LabPing -Namespace $A -Address 198.51.100.2 -Count 2 -Attempts 3 | Should -BeTrue -Because 'B sends sequence numbers, which A now requires'
    }

    It 'has nothing left to do on a second run, and Compare finds no drift' {
        @(Sync-L2tpConfiguration -Path $File -ErrorAction Stop) | Should -HaveCount 0
        @(Compare-L2tpConfiguration -Path $File -ErrorAction Stop) | Should -HaveCount 0
    }
}
