#Requires -Version 7.2
# Pester 5: the forwarder's control socket cannot be wedged. Hostile local clients (hundreds of idle connections, a
# client that floods requests and never reads, malformed and oversize requests) never delay root by more than a
# second, never crash the forwarder; a cmdlet waiting on a wedged forwarder stops at once on Ctrl+C; -Verbose tells
# which backend was chosen and each request sent.

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot '../lab/Lab.psm1') -Force
    Import-Module (Join-Path $PSScriptRoot '../lab/Caller.psm1') -Force
    $ModulePath = [System.IO.Path]::GetFullPath((Join-Path $PSScriptRoot '../../out/L2tp/L2tp.psd1'))
    Import-Module $ModulePath -Force
    $Attack = [System.IO.Path]::GetFullPath((Join-Path $PSScriptRoot '../lab/control_attack.py'))

    $A, $B = New-LabSitePair -Prefix 'ctl-A', 'ctl-B'
    New-L2tpTunnel -netns $A -Backend Managed -TunnelId 3000 -PeerTunnelId 4000 -Local 192.0.2.1 -Remote 192.0.2.2 -SourcePort 5000 -DestinationPort 6000 -ErrorAction Stop |
        New-L2tpSession -SessionId 1000 -PeerSessionId 2000 -ErrorAction Stop | Out-Null

    function Get-ForwarderPid([string] $Namespace) {
        @(Get-LabNamespaceProcess -Namespace $Namespace -CommandLinePattern 'l2tp-forwarder') | Select-Object -ExpandProperty Id
    }
    # Runs control_attack.py inside the namespace, as uid 65534 (-Nobody) or root.
    function Start-Attack([string[]] $ArgumentList, [switch] $Nobody, [string] $Namespace = $A) {
        Start-LabCallerProcess -Namespace $Namespace -Nobody:$Nobody -FilePath /usr/bin/python3 -ArgumentList (@($Attack) + $ArgumentList)
    }
    # Runs control_attack.py as root to its end (at most a minute) and returns the JSON line it printed.
    function Invoke-Attack([string[]] $ArgumentList) {
        $p = Start-Attack -ArgumentList $ArgumentList
        $line = $p.StandardOutput.ReadLine()
        $p.WaitForExit(60000) | Should -BeTrue
        $line | ConvertFrom-Json
    }
    function Measure-Get {
        $sw = [System.Diagnostics.Stopwatch]::StartNew()
        $t = @(Get-L2tpTunnel -netns $A -ErrorAction Stop)
        $sw.Stop()
        $t.Count | Should -Be 1
        $sw.Elapsed.TotalSeconds
    }
    Measure-Get | Out-Null   # warm: the first call pays for JIT and the module's own start
}

AfterAll {
    if (Get-Command Remove-LabL2tpConfig -ErrorAction Ignore) { Remove-LabL2tpConfig -Namespace $A, $B }
    if (Get-Command Remove-LabNamespace -ErrorAction Ignore) { Remove-LabNamespace -Name $A, $B }
}

Describe 'Under attack from local clients' {
    BeforeAll {
        $script:Forwarder = Get-ForwarderPid $A
        $script:Attackers = @(
            Start-Attack -Nobody -ArgumentList 'idle', '25', '300'
            Start-Attack -Nobody -ArgumentList 'flood', '25'
            Start-Attack -ArgumentList 'flood', '25'          # a broken privileged client: sends, never reads
        )
        Start-Sleep -Seconds 3   # let the idle connections pile up and the floods fill their buffers
        $script:Times = @(1..8 | ForEach-Object { Measure-Get; Start-Sleep -Milliseconds 300 })
    }
    AfterAll {
        foreach ($p in $Attackers) { try { $p.Kill($true) } catch { }; $p.Dispose() }
    }

    It 'root''s Get-L2tpTunnel answers within a second every time (slowest of 8: <Slowest>)' -TestCases @(@{ Slowest = 'measured' }) {
        $slowest = ($Times | Measure-Object -Maximum).Maximum
        Write-Host "      Get-L2tpTunnel under attack: $(($Times | ForEach-Object { '{0:0.000}' -f $_ }) -join ', ') s"
        $slowest | Should -BeLessThan 1.0
    }

    It 'holds no more connections of uid 65534 than its per-uid bound' {
        $held = @((Invoke-LabNs $A 'ss -x -p state connected' -IgnoreExitCode) -split "`n" | Where-Object { $_ -match 'l2tp-forwarder' -and $_ -match "pid=$Forwarder," }).Count
        Write-Host "      connections the forwarder holds: $held"
        # Its accepted sockets: at most 8 of the unprivileged user's, the privileged flooder's, and the listener.
        $held | Should -BeLessOrEqual 10
        $held | Should -BeGreaterOrEqual 2 -Because 'the listener and the privileged flooder are held (the count is real)'

    }

    It 'is the same forwarder afterwards (nothing crashed it)' {
        Get-ForwarderPid $A | Should -Be $Forwarder
    }
}

