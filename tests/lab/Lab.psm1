#Requires -Version 7.2
<#
    Lab.psm1: small helpers the Pester files use to build throw-away networks for the L2tp module.

    Everything here drives real Linux objects (network namespaces, veth pairs, QEMU, tshark) and needs root.
    Addresses used by the tests are documentation ranges only: 192.0.2.0/24 for underlays and
    198.51.100.0/24 inside pseudowires.

    Functions:
        New-LabNamespace        [-Prefix <string>]                                       -> string (namespace name)
        Remove-LabNamespace     -Name <string[]>                                         (never throws)
        New-LabVethPair         -Namespace <string> -Peer <string> [-Address <cidr>] [-PeerAddress <cidr>]
                                [-Name <ifname>] [-PeerName <ifname>] [-Mtu <int>]       -> pscustomobject
        Invoke-LabCommand       [-Namespace <string>] -FilePath <string> [-ArgumentList <string[]>]
                                                                                         -> pscustomobject ExitCode/StdOut/StdErr
        Invoke-LabNs            [-Namespace] <string> [-Command] <string> [-IgnoreExitCode] -> string (stdout)
        Test-LabPing            -Namespace <string> -Address <string> [-Count <int>] [-TimeoutSeconds <int>]
                                [-Attempts <int>] [-Size <int>] [-DontFragment] [-MinimumReplies <int>] -> bool
        Get-LabNamespaceProcess -Namespace <string> [-CommandLinePattern <regex>]        -> pscustomobject Id/Name/CommandLine
        Test-LabProcessAlive    [-Id] <int>                                              -> bool (false once gone or a zombie)
        Wait-LabCondition       -Condition <scriptblock> [-TimeoutSeconds <double>] [-IntervalMilliseconds <int>] -> bool
        Start-LabQemuL2tpv3     -Namespace <string> [-TapName <string>] -Src <ip> -Dst <ip> [-SrcPort <uint16>]
                                [-DstPort <uint16>] -TxSession <uint32> -RxSession <uint32> [-TxCookie <hex>]
                                [-RxCookie <hex>] [-Cookie64] [-Counter] [-Encapsulation Udp|Ip] [-TapAddress <cidr>]
                                [-TimeoutSeconds <int>]                                  -> System.Diagnostics.Process (+ Namespace, TapName, LogPath, QemuCommand)
        Stop-LabQemuL2tpv3      -Process <Process> [-KeepLog]                            (never throws)
        Start-LabUdpSocket      -Namespace <string> -Address <ip> -Port <uint16> [-TimeoutSeconds <int>] -> Process
        Stop-LabUdpSocket       -Process <Process>                                       (never throws)
        Start-LabCapture        -Namespace <string> -Interface <string> [-Filter <bpf>] [-Path <file>] [-TimeoutSeconds <int>]
                                                                                         -> pscustomobject capture handle
        Get-LabLinkName         -Namespace <string>                                      -> string[] interface names
        Get-LabUdpSocket        -Namespace <string>                                      -> pscustomobject Local/Peer/Process
        Get-LabL2tpState        -Namespace <string>                                      -> pscustomobject Tunnels/Sessions/Links/Sockets
        Assert-LabL2tpState     -Namespace <string> -Expected <state> [-Because <string>]   (Pester Should)
        Assert-LabL2tpError     -ErrorRecord <object[]> -Id <string> -Category <ErrorCategory> [-Target <object>] (Pester Should)
        Remove-LabL2tpConfig    -Namespace <string[]>                                    (never throws)
        ConvertFrom-LabL2tpv3Payload -Payload <hex> [-CookieLength 0|4|8] [-L2SpecType None|Default]
                                                                                         -> pscustomobject SessionId/Cookie/Sublayer/EtherType/IcmpType...
        Stop-LabCapture         -Capture <handle> [-DecodeUdpPort <int[]>] [-Field <string[]>] [-DisplayFilter <string>]
                                [-Option <string[]>] [-KeepFile] [-SettleMilliseconds <int>]                          -> one pscustomobject per packet
        Set-LabTxChecksumOffload -Namespace <string> -Interface <string> -Enabled <bool>  -> bool (state read back)
        Send-LabRawIPv4Packet   -Namespace <string> -Source <ip> -Destination <ip> [-Protocol 17|115] [-SourcePort <uint16>]
                                [-DestinationPort <uint16>] -Payload <byte[][]> [-FragmentSize <int>]   (forged IPv4, perl raw socket)
        New-LabEthernetFrame    [-Destination <mac>] [-Source <mac>] [-EtherType <uint16>] [-Payload <byte[]|string>] -> byte[]
        New-LabL2tpv3Packet     [-Encapsulation Udp|Ip] [-FlagsVersion <uint16>] -SessionId <uint32> [-Cookie <hex>]
                                [-L2SpecType None|Default] [-Sublayer <uint32>] [-Frame <byte[]>]      -> byte[]
        Read-LabCapture         -Path <file> [-DecodeAs <string[]>] [-Option <string[]>] -Field <string[]>
                                [-DisplayFilter <string>] [-Occurrence f|l|a]                          -> one pscustomobject per packet
