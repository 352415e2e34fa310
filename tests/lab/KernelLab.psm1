#Requires -Version 7.2
<#
    KernelLab.psm1: the "real-kernel lab". Runs a bash script on a real Linux L2TP implementation (l2tp_core,
    l2tp_netlink, l2tp_eth, l2tp_ip, l2tp_ip6) although this machine's own kernel has none: it boots Debian's own
    kernel (the package linux-image-amd64 depends on) under QEMU with TCG, with a small initramfs (busybox-static and
    that kernel's modules). The guest's root is this host's / shared read-only over 9p (under a tmpfs overlay, so the
    guest may write anywhere), so the script has the host's bash, iproute2, ping, tshark, dotnet and pwsh.

    The guest gets one virtio NIC whose other end is a TAP device (default ktap0) that QEMU creates inside the test's
    network namespace: the host's side of the test talks to the guest kernel through that TAP.
    Addresses in the tests are documentation ranges only: 192.0.2.0/24 underlays, 198.51.100.0/24 in pseudowires.

    Needs root, qemu-system-x86_64, and apt (Debian's registry) for the first image build (~5 s, then cached in
    /var/cache/l2tp-kernel-lab; it runs `apt-get update` itself if the package lists are missing). No KVM (/dev/kvm
    hangs on these machines): the guest runs under TCG; measured here: ~5 s from starting QEMU to the script, ~12 s
    for `dotnet pwsh -c ...` in the guest, well under a second to power off.

    The image (kernel, modules, initramfs; built once and cached) is KernelLabImage.psm1's; this module runs it.

    Files: kernel/init.sh (the initramfs's /init, baked into the image), kernel/run.sh (runs the script in the guest;
    copied per run), kernel/Demo-KernelLab.ps1 (demo and check), kernel/KernelLab.Tests.ps1 (Pester self-test).

    Functions:
        Initialize-KernelLab [-CacheDirectory <dir>] [-KernelPackage <pkg>] [-Force]
                                      -> KernelLab.Image (KernelPath, InitrdPath, KernelVersion, KernelPackage, ...)
        Invoke-KernelLab  -Namespace <netns> -Script <bash> [-TapName ktap0] [-TapAddress <cidr>] [-TimeoutSeconds 300]
                          [-ShareDirectory <dir>] [-Environment <hashtable>] [-MemoryMB 2048] [-CpuCount 2]
                          [-Image <KernelLab.Image>] [-KeepFiles]
                                      -> KernelLab.Result (ExitCode, Output, SerialLogPath, Duration, TimedOut, ...)
        Start-KernelLab   (the same parameters but -KeepFiles)  -> KernelLab.Run handle (VM runs in the background)
        Wait-KernelLabFile -Lab <handle> -Name <file in the share> [-TimeoutSeconds 120]   (throws if never there)
        Wait-KernelLab    -Lab <handle> [-KeepFiles]            -> KernelLab.Result (kills QEMU at the run's deadline;
                                      starts a QEMU that died within 30 s with an empty serial console once more)
        Stop-KernelLab    -Lab <handle> [-KeepFiles] [-PassThru] (kills QEMU now; never throws)

    Inside the guest the script runs as root with bash, in /mnt (the share), with GUEST_NIC (the NIC facing the TAP,
    up, no address), KERNEL_LAB_SHARE=/mnt and the function `kernel_lab_wait_file PATH [SECONDS]` exported.
    A host step in the middle of a guest script: the guest writes /mnt/ready and waits for /mnt/go-on; the host calls
    Wait-KernelLabFile $lab ready, does its part, then creates go-on in $lab.ShareDirectory.

    Example:
        $ns = New-LabNamespace
        try {
            $r = Invoke-KernelLab -Namespace $ns -TapAddress 192.0.2.1/24 -Script @'
        ip addr add 192.0.2.2/24 dev "$GUEST_NIC"
        ping -c 1 -W 5 192.0.2.1
        '@
            $r.ExitCode | Should -Be 0
        }
        finally { Remove-LabNamespace $ns }
#>

