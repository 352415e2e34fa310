#Requires -Version 7.2
# Pester 5: the managed forwarder's reorder queue (-ReorderTimeout) and Set-L2tpSession on a live session, seen from
# outside: frames on the session's TAP (a packet socket) and the S bit on the wire (tshark) (needs root, perl, tshark). There is no netem here, so
# reordering is crafted: site A's end is a raw socket that sends L2TPv3 packets with chosen sequence numbers.
#   namespace $A: veth0 192.0.2.1/24 (first Describe: only a raw-socket sender, 192.0.2.1:5000 -> 192.0.2.2:6000;
#                 second: tunnel 3000 -> 4000 udp 5000 -> 6000, session 1000 -> 2000, l2tpeth0 198.51.100.1/24)
#   namespace $B: veth0 192.0.2.2/24, tunnel 4000 -> 3000 udp 6000 -> 5000, session 2000 -> 1000, l2tpeth0 up
#                 (198.51.100.2/24 in the second Describe)
# IPv6 is off on the session interfaces (and the inner neighbours static in the second Describe), so l2tpeth0 carries
# only the test's frames.

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot '../lab/Lab.psm1') -Force
    $ModulePath = [System.IO.Path]::GetFullPath((Join-Path $PSScriptRoot '../../out/L2tp/L2tp.psd1'))
    Import-Module $ModulePath -Force

    $A, $B = New-LabSitePair -Prefix 'reorder-A', 'reorder-B'
    foreach ($ns in $A, $B) { Invoke-LabNs $ns 'sysctl -qw net.ipv6.conf.default.disable_ipv6=1' | Out-Null }
    $MarkerType = 0x88b5
}

AfterAll {
    if (Get-Command Remove-LabL2tpConfig -ErrorAction Ignore) { Remove-LabL2tpConfig -Namespace $A, $B }
    if (Get-Command Remove-LabNamespace -ErrorAction Ignore) { Remove-LabNamespace -Name $A, $B }
}

