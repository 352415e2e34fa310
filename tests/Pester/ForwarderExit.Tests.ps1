#Requires -Version 7.2
# Pester 5: a forwarder left with no tunnel and no client lingers a second, then exits; callers that arrive as it
# goes (killed in its linger, a cmdlet during the linger, a cmdlet whose connection waits in the listen backlog while
# it exits) are served, by it or by a new forwarder, and nothing of the new one is lost. strace slows the exit (its
# unlink and rmdir calls) so that a cmdlet lands inside it every time. Underlay: 192.0.2.1/24 on veth0 in one namespace.

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot '../lab/Lab.psm1') -Force
    $script:Module = [System.IO.Path]::GetFullPath((Join-Path $PSScriptRoot '../../out/L2tp/L2tp.psd1'))
    Import-Module $Module -Force

    $script:Ns = New-LabNamespace -Prefix 'fexit'
    Invoke-LabNs $Ns 'ip link add veth0 type veth peer name veth1 && ip addr add 192.0.2.1/24 dev veth0 && ip link set veth0 up && ip link set veth1 up' | Out-Null
    $script:Spec = @{ TunnelId = 3000; PeerTunnelId = 4000; Local = '192.0.2.1'; Remote = '192.0.2.2'; SourcePort = 5000; DestinationPort = 6000 }
    $script:Tracers = [System.Collections.Generic.List[System.Diagnostics.Process]]::new()

    function Get-ForwarderPid {
        @(Get-LabNamespaceProcess -Namespace $Ns -CommandLinePattern 'l2tp-forwarder' | Select-Object -ExpandProperty Id)
    }
    # Tunnel 3000 and its session 1000 in one pipeline, as a user makes them; -Verbose records come along in the output,
    # and warnings go to $script:Warned.
    function New-Pseudowire([switch] $Verbose) {
        New-L2tpTunnel -netns $Ns @Spec -Verbose:$Verbose -WarningVariable script:Warned -ErrorAction Stop 4>&1 |
            ForEach-Object { if ($_ -is [L2tp.L2tpTunnel]) { $_ | New-L2tpSession -SessionId 1000 -PeerSessionId 2000 -Verbose:$Verbose -WarningVariable +script:Warned -ErrorAction Stop 4>&1 } else { $_ } }
    }
    # The forwarder's lines from its log file (it deletes the file as it exits with nothing left: read before).
    function Test-ForwarderLog([string] $Path, [string] $Pattern) {
        try { [System.IO.File]::ReadAllText($Path) -match $Pattern } catch { $false }
    }
    # Makes the forwarder's exit slow: each unlink, unlinkat and rmdir it makes waits -Milliseconds first. Its exit
    # deletes its state file, journal, log and folder: five or so such calls.
    # After each test, failed or not: no tunnel and no tracer left for the next one.
    function Reset-Lab {
        foreach ($p in $Tracers) { try { if (-not $p.HasExited) { $p.Kill() } } catch { } }
        Remove-LabL2tpConfig -Namespace $Ns
    }
    function Start-SlowExit([int] $ProcessId, [int] $Milliseconds = 200) {
        $psi = [System.Diagnostics.ProcessStartInfo]::new('strace')
        foreach ($a in '-f', '-qq', '-o', '/dev/null', '-e', 'trace=unlink,unlinkat,rmdir', '-e', "inject=unlink,unlinkat,rmdir:delay_enter=$($Milliseconds * 1000)", '-p', "$ProcessId") {
            $psi.ArgumentList.Add($a)
        }
        $psi.RedirectStandardError = $true
        $p = [System.Diagnostics.Process]::Start($psi)
        $script:Tracers.Add($p)
        # strace has attached once the process's status names a tracer.
        Wait-LabCondition { (Get-Content "/proc/$ProcessId/status" -ErrorAction Ignore) -match '^TracerPid:\s+[1-9]' } -TimeoutSeconds 10 -IntervalMilliseconds 20 |
            Should -BeTrue -Because 'strace attaches to the lingering forwarder'
        $p
    }
}

AfterAll {
    if (Get-Variable Tracers -Scope Script -ErrorAction Ignore) {
        foreach ($p in $Tracers) { try { if (-not $p.HasExited) { $p.Kill() } } catch { }; $p.Dispose() }
    }
    if (Get-Command Remove-LabL2tpConfig -ErrorAction Ignore) { Remove-LabL2tpConfig -Namespace $Ns }
    if (Get-Command Remove-LabNamespace -ErrorAction Ignore) { Remove-LabNamespace -Name $Ns }
}

