#Requires -Version 7.2
# Pester 5: ip-l2tp(8)'s "VLAN per bridge" example, built with the module's cmdlets on a real kernel (needs root and
# qemu-system-x86_64). This machine's kernel has neither 802.1Q nor L2TP, so everything runs in the real-kernel lab
# (tests/lab/KernelLab.psm1): ONE guest boot (Debian's 6.1 kernel under QEMU TCG, with 8021q, bridge, tun, veth and
# l2tp_eth) in which ONE pwsh runs tests/lab/kernel/guest/Vlan.Guest.ps1. That script builds, in the guest's network
# namespaces, two sites joined by a veth underlay, each with a host behind an eth1 trunk carrying VLAN 5 (hosts
# 198.51.100.10 and .20) and VLAN 6 (hosts .16 and .26), and per site:
#     Set-L2tpInterface -Up -Mtu Auto on the pseudowire (session 1000/2000 for VLAN 5, 1001/2001 for VLAN 6),
#     ip link add link l2tpeth0 name l2tpeth0.5 type vlan id 5 (the module has no VLAN cmdlet),
#     New-L2tpBridge brvlan5 -Up; Add-L2tpBridgePort l2tpeth0.5, eth1.5  (and brvlan6 with l2tpeth1.6, eth1.6)
# once per run below (backends of site-A and site-B; kernel-to-managed interop is KernelInterop's and KernelBackend's
# business, and a third run here would not fit the guest's time under TCG). Each run gives two guest cases, VLAN 5 (the hosts ping each
# other through brvlan5 and the pseudowire) and VLAN 6 (its own hosts ping, and it is isolated from VLAN 5), each
# written as JSON into the share (results/<Id>-vlan<V>.json) and each one It here.
# The VLAN devices are brought up with Set-L2tpInterface -Up (the man page's example leaves that out). The module's
# cleanup at the end of each run (Remove-L2tpBridge, Get-L2tpTunnel | Remove-L2tpTunnel -Force, the managed
# forwarders exiting by themselves) is reported ("cleanup note"), not asserted.
# The guest runs from a copy of out/L2tp in the share, so a rebuild during the run cannot pull the module away.

BeforeDiscovery {
    $Runs = @(
        @{ Id = 'kernel'; Prefix = 'vk'; SiteA = 'Kernel'; SiteB = 'Kernel'; Title = 'Kernel backend (l2tp_eth) at both sites' }
        @{ Id = 'managed'; Prefix = 'vm'; SiteA = 'Managed'; SiteB = 'Managed'; Title = 'Managed backend (l2tp-forwarder, TAP) at both sites' }
    )
    $Cases = foreach ($r in $Runs) {
        @{ Key = "$($r.Id)/vlan5"; Name = "$($r.Title): hosts 198.51.100.10 and .20 ping each other over VLAN 5 through brvlan5 (eth1.5 + l2tpeth0.5) and the pseudowire" }
        @{ Key = "$($r.Id)/vlan6"; Name = "$($r.Title): VLAN 6 (brvlan6, second session) carries its own hosts and is isolated from VLAN 5" }
    }
}

