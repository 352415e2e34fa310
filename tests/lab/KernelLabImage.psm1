#Requires -Version 7.2
<#
    KernelLabImage.psm1: the kernel lab's image (see KernelLab.psm1): Debian's kernel, its modules and busybox-static
    fetched with apt, packed into an initramfs with kernel/init.sh, and cached in /var/cache/l2tp-kernel-lab under a
    key of everything that goes into it. KernelLab.psm1 imports this and runs the image; nothing else needs it.
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


Export-ModuleMember -Function Initialize-KernelLab, Get-KernelLabDefaultImage, Invoke-KernelLabTool
