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
        Wait-KernelLab    -Lab <handle> [-KeepFiles]            -> KernelLab.Result (kills QEMU at the run's deadline)
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

$script:KernelDirectory = Join-Path $PSScriptRoot 'kernel'
$script:ImageFormat = 'kernel-lab-image/1'
# Modules the guest loads (each after its dependencies, which are found from the modules' own modinfo).
$script:GuestModules = @(
    'virtio_pci', 'virtio_net', 'virtio_rng', '9pnet_virtio', '9p', 'overlay',
    'udp_tunnel', 'ip6_udp_tunnel', 'l2tp_core', 'l2tp_netlink', 'l2tp_eth', 'l2tp_ip', 'l2tp_ip6',
    'llc', 'stp', 'bridge', 'tun', 'veth', 'garp', 'mrp', '8021q', 'dummy'
)
# insmod parameters (dummy would otherwise make a dummy0 the tests did not ask for).
$script:ModuleParameters = @{ dummy = 'numdummies=0' }
# Without these the lab cannot work at all; the others only warn when the kernel has neither a module nor a built-in.
$script:RequiredModules = @('virtio_pci', 'virtio_net', '9pnet_virtio', '9p', 'l2tp_core', 'l2tp_netlink', 'l2tp_eth')
$script:ImageMemo = @{}

function Invoke-KernelLabTool {
    # Runs FILE ARGS (no shell), returns stdout; throws with stderr on a non-zero exit or after TimeoutSeconds.
    param(
        [Parameter(Mandatory)][string]$FilePath,
        [string[]]$ArgumentList = @(),
        [string]$WorkingDirectory,
        [int]$TimeoutSeconds = 600,
        [switch]$AsBytes
    )
    $psi = [System.Diagnostics.ProcessStartInfo]::new($FilePath)
    foreach ($a in $ArgumentList) { $psi.ArgumentList.Add($a) }
    if ($WorkingDirectory) { $psi.WorkingDirectory = $WorkingDirectory }
    $psi.UseShellExecute = $false
    $psi.RedirectStandardInput = $true
    $psi.RedirectStandardOutput = $true
    $psi.RedirectStandardError = $true
    $psi.Environment['LC_ALL'] = 'C'
    try {
        $p = [System.Diagnostics.Process]::Start($psi)
    }
    catch {
        throw "Cannot run '$FilePath': $($_.Exception.Message)"
    }
    try {
        $p.StandardInput.Close()
        if ($AsBytes) {
            $ms = [System.IO.MemoryStream]::new()
            $out = $p.StandardOutput.BaseStream.CopyToAsync($ms)
        }
        else {
            $out = $p.StandardOutput.ReadToEndAsync()
        }
        $err = $p.StandardError.ReadToEndAsync()
        if (-not $p.WaitForExit($TimeoutSeconds * 1000)) {
            try { $p.Kill($true) } catch { Write-Verbose "kill: $_" }
            throw "Timed out after $TimeoutSeconds s: $FilePath $($ArgumentList -join ' ')"
        }
        $p.WaitForExit()
        $out.GetAwaiter().GetResult() | Out-Null
        $stderr = $err.GetAwaiter().GetResult()
        if ($p.ExitCode -ne 0) {
            throw "'$FilePath $($ArgumentList -join ' ')' failed (exit $($p.ExitCode)): $($stderr.Trim())"
        }
        if ($AsBytes) { , $ms.ToArray() } else { $out.Result }
    }
    finally {
        $p.Dispose()
    }
}

function Get-KernelLabImageKey {
    # What the initramfs is made of besides the kernel: changing any of it makes a new cache entry.
    $sha = [System.Security.Cryptography.SHA256]::Create()
    try {
        $parameters = ($script:ModuleParameters.Keys | Sort-Object | ForEach-Object { "$_=$($script:ModuleParameters[$_])" }) -join ','
        $text = $script:ImageFormat + "`n" + ($script:GuestModules -join ',') + "`n" + $parameters + "`n" +
            [System.IO.File]::ReadAllText((Join-Path $script:KernelDirectory 'init.sh'))
        $hash = $sha.ComputeHash([System.Text.Encoding]::UTF8.GetBytes($text))
        [Convert]::ToHexString($hash).Substring(0, 12).ToLowerInvariant()
    }
    finally {
        $sha.Dispose()
    }
}

function Resolve-KernelLabPackage {
    # The versioned kernel image package that the metapackage depends on (e.g. linux-image-6.1.0-56-amd64).
    param([string]$MetaPackage = 'linux-image-amd64')
    $text = Invoke-KernelLabTool -FilePath 'apt-cache' -ArgumentList @('depends', $MetaPackage) -TimeoutSeconds 60
    foreach ($line in $text -split "`n") {
        if ($line -match '^\s*\|?Depends:\s*(linux-image-[^\s<>]+)\s*$') { return $Matches[1] }
    }
    throw "apt-cache depends $MetaPackage names no linux-image-* package (run 'apt-get update' first?):`n$text"
}

function Invoke-KernelLabAptStep {
    # Runs an apt step; if it fails (no package lists yet, or lists so old that the file is gone from the mirror),
    # runs `apt-get update` once and tries again.
    param([Parameter(Mandatory)][scriptblock]$Step)
    try {
        & $Step
    }
    catch {
        Write-Verbose "apt step failed ($($_.Exception.Message)); running apt-get update and trying again"
        $null = Invoke-KernelLabTool -FilePath 'apt-get' -ArgumentList @('-q', 'update') -TimeoutSeconds 600
        & $Step
    }
}

function Read-KernelLabManifest([string]$Path) {
    try { Get-Content -Raw -LiteralPath $Path -ErrorAction Stop | ConvertFrom-Json } catch { $null }
}

function ConvertTo-KernelLabImage {
    param($Manifest, [string]$Directory, [bool]$FromCache, [double]$BuildSeconds)
    [pscustomobject]@{
        PSTypeName     = 'KernelLab.Image'
        KernelPath     = Join-Path $Directory 'vmlinuz'
        InitrdPath     = Join-Path $Directory "initrd-$($Manifest.ImageKey).img"
        KernelVersion  = [string]$Manifest.KernelVersion
        KernelPackage  = [string]$Manifest.KernelPackage
        PackageVersion = [string]$Manifest.PackageVersion
        BusyboxVersion = [string]$Manifest.BusyboxVersion
        Modules        = @($Manifest.Modules)
        Directory      = $Directory
        FromCache      = $FromCache
        BuildSeconds   = $BuildSeconds
    }
}

function Find-KernelLabCachedImage {
    # Any complete cache entry for this image key, newest first (used when apt cannot be asked).
    param([string]$CacheDirectory, [string]$ImageKey, [string]$KernelVersion)
    if (-not (Test-Path -LiteralPath $CacheDirectory)) { return }
    $dirs = if ($KernelVersion) { @(Join-Path $CacheDirectory $KernelVersion) } else {
        @(Get-ChildItem -LiteralPath $CacheDirectory -Directory | Sort-Object LastWriteTimeUtc -Descending | ForEach-Object FullName)
    }
    foreach ($d in $dirs) {
        $m = Read-KernelLabManifest (Join-Path $d "manifest-$ImageKey.json")
        if ($m -and (Test-Path -LiteralPath (Join-Path $d 'vmlinuz')) -and (Test-Path -LiteralPath (Join-Path $d "initrd-$ImageKey.img"))) {
            return [pscustomobject]@{ Directory = $d; Manifest = $m }
        }
    }
}

function Get-KernelLabModuleDepend([byte[]]$Bytes) {
    # The "depends=a,b" entry of a module's .modinfo section.
    $text = [System.Text.Encoding]::Latin1.GetString($Bytes)
    $m = [regex]::Match($text, '(?:^|\x00)depends=([^\x00]*)\x00')
    if (-not $m.Success) { return @() }
    @($m.Groups[1].Value -split ',' | Where-Object { $_ } | ForEach-Object { $_.Replace('-', '_') })
}

function Read-KernelLabModuleFile([string]$Path) {
    # A module's bytes, decompressed (busybox insmod may not read .ko.xz / .ko.zst / .ko.gz).
    switch -Regex ($Path) {
        '\.ko$' { return , [System.IO.File]::ReadAllBytes($Path) }
        '\.ko\.xz$' { return , (Invoke-KernelLabTool -FilePath 'xz' -ArgumentList @('-dc', $Path) -AsBytes) }
        '\.ko\.zst$' { return , (Invoke-KernelLabTool -FilePath 'zstd' -ArgumentList @('-dcq', $Path) -AsBytes) }
        '\.ko\.gz$' {
            $in = [System.IO.File]::OpenRead($Path)
            try {
                $gz = [System.IO.Compression.GZipStream]::new($in, [System.IO.Compression.CompressionMode]::Decompress)
                $ms = [System.IO.MemoryStream]::new()
                $gz.CopyTo($ms)
                return , $ms.ToArray()
            }
            finally { $in.Dispose() }
        }
    }
    throw "Not a kernel module: $Path"
}

function Resolve-KernelLabModule {
    # Orders the wanted modules (and what they depend on) so that each comes after its dependencies.
    # Returns @{ Ordered = [ordered] name -> bytes; Builtin = names built into the kernel; Missing = names }.
    param([Parameter(Mandatory)][string]$ModuleDirectory, [string[]]$Name)
    $files = @{}
    Get-ChildItem -LiteralPath (Join-Path $ModuleDirectory 'kernel') -Recurse -File |
        Where-Object Name -Match '\.ko(\.xz|\.zst|\.gz)?$' |
        ForEach-Object { $files[($_.Name -replace '\.ko(\.xz|\.zst|\.gz)?$', '').Replace('-', '_')] = $_.FullName }
    $builtin = [System.Collections.Generic.HashSet[string]]::new()
    $builtinFile = Join-Path $ModuleDirectory 'modules.builtin'
    if (Test-Path -LiteralPath $builtinFile) {
        foreach ($line in [System.IO.File]::ReadAllLines($builtinFile)) {
            if ($line -match '([^/]+)\.ko$') { [void]$builtin.Add($Matches[1].Replace('-', '_')) }
        }
    }
    $ordered = [ordered]@{}
    $builtinUsed = [System.Collections.Generic.List[string]]::new()
    $missing = [System.Collections.Generic.List[string]]::new()
    $visiting = [System.Collections.Generic.HashSet[string]]::new()
    $visit = {
        param([string]$n)
        if ($ordered.Contains($n) -or $builtinUsed.Contains($n) -or $missing.Contains($n)) { return }
        if (-not $files.ContainsKey($n)) {
            if ($builtin.Contains($n)) { $builtinUsed.Add($n) } else { $missing.Add($n) }
            return
        }
        if (-not $visiting.Add($n)) { throw "Module dependency cycle at $n" }
        $bytes = Read-KernelLabModuleFile $files[$n]
        foreach ($d in Get-KernelLabModuleDepend $bytes) { & $visit $d }
        $ordered[$n] = $bytes
    }
    foreach ($n in $Name) { & $visit $n.Replace('-', '_') }
    @{ Ordered = $ordered; Builtin = @($builtinUsed); Missing = @($missing) }
}

function Write-KernelLabCpio {
    # Writes a "newc" cpio archive (what the kernel unpacks as an initramfs; uncompressed is fine).
    # Each entry: @{ Name = 'bin/busybox'; Mode = 0x81ED; Data = byte[] } (Mode includes the file type bits; for a
    # device node add RdevMajor/RdevMinor).
    param([Parameter(Mandatory)][string]$Path, [Parameter(Mandatory)][object[]]$Entry)
    $fs = [System.IO.File]::Create($Path)
    try {
        $ascii = [System.Text.Encoding]::ASCII
        $ino = 1
        $pad = {
            param([long]$n)
            $r = (4 - ($n % 4)) % 4
            if ($r) { $fs.Write([byte[]]::new($r), 0, $r) }
        }
        foreach ($e in @($Entry) + @(@{ Name = 'TRAILER!!!'; Mode = 0; Data = [byte[]]::new(0) })) {
            [byte[]]$data = $e['Data']
            if ($null -eq $data) { $data = [byte[]]::new(0) }
            $nameBytes = $ascii.GetBytes([string]$e.Name + [char]0)
            $nlink = if (($e.Mode -band 0xF000) -eq 0x4000) { 2 } else { 1 }
            $fields = @(($ino++), $e.Mode, 0, 0, $nlink, 0, $data.Length, 0, 0,
                [int]($e['RdevMajor'] ?? 0), [int]($e['RdevMinor'] ?? 0), $nameBytes.Length, 0)
            $header = '070701' + (($fields | ForEach-Object { '{0:x8}' -f [long]$_ }) -join '')
            $hb = $ascii.GetBytes($header)
            $fs.Write($hb, 0, $hb.Length)
            $fs.Write($nameBytes, 0, $nameBytes.Length)
            & $pad ($hb.Length + $nameBytes.Length)
            if ($data.Length) {
                $fs.Write($data, 0, $data.Length)
                & $pad $data.Length
            }
        }
    }
    finally {
        $fs.Dispose()
    }
}

function Lock-KernelLabCache {
    # An exclusive lock file in the cache directory (two test processes must not build the same entry at once).
    param([string]$CacheDirectory, [int]$TimeoutSeconds = 900)
    $deadline = [DateTime]::UtcNow.AddSeconds($TimeoutSeconds)
    while ($true) {
        try {
            return [System.IO.File]::Open((Join-Path $CacheDirectory '.lock'), 'OpenOrCreate', 'ReadWrite', 'None')
        }
        catch [System.IO.IOException] {
            if ([DateTime]::UtcNow -gt $deadline) { throw "Kernel lab cache $CacheDirectory is locked by another process." }
            Start-Sleep -Milliseconds 250
        }
    }
}

function Initialize-KernelLab {
    <#
    .SYNOPSIS
    Makes sure a bootable kernel lab image exists (Debian's kernel plus a busybox/modules initramfs) and returns it.
    .DESCRIPTION
    Finds the kernel package that linux-image-amd64 depends on (apt-cache), and if CACHE/KERNELVERSION/ has no
    image for it yet, builds one: `apt-get download` of that package and busybox-static into a temporary directory,
    `dpkg-deb -x`, the modules the guest needs (virtio PCI/net/rng, 9p, overlay, l2tp_*, bridge, tun, veth, 8021q,
    dummy, and their dependencies from each module's modinfo; compressed modules are decompressed; built-ins are
    skipped) and tests/lab/kernel/init.sh packed into an uncompressed newc cpio. Nothing is installed on the host.
    Idempotent and cheap once built (one apt-cache call). On a fresh machine without package lists it runs
    `apt-get update` itself (once, when an apt step fails). If apt cannot be asked at all, any complete cached image
    is used instead (with a warning).
    .PARAMETER CacheDirectory
    Where images are kept (default /var/cache/l2tp-kernel-lab); each kernel version gets a subdirectory holding
    vmlinuz, initrd-KEY.img and manifest-KEY.json (KEY hashes init.sh and the module list, so editing init.sh
    rebuilds the initramfs).
    .PARAMETER KernelPackage
    A specific kernel image package (e.g. linux-image-6.1.0-56-amd64) instead of linux-image-amd64's dependency.
    .PARAMETER Force
    Rebuild even if the image is cached.
    .OUTPUTS
    KernelLab.Image: KernelPath, InitrdPath, KernelVersion, KernelPackage, PackageVersion, BusyboxVersion, Modules,
    Directory, FromCache, BuildSeconds.
    .EXAMPLE
    $image = Initialize-KernelLab; $image.KernelVersion
    #>
    [CmdletBinding()]
    [OutputType('KernelLab.Image')]
    param(
        [string]$CacheDirectory = '/var/cache/l2tp-kernel-lab',
        [ValidatePattern('^linux-image-[A-Za-z0-9.+~-]+$')][string]$KernelPackage,
        [switch]$Force
    )
    $CacheDirectory = [System.IO.Path]::GetFullPath($CacheDirectory)
    $key = Get-KernelLabImageKey
    if (-not $KernelPackage) {
        try {
            $KernelPackage = Invoke-KernelLabAptStep { Resolve-KernelLabPackage }
        }
        catch {
            $cached = if (-not $Force) { Find-KernelLabCachedImage -CacheDirectory $CacheDirectory -ImageKey $key }
            if ($cached) {
                Write-Warning "Cannot ask apt for the current kernel ($($_.Exception.Message)); using the cached $($cached.Manifest.KernelVersion)."
                return ConvertTo-KernelLabImage $cached.Manifest $cached.Directory $true 0
            }
            throw
        }
    }
    $kernelVersion = $KernelPackage -replace '^linux-image-', '' -replace '-unsigned$', ''
    if (-not $Force) {
        $cached = Find-KernelLabCachedImage -CacheDirectory $CacheDirectory -ImageKey $key -KernelVersion $kernelVersion
        if ($cached) { return ConvertTo-KernelLabImage $cached.Manifest $cached.Directory $true 0 }
    }

    $null = New-Item -ItemType Directory -Force -Path $CacheDirectory
    $lock = Lock-KernelLabCache -CacheDirectory $CacheDirectory
    $work = Join-Path ([System.IO.Path]::GetTempPath()) ('kernel-lab-build-' + [guid]::NewGuid().ToString('N').Substring(0, 8))
    $sw = [System.Diagnostics.Stopwatch]::StartNew()
    try {
        if (-not $Force) {
            # Someone else may have built it while we waited for the lock.
            $cached = Find-KernelLabCachedImage -CacheDirectory $CacheDirectory -ImageKey $key -KernelVersion $kernelVersion
            if ($cached) { return ConvertTo-KernelLabImage $cached.Manifest $cached.Directory $true 0 }
        }
        $null = New-Item -ItemType Directory -Path $work
        Write-Verbose "Downloading $KernelPackage and busybox-static into $work"
        Invoke-KernelLabAptStep {
            $null = Invoke-KernelLabTool -FilePath 'apt-get' -WorkingDirectory $work -TimeoutSeconds 900 -ArgumentList @(
                '-q', '-o', 'APT::Sandbox::User=root', 'download', $KernelPackage, 'busybox-static')
        }
        $kdeb = Get-ChildItem -LiteralPath $work -Filter 'linux-image-*.deb' | Select-Object -First 1
        $bdeb = Get-ChildItem -LiteralPath $work -Filter 'busybox-static_*.deb' | Select-Object -First 1
        if (-not $kdeb -or -not $bdeb) { throw "apt-get download left no .deb files in $work" }
        $kroot = Join-Path $work 'kernel'
        $broot = Join-Path $work 'busybox'
        $null = Invoke-KernelLabTool -FilePath 'dpkg-deb' -ArgumentList @('-x', $kdeb.FullName, $kroot)
        $null = Invoke-KernelLabTool -FilePath 'dpkg-deb' -ArgumentList @('-x', $bdeb.FullName, $broot)
        $packageVersion = (Invoke-KernelLabTool -FilePath 'dpkg-deb' -ArgumentList @('-f', $kdeb.FullName, 'Version')).Trim()
        $busyboxVersion = (Invoke-KernelLabTool -FilePath 'dpkg-deb' -ArgumentList @('-f', $bdeb.FullName, 'Version')).Trim()

        $moduleDir = @('lib/modules', 'usr/lib/modules') | ForEach-Object { Join-Path $kroot $_ } |
            Where-Object { Test-Path -LiteralPath $_ } | ForEach-Object { Get-ChildItem -LiteralPath $_ -Directory } |
            Select-Object -First 1
        if (-not $moduleDir) { throw "$($kdeb.Name) has no lib/modules/VERSION directory." }
        $kernelVersion = $moduleDir.Name
        $vmlinuz = Get-ChildItem -LiteralPath (Join-Path $kroot 'boot') -Filter 'vmlinuz-*' -ErrorAction SilentlyContinue |
            Select-Object -First 1
        if (-not $vmlinuz) { throw "$($kdeb.Name) has no boot/vmlinuz-*." }
        $busybox = @('bin/busybox', 'usr/bin/busybox') | ForEach-Object { Join-Path $broot $_ } |
            Where-Object { Test-Path -LiteralPath $_ } | Select-Object -First 1
        if (-not $busybox) { throw "$($bdeb.Name) has no bin/busybox." }

        $mods = Resolve-KernelLabModule -ModuleDirectory $moduleDir.FullName -Name $script:GuestModules
        $lost = @($mods.Missing | Where-Object { $_ -in $script:RequiredModules })
        if ($lost) { throw "Kernel $kernelVersion has neither a module nor a built-in for: $($lost -join ', ')" }
        if ($mods.Missing) { Write-Warning "Kernel $kernelVersion lacks (skipped): $($mods.Missing -join ', ')" }

        $entries = [System.Collections.Generic.List[object]]::new()
        foreach ($d in 'bin', 'sbin', 'dev', 'proc', 'sys', 'lower', 'rw', 'newroot', 'modules') {
            $entries.Add(@{ Name = $d; Mode = 0x41ED })
        }
        $entries.Add(@{ Name = 'dev/console'; Mode = 0x2180; RdevMajor = 5; RdevMinor = 1 })
        $entries.Add(@{ Name = 'bin/busybox'; Mode = 0x81ED; Data = [System.IO.File]::ReadAllBytes($busybox) })
        $init = [System.IO.File]::ReadAllText((Join-Path $script:KernelDirectory 'init.sh')).Replace("`r`n", "`n")
        $entries.Add(@{ Name = 'init'; Mode = 0x81ED; Data = [System.Text.Encoding]::UTF8.GetBytes($init) })
        foreach ($n in $mods.Ordered.Keys) {
            $entries.Add(@{ Name = "modules/$n.ko"; Mode = 0x81A4; Data = $mods.Ordered[$n] })
        }
        $list = (@($mods.Ordered.Keys | ForEach-Object { ("$_ " + $script:ModuleParameters[$_]).TrimEnd() }) -join "`n") + "`n"
        $entries.Add(@{ Name = 'modules.list'; Mode = 0x81A4; Data = [System.Text.Encoding]::ASCII.GetBytes($list) })

        $dest = Join-Path $CacheDirectory $kernelVersion
        $null = New-Item -ItemType Directory -Force -Path $dest
        $tmpInitrd = Join-Path $dest ".initrd-$key.img.tmp"
        Write-KernelLabCpio -Path $tmpInitrd -Entry $entries
        $tmpKernel = Join-Path $dest '.vmlinuz.tmp'
        Copy-Item -LiteralPath $vmlinuz.FullName -Destination $tmpKernel -Force
        [System.IO.File]::Move($tmpKernel, (Join-Path $dest 'vmlinuz'), $true)
        [System.IO.File]::Move($tmpInitrd, (Join-Path $dest "initrd-$key.img"), $true)
        $manifest = [pscustomobject]@{
            Format         = $script:ImageFormat
            ImageKey       = $key
            KernelVersion  = $kernelVersion
            KernelPackage  = $KernelPackage
            PackageVersion = $packageVersion
            BusyboxVersion = $busyboxVersion
            Modules        = @($mods.Ordered.Keys)
            Builtin        = @($mods.Builtin)
            Missing        = @($mods.Missing)
            Built          = [DateTime]::UtcNow.ToString('o')
        }
        $manifestPath = Join-Path $dest "manifest-$key.json"
        Set-Content -LiteralPath "$manifestPath.tmp" -Value ($manifest | ConvertTo-Json) -Encoding utf8NoBOM
        [System.IO.File]::Move("$manifestPath.tmp", $manifestPath, $true)
        # Initramfs images of other keys (an older init.sh) go once they are a day old; a day's grace keeps two
        # checkouts with different init.sh files from rebuilding each other's image on every run.
        Get-ChildItem -LiteralPath $dest -File | Where-Object {
            $_.Name -match '^(initrd|manifest)-([0-9a-f]{12})\.(img|json)$' -and $Matches[2] -ne $key -and
            $_.LastWriteTimeUtc -lt [DateTime]::UtcNow.AddDays(-1)
        } | Remove-Item -Force -ErrorAction SilentlyContinue
        $sw.Stop()
        Write-Verbose "Built kernel lab image $kernelVersion in $([math]::Round($sw.Elapsed.TotalSeconds, 1)) s"
        ConvertTo-KernelLabImage $manifest $dest $false $sw.Elapsed.TotalSeconds
    }
    finally {
        $lock.Dispose()
        if (Test-Path -LiteralPath $work) { Remove-Item -LiteralPath $work -Recurse -Force -ErrorAction SilentlyContinue }
    }
}

function Get-KernelLabDefaultImage {
    # Initialize-KernelLab once per session (the cache check still runs if the files went away).
    $m = $script:ImageMemo['default']
    if ($m -and (Test-Path -LiteralPath $m.KernelPath) -and (Test-Path -LiteralPath $m.InitrdPath)) { return $m }
    $m = Initialize-KernelLab
    $script:ImageMemo['default'] = $m
    $m
}

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
        while (-not $p.HasExited) {
            $left = ($Lab.Deadline - [DateTime]::UtcNow).TotalMilliseconds
            if ($left -le 0) { $timedOut = $true; break }
            [void]$p.WaitForExit([int][math]::Min($left, 1000))
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
    ShareDirectory, RunDirectory, FilesKept.
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
