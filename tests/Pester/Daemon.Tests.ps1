#Requires -Version 7.2
# Pester 5: the forwarder a cmdlet starts holds nothing of its caller. A pipe it kept open would make
# `x=$(pwsh -c 'New-L2tpTunnel ...')`, `ssh host pwsh -c ...` or a CI step wait for an EOF that never comes; a
# terminal it kept would tie it to the caller's session. Each case runs pwsh in a fresh namespace, so that the cmdlet
# really starts the forwarder, and inspects the forwarder's /proc/PID/fd.

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot '../lab/Lab.psm1') -Force
    $script:Module = [System.IO.Path]::GetFullPath((Join-Path $PSScriptRoot '../../out/L2tp/L2tp.psd1'))
    # Forwarders of this file keep their state and logs here, not in /run/l2tp; the children inherit the variable.
    $script:OldStateRoot = $env:L2TP_STATE_ROOT
    $script:StateRoot = Join-Path ([System.IO.Path]::GetTempPath()) "l2tp-daemon-$([guid]::NewGuid().ToString('N').Substring(0, 8))"
    New-Item -ItemType Directory $StateRoot | Out-Null
    $env:L2TP_STATE_ROOT = $StateRoot
    $script:Namespaces = [System.Collections.Generic.List[string]]::new()
    $script:TimeoutSeconds = 60

    # The cmdlet run by pwsh -c: it prints the pipe its stdout is, so the test can look for that pipe in the forwarder.
    $script:PwshCommand = "Import-Module '$Module'; 'CALLER-STDOUT=' + [System.IO.FileInfo]::new(`"/proc/`$PID/fd/1`").LinkTarget; " +
        'New-L2tpTunnel -TunnelId 3000 -PeerTunnelId 4000 -Local 192.0.2.1 -Remote 192.0.2.2 -SourcePort 5000 -DestinationPort 6000 -Backend Managed | Out-String'

    function New-TunnelNamespace {
        $ns = New-LabNamespace -Prefix 'dmn'
        $script:Namespaces.Add($ns)
        Invoke-LabNs $ns 'ip link add veth0 type veth peer name veth1 && ip addr add 192.0.2.1/24 dev veth0 && ip link set veth0 up && ip link set veth1 up' | Out-Null
        $ns
    }

    # Runs `x=$(ip netns exec NS dotnet pwsh -NoProfile -c CMD)` in bash under `timeout`, behind a wrapper (env,
    # setsid). pwsh's stdin is /dev/null and its stderr a file: only the $(...) pipe is offered to the forwarder to
    # keep. With -Pty the whole runs under `script`, with pwsh's stdin and stderr on the pseudo-terminal.
    function Invoke-CapturedCmdlet([string] $Namespace, [string[]] $Wrapper = @('env'), [switch] $Pty) {
        $err = Join-Path $StateRoot "stderr-$Namespace.txt"
        $redirect = if ($Pty) { '' } else { ' 2>"$ERRFILE" </dev/null' }
        $bash = 'x=$(ip netns exec "$NS" dotnet pwsh -NoProfile -c "$CMD"' + $redirect + '); rc=$?; printf "%s\n" "$x"; exit $rc'
        $argv = if ($Pty) { @('script', '-qec', "timeout $TimeoutSeconds bash -c `"`$BASHCMD`"", '/dev/null') }
        else { @($Wrapper) + @('timeout', "$TimeoutSeconds", 'bash', '-c', $bash) }
        $sw = [System.Diagnostics.Stopwatch]::StartNew()
        $r = Invoke-LabCommand -FilePath $argv[0] -ArgumentList @($argv | Select-Object -Skip 1) `
            -Environment @{ NS = $Namespace; CMD = $PwshCommand; ERRFILE = $err; BASHCMD = $bash } -TimeoutSeconds ($TimeoutSeconds + 30)
        [pscustomobject]@{
            ExitCode = $r.ExitCode
            Seconds  = $sw.Elapsed.TotalSeconds
            Output   = $r.StdOut
            StdErr   = (Get-Content -Raw $err -ErrorAction Ignore)
            Pipe     = if ($r.StdOut -match 'CALLER-STDOUT=(pipe:\[\d+\])') { $Matches[1] } else { $null }
        }
    }

    function Get-ForwarderPid([string] $Namespace) {
        @(Get-LabNamespaceProcess -Namespace $Namespace -CommandLinePattern 'l2tp-forwarder') | Select-Object -First 1 -ExpandProperty Id
    }

    function Get-FdTarget([int] $ProcessId) {
        foreach ($f in Get-ChildItem "/proc/$ProcessId/fd") {
            [pscustomobject]@{ Fd = [int]$f.Name; Target = $f.LinkTarget }
        }
    }

    # Fields 6 and 7 of /proc/PID/stat: the session id and the controlling terminal (0: none).
    function Get-SessionAndTty([int] $ProcessId) {
        $stat = [System.IO.File]::ReadAllText("/proc/$ProcessId/stat")
        $fields = $stat.Substring($stat.LastIndexOf(')') + 2).Split(' ')
        [pscustomobject]@{ Session = [int]$fields[3]; Tty = [int]$fields[4] }
    }
}

AfterAll {
    if (Get-Command Remove-LabNamespace -ErrorAction Ignore) { Remove-LabNamespace -Name $Namespaces }
    $env:L2TP_STATE_ROOT = $OldStateRoot
    Remove-Item -Recurse -Force $StateRoot -ErrorAction Ignore
}

Describe 'A cmdlet that starts the forwarder, with its output captured by $(...)' {
    BeforeAll {
        $script:ns = New-TunnelNamespace
        $script:run = Invoke-CapturedCmdlet $ns
        $script:fwd = Get-ForwarderPid $ns
    }

    It 'returns before the timeout, with the tunnel in its output' {
        $run.ExitCode | Should -Be 0 -Because "bash must not wait for the forwarder (took $([int]$run.Seconds) s; stderr: $($run.StdErr))"
        $run.Seconds | Should -BeLessThan $TimeoutSeconds
        $run.Output | Should -Match '\b3000\b'
    }

    It 'leaves a forwarder running that holds none of the caller''s pipe' {
        $fwd | Should -Not -BeNullOrEmpty
        $run.Pipe | Should -Match '^pipe:' -Because 'the caller printed the pipe its stdout was'
        (Get-FdTarget $fwd).Target | Should -Not -Contain $run.Pipe
    }

    It 'has stdin from /dev/null and stdout and stderr on its log' {
        $fds = Get-FdTarget $fwd
        ($fds | Where-Object Fd -EQ 0).Target | Should -Be '/dev/null'
        ($fds | Where-Object Fd -EQ 1).Target | Should -BeLike "$StateRoot/*/forwarder.log"
        ($fds | Where-Object Fd -EQ 2).Target | Should -BeLike "$StateRoot/*/forwarder.log"
    }

    It 'keeps no fd above 2 that it did not open itself (no write end of a pipe whose read end it lacks)' {
        $pipes = @(Get-FdTarget $fwd | Where-Object Target -Like 'pipe:*' | Group-Object Target)
        # The runtime's own pipes are held at both ends; an inherited one appears once.
        @($pipes | Where-Object Count -LT 2).Name | Should -BeNullOrEmpty
    }
}

Describe 'A cmdlet that starts the forwarder from a new session without a terminal (setsid)' {
    It 'returns before the timeout and the forwarder holds no pipe of the caller and no terminal' {
        $ns = New-TunnelNamespace
        $run = Invoke-CapturedCmdlet $ns @('setsid', '--wait')
        $run.ExitCode | Should -Be 0 -Because "took $([int]$run.Seconds) s; stderr: $($run.StdErr)"
        $run.Output | Should -Match '\b3000\b'
        $fwd = Get-ForwarderPid $ns
        $targets = (Get-FdTarget $fwd).Target
        $targets | Should -Not -Contain $run.Pipe
        $targets | Should -Not -Match '^/dev/(pts/|tty)'
    }
}

Describe 'A cmdlet that starts the forwarder from a terminal (script gives it a pty)' {
    It 'leaves a forwarder in its own session with no controlling terminal and no terminal fd' {
        $ns = New-TunnelNamespace
        $run = Invoke-CapturedCmdlet $ns -Pty
        $run.ExitCode | Should -Be 0 -Because "took $([int]$run.Seconds) s; stderr: $($run.StdErr)"
        $fwd = Get-ForwarderPid $ns
        $fwd | Should -Not -BeNullOrEmpty
        (Get-FdTarget $fwd).Target | Should -Not -Match '^/dev/(pts/|tty)'
        $st = Get-SessionAndTty $fwd
        $st.Tty | Should -Be 0
        $st.Session | Should -Be $fwd
    }
}
