#Requires -Version 7.4
<#
    The package of `build.ps1 -Task Package` (out/L2tp.<version>.nupkg) installs from a folder repository with both
    PSResourceGet (Install-PSResource) and PowerShellGet (Install-Module), and the installed module imports and works.

    Nothing touches the machine's own module path or repository lists: each install runs in a child pwsh whose HOME
    is a temporary folder, so its CurrentUser scope (~/.local/share/powershell/Modules) and its registered
    repositories (~/.local/share/PSResourceGet, ~/.cache/powershell/PowerShellGet) live and die in that folder.
#>

BeforeAll {
    $Root = (Resolve-Path (Join-Path $PSScriptRoot '../..')).Path
    $Built = Join-Path $Root 'out/L2tp'
    $Version = (Import-PowerShellDataFile (Join-Path $Root 'L2tp.psd1')).ModuleVersion
    $Nupkg = Join-Path $Root "out/L2tp.$Version.nupkg"
    $Suffix = [guid]::NewGuid().ToString('n').Substring(0, 10)
    $Tmp = Join-Path ([IO.Path]::GetTempPath()) "l2tp-package-$Suffix"
    $Repo = Join-Path $Tmp 'repo'
    $RepoName = "L2tpTest$Suffix"
    New-Item -ItemType Directory -Force $Repo | Out-Null

    # Starts a script in a child pwsh (the same PowerShell as this one); -HomeDir gives it a HOME of its own.
    # Children run side by side; Wait-ChildPwsh collects the exit code and everything one printed.
    function Start-ChildPwsh {
        param([Parameter(Mandatory)] [string] $Script, [string] $HomeDir)
        $file = Join-Path $Tmp "child-$([guid]::NewGuid().ToString('n')).ps1"
        Set-Content -Path $file -Value $Script
        $psi = [System.Diagnostics.ProcessStartInfo]::new()
        $self = [Environment]::ProcessPath
        if ((Split-Path -Leaf $self) -eq 'dotnet') {
            # pwsh as a dotnet tool (dotnet pwsh): run its pwsh.dll on the same dotnet.
            $psi.FileName = $self
            $psi.ArgumentList.Add((Join-Path $PSHOME 'pwsh.dll'))
        }
        else { $psi.FileName = $self }
        foreach ($a in '-NoProfile', '-NonInteractive', '-File', $file) { $psi.ArgumentList.Add($a) }
        $psi.RedirectStandardOutput = $true
        $psi.RedirectStandardError = $true
        $psi.UseShellExecute = $false
        $psi.Environment['POWERSHELL_TELEMETRY_OPTOUT'] = '1'
        $psi.Environment['POWERSHELL_UPDATECHECK'] = 'Off'
        $psi.Environment['NO_COLOR'] = '1'
        if ($HomeDir) {
            New-Item -ItemType Directory -Force $HomeDir | Out-Null
            $psi.Environment['HOME'] = $HomeDir
            # Let pwsh derive every per-user folder (modules, repositories, caches) from that HOME.
            foreach ($v in 'PSModulePath', 'XDG_DATA_HOME', 'XDG_CONFIG_HOME', 'XDG_CACHE_HOME') { $psi.Environment.Remove($v) | Out-Null }
        }
        $p = [System.Diagnostics.Process]::Start($psi)
        [pscustomobject]@{ Process = $p; Out = $p.StandardOutput.ReadToEndAsync(); Err = $p.StandardError.ReadToEndAsync(); Script = $Script }
    }

    function Wait-ChildPwsh {
        param([Parameter(Mandatory, ValueFromPipeline)] $Child, [int] $TimeoutSeconds = 60)
        process {
            if (-not $Child.Process.WaitForExit($TimeoutSeconds * 1000)) {
                $Child.Process.Kill($true)
                throw "child pwsh did not finish in $TimeoutSeconds s: $($Child.Script)"
            }
            $Child.Process.WaitForExit()
            [pscustomobject]@{ ExitCode = $Child.Process.ExitCode; Output = ($Child.Out.Result + $Child.Err.Result).Trim() }
        }
    }

    # The package under test is what `build.ps1 -Task Package` makes from the built module. Made here when it is
    # missing or older than out/L2tp (a Test run rebuilds the module but not the package).
    if (-not (Test-Path (Join-Path $Built 'L2tp.psd1'))) {
        $r = Start-ChildPwsh -Script "& '$Root/build.ps1' -Task Package; exit `$LASTEXITCODE" | Wait-ChildPwsh -TimeoutSeconds 300
        if ($r.ExitCode -ne 0) { throw "build.ps1 -Task Package failed:`n$($r.Output)" }
    }
    elseif (-not (Test-Path $Nupkg) -or (Get-Item $Nupkg).LastWriteTimeUtc -lt (Get-Item (Join-Path $Built 'bin/L2tp.dll')).LastWriteTimeUtc) {
        # The same step as the Package task, without rebuilding the module other test files have loaded.
        $r = Start-ChildPwsh -Script @"
`$ErrorActionPreference = 'Stop'
Get-ChildItem '$Root/out' -Filter 'L2tp.*.nupkg' | Remove-Item -Force
Compress-PSResource -Path '$Built' -DestinationPath '$Root/out'
"@ | Wait-ChildPwsh
        if ($r.ExitCode -ne 0) { throw "Compress-PSResource failed:`n$($r.Output)" }
    }
    Copy-Item $Nupkg $Repo

    # What the installed module must hold, beside L2tp.psd1.
    $Required = 'L2tp.psd1', 'L2tp.Format.ps1xml', 'bin/L2tp.dll', 'bin/Tmds.LibC.dll', 'bin/l2tp-forwarder.dll',
        'bin/l2tp-forwarder.runtimeconfig.json', 'en-US/L2tp.dll-Help.xml', 'en-US/about_L2tp.help.txt',
        'L2tpConfiguration.schema.json', 'systemd/l2tp-configuration.service'

    # After the install: imports the installed module by name (found through the temporary HOME's module path, so
    # neither out/ nor the machine's modules) and uses it.
    $UseScript = @"
`$m = Import-Module L2tp -RequiredVersion '$Version' -PassThru
`$r = [ordered]@{
    ModuleBase  = `$m.ModuleBase
    Commands    = @(Get-Command -Module L2tp).Count
    Synopsis    = (Get-Help New-L2tpTunnel).Synopsis
    Examples    = @((Get-Help New-L2tpTunnel).examples.example).Count
    About       = (Get-Help about_L2tp | Out-String).Length
    Tunnels     = 'not root'
}
# Listing tunnels needs root or CAP_NET_ADMIN, as ip l2tp show does; it never starts a forwarder.
if ((id -u) -eq '0') { `$r.Tunnels = @(Get-L2tpTunnel).Count }
'RESULT ' + (`$r | ConvertTo-Json -Compress)
"@

    # Both installs run at once, each in its own temporary HOME.
    $PSResourceGetHome = Join-Path $Tmp 'home-psresourceget'
    $PowerShellGetHome = Join-Path $Tmp 'home-powershellget'
    $children = @(
        Start-ChildPwsh -HomeDir $PSResourceGetHome -Script @"
`$ErrorActionPreference = 'Stop'
Register-PSResourceRepository -Name '$RepoName' -Uri '$Repo' -Trusted
Install-PSResource -Name L2tp -Version '$Version' -Repository '$RepoName' -Scope CurrentUser -TrustRepository -Quiet
$UseScript
"@
        Start-ChildPwsh -HomeDir $PowerShellGetHome -Script @"
`$ErrorActionPreference = 'Stop'
Register-PSRepository -Name '$RepoName' -SourceLocation '$Repo' -InstallationPolicy Trusted
Install-Module -Name L2tp -RequiredVersion '$Version' -Repository '$RepoName' -Scope CurrentUser
$UseScript
"@
    )
    $Results = @{ PSResourceGet = $children[0] | Wait-ChildPwsh; PowerShellGet = $children[1] | Wait-ChildPwsh }

    function Test-Use($Result, [string] $HomeDir) {
        $Result.ExitCode | Should -Be 0 -Because $Result.Output
        $line = $Result.Output -split "`n" | Where-Object { $_.StartsWith('RESULT ') } | Select-Object -Last 1
        $line | Should -Not -BeNullOrEmpty -Because $Result.Output
        $json = $line.Substring(7) | ConvertFrom-Json
        $json.ModuleBase | Should -BeLike "$HomeDir/*" -Because 'the module comes from the temporary install, not from out/ or the machine'
        $json.Commands | Should -Be (Import-PowerShellDataFile (Join-Path $PSScriptRoot '../../L2tp.psd1')).CmdletsToExport.Count
        $json.Synopsis | Should -Match 'L2TPv3 tunnel'
        $json.Examples | Should -BeGreaterOrEqual 2
        $json.About | Should -BeGreaterThan 1000
        if ($json.Tunnels -ne 'not root') { $json.Tunnels | Should -BeGreaterOrEqual 0 }
    }
}