Describe 'A managed session with -ReorderTimeout, fed crafted reordered packets' {
    BeforeAll {
        Remove-LabL2tpConfig -Namespace $A, $B
        New-L2tpTunnel -netns $B -TunnelId 4000 -PeerTunnelId 3000 -Local 192.0.2.2 -Remote 192.0.2.1 -SourcePort 6000 -DestinationPort 5000 -ErrorAction Stop |
            New-L2tpSession -SessionId 2000 -PeerSessionId 1000 -Sequencing Recv -ReorderTimeout 2000 -ErrorAction Stop | Out-Null
        Invoke-LabNs $B 'ip link set l2tpeth0 up' | Out-Null
        $Pid0 = (Get-L2tpForwarder -netns $B).ProcessId

        function Get-Stat { (Get-L2tpSession -netns $B -TunnelId 4000 -SessionId 2000 -ErrorAction Stop).Statistics }

        # Reads the frames of EtherType 0x88b5 that reach $B's l2tpeth0, in arrival order, through a packet socket held
        # by a background perl (a tshark per test would cost seconds each). Returns the handle for Stop-TapReader.
        function Start-TapReader {
            $log = Join-Path ([System.IO.Path]::GetTempPath()) "reorder-tap-$([guid]::NewGuid().ToString('N').Substring(0, 8)).log"
            $script = @'
use strict; use warnings; use Socket;
$| = 1;
my $ifindex = do { open(my $f, '<', '/sys/class/net/l2tpeth0/ifindex') or die "ifindex: $!\n"; <$f> + 0 };
my $proto = unpack('S', pack('n', 0x88b5));
socket(my $s, 17, SOCK_RAW, $proto) or die "socket(PF_PACKET): $!\n";
bind($s, pack('S n i S C C a8', 17, 0x88b5, $ifindex, 0, 0, 0, '')) or die "bind: $!\n";
print "ready\n";
while (defined(recv($s, my $buf, 65535, 0))) { print unpack('H*', substr($buf, 14)), "\n"; }
'@
            $p = Start-LabBackgroundProcess -Namespace $B -FilePath 'perl' -ArgumentList @('-e', $script) -LogPath $log
            Wait-LabCondition -TimeoutSeconds 5 { $p.HasExited -or ((Test-Path $log) -and (Get-Content -Raw $log) -match 'ready') } | Out-Null
            if ($p.HasExited) { throw "the frame reader did not start: $(Get-Content -Raw $log)" }
            [pscustomobject]@{ Process = $p; Log = $log }
        }

        # Stops the reader (after a moment for the last frames) and returns each frame's text without its "seq " prefix.
        function Stop-TapReader($Reader) {
            Start-Sleep -Milliseconds 200
            Stop-LabBackgroundProcess $Reader.Process
            $lines = @(Get-Content $Reader.Log | Where-Object { $_ -and $_ -ne 'ready' })
            Remove-Item -Force -ErrorAction Ignore $Reader.Log
            $lines | ForEach-Object { [System.Text.Encoding]::ASCII.GetString([Convert]::FromHexString($_)) -replace '^seq ', '' }
        }

        # Sends L2TPv3 packets for session 2000 carrying sequence numbers $Seq in that order (one raw socket, one
        # burst, or two with a pause after index -PauseAfter), each frame marked "seq N"; waits until the session
        # has counted them all (delivered or dropped); returns the marks of the frames that reached l2tpeth0, in order.
        function Send-Sequenced([uint32[]]$Seq, [int]$PauseAfter = -1, [int]$PauseMilliseconds = 0) {
            $before = Get-Stat
            $reader = Start-TapReader
            try {
                $payloads = foreach ($n in $Seq) {
                    $f = New-LabEthernetFrame -Source '02:00:5e:00:53:01' -EtherType $MarkerType -Payload "seq $n"
                    , (New-LabL2tpv3Packet -SessionId 2000 -Sublayer (0x40000000 -bor $n) -Frame $f)
                }
                if ($PauseAfter -ge 0) {
                    Send-LabRawIPv4Packet -Namespace $A -Source 192.0.2.1 -Destination 192.0.2.2 -SourcePort 5000 -DestinationPort 6000 -Payload $payloads[0..$PauseAfter]
                    Start-Sleep -Milliseconds $PauseMilliseconds
                    $payloads = $payloads[($PauseAfter + 1)..($payloads.Count - 1)]
                }
                Send-LabRawIPv4Packet -Namespace $A -Source 192.0.2.1 -Destination 192.0.2.2 -SourcePort 5000 -DestinationPort 6000 -Payload $payloads
                Wait-LabCondition -TimeoutSeconds 5 {
                    $s = Get-Stat
                    ($s.RxPackets + $s.RxErrors) - ($before.RxPackets + $before.RxErrors) -ge $Seq.Count
                } | Should -BeTrue -Because 'the session must count every packet sent'
            }
            finally {
                $got = @(Stop-TapReader $reader)
            }
            $got
        }
    }

    It 'delivers packets sent 0 2 1 3 to l2tpeth0 as 0 1 2 3, counting one RxOosPackets and no discards' {
        $got = @(Send-Sequenced 0, 2, 1, 3)
        $got -join ' ' | Should -Be '0 1 2 3'
        $s = Get-Stat
        ($s.RxPackets, $s.RxOosPackets, $s.RxSeqDiscards) | Should -Be @(4, 1, 0)
    }

    It 'Set-L2tpSession -ReorderTimeout 0 on the live session: 4 6 5 7 now loses 6 and 7 (RxSeqDiscards), same forwarder' {
        Get-L2tpSession -netns $B -TunnelId 4000 -SessionId 2000 | Set-L2tpSession -ReorderTimeout 0 -ErrorAction Stop
        $before = Get-Stat
        @(Send-Sequenced 4, 6, 5, 7) -join ' ' | Should -Be '4 5'
        ((Get-Stat).RxSeqDiscards - $before.RxSeqDiscards) | Should -Be 2
        (Get-L2tpForwarder -netns $B).ProcessId | Should -Be $Pid0 -Because 'the change needs no restart'
    }

    It 'with -ReorderTimeout 200, a packet waiting past it is dropped (RxSeqDiscards) and the session goes on from the next' {
        Set-L2tpSession -netns $B -TunnelId 4000 -SessionId 2000 -ReorderTimeout 200 -ErrorAction Stop
        # 6 is what the session expects (7 was dropped before); 8 never comes. 9 and 10 wait; 11, half a second
        # later, finds both past their time: dropped as l2tp_recv_dequeue does, and 11 is delivered.
        $before = Get-Stat
        @(Send-Sequenced 6, 7, 9, 10, 11 -PauseAfter 3 -PauseMilliseconds 500) -join ' ' | Should -Be '6 7 11'
        $s = Get-Stat
        ($s.RxSeqDiscards - $before.RxSeqDiscards) | Should -Be 2
        ($s.RxPackets - $before.RxPackets) | Should -Be 3
    }

    It 'keeps -ReorderTimeout across Stop-L2tpForwarder and reorders again after the restart' {
        Set-L2tpSession -netns $B -TunnelId 4000 -SessionId 2000 -ReorderTimeout 1500 -ErrorAction Stop
        Stop-L2tpForwarder -netns $B -ErrorAction Stop
        $s = Get-L2tpSession -netns $B -TunnelId 4000 -SessionId 2000 -ErrorAction Stop
        $s.ReorderTimeout | Should -Be ([timespan]::FromMilliseconds(1500))
        $s.Sequencing | Should -Be ([L2tp.SequencingMode]::Recv)
        (Get-L2tpForwarder -netns $B).ProcessId | Should -Not -Be $Pid0
        @(Send-Sequenced 20, 22, 21, 23) -join ' ' | Should -Be '20 21 22 23'
    }
}

