#Requires -Version 7.2
<#
    L2tpState.psm1 (imported by Lab.psm1): the L2tp module's view of a namespace: state snapshots for "nothing left behind", error records, clean-up.
    Needs root.

    Functions:
        Get-LabL2tpState        -Namespace <string> [-Backend <string>]                  -> pscustomobject Tunnels/Sessions/Links/Sockets
                                                                                            (+ IpTunnels/IpSessions with Kernel)
        Assert-LabL2tpState     -Namespace <string> -Expected <state> [-Because <string>] [-Backend <string>] (Pester Should)
        Get-LabIpL2tp           [-Namespace] <string> [-What] tunnel|session             -> objects of `ip -j l2tp show`
        Wait-LabL2tpTunnelGone  [-Namespace] <string> [-TunnelId] <uint32[]> [-Port] <uint16[]> [-Backend <string>]
                                [-TimeoutSeconds <double>]                               -> bool
        Assert-LabL2tpError     -ErrorRecord <object[]> -Id <string> -Category <ErrorCategory> [-Target <object>] (Pester Should)
        Remove-LabL2tpConfig    -Namespace <string[]> [-Backend <string>] [-Keep <uint32[]>] [-RootNamespace] (never throws)
        Import-LabL2tpModule    [-TimeoutSeconds <int>]                                  -> string (path of the built L2tp.psd1)
#>

Set-StrictMode -Version 3.0

Import-Module (Join-Path $PSScriptRoot 'Namespace.psm1')
Import-Module (Join-Path $PSScriptRoot 'Traffic.psm1')

function Get-LabIpL2tp {
    <#
    .SYNOPSIS
    `ip -j l2tp show tunnel|session` in a namespace as objects: iproute2's own view of the kernel's L2TP state
    (empty where the kernel has none: with the Managed backend, or a kernel without L2TP).
    #>
    [CmdletBinding()]
    param([Parameter(Mandatory, Position = 0)][AllowEmptyString()][string]$Namespace, [Parameter(Mandatory, Position = 1)][ValidateSet('tunnel', 'session')][string]$What)
    # Without l2tp_netlink (this host's kernel has no L2TP) the kernel holds no L2TP state and ip l2tp fails.
    if (-not (Test-Path -LiteralPath '/sys/module/l2tp_netlink')) { return }
    $text = (Invoke-LabIp $Namespace @('-j', 'l2tp', 'show', $What)).Trim()
    if (-not $text) { return }
    foreach ($o in @($text | ConvertFrom-Json)) { $o }
}

function Get-LabL2tpState {
    <#
    .SYNOPSIS
    A comparable snapshot of a namespace for "nothing left behind" checks: the L2TP tunnels and sessions the
    module reports (Get-L2tpTunnel / Get-L2tpSession, with -Backend when given), the interface names, and the
    local UDP endpoints, each as one sorted, comma-joined string. With -Backend Kernel also what `ip l2tp show`
    reports, so that the cmdlets cannot hide something the kernel kept.
    #>
    [CmdletBinding()]
    param([Parameter(Mandatory)][AllowEmptyString()][string]$Namespace, [string]$Backend)
    $b = @{}; if ($Backend) { $b.Backend = $Backend }
    $state = [ordered]@{
        Tunnels  = @(Get-L2tpTunnel @b -NetworkNamespace $Namespace -ErrorAction Stop | ForEach-Object { "$($_.TunnelId)" } | Sort-Object) -join ','
        Sessions = @(Get-L2tpSession @b -NetworkNamespace $Namespace -ErrorAction Stop |
                ForEach-Object { "$($_.TunnelId)/$($_.SessionId)/$($_.InterfaceName)" } | Sort-Object) -join ','
        Links    = @(Get-LabLinkName -Namespace $Namespace | Sort-Object) -join ','
        Sockets  = @(Get-LabUdpSocket -Namespace $Namespace | ForEach-Object Local | Sort-Object) -join ','
    }
    if ($Backend -eq 'Kernel') {
        $state.IpTunnels = @(Get-LabIpL2tp $Namespace tunnel | ForEach-Object { "$($_.tunnel_id)" } | Sort-Object) -join ','
        $state.IpSessions = @(Get-LabIpL2tp $Namespace session | ForEach-Object { "$($_.tunnel_id)/$($_.session_id)/$($_.interface)" } | Sort-Object) -join ','
    }
    [pscustomobject]$state
}

function Assert-LabL2tpState {
    <#
    .SYNOPSIS
    Asserts (with Pester's Should) that the namespace's Get-LabL2tpState equals -Expected (taken with the same
    -Backend).
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)][AllowEmptyString()][string]$Namespace,
        [Parameter(Mandatory)][pscustomobject]$Expected,
        [string]$Because = 'a failed command must leave nothing behind',
        [string]$Backend
    )
    $now = Get-LabL2tpState -Namespace $Namespace -Backend $Backend
    foreach ($k in $Expected.PSObject.Properties.Name) {
        $now.$k | Should -Be $Expected.$k -Because "$Because ($k in '$Namespace')"
    }
}

