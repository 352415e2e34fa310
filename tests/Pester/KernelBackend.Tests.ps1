#Requires -Version 7.2
# Pester 5 tests of the Kernel backend (the kernel's generic-netlink family l2tp) on a real Linux kernel, and of
# backend selection (needs root and qemu-system-x86_64). This machine's kernel has no L2TP, so the cmdlets run in
# the real-kernel lab (tests/lab/KernelLab.psm1): ONE guest boot (Debian's kernel under QEMU TCG) in which ONE pwsh
# runs the guest suite (tests/lab/kernel/guest/GuestSuite.psm1): the lab's own KernelLab.Guest.Tests.ps1 and
# Configuration.Guest.Tests.ps1 (Sync-L2tpConfiguration's pipelined session runs), then the host's cmdlet files L2tpTunnel.Tests.ps1 and L2tpSession.Tests.ps1 with Backend = Kernel (the same files run here
# with Managed). The guest writes one JSON result per test into the share; each becomes an It here (listed at
# discovery by a Pester discovery of that suite in a child pwsh, so the guest boots only when the tests run).
# Meanwhile a pwsh as nobody runs Invoke-UnprivilegedCmdlets.ps1 in the guest.
#
#   host namespace $Ns: ktap0 192.0.2.1/24, managed site-B    <-TAP->    guest: NIC 192.0.2.2/24, kernel site-A
#   site-B: tunnel 3000 -> 4000, UDP 5000 -> 6000, session 1000 -> 2000, cookie a1b2c3d4, peer cookie 0102030405060708
#   site-A: the mirror image; l2tpeth0 198.51.100.1 (host) <-> 198.51.100.2 (guest)
# Share files for the mixed pseudowire: mixed/siteA-ready (guest, JSON Ok/Error), mixed/siteB-ready (host, after
# pinging the guest), mixed/siteA-done (guest).
# The guest runs from a copy of out/L2tp in the share, so a rebuild during the run cannot pull the module away.
#
# After its Pester run, the same guest pwsh runs tests/lab/kernel/guest/Vlan.Guest.ps1: ip-l2tp(8)'s "VLAN per
# bridge" example built with the module's cmdlets (this host has no 802.1Q; the guest has 8021q), once with the
# Kernel backend at both sites and once with the Managed backend, each in the guest's own network namespaces (a veth
# underlay, a host behind a trunk on each site carrying VLAN 5 and VLAN 6, a bridge per VLAN holding the VLAN device
# of the pseudowire and of the trunk). Each run gives two cases (VLAN 5: the hosts ping through brvlan5 and the
# pseudowire; VLAN 6: its own hosts ping, isolated from VLAN 5), written as JSON into vlan-results/ in the share.
# Sharing the boot and the pwsh saves some 80 s of TCG time against a guest of its own. Kernel-to-managed interop
# is covered by the mixed pseudowire above and by KernelInterop.Tests.ps1, so the VLAN lab has no mixed run.