Set-StrictMode -Version 3.0

Import-Module (Join-Path $PSScriptRoot 'KernelLabImage.psm1') -Force

$script:KernelDirectory = Join-Path $PSScriptRoot 'kernel'

function ConvertTo-KernelLabShellWord([string]$Value) {
    "'" + $Value.Replace("'", "'\''") + "'"
}

function Test-KernelLabPidAlive([int]$Id, [string]$CommPattern) {
    try {
        $stat = [System.IO.File]::ReadAllText("/proc/$Id/stat")
    }
    catch {
        return $false
    }
    $comm = $stat.Substring($stat.IndexOf('(') + 1, $stat.LastIndexOf(')') - $stat.IndexOf('(') - 1)
    $state = $stat.Substring($stat.LastIndexOf(')') + 2, 1)
    ($state -notin @('Z', 'X', 'x')) -and (-not $CommPattern -or $comm -match $CommPattern)
}

function Start-KernelLab {
    <#
    .SYNOPSIS
    Boots the kernel lab VM in the background inside a network namespace, running a bash script; returns a handle.
    .DESCRIPTION
    Runs `ip netns exec NAMESPACE qemu-system-x86_64 -accel tcg ...` (under `timeout`, as a last resort should this
    PowerShell die), with a virtio NIC whose host end is the TAP -TapName in that namespace. Waits until QEMU has made
    the TAP, sets it up (and gives it -TapAddress), and returns while the guest boots. The guest runs -Script with bash
    as root in the chroot of the host's root (writable through a tmpfs overlay; nothing reaches the host's disk),
    in /mnt (the share), with GUEST_NIC, KERNEL_LAB_SHARE=/mnt, the host's PATH and -Environment exported, and the
    shell function kernel_lab_wait_file PATH [SECONDS]. Then it powers off.
    Follow with Wait-KernelLab (result) or Stop-KernelLab (kill); Wait-KernelLabFile waits for a file the guest
    writes in the share.
    .PARAMETER Namespace
    The network namespace QEMU runs in (and where the TAP appears).
    .PARAMETER Script
    The bash script the guest runs. Its exit status is the result's ExitCode.
    .PARAMETER TapName
    Name of the TAP device in the namespace (default ktap0).
    .PARAMETER TapAddress
    An address (CIDR) to give the TAP once it is up, e.g. 192.0.2.1/24.
    .PARAMETER TimeoutSeconds
    The run's deadline, counted from now: Wait-KernelLab kills QEMU then. Default 300.
    .PARAMETER ShareDirectory
    A host directory shared read-write as the guest's /mnt (the caller owns it; it is left in place). By default a
    new directory inside the run directory, removed with it.
    .PARAMETER Environment
    Extra variables exported to the script.
    .PARAMETER Image
    An image from Initialize-KernelLab (default: Initialize-KernelLab with its defaults).
    .OUTPUTS
    KernelLab.Run: Process, Namespace, TapName, Mac, ShareDirectory, RunDirectory, SerialLogPath, OutputPath,
    QemuCommand, Started, Deadline, Image.
    #>
    [CmdletBinding()]
    [OutputType('KernelLab.Run')]
    param(
        [Parameter(Mandatory)][ValidatePattern('^[A-Za-z0-9][A-Za-z0-9_.-]*$')][string]$Namespace,
        [Parameter(Mandatory)][string]$Script,
        [ValidatePattern('^[A-Za-z0-9][A-Za-z0-9_.-]{0,14}$')][string]$TapName = 'ktap0',
        [string]$TapAddress,
        [ValidateRange(10, 86400)][int]$TimeoutSeconds = 300,
        [string]$ShareDirectory,
        [hashtable]$Environment = @{},
        [ValidateRange(256, 16384)][int]$MemoryMB = 2048,
        [ValidateRange(1, 8)][int]$CpuCount = 2,
        [PSTypeName('KernelLab.Image')]$Image
    )
    if (-not $Image) { $Image = Get-KernelLabDefaultImage }
    $startParameters = @{} + $PSBoundParameters
    $startParameters.Image = $Image
    $ipCheck = Invoke-KernelLabCommandResult -FilePath 'ip' -ArgumentList @('netns', 'exec', $Namespace, 'true')
    if ($ipCheck -ne 0) { throw "Network namespace '$Namespace' does not exist." }

    if ((Invoke-KernelLabCommandResult -FilePath 'ip' -ArgumentList @('-n', $Namespace, 'link', 'show', 'dev', $TapName)) -eq 0) {
        throw "Namespace '$Namespace' already has an interface $TapName (another kernel lab still running?)."
    }
    $ownShare = -not $ShareDirectory
    if (-not $ownShare) {
        $ShareDirectory = [System.IO.Path]::GetFullPath($ShareDirectory)
        if (-not (Test-Path -LiteralPath $ShareDirectory -PathType Container)) { throw "-ShareDirectory '$ShareDirectory' is not a directory." }
    }

    $id = [guid]::NewGuid().ToString('N').Substring(0, 8)
    $runDir = Join-Path ([System.IO.Path]::GetTempPath()) "kernel-lab-$id"
    $control = Join-Path $runDir 'control'
    try {
        $null = New-Item -ItemType Directory -Path $control -Force
        if ($ownShare) {
            $ShareDirectory = Join-Path $runDir 'share'
            $null = New-Item -ItemType Directory -Path $ShareDirectory
        }
        $rnd = [byte[]]::new(3)
        [System.Security.Cryptography.RandomNumberGenerator]::Fill($rnd)
        $mac = '52:54:00:{0:x2}:{1:x2}:{2:x2}' -f $rnd[0], $rnd[1], $rnd[2]

        $envLines = [System.Collections.Generic.List[string]]::new()
        foreach ($k in 'PATH', 'DOTNET_ROOT', 'NUGET_PACKAGES') {
            $v = [Environment]::GetEnvironmentVariable($k)
            if ($v) { $envLines.Add("export $k=$(ConvertTo-KernelLabShellWord $v)") }
        }
        $envLines.Add("export KERNEL_LAB_MAC=$mac")
        foreach ($k in $Environment.Keys) {
            if ($k -notmatch '^[A-Za-z_][A-Za-z0-9_]*$') { throw "-Environment: '$k' is not a shell variable name." }
            $envLines.Add("export $k=$(ConvertTo-KernelLabShellWord ([string]$Environment[$k]))")
        }
        $utf8 = [System.Text.UTF8Encoding]::new($false)
        [System.IO.File]::WriteAllText((Join-Path $control 'env.sh'), (($envLines -join "`n") + "`n"), $utf8)
        [System.IO.File]::WriteAllText((Join-Path $control 'script.sh'), $Script.Replace("`r`n", "`n") + "`n", $utf8)
        $runSh = [System.IO.File]::ReadAllText((Join-Path $script:KernelDirectory 'run.sh')).Replace("`r`n", "`n")
        [System.IO.File]::WriteAllText((Join-Path $control 'run.sh'), $runSh, $utf8)
        # The guest mounts fresh tmpfs on /tmp and /run, hiding the host's: a checkout (CI clones into /tmp), PowerShell
        # or .NET living there would be gone. init.sh binds each directory listed here back from the host's root.
        $hidden = @((Split-Path $PSScriptRoot -Parent | Split-Path -Parent), $PSHOME, [Environment]::GetEnvironmentVariable('DOTNET_ROOT'),
            (Split-Path ([Environment]::ProcessPath) -Parent)) | Where-Object { $_ } |
            ForEach-Object { [System.IO.Path]::GetFullPath($_).TrimEnd('/') } |
            Where-Object { $_ -match '^/(tmp|run)/[^\n]+$' } | Select-Object -Unique
        [System.IO.File]::WriteAllText((Join-Path $control 'host-paths'), (@($hidden) -join "`n") + "`n", $utf8)

        $serial = Join-Path $runDir 'serial.log'
        $qemuLog = Join-Path $runDir 'qemu.log'
        $pidFile = Join-Path $runDir 'qemu.pid'
        $q = { param([string]$p) $p.Replace(',', ',,') }
        $qemuArgs = @(
            '-accel', 'tcg,thread=multi', '-cpu', 'max', '-m', "$MemoryMB", '-smp', "$CpuCount",
            '-nodefaults', '-no-user-config', '-display', 'none', '-no-reboot',
            '-serial', "file:$serial", '-pidfile', $pidFile,
            '-kernel', $Image.KernelPath, '-initrd', $Image.InitrdPath,
            '-append', 'console=ttyS0 quiet loglevel=1 panic=-1 net.ifnames=0 mitigations=off random.trust_cpu=on',
            '-fsdev', 'local,id=hostroot,path=/,security_model=none,readonly=on,multidevs=remap',
            '-device', 'virtio-9p-pci,fsdev=hostroot,mount_tag=hostroot',
            '-fsdev', "local,id=kernellab,path=$(& $q $control),security_model=none,multidevs=remap",
            '-device', 'virtio-9p-pci,fsdev=kernellab,mount_tag=kernellab',
            '-fsdev', "local,id=share,path=$(& $q $ShareDirectory),security_model=none,multidevs=remap",
            '-device', 'virtio-9p-pci,fsdev=share,mount_tag=share',
            '-netdev', "tap,id=n0,ifname=$TapName,script=no,downscript=no",
            '-device', "virtio-net-pci,netdev=n0,mac=$mac",
            '-device', 'virtio-rng-pci'
        )
        # `timeout` is the backstop should this PowerShell die without Stop-KernelLab: QEMU cannot outlive the
        # deadline by more than a minute. ip netns exec and sh exec, so the process is `timeout`, QEMU its child.
        $backstop = $TimeoutSeconds + 60
        $psi = [System.Diagnostics.ProcessStartInfo]::new('sh')
        foreach ($a in @('-c', 'log="$1"; shift; exec "$@" </dev/null >"$log" 2>&1', 'sh', $qemuLog,
                'ip', 'netns', 'exec', $Namespace, 'timeout', '-k', '10', "$backstop", 'qemu-system-x86_64') + $qemuArgs) {
            $psi.ArgumentList.Add($a)
        }
        $psi.UseShellExecute = $false
        $started = [DateTime]::UtcNow
        $process = [System.Diagnostics.Process]::Start($psi)
        $lab = [pscustomobject]@{
            PSTypeName     = 'KernelLab.Run'
            Id             = $id
            Process        = $process
            Namespace      = $Namespace
            TapName        = $TapName
            Mac            = $mac
            ShareDirectory = $ShareDirectory
            OwnShare       = $ownShare
            RunDirectory   = $runDir
            SerialLogPath  = $serial
            QemuLogPath    = $qemuLog
            OutputPath     = Join-Path $control 'output.log'
            PidFile        = $pidFile
            QemuCommand    = 'qemu-system-x86_64 ' + ($qemuArgs -join ' ')
            Started        = $started
            Deadline       = $started.AddSeconds($TimeoutSeconds)
            TimeoutSeconds = $TimeoutSeconds
            Image          = $Image
            Result         = $null
            # For the one restart of a QEMU that dies before the guest says anything (Restart-KernelLabIfStillborn).
            StartParameters = $startParameters
            Retried        = $false
            RetryReason    = $null
        }
    }
    catch {
        Remove-Item -LiteralPath $runDir -Recurse -Force -ErrorAction SilentlyContinue
        throw
    }
    try {
        $tapDeadline = [DateTime]::UtcNow.AddSeconds(30)
        while ((Invoke-KernelLabCommandResult -FilePath 'ip' -ArgumentList @('-n', $Namespace, 'link', 'show', 'dev', $TapName)) -ne 0) {
            if ($process.HasExited) { throw "QEMU exited at once: $(Get-KernelLabText $qemuLog)" }
            if ([DateTime]::UtcNow -gt $tapDeadline) { throw "QEMU made no TAP $TapName in '$Namespace' within 30 s." }
            Start-Sleep -Milliseconds 50
        }
        $null = Invoke-KernelLabTool -FilePath 'ip' -ArgumentList @('-n', $Namespace, 'link', 'set', 'dev', $TapName, 'up')
        if ($TapAddress) {
            $null = Invoke-KernelLabTool -FilePath 'ip' -ArgumentList @('-n', $Namespace, 'addr', 'add', $TapAddress, 'dev', $TapName)
        }
    }
    catch {
        $err = $_
        Stop-KernelLab -Lab $lab -KeepFiles
        throw "Kernel lab did not start ($($err.Exception.Message)); files kept in $runDir. QEMU: $($lab.QemuCommand)"
    }
    $lab
}

