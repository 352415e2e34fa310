#Requires -Version 7.2
<#
    Caller.psm1: runs the L2tp module as someone other than root, the way a hostile or unprivileged local user
    would: as uid 65534 with no capabilities, as root of a private user namespace (`unshare -Ur`), or as uid 65534
    holding CAP_NET_ADMIN. Each run happens inside a network namespace through `ip netns exec`, so that a refusal
    comes from the forwarder (or the module) and not from setns(). With -Namespace '' it runs in the caller's own
    namespace, so that the script's -NetworkNamespace is what gets refused.

    Functions:
        New-LabCallerHome    -ModulePath <psd1>                                     -> string (a folder uid 65534 can read)
        Invoke-LabCaller     -CallerHome <dir> -Namespace <ns> -As <Nobody|UserNamespaceRoot|NobodyWithNetAdmin>
                             -Script <string> [-TimeoutSeconds <int>]               -> pscustomobject Ok/Id/Category/Target/Message/Output
        Remove-LabCallerHome -CallerHome <dir>                                      (never throws)
        Start-LabCallerProcess -Namespace <ns> [-Nobody] -FilePath <program> [-ArgumentList <string[]>]
                                                                                    -> Process (stdout redirected)
#>

Set-StrictMode -Version 3.0

function New-LabCallerHome {
    <#
    .SYNOPSIS
    Makes a folder uid 65534 can use: pwsh ($PSHOME lives under /root's NuGet cache, mode 0700) hard-linked or
    copied, the built module copied, and a home directory owned by 65534.
    #>
    [CmdletBinding()]
    [OutputType([string])]
    param([Parameter(Mandatory)][string]$ModulePath)
    $dir = Join-Path ([System.IO.Path]::GetTempPath()) ('l2tp-caller-' + [guid]::NewGuid().ToString('N').Substring(0, 8))
    New-Item -ItemType Directory -Path $dir | Out-Null
    & chmod 755 $dir
    & cp -al $PSHOME "$dir/pwsh" 2>$null
    if ($LASTEXITCODE -ne 0) { & rm -rf "$dir/pwsh"; & cp -a $PSHOME "$dir/pwsh" }
    & cp -a (Split-Path $ModulePath) "$dir/L2tp"
    & chmod -R a+rX "$dir/L2tp"
    New-Item -ItemType Directory -Path "$dir/home" | Out-Null
    & chown 65534:65534 "$dir/home"
    return $dir
}

function Remove-LabCallerHome {
    [CmdletBinding()]
    param([string]$CallerHome)
    if ($CallerHome -and (Test-Path $CallerHome)) { Remove-Item -Recurse -Force $CallerHome -ErrorAction Ignore }
}

function Invoke-LabCaller {
    <#
    .SYNOPSIS
    Runs -Script (with the module imported) in a child pwsh as -As, inside -Namespace. Returns whether it succeeded,
    the first error's FullyQualifiedErrorId, category, target and message, and its output as text.
    #>
    [CmdletBinding()]
    [OutputType([pscustomobject])]
    param(
        [Parameter(Mandatory)][string]$CallerHome,
        [Parameter(Mandatory)][AllowEmptyString()][string]$Namespace,
        [Parameter(Mandatory)][ValidateSet('Nobody', 'UserNamespaceRoot', 'NobodyWithNetAdmin')][string]$As,
        [Parameter(Mandatory)][string]$Script,
        [int]$TimeoutSeconds = 90
    )
    $file = Join-Path $CallerHome ('run-' + [guid]::NewGuid().ToString('N').Substring(0, 8) + '.ps1')
    Set-Content -Path $file -Value @"
`$ErrorActionPreference = 'Stop'
try {
    Import-Module '$CallerHome/L2tp/L2tp.psd1'
    `$out = & { $Script } | Out-String
    [pscustomobject]@{ Ok = `$true; Id = ''; Category = ''; Target = ''; Message = ''; Output = `$out } | ConvertTo-Json -Compress
}
catch {
    [pscustomobject]@{
        Ok = `$false; Id = `$_.FullyQualifiedErrorId; Category = "`$(`$_.CategoryInfo.Category)"
        Target = "`$(`$_.TargetObject)"; Message = `$_.Exception.Message; Output = ''
    } | ConvertTo-Json -Compress
}
"@
    & chmod 644 $file
    $who = @('setpriv', '--reuid=65534', '--regid=65534', '--clear-groups')
    $who += switch ($As) {
        'Nobody' { @('--inh-caps=-all', '--') }
        'UserNamespaceRoot' { @('--', 'unshare', '-Ur', '--') }
        'NobodyWithNetAdmin' { @('--inh-caps=+net_admin', '--ambient-caps=+net_admin', '--') }
    }
    $dotnet = [Environment]::ProcessPath
    $argv = @(if ($Namespace) { 'ip', 'netns', 'exec', $Namespace }) + $who + @($dotnet, "$CallerHome/pwsh/pwsh.dll", '-NoProfile', '-NonInteractive', '-File', $file)
    $psi = [System.Diagnostics.ProcessStartInfo]::new($argv[0])
    foreach ($a in $argv | Select-Object -Skip 1) { $psi.ArgumentList.Add($a) }
    $psi.Environment['HOME'] = "$CallerHome/home"
    $psi.Environment['POWERSHELL_TELEMETRY_OPTOUT'] = '1'
    $psi.Environment['POWERSHELL_UPDATECHECK'] = 'Off'
    $psi.Environment['L2TP_BACKEND'] = 'Managed'
    $psi.UseShellExecute = $false
    $psi.RedirectStandardOutput = $true
    $psi.RedirectStandardError = $true
    $p = [System.Diagnostics.Process]::Start($psi)
    try {
        $out = $p.StandardOutput.ReadToEndAsync()
        $err = $p.StandardError.ReadToEndAsync()
        if (-not $p.WaitForExit($TimeoutSeconds * 1000)) {
            try { $p.Kill($true) } catch { }
            throw "Timed out after $TimeoutSeconds s running as $As in $Namespace"
        }
        $p.WaitForExit()
        $json = $out.GetAwaiter().GetResult() -split "`n" | Where-Object { $_.StartsWith('{') } | Select-Object -Last 1
        if (-not $json) { throw "The $As caller printed no result: $($out.GetAwaiter().GetResult()) $($err.GetAwaiter().GetResult())" }
        return $json | ConvertFrom-Json
    }
    finally {
        $p.Dispose()
        Remove-Item $file -ErrorAction Ignore
    }
}

function Start-LabCallerProcess {
    <#
    .SYNOPSIS
    Starts a program inside -Namespace, as uid 65534 with no capabilities (-Nobody) or as root, with its standard
    output redirected so the test can read what it reports. The caller kills and disposes it.
    #>
    [CmdletBinding()]
    [OutputType([System.Diagnostics.Process])]
    param(
        [Parameter(Mandatory)][string]$Namespace,
        [switch]$Nobody,
        [Parameter(Mandatory)][string]$FilePath,
        [string[]]$ArgumentList = @()
    )
    $psi = [System.Diagnostics.ProcessStartInfo]::new('ip')
    $who = if ($Nobody) { @('setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', '--inh-caps=-all', '--') } else { @() }
    foreach ($a in @('netns', 'exec', $Namespace) + $who + @($FilePath) + $ArgumentList) { $psi.ArgumentList.Add($a) }
    $psi.RedirectStandardOutput = $true
    $psi.UseShellExecute = $false
    [System.Diagnostics.Process]::Start($psi)
}

Export-ModuleMember -Function New-LabCallerHome, Invoke-LabCaller, Remove-LabCallerHome, Start-LabCallerProcess
