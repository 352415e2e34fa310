#Requires -Version 7.2
# Pester 5: operating the managed forwarder. Get-L2tpForwarder reports the running one (and never starts one);
# Stop-L2tpForwarder ends it while its interfaces and state stay, and the next cmdlet's forwarder carries traffic
# again. A state file with bad entries costs only those entries: they are set aside into state.json.rejected, named
# once in a warning, and the rest is restored.

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot '../lab/Lab.psm1') -Force
    Import-Module ([System.IO.Path]::GetFullPath((Join-Path $PSScriptRoot '../../out/L2tp/L2tp.psd1'))) -Force
    $script:OldStateRoot = $env:L2TP_STATE_ROOT
    $script:StateRoot = Join-Path ([System.IO.Path]::GetTempPath()) "l2tp-fwd-$([guid]::NewGuid().ToString('N').Substring(0, 8))"
    New-Item -ItemType Directory $StateRoot | Out-Null
    $env:L2TP_STATE_ROOT = $StateRoot

    $A = New-LabNamespace -Prefix 'fwd-A'
    $B = New-LabNamespace -Prefix 'fwd-B'
    $script:Idle = New-LabNamespace -Prefix 'fwd-idle'
    $script:Fg = New-LabNamespace -Prefix 'fwd-fg'
    New-LabVethPair -Namespace $A -Peer $B -Address 192.0.2.1/24 -PeerAddress 192.0.2.2/24 | Out-Null

    New-L2tpTunnel -netns $A -TunnelId 3000 -PeerTunnelId 4000 -Local 192.0.2.1 -Remote 192.0.2.2 -SourcePort 5000 -DestinationPort 6000 -Backend Managed -ErrorAction Stop |
        New-L2tpSession -SessionId 1000 -PeerSessionId 2000 -ErrorAction Stop |
        Set-L2tpInterface -Up -Address 198.51.100.1 -PeerAddress 198.51.100.2 -ErrorAction Stop | Out-Null
    New-L2tpTunnel -netns $B -TunnelId 4000 -PeerTunnelId 3000 -Local 192.0.2.2 -Remote 192.0.2.1 -SourcePort 6000 -DestinationPort 5000 -Backend Managed -ErrorAction Stop |
        New-L2tpSession -SessionId 2000 -PeerSessionId 1000 -ErrorAction Stop |
        Set-L2tpInterface -Up -Address 198.51.100.2 -PeerAddress 198.51.100.1 -ErrorAction Stop | Out-Null

    function Get-ForwarderPid([string] $Namespace) {
        @(Get-LabNamespaceProcess -Namespace $Namespace -CommandLinePattern 'l2tp-forwarder') | Select-Object -ExpandProperty Id
    }
    function Get-AddressLine([string] $Namespace) {
        Invoke-LabNs $Namespace 'ip -o addr show dev l2tpeth0 scope global'
    }
}

AfterAll {
    if (Get-Command Remove-LabL2tpConfig -ErrorAction Ignore) { Remove-LabL2tpConfig -Namespace $A, $B }
    if (Get-Command Remove-LabNamespace -ErrorAction Ignore) { Remove-LabNamespace -Name $A, $B, $Idle, $Fg }
    $env:L2TP_STATE_ROOT = $OldStateRoot
    Remove-Item -Recurse -Force $StateRoot -ErrorAction Ignore
}

