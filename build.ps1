#!/usr/bin/env pwsh
<#
.SYNOPSIS
    Builds, tests and demonstrates the L2tp module.
.DESCRIPTION
    Tasks:
      Build    publish L2tp.dll, L2tp.Core.dll, Tmds.LibC and l2tp-forwarder into out/L2tp (an importable module), with its help
      Docs     check en-US/docs/*.md (platyPS Markdown) against the cmdlets and write en-US/L2tp.dll-Help.xml (MAML)
      Package  Build, then out/L2tp.<version>.nupkg for Install-PSResource / Install-Module from a folder repository
      Test     Build, then xunit, a short fuzzing pass of each fuzz target and every Pester file; prints 'N passed, N failed'
      Fuzz     build tests/L2tp.Fuzz, instrument it with SharpFuzz and run afl-fuzz on each target for -FuzzSeconds
      Demo     Build, then the man page's pseudowire between network namespaces site-A and site-B
      Bench    Build, then tests/bench/Bench.ps1: the data plane (iperf3/ping through a pseudowire vs veth, VXLAN and QEMU)
               and the control plane (1,000 sessions made and removed one cmdlet call each vs ip -batch on TAPs; list,
               RSS and idle CPU at 10,000), and the Kernel backend's 1,000 sessions vs ip -batch in the kernel lab;
               -BenchPart picks one. Writes out/bench/bench.json, bench.md and PNG plots
    Test and Demo need root (network namespaces, TAP devices); they install the Debian packages they use.
.EXAMPLE
    dotnet tool restore && dotnet pwsh -NoProfile -File build.ps1 -Task Test
.EXAMPLE
    dotnet pwsh -NoProfile -File build.ps1 -Task Fuzz -FuzzSeconds 600 -FuzzTarget rx
.EXAMPLE
    dotnet pwsh -NoProfile -File build.ps1 -Task Bench -BenchPart ControlPlane
#>
[CmdletBinding()]
param(
    [ValidateSet('Build', 'Test', 'Demo', 'Bench', 'Docs', 'Package', 'Fuzz')]
    [string] $Task = 'Build',
    [ValidateSet('Debug', 'Release')]
    [string] $Configuration = 'Release',
    # Pester files to run (default: all of tests/Pester).
    [string[]] $PesterPath,
    # Fuzz: how long afl-fuzz runs each target.
    [ValidateRange(5, 86400)]
    [int] $FuzzSeconds = 600,
    # Fuzz: the targets to run, rx, gro and/or control (default: all; 'rx,gro' works from -File too).
    [string[]] $FuzzTarget = @('rx', 'gro', 'control'),
    # Bench: DataPlane, ControlPlane or All.
    [ValidateSet('All', 'DataPlane', 'ControlPlane', 'KernelControlPlane')]
    [string] $BenchPart = 'All'
)

$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest
$Root = $PSScriptRoot
$Out = Join-Path $Root 'out/L2tp'
$Rid = if ([System.Runtime.InteropServices.RuntimeInformation]::OSArchitecture -eq 'Arm64') { 'linux-arm64' } else { 'linux-x64' }

function Invoke-Native {
    param([Parameter(Mandatory)] [string] $File, [string[]] $Arguments = @())
    & $File @Arguments
    if ($LASTEXITCODE -ne 0) { throw "$File $($Arguments -join ' ') failed with exit code $LASTEXITCODE" }
}

function Invoke-Build {
    Write-Host "==> Build ($Configuration, $Rid) into $Out"
    if (Test-Path $Out) { Remove-Item -Recurse -Force $Out }
    $bin = Join-Path $Out 'bin'
    foreach ($project in 'src/L2tp/L2tp.csproj', 'src/L2tp.Forwarder/L2tp.Forwarder.csproj') {
        Invoke-Native dotnet @('publish', (Join-Path $Root $project), '-c', $Configuration, '-r', $Rid,
            '--self-contained', 'false', '-o', $bin, '--nologo', '-v', 'quiet', '-p:UseAppHost=true')
    }
    foreach ($f in 'L2tp.dll', 'L2tp.Core.dll', 'Tmds.LibC.dll', 'l2tp-forwarder.dll', 'l2tp-forwarder.runtimeconfig.json') {
        if (-not (Test-Path (Join-Path $bin $f))) { throw "build output is missing bin/$f" }
    }
    # Help for the cmdlets just built (from the IL, before precompiling): fails the build when a cmdlet, parameter or
    # example has no help.
    Invoke-Docs -Assembly (Join-Path $bin 'L2tp.dll')
    Invoke-ReadyToRun -Bin $bin
    Invoke-NativeForwarder -Bin $bin
    Copy-Item (Join-Path $Root 'L2tp.psd1'), (Join-Path $Root 'L2tp.Format.ps1xml') $Out
    # systemd units for those who supervise the forwarder themselves (README, "The managed forwarder"), and the boot
    # unit Install-L2tpConfigurationService fills in.
    Copy-Item -Recurse (Join-Path $Root 'systemd') $Out
    # The configuration file's JSON Schema, where the "$schema" of an exported file points.
    Copy-Item (Join-Path $Root 'src/L2tp.Core/Configuration/L2tpConfiguration.schema.json') $Out
    # Only what Get-Help reads goes into the module: the MAML and the about_ topics, not the Markdown sources.
    $help = Join-Path $Out 'en-US'
    New-Item -ItemType Directory -Force $help | Out-Null
    Copy-Item (Join-Path $Root 'en-US/*') $help -Include '*-Help.xml', 'about_*.help.txt'
    $manifest = Import-PowerShellDataFile (Join-Path $Root 'L2tp.psd1')
    $needed = @($manifest.RootModule) + @($manifest.FormatsToProcess) + @("en-US/$(Split-Path -Leaf $manifest.RootModule)-Help.xml", 'en-US/about_L2tp.help.txt', 'L2tpConfiguration.schema.json', 'systemd/l2tp-configuration.service')
    foreach ($f in $needed) {
        if (-not (Test-Path (Join-Path $Out $f))) { throw "build output is missing $f" }
    }
}

# The crossgen2 of the .NET that runs this build (restored by the SDK on first use), or $null with a warning where it
# cannot be had. The SDK's own PublishReadyToRun is no use for a net8.0 project: it runs .NET 8's crossgen2, whose
# ReadyToRun format (major version 9) .NET 10 ignores (it reads 16, the format of its own System.Private.CoreLib).
function Get-Crossgen2 {
    $version = [Environment]::Version
    if ($version.Major -lt 9) { return $null }
    $probe = Join-Path $Root 'out/crossgen'
    New-Item -ItemType Directory -Force $probe | Out-Null
    # A project that only restores: its PublishReadyToRun makes the SDK fetch the crossgen2 pack of this runtime.
    Set-Content -LiteralPath (Join-Path $probe 'Crossgen.csproj') -Value @"
<Project Sdk="Microsoft.NET.Sdk">
  <PropertyGroup><TargetFramework>net$($version.Major).$($version.Minor)</TargetFramework><RuntimeIdentifier>$Rid</RuntimeIdentifier><PublishReadyToRun>true</PublishReadyToRun></PropertyGroup>
</Project>
"@
    & dotnet restore (Join-Path $probe 'Crossgen.csproj') --nologo -v quiet | Out-Null
    $restored = $LASTEXITCODE -eq 0
    $nuget = if ($env:NUGET_PACKAGES) { $env:NUGET_PACKAGES } else { Join-Path $HOME '.nuget/packages' }
    $pack = Get-ChildItem (Join-Path $nuget "microsoft.netcore.app.crossgen2.$Rid") -Directory -ErrorAction Ignore |
        Where-Object { $_.Name -like "$($version.Major).$($version.Minor).*" } | Sort-Object { [version]($_.Name -replace '-.*', '') } | Select-Object -Last 1
    $crossgen = if ($pack) { Join-Path $pack.FullName 'tools/crossgen2' }
    if (-not $restored -or -not $crossgen -or -not (Test-Path $crossgen)) {
        Write-Warning "No crossgen2 for .NET $version ($Rid): left IL only (JIT-compiled on each start)."
        return $null
    }
    $crossgen
}

# Compiles the IL assemblies $Names in $Directory to ReadyToRun in place (the IL stays beside the native code), with
# references to this runtime's framework, the rest of $Directory and (-WithPSHome, for the module) $PSHOME.
function Invoke-Crossgen2([string] $Crossgen, [string] $Directory, [string[]] $Names, [switch] $WithPSHome) {
    $runtimeDir = [System.Runtime.InteropServices.RuntimeEnvironment]::GetRuntimeDirectory()
    $arch = if ($Rid -like '*arm64') { 'arm64' } else { 'x64' }
    $tmp = Join-Path $Root 'out/crossgen'
    foreach ($name in $Names) {
        $il = Join-Path $Directory "$name.dll"
        $out = Join-Path $tmp "$name.dll"
        $refs = Get-ChildItem (Join-Path $Directory '*.dll') | Where-Object Name -NE "$name.dll" | ForEach-Object { '-r', $_.FullName }
        if ($WithPSHome) { $refs += '-r', (Join-Path $PSHOME '*.dll') }
        # crossgen2 names every file it writes: shown only when it fails.
        $log = & $Crossgen (@($il, '-o', $out, '--targetos:linux', "--targetarch:$arch", '-O', '-r', (Join-Path $runtimeDir '*.dll')) + $refs) 2>&1
        if ($LASTEXITCODE -ne 0) { $log | Write-Host; throw "crossgen2 $name.dll failed with exit code $LASTEXITCODE" }
        Move-Item -Force $out $il
    }
}

# Precompiles L2tp.dll, L2tp.Core.dll, l2tp-forwarder.dll and Tmds.LibC.dll (ReadyToRun) for the .NET that runs this build, which is
# the one pwsh runs on: pwsh and the forwarder otherwise JIT-compile every method they reach, on every start, which
# under the kernel lab's TCG is much of a short cmdlet's time. The assemblies stay net8.0 IL: a runtime that cannot use
# the native code (pwsh 7.4 on .NET 8) JIT-compiles the IL as before.
function Invoke-ReadyToRun([string]$Bin) {
    $crossgen = Get-Crossgen2
    if (-not $crossgen) { return }
    Write-Host "==> ReadyToRun for .NET $([Environment]::Version.Major): L2tp.dll, L2tp.Core.dll, l2tp-forwarder.dll, Tmds.LibC.dll"
    # Tmds.LibC too: every netlink socket goes through it (its constants and size types are methods, each JIT-compiled
    # at first use otherwise: some 30 of them in a Kernel cmdlet's first request).
    Invoke-Crossgen2 $crossgen $Bin 'Tmds.LibC', 'L2tp.Core', 'L2tp', 'l2tp-forwarder' -WithPSHome
}

# The forwarder as one native program (Native AOT) in place of its apphost, bin/l2tp-forwarder, which the module and
# the systemd units run: no JIT and no runtime to load, so it starts in milliseconds and holds a fraction of the memory
# (README, "The managed forwarder"). l2tp-forwarder.dll stays beside it: the tests and fuzzers use its code. Where the
# native toolchain is missing (the ILCompiler package or a C linker), the apphost stays and runs the dll on .NET.
function Invoke-NativeForwarder([string]$Bin) {
    $aot = Join-Path $Root 'out/forwarder-aot'
    Write-Host "==> Native (AOT) l2tp-forwarder into $Bin"
    if (Test-Path $aot) { Remove-Item -Recurse -Force $aot }
    $log = & dotnet publish (Join-Path $Root 'src/L2tp.Forwarder/L2tp.Forwarder.csproj') -c $Configuration -r $Rid `
        -p:PublishAot=true -o $aot --nologo -v quiet 2>&1
    $native = Join-Path $aot 'l2tp-forwarder'
    if ($LASTEXITCODE -ne 0 -or -not (Test-Path $native)) {
        $log | Select-Object -Last 15 | Write-Host
        Write-Warning "Native AOT publish of l2tp-forwarder failed: the module keeps the apphost, which runs l2tp-forwarder.dll on .NET."
        return
    }
    # The apphost it replaces is kept beside the native build: NativeForwarder.Tests.ps1 runs the module through it too.
    New-Item -ItemType Directory -Force (Join-Path $aot 'apphost') | Out-Null
    Move-Item -Force (Join-Path $Bin 'l2tp-forwarder') (Join-Path $aot 'apphost/l2tp-forwarder')
    Copy-Item -Force $native (Join-Path $Bin 'l2tp-forwarder')
}

# A copy of this pwsh ($PSHOME) with its IL-only assemblies precompiled, as Microsoft's self-contained release packages
# ship them (PowerShell.Common.props publishes those ReadyToRun); the dotnet tool's pwsh, which this repository runs, is
# IL only. Kept in out/pwsh-r2r (the kernel lab's guest sees it over 9p) and reused while $PSHOME is the same.
function New-ReadyToRunPwsh {
    $dest = Join-Path $Root 'out/pwsh-r2r'
    $stamp = Join-Path $dest '.source'
    if ((Test-Path $stamp) -and (Get-Content -Raw $stamp).Trim() -eq $PSHOME) { return $dest }
    $crossgen = Get-Crossgen2
    if (-not $crossgen) { return $null }
    Write-Host "==> ReadyToRun copy of $PSHOME in $dest"
    if (Test-Path $dest) { Remove-Item -Recurse -Force $dest }
    Copy-Item -Recurse $PSHOME $dest
    $names = Get-ChildItem (Join-Path $dest '*.dll') | Where-Object {
        $stream = [IO.File]::OpenRead($_.FullName)
        try { $pe = [System.Reflection.PortableExecutable.PEReader]::new($stream); $pe.HasMetadata -and $pe.PEHeaders.CorHeader.ManagedNativeHeaderDirectory.Size -eq 0 }
        catch { $false }
        finally { $stream.Dispose() }
    } | ForEach-Object BaseName
    Invoke-Crossgen2 $crossgen $dest $names
    Set-Content $stamp $PSHOME
    $dest
}

# The help generator (src/L2tp.HelpGen): reads en-US/docs/*.md, checks them against the cmdlets L2tp.psd1 exports and
# the parameters they really have, and writes en-US/L2tp.dll-Help.xml. The XML is generated, never edited, and not in
# git (en-US/.gitignore). Without -Assembly (the Docs task alone) it compiles L2tp.dll to read its cmdlets.
function Invoke-Docs {
    param([string] $Assembly)
    $work = Join-Path $Root 'out/helpgen'
    # dotnet build prints a summary even when quiet: show its output only when it fails.
    function Invoke-QuietBuild([string] $Project, [string] $Output) {
        $log = & dotnet build (Join-Path $Root $Project) -c $Configuration -o $Output --nologo -v quiet 2>&1
        if ($LASTEXITCODE -ne 0) { $log | Write-Host; throw "dotnet build $Project failed with exit code $LASTEXITCODE" }
    }
    if (-not $Assembly) {
        Invoke-QuietBuild 'src/L2tp/L2tp.csproj' (Join-Path $work 'module')
        $Assembly = Join-Path $work 'module/L2tp.dll'
    }
    Write-Host '==> Docs: en-US/docs/*.md -> en-US/L2tp.dll-Help.xml'
    $gen = Join-Path $work 'bin'
    Invoke-QuietBuild 'src/L2tp.HelpGen/L2tp.HelpGen.csproj' $gen
    & dotnet (Join-Path $gen 'L2tp.HelpGen.dll') --manifest (Join-Path $Root 'L2tp.psd1') --docs (Join-Path $Root 'en-US/docs') `
        --assembly $Assembly --output (Join-Path $Root 'en-US/L2tp.dll-Help.xml')
    if ($LASTEXITCODE -ne 0) {
        throw "The help is incomplete or wrong (L2tp.HelpGen exit code $LASTEXITCODE, problems listed above): every cmdlet that " +
            'L2tp.psd1 exports needs en-US/docs/<Cmdlet>.md with a section per parameter and at least two examples. ' +
            "Start a new file with: dotnet $(Join-Path $gen 'L2tp.HelpGen.dll') --manifest L2tp.psd1 --docs en-US/docs --assembly $Assembly --scaffold"
    }
}

# A .nupkg of out/L2tp that PSResourceGet (Install-PSResource, Save-PSResource) and PowerShellGet (Install-Module)
# install from a folder repository: Register-PSResourceRepository -Name L2tpLocal -Uri <folder with the nupkg> -Trusted.
function Invoke-Package {
    Invoke-Build
    $version = (Import-PowerShellDataFile (Join-Path $Root 'L2tp.psd1')).ModuleVersion
    $dest = Join-Path $Root 'out'
    Get-ChildItem $dest -Filter 'L2tp.*.nupkg' -ErrorAction Ignore | Remove-Item -Force
    Write-Host "==> Package L2tp $version into $dest"
    Compress-PSResource -Path $Out -DestinationPath $dest
    $nupkg = Join-Path $dest "L2tp.$version.nupkg"
    if (-not (Test-Path $nupkg)) { throw "Compress-PSResource did not write $nupkg" }
    Write-Host "Wrote $nupkg"
}

function Assert-Root {
    if ((id -u) -ne '0') { throw "The $Task task needs root (network namespaces and TAP devices): run it with sudo." }
}

# Debian packages the tests and the demo use; installed when missing so a fresh machine needs nothing by hand.
function Install-LabPackages {
    $want = [ordered]@{ ip = 'iproute2'; ping = 'iputils-ping'; 'qemu-system-x86_64' = 'qemu-system-x86'; tshark = 'tshark'; setpriv = 'util-linux'; ss = 'iproute2'; 'afl-fuzz' = 'afl++'; sshd = 'openssh-server'; 'systemd-analyze' = 'systemd'; strace = 'strace'; iperf3 = 'iperf3' }
    $missing = @($want.Keys | Where-Object { -not (Get-Command $_ -CommandType Application -ErrorAction Ignore) } | ForEach-Object { $want[$_] } | Select-Object -Unique)
    if ($missing.Count -eq 0) { return }
    Write-Host "==> apt-get install $($missing -join ' ')"
    $env:DEBIAN_FRONTEND = 'noninteractive'
    Invoke-Native apt-get @('update', '-qq')
    Invoke-Native apt-get (@('install', '-y', '-qq', '--no-install-recommends') + $missing)
}

function Get-PesterModule {
    $version = '5.7.1'
    $nuget = if ($env:NUGET_PACKAGES) { $env:NUGET_PACKAGES } else { Join-Path $HOME '.nuget/packages' }
    $psd1 = Join-Path $nuget "pester/$version/tools/Pester.psd1"
    if (-not (Test-Path $psd1)) {
        Invoke-Native dotnet @('restore', (Join-Path $Root 'tests/tools/Pester.proj'), '--nologo', '-v', 'quiet')
    }
    return $psd1
}

function Invoke-Test {
    Assert-Root
    Install-LabPackages
    Invoke-Build
    $results = Join-Path $Root 'out/test'
    New-Item -ItemType Directory -Force $results | Out-Null

    Write-Host '==> xunit'
    $trx = Join-Path $results 'xunit.trx'
    & dotnet test (Join-Path $Root 'tests/L2tp.Tests/L2tp.Tests.csproj') -c $Configuration --nologo `
        --logger "trx;LogFileName=$trx" --logger 'console;verbosity=minimal'
    $xunitPassed = 0; $xunitFailed = 0
    if (Test-Path $trx) {
        $counters = ([xml](Get-Content -Raw $trx)).TestRun.ResultSummary.Counters
        $xunitPassed = [int]$counters.passed
        $xunitFailed = [int]$counters.failed + [int]$counters.error + [int]$counters.timeout + [int]$counters.aborted
    }
    elseif ($LASTEXITCODE -ne 0) { $xunitFailed = 1 }   # the build of the tests failed: count it, never hide it

    # A bounded pass of each fuzz target (about 45 s each): one test per target, passed when it ran and found no crash.
    $fuzzPassed = 0; $fuzzFailed = 0
    try {
        $f = Invoke-FuzzTargets @('rx', 'gro', 'control') 45
        $fuzzPassed = $f.Passed; $fuzzFailed = $f.Failed
    }
    catch {
        Write-Host "fuzzing failed to start: $_"
        $fuzzFailed = 3
    }

    Write-Host '==> Pester'
    # A child pwsh keeps the module's loaded L2tp.dll out of this process, so a rebuild never meets a locked file.
    $pester = Get-PesterModule
    $paths = (@(if ($PesterPath) { $PesterPath -split ',' } else { Join-Path $Root 'tests/Pester' }) | ForEach-Object { (Resolve-Path $_).Path }) -join ';'
    $summary = Join-Path $results 'pester.json'
    $script = @'
param($pester, $summary, [string] $paths)
Import-Module $pester -MinimumVersion 5.7.1
$c = New-PesterConfiguration
$c.Run.Path = @($paths -split ';')
$c.Run.PassThru = $true
$c.Output.Verbosity = 'Detailed'
$c.TestResult.Enabled = $false
$r = Invoke-Pester -Configuration $c
@{ Passed = $r.PassedCount; Failed = $r.FailedCount + $r.FailedBlocksCount + $r.FailedContainersCount } | ConvertTo-Json | Set-Content $summary
'@
    $pwsh = [System.Diagnostics.Process]::GetCurrentProcess().MainModule.FileName
    if (Test-Path $summary) { Remove-Item $summary }
    $scriptFile = Join-Path $results 'run-pester.ps1'
    Set-Content $scriptFile $script
    if ((Split-Path -Leaf $pwsh) -eq 'dotnet') {
        & dotnet pwsh -NoProfile -File $scriptFile -pester $pester -summary $summary -paths $paths
    }
    else {
        & $pwsh -NoProfile -File $scriptFile -pester $pester -summary $summary -paths $paths
    }
    $pesterPassed = 0; $pesterFailed = 1
    if (Test-Path $summary) {
        $p = Get-Content -Raw $summary | ConvertFrom-Json
        $pesterPassed = [int]$p.Passed; $pesterFailed = [int]$p.Failed
    }
    if ($pesterPassed + $pesterFailed -eq 0) { $pesterFailed = 1 }   # no test ran: that is a failure, never a pass

    $passed = $xunitPassed + $fuzzPassed + $pesterPassed
    $failed = $xunitFailed + $fuzzFailed + $pesterFailed
    Write-Host "xunit: $xunitPassed passed, $xunitFailed failed; fuzz: $fuzzPassed passed, $fuzzFailed failed; Pester: $pesterPassed passed, $pesterFailed failed"
    Write-Host "$passed passed, $failed failed"
    if ($failed -gt 0) { exit 1 }
}

# Coverage-guided fuzzing (tests/L2tp.Fuzz): SharpFuzz instruments L2tp.Core.dll and l2tp-forwarder.dll in a publish folder
# of their own, and afl-fuzz drives the harness's persistent fork server, one target at a time.
$FuzzOut = Join-Path $Root 'out/fuzz'
$FuzzBin = Join-Path $FuzzOut 'bin'

function Build-FuzzHarness {
    Write-Host "==> Fuzz harness: publish tests/L2tp.Fuzz into $FuzzBin, instrument L2tp.Core.dll and l2tp-forwarder.dll"
    # Never publish over an instrumented assembly: SharpFuzz refuses to instrument twice, and a copy newer than its
    # source would be kept.
    if (Test-Path $FuzzBin) { Remove-Item -Recurse -Force $FuzzBin }
    Invoke-Native dotnet @('tool', 'restore')
    Invoke-Native dotnet @('publish', (Join-Path $Root 'tests/L2tp.Fuzz/L2tp.Fuzz.csproj'), '-c', $Configuration, '-o', $FuzzBin,
        '--nologo', '-v', 'quiet')
    foreach ($assembly in 'L2tp.Core.dll', 'l2tp-forwarder.dll') {
        Invoke-Native dotnet @('sharpfuzz', (Join-Path $FuzzBin $assembly))
    }
}

function Get-FuzzerStats([string] $Folder) {
    $stats = @{}
    $file = Join-Path $Folder 'default/fuzzer_stats'
    if (Test-Path $file) {
        foreach ($line in Get-Content $file) {
            if ($line -match '^(\w+)\s*:\s*(.*)$') { $stats[$Matches[1]] = $Matches[2].Trim() }
        }
    }
    return $stats
}

# Runs afl-fuzz on one target for $Seconds; returns whether it ran and found no crash. A crash is copied to
# out/fuzz/crashes with the command that reproduces it.
function Invoke-FuzzTarget([string] $Target, [int] $Seconds) {
    $findings = Join-Path $FuzzOut $Target
    if (Test-Path $findings) { Remove-Item -Recurse -Force $findings }
    $log = Join-Path $FuzzOut "$Target.log"
    $harness = Join-Path $FuzzBin 'L2tp.Fuzz.dll'
    Write-Host "==> afl-fuzz $Target for $Seconds s (log: $log)"
    # Root in a container: no CPU governor to ask, no core_pattern to change, no free core to bind to guaranteed; the
    # target binary is dotnet, whose instrumentation AFL cannot see (the harness speaks its fork server protocol).
    $env:AFL_SKIP_CPUFREQ = '1'; $env:AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES = '1'; $env:AFL_NO_UI = '1'
    $env:AFL_SKIP_BIN_CHECK = '1'; $env:AFL_NO_AFFINITY = '1'
    & afl-fuzz -V $Seconds -t 5000 -m none -i (Join-Path $Root "tests/fuzz/corpus/$Target") -o $findings -- dotnet $harness $Target *> $log
    $rc = $LASTEXITCODE
    $stats = Get-FuzzerStats $findings
    $execs = [long]($stats['execs_done'] ?? 0)
    Write-Host ("{0}: {1} executions ({2}/s), {3} edges ({4} map density), {5} corpus entries, {6} crashes, {7} hangs" -f $Target,
        $execs, ($stats['execs_per_sec'] ?? 0), ($stats['edges_found'] ?? 0), ($stats['bitmap_cvg'] ?? '?'),
        ($stats['corpus_count'] ?? 0), ($stats['saved_crashes'] ?? 0), ($stats['saved_hangs'] ?? 0))
    if ($rc -ne 0 -or $execs -eq 0) {
        Get-Content $log -Tail 20 | Write-Host
        Write-Host "afl-fuzz $Target did not run (exit code $rc): see $log"
        return $false
    }
    $crashes = @(Get-ChildItem (Join-Path $findings 'default/crashes') -Filter 'id*' -ErrorAction Ignore)
    $hangs = @(Get-ChildItem (Join-Path $findings 'default/hangs') -Filter 'id*' -ErrorAction Ignore)
    foreach ($hang in $hangs) {
        Write-Warning "$Target input ran past 5 s (kept in $($hang.FullName)): a hang, or a machine too busy"
    }
    if ($crashes.Count -eq 0) { return $true }
    $keep = Join-Path $FuzzOut 'crashes'
    New-Item -ItemType Directory -Force $keep | Out-Null
    $i = 0
    foreach ($crash in $crashes) {
        $copy = Join-Path $keep ('{0}-{1:d3}' -f $Target, $i++)
        Copy-Item $crash.FullName $copy
        Write-Host "CRASH $Target -> $copy"
        Write-Host "  reproduce: dotnet $harness $Target $copy"
        & dotnet $harness $Target $copy 2>&1 | Select-String -Pattern '^FAIL' | Select-Object -First 1 | ForEach-Object { Write-Host "  $_" }
    }
    return $false
}

function Invoke-FuzzTargets([string[]] $Targets, [int] $Seconds) {
    if (-not (Get-Command afl-fuzz -CommandType Application -ErrorAction Ignore)) {
        $env:DEBIAN_FRONTEND = 'noninteractive'
        Invoke-Native apt-get @('update', '-qq') | Out-Host
        Invoke-Native apt-get @('install', '-y', '-qq', '--no-install-recommends', 'afl++') | Out-Host
    }
    New-Item -ItemType Directory -Force $FuzzOut | Out-Null
    Remove-Item -Recurse -Force (Join-Path $FuzzOut 'crashes') -ErrorAction Ignore
    # Only the counts below are this function's output.
    Build-FuzzHarness | Out-Host
    $passed = 0; $failed = 0
    foreach ($t in $Targets) {
        if (Invoke-FuzzTarget $t $Seconds) { $passed++ } else { $failed++ }
    }
    return [pscustomobject]@{ Passed = $passed; Failed = $failed }
}

function Invoke-Fuzz {
    $targets = @($FuzzTarget -split ',' | ForEach-Object { $_.Trim() } | Where-Object { $_ })
    foreach ($t in $targets) {
        if ($t -notin 'rx', 'gro', 'control') { throw "-FuzzTarget $t is not a fuzz target: rx, gro or control." }
    }
    $r = Invoke-FuzzTargets $targets $FuzzSeconds
    Write-Host "fuzz: $($r.Passed) passed, $($r.Failed) failed"
    if ($r.Failed -gt 0) { exit 1 }
}

function Invoke-Demo {
    Assert-Root
    Install-LabPackages
    Invoke-Build
    Import-Module (Join-Path $Out 'L2tp.psd1') -Force
    $a = 'site-A'; $b = 'site-B'
    foreach ($ns in $a, $b) {
        if (Test-Path "/run/netns/$ns") { throw "Network namespace $ns already exists; remove it (ip netns del $ns) to run the demo." }
    }
    try {
        Write-Host "==> Two sites: network namespaces $a and $b, joined by a veth pair (192.0.2.1 <-> 192.0.2.2)"
        Invoke-Native ip @('netns', 'add', $a); Invoke-Native ip @('netns', 'add', $b)
        Invoke-Native ip @('link', 'add', 'veth-a', 'netns', $a, 'type', 'veth', 'peer', 'name', 'veth-b', 'netns', $b)
        Invoke-Native ip @('-n', $a, 'addr', 'add', '192.0.2.1/24', 'dev', 'veth-a')
        Invoke-Native ip @('-n', $b, 'addr', 'add', '192.0.2.2/24', 'dev', 'veth-b')
        foreach ($x in @($a, 'veth-a'), @($b, 'veth-b')) {
            Invoke-Native ip @('-n', $x[0], 'link', 'set', 'lo', 'up'); Invoke-Native ip @('-n', $x[0], 'link', 'set', $x[1], 'up')
        }

        Write-Host '==> ip l2tp add tunnel / add session, as cmdlets (ip-l2tp(8), "Setup L2TP tunnels and sessions")'
        New-L2tpTunnel -NetworkNamespace $a -TunnelId 3000 -PeerTunnelId 4000 -Encapsulation Udp -Local 192.0.2.1 -Remote 192.0.2.2 -SourcePort 5000 -DestinationPort 6000 |
            New-L2tpSession -SessionId 1000 -PeerSessionId 2000 | Out-Null
        New-L2tpTunnel -NetworkNamespace $b -tunnel_id 4000 -peer_tunnel_id 3000 -encap udp -local 192.0.2.2 -remote 192.0.2.1 -udp_sport 6000 -udp_dport 5000 |
            New-L2tpSession -session_id 2000 -peer_session_id 1000 | Out-Null

        Write-Host '==> "Configure as IP interfaces": Set-L2tpInterface -Up -Address 198.51.100.1 -PeerAddress 198.51.100.2'
        Get-L2tpSession -NetworkNamespace $a -TunnelId 3000 | Set-L2tpInterface -Up -Address 198.51.100.1 -PeerAddress 198.51.100.2 | Out-Null
        Get-L2tpSession -NetworkNamespace $b -TunnelId 4000 | Set-L2tpInterface -Up -Address 198.51.100.2 -PeerAddress 198.51.100.1 | Out-Null

        Write-Host "==> ping 198.51.100.2 from $a, through the pseudowire"
        Invoke-Native ip @('netns', 'exec', $a, 'ping', '-c', '3', '-i', '0.2', '-W', '2', '198.51.100.2')

        Write-Host "==> Get-L2tpTunnel / Get-L2tpSession in $a"
        Get-L2tpTunnel -NetworkNamespace $a | Format-Table | Out-String | Write-Host
        Get-L2tpSession -NetworkNamespace $a -TunnelId 3000 | Format-Table | Out-String | Write-Host

        Write-Host '==> Get-L2tpTunnel | Remove-L2tpTunnel -Force, on both sites'
        Get-L2tpTunnel -NetworkNamespace $a | Remove-L2tpTunnel -Force
        Get-L2tpTunnel -NetworkNamespace $b | Remove-L2tpTunnel -Force
        Write-Host 'Demo passed.'
    }
    finally {
        foreach ($ns in $a, $b) {
            if (Test-Path "/run/netns/$ns") {
                & ip netns pids $ns 2>$null | ForEach-Object { & kill -9 $_ 2>$null }
                & ip netns del $ns 2>$null
            }
        }
    }
}

# Throughput and latency through a managed pseudowire, as ratios to veth and VXLAN measured in the same run.
function Invoke-Bench {
    Assert-Root
    Install-LabPackages
    Invoke-Build
    $extra = @{}
    # The Kernel backend's rows once more on a ReadyToRun pwsh, as Microsoft's packages ship it, where this pwsh is the
    # dotnet tool's IL-only one.
    if ($BenchPart -in 'All', 'KernelControlPlane' -and (Split-Path -Leaf ([Environment]::ProcessPath)) -eq 'dotnet') {
        $r2r = New-ReadyToRunPwsh
        if ($r2r) { $extra.ReadyToRunPwsh = $r2r }
    }
    & (Join-Path $Root 'tests/bench/Bench.ps1') -Module (Join-Path $Out 'L2tp.psd1') -Part $BenchPart @extra | Out-Null
    # The plots (ScottPlot, tests/bench/Plot): session-creation time against session count; throughput, RTT and
    # 64-byte frame rate per path.
    $plot = Join-Path $Root 'out/benchplot'
    $log = & dotnet build (Join-Path $Root 'tests/bench/Plot/Plot.csproj') -c $Configuration -o $plot --nologo -v quiet 2>&1
    if ($LASTEXITCODE -ne 0) { $log | Write-Host; throw "dotnet build tests/bench/Plot failed with exit code $LASTEXITCODE" }
    Invoke-Native dotnet @((Join-Path $plot 'L2tp.BenchPlot.dll'), (Join-Path $Root 'out/bench/bench.json'), (Join-Path $Root 'out/bench'))
}

switch ($Task) {
    'Build' { Invoke-Build }
    'Bench' { Invoke-Bench }
    'Test' { Invoke-Test }
    'Demo' { Invoke-Demo }
    'Docs' { Invoke-Docs }
    'Package' { Invoke-Package }
    'Fuzz' { Invoke-Fuzz }
}