Describe 'A forwarder killed with SIGKILL in its linger after its last tunnel' {
    AfterEach { Reset-Lab }

    It 'is replaced at once: New-L2tpTunnel | New-L2tpSession make both in a new forwarder, with no warning, and the state file keeps them' {
        New-Pseudowire | Out-Null
        $old = Get-ForwarderPid
        $old.Count | Should -Be 1
        Remove-L2tpTunnel -netns $Ns -TunnelId 3000 -Force -Confirm:$false -ErrorAction Stop
        & kill -KILL $old[0]
        Wait-LabCondition { -not (Test-LabProcessAlive $old[0]) } -TimeoutSeconds 5 -IntervalMilliseconds 10 | Should -BeTrue

        $s = New-Pseudowire
        $s.SessionId | Should -Be 1000
        $Warned | Should -BeNullOrEmpty
        $new = Get-ForwarderPid
        $new.Count | Should -Be 1
        $new[0] | Should -Not -Be $old[0]

        # The new forwarder's state holds what it made: killed too, the next cmdlet's forwarder brings it back.
        & kill -KILL $new[0]
        Wait-LabCondition { -not (Test-LabProcessAlive $new[0]) } -TimeoutSeconds 5 -IntervalMilliseconds 10 | Should -BeTrue
        $back = @(Get-L2tpSession -netns $Ns -ErrorAction Stop)
        $back.SessionId | Should -Be @(1000)
        $back.InterfaceName | Should -Be $s.InterfaceName
        Remove-L2tpTunnel -netns $Ns -TunnelId 3000 -Force -Confirm:$false -ErrorAction Stop
    }
}

Describe 'New-L2tpTunnel in the linger after Remove-L2tpTunnel of the last tunnel' {
    AfterEach { Reset-Lab }

    It 'is served by the lingering forwarder itself' {
        New-L2tpTunnel -netns $Ns @Spec -ErrorAction Stop | Out-Null
        $old = Get-ForwarderPid
        Remove-L2tpTunnel -netns $Ns -TunnelId 3000 -Confirm:$false -ErrorAction Stop
        Start-Sleep -Milliseconds 300
        (New-L2tpTunnel -netns $Ns @Spec -ErrorAction Stop).TunnelId | Should -Be 3000
        Get-ForwarderPid | Should -Be $old
        Remove-L2tpTunnel -netns $Ns -TunnelId 3000 -Confirm:$false -ErrorAction Stop
    }
}

Describe 'A cmdlet that connects as the forwarder exits (strace slows the exit)' {
    AfterEach { Reset-Lab }

    It 'New-L2tpTunnel | New-L2tpSession are sent again to a new forwarder, which keeps them when the old one has gone' {
        New-L2tpTunnel -netns $Ns @Spec -ErrorAction Stop | Out-Null
        $info = Get-L2tpForwarder -netns $Ns -ErrorAction Stop
        $tracer = Start-SlowExit $info.ProcessId
        Remove-L2tpTunnel -netns $Ns -TunnelId 3000 -Confirm:$false -ErrorAction Stop
        Wait-LabCondition { Test-ForwarderLog $info.LogPath 'no tunnel and no client left: exiting' } -TimeoutSeconds 5 -IntervalMilliseconds 10 |
            Should -BeTrue -Because 'the forwarder exits a second after its last tunnel'

        $out = New-Pseudowire -Verbose
        $verbose = @($out | Where-Object { $_ -is [System.Management.Automation.VerboseRecord] } | ForEach-Object Message)
        $s = @($out | Where-Object { $_ -is [L2tp.L2tpSession] })
        $s.SessionId | Should -Be @(1000)
        $Warned | Should -BeNullOrEmpty
        $new = Get-ForwarderPid | Where-Object { $_ -ne $info.ProcessId }
        @($new).Count | Should -Be 1

        # The old forwarder's clean-up (its state file and folder) must not take the new forwarder's.
        Wait-LabCondition { -not (Test-LabProcessAlive $info.ProcessId) } -TimeoutSeconds 15 -IntervalMilliseconds 20 | Should -BeTrue
        $tracer.WaitForExit(5000) | Should -BeTrue
        (Get-L2tpForwarder -netns $Ns -ErrorAction Stop).Tunnels | Should -Be 1
        Test-Path $info.StatePath | Should -BeTrue -Because 'the new forwarder recorded its tunnel in the same folder'
        & kill -KILL @($new)[0]
        Wait-LabCondition { -not (Test-LabProcessAlive @($new)[0]) } -TimeoutSeconds 5 -IntervalMilliseconds 10 | Should -BeTrue
        (Get-L2tpSession -netns $Ns -ErrorAction Stop).SessionId | Should -Be 1000
        Remove-L2tpTunnel -netns $Ns -TunnelId 3000 -Force -Confirm:$false -ErrorAction Stop
        # Inside the exit, the connection waited in the backlog of the old forwarder, which closed it unread.
        ($verbose -match 'closed before the request was read; sending it again').Count | Should -Be 1 -Because ($verbose -join "`n")
    }
}

