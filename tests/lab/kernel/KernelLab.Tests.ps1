#Requires -Version 7.2
# Pester 5 self-test of KernelLab.psm1 (needs root and qemu-system-x86_64; not part of build.ps1's default run:
#   dotnet pwsh -NoProfile -c 'Import-Module ~/.nuget/packages/pester/5.7.1/tools/Pester.psd1; Invoke-Pester tests/lab/kernel'
# ). Also the pattern for tests that want a real Linux L2TP peer: one namespace, the guest's NIC facing ktap0.
#   host (namespace $ns):  ktap0 192.0.2.1/24
#   guest (Debian kernel): $GUEST_NIC 192.0.2.2/24, ip l2tp tunnel 4000 -> 3000 udp 6000 -> 5000, session 2000 -> 1000

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot '../KernelLab.psm1') -Force
    $Image = Initialize-KernelLab
    $ns = 'kernellab-' + [guid]::NewGuid().ToString('N').Substring(0, 8)
    ip netns add $ns
    ip -n $ns link set lo up
    $GuestPseudowire = Get-Content -Raw (Join-Path $PSScriptRoot 'guest/pseudowire.sh')
}

AfterAll {
    foreach ($p in @(ip netns pids $ns 2>$null)) { if ($p) { kill -9 $p 2>$null } }
    ip netns del $ns 2>$null
}