# How long after its start a QEMU that exits with nothing on the serial console counts as stillborn.
$script:StillbornSeconds = 30

function Restart-KernelLabIfStillborn {
    # Once per run: when QEMU has exited within the first StillbornSeconds having written nothing to the serial
    # console (not even init.sh's first "kernel-lab:" line, so none of the guest's or our code ran), start it again
    # with the same parameters and point the handle at the new run. Seen once in CI: QEMU gone after 7.5 s, serial
    # log and qemu.log empty, and a rerun passed. Any other failure is left as it is. Returns whether it restarted.
    param($Lab)
    if ($Lab.Retried -or $Lab.Result -or -not $Lab.Process.HasExited) { return $false }
    $lived = try { ($Lab.Process.ExitTime.ToUniversalTime() - $Lab.Started).TotalSeconds } catch { ([DateTime]::UtcNow - $Lab.Started).TotalSeconds }
    $serialBytes = try { (Get-Item -LiteralPath $Lab.SerialLogPath -ErrorAction Stop).Length } catch { 0 }
    if ($lived -ge $script:StillbornSeconds -or $serialBytes -gt 0 -or
        (Test-Path -LiteralPath (Join-Path $Lab.RunDirectory 'control/exit-code'))) { return $false }
    $qemuExit = try { $Lab.Process.ExitCode } catch { $null }
    $qemuLog = (Get-KernelLabText $Lab.QemuLogPath).Trim()
    $why = "QEMU exited {0:N1} s after it started (exit code {1}) with nothing on the serial console and {2}" -f $lived, $qemuExit,
        $(if ($qemuLog) { "qemu.log: $qemuLog" } else { 'an empty qemu.log' })
    Write-Warning "Kernel lab: $why; starting it once more (the first try's files are kept in $($Lab.RunDirectory))."
    Stop-KernelLabProcess $Lab
    try { $Lab.Process.Dispose() } catch { Write-Verbose "dispose: $_" }
    $params = $Lab.StartParameters
    $new = Start-KernelLab @params
    foreach ($name in 'Id', 'Process', 'Mac', 'ShareDirectory', 'OwnShare', 'RunDirectory', 'SerialLogPath', 'QemuLogPath',
        'OutputPath', 'PidFile', 'QemuCommand', 'Started', 'Deadline') {
        $Lab.$name = $new.$name
    }
    $Lab.Retried = $true
    $Lab.RetryReason = $why
    $true
}