Describe 'Output captured by $(...) and piped into ConvertTo-Json while the forwarder exits' {
    AfterEach { Reset-Lab }

    It 'comes back at once as the JSON alone on the terminal: no error, nothing of a forwarder' {
        # In pwsh (on a pseudo-terminal, through script): the last tunnel goes, strace slows the forwarder's exit, and
        # `$x = $(New-L2tpTunnel | New-L2tpSession)` lands in it; bash captures pwsh's output with $(...) and prints it.
        $cmd = @"
Import-Module '$Module'
`$spec = @{ TunnelId = 3000; PeerTunnelId = 4000; Local = '192.0.2.1'; Remote = '192.0.2.2'; SourcePort = 5000; DestinationPort = 6000 }
New-L2tpTunnel @spec -ErrorAction Stop | Out-Null
`$f = Get-L2tpForwarder -ErrorAction Stop
`$psi = [System.Diagnostics.ProcessStartInfo]::new('strace')
foreach (`$a in '-f', '-qq', '-o', '/dev/null', '-e', 'trace=unlink,unlinkat,rmdir', '-e', 'inject=unlink,unlinkat,rmdir:delay_enter=200000', '-p', "`$(`$f.ProcessId)") { `$psi.ArgumentList.Add(`$a) }
`$psi.RedirectStandardOutput = `$true; `$psi.RedirectStandardError = `$true
`$tracer = [System.Diagnostics.Process]::Start(`$psi)
while (-not ((Get-Content "/proc/`$(`$f.ProcessId)/status") -match '^TracerPid:\s+[1-9]')) { Start-Sleep -Milliseconds 20 }
Remove-L2tpTunnel -TunnelId 3000 -Confirm:`$false -ErrorAction Stop
while (-not ((Get-Content -Raw `$f.LogPath -ErrorAction Ignore) -match 'exiting')) { Start-Sleep -Milliseconds 10 }
`$x = `$(New-L2tpTunnel @spec | New-L2tpSession -SessionId 1000 -PeerSessionId 2000)
`$x | Select-Object TunnelId, SessionId, InterfaceName | ConvertTo-Json -Compress
Remove-L2tpTunnel -TunnelId 3000 -Force -Confirm:`$false
"@
        $bash = 'x=$(ip netns exec "$NS" dotnet pwsh -NoProfile -c "$CMD"); rc=$?; printf "%s\n" "$x"; exit $rc'
        $sw = [System.Diagnostics.Stopwatch]::StartNew()
        $r = Invoke-LabCommand -FilePath script -ArgumentList @('-qec', 'timeout 60 bash -c "$BASHCMD"', '/dev/null') `
            -Environment @{ NS = $Ns; CMD = $cmd; BASHCMD = $bash } -TimeoutSeconds 90
        $seconds = $sw.Elapsed.TotalSeconds
        # What reached the terminal, without the terminal modes pwsh sets as it starts.
        $lines = @(($r.StdOut -replace '\x1b(\[[0-9;?]*[A-Za-z]|[=>])', '' -replace "`r", '') -split "`n" | Where-Object { $_.Trim() })
        $r.ExitCode | Should -Be 0 -Because ($lines -join "`n")
        $seconds | Should -BeLessThan 45 -Because 'neither the old forwarder nor the new one holds the $(...) pipe'
        $lines.Count | Should -Be 1 -Because ($lines -join "`n")
        $json = $lines[0] | ConvertFrom-Json
        $json.TunnelId | Should -Be 3000
        $json.SessionId | Should -Be 1000
        $json.InterfaceName | Should -Match '^l2tpeth\d+$'
    }
}