#>

Set-StrictMode -Version 3.0

$script:IdleProcessTimeoutMs = 5000

function Invoke-LabCommand {
    <#
    .SYNOPSIS
    Runs a program (optionally inside a network namespace, through `ip netns exec`) and returns its exit code,
    standard output and standard error. Never throws for a non-zero exit.
    #>
    [CmdletBinding()]
    [OutputType([pscustomobject])]
    param(
        [AllowEmptyString()][AllowNull()][string]$Namespace,
        [Parameter(Mandatory)][string]$FilePath,
        [string[]]$ArgumentList = @(),
        [hashtable]$Environment = @{},
        [int]$TimeoutSeconds = 120
    )
    $psi = [System.Diagnostics.ProcessStartInfo]::new()
    if ($Namespace) {
        $psi.FileName = 'ip'
        foreach ($a in @('netns', 'exec', $Namespace, $FilePath) + $ArgumentList) { $psi.ArgumentList.Add($a) }
    }
    else {
        $psi.FileName = $FilePath
        foreach ($a in $ArgumentList) { $psi.ArgumentList.Add($a) }
    }
    foreach ($k in $Environment.Keys) { $psi.Environment[$k] = [string]$Environment[$k] }
    $psi.UseShellExecute = $false
    $psi.RedirectStandardOutput = $true
    $psi.RedirectStandardError = $true
    $psi.RedirectStandardInput = $true
    $p = [System.Diagnostics.Process]::Start($psi)
    try {
        $p.StandardInput.Close()
        $out = $p.StandardOutput.ReadToEndAsync()
        $err = $p.StandardError.ReadToEndAsync()
        if (-not $p.WaitForExit($TimeoutSeconds * 1000)) {
            try { $p.Kill($true) } catch { }
            $p.WaitForExit()
            throw "Timed out after $TimeoutSeconds s: $FilePath $($ArgumentList -join ' ')"
        }
        $p.WaitForExit()
        [pscustomobject]@{
            ExitCode = $p.ExitCode
            StdOut   = $out.GetAwaiter().GetResult()
            StdErr   = $err.GetAwaiter().GetResult()
        }
    }
    finally {
        $p.Dispose()
    }
}

function Invoke-LabNs {
    <#
    .SYNOPSIS
    Runs a shell command line inside a network namespace (`ip netns exec NAME sh -c COMMAND`) and returns its
    standard output as one string (trailing newline removed). Throws with the standard error on a non-zero exit,
    unless -IgnoreExitCode. An empty namespace name runs the command in the current namespace.
    .EXAMPLE
    Invoke-LabNs $ns 'ip -br link'
    #>
    [CmdletBinding()]
    [OutputType([string])]
    param(
        [Parameter(Mandatory, Position = 0)][AllowEmptyString()][string]$Namespace,
        [Parameter(Mandatory, Position = 1)][string]$Command,
        [switch]$IgnoreExitCode
    )
    $r = Invoke-LabCommand -Namespace $Namespace -FilePath 'sh' -ArgumentList @('-c', $Command)
    Write-Verbose "[$Namespace] $Command -> $($r.ExitCode)"
    if ($r.ExitCode -ne 0 -and -not $IgnoreExitCode) {
        throw "Command failed in namespace '$Namespace' (exit $($r.ExitCode)): $Command`n$($r.StdErr.TrimEnd())"
    }
    $r.StdOut.TrimEnd("`n")
}

function New-LabNamespace {
    <#
    .SYNOPSIS
    Creates a network namespace with a unique name (PREFIX-xxxxxxxx), brings its loopback up, returns the name.
    #>
    [CmdletBinding()]
    [OutputType([string])]
    param(
        [ValidatePattern('^[A-Za-z0-9][A-Za-z0-9_.-]*$')][string]$Prefix = 'l2tplab'
    )
    $name = '{0}-{1}' -f $Prefix, [guid]::NewGuid().ToString('N').Substring(0, 8)
    Invoke-LabNs '' "ip netns add '$name'" | Out-Null
    try {
        Invoke-LabNs '' "ip -n '$name' link set lo up" | Out-Null
    }
    catch {
        Remove-LabNamespace -Name $name
        throw
    }
    $name
}

