#!/usr/bin/env pwsh
<#
.SYNOPSIS
    Builds, tests and demonstrates the L2tp module.
.DESCRIPTION
    Tasks:
      Build    publish L2tp.dll, Tmds.LibC and l2tp-forwarder into out/L2tp (an importable module), with its help
      Docs     check en-US/docs/*.md (platyPS Markdown) against the cmdlets and write en-US/L2tp.dll-Help.xml (MAML)
      Package  Build, then out/L2tp.<version>.nupkg for Install-PSResource / Install-Module from a folder repository
      Test     Build, then xunit and every Pester file; prints 'N passed, N failed'
      Demo     Build, then the man page's pseudowire between network namespaces site-A and site-B
      Bench    Build, then iperf3/ping through a pseudowire vs veth and VXLAN baselines (tests/bench/Bench.ps1)
    Test and Demo need root (network namespaces, TAP devices); they install the Debian packages they use.
.EXAMPLE
    dotnet tool restore && dotnet pwsh -NoProfile -File build.ps1 -Task Test
#>
[CmdletBinding()]
param(
    [ValidateSet('Build', 'Test', 'Demo', 'Bench', 'Docs', 'Package')]
    [string] $Task = 'Build',
    [ValidateSet('Debug', 'Release')]
    [string] $Configuration = 'Release',
    # Pester files to run (default: all of tests/Pester).
    [string[]] $PesterPath
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
    foreach ($f in 'L2tp.dll', 'Tmds.LibC.dll', 'l2tp-forwarder.dll', 'l2tp-forwarder.runtimeconfig.json') {
        if (-not (Test-Path (Join-Path $bin $f))) { throw "build output is missing bin/$f" }
    }
    # Help for the cmdlets just built: fails the build when a cmdlet, parameter or example has no help.
    Invoke-Docs -Assembly (Join-Path $bin 'L2tp.dll')
    Copy-Item (Join-Path $Root 'L2tp.psd1'), (Join-Path $Root 'L2tp.Format.ps1xml') $Out
    # systemd units for those who supervise the forwarder themselves (README, "The managed forwarder").
    Copy-Item -Recurse (Join-Path $Root 'systemd') $Out
    # Only what Get-Help reads goes into the module: the MAML and the about_ topics, not the Markdown sources.
    $help = Join-Path $Out 'en-US'
    New-Item -ItemType Directory -Force $help | Out-Null
    Copy-Item (Join-Path $Root 'en-US/*') $help -Include '*-Help.xml', 'about_*.help.txt'
    $manifest = Import-PowerShellDataFile (Join-Path $Root 'L2tp.psd1')
    $needed = @($manifest.RootModule) + @($manifest.FormatsToProcess) + @("en-US/$(Split-Path -Leaf $manifest.RootModule)-Help.xml", 'en-US/about_L2tp.help.txt')
    foreach ($f in $needed) {
        if (-not (Test-Path (Join-Path $Out $f))) { throw "build output is missing $f" }
    }
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
    $want = [ordered]@{ ip = 'iproute2'; ping = 'iputils-ping'; 'qemu-system-x86_64' = 'qemu-system-x86'; tshark = 'tshark'; setpriv = 'util-linux'; ss = 'iproute2' }
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

    $passed = $xunitPassed + $pesterPassed
    $failed = $xunitFailed + $pesterFailed
    Write-Host "xunit: $xunitPassed passed, $xunitFailed failed; Pester: $pesterPassed passed, $pesterFailed failed"
    Write-Host "$passed passed, $failed failed"
    if ($failed -gt 0) { exit 1 }
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
    if (-not (Get-Command iperf3 -CommandType Application -ErrorAction Ignore)) {
        $env:DEBIAN_FRONTEND = 'noninteractive'
        Invoke-Native apt-get @('install', '-y', '-qq', '--no-install-recommends', 'iperf3')
    }
    Invoke-Build
    & (Join-Path $Root 'tests/bench/Bench.ps1') -Module (Join-Path $Out 'L2tp.psd1') | Out-Null
}

switch ($Task) {
    'Build' { Invoke-Build }
    'Bench' { Invoke-Bench }
    'Test' { Invoke-Test }
    'Demo' { Invoke-Demo }
    'Docs' { Invoke-Docs }
    'Package' { Invoke-Package }
}