Describe 'Get-L2tpForwarder' {
    It 'reports the running forwarder: its process id, counts, namespace and paths' {
        $f = Get-L2tpForwarder -netns $A -ErrorAction Stop
        $f | Should -HaveCount 1
        $f.PSObject.TypeNames[0] | Should -Be 'L2tp.L2tpForwarder'
        $f.ProcessId | Should -Be (Get-ForwarderPid $A)
        $f.NetworkNamespace | Should -Be $A
        $f.Tunnels | Should -Be 1
        $f.Sessions | Should -Be 1
        $f.StatePath | Should -Be (Join-Path $StateRoot $f.NetnsKey 'state.json')
        $f.LogPath | Should -Be (Join-Path $StateRoot $f.NetnsKey 'forwarder.log')
        Test-Path $f.StatePath | Should -BeTrue
        Get-Content -Raw $f.LogPath | Should -Match "serving network namespace $($f.NetnsKey)"
        $f.StartTime | Should -BeGreaterThan ([datetime]::UtcNow.AddMinutes(-10))
        $f.Version | Should -Match '^\d+\.\d+'
        $f.RejectedEntries | Should -HaveCount 0
    }

    It 'moves frames both ways on one data-plane thread (l2tp-rx hosts the transmit loop: one wake-up per frame and its answer)' {
        Test-LabPing -Namespace $A -Address 198.51.100.2 -Count 2 -Attempts 3 | Should -BeTrue
        $fwd = (Get-L2tpForwarder -netns $A -ErrorAction Stop).ProcessId
        $names = @(Get-ChildItem "/proc/$fwd/task" | ForEach-Object { (Get-Content -Raw "/proc/$fwd/task/$($_.Name)/comm").Trim() })
        @($names | Where-Object { $_ -eq 'l2tp-rx' }) | Should -HaveCount 1 -Because "threads: $($names -join ', ')"
        @($names | Where-Object { $_ -eq 'l2tp-tx' }) | Should -HaveCount 0 -Because 'no thread of its own for the transmit loop'
    }

    It 'has its fd table sized for 1,024 fds from the start (a growth past fd 256 or 512 stalled that session''s call 10-30 ms)' {
        # One TAP fd per session: the kernel grows a process's table by doubling, each growth of a threaded process
        # waiting out an RCU grace period. /proc's FDSize is the table's size, 64 in a process that never grew it.
        $fwd = (Get-L2tpForwarder -netns $A -ErrorAction Stop).ProcessId
        $size = [int](Select-String -Path "/proc/$fwd/status" -Pattern '^FDSize:\s+(\d+)').Matches[0].Groups[1].Value
        $open = @(Get-ChildItem "/proc/$fwd/fd").Count
        $size | Should -BeGreaterOrEqual 1024 -Because "it holds $open fds"
    }

    It 'returns nothing and no error where no forwarder runs, and does not start one' {
        $out = Get-L2tpForwarder -netns $Idle -ErrorVariable errs
        $out | Should -BeNullOrEmpty
        $errs | Should -BeNullOrEmpty
        Get-ForwarderPid $Idle | Should -BeNullOrEmpty
    }
}

Describe 'Stop-L2tpForwarder' {
    BeforeAll {
        Test-LabPing -Namespace $A -Address 198.51.100.2 -Count 2 -Attempts 3 | Should -BeTrue -Because 'the pseudowire works before the stop'
        $script:addrBefore = Get-AddressLine $A
        $script:pidBefore = Get-ForwarderPid $A
        $script:statePath = (Get-L2tpForwarder -netns $A).StatePath
    }

    It 'with -WhatIf stops nothing' {
        Stop-L2tpForwarder -netns $A -WhatIf
        Get-ForwarderPid $A | Should -Be $pidBefore
        Test-LabPing -Namespace $A -Address 198.51.100.2 -Count 1 -Attempts 3 | Should -BeTrue
    }

    It 'returns once the process is gone, writing the stopped forwarder with -PassThru' {
        $f = Stop-L2tpForwarder -netns $A -PassThru -Confirm:$false -ErrorAction Stop
        $f.ProcessId | Should -Be $pidBefore
        Test-LabProcessAlive $pidBefore | Should -BeFalse
        Get-ForwarderPid $A | Should -BeNullOrEmpty
    }

    It 'leaves l2tpeth0 with its address, and the state file' {
        Get-AddressLine $A | Should -Be $addrBefore
        Test-Path $statePath | Should -BeTrue
        Get-L2tpForwarder -netns $A | Should -BeNullOrEmpty
    }

    It 'is followed on the next Get-L2tpSession by a new forwarder that carries traffic again' {
        (Get-L2tpSession -netns $A -ErrorAction Stop).InterfaceName | Should -Be 'l2tpeth0'
        $new = Get-ForwarderPid $A
        $new | Should -Not -BeNullOrEmpty
        $new | Should -Not -Be $pidBefore
        Test-LabPing -Namespace $A -Address 198.51.100.2 -Count 2 -Attempts 3 | Should -BeTrue
    }

    It 'does nothing, without error, where no forwarder runs' {
        Stop-L2tpForwarder -netns $Idle -Confirm:$false -ErrorVariable errs
        $errs | Should -BeNullOrEmpty
    }
}