function Get-LabNamespaceProcess {
    <#
    .SYNOPSIS
    Lists the processes whose network namespace is NAME (as `ip netns pids NAME`), with their command lines,
    optionally only those whose command line matches -CommandLinePattern (a regex, case-insensitive).
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)][string]$Namespace,
        [string]$CommandLinePattern
    )
    $r = Invoke-LabCommand -FilePath 'ip' -ArgumentList @('netns', 'pids', $Namespace)
    if ($r.ExitCode -ne 0) { return }
    foreach ($line in $r.StdOut -split "`n") {
        $line = $line.Trim()
        if (-not $line) { continue }
        $id = [int]$line
        $cmd = ''
        $comm = ''
        try {
            $raw = [System.IO.File]::ReadAllBytes("/proc/$id/cmdline")
            $cmd = ([System.Text.Encoding]::UTF8.GetString($raw).TrimEnd([char]0)) -replace "`0", ' '
            $comm = ([System.IO.File]::ReadAllText("/proc/$id/comm")).Trim()
        }
        catch { continue }   # exited meanwhile
        if ($CommandLinePattern -and ($cmd -notmatch $CommandLinePattern) -and ($comm -notmatch $CommandLinePattern)) { continue }
        [pscustomobject]@{ Id = $id; Name = $comm; CommandLine = $cmd }
    }
}

function Test-LabProcessAlive {
    <#
    .SYNOPSIS
    $true while process -Id exists and is not a zombie (state Z or X in /proc/ID/stat).
    #>
    [CmdletBinding()]
    [OutputType([bool])]
    param([Parameter(Mandatory, Position = 0)][int]$Id)
    try {
        $stat = [System.IO.File]::ReadAllText("/proc/$Id/stat")
    }
    catch {
        return $false
    }
    $state = $stat.Substring($stat.LastIndexOf(')') + 2, 1)
    $state -notin @('Z', 'X', 'x')
}

function Remove-LabNamespace {
    <#
    .SYNOPSIS
    Kills every process inside each namespace (`ip netns pids NAME | xargs -r kill -9`), then deletes it.
    Never throws: problems are written to the verbose stream.
    #>
    [CmdletBinding()]
    param(
        [Parameter(ValueFromPipeline)][AllowNull()][AllowEmptyString()][string[]]$Name
    )
    process {
        foreach ($n in $Name) {
            if ([string]::IsNullOrWhiteSpace($n)) { continue }
            try {
                for ($i = 0; $i -lt 20; $i++) {
                    $pids = @((Invoke-LabCommand -FilePath 'ip' -ArgumentList @('netns', 'pids', $n)).StdOut -split "`n" |
                            Where-Object { $_.Trim() })
                    if ($pids.Count -eq 0) { break }
                    Invoke-LabCommand -FilePath 'kill' -ArgumentList (@('-9') + $pids) | Out-Null
                    Start-Sleep -Milliseconds 100
                }
                $r = Invoke-LabCommand -FilePath 'ip' -ArgumentList @('netns', 'delete', $n)
                if ($r.ExitCode -ne 0) { Write-Verbose "ip netns delete $n : $($r.StdErr)" }
            }
            catch {
                Write-Verbose "Remove-LabNamespace $n : $_"
            }
        }
    }
}

function New-LabVethPair {
    <#
    .SYNOPSIS
    Creates a veth pair with one end (-Name) in -Namespace and the other (-PeerName) in -Peer, gives each end its
    address (CIDR) when given, and brings both ends and both loopbacks up.
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)][string]$Namespace,
        [Parameter(Mandatory)][string]$Peer,
        [string]$Address,
        [string]$PeerAddress,
        [ValidateLength(1, 15)][string]$Name = 'veth0',
        [ValidateLength(1, 15)][string]$PeerName = 'veth0',
        [int]$Mtu = 0
    )
    if ($Namespace -eq $Peer -and $Name -eq $PeerName) { throw 'Both ends are in the same namespace: give different -Name and -PeerName.' }
    Invoke-LabNs '' "ip link add '$Name' netns '$Namespace' type veth peer name '$PeerName' netns '$Peer'" | Out-Null
    foreach ($end in @(@($Namespace, $Name, $Address), @($Peer, $PeerName, $PeerAddress))) {
        $ns, $dev, $addr = $end
        if ($Mtu -gt 0) { Invoke-LabNs '' "ip -n '$ns' link set '$dev' mtu $Mtu" | Out-Null }
        if ($addr) { Invoke-LabNs '' "ip -n '$ns' addr add '$addr' dev '$dev'" | Out-Null }
        Invoke-LabNs '' "ip -n '$ns' link set lo up && ip -n '$ns' link set '$dev' up" | Out-Null
    }
    [pscustomobject]@{
        Namespace   = $Namespace
        Name        = $Name
        Address     = $Address
        Peer        = $Peer
        PeerName    = $PeerName
        PeerAddress = $PeerAddress
    }
}

