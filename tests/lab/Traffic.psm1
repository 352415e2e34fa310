#Requires -Version 7.2
<#
    Traffic.psm1 (imported by Lab.psm1): traffic through a namespace: ping, and UDP sockets held open or listed.
    Needs root.

    Functions:
        Test-LabPing            -Namespace <string> -Address <string> [-Count <int>] [-TimeoutSeconds <int>]
                                [-Attempts <int>] [-Size <int>] [-DontFragment] [-MinimumReplies <int>] -> bool
        Start-LabUdpSocket      -Namespace <string> -Address <ip> -Port <uint16> [-TimeoutSeconds <int>] -> Process
        Stop-LabUdpSocket       -Process <Process>                                       (never throws)
        Get-LabUdpSocket        -Namespace <string>                                      -> pscustomobject Local/Peer/Process
#>

Set-StrictMode -Version 3.0

Import-Module (Join-Path $PSScriptRoot 'Namespace.psm1')

function Test-LabPing {
    <#
    .SYNOPSIS
    Pings -Address from inside -Namespace (empty: the current one); returns $true when at least -MinimumReplies (default: all -Count)
    echo replies came back. -Attempts retries the whole ping (for the first ping, while ARP resolves).
    #>
    [CmdletBinding()]
    [OutputType([bool])]
    param(
        [Parameter(Mandatory)][AllowEmptyString()][string]$Namespace,
        [Parameter(Mandatory)][string]$Address,
        [ValidateRange(1, 1000)][int]$Count = 3,
        [ValidateRange(1, 60)][int]$TimeoutSeconds = 1,
        [ValidateRange(1, 100)][int]$Attempts = 1,
        [int]$Size = -1,
        [switch]$DontFragment,
        [int]$MinimumReplies = -1
    )
    $need = if ($MinimumReplies -ge 0) { $MinimumReplies } else { $Count }
    $args_ = @('-n', '-c', "$Count", '-W', "$TimeoutSeconds", '-i', '0.2')
    if ($Size -ge 0) { $args_ += @('-s', "$Size") }
    if ($DontFragment) { $args_ += @('-M', 'do') }
    $args_ += $Address
    for ($i = 1; $i -le $Attempts; $i++) {
        $r = Invoke-LabCommand -Namespace $Namespace -FilePath 'ping' -ArgumentList $args_
        $received = 0
        if ($r.StdOut -match '(\d+) (packets )?received') { $received = [int]$Matches[1] }
        Write-Verbose "[$Namespace] ping $($args_ -join ' ') attempt $i : exit $($r.ExitCode), $received/$Count received`n$($r.StdOut)$($r.StdErr)"
        if ($received -ge $need -and $received -gt 0) { return $true }
        if ($i -lt $Attempts) { Start-Sleep -Milliseconds 300 }
    }
    $false
}

function Start-LabUdpSocket {
    <#
    .SYNOPSIS
    Starts a background process inside -Namespace that holds a UDP socket bound to -Address:-Port (perl), and
    returns the Process once the socket shows in `ss -uan`. Stop it with Stop-LabUdpSocket.
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)][string]$Namespace,
        [Parameter(Mandatory)][string]$Address,
        [Parameter(Mandatory)][uint16]$Port,
        [int]$TimeoutSeconds = 10
    )
    $log = Join-Path ([System.IO.Path]::GetTempPath()) ("l2tplab-udp-{0}.log" -f [guid]::NewGuid().ToString('N').Substring(0, 8))
    $script = 'use IO::Socket::INET; my $s = IO::Socket::INET->new(Proto => "udp", LocalAddr => $ARGV[0], LocalPort => $ARGV[1]) or die "bind: $!\n"; sleep 600;'
    $p = Start-LabBackgroundProcess -Namespace $Namespace -FilePath 'perl' -ArgumentList @('-e', $script, $Address, "$Port") -LogPath $log
    $p | Add-Member -NotePropertyName Namespace -NotePropertyValue $Namespace
    $p | Add-Member -NotePropertyName LogPath -NotePropertyValue $log
    $needle = if ($Address.Contains(':')) { "[$Address]:$Port" } else { "${Address}:$Port" }
    $ok = Wait-LabCondition -TimeoutSeconds $TimeoutSeconds -Condition {
        $p.HasExited -or (Invoke-LabCommand -Namespace $Namespace -FilePath 'ss' -ArgumentList @('-uanH')).StdOut.Contains($needle)
    }
    if ($p.HasExited -or -not $ok) {
        $text = if (Test-Path $log) { Get-Content -Raw $log } else { '' }
        Stop-LabUdpSocket -Process $p
        throw "Could not bind UDP $needle in '$Namespace': $text"
    }
    $p
}

function Stop-LabUdpSocket {
    <#
    .SYNOPSIS
    Ends a process from Start-LabUdpSocket (its socket closes with it). Never throws.
    #>
    [CmdletBinding()]
    param([Parameter(Mandatory, ValueFromPipeline)][AllowNull()][System.Diagnostics.Process]$Process)
    process {
        if ($null -eq $Process) { return }
        try { Stop-LabBackgroundProcess $Process } catch { Write-Verbose "Stop-LabUdpSocket: $_" }
        try { Remove-Item -Force -ErrorAction Ignore $Process.PSObject.Properties['LogPath'].Value } catch { }
    }
}

function Get-LabUdpSocket {
    <#
    .SYNOPSIS
    The local address:port of every UDP socket in a namespace (`ss -N NS -uanpH`, one process), plus the owning
    process when there is one (a kernel L2TP tunnel socket has none).
    #>
    [CmdletBinding()]
    param([Parameter(Mandatory)][AllowEmptyString()][string]$Namespace)
    $a = @(if ($Namespace) { '-N', $Namespace }) + @('-uanpH')
    $r = Invoke-LabCommand -FilePath 'ss' -ArgumentList $a
    if ($r.ExitCode -ne 0) { throw "ss $($a -join ' ') failed (exit $($r.ExitCode)): $($r.StdErr.Trim())" }
    foreach ($line in $r.StdOut -split "`n") {
        $f = @($line.Trim() -split '\s+')
        if ($f.Count -ge 5) { [pscustomobject]@{ Local = $f[3]; Peer = $f[4]; Process = ($f | Select-Object -Skip 5) -join ' ' } }
    }
}

Export-ModuleMember -Function @('Test-LabPing', 'Start-LabUdpSocket', 'Stop-LabUdpSocket', 'Get-LabUdpSocket')