function Wait-LabL2tpTunnelGone {
    <#
    .SYNOPSIS
    Waits up to -TimeoutSeconds (0: looks once) until Get-L2tpTunnel (with -Backend when given) and
    `ip l2tp show tunnel` list none of -TunnelId and no UDP socket holds one of -Port; $true once so.
    The kernel deletes a tunnel asynchronously (a work item closes its sessions and socket after the reply).
    #>
    [CmdletBinding()]
    [OutputType([bool])]
    param(
        [Parameter(Mandatory, Position = 0)][AllowEmptyString()][string]$Namespace,
        [Parameter(Position = 1)][uint32[]]$TunnelId = @(),
        [Parameter(Position = 2)][uint16[]]$Port = @(),
        [string]$Backend,
        [double]$TimeoutSeconds = 10
    )
    $b = @{}; if ($Backend) { $b.Backend = $Backend }
    $deadline = [DateTime]::UtcNow.AddSeconds($TimeoutSeconds)
    while ($true) {
        $listed = @(Get-L2tpTunnel @b -NetworkNamespace $Namespace -ErrorAction SilentlyContinue | ForEach-Object { [uint32]$_.TunnelId }) +
            @(Get-LabIpL2tp $Namespace tunnel | ForEach-Object { [uint32]$_.tunnel_id })
        $bound = @(Get-LabUdpSocket -Namespace $Namespace | ForEach-Object { [int]($_.Local -replace '^.*:', '') })
        if (-not @($TunnelId | Where-Object { $_ -in $listed }).Count -and -not @($Port | Where-Object { [int]$_ -in $bound }).Count) { return $true }
        if ([DateTime]::UtcNow -ge $deadline) { return $false }
        Start-Sleep -Milliseconds 100
    }
}

function Assert-LabL2tpError {
    <#
    .SYNOPSIS
    Asserts (with Pester's Should) that -ErrorRecord holds exactly one ErrorRecord whose FullyQualifiedErrorId is
    -Id (optionally followed by ",CommandName"), whose category is -Category, and, when -Target is given, whose
    TargetObject prints as -Target.
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)][AllowNull()][AllowEmptyCollection()][object[]]$ErrorRecord,
        [Parameter(Mandatory)][string]$Id,
        [Parameter(Mandatory)][System.Management.Automation.ErrorCategory]$Category,
        [object]$Target
    )
    $list = @($ErrorRecord | Where-Object { $null -ne $_ })
    $text = ($list | ForEach-Object { "[$($_.FullyQualifiedErrorId)] $_" }) -join ' | '
    $list.Count | Should -Be 1 -Because "exactly one error was expected, got: $text"
    $e = $list[0]
    $e | Should -BeOfType ([System.Management.Automation.ErrorRecord])
    $e.FullyQualifiedErrorId | Should -Match ('^{0}(,|$)' -f [regex]::Escape($Id)) -Because "the message was: $e"
    $e.CategoryInfo.Category | Should -Be $Category -Because "the error was [$($e.FullyQualifiedErrorId)] $e"
    if ($PSBoundParameters.ContainsKey('Target')) {
        "$($e.TargetObject)" | Should -BeExactly "$Target" -Because "the error was [$($e.FullyQualifiedErrorId)] $e"
    }
}

function Remove-LabL2tpConfig {
    <#
    .SYNOPSIS
    Removes every tunnel (and so every session) the module reports in each namespace (with -Backend when given),
    ignoring errors: for test set-up and clean-up. With the kernel's tunnels it waits until the kernel has let go
    of them, and falls back to `ip l2tp del tunnel` for any the cmdlets left: clean-up must not depend on the code
    under test. Never throws.
    #>
    [CmdletBinding()]
    param([Parameter(ValueFromPipeline)][AllowNull()][AllowEmptyString()][string[]]$Namespace, [string]$Backend, [uint32[]]$Keep = @(), [switch]$RootNamespace)
    process {
        $b = @{}; if ($Backend) { $b.Backend = $Backend }
        foreach ($ns in $Namespace) {
            if (-not $ns -and -not $RootNamespace) { continue }
            try {
                $tunnels = @(Get-L2tpTunnel @b -NetworkNamespace $ns -ErrorAction SilentlyContinue | Where-Object TunnelId -NotIn $Keep)
                $tunnels | Remove-L2tpTunnel -Force -Confirm:$false -ErrorAction SilentlyContinue
                $kernel = @($tunnels | Where-Object { "$($_.Backend)" -eq 'Kernel' })
                if (-not $kernel.Count) { continue }
                $ids = @($kernel.TunnelId)
                $ports = @($kernel | Where-Object SourcePort -GT 0 | ForEach-Object SourcePort)
                if (-not (Wait-LabL2tpTunnelGone $ns $ids $ports -Backend Kernel)) {
                    foreach ($id in $ids) { try { $null = Invoke-LabIp $ns @('l2tp', 'del', 'tunnel', 'tunnel_id', "$id") } catch { Write-Verbose "$_" } }
                    $null = Wait-LabL2tpTunnelGone $ns $ids $ports -Backend Kernel
                }
            }
            catch { Write-Verbose "Remove-LabL2tpConfig $ns : $_" }
        }
    }
}

function Import-LabL2tpModule {
    <#
    .SYNOPSIS
    Imports the built module (out/L2tp/L2tp.psd1) into the caller's session, waiting up to 90 s while out/ is being
    rebuilt by a concurrent build.
    #>
    [CmdletBinding()]
    param([int]$TimeoutSeconds = 90)
    $path = [System.IO.Path]::GetFullPath((Join-Path $PSScriptRoot '../../out/L2tp/L2tp.psd1'))
    $deadline = [DateTime]::UtcNow.AddSeconds($TimeoutSeconds)
    while ($true) {
        try { Import-Module $path -Force -Global -ErrorAction Stop; return $path }
        catch {
            if ([DateTime]::UtcNow -gt $deadline) { throw }
            Start-Sleep -Seconds 2
        }
    }
}

Export-ModuleMember -Function @('Get-LabIpL2tp', 'Wait-LabL2tpTunnelGone', 'Get-LabL2tpState', 'Assert-LabL2tpState', 'Assert-LabL2tpError', 'Remove-LabL2tpConfig', 'Import-LabL2tpModule')