function Test-LabPing {
    <#
    .SYNOPSIS
    Pings -Address from inside -Namespace; returns $true when at least -MinimumReplies (default: all -Count)
    echo replies came back. -Attempts retries the whole ping (for the first ping, while ARP resolves).
    #>
    [CmdletBinding()]
    [OutputType([bool])]
    param(
        [Parameter(Mandatory)][string]$Namespace,
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

function Wait-LabCondition {
    <#
    .SYNOPSIS
    Evaluates -Condition every -IntervalMilliseconds until it returns a true value or -TimeoutSeconds pass;
    returns $true if it became true.
    #>
    [CmdletBinding()]
    [OutputType([bool])]
    param(
        [Parameter(Mandatory, Position = 0)][scriptblock]$Condition,
        [double]$TimeoutSeconds = 5,
        [int]$IntervalMilliseconds = 100
    )
    $sw = [System.Diagnostics.Stopwatch]::StartNew()
    while ($true) {
        if (& $Condition) { return $true }
        if ($sw.Elapsed.TotalSeconds -ge $TimeoutSeconds) { return $false }
        Start-Sleep -Milliseconds $IntervalMilliseconds
    }
}

function Start-LabBackgroundProcess {
    # Starts `ip netns exec NS FILE ARGS...` with stdin from /dev/null and stdout+stderr to LogPath; returns the
    # Process (ip execs the program, so its id is the program's).
    param([string]$Namespace, [string]$FilePath, [string[]]$ArgumentList, [string]$LogPath)
    $psi = [System.Diagnostics.ProcessStartInfo]::new('sh')
    foreach ($a in @('-c', 'log="$1"; shift; exec "$@" </dev/null >"$log" 2>&1', 'sh', $LogPath, 'ip', 'netns', 'exec', $Namespace, $FilePath) + $ArgumentList) {
        $psi.ArgumentList.Add($a)
    }
    $psi.UseShellExecute = $false
    [System.Diagnostics.Process]::Start($psi)
}

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
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)][string]$Namespace,
        [ValidateLength(1, 15)][string]$TapName = 'qtap0',
        [Parameter(Mandatory)][string]$Src,
        [Parameter(Mandatory)][string]$Dst,
        [uint16]$SrcPort,
        [uint16]$DstPort,
        [Parameter(Mandatory)][uint32]$TxSession,
        [Parameter(Mandatory)][uint32]$RxSession,
        [string]$TxCookie,
        [string]$RxCookie,
        [switch]$Cookie64,
        [switch]$Counter,
        [ValidateSet('Udp', 'Ip')][string]$Encapsulation = 'Udp',
        [string]$TapAddress,
        [int]$TimeoutSeconds = 10
    )
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
        try { Stop-LabProcessPrivate $Process } catch { Write-Verbose "Stop-LabQemuL2tpv3: $_" }
        try {
            $log = $Process.PSObject.Properties['LogPath']
            if (-not $KeepLog -and $log -and $log.Value -and (Test-Path $log.Value)) { Remove-Item -Force $log.Value }
        }
        catch { Write-Verbose "Stop-LabQemuL2tpv3: $_" }
    }
}

function Stop-LabProcessPrivate([System.Diagnostics.Process]$Process) {
    if (-not $Process.HasExited) {
        $Process.Kill()
        $null = $Process.WaitForExit($script:IdleProcessTimeoutMs)
    }
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
        try { Stop-LabProcessPrivate $Process } catch { Write-Verbose "Stop-LabUdpSocket: $_" }
        try { Remove-Item -Force -ErrorAction Ignore $Process.PSObject.Properties['LogPath'].Value } catch { }
    }
}

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
    $targs = @('-n', '-q', '-i', $Interface, '-w', $Path)
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

