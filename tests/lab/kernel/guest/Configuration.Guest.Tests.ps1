#Requires -Version 7.2
# Sync-L2tpConfiguration on the Kernel backend, run INSIDE the kernel lab guest (GuestSuite.psm1 lists it; the host
# reports each test through tests/Pester/KernelBackend.Tests.ps1). A run of session steps goes to the kernel pipelined
# (windows of SESSION_CREATE requests, then one session dump): what it makes, and what a refusal in the middle leaves.
# Anywhere else every test is skipped.
#
# Guest network: $A veth0 192.0.2.1/24 <-> $B veth0 192.0.2.2/24; the files describe tunnel 3500 in $A.

BeforeDiscovery {
    Import-Module (Join-Path $PSScriptRoot 'InGuest.psm1') -Force
    $NotInGuest = -not (Test-InKernelLabGuest)
}

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'InGuest.psm1') -Force
    if (-not (Test-InKernelLabGuest)) { return }

    Import-GuestL2tpModule

    $A = New-LabNamespace -Prefix 'kcA'
    $B = New-LabNamespace -Prefix 'kcB'
    New-LabVethPair -Namespace $A -Peer $B -Address 192.0.2.1/24 -PeerAddress 192.0.2.2/24 | Out-Null
    $Work = Join-Path ([System.IO.Path]::GetTempPath()) ('l2tp-kconf-' + [guid]::NewGuid().ToString('N').Substring(0, 8))
    $null = New-Item -ItemType Directory -Path $Work

    # A file of tunnel 3500 in $A on the Kernel backend with sessions 1..$Count; $Session(i) adds to session i's entry.
    function New-SessionFile([string]$Name, [int]$Count, [scriptblock]$Session = { param($i) @{} }) {
        $sessions = foreach ($i in 1..$Count) { @{ sessionId = $i; peerSessionId = 2000 + $i } + (& $Session $i) }
        $doc = @{ namespaces = @(@{ name = $A; backend = 'Kernel'; tunnels = @(@{
                            tunnelId = 3500; peerTunnelId = 4500; local = '192.0.2.1'; remote = '192.0.2.2'; sourcePort = 5500; destinationPort = 6500
                            sessions = @($sessions)
                        }) })
        }
        $path = Join-Path $Work $Name
        $doc | ConvertTo-Json -Depth 10 | Set-Content -LiteralPath $path
        $path
    }

    # Interface names of $A, from iproute2.
    function Get-ALinks { @((Invoke-LabIp $A @('-j', 'link', 'show')) | ConvertFrom-Json | ForEach-Object { $_.ifname }) }
}

AfterAll {
    if (Get-Command Remove-LabL2tpConfig -ErrorAction Ignore) { Remove-LabL2tpConfig -Namespace $A -Backend Kernel }
    if (Get-Command Remove-LabNamespace -ErrorAction Ignore) { Remove-LabNamespace -Name $A, $B }
    if ($Work) { Remove-Item -Recurse -Force -LiteralPath $Work -ErrorAction Ignore }
}