Describe 'A state file with bad entries' {
    BeforeAll {
        $f = Get-L2tpForwarder -netns $A -ErrorAction Stop
        $script:statePath = $f.StatePath
        Stop-L2tpForwarder -netns $A -Confirm:$false -ErrorAction Stop
        # The good tunnel gains a session with a bad cookie, and a second tunnel has an address that is none.
        $state = Get-Content -Raw $statePath | ConvertFrom-Json -AsHashtable -NoEnumerate
        $good = $state[0]
        $badSession = $good.Sessions[0].Clone()
        $badSession.SessionId = 1001; $badSession.InterfaceName = 'l2tpeth9'; $badSession.Cookie = '01zz'
        $good.Sessions += $badSession
        $badTunnel = $good.Clone()
        $badTunnel.TunnelId = 3001; $badTunnel.Local = '192.0.2.300'; $badTunnel.Sessions = @()
        ConvertTo-Json -Depth 5 -InputObject @($good, $badTunnel) | Set-Content $statePath
        $script:first = Get-L2tpSession -netns $A -ErrorAction Stop -WarningVariable firstWarnings 3>$null
        $script:firstWarnings = $firstWarnings
    }

    It 'does not keep the forwarder from starting: the good tunnel and session are restored and carry traffic' {
        $first.SessionId | Should -Be 1000
        (Get-L2tpTunnel -netns $A -ErrorAction Stop).TunnelId | Should -Be 3000
        Test-LabPing -Namespace $A -Address 198.51.100.2 -Count 2 -Attempts 3 | Should -BeTrue
    }

    It 'sets the bad entries aside into state.json.rejected with the reason, and keeps only good ones in the state file' {
        $rejected = Get-Content -Raw "$statePath.rejected" | ConvertFrom-Json
        $rejected.What | Should -Contain 'session 1001 of tunnel 3000'
        $rejected.What | Should -Contain 'tunnel 3001'
        ($rejected | Where-Object What -EQ 'session 1001 of tunnel 3000').Entry.Cookie | Should -Be '01zz'
        ($rejected | Where-Object What -EQ 'tunnel 3001').Reason | Should -Match '192\.0\.2\.300'
        $state = Get-Content -Raw $statePath | ConvertFrom-Json
        $state.TunnelId | Should -Be 3000
        $state.Sessions.SessionId | Should -Be 1000
    }

    It 'names the set-aside entries in a warning of the first cmdlet, once' {
        $firstWarnings | Should -HaveCount 2
        ($firstWarnings.Message -join "`n") | Should -Match 'session 1001 of tunnel 3000.*ookie'
        ($firstWarnings.Message -join "`n") | Should -Match 'tunnel 3001 of its state file.*192\.0\.2\.300'
        Get-L2tpTunnel -netns $A -WarningVariable again 3>$null | Out-Null
        $again | Should -BeNullOrEmpty
    }

    It 'lists them in RejectedEntries of Get-L2tpForwarder, and in the log' {
        $f = Get-L2tpForwarder -netns $A
        $f.RejectedEntries.What | Should -Contain 'session 1001 of tunnel 3000'
        ($f.RejectedEntries | Where-Object What -EQ 'session 1001 of tunnel 3000').Reason | Should -Match 'ookie'
        Get-Content -Raw $f.LogPath | Should -Match 'session 1001 of tunnel 3000 set aside'
    }
}