function Get-LabLinkName {
    <#
    .SYNOPSIS
    The interface names in a namespace (`ip -o link show`), without the @peer suffix.
    #>
    [CmdletBinding()]
    [OutputType([string])]
    param([Parameter(Mandatory)][AllowEmptyString()][string]$Namespace)
    foreach ($line in (Invoke-LabNs $Namespace 'ip -o link show') -split "`n") {
        if ($line -match '^\d+:\s+([^:@\s]+)') { $Matches[1] }
    }
}

function Get-LabUdpSocket {
    <#
    .SYNOPSIS
    The local address:port of every UDP socket in a namespace (`ss -uanH`), plus the owning process when known.
    #>
    [CmdletBinding()]
    param([Parameter(Mandatory)][AllowEmptyString()][string]$Namespace)
    foreach ($line in (Invoke-LabNs $Namespace 'ss -uanpH') -split "`n") {
        $f = $line.Trim() -split '\s+'
        if ($f.Count -ge 5) { [pscustomobject]@{ Local = $f[3]; Peer = $f[4]; Process = ($f[5..($f.Count - 1)] -join ' ') } }
    }
}

function Get-LabL2tpState {
    <#
    .SYNOPSIS
    A comparable snapshot of a namespace for "nothing left behind" checks: the L2TP tunnels and sessions the
    module reports (Get-L2tpTunnel / Get-L2tpSession), the interface names, and the local UDP endpoints, each as
    one sorted, comma-joined string.
    #>
    [CmdletBinding()]
    param([Parameter(Mandatory)][string]$Namespace)
    $tunnels = @(Get-L2tpTunnel -NetworkNamespace $Namespace -ErrorAction Stop | ForEach-Object { "$($_.TunnelId)" } | Sort-Object)
    $sessions = @(Get-L2tpSession -NetworkNamespace $Namespace -ErrorAction Stop |
            ForEach-Object { "$($_.TunnelId)/$($_.SessionId)/$($_.InterfaceName)" } | Sort-Object)
    [pscustomobject]@{
        Tunnels  = $tunnels -join ','
        Sessions = $sessions -join ','
        Links    = @(Get-LabLinkName -Namespace $Namespace | Sort-Object) -join ','
        Sockets  = @(Get-LabUdpSocket -Namespace $Namespace | ForEach-Object Local | Sort-Object) -join ','
    }
}

function Assert-LabL2tpState {
    <#
    .SYNOPSIS
    Asserts (with Pester's Should) that the namespace's Get-LabL2tpState equals -Expected.
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)][string]$Namespace,
        [Parameter(Mandatory)][pscustomobject]$Expected,
        [string]$Because = 'a failed command must leave nothing behind'
    )
    $now = Get-LabL2tpState -Namespace $Namespace
    foreach ($k in 'Tunnels', 'Sessions', 'Links', 'Sockets') {
        $now.$k | Should -Be $Expected.$k -Because "$Because ($k in $Namespace)"
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
    Removes every tunnel (and so every session) the module reports in each namespace, ignoring errors: for
    test set-up and clean-up. Never throws.
    #>
    [CmdletBinding()]
    param([Parameter(ValueFromPipeline)][AllowNull()][AllowEmptyString()][string[]]$Namespace)
    process {
        foreach ($ns in $Namespace) {
            if (-not $ns) { continue }
            try {
                Get-L2tpTunnel -NetworkNamespace $ns -ErrorAction SilentlyContinue |
                    Remove-L2tpTunnel -Force -ErrorAction SilentlyContinue
            }
            catch { Write-Verbose "Remove-LabL2tpConfig $ns : $_" }
        }
    }
}