Describe 'Kernel lab' {
    It 'builds or reuses the image' {
        $Image.KernelVersion | Should -Match '^\d+\.\d+'
        $Image.KernelPath | Should -Exist
        $Image.InitrdPath | Should -Exist
        $Image.Modules | Should -Contain 'l2tp_eth'
    }

    It 'runs ip l2tp on the guest kernel and reaches the host over the TAP' {
        $r = Invoke-KernelLab -Namespace $ns -Image $Image -TapAddress 192.0.2.1/24 -TimeoutSeconds 120 -Script ($GuestPseudowire + "`n" + @'
ip l2tp show tunnel
ip l2tp show session
ping -c 1 -W 5 192.0.2.1
'@)
        $r.ExitCode | Should -Be 0 -Because $r.Output
        $r.Output | Should -Match 'Tunnel 4000, encap UDP'
        $r.Output | Should -Match 'Session 2000 in tunnel 4000'
        $r.Output | Should -Match 'interface name: l2tpeth0'
        $r.TimedOut | Should -BeFalse
    }

    It 'lets the host act while the guest waits (Start / Wait-KernelLabFile / Wait)' {
        $lab = Start-KernelLab -Namespace $ns -Image $Image -TapAddress 192.0.2.1/24 -TimeoutSeconds 120 -Script @'
ip addr add 192.0.2.2/24 dev "$GUEST_NIC"
touch /mnt/ready
kernel_lab_wait_file /mnt/go-on 60 || exit 7
cat /mnt/go-on
'@
        try {
            Wait-KernelLabFile $lab ready -TimeoutSeconds 60 | Should -Exist
            ip netns exec $ns ping -c 1 -W 5 192.0.2.2 | Out-Null
            $LASTEXITCODE | Should -Be 0
            Set-Content -LiteralPath (Join-Path $lab.ShareDirectory 'go-on') -Value 'from the host'
            $r = Wait-KernelLab $lab
            $r.ExitCode | Should -Be 0 -Because $r.Output
            $r.Output | Should -Match 'from the host'
        }
        finally {
            Stop-KernelLab $lab
        }
    }

    It 'starts QEMU once more, saying why, when it dies before writing anything to the serial console' {
        # Stands for the CI flake (QEMU gone after 7.5 s, empty serial log): QEMU is killed as soon as it has made
        # the TAP, long before init.sh's first line.
        $lab = Start-KernelLab -Namespace $ns -Image $Image -TimeoutSeconds 120 -Script 'echo second-try-ran'
        try {
            $first = $lab.RunDirectory
            [long](Get-Item -LiteralPath $lab.SerialLogPath -ErrorAction Ignore).Length | Should -Be 0
            $lab.Process.Kill($true)
            $r = Wait-KernelLab $lab -WarningVariable warned -WarningAction SilentlyContinue
            $r.Retried | Should -BeTrue
            $r.RetryReason | Should -Match 'nothing on the serial console'
            ($warned -join "`n") | Should -Match 'starting it once more'
            $r.RunDirectory | Should -Not -Be $first
            $r.ExitCode | Should -Be 0 -Because $r.Output
            $r.Output | Should -Match 'second-try-ran'
        }
        finally {
            Stop-KernelLab $lab
            Remove-Item -LiteralPath $first -Recurse -Force -ErrorAction SilentlyContinue
        }
    }

    It 'does not start QEMU again when it dies after the guest has written to the serial console' {
        $lab = Start-KernelLab -Namespace $ns -Image $Image -TimeoutSeconds 120 -Script 'sleep 600'
        try {
            $deadline = [DateTime]::UtcNow.AddSeconds(60)
            while (-not ((Get-Content -Raw -LiteralPath $lab.SerialLogPath -ErrorAction Ignore) -match 'kernel-lab:') -and [DateTime]::UtcNow -lt $deadline) {
                Start-Sleep -Milliseconds 100
            }
            $lab.Process.Kill($true)
            $r = Wait-KernelLab $lab -WarningAction SilentlyContinue
            $r.Retried | Should -BeFalse
            $r.ExitCode | Should -BeNullOrEmpty
        }
        finally {
            Stop-KernelLab $lab
            if ($r) { Remove-Item -LiteralPath $r.RunDirectory -Recurse -Force -ErrorAction SilentlyContinue }
        }
    }

    It 'kills QEMU at the timeout' {
        $r = Invoke-KernelLab -Namespace $ns -Image $Image -TimeoutSeconds 15 -Script 'echo started; sleep 600' -WarningAction SilentlyContinue
        $r.TimedOut | Should -BeTrue
        $r.ExitCode | Should -BeNullOrEmpty
        $r.Output | Should -Match 'started'
        @(ip netns pids $ns) | Where-Object { $_ } | Should -BeNullOrEmpty
        Remove-Item -LiteralPath $r.RunDirectory -Recurse -Force -ErrorAction SilentlyContinue
    }

    It 'is the far end of this module''s managed pseudowire' {
        $module = [System.IO.Path]::GetFullPath((Join-Path $PSScriptRoot '../../../out/L2tp/L2tp.psd1'))
        if (-not (Test-Path $module)) { Set-ItResult -Skipped -Because "$module is not built"; return }
        Import-Module $module -Force
        $lab = Start-KernelLab -Namespace $ns -Image $Image -TapAddress 192.0.2.1/24 -TimeoutSeconds 180 -Script ($GuestPseudowire + "`n" + @'
touch /mnt/ready
kernel_lab_wait_file /mnt/go-on 120
ping -c 3 -W 5 198.51.100.1
'@)
        try {
            Wait-KernelLabFile $lab ready -TimeoutSeconds 60 | Out-Null
            New-L2tpTunnel -NetworkNamespace $ns -TunnelId 3000 -PeerTunnelId 4000 -Local 192.0.2.1 -Remote 192.0.2.2 -SourcePort 5000 -DestinationPort 6000 |
                New-L2tpSession -SessionId 1000 -PeerSessionId 2000 | Out-Null
            ip -n $ns link set l2tpeth0 up
            ip -n $ns addr add 198.51.100.1 peer 198.51.100.2 dev l2tpeth0
            ip netns exec $ns ping -c 3 -W 5 198.51.100.2 | Out-Null
            $LASTEXITCODE | Should -Be 0
            New-Item -ItemType File -Path (Join-Path $lab.ShareDirectory 'go-on') | Out-Null
            $r = Wait-KernelLab $lab
            $r.ExitCode | Should -Be 0 -Because $r.Output
        }
        finally {
            Stop-KernelLab $lab
            Get-L2tpTunnel -NetworkNamespace $ns -ErrorAction SilentlyContinue | Remove-L2tpTunnel -Force -ErrorAction SilentlyContinue
        }
    }
}