Describe 'Malformed requests' {
    It 'each gets an error reply or a closed connection, never a hang, and the forwarder serves on' {
        $before = Get-ForwarderPid $A
        $r = Invoke-Attack 'malformed', '9'
        $r.hung | Should -Be 0
        ($r.replies + $r.closed) | Should -Be $r.cases
        Get-ForwarderPid $A | Should -Be $before
        Measure-Get | Should -BeLessThan 1.0
    }

    It 'answers hostile DIAGNOSE requests with EINVAL or ENODEV, a 64 KiB burst of them in bounded replies, and refuses uid 65534' {
        $before = Get-ForwarderPid $A
        $r = Invoke-Attack 'diagnose', '3000'
        $line = $r | ConvertTo-Json -Compress
        ($r.missing, $r.short, $r.unknown, $r.max) | Should -Be 22, 22, 19, 19 -Because $line
        # The last of two tunnel ids counts, as in nla_parse; an unknown attribute is ignored.
        ($r.duplicate, $r.oversize) | Should -Be 0, 0 -Because $line
        $r.burst_acks | Should -Be 2300 -Because $line
        # Each reply is a bounded table (8 entries at most) and its ack: well under 1 KiB per request.
        $r.burst_bytes | Should -BeLessThan (2300 * 1024)
        $n = Start-Attack -Nobody -ArgumentList 'diagnose', '3000'
        $nl = $n.StandardOutput.ReadLine()
        $n.WaitForExit(60000) | Should -BeTrue
        ($nl | ConvertFrom-Json).missing | Should -Be 1 -Because "an unprivileged caller gets EPERM ($nl)"
        ($nl | ConvertFrom-Json).burst_acks | Should -Be 0 -Because "an unprivileged caller's requests go unanswered but for the refusal ($nl)"
        Get-ForwarderPid $A | Should -Be $before
    }

    It 'drops an unprivileged client that sends nothing within its grace time' {
        $p = Start-Attack -Nobody -ArgumentList 'linger'
        $line = $p.StandardOutput.ReadLine()
        $p.WaitForExit(60000) | Should -BeTrue
        ($line | ConvertFrom-Json).seconds | Should -BeLessThan 3.5
    }
}

Describe 'A cmdlet waiting on a wedged forwarder' {
    BeforeAll {
        $script:Wedged = Get-ForwarderPid $A
        & kill -STOP $Wedged
    }
    AfterAll {
        & kill -CONT $Wedged
    }

    It 'stops within a second on Ctrl+C (the pipeline''s Stop), as PipelineStopped' {
        $ps = [powershell]::Create()
        try {
            $null = $ps.AddScript("Import-Module '$ModulePath'; Get-L2tpTunnel -NetworkNamespace '$A'")
            $h = $ps.BeginInvoke()
            Start-Sleep -Seconds 2
            $h.IsCompleted | Should -BeFalse -Because 'a stopped forwarder cannot answer'
            $sw = [System.Diagnostics.Stopwatch]::StartNew()
            $ps.Stop()
            $sw.Stop()
            $sw.Elapsed.TotalSeconds | Should -BeLessThan 1.0
            $ps.InvocationStateInfo.State | Should -Be 'Stopped'
        }
        finally {
            $ps.Dispose()
        }
    }
}

Describe 'A forwarder that breaks the protocol' {
    BeforeAll {
        # Root serves @l2tp-forwarder in a namespace of its own with replies that lack every attribute.
        $script:N = New-LabNamespace -Prefix 'ctl-N'
        $script:Broken = Start-Attack -Namespace $N -ArgumentList 'broken', '60'
        $Broken.StandardOutput.ReadLine() | Should -Be 'listening'
    }
    AfterAll {
        if ($Broken) { try { $Broken.Kill($true) } catch { }; $Broken.Dispose() }
        Remove-LabNamespace -Name $N
    }

    It 'gives L2tp.MalformedReply naming the backend, not a raw exception' {
        $err = $null
        Get-L2tpTunnel -netns $N -Backend Managed -ErrorVariable err -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
        $err.Count | Should -Be 1
        $err[0].FullyQualifiedErrorId | Should -Match '^L2tp\.MalformedReply(,|$)'
        $err[0].CategoryInfo.Category | Should -Be 'ConnectionError'
        "$($err[0].TargetObject)" | Should -Be 'Managed'
        $err[0].Exception.Message | Should -Match 'attribute 9 missing'
    }
}