function ConvertFrom-LabL2tpv3Payload {
    <#
    .SYNOPSIS
    Splits the hex of a UDP payload (tshark's udp.payload) into the fields of an L2TPv3 data message over UDP
    (RFC 3931 4.1.2.2): the T bit and version word, the session id, a cookie of -CookieLength bytes, the 4-byte
    RFC 4719 default sublayer when -L2SpecType Default, then the Ethernet frame (destination, source, EtherType).
    IcmpType is the ICMP type when the inner frame is IPv4 (version 4, IHL 5) carrying ICMP, else $null. Reading
    with the wrong cookie length or sublayer puts the inner headers at the wrong offset, so a frame that parses
    as an ICMP echo is a check of the header layout on the wire.
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory, ValueFromPipeline)][AllowEmptyString()][string]$Payload,
        [ValidateSet(0, 4, 8)][int]$CookieLength = 0,
        [ValidateSet('None', 'Default')][string]$L2SpecType = 'Default'
    )
    process {
        $hex = $Payload -replace '[^0-9a-fA-F]', ''
        if ($hex.Length -lt 16) { return }
        $b = [Convert]::FromHexString($hex)
        $o = 8 + $CookieLength
        $sub = if ($L2SpecType -eq 'Default') { 4 } else { 0 }
        $eth = $o + $sub
        $u32 = { param($i) [uint32](([uint32]$b[$i] -shl 24) -bor ([uint32]$b[$i + 1] -shl 16) -bor ([uint32]$b[$i + 2] -shl 8) -bor $b[$i + 3]) }
        # IPv4 (0x0800, version 4, IHL 5) carrying ICMP (protocol 1): the ICMP type, else $null.
        $icmp = $null
        $ip = $eth + 14
        if ($b.Length -ge $ip + 21 -and $b[$eth + 12] -eq 0x08 -and $b[$eth + 13] -eq 0x00 -and $b[$ip] -eq 0x45 -and $b[$ip + 9] -eq 1) {
            $icmp = [int]$b[$ip + 20]
        }
        [pscustomobject]@{
            IsData      = ($b[0] -band 0x80) -eq 0
            Version     = $b[1] -band 0x0f
            SessionId   = & $u32 4
            Cookie      = if ($CookieLength) { [Convert]::ToHexString($b, 8, $CookieLength).ToLowerInvariant() } else { '' }
            Sublayer    = if ($sub -and $b.Length -ge $o + 4) { [Convert]::ToHexString($b, $o, 4).ToLowerInvariant() } else { '' }
            Destination = if ($b.Length -ge $eth + 14) { [Convert]::ToHexString($b, $eth, 6).ToLowerInvariant() } else { '' }
            Source      = if ($b.Length -ge $eth + 14) { [Convert]::ToHexString($b, $eth + 6, 6).ToLowerInvariant() } else { '' }
            EtherType   = if ($b.Length -ge $eth + 14) { [Convert]::ToHexString($b, $eth + 12, 2).ToLowerInvariant() } else { '' }
            IcmpType    = $icmp
            Length      = $b.Length
        }
    }
}

Export-ModuleMember -Function @(
    'New-LabNamespace', 'Remove-LabNamespace', 'New-LabVethPair', 'Invoke-LabCommand', 'Invoke-LabNs',
    'Test-LabPing', 'Get-LabNamespaceProcess', 'Test-LabProcessAlive', 'Wait-LabCondition',
    'Start-LabQemuL2tpv3', 'Stop-LabQemuL2tpv3', 'Start-LabUdpSocket', 'Stop-LabUdpSocket',
    'Start-LabCapture', 'Stop-LabCapture',
    'Get-LabLinkName', 'Get-LabUdpSocket', 'Get-LabL2tpState', 'Assert-LabL2tpState', 'Assert-LabL2tpError',
    'Remove-LabL2tpConfig', 'ConvertFrom-LabL2tpv3Payload', 'Start-LabBackgroundProcess'
)

# ---------------------------------------------------------------------------------------------------------------
# Forging and wire helpers (Wire.Tests.ps1, Hostile.Tests.ps1, QemuInterop.Tests.ps1). They use perl, which Debian
# always has (perl-base is Essential), as Start-LabUdpSocket does.

function Set-LabTxChecksumOffload {
    <#
    .SYNOPSIS
    Turns transmit checksum offload of -Interface in -Namespace on or off (what `ethtool -K DEV tx on|off` does,
    through SIOCETHTOOL ETHTOOL_STXCSUM) and returns the state read back (ETHTOOL_GTXCSUM) as a bool.
    With offload on, a veth hands packets on with a partial UDP checksum, so a capture shows checksums that do not
    verify; turn it off on the sending end to see (and check) the real ones.
    #>
    [CmdletBinding()]
    [OutputType([bool])]
    param(
        [Parameter(Mandatory)][string]$Namespace,
        [Parameter(Mandatory)][ValidateLength(1, 15)][string]$Interface,
        [Parameter(Mandatory)][bool]$Enabled
    )
    $script = @'
use strict; use warnings; use Socket;
my ($dev, $on) = @ARGV;
socket(my $s, PF_INET, SOCK_DGRAM, 0) or die "socket: $!\n";
my $set = pack('LL', 0x17, $on);
ioctl($s, 0x8946, pack('a16 P8 x16', $dev, $set)) or die "SIOCETHTOOL ETHTOOL_STXCSUM $dev: $!\n";
my $get = pack('LL', 0x16, 0);
ioctl($s, 0x8946, pack('a16 P8 x16', $dev, $get)) or die "SIOCETHTOOL ETHTOOL_GTXCSUM $dev: $!\n";
my @v = unpack('LL', $get);
print "$v[1]\n";
'@
    $r = Invoke-LabCommand -Namespace $Namespace -FilePath 'perl' -ArgumentList @('-e', $script, $Interface, $(if ($Enabled) { '1' } else { '0' }))
    if ($r.ExitCode -ne 0) { throw "Could not set tx checksum offload of $Interface in '$Namespace': $($r.StdErr.Trim())" }
    $r.StdOut.Trim() -ne '0'
}

