#Requires -Version 7.2
<#
    Packet.psm1 (imported by Lab.psm1): forged and decoded packets: Ethernet frames, L2TPv3 headers, raw IPv4 (perl raw sockets).
    Needs root.

    Functions:
        ConvertFrom-LabL2tpv3Payload -Payload <hex> [-CookieLength 0|4|8] [-L2SpecType None|Default]
                                                                                         -> pscustomobject SessionId/Cookie/Sublayer/EtherType/IcmpType...
        Send-LabRawIPv4Packet   -Namespace <string> -Source <ip> -Destination <ip> [-Protocol 17|115] [-SourcePort <uint16>]
                                [-DestinationPort <uint16>] -Payload <byte[][]> [-FragmentSize <int>]   (forged IPv4, perl raw socket)
        New-LabEthernetFrame    [-Destination <mac>] [-Source <mac>] [-EtherType <uint16>] [-Payload <byte[]|string>] -> byte[]
        New-LabL2tpv3Packet     [-Encapsulation Udp|Ip] [-FlagsVersion <uint16>] -SessionId <uint32> [-Cookie <hex>]
                                [-L2SpecType None|Default] [-Sublayer <uint32>] [-Frame <byte[]>]      -> byte[]
#>

Set-StrictMode -Version 3.0

Import-Module (Join-Path $PSScriptRoot 'Namespace.psm1')

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

Export-ModuleMember -Function @('ConvertFrom-LabL2tpv3Payload', 'Send-LabRawIPv4Packet', 'New-LabEthernetFrame', 'New-LabL2tpv3Packet')