Describe 'VLAN per bridge over L2TPv3 pseudowires (ip-l2tp(8) example) on a real kernel, one QEMU guest' -ForEach @(@{ Runs = $Runs; Cases = $Cases }) {
    BeforeAll {
        Import-Module (Join-Path $PSScriptRoot '../lab/Lab.psm1') -Force
        Import-Module (Join-Path $PSScriptRoot '../lab/KernelLab.psm1') -Force
        $ModuleDirectory = [System.IO.Path]::GetFullPath((Join-Path $PSScriptRoot '../../out/L2tp'))
        $GuestScript = [System.IO.Path]::GetFullPath((Join-Path $PSScriptRoot '../lab/kernel/guest/Vlan.Guest.ps1'))
        $TimeoutSeconds = 330

        $GuestRun = [pscustomobject]@{
            Error = $null; ExitCode = $null; Output = ''; Results = @{}; Summary = $null; BootSeconds = $null; TotalSeconds = $null
        }
        $Ns = New-LabNamespace -Prefix 'vlan'
        $Share = Join-Path ([System.IO.Path]::GetTempPath()) ('l2tp-vlan-' + [guid]::NewGuid().ToString('N').Substring(0, 8))
        $null = New-Item -ItemType Directory -Path $Share
        $lab = $null
        $sw = [System.Diagnostics.Stopwatch]::StartNew()
        try {
            # Others may rebuild out/ at this moment (build.ps1 deletes it first): wait for a complete module, copy it.
            $bin = Join-Path $ModuleDirectory 'bin'
            $complete = { (Test-Path (Join-Path $ModuleDirectory 'L2tp.psd1')) -and (Test-Path (Join-Path $bin 'L2tp.dll')) -and (Test-Path (Join-Path $bin 'l2tp-forwarder.dll')) }
            $copied = $false
            for ($i = 0; $i -lt 5 -and -not $copied; $i++) {
                if (-not (Wait-LabCondition -TimeoutSeconds 120 -IntervalMilliseconds 500 $complete)) {
                    throw "$ModuleDirectory is not built (run: dotnet pwsh -NoProfile -File build.ps1 -Task Build)."
                }
                try {
                    Remove-Item -LiteralPath (Join-Path $Share 'L2tp') -Recurse -Force -ErrorAction Ignore
                    Copy-Item -Recurse -LiteralPath $ModuleDirectory -Destination (Join-Path $Share 'L2tp') -ErrorAction Stop
                    $copied = $true
                }
                catch { Start-Sleep -Seconds 2 }
            }
            if (-not $copied) { throw "Cannot copy $ModuleDirectory (being rebuilt?)." }
            $Runs | ForEach-Object { [pscustomobject]$_ } | ConvertTo-Json -AsArray | Set-Content -LiteralPath (Join-Path $Share 'runs.json') -Encoding utf8NoBOM

            # The guest's pwsh is this host's: the same dotnet and PowerShell, through the 9p root.
            $hostPath = [Environment]::ProcessPath
            $pwshDll = if ((Split-Path -Leaf $hostPath) -eq 'dotnet') { Join-Path $PSHOME 'pwsh.dll' } else { '' }
            $script = @'
pw=("$VLAN_PWSH_HOST")
[ -n "$VLAN_PWSH_DLL" ] && pw+=("$VLAN_PWSH_DLL")
read -r launch _ </proc/uptime
"${pw[@]}" -NoProfile -NonInteractive -File "$VLAN_GUEST_SCRIPT" -ModulePath /mnt/L2tp/L2tp.psd1 -RunsPath /mnt/runs.json -ResultDirectory /mnt/results -LaunchUptime "$launch"
'@
            $lab = Start-KernelLab -Namespace $Ns -ShareDirectory $Share -TimeoutSeconds $TimeoutSeconds -Script $script -Environment @{
                VLAN_PWSH_HOST    = $hostPath
                VLAN_PWSH_DLL     = $pwshDll
                VLAN_GUEST_SCRIPT = $GuestScript
            }
            $r = Wait-KernelLab $lab
            $GuestRun.ExitCode = $r.ExitCode
            $GuestRun.Output = $r.Output
            $GuestRun.BootSeconds = $r.BootSeconds
            if ($r.TimedOut) { $GuestRun.Error = "the guest timed out after $TimeoutSeconds s (serial log: $($r.SerialLogPath))" }
            $resultDir = Join-Path $Share 'results'
            if (Test-Path -LiteralPath $resultDir) {
                foreach ($f in Get-ChildItem -LiteralPath $resultDir -Filter '*.json') {
                    $o = Get-Content -Raw -LiteralPath $f.FullName | ConvertFrom-Json
                    if ($f.Name -eq 'summary.json') { $GuestRun.Summary = $o } else { $GuestRun.Results[$o.Key] = $o }
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
        $runText = if ($sum -and $sum.Runs) {
            ($sum.Runs.PSObject.Properties | ForEach-Object {
                    $phases = ($_.Value.Phases.PSObject.Properties | ForEach-Object { "$($_.Name) $($_.Value)" }) -join ', '
                    "$($_.Name) $($_.Value.Seconds) s ($phases)"
                }) -join '; '
        }
        else { '?' }
        Write-Host ('VLAN kernel lab: boot {0} s, guest pwsh start {1} s, module import {2} s, runs: {3}; whole guest run {4} s' -f
            ($(if ($null -ne $GuestRun.BootSeconds) { [math]::Round($GuestRun.BootSeconds, 1) } else { '?' })),
            $sum.PwshStartSeconds, $sum.ImportSeconds, $runText, $GuestRun.TotalSeconds)
        if ($sum -and $sum.Runs) {
            foreach ($p in $sum.Runs.PSObject.Properties) {
                foreach ($note in @($p.Value.Cleanup)) { Write-Host "  cleanup note ($($p.Name)): $note" }
            }
        }

        function Get-GuestOutputTail([int]$Lines = 25) {
            $text = "$($GuestRun.Output)"
            if (-not $text) { return '(no guest output)' }
            (($text -split "`n") | Select-Object -Last $Lines) -join "`n"
        }
    }

    AfterAll {
        if (Get-Variable -Name Ns -ErrorAction Ignore) {
            Remove-LabNamespace -Name $Ns
        }
        if ((Get-Variable -Name Share -ErrorAction Ignore) -and $Share -and (Test-Path -LiteralPath $Share)) {
            Remove-Item -Recurse -Force -LiteralPath $Share -ErrorAction SilentlyContinue
        }
    }

    It 'the guest booted, ran its one pwsh and reported every case' {
        $GuestRun.Error | Should -BeNullOrEmpty -Because (Get-GuestOutputTail)
        $GuestRun.ExitCode | Should -Be 0 -Because (Get-GuestOutputTail)
        $GuestRun.Summary | Should -Not -BeNullOrEmpty -Because (Get-GuestOutputTail)
        $GuestRun.Summary.Error | Should -BeNullOrEmpty
        @($Cases).Count | Should -Be 4 -Because "two runs (Kernel, Managed), two VLANs each"
        @($Cases.Key | Where-Object { -not $GuestRun.Results.ContainsKey($_) }) | Should -BeNullOrEmpty -Because 'every case reports a result'
        $GuestRun.Results.Count | Should -Be @($Cases).Count
    }

    It '<Name>' -ForEach $Cases {
        if ($GuestRun.Error) { throw "The kernel lab run failed: $($GuestRun.Error)`n$(Get-GuestOutputTail)" }
        $r = $GuestRun.Results[$Key]
        if ($null -eq $r) { throw "The guest reported no result for '$Key' (guest exit code $($GuestRun.ExitCode); $($GuestRun.Summary.Error)). Guest output:`n$(Get-GuestOutputTail)" }
        $details = ($r.Details.PSObject.Properties | ForEach-Object { "  $($_.Name): $($_.Value)" }) -join "`n"
        Write-Verbose "$Key ($($r.Seconds) s in the guest):`n$details"
        if (@($r.Problems).Count) {
            throw ("in the guest ({0} s), what went wrong:`n{1}`nwhat was seen:`n{2}" -f $r.Seconds, (@($r.Problems) -join "`n"), $details)
        }
        $r.Passed | Should -BeTrue
    }
}
