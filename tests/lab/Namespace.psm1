#Requires -Version 7.2
<#
    Namespace.psm1 (imported by Lab.psm1): network namespaces, veth pairs and links, and running programs inside a namespace (ip netns exec).
    Needs root.

    Functions:
        Invoke-LabCommand       [-Namespace <string>] -FilePath <string> [-ArgumentList <string[]>]
                                                                                         -> pscustomobject ExitCode/StdOut/StdErr
        Invoke-LabNs            [-Namespace] <string> [-Command] <string> [-IgnoreExitCode] -> string (stdout)
        New-LabNamespace        [-Prefix <string>]                                       -> string (namespace name)
        Get-LabNamespaceProcess -Namespace <string> [-CommandLinePattern <regex>]        -> pscustomobject Id/Name/CommandLine
        Test-LabProcessAlive    [-Id] <int>                                              -> bool (false once gone or a zombie)
        Remove-LabNamespace     -Name <string[]>                                         (never throws)
        New-LabVethPair         -Namespace <string> -Peer <string> [-Address <cidr>] [-PeerAddress <cidr>]
                                [-Name <ifname>] [-PeerName <ifname>] [-Mtu <int>]       -> pscustomobject
        Wait-LabCondition       -Condition <scriptblock> [-TimeoutSeconds <double>] [-IntervalMilliseconds <int>] -> bool
        Get-LabLinkName         -Namespace <string>                                      -> string[] interface names
        Get-LabMtu              [-Namespace] <string> [-Name] <ifname>                   -> int
        Invoke-LabIp            [-Namespace] <string> [-ArgumentList] <string[]>         -> string (stdout of one `ip -n`)
        Invoke-LabIpBatch       [-Namespace] <string> [-Commands] <string>               (`ip -batch`, one process)
        Set-LabTxChecksumOffload -Namespace <string> -Interface <string> -Enabled <bool>  -> bool (state read back)
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

function Stop-LabBackgroundProcess([System.Diagnostics.Process]$Process) {
    if (-not $Process.HasExited) {
        $Process.Kill()
        $null = $Process.WaitForExit($script:IdleProcessTimeoutMs)
    }
}

function Invoke-LabIp {
    <#
    .SYNOPSIS
    Runs `ip [-n NAMESPACE] ARGS...` (one process: under the kernel lab's TCG every exec counts) and returns its
    standard output; throws with its standard error on a non-zero exit. An empty namespace is the current one.
    #>
    [CmdletBinding()]
    [OutputType([string])]
    param([Parameter(Mandatory, Position = 0)][AllowEmptyString()][string]$Namespace, [Parameter(Mandatory, Position = 1)][string[]]$ArgumentList)
    $a = @(if ($Namespace) { '-n', $Namespace }) + $ArgumentList
    $r = Invoke-LabCommand -FilePath 'ip' -ArgumentList $a
    if ($r.ExitCode -ne 0) { throw "ip $($a -join ' ') failed (exit $($r.ExitCode)): $($r.StdErr.Trim())" }
    $r.StdOut
}

function Invoke-LabIpBatch {
    <#
    .SYNOPSIS
    Runs several ip commands (one per line, without the leading "ip") in one process: `ip [-n NS] -batch FILE`.
    #>
    [CmdletBinding()]
    param([Parameter(Mandatory, Position = 0)][AllowEmptyString()][string]$Namespace, [Parameter(Mandatory, Position = 1)][string]$Commands)
    $file = Join-Path ([System.IO.Path]::GetTempPath()) ('ip-batch-' + [guid]::NewGuid().ToString('N').Substring(0, 8))
    [System.IO.File]::WriteAllText($file, $Commands.Replace("`r`n", "`n") + "`n")
    try { $null = Invoke-LabIp $Namespace @('-batch', $file) } finally { Remove-Item -LiteralPath $file -ErrorAction Ignore }
}

function Get-LabLinkName {
    <#
    .SYNOPSIS
    The interface names in a namespace (`ip -o link show`), without the @peer suffix.
    #>
    [CmdletBinding()]
    [OutputType([string])]
    param([Parameter(Mandatory)][AllowEmptyString()][string]$Namespace)
    foreach ($line in (Invoke-LabIp $Namespace @('-o', 'link', 'show')) -split "`n") {
        if ($line -match '^\d+:\s+([^:@\s]+)') { $Matches[1] }
    }
}

function Get-LabMtu {
    <#
    .SYNOPSIS
    The MTU of interface -Name in -Namespace (`ip -o link show dev NAME`).
    #>
    [CmdletBinding()]
    [OutputType([int])]
    param([Parameter(Mandatory, Position = 0)][AllowEmptyString()][string]$Namespace, [Parameter(Mandatory, Position = 1)][string]$Name)
    if ((Invoke-LabIp $Namespace @('-o', 'link', 'show', 'dev', $Name)) -notmatch ' mtu (\d+) ') { throw "no MTU for $Name in '$Namespace'" }
    [int]$Matches[1]
}

# The ethtool helpers use perl (SIOCETHTOOL), which Debian always has (perl-base is Essential).
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

function New-LabSitePair {
    <#
    .SYNOPSIS
    The two sites most tests start from: namespaces named from -Prefix (two prefixes, one per site), joined by a veth
    pair veth0 192.0.2.1/24 <-> veth0 192.0.2.2/24. Returns both names; on failure removes what it made and throws.
    #>
    [CmdletBinding()]
    [OutputType([string])]
    param([Parameter(Mandatory)][ValidateCount(2, 2)][string[]]$Prefix)
    $a = New-LabNamespace -Prefix $Prefix[0]
    $b = $null
    try {
        $b = New-LabNamespace -Prefix $Prefix[1]
        New-LabVethPair -Namespace $a -Peer $b -Address 192.0.2.1/24 -PeerAddress 192.0.2.2/24 | Out-Null
    }
    catch {
        Remove-LabNamespace -Name (@($a, $b) | Where-Object { $_ })
        throw
    }
    $a
    $b
}

Export-ModuleMember -Function @('New-LabSitePair', 'Invoke-LabCommand', 'Invoke-LabNs', 'New-LabNamespace', 'Get-LabNamespaceProcess', 'Test-LabProcessAlive', 'Remove-LabNamespace', 'New-LabVethPair', 'Wait-LabCondition', 'Start-LabBackgroundProcess', 'Get-LabLinkName', 'Invoke-LabIp', 'Invoke-LabIpBatch', 'Get-LabMtu', 'Set-LabTxChecksumOffload', 'Get-LabOffload', 'Stop-LabBackgroundProcess')