Describe 'The state folder''s files, which hold the cookies' {
    BeforeAll {
        # A session with a cookie, made and removed, so the folder has a journal beside the state, the log and netns.
        New-L2tpSession -netns $A -TunnelId 3000 -SessionId 1003 -PeerSessionId 2003 -Cookie 0a0b0c0d -PeerCookie 01020304 -ErrorAction Stop | Out-Null
        $script:folder = Split-Path (Get-L2tpForwarder -netns $A -ErrorAction Stop).StatePath
        # "name mode" of each file; one the forwarder removes meanwhile (a folded journal, a renamed temporary) is left out.
        function Get-Modes([string] $In = $folder) {
            $paths = @((Get-ChildItem -File -Force $In).FullName)
            if ($paths) { & stat -c '%n %a' -- $paths 2>$null | ForEach-Object { $_.Substring($In.Length + 1) } }
        }
    }
    AfterAll { Remove-L2tpSession -netns $A -TunnelId 3000 -SessionId 1003 -Confirm:$false -ErrorAction Ignore }

    It 'are 0600, root''s alone: state.json, the log, netns, and the journal and set-aside entries where there are any' {
        $modes = @(Get-Modes)
        $modes | Should -Contain 'state.json 600'
        $modes | Should -Contain 'forwarder.log 600'
        $modes | Should -Contain 'netns 600'
        @($modes | Where-Object { $_ -notmatch ' 600$' }) | Should -BeNullOrEmpty
    }

    It 'keep the cookie from a user who is not root' {
        # A quiet forwarder folds its journal into state.json within 200 ms: wait, so no file goes away under the reads.
        Wait-LabCondition -TimeoutSeconds 5 -Condition { -not (Test-Path (Join-Path $folder 'state.json.journal')) } | Should -BeTrue
        $state = Join-Path $folder 'state.json'
        Get-Content -Raw $state | Should -Match '0a0b0c0d' -Because 'the state holds the new session'
        $seen = & setpriv --reuid=65534 --regid=65534 --clear-groups -- stat $state 2>&1
        $LASTEXITCODE | Should -Be 0 -Because "the user reaches the file: what refuses it is its mode, not a folder ($seen)"
        $out = & setpriv --reuid=65534 --regid=65534 --clear-groups -- cat $state 2>&1
        $LASTEXITCODE | Should -Not -Be 0
        ($out -join "`n") | Should -Match 'Permission denied'
        ($out -join "`n") | Should -Not -Match '0a0b0c0d'
    }

    It 'left readable by others (an older version''s) are narrowed to 0600 when the next forwarder starts, in every namespace''s folder; a link''s target is left alone' {
        Stop-L2tpForwarder -netns $A -Confirm:$false -ErrorAction Stop
        Get-ChildItem -File $folder | ForEach-Object { & chmod 0644 $_.FullName }
        @(Get-Modes | Where-Object { $_ -match ' 644$' }).Count | Should -BeGreaterOrEqual 3
        # A folder of a namespace no forwarder serves, as an older version left it, and a link to a file elsewhere.
        $other = Join-Path $StateRoot "older-$([guid]::NewGuid().ToString('N').Substring(0, 8))"
        $outside = Join-Path $StateRoot 'outside.txt'
        New-Item -ItemType Directory $other | Out-Null
        Set-Content (Join-Path $other 'state.json') '[]'
        Set-Content $outside 'not the forwarder''s'
        & chmod 0644 (Join-Path $other 'state.json') $outside
        New-Item -ItemType SymbolicLink -Path (Join-Path $other 'link') -Target $outside | Out-Null
        try {
            (Get-L2tpSession -netns $A -TunnelId 3000 -SessionId 1003 -ErrorAction Stop).Cookie | Should -Be '0a0b0c0d'
            @(Get-Modes | Where-Object { $_ -notmatch ' 600$' }) | Should -BeNullOrEmpty
            & stat -c '%a' (Join-Path $other 'state.json') | Should -Be '600'
            & stat -c '%a' $outside | Should -Be '644'
        }
        finally { Remove-Item -Recurse -Force $other, $outside -ErrorAction Ignore }
    }
}

