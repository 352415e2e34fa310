#Requires -Version 7.2
<#
    Capture.psm1 (imported by Lab.psm1): packet captures with tshark, decoded as L2TPv3.
    Needs root.

    Functions:
        Start-LabCapture        -Namespace <string> -Interface <string> [-Filter <bpf>] [-Path <file>] [-TimeoutSeconds <int>]
                                                                                         -> pscustomobject capture handle
        Stop-LabCapture         -Capture <handle> [-DecodeUdpPort <int[]>] [-Field <string[]>] [-DisplayFilter <string>]
                                [-Option <string[]>] [-KeepFile] [-SettleMilliseconds <int>]                          -> one pscustomobject per packet
        Read-LabCapture         -Path <file> [-DecodeAs <string[]>] [-Option <string[]>] -Field <string[]>
                                [-DisplayFilter <string>] [-Occurrence f|l|a]                          -> one pscustomobject per packet
#>

Set-StrictMode -Version 3.0

Import-Module (Join-Path $PSScriptRoot 'Namespace.psm1')

$script:IdleProcessTimeoutMs = 5000

function Start-LabCapture {
    <#
    .SYNOPSIS
    Starts tshark capturing on -Interface inside -Namespace with the capture (BPF) filter -Filter, writing a pcapng
    file; returns a handle for Stop-LabCapture once tshark reports that it is capturing.
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)][string]$Namespace,
        [Parameter(Mandatory)][string]$Interface,
        [string]$Filter,
        [string]$Path,
        [int]$TimeoutSeconds = 15
    )
    $id = [guid]::NewGuid().ToString('N').Substring(0, 8)
    $tmp = [System.IO.Path]::GetTempPath()
    if (-not $Path) { $Path = Join-Path $tmp "l2tplab-cap-$id.pcapng" }
    $log = Join-Path $tmp "l2tplab-cap-$id.log"
    # -B 32: a 32 MiB kernel buffer, so a burst of a few thousand segments is not dropped while dumpcap writes.
    $targs = @('-n', '-q', '-B', '32', '-i', $Interface, '-w', $Path)
    if ($Filter) { $targs += @('-f', $Filter) }
    $p = Start-LabBackgroundProcess -Namespace $Namespace -FilePath 'tshark' -ArgumentList $targs -LogPath $log
    $capture = [pscustomobject]@{
        Namespace = $Namespace
        Interface = $Interface
        Filter    = $Filter
        Path      = $Path
        LogPath   = $log
        Process   = $p
    }
    $ok = Wait-LabCondition -TimeoutSeconds $TimeoutSeconds -Condition {
        $p.HasExited -or ((Test-Path $log) -and ((Get-Content -Raw $log) -match 'Capturing on'))
    }
    if ($p.HasExited -or -not $ok) {
        $text = if (Test-Path $log) { Get-Content -Raw $log } else { '' }
        Stop-LabCapturePrivate $capture
        Remove-Item -Force -ErrorAction Ignore $log, $Path
        throw "tshark did not start capturing on $Interface in '$Namespace': $text"
    }
    # dumpcap says "Capturing on" just before its loop starts; give it a moment to have the filter in place.
    Start-Sleep -Milliseconds 300
    $capture
}

function Stop-LabCapturePrivate($Capture) {
    $p = $Capture.Process
    if (-not $p.HasExited) {
        Invoke-LabCommand -FilePath 'kill' -ArgumentList @('-INT', "$($p.Id)") | Out-Null
        if (-not $p.WaitForExit($script:IdleProcessTimeoutMs)) {
            try { $p.Kill($true) } catch { }
            $null = $p.WaitForExit($script:IdleProcessTimeoutMs)
        }
    }
}