function Invoke-KernelLabCommandResult {
    # Exit code of FILE ARGS, output discarded.
    param([string]$FilePath, [string[]]$ArgumentList)
    $psi = [System.Diagnostics.ProcessStartInfo]::new($FilePath)
    foreach ($a in $ArgumentList) { $psi.ArgumentList.Add($a) }
    $psi.UseShellExecute = $false
    $psi.RedirectStandardOutput = $true
    $psi.RedirectStandardError = $true
    $p = [System.Diagnostics.Process]::Start($psi)
    try {
        $o = $p.StandardOutput.ReadToEndAsync()
        $e = $p.StandardError.ReadToEndAsync()
        $p.WaitForExit()
        $null = $o.GetAwaiter().GetResult(), $e.GetAwaiter().GetResult()
        $p.ExitCode
    }
    finally {
        $p.Dispose()
    }
}

function Get-KernelLabText([string]$Path) {
    try { [System.IO.File]::ReadAllText($Path) } catch { '' }
}

function Stop-KernelLabProcess {
    # Kills QEMU (by its pid file) so that `timeout`, its parent, reaps it and exits; then the whole process tree in
    # case QEMU had not written its pid file yet. Returns once neither is running (or after ~20 s of trying).
    param($Lab)
    $p = $Lab.Process
    $qemuPid = 0
    $text = (Get-KernelLabText $Lab.PidFile).Trim()
    if ([int]::TryParse($text, [ref]$qemuPid) -and $qemuPid -gt 1 -and (Test-KernelLabPidAlive $qemuPid '^qemu')) {
        try { [System.Diagnostics.Process]::GetProcessById($qemuPid).Kill() } catch { Write-Verbose "kill $qemuPid : $_" }
        try { [void]$p.WaitForExit(5000) } catch { Write-Verbose "wait: $_" }
    }
    try {
        if (-not $p.HasExited) {
            $p.Kill($true)
            [void]$p.WaitForExit(10000)
        }
    }
    catch { Write-Verbose "kill: $_" }
    if ($qemuPid -gt 1) {
        $deadline = [DateTime]::UtcNow.AddSeconds(10)
        while ((Test-KernelLabPidAlive $qemuPid '^qemu') -and [DateTime]::UtcNow -lt $deadline) { Start-Sleep -Milliseconds 50 }
    }
}