Describe 'l2tp-forwarder --foreground, as a supervisor runs it' {
    BeforeAll {
        Invoke-LabNs $Fg 'ip link add veth0 type veth peer name veth1 && ip addr add 192.0.2.1/24 dev veth0 && ip link set veth0 up && ip link set veth1 up' | Out-Null
        $script:stderr = Join-Path $StateRoot 'foreground.stderr'
        $bin = [System.IO.Path]::GetFullPath((Join-Path $PSScriptRoot '../../out/L2tp/bin/l2tp-forwarder'))
        $script:proc = Start-LabBackgroundProcess -Namespace $Fg -FilePath $bin -ArgumentList '--foreground' -LogPath $stderr
        Wait-LabCondition { Get-ForwarderPid $Fg } -TimeoutSeconds 20 | Should -BeTrue
        Wait-LabCondition { (Get-Content -Raw $stderr -ErrorAction Ignore) -match 'serving network namespace' } -TimeoutSeconds 20 | Should -BeTrue
    }
    AfterAll {
        if ($proc -and -not $proc.HasExited) { $proc.Kill() }
    }

    It 'serves the cmdlets, logging to stderr (no log file)' {
        New-L2tpTunnel -netns $Fg -TunnelId 7000 -PeerTunnelId 7001 -Local 192.0.2.1 -Remote 192.0.2.2 -SourcePort 7000 -DestinationPort 7001 -Backend Managed -ErrorAction Stop | Out-Null
        $f = Get-L2tpForwarder -netns $Fg
        $f.ProcessId | Should -Be $proc.Id
        $f.LogPath | Should -BeNullOrEmpty
        Get-Content -Raw $stderr | Should -Match 'tunnel 7000 created'
    }

    It 'keeps running when its last tunnel is removed (its lifetime is the supervisor''s)' {
        Remove-L2tpTunnel -netns $Fg -TunnelId 7000 -ErrorAction Stop
        Start-Sleep -Seconds 2
        Test-LabProcessAlive $proc.Id | Should -BeTrue
    }

    It 'exits cleanly (code 0) on Stop-L2tpForwarder' {
        Stop-L2tpForwarder -netns $Fg -Confirm:$false -ErrorAction Stop
        $proc.WaitForExit(5000) | Should -BeTrue
        $proc.ExitCode | Should -Be 0
    }
}

