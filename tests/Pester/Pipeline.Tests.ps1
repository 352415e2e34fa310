#Requires -Version 7.2
# Pester 5: parameters bind by property name, so rows of a CSV file (or any objects) pipe straight into the cmdlets.

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot '../lab/Lab.psm1') -Force
    Import-Module ([System.IO.Path]::GetFullPath((Join-Path $PSScriptRoot '../../out/L2tp/L2tp.psd1'))) -Force
    $A, $B = New-LabSitePair -Prefix 'pipe-A', 'pipe-B'
    New-L2tpTunnel -netns $A -TunnelId 3000 -PeerTunnelId 4000 -Local 192.0.2.1 -Remote 192.0.2.2 -SourcePort 5000 -DestinationPort 6000 -ErrorAction Stop | Out-Null
}

AfterAll {
    if (Get-Command Remove-LabL2tpConfig -ErrorAction Ignore) { Remove-LabL2tpConfig -Namespace $A, $B }
    if (Get-Command Remove-LabNamespace -ErrorAction Ignore) { Remove-LabNamespace -Name $A, $B }
}

Describe 'Import-Csv | New-L2tpSession' {
    BeforeAll {
        $script:Csv = Join-Path ([System.IO.Path]::GetTempPath()) "l2tp-sessions-$([guid]::NewGuid().ToString('N').Substring(0, 8)).csv"
        $script:Rows = 1..50 | ForEach-Object {
            [pscustomobject]@{
                TunnelId      = 3000
                SessionId     = 1000 + $_
                PeerSessionId = 2000 + $_
                Name          = "pw$_"
                Cookie        = '{0:x8}' -f (0x01000000 + $_)
                PeerCookie    = '{0:x16}' -f (0x0200000000000000 + $_)
                L2SpecType    = if ($_ % 2) { 'Default' } else { 'None' }
                Sequencing    = if ($_ % 5 -eq 0) { 'None' } elseif ($_ % 2) { 'Both' } else { 'None' }
            }
        }
        $Rows | Export-Csv -Path $Csv -NoTypeInformation
        $script:Made = @(Import-Csv $Csv | New-L2tpSession -NetworkNamespace $A -ErrorAction Stop)
    }
    AfterAll { Remove-Item $Csv -ErrorAction Ignore }

    It 'makes one session per row, every column taken from the file' {
        $Made.Count | Should -Be 50
        $got = Get-L2tpSession -netns $A -TunnelId 3000 -ErrorAction Stop | Sort-Object SessionId
        $got.Count | Should -Be 50
        foreach ($r in $Rows) {
            $s = $got | Where-Object SessionId -EQ $r.SessionId
            "$($s.PeerSessionId) $($s.InterfaceName) $($s.Cookie) $($s.PeerCookie) $($s.L2SpecType) $($s.Sequencing)" |
                Should -Be "$($r.PeerSessionId) $($r.Name) $($r.Cookie) $($r.PeerCookie) $($r.L2SpecType) $($r.Sequencing)"
        }
    }

    It 'gives each row''s interface its name' {
        $links = Get-LabLinkName -Namespace $A
        foreach ($r in $Rows) { $links | Should -Contain $r.Name }
    }
}

Describe 'Get-L2tpSession | Set-L2tpInterface -Mtu Auto' {
    It 'sets each of the 50 interfaces to its SuggestedMtu asking for each one''s session by name and the tunnel once, no dump (linear in the sessions piped)' {
        $sessions = @(Get-L2tpSession -netns $A -TunnelId 3000 -ErrorAction Stop)
        $sessions.Count | Should -Be 50
        $verbose = @($sessions | Set-L2tpInterface -Mtu Auto -Verbose -ErrorAction Stop 4>&1 |
            Where-Object { $_ -is [System.Management.Automation.VerboseRecord] } | ForEach-Object Message)
        @($verbose -match '\(dump\)').Count | Should -Be 0
        @($verbose -match 'SESSION_GET session on ').Count | Should -Be 50
        @($verbose -match 'TUNNEL_GET').Count | Should -Be 1
        foreach ($s in Get-L2tpSession -netns $A -TunnelId 3000 -ErrorAction Stop) { $s.Mtu | Should -Be $s.SuggestedMtu }
    }
}

Describe 'Import-Csv | Set-L2tpInterface' {
    It 'takes InterfaceName, Address and PeerAddress from each row' {
        $rows = 1..3 | ForEach-Object { [pscustomobject]@{ InterfaceName = "pw$_"; Address = "198.51.100.$($_ * 4 + 1)/30"; PeerAddress = '' } }
        $rows[2].PeerAddress = '198.51.100.14'
        $rows[2].Address = '198.51.100.13'
        $rows | Where-Object PeerAddress -EQ '' | ForEach-Object { $_.PSObject.Properties.Remove('PeerAddress') }
        $rows | Set-L2tpInterface -NetworkNamespace $A -ErrorAction Stop | Out-Null
        (Invoke-LabNs $A 'ip -o addr show dev pw1') | Should -Match 'inet 198\.51\.100\.5/30'
        (Invoke-LabNs $A 'ip -o addr show dev pw3') | Should -Match 'inet 198\.51\.100\.13 peer 198\.51\.100\.14/32'
    }
}