BeforeDiscovery {
    # Every test the guest runs, by key (file / Describe / It, expanded), from a Pester discovery of the guest suite.
    Import-Module (Join-Path $PSScriptRoot '../lab/kernel/guest/GuestSuite.psm1') -Force
    $GuestBlocks = [System.Collections.Generic.List[hashtable]]::new()
    $byBlock = @{}
    foreach ($t in Get-GuestSuiteTest) {
        if (-not $byBlock.ContainsKey($t.Block)) {
            $byBlock[$t.Block] = [System.Collections.Generic.List[hashtable]]::new()
            $GuestBlocks.Add(@{ Block = $t.Block; Tests = $byBlock[$t.Block] })
        }
        $byBlock[$t.Block].Add(@{ Name = $t.Name; Key = $t.Key })
    }
    $GuestKeys = @($GuestBlocks | ForEach-Object { $_.Tests } | ForEach-Object { $_.Key })

    $VlanRuns = @(
        @{ Id = 'kernel'; Prefix = 'vk'; SiteA = 'Kernel'; SiteB = 'Kernel'; Title = 'Kernel backend (l2tp_eth) at both sites' }
        @{ Id = 'managed'; Prefix = 'vm'; SiteA = 'Managed'; SiteB = 'Managed'; Title = 'Managed backend (l2tp-forwarder, TAP) at both sites' }
    )
    $VlanCases = foreach ($r in $VlanRuns) {
        @{ Key = "$($r.Id)/vlan5"; Name = "$($r.Title): hosts 198.51.100.10 and .20 ping each other over VLAN 5 through brvlan5 (eth1.5 + l2tpeth0.5) and the pseudowire" }
        @{ Key = "$($r.Id)/vlan6"; Name = "$($r.Title): VLAN 6 (brvlan6, second session) carries its own hosts and is isolated from VLAN 5" }
    }
}

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot '../lab/Lab.psm1') -Force
    Import-Module (Join-Path $PSScriptRoot '../lab/KernelLab.psm1') -Force
    $ModulePath = Import-LabL2tpModule
    $GuestDirectory = [System.IO.Path]::GetFullPath((Join-Path $PSScriptRoot '../lab/kernel/guest'))

    # Others may rebuild out/ while this runs (build.ps1 deletes it first): wait for a complete module to copy.
    function Wait-BuiltModule {
        $bin = Join-Path (Split-Path $ModulePath) 'bin'
        $ok = Wait-LabCondition -TimeoutSeconds 120 -IntervalMilliseconds 500 {
            (Test-Path $ModulePath) -and (Test-Path (Join-Path $bin 'L2tp.dll')) -and (Test-Path (Join-Path $bin 'l2tp-forwarder.dll'))
        }
        if (-not $ok) { throw "$ModulePath is not built (run: dotnet pwsh -NoProfile -File build.ps1 -Task Build)." }
    }

    # Results from the guest's Detailed Pester output (its console log), for when the guest died or timed out before
    # Invoke-KernelBackendGuest.ps1 wrote the JSON results: one object per finished test, like those files.
    function ConvertFrom-GuestPesterOutput([string]$Text) {
        $stack = [System.Collections.Generic.List[object]]::new()
        $current = $null
        $file = ''
        foreach ($raw in $Text -split "`n") {
            $line = ($raw -replace "\x1b\[[0-9;]*m", '').TrimEnd()
            if ($line -match "^Running tests from '(.+)'$") {
                $file = [System.IO.Path]::GetFileName($Matches[1])
                $stack.Clear()
                $current = $null
                continue
            }
            if ($line -match '^(\s*)(?:Describing|Context) (.+)$') {
                $indent = $Matches[1].Length
                while ($stack.Count -and $stack[$stack.Count - 1].Indent -ge $indent) { $stack.RemoveAt($stack.Count - 1) }
                $stack.Add([pscustomobject]@{ Indent = $indent; Name = $Matches[2] })
                $current = $null
                continue
            }
            if ($line -match '^\s*\[([+\-!?])\] (.+?) (\d+(?:\.\d+)?)(m?s) \([^)]*\)$') {
                $result = switch ($Matches[1]) { '+' { 'Passed' } '-' { 'Failed' } '!' { 'Skipped' } default { 'Inconclusive' } }
                $block = @(@($file) + @($stack | ForEach-Object Name)) -join ' / '
                $current = [pscustomobject]@{
                    Key = "$block / $($Matches[2])"; Block = $block; Name = $Matches[2]; Result = $result; Passed = $result -eq 'Passed'
                    Message = "(from the guest's console output: the guest wrote no JSON result)"
                    DurationSeconds = [math]::Round([double]$Matches[3] / $(if ($Matches[4] -eq 'ms') { 1000 } else { 1 }), 2)
                }
                $current
                continue
            }
            if ($current -and -not $current.Passed -and $line.Trim() -and $line -notmatch '^\s*at ') { $current.Message += ' ' + $line.Trim() }
        }
    }
    $SavedBackend = $env:L2TP_BACKEND
    Remove-Item Env:L2TP_BACKEND -ErrorAction Ignore
}

AfterAll {
    if ($null -ne $SavedBackend) { $env:L2TP_BACKEND = $SavedBackend }
}