function Complete-KernelLab {
    # Ends a run (waits until its deadline, or kills at once with -Kill), builds the result, cleans up. Idempotent.
    param($Lab, [switch]$Kill, [switch]$KeepFiles)
    if ($Lab.Result) { return $Lab.Result }
    $p = $Lab.Process
    $timedOut = $false
    if (-not $Kill) {
        while ($true) {
            while (-not $p.HasExited) {
                $left = ($Lab.Deadline - [DateTime]::UtcNow).TotalMilliseconds
                if ($left -le 0) { $timedOut = $true; break }
                [void]$p.WaitForExit([int][math]::Min($left, 1000))
            }
            if ($timedOut -or -not (Restart-KernelLabIfStillborn $Lab)) { break }
            $p = $Lab.Process
        }
    }
    $killed = -not $p.HasExited
    Stop-KernelLabProcess $Lab
    $ended = [DateTime]::UtcNow
    $control = Join-Path $Lab.RunDirectory 'control'
    $exitText = (Get-KernelLabText (Join-Path $control 'exit-code')).Trim()
    $exitCode = $null
    $n = 0
    if ([int]::TryParse($exitText, [ref]$n)) { $exitCode = $n }
    # started-uptime is written (over 9p, so with the host's clock as its mtime) when the script starts.
    $startedFile = Join-Path $control 'started-uptime'
    $boot = $null
    $uptime = $null
    if (Test-Path -LiteralPath $startedFile) {
        $boot = ([System.IO.File]::GetLastWriteTimeUtc($startedFile) - $Lab.Started).TotalSeconds
        $b = 0.0
        $bootText = (Get-KernelLabText $startedFile).Trim()
        if ([double]::TryParse($bootText, [System.Globalization.NumberStyles]::Float, [cultureinfo]::InvariantCulture, [ref]$b)) { $uptime = $b }
    }
    $qemuExit = $null
    try { if ($p.HasExited) { $qemuExit = $p.ExitCode } } catch { Write-Verbose "exit code: $_" }
    $serialText = Get-KernelLabText $Lab.SerialLogPath
    $failed = ($null -eq $exitCode) -or ($exitCode -ne 0) -or $timedOut
    $keep = [bool]$KeepFiles -or ($failed -and -not $Kill)
    $result = [pscustomobject]@{
        PSTypeName          = 'KernelLab.Result'
        ExitCode            = $exitCode
        Output              = Get-KernelLabText (Join-Path $control 'output.log')
        TimedOut            = $timedOut
        Killed              = $killed
        Duration            = $ended - $Lab.Started
        BootSeconds         = $boot
        GuestUptimeAtScript = $uptime
        SerialLogPath       = $Lab.SerialLogPath
        SerialLog           = $serialText
        QemuLog             = Get-KernelLabText $Lab.QemuLogPath
        QemuExitCode        = $qemuExit
        ShareDirectory      = $Lab.ShareDirectory
        RunDirectory        = $Lab.RunDirectory
        FilesKept           = $keep
        Retried             = $Lab.Retried
        RetryReason         = $Lab.RetryReason
    }
    if (-not $keep) {
        Remove-Item -LiteralPath $Lab.RunDirectory -Recurse -Force -ErrorAction SilentlyContinue
    }
    try { $p.Dispose() } catch { Write-Verbose "dispose: $_" }
    $Lab.Result = $result
    if ($timedOut) {
        Write-Warning "Kernel lab timed out after $($Lab.TimeoutSeconds) s and was killed; serial log: $($Lab.SerialLogPath)"
    }
    elseif ($null -eq $exitCode -and -not $Kill) {
        $tail = ($serialText -split "`n" | Select-Object -Last 15) -join "`n"
        Write-Warning "Kernel lab guest ended without running the script to its end; serial log $($Lab.SerialLogPath):`n$tail"
    }
    $result
}