function Get-LabOffload {
    <#
    .SYNOPSIS
    Reads the transmit checksum and TCP segmentation offload states of -Interface in -Namespace (what `ethtool -k`
    shows as tx-checksumming and tcp-segmentation-offload, through SIOCETHTOOL ETHTOOL_GTXCSUM / ETHTOOL_GTSO).
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)][string]$Namespace,
        [Parameter(Mandatory)][ValidateLength(1, 15)][string]$Interface
    )
    $script = @'
use strict; use warnings; use Socket;
my ($dev) = @ARGV;
socket(my $s, PF_INET, SOCK_DGRAM, 0) or die "socket: $!\n";
for my $cmd (0x16, 0x1e) {
    my $get = pack('LL', $cmd, 0);
    ioctl($s, 0x8946, pack('a16 P8 x16', $dev, $get)) or die "SIOCETHTOOL $cmd $dev: $!\n";
    my @v = unpack('LL', $get);
    print "$v[1]\n";
}
'@
    $r = Invoke-LabCommand -Namespace $Namespace -FilePath 'perl' -ArgumentList @('-e', $script, $Interface)
    if ($r.ExitCode -ne 0) { throw "Could not read the offloads of $Interface in '$Namespace': $($r.StdErr.Trim())" }
    $v = @($r.StdOut.Trim() -split '\s+')
    [pscustomobject]@{ TxChecksum = $v[0] -ne '0'; Tso = $v[1] -ne '0' }
}

function Send-LabRawIPv4Packet {
    <#
    .SYNOPSIS
    Sends IPv4 packets from inside -Namespace through a raw socket (IPPROTO_RAW, so the IP header is ours), with any
    -Source address: for forging packets that look as if they came from another host. -Protocol 17 (default) wraps
    each payload in a UDP header -SourcePort -> -DestinationPort with checksum 0 (no checksum, valid over IPv4);
    -Protocol 115 (L2TPv3 over IP) sends it as is. A datagram longer than -FragmentSize bytes of IP payload is sent
    as IP fragments of that size (rounded down to a multiple of 8) with one IP id, so the receiver reassembles it.
    Each -Payload (byte arrays) becomes one datagram. Throws if perl cannot send.
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)][string]$Namespace,
        [Parameter(Mandatory)][ipaddress]$Source,
        [Parameter(Mandatory)][ipaddress]$Destination,
        [ValidateSet(17, 115)][int]$Protocol = 17,
        [uint16]$SourcePort,
        [uint16]$DestinationPort,
        [Parameter(Mandatory)][AllowEmptyCollection()][object[]]$Payload,
        [ValidateRange(8, 65000)][int]$FragmentSize = 1480
    )
    if ($Source.AddressFamily -ne 'InterNetwork' -or $Destination.AddressFamily -ne 'InterNetwork') { throw 'Send-LabRawIPv4Packet is IPv4 only.' }
    if ($Protocol -eq 17 -and (-not $SourcePort -or -not $DestinationPort)) { throw 'UDP needs -SourcePort and -DestinationPort.' }
    $script = @'
use strict; use warnings; use Socket;
my ($src, $dst, $proto, $sport, $dport, $frag, @hex) = @ARGV;
socket(my $s, PF_INET, SOCK_RAW, 255) or die "socket(SOCK_RAW, IPPROTO_RAW): $!\n";
my $to = pack_sockaddr_in(0, inet_aton($dst));
my $step = $frag - $frag % 8;
for my $h (@hex) {
    my $data = $h eq '-' ? '' : pack('H*', $h);
    $data = pack('nnnn', $sport, $dport, 8 + length($data), 0) . $data if $proto == 17;
    my $id = 1 + int(rand(65534));
    my $off = 0;
    while (1) {
        my $chunk = $off < length($data) ? substr($data, $off, $step) : '';
        my $more = ($off + $step) < length($data) ? 1 : 0;
        my $hdr = pack('CCnnnCCna4a4', 0x45, 0, 20 + length($chunk), $id, ($more ? 0x2000 : 0) | ($off >> 3), 64,
            $proto, 0, inet_aton($src), inet_aton($dst));
        defined(send($s, $hdr . $chunk, 0, $to)) or die "send: $!\n";
        $off += $step;
        last unless $more;
    }
}
'@
    $hexes = foreach ($p in $Payload) {
        $b = [byte[]]$p
        if ($b.Length -eq 0) { '-' } else { [Convert]::ToHexString($b) }
    }
    $argv = @('-e', $script, "$Source", "$Destination", "$Protocol", "$SourcePort", "$DestinationPort", "$FragmentSize") + @($hexes)
    $r = Invoke-LabCommand -Namespace $Namespace -FilePath 'perl' -ArgumentList $argv
    if ($r.ExitCode -ne 0) { throw "Could not send raw packets from '$Namespace': $($r.StdErr.Trim())" }
}