AfterAll {
    if ($Tmp -and (Test-Path $Tmp)) {
        # Unregister the repository from the temporary homes (all there is to undo), then remove them with the installs.
        @(
            if ($PSResourceGetHome -and (Test-Path $PSResourceGetHome)) { Start-ChildPwsh -HomeDir $PSResourceGetHome -Script "Unregister-PSResourceRepository -Name '$RepoName'" }
            if ($PowerShellGetHome -and (Test-Path $PowerShellGetHome)) { Start-ChildPwsh -HomeDir $PowerShellGetHome -Script "Unregister-PSRepository -Name '$RepoName'" }
        ) | Wait-ChildPwsh | Out-Null
        Remove-Item -Recurse -Force $Tmp -ErrorAction SilentlyContinue
    }
}

Describe 'out/L2tp.<version>.nupkg' {
    It 'is a NuGet package of the module, with the module at its root' {
        Add-Type -AssemblyName System.IO.Compression.FileSystem
        $zip = [System.IO.Compression.ZipFile]::OpenRead($Nupkg)
        try {
            $names = @($zip.Entries.FullName)
            foreach ($f in $Required) { $names | Should -Contain $f }
            $names | Where-Object { $_ -like 'en-US/docs/*' } | Should -BeNullOrEmpty -Because 'the Markdown sources are not part of the module'
            $nuspec = $zip.Entries | Where-Object FullName -EQ 'L2tp.nuspec'
            $reader = [IO.StreamReader]::new($nuspec.Open())
            try { $xml = [xml]$reader.ReadToEnd() } finally { $reader.Dispose() }
            $xml.package.metadata.id | Should -Be 'L2tp'
            $xml.package.metadata.version | Should -Be $Version
            $xml.package.metadata.tags -split ' ' | Should -Contain 'PSModule'
        }
        finally { $zip.Dispose() }
    }
}