function Wait-KernelLab {
    <#
    .SYNOPSIS
    Waits for a kernel lab run (from Start-KernelLab) to power off, at most until its deadline (then kills QEMU),
    and returns its result.
    .DESCRIPTION
    The run directory (control files, serial log) is removed afterwards unless -KeepFiles or the run failed (no exit
    code, a non-zero one, or a timeout): then the result's FilesKept is true and SerialLogPath is there to read.
    A -ShareDirectory given to Start-KernelLab is never removed; the default share goes with the run directory.
    Calling it again returns the same result.
    .OUTPUTS
    KernelLab.Result: ExitCode (null if the script never finished), Output (its stdout+stderr), TimedOut, Killed,
    Duration, BootSeconds (from starting QEMU to the script starting, host clock), GuestUptimeAtScript (the guest's
    /proc/uptime then), SerialLogPath, SerialLog, QemuLog, QemuExitCode,
    ShareDirectory, RunDirectory, FilesKept, Retried and RetryReason (see below).
    A QEMU that exits within 30 s of its start having written nothing to the serial console (so before init.sh ran)
    is started once more with the same parameters, with a warning that says why; Wait-KernelLabFile does the same.
    No other failure is retried.
    #>
    [CmdletBinding()]
    [OutputType('KernelLab.Result')]
    param(
        [Parameter(Mandatory, ValueFromPipeline, Position = 0)][PSTypeName('KernelLab.Run')]$Lab,
        [switch]$KeepFiles
    )
    process {
        Complete-KernelLab -Lab $Lab -KeepFiles:$KeepFiles
    }
}

