#Requires -Version 7.2
<#
    GuestSuite.psm1: what the kernel lab guest runs with Pester, in one pwsh (Invoke-KernelBackendGuest.ps1), and
    the names under which the host (tests/Pester/KernelBackend.Tests.ps1) reports each test.

        Get-GuestSuiteContainer                 -> Pester containers, in run order
        Get-GuestTestKey -Test <Pester test>    -> "File / Describe / ... / It" (expanded names)
        Get-GuestSuiteTest [-PesterModule]      -> File/Block/Name/Key of every test, from a Pester discovery in a
                                                   child pwsh (no run; the host lists them before the guest boots)
#>

Set-StrictMode -Version 3.0

# The lab's own file comes first: the host waits for its mixed pseudowire's site-A. Then the cmdlet files shared
# with the host, with the Kernel backend.
$script:Suite = @(
    @{ Path = 'KernelLab.Guest.Tests.ps1'; Data = @{} }
    @{ Path = 'Configuration.Guest.Tests.ps1'; Data = @{} }
    @{ Path = '../../../Pester/L2tpTunnel.Tests.ps1'; Data = @{ Backend = 'Kernel' } }
    @{ Path = '../../../Pester/L2tpSession.Tests.ps1'; Data = @{ Backend = 'Kernel' } }
)

function Get-GuestSuiteContainer {
    foreach ($c in $script:Suite) {
        New-PesterContainer -Path ([System.IO.Path]::GetFullPath((Join-Path $PSScriptRoot $c.Path))) -Data $c.Data
    }
}

# A name with its <Key> templates filled from the -ForEach data, as Pester does when it runs the test. Done here
# because a discovery without a run (the host's) leaves ExpandedName unset, and both sides must agree on the key.
function Expand-GuestName([string]$Name, $Data) {
    if (-not ($Data -is [System.Collections.IDictionary])) { return $Name }
    [regex]::Replace($Name, '<(\w+)>', { param($m) if ($Data.Contains($m.Groups[1].Value)) { "$($Data[$m.Groups[1].Value])" } else { $m.Value } })
}

function Get-GuestTestKey($Test) {
    $names = [System.Collections.Generic.List[string]]::new()
    for ($b = $Test.Block; $b -and -not $b.IsRoot; $b = $b.Parent) { $names.Insert(0, (Expand-GuestName $b.Name $b.Data)) }
    $file = [System.IO.Path]::GetFileName($Test.ScriptBlock.File)
    $name = Expand-GuestName $Test.Name $Test.Data
    [pscustomobject]@{ File = $file; Block = (@($file) + $names) -join ' / '; Name = $name; Key = (@($file) + $names + @($name)) -join ' / ' }
}

function Get-GuestSuiteTest {
    param([string]$PesterModule)
    if (-not $PesterModule) {
        $nuget = if ($env:NUGET_PACKAGES) { $env:NUGET_PACKAGES } else { Join-Path $HOME '.nuget/packages' }
        $PesterModule = Join-Path $nuget 'pester/5.7.1/tools/Pester.psd1'
    }
    # A child pwsh: Invoke-Pester inside a running Pester would disturb the outer run's state.
    $script = @'
param($Pester, $Suite)
Import-Module $Pester -MinimumVersion 5.7.1
Import-Module $Suite
$c = New-PesterConfiguration
$c.Run.Container = @(Get-GuestSuiteContainer)
$c.Run.SkipRun = $true
$c.Run.PassThru = $true
$c.Output.Verbosity = 'None'
$r = Invoke-Pester -Configuration $c
$bad = @($r.Containers | Where-Object { "$($_.Result)" -eq 'Failed' })
if ($bad.Count) { throw "Pester discovery of the guest suite failed: $(@($bad.ErrorRecord) -join ' | ')" }
ConvertTo-Json -Compress -InputObject @($r.Tests | ForEach-Object { Get-GuestTestKey $_ })
'@
    $file = Join-Path ([System.IO.Path]::GetTempPath()) ('guest-suite-' + [guid]::NewGuid().ToString('N').Substring(0, 8) + '.ps1')
    Set-Content -LiteralPath $file -Value $script
    try {
        $pwsh = [Environment]::ProcessPath
        $pre = @(); if ((Split-Path -Leaf $pwsh) -eq 'dotnet') { $pre += Join-Path $PSHOME 'pwsh.dll' }
        $out = & $pwsh @pre -NoProfile -NonInteractive -File $file -Pester $PesterModule -Suite (Join-Path $PSScriptRoot 'GuestSuite.psm1')
        if ($LASTEXITCODE -ne 0) { throw "Listing the guest suite failed (exit $LASTEXITCODE): $out" }
        @(($out | Select-Object -Last 1) | ConvertFrom-Json)
    }
    finally { Remove-Item -LiteralPath $file -ErrorAction Ignore }
}

Export-ModuleMember -Function Get-GuestSuiteContainer, Get-GuestTestKey, Get-GuestSuiteTest
