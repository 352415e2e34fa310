#Requires -Version 7.2
# Pester 5: a thousand sessions in one tunnel, made and removed with the plain pipelines (needs root).
#   underlay: $A veth0 192.0.2.1/24 <-> $B veth0 192.0.2.2/24
#   $A: tunnel 3000 (UDP 5000 -> 6000) with sessions 1..1000 (peer session = session id) on l2tpeth0..l2tpeth999
#   $B: tunnel 4000 with one session 1000 (peer 1000), the far end of $A's session 1000, to show the forwarder still
#       carries traffic among 1000 sessions and after they are gone.
# Both pipelines are timed; the bound (each under 120 s) is generous but catches a quadratic blow-up, and the
# per-100 laps are written to the host so the figures can be quoted.

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot '../lab/Lab.psm1') -Force
    $ModulePath = Import-LabL2tpModule

    $Count = 1000
    $LimitSeconds = 120

    $A, $B = New-LabSitePair -Prefix 'l2tpBulk-a', 'l2tpBulk-b'
    New-L2tpTunnel -netns $A -TunnelId 3000 -PeerTunnelId 4000 -Local 192.0.2.1 -Remote 192.0.2.2 -SourcePort 5000 -DestinationPort 6000 -ErrorAction Stop | Out-Null
    New-L2tpTunnel -netns $B -TunnelId 4000 -PeerTunnelId 3000 -Local 192.0.2.2 -Remote 192.0.2.1 -SourcePort 6000 -DestinationPort 5000 -ErrorAction Stop |
        New-L2tpSession -SessionId $Count -PeerSessionId $Count -ErrorAction Stop |
        Set-L2tpInterface -Up -Address 198.51.100.2 -PeerAddress 198.51.100.1 -ErrorAction Stop | Out-Null
    $Forwarder = @(Get-LabNamespaceProcess -Namespace $A -CommandLinePattern 'l2tp-forwarder')

    function Get-SessionLinkName([string]$Namespace) {
        @(Get-LabLinkName -Namespace $Namespace | Where-Object { $_ -match '^l2tpeth\d+$' })
    }

    # Seconds taken by each block of 100 from a list of cumulative lap times.
    function Get-LapDelta([double[]]$Lap) {
        $prev = 0.0
        foreach ($l in $Lap) { [math]::Round($l - $prev, 2); $prev = $l }
    }
}

AfterAll {
    if (Get-Command Remove-LabL2tpConfig -ErrorAction Ignore) { Remove-LabL2tpConfig -Namespace $A, $B }
    if (Get-Command Remove-LabNamespace -ErrorAction Ignore) { Remove-LabNamespace -Name $A, $B }
}

Describe 'A thousand sessions: 1..1000 | ForEach-Object { New-L2tpSession ... }' {
    BeforeAll {
        $createErrors = $null
        $laps = [System.Collections.Generic.List[double]]::new()
        $sw = [System.Diagnostics.Stopwatch]::StartNew()
        $Created = @(1..$Count | ForEach-Object {
                New-L2tpSession -netns $A -TunnelId 3000 -SessionId $_ -PeerSessionId $_ -ErrorAction SilentlyContinue -ErrorVariable +createErrors
                if ($_ % 100 -eq 0) { $laps.Add($sw.Elapsed.TotalSeconds) }
            })
        $sw.Stop()
        $CreateSeconds = $sw.Elapsed.TotalSeconds
        $CreateErrors = @($createErrors)
        $CreateLaps = @(Get-LapDelta $laps)
        Write-Host ("Bulk: created {0} sessions in {1:N1} s ({2:N1} ms each); per 100: {3}" -f $Created.Count, $CreateSeconds,
            (1000 * $CreateSeconds / $Count), ($CreateLaps -join ' '))
    }

    It 'creates them without an error, in under 120 s' {
        $CreateErrors.Count | Should -Be 0 -Because "the first errors were: $(($CreateErrors | Select-Object -First 3 | ForEach-Object { "[$($_.FullyQualifiedErrorId)] $_" }) -join ' | ')"
        $Created.Count | Should -Be $Count
        $CreateSeconds | Should -BeLessThan $LimitSeconds
    }

    It 'names the interfaces l2tpeth0..l2tpeth999, and they exist' {
        $expected = @(0..($Count - 1) | ForEach-Object { "l2tpeth$_" })
        $named = @($Created | ForEach-Object InterfaceName)
        (Compare-Object $expected $named | Measure-Object).Count | Should -Be 0
        $links = Get-SessionLinkName $A
        $links.Count | Should -Be $Count
        (Compare-Object $expected $links | Measure-Object).Count | Should -Be 0
    }

    It 'Get-L2tpSession lists all of them' {
        $s = @(Get-L2tpSession -netns $A -ErrorAction Stop)
        $s.Count | Should -Be $Count
        ($s.SessionId | Sort-Object -Unique).Count | Should -Be $Count
        @(Get-L2tpSession -netns $A -TunnelId 3000 -SessionId 777 -ErrorAction Stop).InterfaceName | Should -Be 'l2tpeth776'
    }

    It 'the forwarder still carries traffic: session 1000 (l2tpeth999) pings its peer' {
        Set-L2tpInterface -netns $A l2tpeth999 -Up -Address 198.51.100.1 -PeerAddress 198.51.100.2 -ErrorAction Stop | Out-Null
        Test-LabPing -Namespace $A -Address 198.51.100.2 -Count 3 -Attempts 3 | Should -BeTrue
    }

    # Export, Compare and Sync read the namespace whole: one link dump and one address dump, not a dump per interface
    # (which took 10 s at 1,000 sessions and grew with the square). Measured against Get-L2tpSession of the same
    # sessions, itself one dump, on the same machine at the same moment: linear reads stay within a few times of it.
    It 'Export-L2tpConfiguration of 1000 sessions takes at most 20 times as long as Get-L2tpSession of them (one read of the namespace, not one per interface)' {
        $best = { param($block) (1..3 | ForEach-Object { (Measure-Command $block).TotalSeconds } | Measure-Object -Minimum).Minimum }
        $get = & $best { $null = @(Get-L2tpSession -netns $A -ErrorAction Stop) }
        $export = & $best { $script:exported = Export-L2tpConfiguration -netns $A -ErrorAction Stop }
        Write-Host ("Bulk: Export-L2tpConfiguration {0:N3} s, Get-L2tpSession {1:N3} s" -f $export, $get)
        $sessions = ($script:exported | ConvertFrom-Json -Depth 20).namespaces[0].tunnels[0].sessions
        $sessions.Count | Should -Be $Count
        $addresses = @(@($sessions | Where-Object interfaceName -EQ 'l2tpeth999').interface.addresses)
        $addresses.Count | Should -Be 1
        "$($addresses[0].address) peer $($addresses[0].peer)" | Should -Be '198.51.100.1 peer 198.51.100.2/32'
        $export | Should -BeLessOrEqual ([math]::Max(20 * $get, 0.5))
    }
}