Describe 'Install-PSResource from a folder repository' {
    BeforeAll { $Installed = Join-Path $PSResourceGetHome ".local/share/powershell/Modules/L2tp/$Version" }

    It 'installs into CurrentUser scope (here the temporary HOME)' {
        $Results.PSResourceGet.ExitCode | Should -Be 0 -Because $Results.PSResourceGet.Output
        Join-Path $Installed 'L2tp.psd1' | Should -Exist
    }

    It 'installs the binaries, the forwarder and the help' {
        foreach ($f in $Required) { Join-Path $Installed $f | Should -Exist }
    }

    It 'imports by name in a child pwsh, and its cmdlets and help work' {
        Test-Use $Results.PSResourceGet $PSResourceGetHome
    }

    It 'left the machine''s own repository list alone' {
        Get-PSResourceRepository -Name $RepoName -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
    }
}

Describe 'Install-Module from a folder repository' {
    BeforeAll { $Installed = Join-Path $PowerShellGetHome ".local/share/powershell/Modules/L2tp/$Version" }

    It 'installs into CurrentUser scope (here the temporary HOME)' {
        $Results.PowerShellGet.ExitCode | Should -Be 0 -Because $Results.PowerShellGet.Output
        Join-Path $Installed 'L2tp.psd1' | Should -Exist
    }

    It 'installs the binaries, the forwarder and the help' {
        foreach ($f in $Required) { Join-Path $Installed $f | Should -Exist }
    }

    It 'imports by name in a child pwsh, and its cmdlets and help work' {
        Test-Use $Results.PowerShellGet $PowerShellGetHome
    }
}
