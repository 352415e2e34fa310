#Requires -Version 7.2
<#
    Qemu.psm1 (imported by Lab.psm1): QEMU's -netdev l2tpv3 as an independent L2TPv3 peer (RFC 3931) behind a TAP device.
    Needs root.

    Functions:
        Start-LabQemuL2tpv3     -Namespace <string> [-TapName <string>] -Src <ip> -Dst <ip> [-SrcPort <uint16>]
                                [-DstPort <uint16>] -TxSession <uint32> -RxSession <uint32> [-TxCookie <hex>]
                                [-RxCookie <hex>] [-Cookie64] [-Counter] [-Encapsulation Udp|Ip] [-TapAddress <cidr>]
                                [-TimeoutSeconds <int>]                                  -> System.Diagnostics.Process (+ Namespace, TapName, LogPath, QemuCommand)
        Stop-LabQemuL2tpv3      -Process <Process> [-KeepLog]                            (never throws)
#>

Set-StrictMode -Version 3.0

Import-Module (Join-Path $PSScriptRoot 'Namespace.psm1')

function ConvertTo-QemuCookie([string]$Hex, [string]$Name) {
    $h = $Hex -replace '^0x', ''
    if ($h -notmatch '^[0-9a-fA-F]{1,16}$') { throw "-$Name '$Hex' is not a hex cookie." }
    [Convert]::ToUInt64($h, 16).ToString([cultureinfo]::InvariantCulture)
}