function Stop-LabCapture {
    <#
    .SYNOPSIS
    Stops a capture from Start-LabCapture and decodes it with
    `tshark -r FILE -d udp.port==PORT,l2tp -T fields -e FIELD...`; returns one object per packet whose properties
    are the field names (values as text, '' when absent). The capture file is deleted unless -KeepFile.
    .PARAMETER Option
    tshark preferences (-o), e.g. 'l2tp.l2_specific:None' or 'l2tp.cookie_size:None'.
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory, ValueFromPipeline)][pscustomobject]$Capture,
        [int[]]$DecodeUdpPort = @(),
        [string[]]$Field = @('frame.number', 'ip.src', 'ip.dst', 'udp.srcport', 'udp.dstport', 'l2tp.sid', 'l2tp.cookie'),
        [string]$DisplayFilter,
        [string[]]$Option = @(),
        [switch]$KeepFile,
        # libpcap hands dumpcap packets in blocks with a read timeout: wait this long so the last packets are written.
        [int]$SettleMilliseconds = 600
    )
    process {
        if ($SettleMilliseconds -gt 0) { Start-Sleep -Milliseconds $SettleMilliseconds }
        Stop-LabCapturePrivate $Capture
        try {
            if (-not (Test-Path $Capture.Path)) {
                $text = if (Test-Path $Capture.LogPath) { Get-Content -Raw $Capture.LogPath } else { '' }
                throw "No capture file $($Capture.Path): $text"
            }
            Read-LabCapture -Path $Capture.Path -DecodeAs @($DecodeUdpPort | ForEach-Object { "udp.port==$_,l2tp" }) `
                -Option $Option -DisplayFilter $DisplayFilter -Field $Field
        }
        finally {
            Remove-Item -Force -ErrorAction Ignore $Capture.LogPath
            if (-not $KeepFile) { Remove-Item -Force -ErrorAction Ignore $Capture.Path }
        }
    }
}

function Read-LabCapture {
    <#
    .SYNOPSIS
    Decodes a capture file (e.g. from Stop-LabCapture -KeepFile) with `tshark -r FILE -d DECODE... -o OPTION...
    -T fields -e FIELD...` and returns one object per packet whose properties are the field names (values as text,
    '' when absent). -DecodeAs takes tshark's "layer==selector,protocol" strings, e.g. 'udp.port==5000,l2tp' or
    'l2tp.pw_type==0,eth' (an L2TPv3 payload without a control channel seen is pseudowire type 0 to tshark, so
    this is how its Ethernet frames get decoded). -Occurrence is tshark's -E occurrence (f, l or a).
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)][string]$Path,
        [string[]]$DecodeAs = @(),
        [string[]]$Option = @(),
        [Parameter(Mandatory)][string[]]$Field,
        [string]$DisplayFilter,
        [ValidateSet('f', 'l', 'a')][string]$Occurrence = 'f'
    )
    $targs = @('-n', '-r', $Path)
    foreach ($d in $DecodeAs) { $targs += @('-d', $d) }
    foreach ($o in $Option) { $targs += @('-o', $o) }
    if ($DisplayFilter) { $targs += @('-Y', $DisplayFilter) }
    $targs += @('-T', 'fields', '-E', 'separator=/t', '-E', "occurrence=$Occurrence")
    foreach ($f in $Field) { $targs += @('-e', $f) }
    $r = Invoke-LabCommand -FilePath 'tshark' -ArgumentList $targs
    if ($r.ExitCode -ne 0) { throw "tshark $($targs -join ' ') failed: $($r.StdErr)" }
    foreach ($line in ($r.StdOut -split "`n")) {
        if ($line -eq '') { continue }
        $values = $line -split "`t"
        $o = [ordered]@{}
        for ($i = 0; $i -lt $Field.Count; $i++) { $o[$Field[$i]] = if ($i -lt $values.Count) { $values[$i] } else { '' } }
        [pscustomobject]$o
    }
}

Export-ModuleMember -Function @('Start-LabCapture', 'Stop-LabCapture', 'Read-LabCapture')
