#Requires -Version 7.2
# Pester 5: the managed forwarder's TAP offloads, end to end between two namespaces (needs root and tshark).
# The session TAPs offer TSO and checksum offload, so the sending stack hands the forwarder 64 KB TCP super-frames
# that it cuts into MTU-sized segments with whole checksums (what leaves on the wire is what l2tp_eth sends); the
# receiving forwarder merges a batch's consecutive segments into one super-frame per TAP write (software GRO).
#   underlay:        A veth0 192.0.2.1/24  <->  B veth0 192.0.2.2/24, tunnel 3000/4000 UDP 5000/6000
#   inside the wire: l2tpeth0 198.51.100.1/24, 2001:db8:1::1/64  <->  198.51.100.2/24, 2001:db8:1::2/64

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot '../lab/Lab.psm1') -Force
    $null = Import-LabL2tpModule

    $A, $B = New-LabSitePair -Prefix 'ofl-a', 'ofl-b'
    # -UdpChecksum off, the kernel's zero checksums: no UDP GSO, so the forwarder segments in software (the default,
    # on, is the second Describe).
    New-L2tpTunnel -netns $A -TunnelId 3000 -PeerTunnelId 4000 -Local 192.0.2.1 -Remote 192.0.2.2 -SourcePort 5000 -DestinationPort 6000 -UdpChecksum off -ErrorAction Stop |
        New-L2tpSession -SessionId 1000 -PeerSessionId 2000 -ErrorAction Stop | Set-L2tpInterface -Up -Address 198.51.100.1/24 -ErrorAction Stop | Out-Null
    New-L2tpTunnel -netns $B -TunnelId 4000 -PeerTunnelId 3000 -Local 192.0.2.2 -Remote 192.0.2.1 -SourcePort 6000 -DestinationPort 5000 -UdpChecksum off -ErrorAction Stop |
        New-L2tpSession -SessionId 2000 -PeerSessionId 1000 -ErrorAction Stop | Set-L2tpInterface -Up -Address 198.51.100.2/24 -ErrorAction Stop | Out-Null
    # nodad: the addresses are usable at once.
    Invoke-LabNs $A 'ip addr add 2001:db8:1::1/64 dev l2tpeth0 nodad' | Out-Null
    Invoke-LabNs $B 'ip addr add 2001:db8:1::2/64 dev l2tpeth0 nodad' | Out-Null
    Test-LabPing -Namespace $A -Address 198.51.100.2 -Count 2 -Attempts 3 | Out-Null
    # What B could not write before its interface was up (A's IPv6 solicitations): the tests count from here.
    $script:BRxErrorsAtStart = (Get-L2tpSession -netns $B -TunnelId 4000 -SessionId 2000 -ErrorAction Stop).Statistics.RxErrors

    # Sends 4 MiB of a fixed pattern from A to B over TCP (perl: Debian always has it) while tshark captures A's
    # underlay and B's session TAP. Returns what each end says it moved (bytes and SHA-256) and both capture files.
    function Invoke-TcpTransfer([string]$ServerAddress, [string]$A = $A, [string]$B = $B, [int]$Port = 6000, [string]$Underlay = 'veth0') {
        $server = @'
use strict; use warnings; use IO::Socket::IP; use Digest::SHA;
$| = 1;
my $l = IO::Socket::IP->new(LocalHost => $ARGV[0], LocalPort => 7000, Listen => 1, ReuseAddr => 1) or die "listen: $@\n";
print "listening\n";
my $c = $l->accept or die "accept: $!\n";
my ($n, $d) = (0, Digest::SHA->new(256));
while (1) { my $r = sysread($c, my $buf, 65536); die "read: $!\n" unless defined $r; last if $r == 0; $n += $r; $d->add($buf); }
print "$n ", $d->hexdigest, "\n";
'@
        $client = @'
use strict; use warnings; use IO::Socket::IP; use Digest::SHA;
my $c = IO::Socket::IP->new(PeerHost => $ARGV[0], PeerPort => 7000) or die "connect: $@\n";
my $data = join('', map { pack('N', ($_ * 2654435761) % 4294967296) } 0 .. 1048575);
my $off = 0;
while ($off < length $data) { my $w = syswrite($c, $data, 262144, $off); die "write: $!\n" unless defined $w; $off += $w; }
shutdown($c, 1);
my $x; sysread($c, $x, 1);
print length($data), " ", Digest::SHA::sha256_hex($data), "\n";
'@
        $log = Join-Path ([System.IO.Path]::GetTempPath()) ("l2tplab-tcp-{0}.log" -f [guid]::NewGuid().ToString('N').Substring(0, 8))
        $capWire = Start-LabCapture -Namespace $A -Interface $Underlay -Filter "udp port $Port"
        $capTap = Start-LabCapture -Namespace $B -Interface l2tpeth0 -Filter 'tcp port 7000'
        $p = Start-LabBackgroundProcess -Namespace $B -FilePath 'perl' -ArgumentList @('-e', $server, $ServerAddress) -LogPath $log
        try {
            $listening = Wait-LabCondition -TimeoutSeconds 10 { $p.HasExited -or ((Test-Path $log) -and (Get-Content -Raw $log) -match 'listening') }
            if (-not $listening -or $p.HasExited) { throw "the TCP server did not start: $(Get-Content -Raw $log -ErrorAction Ignore)" }
            $sent = Invoke-LabCommand -Namespace $A -FilePath 'perl' -ArgumentList @('-e', $client, $ServerAddress) -TimeoutSeconds 60
            if ($sent.ExitCode -ne 0) { throw "the TCP client failed: $($sent.StdErr)" }
            $null = $p.WaitForExit(10000)
            $received = ((Get-Content -Raw $log) -split "`n" | Where-Object { $_ -match '^\d+ [0-9a-f]{64}$' }) | Select-Object -First 1
        }
        finally {
            if (-not $p.HasExited) { $p.Kill() }
            Remove-Item -Force -ErrorAction Ignore $log
        }
        $null = Stop-LabCapture -Capture $capWire -KeepFile -Field 'frame.number'
        $null = Stop-LabCapture -Capture $capTap -KeepFile -Field 'frame.number' -SettleMilliseconds 0
        [pscustomobject]@{ Sent = $sent.StdOut.Trim(); Received = "$received".Trim(); Wire = $capWire.Path; Tap = $capTap.Path }
    }

    # The L2TP packets of a capture of A's underlay, with the outer IP length and the inner TCP checksum as tshark
    # checks it (1 = good); the first ip.len is the outer one.
    function Read-WireTcp([string]$Path) {
        @(Read-LabCapture -Path $Path -DecodeAs 'udp.port==6000,l2tp', 'l2tp.pw_type==0,eth' -Option 'l2tp.cookie_size:None', 'l2tp.l2_specific:Default L2-Specific', 'tcp.check_checksum:TRUE' `
                -Field 'frame.number', 'ip.len', 'udp.checksum', 'tcp.len', 'tcp.checksum.status' -DisplayFilter 'tcp')
    }
}

AfterAll {
    Remove-LabL2tpConfig -Namespace $A, $B
    Remove-LabNamespace -Name $A, $B
}

Describe 'Session TAP offloads (managed backend, -UdpChecksum off)' {
    It 'a session interface offers TCP segmentation and checksum offload to the stack' {
        foreach ($ns in $A, $B) {
            $o = Get-LabOffload -Namespace $ns -Interface l2tpeth0
            $o.Tso | Should -BeTrue -Because "l2tpeth0 in $ns is a TAP opened with TUNSETOFFLOAD TSO4|TSO6"
            $o.TxChecksum | Should -BeTrue
        }
    }

    It 'a 4 MiB TCP stream over <Family> arrives intact, leaves segmented to the MTU with whole checksums, and reaches the far TAP coalesced' -ForEach @(
        @{ Family = 'IPv4'; Server = '198.51.100.2' }
        @{ Family = 'IPv6'; Server = '2001:db8:1::2' }
    ) {
        $txBefore = (Get-L2tpSession -netns $A -TunnelId 3000 -SessionId 1000 -ErrorAction Stop).Statistics.TxPackets
        $t = Invoke-TcpTransfer $Server
        $txAfter = (Get-L2tpSession -netns $A -TunnelId 3000 -SessionId 1000 -ErrorAction Stop).Statistics.TxPackets
        try {
            $t.Sent | Should -Match '^4194304 [0-9a-f]{64}$'
            $t.Received | Should -Be $t.Sent -Because 'B must read exactly the bytes A wrote'

            # Segmentation: every packet on the underlay fits the veth's 1500 bytes (no IP fragments: a fragment has no
            # TCP to show), carries at most one MSS, keeps the zero UDP checksum of udp_csum off, and its inner TCP
            # checksum verifies.
            # The count comes from A's session counter: a capture may drop packets under load, the counter does not.
            ($txAfter - $txBefore) | Should -BeGreaterThan 2900 -Because '4 MiB in segments of at most 1406 bytes'
            $wire = Read-WireTcp $t.Wire
            $data = @($wire | Where-Object { [int]$_.'tcp.len' -gt 0 })
            $data.Count | Should -BeGreaterThan 500 -Because 'the capture must hold enough of the stream to judge its segments'
            @($wire | Where-Object { [int]$_.'ip.len' -gt 1500 }) | Should -BeNullOrEmpty
            @($wire | Where-Object { $_.'udp.checksum' -ne '0x0000' }) | Should -BeNullOrEmpty
            $bad = @($wire | Where-Object { $_.'tcp.checksum.status' -ne '1' })
            $bad | Should -BeNullOrEmpty -Because "tshark must verify every inner TCP checksum (first bad: frame $($bad[0].'frame.number') status '$($bad[0].'tcp.checksum.status')')"

            # Coalescing: B's TAP was handed TCP frames longer than its MTU (1446): merged segments.
            $tap = @(Read-LabCapture -Path $t.Tap -Field 'frame.len', 'tcp.len' -DisplayFilter 'tcp.len > 0')
            $big = @($tap | Where-Object { [int]$_.'frame.len' -gt 1460 })
            $big.Count | Should -BeGreaterThan 0 -Because 'the receiving forwarder writes coalesced super-frames to its TAP'
        }
        finally {
            Remove-Item -Force -ErrorAction Ignore $t.Wire, $t.Tap
        }
    }

    It 'the session counters count L2TP packets, not super-frames' {
        $a = (Get-L2tpSession -netns $A -TunnelId 3000 -SessionId 1000 -ErrorAction Stop).Statistics
        $b = (Get-L2tpSession -netns $B -TunnelId 4000 -SessionId 2000 -ErrorAction Stop).Statistics
        # 8 MiB went from A to B in packets of at most 1406 bytes of TCP payload.
        $a.TxPackets | Should -BeGreaterThan 5900
        $b.RxPackets | Should -BeGreaterThan 5900
        $b.RxPackets | Should -BeLessOrEqual $a.TxPackets
        $a.TxErrors | Should -Be 0
        $b.RxErrors | Should -Be $script:BRxErrorsAtStart
    }
}

Describe 'UDP GSO and GRO on a tunnel that sends UDP checksums (the Managed default)' {
    BeforeAll {
        $GA = New-LabNamespace -Prefix 'gso-a'
        $GB = New-LabNamespace -Prefix 'gso-b'
        $GC = New-LabNamespace -Prefix 'gso-c'
        New-LabVethPair -Namespace $GA -Peer $GB -Address 192.0.2.1/24 -PeerAddress 192.0.2.2/24 | Out-Null
        # A second underlay from A to C, whose forwarder runs without offloads: its socket has no UDP_GRO, so the
        # kernel cuts A's GSO sends into datagrams before C sees them, as any peer of ours would get them.
        New-LabVethPair -Namespace $GA -Peer $GC -Name veth1 -PeerName veth0 -Address 203.0.113.1/24 -PeerAddress 203.0.113.2/24 | Out-Null
        $saved = $env:L2TP_FORWARDER_OFFLOAD
        try {
            # No -UdpChecksum: the Managed default sends checksums, so UDP GSO is on.
            New-L2tpTunnel -netns $GA -TunnelId 3000 -PeerTunnelId 4000 -Local 192.0.2.1 -Remote 192.0.2.2 -SourcePort 5000 -DestinationPort 6000 -ErrorAction Stop |
                New-L2tpSession -SessionId 1000 -PeerSessionId 2000 -ErrorAction Stop | Set-L2tpInterface -Up -Address 198.51.100.1/24 -ErrorAction Stop | Out-Null
            New-L2tpTunnel -netns $GB -TunnelId 4000 -PeerTunnelId 3000 -Local 192.0.2.2 -Remote 192.0.2.1 -SourcePort 6000 -DestinationPort 5000 -ErrorAction Stop |
                New-L2tpSession -SessionId 2000 -PeerSessionId 1000 -ErrorAction Stop | Set-L2tpInterface -Up -Address 198.51.100.2/24 -ErrorAction Stop | Out-Null
            New-L2tpTunnel -netns $GA -TunnelId 3001 -PeerTunnelId 4001 -Local 203.0.113.1 -Remote 203.0.113.2 -SourcePort 5001 -DestinationPort 6001 -UdpChecksum on -ErrorAction Stop |
                New-L2tpSession -SessionId 1001 -PeerSessionId 2001 -ErrorAction Stop | Set-L2tpInterface -Up -Address 198.51.100.129/25 -ErrorAction Stop | Out-Null
            $env:L2TP_FORWARDER_OFFLOAD = '0'
            New-L2tpTunnel -netns $GC -TunnelId 4001 -PeerTunnelId 3001 -Local 203.0.113.2 -Remote 203.0.113.1 -SourcePort 6001 -DestinationPort 5001 -UdpChecksum on -ErrorAction Stop |
                New-L2tpSession -SessionId 2001 -PeerSessionId 1001 -ErrorAction Stop | Set-L2tpInterface -Up -Address 198.51.100.130/25 -ErrorAction Stop | Out-Null
        }
        finally {
            $env:L2TP_FORWARDER_OFFLOAD = $saved
        }
        # A's first session is in 198.51.100.0/24, its second in .128/25: the longer prefix routes .130 to the second.
        Test-LabPing -Namespace $GA -Address 198.51.100.2 -Count 2 -Attempts 3 | Out-Null
        Test-LabPing -Namespace $GA -Address 198.51.100.130 -Count 2 -Attempts 3 | Out-Null
    }
    AfterAll {
        Remove-LabL2tpConfig -Namespace $GA, $GB, $GC
        Remove-LabNamespace -Name $GA, $GB, $GC
    }

    It 'a 4 MiB TCP stream to a peer with GRO arrives intact, sent as UDP GSO datagrams and counted as L2TP packets' {
        $before = (Get-L2tpSession -netns $GB -TunnelId 4000 -SessionId 2000 -ErrorAction Stop).Statistics
        # (Counted as deltas: A's interface sent IPv6 router solicitations before B's session existed.)
        $invalidBefore = (Get-L2tpTunnel -netns $GB -TunnelId 4000 -ErrorAction Stop).Statistics.RxInvalid
        $t = Invoke-TcpTransfer '198.51.100.2' -A $GA -B $GB
        try {
            $t.Received | Should -Be $t.Sent -Because 'B must read exactly the bytes A wrote'
            # The veth keeps a GSO datagram whole, so the capture shows UDP datagrams longer than the 1500-byte path
            # that are not IP fragments: A handed the kernel many L2TP packets in one send.
            $gso = @(Read-LabCapture -Path $t.Wire -Field 'frame.number', 'ip.len', 'ip.flags.mf', 'ip.frag_offset' -DisplayFilter 'ip.len > 1500 and ip.flags.mf == 0 and ip.frag_offset == 0')
            $gso.Count | Should -BeGreaterThan 0 -Because 'with UDP checksums on, the forwarder sends a super-frame''s segments with UDP_SEGMENT'
        }
        finally {
            Remove-Item -Force -ErrorAction Ignore $t.Wire, $t.Tap
        }
        $after = (Get-L2tpSession -netns $GB -TunnelId 4000 -SessionId 2000 -ErrorAction Stop).Statistics
        ($after.RxPackets - $before.RxPackets) | Should -BeGreaterThan 2900 -Because 'B splits the GRO datagrams into the L2TP packets they hold'
        $after.RxErrors | Should -Be $before.RxErrors
        (Get-L2tpTunnel -netns $GB -TunnelId 4000 -ErrorAction Stop).Statistics.RxInvalid | Should -Be $invalidBefore
    }

    It 'a burst of small frames leaves joined into UDP GSO datagrams, and every frame arrives at a peer with GRO and at one without' -ForEach @(
        @{ To = '198.51.100.2'; Peer = 'GB'; Tunnel = 4000; Session = 2000; Underlay = 'veth0'; Port = 6000 }
        @{ To = '198.51.100.130'; Peer = 'GC'; Tunnel = 4001; Session = 2001; Underlay = 'veth1'; Port = 6001 }
    ) {
        $peerNs = Get-Variable -ValueOnly $Peer
        $before = (Get-L2tpSession -netns $peerNs -TunnelId $Tunnel -SessionId $Session -ErrorAction Stop).Statistics
        $cap = Start-LabCapture -Namespace $GA -Interface $Underlay -Filter "udp port $Port"
        # -l 64: ping sends 64 echo requests before waiting for any reply, so A's TAP queue holds many 98-byte frames
        # at once; each batch of them should leave in a few sends, not one send per frame.
        $r = Invoke-LabCommand -Namespace $GA -FilePath 'ping' -ArgumentList @('-n', '-q', '-f', '-l', '64', '-c', '512', '-W', '2', $To) -TimeoutSeconds 60
        $null = Stop-LabCapture -Capture $cap -KeepFile -Field 'frame.number'
        try {
            $r.StdOut | Should -Match '512 packets transmitted, 512 received' -Because 'the peer splits every joined datagram into the frames it holds (or the kernel does before a peer without GRO reads it)'
            # One L2TP packet of a 98-byte frame is 20 + 8 + 8 + 98 = 134 bytes of IP; a joined datagram is longer,
            # but short of the 1500-byte path (not a TCP super-frame's segments).
            $joined = @(Read-LabCapture -Path $cap.Path -Field 'frame.number', 'ip.len' -DisplayFilter 'ip.src == 192.0.2.1 or ip.src == 203.0.113.1' |
                    Where-Object { [int]$_.'ip.len' -ge 2 * 106 + 28 -and [int]$_.'ip.len' -le 1500 })
            $joined.Count | Should -BeGreaterThan 0 -Because 'equal-sized frames read in one batch leave as one UDP_SEGMENT send'
        }
        finally {
            Remove-Item -Force -ErrorAction Ignore $cap.Path
        }
        $after = (Get-L2tpSession -netns $peerNs -TunnelId $Tunnel -SessionId $Session -ErrorAction Stop).Statistics
        ($after.RxPackets - $before.RxPackets) | Should -BeGreaterOrEqual 512 -Because 'counted as the L2TP packets inside each datagram'
        $after.RxErrors | Should -Be $before.RxErrors
    }

    It 'a burst of equal UDP datagrams reaches the far TAP joined into UDP GSO writes, and the stack behind it hands every datagram to its socket intact' {
        $receiver = @'
use strict; use warnings; use IO::Socket::IP;
$| = 1;
my $s = IO::Socket::IP->new(LocalHost => $ARGV[0], LocalPort => 7001, Proto => 'udp') or die "bind: $@\n";
setsockopt($s, Socket::SOL_SOCKET(), Socket::SO_RCVBUF(), 4 << 20);
print "listening\n";
my ($n, $bad, %seen) = (0, 0);
my $rin = ''; vec($rin, fileno($s), 1) = 1;
while ($n < $ARGV[1] && select(my $r = $rin, undef, undef, 3)) {
    sysread($s, my $buf, 2048) // die "read: $!\n";
    my $i = unpack('N', $buf);
    $bad++ if length($buf) != 18 || $buf ne pack('N', $i) . ('z' x 14) || $seen{$i}++;
    $n++;
}
print "got $n bad $bad\n";
'@
        $sender = @'
use strict; use warnings; use IO::Socket::IP;
my $s = IO::Socket::IP->new(PeerHost => $ARGV[0], PeerPort => 7001, Proto => 'udp') or die "connect: $@\n";
for my $i (0 .. $ARGV[1] - 1) { defined(send($s, pack('N', $i) . ('z' x 14), 0)) or die "send: $!\n"; }
'@
        $count = 256
        $tapBefore = [long](Invoke-LabNs $GB 'cat /sys/class/net/l2tpeth0/statistics/rx_packets')
        $before = (Get-L2tpSession -netns $GB -TunnelId 4000 -SessionId 2000 -ErrorAction Stop).Statistics
        $log = Join-Path ([System.IO.Path]::GetTempPath()) ("l2tplab-udp-{0}.log" -f [guid]::NewGuid().ToString('N').Substring(0, 8))
        $p = Start-LabBackgroundProcess -Namespace $GB -FilePath 'perl' -ArgumentList @('-e', $receiver, '198.51.100.2', "$count") -LogPath $log
        try {
            $listening = Wait-LabCondition -TimeoutSeconds 10 { $p.HasExited -or ((Test-Path $log) -and (Get-Content -Raw $log) -match 'listening') }
            if (-not $listening -or $p.HasExited) { throw "the UDP receiver did not start: $(Get-Content -Raw $log -ErrorAction Ignore)" }
            $sent = Invoke-LabCommand -Namespace $GA -FilePath 'perl' -ArgumentList @('-e', $sender, '198.51.100.2', "$count") -TimeoutSeconds 30
            $sent.ExitCode | Should -Be 0 -Because "the sender must send them all: $($sent.StdErr)"
            $null = $p.WaitForExit(10000)
            $got = (Get-Content -Raw $log) -split "`n" | Where-Object { $_ -match '^got ' } | Select-Object -First 1
        }
        finally {
            if (-not $p.HasExited) { $p.Kill() }
            Remove-Item -Force -ErrorAction Ignore $log
        }
        $got | Should -Be "got $count bad 0" -Because 'the kernel cuts each UDP super-frame back into the datagrams that went in, every byte and checksum intact'
        $after = (Get-L2tpSession -netns $GB -TunnelId 4000 -SessionId 2000 -ErrorAction Stop).Statistics
        $frames = $after.RxPackets - $before.RxPackets
        $writes = [long](Invoke-LabNs $GB 'cat /sys/class/net/l2tpeth0/statistics/rx_packets') - $tapBefore
        $frames | Should -BeGreaterOrEqual $count -Because 'the session counts every L2TP packet it delivered'
        # The TAP counts one packet per write: a joined run is one.
        $writes | Should -BeLessThan ($frames / 2) -Because 'runs of equal datagrams from one batch are written to the TAP as UDP GSO super-frames'
    }

    It 'a 4 MiB TCP stream to a peer without GRO arrives intact: the kernel''s cuts of our GSO sends are well-formed L2TP packets' {
        # Deltas: before C's interface came up, A's sent IPv6 solicitations that C could not write to a down TAP.
        $invalidBefore = (Get-L2tpTunnel -netns $GC -TunnelId 4001 -ErrorAction Stop).Statistics.RxInvalid
        $cBefore = (Get-L2tpSession -netns $GC -TunnelId 4001 -SessionId 2001 -ErrorAction Stop).Statistics
        $t = Invoke-TcpTransfer '198.51.100.130' -A $GA -B $GC -Port 6001 -Underlay veth1
        try {
            $t.Received | Should -Be $t.Sent
        }
        finally {
            Remove-Item -Force -ErrorAction Ignore $t.Wire, $t.Tap
        }
        $c = (Get-L2tpSession -netns $GC -TunnelId 4001 -SessionId 2001 -ErrorAction Stop).Statistics
        ($c.RxPackets - $cBefore.RxPackets) | Should -BeGreaterThan 2900 -Because 'one datagram per L2TP packet'
        $c.RxErrors | Should -Be $cBefore.RxErrors
        (Get-L2tpTunnel -netns $GC -TunnelId 4001 -ErrorAction Stop).Statistics.RxInvalid | Should -Be $invalidBefore
        $a = (Get-L2tpSession -netns $GA -TunnelId 3001 -SessionId 1001 -ErrorAction Stop).Statistics
        $a.TxErrors | Should -Be 0
        $a.TxPackets | Should -BeGreaterOrEqual $c.RxPackets -Because 'TxPackets counts the L2TP packets inside each GSO send'
    }

    # Last in this Describe: it lowers the underlay's MTU, and a session that met a refused GSO send keeps sending
    # packet by packet.
    It 'a burst of frames longer than the underlay''s MTU arrives whole when the kernel refuses the joined send and each packet goes alone' {
        $before = (Get-L2tpSession -netns $GB -TunnelId 4000 -SessionId 2000 -ErrorAction Stop).Statistics
        $aBefore = (Get-L2tpSession -netns $GA -TunnelId 3000 -SessionId 1000 -ErrorAction Stop).Statistics
        # Both ends: a veth drops what is longer than the MTU of the end that receives it.
        foreach ($n in $GA, $GB) { Invoke-LabNs $n 'ip link set veth0 mtu 1000' | Out-Null }
        try {
            # 1300-byte pings: each L2TP packet is longer than the path, so a UDP_SEGMENT send of several is refused
            # (EINVAL) and the forwarder sends them one by one, which IP fragments.
            $r = Invoke-LabCommand -Namespace $GA -FilePath 'ping' -ArgumentList @('-n', '-q', '-f', '-l', '16', '-c', '128', '-s', '1300', '-W', '2', '198.51.100.2') -TimeoutSeconds 60
        }
        finally {
            foreach ($n in $GA, $GB) { Invoke-LabNs $n 'ip link set veth0 mtu 1500' | Out-Null }
        }
        $r.StdOut | Should -Match '128 packets transmitted, 128 received'
        $a = (Get-L2tpSession -netns $GA -TunnelId 3000 -SessionId 1000 -ErrorAction Stop).Statistics
        ($a.TxPackets - $aBefore.TxPackets) | Should -BeGreaterOrEqual 128
        $a.TxErrors | Should -Be $aBefore.TxErrors -Because 'a refused joined send is not a lost packet'
        $after = (Get-L2tpSession -netns $GB -TunnelId 4000 -SessionId 2000 -ErrorAction Stop).Statistics
        ($after.RxPackets - $before.RxPackets) | Should -BeGreaterOrEqual 128
    }
}