Describe 'Backend selection on this host (its kernel has no L2TP)' {
    BeforeAll {
        $HA = New-LabNamespace -Prefix 'kbh-a'
        $HB = New-LabNamespace -Prefix 'kbh-b'
        New-LabVethPair -Namespace $HA -Peer $HB -Address 192.0.2.1/24 -PeerAddress 192.0.2.2/24 | Out-Null
        # A kernel backend request loads l2tp_netlink where the kernel has it; only then are these tests moot.
        $null = Get-L2tpTunnel -Backend Kernel -NetworkNamespace $HA -ErrorAction SilentlyContinue
        $HostHasL2tp = Test-Path -LiteralPath '/sys/module/l2tp_netlink'
    }
    AfterAll {
        Remove-LabL2tpConfig -Namespace $HA, $HB
        Remove-LabNamespace -Name $HA, $HB
    }

    It 'without -Backend (Auto) the cmdlets use the managed forwarder here' {
        if ($HostHasL2tp) { Set-ItResult -Skipped -Because 'this host''s kernel has L2TP'; return }
        $t = New-L2tpTunnel -NetworkNamespace $HA -TunnelId 3000 -PeerTunnelId 4000 -Local 192.0.2.1 -Remote 192.0.2.2 -SourcePort 5000 -DestinationPort 6000 -ErrorAction Stop
        $t.Backend | Should -Be ([L2tp.BackendKind]::Managed)
        $s = $t | New-L2tpSession -SessionId 1000 -PeerSessionId 2000 -ErrorAction Stop
        $s.Backend | Should -Be ([L2tp.BackendKind]::Managed)
        @(Get-LabNamespaceProcess -Namespace $HA -CommandLinePattern 'l2tp-forwarder').Count | Should -Be 1
        (Get-L2tpTunnel -NetworkNamespace $HA -ErrorAction Stop).Backend | Should -Be ([L2tp.BackendKind]::Managed)
        (Get-L2tpSession -NetworkNamespace $HA -ErrorAction Stop).Backend | Should -Be ([L2tp.BackendKind]::Managed)
        Remove-L2tpTunnel -NetworkNamespace $HA -TunnelId 3000 -Force -ErrorAction Stop
        @(Get-L2tpTunnel -NetworkNamespace $HA -ErrorAction Stop).Count | Should -Be 0
    }

    It '-Backend Kernel gives L2tp.KernelL2tpUnavailable from every cmdlet and changes nothing' {
        if ($HostHasL2tp) { Set-ItResult -Skipped -Because 'this host''s kernel has L2TP'; return }
        New-L2tpTunnel -NetworkNamespace $HA -TunnelId 3001 -PeerTunnelId 4001 -Local 192.0.2.1 -Remote 192.0.2.2 -SourcePort 5001 -DestinationPort 6001 -ErrorAction Stop | Out-Null
        $before = Get-LabL2tpState -Namespace $HA
        $calls = [ordered]@{
            'New-L2tpTunnel'     = { New-L2tpTunnel -Backend Kernel -NetworkNamespace $HA -TunnelId 3002 -PeerTunnelId 4002 -Local 192.0.2.1 -Remote 192.0.2.2 -SourcePort 5002 -DestinationPort 6002 -ErrorVariable err -ErrorAction SilentlyContinue }
            'New-L2tpSession'    = { New-L2tpSession -Backend Kernel -NetworkNamespace $HA -TunnelId 3001 -SessionId 1001 -PeerSessionId 2001 -ErrorVariable err -ErrorAction SilentlyContinue }
            'Get-L2tpTunnel'     = { Get-L2tpTunnel -Backend Kernel -NetworkNamespace $HA -ErrorVariable err -ErrorAction SilentlyContinue }
            'Get-L2tpSession'    = { Get-L2tpSession -Backend Kernel -NetworkNamespace $HA -ErrorVariable err -ErrorAction SilentlyContinue }
            'Remove-L2tpSession' = { Remove-L2tpSession -Backend Kernel -NetworkNamespace $HA -TunnelId 3001 -SessionId 1001 -ErrorVariable err -ErrorAction SilentlyContinue }
            'Remove-L2tpTunnel'  = { Remove-L2tpTunnel -Backend Kernel -NetworkNamespace $HA -TunnelId 3001 -Force -ErrorVariable err -ErrorAction SilentlyContinue }
        }
        foreach ($name in $calls.Keys) {
            $err = $null
            $out = . $calls[$name]
            $out | Should -BeNullOrEmpty -Because "$name -Backend Kernel has no kernel to ask"
            Assert-LabL2tpError $err -Id 'L2tp.KernelL2tpUnavailable' -Category ResourceUnavailable -Target 'l2tp'
        }
        Assert-LabL2tpState -Namespace $HA -Expected $before -Because 'a refused -Backend Kernel must not touch the managed tunnels'
    }
}