Describe '-Verbose' {
    It 'names the backend and why, the forwarder it reached, and each request' {
        $v = @(Get-L2tpSession -netns $A -Backend Managed -Verbose 4>&1 | Where-Object { $_ -is [System.Management.Automation.VerboseRecord] } | ForEach-Object Message)
        $v | Should -Contain 'Backend: Managed (-Backend Managed)'
        ($v -match '^Managed backend: connected to l2tp-forwarder pid \d+ \(uid 0\)$').Count | Should -Be 1
        ($v -match "^Managed backend in network namespace '$A': SESSION_GET \(dump\)$").Count | Should -Be 1
    }

    It 'looks up the l2tp family once per forwarder: on the first call to a forwarder, not on the next, and again for a new forwarder' {
        function Get-Lookups { @(Get-L2tpTunnel -netns $A -Backend Managed -Verbose 4>&1 | Where-Object { $_ -is [System.Management.Automation.VerboseRecord] } | ForEach-Object Message | Where-Object { $_ -match 'CTRL_GETFAMILY l2tp \(' }).Count }
        Get-Lookups | Out-Null
        Get-Lookups | Should -Be 0 -Because 'this process already has the family id of this forwarder'
        # A new forwarder (it restarts from its state file) may number its families anew: asked again, once.
        Stop-L2tpForwarder -netns $A -Confirm:$false -ErrorAction Stop
        Get-Lookups | Should -Be 1
        Get-Lookups | Should -Be 0
    }

    It 'looks up the forwarder''s own family once per forwarder too: Test-L2tpSession after Test-L2tpSession asks no more' {
        function Get-OwnLookups { @(Test-L2tpSession -netns $A -TunnelId 3000 -SessionId 1000 -Seconds 0.1 -ErrorAction Stop -Verbose 4>&1 | Where-Object { $_ -is [System.Management.Automation.VerboseRecord] } | ForEach-Object Message | Where-Object { $_ -match 'CTRL_GETFAMILY l2tp-forwarder\b' }).Count }
        # A new forwarder, so that the first call below is the first to reach it from this process.
        Stop-L2tpForwarder -netns $A -Confirm:$false -ErrorAction Stop
        Get-OwnLookups | Should -Be 1 -Because 'the first call to a forwarder asks for its family (its set-aside entries, then DIAGNOSE)'
        Get-OwnLookups | Should -Be 0 -Because 'DIAGNOSE goes under the id this process already has for this forwarder'
        Get-OwnLookups | Should -Be 0
    }

    It 'a cached family id the forwarder refuses is looked up again and the request sent again, for both families' {
        $families = [L2tp.Commands.NewL2tpSessionCommand].Assembly.GetType('L2tp.Backends.ForwarderLink', $true).GetField('Families', [System.Reflection.BindingFlags]'NonPublic,Static').GetValue($null)
        $null = Test-L2tpSession -netns $A -TunnelId 3000 -SessionId 1000 -Seconds 0.1 -ErrorAction Stop
        $fwd = (Get-L2tpForwarder -netns $A -ErrorAction Stop).ProcessId
        $keys = @($families.Keys | Where-Object { $_.Item1.Item1 -eq $fwd })
        @($keys | ForEach-Object Item2) | Should -Contain 'l2tp-forwarder'
        @($keys | ForEach-Object Item2) | Should -Contain 'l2tp'
        # An id that names no family of the forwarder (it answers EOPNOTSUPP), as a cache gone wrong would hold.
        foreach ($k in $keys) { $families[$k] = [uint16]0xFFF0 }
        $out = Test-L2tpSession -netns $A -TunnelId 3000 -SessionId 1000 -Seconds 0.1 -ErrorAction Stop -Verbose 4>&1
        $verbose = ($out | Where-Object { $_ -is [System.Management.Automation.VerboseRecord] }).Message -join "`n"
        $verbose | Should -Match 'the l2tp family is now id \d+ \(was 65520\)'
        $verbose | Should -Match 'the l2tp-forwarder family is now id \d+ \(was 65520\)'
        ($out | Where-Object { $_ -is [L2tp.L2tpDiagnosis] }).Count | Should -Be 1
        @($keys | ForEach-Object { $families[$_] }) | Should -Not -Contain ([uint16]0xFFF0)
    }
}
