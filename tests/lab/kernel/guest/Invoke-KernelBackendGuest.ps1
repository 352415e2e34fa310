#Requires -Version 7.2
<#
    Runs the guest suite (GuestSuite.psm1: the lab's own KernelLab.Guest.Tests.ps1, then the host's cmdlet files
    with Backend = Kernel) with Pester inside the kernel lab guest (started by the lab script of
    tests/Pester/KernelBackend.Tests.ps1) and reports to the host through the share:
        <ResultDirectory>/NNN.json   one per test, in run order: Key ("File / Describe / It"), Block, Name, Result
                                     (Passed, Failed, Skipped, NotRun), Passed, Message, DurationSeconds
        <ResultDirectory>/summary.json  PwshStartSeconds, PesterImportSeconds, PesterRunSeconds, counts, Error
    Each file is written under a temporary name and renamed. Exit code 0 once Pester has run (whatever the tests
    did), 1 if Pester itself could not run.
    With -VlanScript, then runs Vlan.Guest.ps1 in this same pwsh (the VLAN-per-bridge lab of KernelBackend.Tests.ps1),
    which saves a guest boot and a pwsh start under TCG; it reports into its own -VlanResultDirectory.
#>
param(
    [Parameter(Mandatory)][string]$ResultDirectory,
    [string]$PesterModule,
    # The guest's /proc/uptime when the lab script launched this pwsh (for the pwsh start-up time).
    [double]$LaunchUptime = -1,
    [string]$VlanScript,
    [string]$VlanModulePath,
    [string]$VlanRunsPath,
    [string]$VlanResultDirectory
)

function Get-Uptime { [double]::Parse(([System.IO.File]::ReadAllText('/proc/uptime') -split ' ')[0], [cultureinfo]::InvariantCulture) }

function Write-ResultFile([string]$Path, $Object) {
    $utf8 = [System.Text.UTF8Encoding]::new($false)
    [System.IO.File]::WriteAllText("$Path.tmp", ($Object | ConvertTo-Json -Depth 5), $utf8)
    [System.IO.File]::Move("$Path.tmp", $Path, $true)
}

# The message of the nearest error: the test's own, else that of the block (BeforeAll/AfterAll) that stopped it.
function Get-FailureMessage($Test) {
    $records = @($Test.ErrorRecord)
    $where = ''
    if (-not $records.Count) {
        for ($b = $Test.Block; $b; $b = $b.Parent) {
            if (@($b.ErrorRecord).Count) {
                $records = @($b.ErrorRecord)
                $where = if ($b.IsRoot) { 'in the file''s BeforeAll/AfterAll: ' } else { "in the BeforeAll/AfterAll of '$($b.Name)': " }
                break
            }
        }
    }
    $text = foreach ($r in $records) {
        $line = ''
        $frame = @("$($r.ScriptStackTrace)" -split "`n" | Where-Object { $_ -match '[\w.-]+\.Tests\.ps1: line \d+' }) | Select-Object -First 1
        if ($frame -and $frame -match '([\w.-]+\.Tests\.ps1): line (\d+)') { $line = " ($($Matches[1]) line $($Matches[2]))" }
        "$($r.Exception.Message)$line"
    }
    $where + ($text -join ' | ')
}

$start = Get-Uptime
$null = New-Item -ItemType Directory -Force -Path $ResultDirectory
$summary = [ordered]@{
    PwshStartSeconds    = if ($LaunchUptime -ge 0) { [math]::Round($start - $LaunchUptime, 1) } else { $null }
    PesterImportSeconds = $null
    PesterRunSeconds    = $null
    Passed              = 0
    Failed              = 0
    Skipped             = 0
    NotRun              = 0
    Error               = $null
}
try {
    if (-not $PesterModule) {
        $nuget = if ($env:NUGET_PACKAGES) { $env:NUGET_PACKAGES } else { Join-Path $HOME '.nuget/packages' }
        $PesterModule = Join-Path $nuget 'pester/5.7.1/tools/Pester.psd1'
    }
    Import-Module $PesterModule -MinimumVersion 5.7.1 -ErrorAction Stop
    $imported = Get-Uptime
    $summary.PesterImportSeconds = [math]::Round($imported - $start, 1)

    Import-Module (Join-Path $PSScriptRoot 'GuestSuite.psm1') -Force
    $c = New-PesterConfiguration
    $c.Run.Container = @(Get-GuestSuiteContainer)
    $c.Run.PassThru = $true
    $c.Output.Verbosity = 'Detailed'
    $c.TestResult.Enabled = $false
    $run = Invoke-Pester -Configuration $c
    $summary.PesterRunSeconds = [math]::Round((Get-Uptime) - $imported, 1)

    $i = 0
    foreach ($t in $run.Tests) {
        $i++
        $result = "$($t.Result)"
        $summary[$result] = [int]$summary[$result] + 1
        $k = Get-GuestTestKey $t
        Write-ResultFile (Join-Path $ResultDirectory ('{0:d3}.json' -f $i)) ([ordered]@{
                Key             = $k.Key
                Block           = $k.Block
                Name            = $k.Name
                Result          = $result
                Passed          = $result -eq 'Passed'
                Message         = if ($result -eq 'Passed') { '' } else { Get-FailureMessage $t }
                DurationSeconds = [math]::Round($t.Duration.TotalSeconds, 2)
            })
    }
    foreach ($container in $run.Containers) {
        if ("$($container.Result)" -eq 'Failed' -and @($container.ErrorRecord).Count) {
            $summary.Error = (@($container.ErrorRecord) | ForEach-Object { $_.Exception.Message }) -join ' | '
        }
    }
    $code = 0
}
catch {
    $summary.Error = "Pester did not run: $_"
    $code = 1
}
Write-ResultFile (Join-Path $ResultDirectory 'summary.json') $summary
if ($VlanScript) {
    # Its own summary says what went wrong there; its exit code does not change this run's.
    try {
        & $VlanScript -ModulePath $VlanModulePath -RunsPath $VlanRunsPath -ResultDirectory $VlanResultDirectory
    }
    catch {
        $null = New-Item -ItemType Directory -Force -Path $VlanResultDirectory
        Write-ResultFile (Join-Path $VlanResultDirectory 'summary.json') ([ordered]@{ Error = "Vlan.Guest.ps1 stopped: $_" })
    }
}
exit $code