Describe 'Set-L2tpSession -Sequencing on a live managed pseudowire' {
    BeforeAll {
        Remove-LabL2tpConfig -Namespace $A, $B
        New-L2tpTunnel -netns $A -TunnelId 3000 -PeerTunnelId 4000 -Local 192.0.2.1 -Remote 192.0.2.2 -SourcePort 5000 -DestinationPort 6000 -ErrorAction Stop |
            New-L2tpSession -SessionId 1000 -PeerSessionId 2000 -ErrorAction Stop | Out-Null
        New-L2tpTunnel -netns $B -TunnelId 4000 -PeerTunnelId 3000 -Local 192.0.2.2 -Remote 192.0.2.1 -SourcePort 6000 -DestinationPort 5000 -ErrorAction Stop |
            New-L2tpSession -SessionId 2000 -PeerSessionId 1000 -ErrorAction Stop | Out-Null
        $MacA = Invoke-LabNs $A 'cat /sys/class/net/l2tpeth0/address'
        $MacB = Invoke-LabNs $B 'cat /sys/class/net/l2tpeth0/address'
        # Static neighbours: no ARP, so the only frames are the pings (and neither side's sequencing is turned by a stray one).
        Invoke-LabNs $A "ip link set l2tpeth0 up && ip addr add 198.51.100.1/24 dev l2tpeth0 && ip neigh replace 198.51.100.2 lladdr $MacB dev l2tpeth0 nud permanent" | Out-Null
        Invoke-LabNs $B "ip link set l2tpeth0 up && ip addr add 198.51.100.2/24 dev l2tpeth0 && ip neigh replace 198.51.100.1 lladdr $MacA dev l2tpeth0 nud permanent" | Out-Null
        $PidA = (Get-L2tpForwarder -netns $A).ProcessId

        # The S bit of each packet site A sends while A pings B twice, read from A's veth0 by tshark.
        function Get-SBitFromA {
            $cap = Start-LabCapture -Namespace $A -Interface veth0 -Filter 'src host 192.0.2.1 and udp port 6000'
            $ok = Test-LabPing -Namespace $A -Address 198.51.100.2 -Count 2 -Attempts 3
            $rows = @(Stop-LabCapture -Capture $cap -DecodeUdpPort 5000, 6000 -Field 'frame.number', 'l2tp.l2_spec_s' -Option 'l2tp.l2_specific:Default L2-Specific')
            $ok | Should -BeTrue -Because 'the pseudowire must carry the pings'
            $rows.Count | Should -BeGreaterOrEqual 2
            @($rows | ForEach-Object { $_.'l2tp.l2_spec_s' } | Sort-Object -Unique)
        }
    }

    It 'sends S=1 right after -Sequencing Send with no restart, and keeps it after Stop-L2tpForwarder' {
        # Created with -Sequencing None, the session sent S=0 (Wire.Tests pins that; the next test sees it again).
        $s = Set-L2tpSession -netns $A -TunnelId 3000 -SessionId 1000 -Sequencing Send -PassThru -ErrorAction Stop
        $s.Sequencing | Should -Be ([L2tp.SequencingMode]::Send)
        Get-SBitFromA | Should -Be @('1')
        (Get-L2tpForwarder -netns $A).ProcessId | Should -Be $PidA -Because 'the change needs no restart'

        Stop-L2tpForwarder -netns $A -ErrorAction Stop
        (Get-L2tpSession -netns $A -TunnelId 3000 -SessionId 1000 -ErrorAction Stop).Sequencing | Should -Be ([L2tp.SequencingMode]::Send)
        Get-SBitFromA | Should -Be @('1')
        (Get-L2tpForwarder -netns $A).ProcessId | Should -Not -Be $PidA
    }

    It 'sends S=0 again after -Sequencing None (the peer, following, stops too)' {
        Set-L2tpSession -netns $A -TunnelId 3000 -SessionId 1000 -Sequencing None -ErrorAction Stop
        Get-SBitFromA | Should -Be @('0')
        (Get-L2tpSession -netns $A -TunnelId 3000 -SessionId 1000).Sequencing | Should -Be ([L2tp.SequencingMode]::None)
    }
}