Describe 'Kernel backend on a real Linux kernel (one QEMU guest)' -ForEach @(@{ VlanRuns = $VlanRuns; VlanCases = $VlanCases }) {
    BeforeAll {
        $GuestRun = [pscustomobject]@{
            Error = $null; ExitCode = $null; Output = ''; Results = @{}; Order = @(); Summary = $null
            BootSeconds = $null; TotalSeconds = $null; FilesKept = $null
            Vlan = [pscustomobject]@{ Results = @{}; Summary = $null }
            SiteB = [ordered]@{ Ok = $false; Error = 'the guest never reported site-A ready'; TunnelBackend = $null; SessionBackend = $null; Ping = $false }
        }
        $Ns = New-LabNamespace -Prefix 'kbe'
        $Share = Join-Path ([System.IO.Path]::GetTempPath()) ('l2tp-kbe-' + [guid]::NewGuid().ToString('N').Substring(0, 8))
        $null = New-Item -ItemType Directory -Path $Share
        $lab = $null
        $sw = [System.Diagnostics.Stopwatch]::StartNew()
        try {
            # The guest imports this copy (read over 9p), also as nobody: directories 755, files 644.
            Wait-BuiltModule
            Copy-Item -Recurse -LiteralPath (Split-Path $ModulePath) -Destination (Join-Path $Share 'L2tp')
            $VlanRuns | ForEach-Object { [pscustomobject]$_ } | ConvertTo-Json -AsArray | Set-Content -LiteralPath (Join-Path $Share 'runs.json') -Encoding utf8NoBOM
            Invoke-LabNs '' "chmod -R a+rX '$Share'" | Out-Null

            # The guest's pwsh is this host's: the same dotnet and PowerShell, through the 9p root.
            $hostPath = [Environment]::ProcessPath
            $pwshDll = if ((Split-Path -Leaf $hostPath) -eq 'dotnet') { Join-Path $PSHOME 'pwsh.dll' } else { '' }
            $guestScript = @'
ip addr add 192.0.2.2/24 dev "$GUEST_NIC" || exit 90
pw=("$L2TP_PWSH_HOST")
[ -n "$L2TP_PWSH_DLL" ] && pw+=("$L2TP_PWSH_DLL")
# The unprivileged pwsh's fixture, made with ip l2tp in the root namespace (not l2tpeth*: site-A gets l2tpeth0).
ip l2tp add tunnel tunnel_id 3901 peer_tunnel_id 4901 encap udp local 192.0.2.2 remote 192.0.2.1 udp_sport 5901 udp_dport 6901
ip l2tp add session tunnel_id 3901 session_id 1901 peer_session_id 2901 name kbt-fixture0
# Tier-0 code without PGO instrumentation: a little less work for short-lived pwsh under TCG.
export DOTNET_TieredPGO=0
# nobody must reach pwsh under /root/.nuget: /root is 0700 (the change stays in the guest's tmpfs overlay).
chmod 711 /root
mkdir -p /tmp/nobody && chown 65534:65534 /tmp/nobody
(
    HOME=/tmp/nobody setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all -- \
        "${pw[@]}" -NoProfile -NonInteractive -File "$L2TP_GUEST_DIR/Invoke-UnprivilegedCmdlets.ps1" -ModulePath "$L2TP_MODULE_PATH" \
        >/mnt/unprivileged.json 2>/mnt/unprivileged.err
    echo $? >/mnt/unprivileged.exit
) &
read -r launch _ </proc/uptime
"${pw[@]}" -NoProfile -NonInteractive -File "$L2TP_GUEST_DIR/Invoke-KernelBackendGuest.ps1" -ResultDirectory /mnt/results -LaunchUptime "$launch" \
    -VlanScript "$L2TP_GUEST_DIR/Vlan.Guest.ps1" -VlanModulePath "$L2TP_MODULE_PATH" -VlanRunsPath /mnt/runs.json -VlanResultDirectory /mnt/vlan-results
rc=$?
wait
exit $rc
'@
            $lab = Start-KernelLab -Namespace $Ns -TapAddress 192.0.2.1/24 -ShareDirectory $Share -TimeoutSeconds 900 -Script $guestScript -Environment @{
                L2TP_MODULE_PATH = '/mnt/L2tp/L2tp.psd1'
                L2TP_GUEST_DIR   = $GuestDirectory
                L2TP_PWSH_HOST   = $hostPath
                L2TP_PWSH_DLL    = $pwshDll
            }

            # Site-B, on the host, once the guest's kernel site-A is up; then ping across and let the guest ping back.
            $siteB = $GuestRun.SiteB
            try {
                $readyPath = Wait-KernelLabFile $lab 'mixed/siteA-ready' -TimeoutSeconds 480
                $siteA = Get-Content -Raw -LiteralPath $readyPath | ConvertFrom-Json
                if (-not $siteA.Ok) { throw "the guest could not make site-A: $($siteA.Error)" }
                $t = New-L2tpTunnel -Backend Managed -NetworkNamespace $Ns -TunnelId 3000 -PeerTunnelId 4000 -Local 192.0.2.1 -Remote 192.0.2.2 `
                    -SourcePort 5000 -DestinationPort 6000 -ErrorAction Stop
                $s = $t | New-L2tpSession -SessionId 1000 -PeerSessionId 2000 -Cookie a1b2c3d4 -PeerCookie 0102030405060708 -ErrorAction Stop
                $siteB.TunnelBackend = "$($t.Backend)"
                $siteB.SessionBackend = "$($s.Backend)"
                $siteB.Interface = $s.InterfaceName
                Invoke-LabNs $Ns "ip link set $($s.InterfaceName) up && ip addr add 198.51.100.1 peer 198.51.100.2 dev $($s.InterfaceName)" | Out-Null
                $siteB.Ok = $true
                $siteB.Error = ''
                $siteB.Ping = Test-LabPing -Namespace $Ns -Address 198.51.100.2 -Count 3 -TimeoutSeconds 2 -Attempts 5
                $siteB.Statistics = "$((Get-L2tpSession -NetworkNamespace $Ns -TunnelId 3000 -SessionId 1000 -ErrorAction SilentlyContinue).Statistics)"
            }
            catch {
                $siteB.Error = "$_"
            }
            finally {
                $utf8 = [System.Text.UTF8Encoding]::new($false)
                $readyB = Join-Path $Share 'mixed/siteB-ready'
                $null = New-Item -ItemType Directory -Force -Path (Split-Path $readyB)
                [System.IO.File]::WriteAllText("$readyB.tmp", ([ordered]@{ Ok = $siteB.Ok; Error = $siteB.Error } | ConvertTo-Json -Compress), $utf8)
                [System.IO.File]::Move("$readyB.tmp", $readyB, $true)
            }

            $r = Wait-KernelLab $lab
            $GuestRun.ExitCode = $r.ExitCode
            $GuestRun.Output = $r.Output
            # The guest's Detailed Pester output, kept where L2TP_TEST_GUEST_LOG says (for a closer look).
            if ($env:L2TP_TEST_GUEST_LOG) { Set-Content -LiteralPath $env:L2TP_TEST_GUEST_LOG -Value $r.Output }
            $GuestRun.BootSeconds = $r.BootSeconds
            $GuestRun.FilesKept = if ($r.FilesKept) { $r.RunDirectory } else { $null }
            if ($r.TimedOut) { $GuestRun.Error = "the guest timed out after 900 s (serial log: $($r.SerialLogPath))" }
            $resultDir = Join-Path $Share 'results'
            if (Test-Path -LiteralPath $resultDir) {
                foreach ($f in Get-ChildItem -LiteralPath $resultDir -Filter '*.json' | Sort-Object Name) {
                    $o = Get-Content -Raw -LiteralPath $f.FullName | ConvertFrom-Json
                    if ($f.Name -eq 'summary.json') { $GuestRun.Summary = $o; continue }
                    $GuestRun.Results[$o.Key] = $o
                    $GuestRun.Order += $o.Key
                }
            }
            $vlanDir = Join-Path $Share 'vlan-results'
            if (Test-Path -LiteralPath $vlanDir) {
                foreach ($f in Get-ChildItem -LiteralPath $vlanDir -Filter '*.json') {
                    $o = Get-Content -Raw -LiteralPath $f.FullName | ConvertFrom-Json
                    if ($f.Name -eq 'summary.json') { $GuestRun.Vlan.Summary = $o } else { $GuestRun.Vlan.Results[$o.Key] = $o }
                }
            }
            if (-not $GuestRun.Summary) {
                foreach ($o in ConvertFrom-GuestPesterOutput $GuestRun.Output) {
                    if ($GuestRun.Results.ContainsKey($o.Key)) { continue }
                    $GuestRun.Results[$o.Key] = $o
                    $GuestRun.Order += $o.Key
                }
            }
        }
        catch {
            $GuestRun.Error = "$_"
        }
        finally {
            if ($lab) { Stop-KernelLab $lab }
            $GuestRun.TotalSeconds = [math]::Round($sw.Elapsed.TotalSeconds, 1)
        }
        $sum = $GuestRun.Summary
        Write-Host ("Kernel lab: boot {0} s, guest pwsh start {1} s, Pester import {2} s, guest tests {3} s; whole guest run {4} s; guest Pester {5} passed, {6} failed, {7} skipped" -f
            ($(if ($null -ne $GuestRun.BootSeconds) { [math]::Round($GuestRun.BootSeconds, 1) } else { '?' })),
            $sum.PwshStartSeconds, $sum.PesterImportSeconds, $sum.PesterRunSeconds, $GuestRun.TotalSeconds, $sum.Passed, $sum.Failed, $sum.Skipped)

        $vsum = $GuestRun.Vlan.Summary
        $runText = if ($vsum -and $vsum.PSObject.Properties['Runs'] -and $vsum.Runs) {
            ($vsum.Runs.PSObject.Properties | ForEach-Object {
                    $phases = ($_.Value.Phases.PSObject.Properties | ForEach-Object { "$($_.Name) $($_.Value)" }) -join ', '
                    "$($_.Name) $($_.Value.Seconds) s ($phases)"
                }) -join '; '
        }
        else { '?' }
        Write-Host "VLAN lab in the same guest: module import $($vsum.ImportSeconds) s, runs: $runText"
        if ($vsum -and $vsum.PSObject.Properties['Runs'] -and $vsum.Runs) {
            foreach ($p in $vsum.Runs.PSObject.Properties) {
                foreach ($note in @($p.Value.Cleanup)) { Write-Host "  cleanup note ($($p.Name)): $note" }
            }
        }

        # The tail of the guest's output, for failure messages.
        function Get-GuestOutputTail([int]$Lines = 25) {
            $text = "$($GuestRun.Output)"
            if (-not $text) { return '(no guest output)' }
            (($text -split "`n") | Select-Object -Last $Lines) -join "`n"
        }

        function Assert-GuestTest([string]$Key) {
            $r = $GuestRun.Results[$Key]
            if ($null -eq $r) {
                $why = if ($GuestRun.Error) { "the kernel lab run failed: $($GuestRun.Error)" } else { "guest exit code $($GuestRun.ExitCode); $($GuestRun.Summary.Error)" }
                throw "The guest reported no result for '$Key' ($why). Guest output:`n$(Get-GuestOutputTail)"
            }
            if ($r.Result -eq 'Skipped') { Set-ItResult -Skipped -Because "in the guest: $($r.Message)"; return }
            if (-not $r.Passed) { throw "[in the guest, $($r.Result), $($r.DurationSeconds) s] $($r.Message)" }
        }
    }
    AfterAll {
        Remove-LabL2tpConfig -Namespace $Ns
        Remove-LabNamespace -Name $Ns
        if ($Share -and (Test-Path -LiteralPath $Share)) { Remove-Item -Recurse -Force -LiteralPath $Share -ErrorAction SilentlyContinue }
    }

    It 'the guest booted, ran its Pester file and reported a result for every guest test' {
        $GuestRun.Error | Should -BeNullOrEmpty -Because (Get-GuestOutputTail)
        $GuestRun.ExitCode | Should -Be 0 -Because "the guest runner should finish: $(Get-GuestOutputTail)"
        $GuestRun.Summary | Should -Not -BeNullOrEmpty
        $GuestRun.Summary.Error | Should -BeNullOrEmpty
        $expected = @($GuestKeys)
        $expected.Count | Should -BeGreaterThan 0
        @($GuestRun.Order | Where-Object { $_ -notin $expected }) | Should -BeNullOrEmpty -Because 'every guest result has an It here'
        @($expected | Where-Object { -not $GuestRun.Results.ContainsKey($_) }) | Should -BeNullOrEmpty -Because 'every guest test reports'
    } -ForEach @(@{ GuestKeys = $GuestKeys })

    It 'site-B: New-L2tpTunnel | New-L2tpSession -Backend Managed on ktap0 (192.0.2.1) in the test namespace' {
        $GuestRun.SiteB.Error | Should -BeNullOrEmpty -Because "site-B must be made once the guest's site-A is ready; guest output:`n$(Get-GuestOutputTail)"
        $GuestRun.SiteB.Ok | Should -BeTrue
        $GuestRun.SiteB.TunnelBackend | Should -Be 'Managed'
        $GuestRun.SiteB.SessionBackend | Should -Be 'Managed'
        $GuestRun.SiteB.Interface | Should -Be 'l2tpeth0'
    }

    It 'the managed site-B pings the kernel site-A (198.51.100.2) over l2tpeth0' {
        $GuestRun.SiteB.Ok | Should -BeTrue -Because "$($GuestRun.SiteB.Error)"
        $GuestRun.SiteB.Ping | Should -BeTrue -Because "site-B's session counters were: $($GuestRun.SiteB.Statistics)"
    }

    Describe 'in the guest: <Block>' -ForEach $GuestBlocks {
        It '<Name>' -ForEach $Tests {
            Assert-GuestTest $Key
        }
    }

    Describe 'in the guest: VLAN per bridge over L2TPv3 pseudowires (ip-l2tp(8) example)' {
        It 'the VLAN lab ran in the guest''s pwsh and reported every case' {
            $GuestRun.Error | Should -BeNullOrEmpty -Because (Get-GuestOutputTail)
            $GuestRun.Vlan.Summary | Should -Not -BeNullOrEmpty -Because (Get-GuestOutputTail)
            $GuestRun.Vlan.Summary.Error | Should -BeNullOrEmpty
            @($VlanCases).Count | Should -Be 4 -Because 'two runs (Kernel, Managed), two VLANs each'
            @($VlanCases.Key | Where-Object { -not $GuestRun.Vlan.Results.ContainsKey($_) }) | Should -BeNullOrEmpty -Because 'every case reports a result'
            $GuestRun.Vlan.Results.Count | Should -Be @($VlanCases).Count
        }

        It '<Name>' -ForEach $VlanCases {
            if ($GuestRun.Error) { throw "The kernel lab run failed: $($GuestRun.Error)`n$(Get-GuestOutputTail)" }
            $r = $GuestRun.Vlan.Results[$Key]
            if ($null -eq $r) { throw "The guest reported no result for '$Key' ($($GuestRun.Vlan.Summary.Error)). Guest output:`n$(Get-GuestOutputTail)" }
            $details = ($r.Details.PSObject.Properties | ForEach-Object { "  $($_.Name): $($_.Value)" }) -join "`n"
            if (@($r.Problems).Count) {
                throw ("in the guest ({0} s), what went wrong:`n{1}`nwhat was seen:`n{2}" -f $r.Seconds, (@($r.Problems) -join "`n"), $details)
            }
            $r.Passed | Should -BeTrue
        }
    }
}