Describe 'Folders of namespaces that are gone' {
    # A lab deletes namespaces with their forwarders killed; each left its folder (state, logs) in /run, which is
    # memory, until the next boot. A forwarder starting collects those whose namespace no process and no mount holds,
    # whose forwarder is gone (its lock on the folder free) and that nobody touched for an hour.
    BeforeAll {
        function New-FakeFolder([string] $Name, [string] $Namespace, [switch] $NoState, [switch] $Fresh) {
            $dir = Join-Path $StateRoot $Name
            New-Item -ItemType Directory $dir | Out-Null
            if (-not $NoState) { '{"tunnels":[]}' | Set-Content (Join-Path $dir 'state.json') }
            if ($Namespace) { "$Namespace" | Set-Content (Join-Path $dir 'netns') }
            'old log' | Set-Content (Join-Path $dir 'forwarder.log')
            if (-not $Fresh) {
                Get-ChildItem $dir | ForEach-Object { $_.LastWriteTimeUtc = [datetime]::UtcNow.AddHours(-2) }
                (Get-Item $dir).LastWriteTimeUtc = [datetime]::UtcNow.AddHours(-2)
            }
            $dir
        }
        # A namespace only a process holds (no mount: unshare's), and one only a mount holds (ip netns add's, no process).
        $script:Unshared = Start-Process -FilePath unshare -ArgumentList @('--net', 'sleep', '120') -PassThru
        Start-Sleep -Milliseconds 300
        $processNs = & readlink "/proc/$($Unshared.Id)/ns/net"
        $script:MountOnly = New-LabNamespace -Prefix 'fwd-mnt'
        $mountNs = Invoke-LabNs $MountOnly 'readlink /proc/self/ns/net'
        $script:Gone = New-FakeFolder 'c9000000001' 'net:[1]'
        $script:LiveNamespace = New-FakeFolder 'c9000000002' $processNs
        $script:MountedNamespace = New-FakeFolder 'c9000000008' $mountNs
        $script:Locked = New-FakeFolder 'c9000000003' 'net:[1]'
        $script:Recent = New-FakeFolder 'c9000000004' 'net:[1]' -Fresh
        $script:Unrecorded = New-FakeFolder 'c9000000005' ''
        $script:LogOnly = New-FakeFolder 'c9000000006' '' -NoState
        $script:LockedLogOnly = New-FakeFolder 'c9000000007' '' -NoState
        # A forwarder alive elsewhere (another pid namespace, say) holds its folder's lock: util-linux flock on the folder.
        $script:Holder = Start-Process -FilePath flock -ArgumentList @($Locked, 'sleep', '120') -PassThru
        $script:Holder2 = Start-Process -FilePath flock -ArgumentList @($LockedLogOnly, 'sleep', '120') -PassThru
        Start-Sleep -Milliseconds 300

        # First a forwarder that cannot read every process's namespace, as under the shipped units (no CAP_SYS_PTRACE:
        # PID 1's /proc/1/ns/net is refused): it must not take a namespace it cannot see for gone.
        $script:Blind = New-LabNamespace -Prefix 'fwd-blind'
        & ip -n $Blind addr add 192.0.2.1/24 dev lo
        $pwsh = @([Environment]::ProcessPath) + @(if ((Split-Path -Leaf ([Environment]::ProcessPath)) -eq 'dotnet') { Join-Path $PSHOME 'pwsh.dll' })
        $module = [System.IO.Path]::GetFullPath((Join-Path $PSScriptRoot '../../out/L2tp/L2tp.psd1'))
        # capsh runs this through bash: single quotes keep bash off it, and it holds no single quote or dollar itself.
        $inner = ($pwsh -join ' ') + " -NoProfile -NonInteractive -Command 'Import-Module `"$module`"; New-L2tpTunnel -TunnelId 7 -PeerTunnelId 8 -Local 192.0.2.1 -Remote 192.0.2.2 -SourcePort 5000 -DestinationPort 6000 -ErrorAction Stop | Out-Null'"
        $out = & ip netns exec $Blind capsh --drop=cap_sys_ptrace -- -c $inner 2>&1
        $LASTEXITCODE | Should -Be 0 -Because ($out | Out-String)
        $script:BlindPid = (Get-L2tpForwarder -netns $Blind).ProcessId
        $script:BlindHasPtrace = ([Convert]::ToUInt64(((Select-String -Path "/proc/$BlindPid/status" -Pattern '^CapEff:\s+(\S+)').Matches[0].Groups[1].Value), 16) -band (1 -shl 19)) -ne 0
        $script:GoneAfterBlind = Test-Path (Join-Path $Gone 'state.json')
        $script:BlindLog = Get-Content -Raw (Join-Path (Split-Path (Get-L2tpForwarder -netns $Blind).StatePath) 'forwarder.log')
        $script:Gc = New-LabNamespace -Prefix 'fwd-gc'
        & ip -n $Gc addr add 192.0.2.1/24 dev lo
        New-L2tpTunnel -netns $Gc -TunnelId 7 -PeerTunnelId 8 -Local 192.0.2.1 -Remote 192.0.2.2 -SourcePort 5000 -DestinationPort 6000 -ErrorAction Stop | Out-Null
        $script:Own = Split-Path (Get-L2tpForwarder -netns $Gc).StatePath
    }
    AfterAll {
        foreach ($h in $Holder, $Holder2, $Unshared) { if ($h) { Stop-Process -Id $h.Id -Force -ErrorAction Ignore } }
        foreach ($n in $Gc, $Blind) { if ($n) { Remove-LabL2tpConfig -Namespace $n; Remove-LabNamespace -Name $n } }
        if ($MountOnly) { Remove-LabNamespace -Name $MountOnly }
        foreach ($d in $Gone, $LiveNamespace, $MountedNamespace, $Locked, $Recent, $Unrecorded, $LogOnly, $LockedLogOnly) { if ($d) { Remove-Item -Recurse -Force $d -ErrorAction Ignore } }
    }

    It 'removes a folder with state whose namespace is gone, whose lock is free and which is an hour old' {
        Test-Path $Gone | Should -BeFalse
        Get-Content -Raw (Join-Path $Own 'forwarder.log') | Should -Match ([regex]::Escape("removing $Gone"))
    }

    It 'keeps one whose namespace still exists, held by a process or by a mount: its state is for the next forwarder there' {
        Test-Path (Join-Path $LiveNamespace 'state.json') | Should -BeTrue
        Test-Path (Join-Path $MountedNamespace 'state.json') | Should -BeTrue
    }

    It 'keeps one whose folder lock a live process holds, one touched within the hour, and one that names no namespace' {
        Test-Path (Join-Path $Locked 'state.json') | Should -BeTrue
        Test-Path (Join-Path $Recent 'state.json') | Should -BeTrue
        Test-Path (Join-Path $Unrecorded 'state.json') | Should -BeTrue
    }

    It 'removes an hour-old folder that holds only a log, unless a live process holds its lock' {
        Test-Path $LogOnly | Should -BeFalse
        Test-Path (Join-Path $LockedLogOnly 'forwarder.log') | Should -BeTrue
    }

    It 'removes nothing with state when it cannot read every process''s namespace (no CAP_SYS_PTRACE, as under the units)' {
        $BlindHasPtrace | Should -BeFalse -Because 'capsh dropped it from the bounding set the forwarder started under'
        $GoneAfterBlind | Should -BeTrue -Because 'the forwarder without CAP_SYS_PTRACE ran first and had to keep it'
        $BlindLog | Should -Match "keeping other namespaces' state folders: cannot tell which namespaces exist \(/proc/\d+/ns/net: readlink: (Permission denied|Operation not permitted)"
    }

    It 'records its own namespace in its folder and holds the folder''s lock while it runs' {
        Get-Content (Join-Path $Own 'netns') | Should -Be (Invoke-LabNs $Gc 'readlink /proc/self/ns/net')
        $r = Invoke-LabCommand -FilePath (Get-Command flock -CommandType Application | Select-Object -First 1).Source -ArgumentList @('-n', $Own, 'true')
        $r.ExitCode | Should -Be 1 -Because 'flock -n exits 1 when the lock is held'
    }
}

Describe 'The shipped systemd units' {
    It '<Name> passes systemd-analyze verify with the module folder filled in, as the install instructions say' -ForEach @(
        @{ Name = 'l2tp-forwarder.service' }, @{ Name = 'l2tp-forwarder@.service' }
    ) {
        $moduleDir = [System.IO.Path]::GetFullPath((Join-Path $PSScriptRoot '../../out/L2tp'))
        $shipped = Join-Path $moduleDir "systemd/$Name"
        Test-Path $shipped | Should -BeTrue -Because 'the build copies the units into the module'
        $text = Get-Content -Raw $shipped
        $text | Should -Match '(?m)^ExecStart=@MODULEDIR@/bin/l2tp-forwarder --foreground$'
        $text | Should -Match '(?m)^Restart=on-failure$'
        $dir = Join-Path $StateRoot 'units'
        New-Item -ItemType Directory -Force $dir | Out-Null
        $unit = Join-Path $dir $Name
        ($text -replace '@MODULEDIR@', $moduleDir) | Set-Content -NoNewline $unit
        $r = Invoke-LabCommand -FilePath '/usr/bin/systemd-analyze' -ArgumentList @('verify', $unit)
        "$($r.StdOut)$($r.StdErr)".Trim() | Should -BeNullOrEmpty -Because 'systemd warns about every directive it cannot parse'
        $r.ExitCode | Should -Be 0
    }
}