function Stop-KernelLab {
    <#
    .SYNOPSIS
    Kills a kernel lab run's QEMU now (if still running) and cleans up. Never throws; safe to call twice.
    .DESCRIPTION
    For finally blocks: after it, no QEMU of this run is left. The run directory is removed unless -KeepFiles.
    -PassThru returns the result (as Wait-KernelLab would; ExitCode is null if the script had not finished).
    #>
    [CmdletBinding()]
    [OutputType('KernelLab.Result')]
    param(
        [Parameter(Mandatory, ValueFromPipeline, Position = 0)][AllowNull()]$Lab,
        [switch]$KeepFiles,
        [switch]$PassThru
    )
    process {
        if (-not $Lab) { return }
        try {
            $r = Complete-KernelLab -Lab $Lab -Kill -KeepFiles:$KeepFiles
            if ($PassThru) { $r }
        }
        catch {
            Write-Verbose "Stop-KernelLab: $_"
            try { Stop-KernelLabProcess $Lab } catch { Write-Verbose "Stop-KernelLab: $_" }
        }
    }
}

function Wait-KernelLabFile {
    <#
    .SYNOPSIS
    Waits until the guest of a running kernel lab has created -Name in the share (its /mnt/NAME).
    .DESCRIPTION
    Throws if the VM powers off first, the run's deadline passes, or -TimeoutSeconds pass; the message carries the
    guest's output so far. Returns the file's host path.
    .EXAMPLE
    Wait-KernelLabFile $lab ready; <host-side steps>; New-Item (Join-Path $lab.ShareDirectory go-on)
    #>
    [CmdletBinding()]
    [OutputType([string])]
    param(
        [Parameter(Mandatory, Position = 0)][PSTypeName('KernelLab.Run')]$Lab,
        [Parameter(Mandatory, Position = 1)][string]$Name,
        [ValidateRange(1, 86400)][int]$TimeoutSeconds = 120
    )
    $path = Join-Path $Lab.ShareDirectory $Name
    $deadline = [DateTime]::UtcNow.AddSeconds($TimeoutSeconds)
    if ($Lab.Deadline -lt $deadline) { $deadline = $Lab.Deadline }
    while (-not (Test-Path -LiteralPath $path)) {
        if (-not $Lab.Result -and $Lab.Process.HasExited -and (Restart-KernelLabIfStillborn $Lab)) {
            $path = Join-Path $Lab.ShareDirectory $Name
            $deadline = [DateTime]::UtcNow.AddSeconds($TimeoutSeconds)
            if ($Lab.Deadline -lt $deadline) { $deadline = $Lab.Deadline }
            continue
        }
        $why = if ($Lab.Result -or $Lab.Process.HasExited) { 'the VM powered off first' }
        elseif ([DateTime]::UtcNow -gt $deadline) { 'timed out' }
        if ($why) {
            $out = Get-KernelLabText $Lab.OutputPath
            if (-not $out) { $out = Get-KernelLabText $Lab.SerialLogPath }
            throw "The kernel lab guest did not create $Name ($why). Guest output so far:`n$out"
        }
        Start-Sleep -Milliseconds 100
    }
    $path
}