Describe 'Sync-L2tpConfiguration on the Kernel backend: a run of session steps sent pipelined' -Skip:$NotInGuest {
    BeforeEach { Remove-LabL2tpConfig -Namespace $A -Backend Kernel }
    AfterAll { Remove-LabL2tpConfig -Namespace $A -Backend Kernel }

    It 'a file of 130 sessions (three windows) makes every one with its interface, read back with one session dump, not a GET each' {
        # Every third session named; session 7's interface up with the Auto MTU (from the read-back, not a GET).
        $file = New-SessionFile 'many.json' 130 {
            param($i)
            $s = @{}
            if ($i % 3 -eq 0) { $s.interfaceName = "kcs$i" }
            if ($i -eq 7) { $s.interfaceName = 'kcs7'; $s.interface = @{ up = $true; mtu = 'Auto' } }
            $s
        }
        $out = Sync-L2tpConfiguration -Path $file -ErrorAction Stop -Verbose 4>&1
        $steps = @($out | Where-Object { $_ -is [L2tp.L2tpConfigurationStep] })
        $verbose = @($out | Where-Object { $_ -is [System.Management.Automation.VerboseRecord] } | ForEach-Object Message)
        $steps.Count | Should -Be 132 -Because 'the tunnel, 130 sessions and one interface'
        @($steps | Where-Object { "$($_.Kind)" -eq 'Session' }).Count | Should -Be 130
        # -Verbose names every request as it is written; after the creates, one dump reads them back.
        @($verbose -match 'SESSION_CREATE session \d+ in tunnel 3500').Count | Should -Be 130
        @($verbose -match 'SESSION_GET session \d+').Count | Should -Be 0
        @($verbose -match 'SESSION_GET \(dump\)').Count | Should -BeGreaterOrEqual 1

        $kernel = @(Get-LabIpL2tp $A session)
        ($kernel | ForEach-Object { [int]$_.session_id } | Sort-Object) -join ',' | Should -Be ((1..130) -join ',')
        $links = Get-ALinks
        foreach ($i in 3, 6, 7, 99, 129) { $links | Should -Contain "kcs$i" }
        @($links -like 'l2tpeth*').Count | Should -Be (130 - 43 - 1) -Because 'the unnamed sessions get l2tpethN'
        # One Should for all of them: under TCG each Should costs more than the request it checks.
        $wrong = @(foreach ($s in Get-L2tpSession -Backend Kernel -netns $A -TunnelId 3500 -ErrorAction Stop) {
                if ($s.InterfaceName -notin $links -or (($s.SessionId % 3 -eq 0 -or $s.SessionId -eq 7) -and $s.InterfaceName -ne "kcs$($s.SessionId)")) { "$($s.SessionId): $($s.InterfaceName)" }
            })
        $wrong | Should -BeNullOrEmpty
        $k7 = Get-L2tpSession -Backend Kernel -netns $A -TunnelId 3500 -SessionId 7 -ErrorAction Stop
        $k7.Mtu | Should -Be $k7.SuggestedMtu
        (Invoke-LabIp $A @('-j', 'link', 'show', 'kcs7') | ConvertFrom-Json).flags | Should -Contain 'UP'
        @(Sync-L2tpConfiguration -Path $file -ErrorAction Stop) | Should -HaveCount 0 -Because 'the system now matches the file'
    }

    It 'a file of sessions without interface state is not read back after the creates: no session dump or GET follows them' {
        # The read-back is for an interface step's Auto MTU only; without one it would be a dump of every session for nothing.
        $file = New-SessionFile 'noread.json' 10
        $out = Sync-L2tpConfiguration -Path $file -ErrorAction Stop -Verbose 4>&1
        $verbose = @($out | Where-Object { $_ -is [System.Management.Automation.VerboseRecord] } | ForEach-Object Message)
        @($out | Where-Object { $_ -is [L2tp.L2tpConfigurationStep] }).Count | Should -Be 11 -Because 'the tunnel and 10 sessions'
        $lastCreate = -1
        for ($i = 0; $i -lt $verbose.Count; $i++) { if ($verbose[$i] -match 'SESSION_CREATE session') { $lastCreate = $i } }
        $lastCreate | Should -BeGreaterThan 0
        @($verbose | Select-Object -Skip ($lastCreate + 1) | Where-Object { $_ -match 'SESSION_GET' }) | Should -BeNullOrEmpty
        @(Get-LabIpL2tp $A session).Count | Should -Be 10
    }

    It 'a file whose session 70 of 100 the kernel refuses (its interface name is taken) stops there as Sync did step by step: sessions 1-69 made and reported, L2tp.ConfigurationStepFailed with L2tp.InterfaceExists, none after it left' {
        Invoke-LabIp $A @('link', 'add', 'kcbusy0', 'type', 'veth', 'peer', 'name', 'kcbusy1') | Out-Null
        try {
            $file = New-SessionFile 'refused.json' 100 { param($i) if ($i -eq 70) { @{ interfaceName = 'kcbusy0' } } else { @{} } }
            $steps = @(Sync-L2tpConfiguration -Path $file -ErrorVariable err -ErrorAction SilentlyContinue)
            ($steps | ForEach-Object { "$($_.Action) $($_.Target)" }) | Should -Be (@('Create tunnel 3500') + (1..69 | ForEach-Object { "Create session $_ in tunnel 3500" }))
            Assert-LabL2tpError -ErrorRecord $err -Id 'L2tp.ConfigurationStepFailed' -Category ResourceExists
            $err[0].Exception.InnerException.ErrorId | Should -Be 'L2tp.InterfaceExists'
            "$($err[0])" | Should -Match 'Step 71 of 101 failed: Create session 70 in tunnel 3500 .*kcbusy0'
            "$($err[0])" | Should -Match '(?s)Not applied:\s+Create session 70 in tunnel 3500.*\n  Create session 100 in tunnel 3500'
            # What the kernel holds: 1-69, nothing of 70 or of the requests its window (65-100) carried after it.
            (@(Get-LabIpL2tp $A session) | ForEach-Object { [int]$_.session_id } | Sort-Object) -join ',' | Should -Be ((1..69) -join ',')
            @((Get-ALinks) -like 'l2tpeth*').Count | Should -Be 69

            # As before: fixing the cause and running again applies the rest.
            Invoke-LabIp $A @('link', 'del', 'kcbusy0') | Out-Null
            @(Sync-L2tpConfiguration -Path $file -ErrorAction Stop).Count | Should -Be 31
            @(Get-LabIpL2tp $A session).Count | Should -Be 100
        }
        finally {
            try { Invoke-LabIp $A @('link', 'del', 'kcbusy0') | Out-Null } catch { $null = $_ }
        }
    }
}