Describe 'Get-L2tpSession -netns A | Remove-L2tpSession' {
    BeforeAll {
        $removeErrors = $null
        $laps = [System.Collections.Generic.List[double]]::new()
        $n = 0
        $sw = [System.Diagnostics.Stopwatch]::StartNew()
        # The ForEach-Object only notes the time as every 100th session passes on (the pipeline streams).
        Get-L2tpSession -netns $A -ErrorAction Stop |
            ForEach-Object { $n++; if ($n % 100 -eq 1 -and $n -gt 1) { $laps.Add($sw.Elapsed.TotalSeconds) }; $_ } |
            Remove-L2tpSession -ErrorAction SilentlyContinue -ErrorVariable +removeErrors
        $sw.Stop()
        $laps.Add($sw.Elapsed.TotalSeconds)
        $RemoveSeconds = $sw.Elapsed.TotalSeconds
        $RemoveErrors = @($removeErrors)
        $RemoveLaps = @(Get-LapDelta $laps)
        Write-Host ("Bulk: removed {0} sessions in {1:N1} s ({2:N1} ms each); per 100: {3}" -f $n, $RemoveSeconds,
            (1000 * $RemoveSeconds / [math]::Max($n, 1)), ($RemoveLaps -join ' '))
    }

    It 'removes all 1000 without an error, in under 120 s' {
        $RemoveErrors.Count | Should -Be 0 -Because "the first errors were: $(($RemoveErrors | Select-Object -First 3 | ForEach-Object { "[$($_.FullyQualifiedErrorId)] $_" }) -join ' | ')"
        $RemoveSeconds | Should -BeLessThan $LimitSeconds
        @(Get-L2tpSession -netns $A -ErrorAction Stop).Count | Should -Be 0
    }

    It 'leaves no l2tpeth interface behind' {
        Get-SessionLinkName $A | Should -BeNullOrEmpty
    }

    It 'the forwarder is the same process, still alive, with the tunnel' {
        $Forwarder.Count | Should -Be 1 -Because 'one l2tp-forwarder runs per namespace'
        Test-LabProcessAlive $Forwarder[0].Id | Should -BeTrue
        $now = @(Get-LabNamespaceProcess -Namespace $A -CommandLinePattern 'l2tp-forwarder')
        $now.Id | Should -Be $Forwarder[0].Id -Because 'the forwarder must not have died and been restarted'
        (Get-L2tpTunnel -netns $A -ErrorAction Stop).TunnelId | Should -Be 3000
    }

    It 'and carries a new session at once (l2tpeth0 again)' {
        $i = New-L2tpSession -netns $A -TunnelId 3000 -SessionId $Count -PeerSessionId $Count -ErrorAction Stop |
            Set-L2tpInterface -Up -Address 198.51.100.1 -PeerAddress 198.51.100.2 -ErrorAction Stop
        $i.InterfaceName | Should -Be 'l2tpeth0'
        Test-LabPing -Namespace $A -Address 198.51.100.2 -Count 3 -Attempts 3 | Should -BeTrue
    }
}