function Start-LabQemuL2tpv3 {
    <#
    .SYNOPSIS
    Starts QEMU in the background inside -Namespace as a static L2TPv3 peer: a TAP device (-TapName) hubbed to
    QEMU's l2tpv3 netdev. Waits for the TAP to appear, brings it up, optionally gives it -TapAddress, and returns
    the QEMU Process with NoteProperties Namespace, TapName, LogPath and QemuCommand.
    QEMU's txsession is the session id it writes (our SessionId); rxsession the one it accepts (our PeerSessionId).
    -Counter adds QEMU's 4-byte counter (the RFC 4719 default sublayer); without it there is no sublayer.
    Cookies are hex, written big-endian as QEMU does; -Cookie64 makes them 8 bytes.
    -Netdev instead takes a whole 'l2tpv3,...' netdev argument as given (e.g. by ConvertTo-L2tpPeerConfiguration
    -Format Qemu); its id is replaced by the one the hub joins.
    #>
    [CmdletBinding(DefaultParameterSetName = 'Fields')]
    param(
        [Parameter(Mandatory)][string]$Namespace,
        [ValidateLength(1, 15)][string]$TapName = 'qtap0',
        [Parameter(Mandatory, ParameterSetName = 'Netdev')][ValidatePattern('^l2tpv3,')][string]$Netdev,
        [Parameter(Mandatory, ParameterSetName = 'Fields')][string]$Src,
        [Parameter(Mandatory, ParameterSetName = 'Fields')][string]$Dst,
        [uint16]$SrcPort,
        [uint16]$DstPort,
        [Parameter(Mandatory, ParameterSetName = 'Fields')][uint32]$TxSession,
        [Parameter(Mandatory, ParameterSetName = 'Fields')][uint32]$RxSession,
        [string]$TxCookie,
        [string]$RxCookie,
        [switch]$Cookie64,
        [switch]$Counter,
        [ValidateSet('Udp', 'Ip')][string]$Encapsulation = 'Udp',
        [string]$TapAddress,
        [int]$TimeoutSeconds = 10
    )
    if ($Netdev) {
        $l2 = @($Netdev.Substring('l2tpv3,'.Length).Split(',') | Where-Object { $_ -notlike 'id=*' })
    }
    else {
        $l2 = @("src=$Src", "dst=$Dst")
        if ($Encapsulation -eq 'Udp') {
            if (-not $SrcPort -or -not $DstPort) { throw 'UDP encapsulation needs -SrcPort and -DstPort.' }
            $l2 += @('udp=on', "srcport=$SrcPort", "dstport=$DstPort")
        }
        else {
            $l2 += 'udp=off'
        }
        if ($Src.Contains(':')) { $l2 += 'ipv6=on' }
        $l2 += @("txsession=$TxSession", "rxsession=$RxSession")
        if ($TxCookie) { $l2 += "txcookie=$(ConvertTo-QemuCookie $TxCookie 'TxCookie')" }
        if ($RxCookie) { $l2 += "rxcookie=$(ConvertTo-QemuCookie $RxCookie 'RxCookie')" }
        # Only ever say cookie64=on: QEMU takes the mere presence of cookie64 (even cookie64=off) as a 64-bit cookie.
        if ($Cookie64) { $l2 += 'cookie64=on' }
        $l2 += "counter=$(if ($Counter) { 'on' } else { 'off' })"
    }
    $qemuArgs = @(
        '-nodefaults', '-display', 'none', '-machine', 'none',
        '-netdev', "tap,id=t0,ifname=$TapName,script=no,downscript=no",
        '-netdev', ('l2tpv3,id=l0,' + ($l2 -join ',')),
        '-netdev', 'hubport,id=h0,hubid=0,netdev=t0',
        '-netdev', 'hubport,id=h1,hubid=0,netdev=l0'
    )
    $log = Join-Path ([System.IO.Path]::GetTempPath()) ("l2tplab-qemu-{0}.log" -f [guid]::NewGuid().ToString('N').Substring(0, 8))
    $p = Start-LabBackgroundProcess -Namespace $Namespace -FilePath 'qemu-system-x86_64' -ArgumentList $qemuArgs -LogPath $log
    $p | Add-Member -NotePropertyName Namespace -NotePropertyValue $Namespace
    $p | Add-Member -NotePropertyName TapName -NotePropertyValue $TapName
    $p | Add-Member -NotePropertyName LogPath -NotePropertyValue $log
    $p | Add-Member -NotePropertyName QemuCommand -NotePropertyValue ('qemu-system-x86_64 ' + ($qemuArgs -join ' '))
    $up = Wait-LabCondition -TimeoutSeconds $TimeoutSeconds -Condition {
        $p.HasExited -or (Invoke-LabCommand -Namespace $Namespace -FilePath 'ip' -ArgumentList @('link', 'show', 'dev', $TapName)).ExitCode -eq 0
    }
    if ($p.HasExited -or -not $up) {
        $text = if (Test-Path $log) { Get-Content -Raw $log } else { '' }
        Stop-LabQemuL2tpv3 -Process $p
        throw "QEMU did not bring up $TapName in namespace '$Namespace' (exited: $($p.HasExited)): $text`n$($p.QemuCommand)"
    }
    try {
        Invoke-LabNs $Namespace "ip link set dev '$TapName' up" | Out-Null
        if ($TapAddress) { Invoke-LabNs $Namespace "ip addr add '$TapAddress' dev '$TapName'" | Out-Null }
    }
    catch {
        Stop-LabQemuL2tpv3 -Process $p
        throw
    }
    $p
}

function Stop-LabQemuL2tpv3 {
    <#
    .SYNOPSIS
    Kills a QEMU started by Start-LabQemuL2tpv3 and waits for it to exit (its TAP goes with it). Never throws.
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory, ValueFromPipeline)][AllowNull()][System.Diagnostics.Process]$Process,
        [switch]$KeepLog
    )
    process {
        if ($null -eq $Process) { return }
        try { Stop-LabBackgroundProcess $Process } catch { Write-Verbose "Stop-LabQemuL2tpv3: $_" }
        try {
            $log = $Process.PSObject.Properties['LogPath']
            if (-not $KeepLog -and $log -and $log.Value -and (Test-Path $log.Value)) { Remove-Item -Force $log.Value }
        }
        catch { Write-Verbose "Stop-LabQemuL2tpv3: $_" }
    }
}

Export-ModuleMember -Function @('Start-LabQemuL2tpv3', 'Stop-LabQemuL2tpv3')