function Invoke-KernelLab {
    <#
    .SYNOPSIS
    Boots the kernel lab VM inside a network namespace, runs a bash script there on a real Linux kernel with L2TP,
    and returns the script's exit code and output once the guest has powered off.
    .DESCRIPTION
    Start-KernelLab followed by Wait-KernelLab (see both). QEMU never outlives this call: it is killed at
    -TimeoutSeconds (TimedOut is then true, ExitCode null) or if the call is interrupted.
    .EXAMPLE
    Invoke-KernelLab -Namespace $ns -TapAddress 192.0.2.1/24 -Script 'ip addr add 192.0.2.2/24 dev $GUEST_NIC; ping -c1 -W5 192.0.2.1'
    #>
    [CmdletBinding()]
    [OutputType('KernelLab.Result')]
    param(
        [Parameter(Mandatory)][ValidatePattern('^[A-Za-z0-9][A-Za-z0-9_.-]*$')][string]$Namespace,
        [Parameter(Mandatory)][string]$Script,
        [ValidatePattern('^[A-Za-z0-9][A-Za-z0-9_.-]{0,14}$')][string]$TapName = 'ktap0',
        [string]$TapAddress,
        [ValidateRange(10, 86400)][int]$TimeoutSeconds = 300,
        [string]$ShareDirectory,
        [hashtable]$Environment = @{},
        [ValidateRange(256, 16384)][int]$MemoryMB = 2048,
        [ValidateRange(1, 8)][int]$CpuCount = 2,
        [PSTypeName('KernelLab.Image')]$Image,
        [switch]$KeepFiles
    )
    $startArgs = @{}
    foreach ($k in $PSBoundParameters.Keys) { if ($k -ne 'KeepFiles') { $startArgs[$k] = $PSBoundParameters[$k] } }
    $lab = Start-KernelLab @startArgs
    try {
        Wait-KernelLab -Lab $lab -KeepFiles:$KeepFiles
    }
    finally {
        Stop-KernelLab -Lab $lab -KeepFiles:$KeepFiles
    }
}

Export-ModuleMember -Function Initialize-KernelLab, Invoke-KernelLab, Start-KernelLab, Wait-KernelLab, Stop-KernelLab, Wait-KernelLabFile