function New-LabEthernetFrame {
    <#
    .SYNOPSIS
    An Ethernet frame as bytes: -Destination and -Source MAC (hex, separators allowed), -EtherType, then -Payload
    (bytes, or a string taken as ASCII). No FCS, no padding.
    #>
    [CmdletBinding()]
    [OutputType([byte[]])]
    param(
        [string]$Destination = 'ff:ff:ff:ff:ff:ff',
        [string]$Source = '02:00:5e:00:53:01',
        [uint16]$EtherType = 0x88b5,
        [object]$Payload = ''
    )
    [byte[]]$data = if ($Payload -is [string]) { [System.Text.Encoding]::ASCII.GetBytes($Payload) } else { [byte[]]$Payload }
    $mac = { param($m) $h = $m -replace '[^0-9a-fA-F]', ''; if ($h.Length -ne 12) { throw "'$m' is not a MAC address." }; [Convert]::FromHexString($h) }
    $f = [System.Collections.Generic.List[byte]]::new()
    $f.AddRange([byte[]](& $mac $Destination))
    $f.AddRange([byte[]](& $mac $Source))
    $f.Add([byte]($EtherType -shr 8)); $f.Add([byte]($EtherType -band 0xff))
    $f.AddRange($data)
    , $f.ToArray()
}

function New-LabL2tpv3Packet {
    <#
    .SYNOPSIS
    An L2TPv3 data message as bytes (RFC 3931 4.1.2.2 over UDP, 4.1.1.1 over IP): for -Encapsulation Udp the
    flags/version word (-FlagsVersion, default 0x0003: T=0, version 3) and 16 reserved bits; then -SessionId,
    the -Cookie (hex, 0, 4 or 8 bytes), the 4-byte default sublayer -Sublayer unless -L2SpecType None, then -Frame.
    -Sublayer is the whole word: 0x40000000 -bor N for S=1 with sequence number N.
    #>
    [CmdletBinding()]
    [OutputType([byte[]])]
    param(
        [ValidateSet('Udp', 'Ip')][string]$Encapsulation = 'Udp',
        [uint16]$FlagsVersion = 0x0003,
        [Parameter(Mandatory)][uint32]$SessionId,
        [string]$Cookie = '',
        [ValidateSet('None', 'Default')][string]$L2SpecType = 'Default',
        [uint32]$Sublayer = 0,
        [byte[]]$Frame = @()
    )
    $p = [System.Collections.Generic.List[byte]]::new()
    $be32 = { param([uint32]$v) [byte[]]@((($v -shr 24) -band 0xff), (($v -shr 16) -band 0xff), (($v -shr 8) -band 0xff), ($v -band 0xff)) }
    if ($Encapsulation -eq 'Udp') {
        $p.Add([byte]($FlagsVersion -shr 8)); $p.Add([byte]($FlagsVersion -band 0xff)); $p.Add(0); $p.Add(0)
    }
    $p.AddRange([byte[]](& $be32 $SessionId))
    $c = $Cookie -replace '[^0-9a-fA-F]', ''
    if ($c.Length -notin 0, 8, 16) { throw "-Cookie '$Cookie' is not 0, 4 or 8 bytes of hex." }
    if ($c) { $p.AddRange([byte[]][Convert]::FromHexString($c)) }
    if ($L2SpecType -eq 'Default') { $p.AddRange([byte[]](& $be32 $Sublayer)) }
    if ($Frame) { $p.AddRange([byte[]]$Frame) }
    , $p.ToArray()
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

Export-ModuleMember -Function @('Import-LabL2tpModule', 'Set-LabTxChecksumOffload', 'Get-LabOffload', 'Send-LabRawIPv4Packet', 'New-LabEthernetFrame', 'New-LabL2tpv3Packet', 'Read-LabCapture')
