#Requires -Version 7.2
# Pester 5: our managed forwarder against Linux's own L2TPv3 (l2tp_core, l2tp_eth, l2tp_ip, l2tp_ip6 of Debian's kernel,
# booted once under QEMU TCG by tests/lab/KernelLab.psm1). Needs root and qemu-system-x86_64.
#   host  (namespace $ns):  ktap0 192.0.2.1/24, 2001:db8::1/64; our tunnel and session (Managed backend), our TAP
#                           198.51.100.1 peer 198.51.100.2
#   guest (Linux 6.1):      its NIC 192.0.2.2/24, 2001:db8::2/64; `ip l2tp` tunnel and session, l2tpethN
#                           198.51.100.2 peer 198.51.100.1 (the inner addresses are IPv4 in every variant)
# One variant table drives both ends: the guest's bash script is generated from it and started once (BeforeAll), and
# each variant is one It, in table order, stepping the guest through a handshake in the share (the guest's /mnt):
#   guest: creates its tunnel+session, writes ready-N (setup status, its MTU) and waits for go-N (or done-N)
#   host:  creates the matching tunnel+session, [starts a capture on ktap0], pings 198.51.100.2, [sends probes],
#          writes go-N
#   guest: pings 198.51.100.1, [sends probes], writes result-N, waits for done-N, deletes its tunnel
#   host:  reads result-N, [stops the capture, compares the bytes], removes its tunnel, writes done-N
# Every variant has its own tunnel ids, session ids and UDP ports: the kernel deletes tunnels asynchronously, and with
# encap ip a session id must be unique in the whole namespace.
# Byte comparison (variants marked Compare): both ends are configured symmetrically (the same session id and cookie
# both ways), and each sends the same 3 broadcast frames (EtherType 0x88b5, fixed source MAC and payload) into its
# pseudowire with an AF_PACKET socket; the L2TP header and payload that Linux puts on ktap0 must equal ours byte for
# byte (for seq send: apart from the sequence number, whose layout and step are checked instead). Outer IP/UDP
# headers are not compared (IP id, checksums, flow label differ by nature); other outer differences (TOS, DF, TTL,
# whether the UDP checksum is zero) are only reported, in the results table printed at the end.
# Set KERNEL_INTEROP_KEEP_CAPTURES to a directory to keep the ktap0 captures (variant-N.pcapng) there.

BeforeDiscovery {
    $table = [System.Collections.Generic.List[hashtable]]::new()
    $n = 0
    foreach ($encap in 'Udp', 'Ip') {
        foreach ($family in 4, 6) {
            foreach ($cookieLength in 0, 4, 8) {
                foreach ($l2spec in 'None', 'Default') {
                    $n++
                    $table.Add(@{ N = $n; Encap = $encap; Family = $family; CookieLength = $cookieLength; L2Spec = $l2spec; Seq = 'None' })
                }
            }
        }
    }
    foreach ($seq in 'Send', 'Recv', 'Both') {
        $n++
        $table.Add(@{ N = $n; Encap = 'Udp'; Family = 4; CookieLength = 0; L2Spec = 'Default'; Seq = $seq })
    }
    foreach ($v in $table) {
        $n = $v.N
        $v.Compare = $v.Seq -eq 'Send' -or ($v.Seq -eq 'None' -and (
                ($v.Encap -eq 'Udp' -and $v.Family -eq 4 -and $v.CookieLength -eq 0 -and $v.L2Spec -eq 'Default') -or
                ($v.Encap -eq 'Udp' -and $v.Family -eq 6 -and $v.CookieLength -eq 8 -and $v.L2Spec -eq 'None') -or
                ($v.Encap -eq 'Ip' -and $v.Family -eq 4 -and $v.CookieLength -eq 8 -and $v.L2Spec -eq 'Default') -or
                ($v.Encap -eq 'Ip' -and $v.Family -eq 6 -and $v.CookieLength -eq 4 -and $v.L2Spec -eq 'None')))
        # With seq recv on both ends neither sends sequence numbers, so Linux drops every frame (l2tp_recv_common:
        # "recv data has no seq numbers when required"); the managed end must behave the same.
        $v.ExpectDelivery = $v.Seq -ne 'Recv'
        $v.HostAddress = if ($v.Family -eq 4) { '192.0.2.1' } else { '2001:db8::1' }
        $v.GuestAddress = if ($v.Family -eq 4) { '192.0.2.2' } else { '2001:db8::2' }
        $v.HostTunnelId = 3000 + $n
        $v.GuestTunnelId = 4000 + $n
        $v.HostPort = 10000 + $n
        $v.GuestPort = 20000 + $n
        # Ours: SessionId is matched on receive, PeerSessionId written; the guest's session_id/peer_session_id mirror them.
        $v.HostSessionId = if ($v.Compare) { 5000 + $n } else { 1000 + $n }
        $v.HostPeerSessionId = if ($v.Compare) { 5000 + $n } else { 2000 + $n }
        # HostCookie: we send it (the guest's peer_cookie); GuestCookie: the kernel sends it (our -PeerCookie).
        $v.HostCookie = switch ($v.CookieLength) { 0 { '' } 4 { 'a1b2c3{0:x2}' -f $n } 8 { 'a1b2c3d4e5f6a7{0:x2}' -f $n } }
        $v.GuestCookie = if ($v.Compare) { $v.HostCookie } else {
            switch ($v.CookieLength) { 0 { '' } 4 { 'd4e5f6{0:x2}' -f $n } 8 { 'd4e5f6a7b8c9d0{0:x2}' -f $n } }
        }
        $v.GuestInterface = "l2tpeth$n"
        # L2TP header length: [UDP: flags/version + reserved] + session id + cookie + [default sublayer].
        $v.HeaderLength = $(if ($v.Encap -eq 'Udp') { 4 } else { 0 }) + 4 + $v.CookieLength + $(if ($v.L2Spec -eq 'Default') { 4 } else { 0 })
        $cookieText = if ($v.CookieLength) { "$($v.CookieLength)-byte cookie" } else { 'no cookie' }
        $name = '{0}/IPv{1}, {2}, l2spec {3}, seq {4}' -f $v.Encap.ToUpperInvariant(), $v.Family, $cookieText, $v.L2Spec.ToLowerInvariant(), $v.Seq.ToLowerInvariant()
        $name += if ($v.ExpectDelivery) { ': pings both ways, same MTU' } else { ': like Linux, neither end delivers (no sequence numbers sent), same MTU' }
        if ($v.Compare) { $name += ', same bytes on the wire' }
        $v.Name = $name
    }
    $Variants = $table.ToArray()
}

Describe 'Linux l2tp_eth (guest kernel) against the managed forwarder' -ForEach @(@{ Variants = $Variants }) {
    BeforeAll {
        Import-Module (Join-Path $PSScriptRoot '../lab/Lab.psm1') -Force
        Import-Module (Join-Path $PSScriptRoot '../lab/KernelLab.psm1') -Force
        $ModulePath = [System.IO.Path]::GetFullPath((Join-Path $PSScriptRoot '../../out/L2tp/L2tp.psd1'))
        # out/ may be rebuilt by someone else at this moment: try again for a while.
        $deadline = [DateTime]::UtcNow.AddSeconds(90)
        while ($true) {
            try { Import-Module $ModulePath -Force -ErrorAction Stop; break }
            catch {
                if ([DateTime]::UtcNow -gt $deadline) { throw }
                Start-Sleep -Seconds 2
            }
        }

        $Python = if (Test-Path /usr/bin/python3) { '/usr/bin/python3' } else { (Get-Command python3 -ErrorAction Stop).Source }
        # Sends COUNT broadcast frames (EtherType 0x88b5, source 00:00:5e:00:53:01, a 46-byte payload naming the
        # frame's index) out of IFNAME through an AF_PACKET socket. The same program runs in the guest and here.
        $ProbePy = @'
import socket, sys
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((sys.argv[1], 0))
for i in range(int(sys.argv[2])):
    p = b"l2tp-interop-probe-%d" % i
    s.send(b"\xff" * 6 + bytes.fromhex("00005e005301") + b"\x88\xb5" + p + bytes(46 - len(p)))
'@
        $ProbeCount = 3
        function Get-ProbeFrame([int]$Index) {
            $p = [System.Text.Encoding]::ASCII.GetBytes("l2tp-interop-probe-$Index")
            [byte[]](@(0xff) * 6 + @(0x00, 0x00, 0x5e, 0x00, 0x53, 0x01, 0x88, 0xb5) + $p + @(0) * (46 - $p.Length))
        }

        # ---- the guest's script, generated from the same table ----
        $sb = [System.Text.StringBuilder]::new()
        [void]$sb.AppendLine(@'
ip addr add 192.0.2.2/24 dev "$GUEST_NIC"
ip -6 addr add 2001:db8::2/64 dev "$GUEST_NIC" nodad
PY=/usr/bin/python3; [ -x "$PY" ] || PY=$(command -v python3)
PROBE_PY=$(cat /mnt/probe.py)
# Under TCG every fork costs: the helpers below use bash builtins where they can.
mkfifo /tmp/nap.fifo && exec {NAP_FD}<>/tmp/nap.fifo
nap() { read -r -t "$1" -u "$NAP_FD"; }                       # sleep without a process
rd() { { read -r "$1" <"$2"; } 2>/dev/null || printf -v "$1" '%s' -1; }   # VAR FILE
pfx() { local l; while IFS= read -r l; do printf '%s%s\n' "$1" "$l"; done <<<"$2"; }   # PREFIX TEXT
put() { cat >"/mnt/.$1.tmp" && mv "/mnt/.$1.tmp" "/mnt/$1"; }     # NAME, text on stdin; atomic
wait_any() { # FILE1 FILE2 [SECONDS]: until either exists in /mnt
    local i=0 limit=$(( ${3:-90} * 20 ))
    while [ ! -e "/mnt/$1" ] && [ ! -e "/mnt/$2" ]; do
        [ "$i" -ge "$limit" ] && return 1
        nap 0.05; i=$((i + 1))
    done
}
run_variant() { # N IFNAME TUNNEL_ID PROBES PING_ATTEMPTS PING_COUNT PING_WAIT
    local n=$1 ifn=$2 tid=$3 probes=$4 attempts=$5 count=$6 wait=$7 st=ok log rc=none out= received=0 a c v mtu t0=$EPOCHREALTIME
    [ -e /mnt/abort ] && return 1
    log=$("setup_$n" 2>&1) || st=failed
    rd mtu "/sys/class/net/$ifn/mtu"
    # What Linux reports of it, for ConvertFrom-IpL2tp on the host (one line of JSON each).
    { echo "setup=$st"; echo "mtu=$mtu"; pfx log= "$log"
      echo "show_tunnel=$(ip -j l2tp show tunnel tunnel_id "$tid" 2>&1)"; echo "show_session=$(ip -j l2tp show session tunnel_id "$tid" 2>&1)"; } | put "ready-$n"
    wait_any "go-$n" "done-$n" || echo "variant $n: the host never answered"
    if [ -e "/mnt/go-$n" ]; then
        for ((a = 1; a <= attempts; a++)); do
            out=$(ping -n -c "$count" -i 0.2 -W "$wait" 198.51.100.1 2>&1); rc=$?
            received=0; [[ $out =~ ([0-9]+)\ (packets\ )?received ]] && received=${BASH_REMATCH[1]}
            [ "$rc" = 0 ] && break
        done
        [ "$probes" -gt 0 ] && "$PY" -I -S -c "$PROBE_PY" "$ifn" "$probes"
        {
            echo "ping_rc=$rc"; echo "ping_received=$received"
            for c in rx_packets tx_packets rx_errors rx_dropped tx_dropped; do rd v "/sys/class/net/$ifn/statistics/$c"; echo "if_$c=$v"; done
            pfx ping= "$out"
        } | put "result-$n"
        [ "$rc" = 0 ] || ip l2tp show session tunnel_id "$tid"
        wait_any "done-$n" abort 120 || echo "variant $n: no done-$n"
    fi
    ip l2tp del tunnel tunnel_id "$tid"
    a=0; while [ -e "/sys/class/net/$ifn" ] && [ "$a" -lt 100 ]; do nap 0.05; a=$((a + 1)); done
    echo "variant $n: setup $st, ping rc $rc, received $received, $(( (${EPOCHREALTIME/./} - ${t0/./}) / 1000 )) ms"
}
'@)
        # The guest's end of each variant is ConvertTo-L2tpPeerConfiguration -Format IpRoute2 of ours, described as a
        # configuration file (the same values New-L2tpTunnel/New-L2tpSession get below): the script it writes is what
        # Linux runs, so every variant also proves that format on l2tp_eth.
        $GuestLinesOf = @{}
        $HostConfig = Join-Path ([System.IO.Path]::GetTempPath()) ('kernel-interop-host-' + [guid]::NewGuid().ToString('N').Substring(0, 8) + '.json')
        foreach ($v in $Variants) {
            $tunnel = [ordered]@{
                tunnelId = $v.HostTunnelId; peerTunnelId = $v.GuestTunnelId; encapsulation = $v.Encap
                local = $v.HostAddress; remote = $v.GuestAddress; sourcePort = 0; destinationPort = 0; udpChecksum = $false
                sessions = @([ordered]@{
                        sessionId = $v.HostSessionId; peerSessionId = $v.HostPeerSessionId; interfaceName = $v.GuestInterface
                        cookie = $v.HostCookie; peerCookie = $v.GuestCookie; l2SpecType = $v.L2Spec; sequencing = $v.Seq
                    })
            }
            if ($v.Encap -eq 'Udp') { $tunnel.sourcePort = $v.HostPort; $tunnel.destinationPort = $v.GuestPort }
            @{ namespaces = @(@{ name = ''; tunnels = @($tunnel) }) } | ConvertTo-Json -Depth 8 | Set-Content $HostConfig
            $script = ConvertTo-L2tpPeerConfiguration -Path $HostConfig -Format IpRoute2 -ErrorAction Stop
            $lines = @($script -split "`n" | Where-Object { $_ -like 'ip *' })
            $GuestLinesOf[$v.N] = $lines
            [void]$sb.AppendLine("setup_$($v.N)() {")
            foreach ($line in $lines) { [void]$sb.AppendLine("    $line &&") }
            [void]$sb.AppendLine("    ip addr add 198.51.100.2 peer 198.51.100.1 dev $($v.GuestInterface)")
            [void]$sb.AppendLine('}')
        }
        Remove-Item $HostConfig -ErrorAction Ignore
        foreach ($v in $Variants) {
            $probes = if ($v.Compare) { $ProbeCount } else { 0 }
            $ping = if ($v.ExpectDelivery) { '2 2 2' } else { '1 1 1' }
            [void]$sb.AppendLine("run_variant $($v.N) $($v.GuestInterface) $($v.GuestTunnelId) $probes $ping || exit 3")
        }
        [void]$sb.AppendLine('echo "all variants done"')
        $GuestScript = $sb.ToString()

        $Results = [System.Collections.Generic.List[object]]::new()
        $ns = New-LabNamespace -Prefix 'kernel-interop'
        $Share = Join-Path ([System.IO.Path]::GetTempPath()) ('kernel-interop-' + [guid]::NewGuid().ToString('N').Substring(0, 8))
        $null = New-Item -ItemType Directory -Path $Share
        [System.IO.File]::WriteAllText((Join-Path $Share 'probe.py'), $ProbePy.Replace("`r`n", "`n"))
        $Started = [System.Diagnostics.Stopwatch]::StartNew()
        $Lab = Start-KernelLab -Namespace $ns -TapAddress 192.0.2.1/24 -TimeoutSeconds 420 -ShareDirectory $Share -Script $GuestScript
        Invoke-LabNs $ns 'ip -6 addr add 2001:db8::1/64 dev ktap0 nodad' | Out-Null

        # Runs ACTION; while out/ is being rebuilt by someone else (the forwarder's files briefly missing), tries again.
        function Invoke-DuringRebuild([scriptblock]$Action) {
            $until = [DateTime]::UtcNow.AddSeconds(90)
            while ($true) {
                try { return & $Action }
                catch {
                    if ($_.Exception.Message -notmatch 'module is incomplete' -or [DateTime]::UtcNow -gt $until) { throw }
                    Start-Sleep -Seconds 2
                }
            }
        }

        function Write-ShareFile([string]$Name, [string]$Text = '') {
            $tmp = Join-Path $Share ".$Name.tmp"
            [System.IO.File]::WriteAllText($tmp, $Text)
            [System.IO.File]::Move($tmp, (Join-Path $Share $Name), $true)
        }

        # key=value lines of a handshake file; repeated keys are joined with newlines.
        function Read-ShareFile([string]$Path) {
            $h = @{}
            foreach ($line in [System.IO.File]::ReadAllLines($Path)) {
                $i = $line.IndexOf('=')
                if ($i -lt 1) { continue }
                $k = $line.Substring(0, $i); $val = $line.Substring($i + 1)
                $h[$k] = if ($h.ContainsKey($k)) { $h[$k] + "`n" + $val } else { $val }
            }
            $h
        }

        # The packets of a pcapng file (Enhanced and Simple Packet Blocks; little-endian, as tshark writes here).
        function Read-PcapngPacket([string]$Path) {
            $b = [System.IO.File]::ReadAllBytes($Path)
            $o = 0
            while ($o + 12 -le $b.Length) {
                $type = [BitConverter]::ToUInt32($b, $o)
                $len = [int][BitConverter]::ToUInt32($b, $o + 4)
                if ($len -lt 12 -or $o + $len -gt $b.Length) { break }
                $start = -1; $cap = 0
                if ($type -eq 6) { $cap = [int][BitConverter]::ToUInt32($b, $o + 20); $start = $o + 28 }
                elseif ($type -eq 3) { $cap = $len - 16; $start = $o + 12 }
                if ($start -ge 0) {
                    $p = [byte[]]::new($cap)
                    [Array]::Copy($b, $start, $p, 0, $cap)
                    , $p
                }
                $o += $len
            }
        }

        # An Ethernet frame from ktap0 split into the outer headers and the L2TP message (header + inner frame).
        function Split-L2tpPacket([byte[]]$Frame, [string]$Encap) {
            $etherType = ([int]$Frame[12] -shl 8) -bor $Frame[13]
            if ($etherType -eq 0x0800) {
                $ihl = ($Frame[14] -band 0x0f) * 4
                $total = ([int]$Frame[16] -shl 8) -bor $Frame[17]
                $proto = $Frame[23]; $l4 = 14 + $ihl; $end = 14 + $total
                $src = [System.Net.IPAddress]::new([byte[]]$Frame[26..29]).ToString()
                $outer = 'tos=0x{0:x2} df={1} ttl={2}' -f $Frame[15], [int](($Frame[20] -band 0x40) -ne 0), $Frame[22]
            }
            elseif ($etherType -eq 0x86dd) {
                $proto = $Frame[20]; $l4 = 54; $end = 54 + (([int]$Frame[18] -shl 8) -bor $Frame[19])
                $src = [System.Net.IPAddress]::new([byte[]]$Frame[22..37]).ToString()
                $outer = 'tc=0x{0:x2} flowlabel={1} hoplimit={2}' -f ((([int]$Frame[14] -band 0x0f) -shl 4) -bor ([int]$Frame[15] -shr 4)),
                    [int](($Frame[15] -band 0x0f) -ne 0 -or $Frame[16] -ne 0 -or $Frame[17] -ne 0), $Frame[21]
            }
            else { return }
            if ($Encap -eq 'Udp') {
                if ($proto -ne 17) { return }
                $outer += ' udpcsum={0}' -f $(if ($Frame[$l4 + 6] -eq 0 -and $Frame[$l4 + 7] -eq 0) { 'zero' } else { 'set' })
                $l4 += 8
            }
            elseif ($proto -ne 115) { return }
            $msg = [byte[]]::new($end - $l4)
            [Array]::Copy($Frame, $l4, $msg, 0, $msg.Length)
            [pscustomobject]@{ Source = $src; Outer = $outer; Message = $msg }
        }

        function Format-Hex([byte[]]$Bytes) { [Convert]::ToHexString($Bytes).ToLowerInvariant() }

        # The L2TP message Linux builds (l2tp_build_l2tpv3_header) for an inner frame: what both ends must send.
        function Get-ExpectedMessage($V, [byte[]]$Frame) {
            $m = [System.Collections.Generic.List[byte]]::new()
            if ($V.Encap -eq 'Udp') { $m.AddRange([byte[]](0x00, 0x03, 0x00, 0x00)) }
            $sid = [uint32]$V.HostPeerSessionId
            $m.AddRange([byte[]](@((($sid -shr 24) -band 0xff), (($sid -shr 16) -band 0xff), (($sid -shr 8) -band 0xff), ($sid -band 0xff))))
            if ($V.CookieLength) { $m.AddRange([Convert]::FromHexString($V.HostCookie)) }
            if ($V.L2Spec -eq 'Default') { $m.AddRange([byte[]](0, 0, 0, 0)) }
            $m.AddRange($Frame)
            , $m.ToArray()
        }

        function Get-SublayerWord([byte[]]$Message, [int]$HeaderLength) {
            $o = $HeaderLength - 4
            ([long]$Message[$o] -shl 24) -bor ([long]$Message[$o + 1] -shl 16) -bor ([long]$Message[$o + 2] -shl 8) -bor [long]$Message[$o + 3]
        }

        # A copy with the sequence number (low 24 bits of the default sublayer) zeroed.
        function Get-Unsequenced([byte[]]$Message, [int]$HeaderLength) {
            $c = [byte[]]$Message.Clone()
            $c[$HeaderLength - 3] = 0; $c[$HeaderLength - 2] = 0; $c[$HeaderLength - 1] = 0
            , $c
        }

        function Test-IsProbe([byte[]]$Message, [int]$HeaderLength) {
            $Message.Length -ge $HeaderLength + 14 -and $Message[$HeaderLength] -eq 0xff -and
                $Message[$HeaderLength + 12] -eq 0x88 -and $Message[$HeaderLength + 13] -eq 0xb5
        }
    }

    AfterAll {
        if (Get-Variable -Name Lab -ErrorAction Ignore) {
            if ($Lab -and -not $Lab.Result) {
                # Let a guest still waiting on a handshake finish quickly; keep whatever it says.
                Write-ShareFile 'abort'
                $null = Wait-LabCondition -TimeoutSeconds 20 -Condition { $Lab.Process.HasExited }
                $r = Stop-KernelLab $Lab -PassThru
                if ($r -and $r.ExitCode -ne 0) { Write-Host "Guest output:`n$($r.Output)" }
            }
        }
        if (Get-Variable -Name Results -ErrorAction Ignore) {
            if ($Results.Count) {
                Write-Host ("Kernel interop, {0:0} s in all:`n{1}" -f $Started.Elapsed.TotalSeconds,
                    ($Results | Format-Table -AutoSize -Wrap -Property N, Encap, Family, Cookie, L2Spec, Seq, 'Ours->Linux', 'Linux->Ours',
                        'MTU ours/Linux', Bytes, Seconds, Notes | Out-String -Width 300))
            }
        }
        if (Get-Variable -Name ns -ErrorAction Ignore) {
            if (Get-Command Remove-LabL2tpConfig -ErrorAction Ignore) { Remove-LabL2tpConfig -Namespace $ns }
            if (Get-Command Remove-LabNamespace -ErrorAction Ignore) { Remove-LabNamespace -Name $ns }
        }
        if ((Get-Variable -Name Share -ErrorAction Ignore) -and $Share) {
            Remove-Item -LiteralPath $Share -Recurse -Force -ErrorAction SilentlyContinue
        }
    }

    It '<Name>' -ForEach $Variants {
        $v = $_
        $problems = [System.Collections.Generic.List[string]]::new()
        $row = [pscustomobject]@{
            N = $N; Encap = $Encap; Family = "IPv$Family"; Cookie = $CookieLength; L2Spec = $L2Spec; Seq = $Seq
            'Ours->Linux' = ''; 'Linux->Ours' = ''; 'MTU ours/Linux' = ''; Bytes = 'not compared'; Notes = ''
        }
        $capture = $null
        $tunnelMade = $false
        $sw = [System.Diagnostics.Stopwatch]::StartNew()
        try {
            $ready = Read-ShareFile (Wait-KernelLabFile $Lab "ready-$N" -TimeoutSeconds 90)
            $ready.setup | Should -Be 'ok' -Because "the guest's ip l2tp commands (from ConvertTo-L2tpPeerConfiguration -Format IpRoute2) must work: $($ready['log'])`n$($GuestLinesOf[$N] -join "`n")"

            # ConvertFrom-IpL2tp reads Linux's own `ip -j l2tp show` of the guest's end back into what was asked.
            $shown = ("$($ready.show_tunnel)`n$($ready.show_session)" | ConvertFrom-IpL2tp -WarningAction SilentlyContinue -ErrorAction Stop | ConvertFrom-Json).namespaces[0].tunnels[0]
            $got = '{0}/{1} {2}->{3} {4}->{5} s{6}/{7} {8}|{9} {10} {11}' -f $shown.tunnelId, $shown.peerTunnelId, $shown.local, $shown.remote, $shown.sourcePort, $shown.destinationPort,
                $shown.sessions[0].sessionId, $shown.sessions[0].peerSessionId, $shown.sessions[0].cookie, $shown.sessions[0].peerCookie, $shown.sessions[0].sequencing, $shown.sessions[0].interfaceName
            $ports = if ($Encap -eq 'Udp') { "$GuestPort->$HostPort" } else { '0->0' }
            $want = '{0}/{1} {2}->{3} {4} s{5}/{6} {7}|{8} {9} {10}' -f $GuestTunnelId, $HostTunnelId, $GuestAddress, $HostAddress, $ports,
                $HostPeerSessionId, $HostSessionId, $GuestCookie, $HostCookie, $Seq, $GuestInterface
            if ($got -ne $want) { $problems.Add("ConvertFrom-IpL2tp of Linux's ip -j l2tp show: $got, expected $want (shown: $($ready.show_tunnel) $($ready.show_session))") }

            # Our end, the mirror image of the guest's.
            $tp = @{
                Backend = 'Managed'; NetworkNamespace = $ns; TunnelId = $HostTunnelId; PeerTunnelId = $GuestTunnelId
                Encapsulation = $Encap; Local = $HostAddress; Remote = $GuestAddress; ErrorAction = 'Stop'
            }
            if ($Encap -eq 'Udp') { $tp.SourcePort = $HostPort; $tp.DestinationPort = $GuestPort }
            if ($Encap -eq 'Udp' -and $Family -eq 4) { $tp.UdpChecksum = 'off' }   # as the guest's line says
            $sp = @{ Backend = 'Managed'; SessionId = $HostSessionId; PeerSessionId = $HostPeerSessionId; L2SpecType = $L2Spec; Sequencing = $Seq; ErrorAction = 'Stop' }
            if ($CookieLength) { $sp.Cookie = $HostCookie; $sp.PeerCookie = $GuestCookie }
            $tunnel = Invoke-DuringRebuild { New-L2tpTunnel @tp }
            $tunnelMade = $true
            $session = Invoke-DuringRebuild { $tunnel | New-L2tpSession @sp }
            $session.Backend | Should -Be 'Managed'
            $ifName = $session.InterfaceName
            Invoke-LabNs $ns "ip link set '$ifName' up && ip addr add 198.51.100.1 peer 198.51.100.2 dev '$ifName'" | Out-Null

            $ourMtu = [int](Invoke-LabNs $ns "cat /sys/class/net/$ifName/mtu")
            $row.'MTU ours/Linux' = "$ourMtu/$($ready.mtu)"
            if ("$ourMtu" -ne $ready.mtu) { $problems.Add("MTU: Linux gives $($v.GuestInterface) $($ready.mtu), we give $ifName $ourMtu") }

            if ($Compare) {
                $filter = if ($Encap -eq 'Udp') { "udp port $GuestPort" } elseif ($Family -eq 4) { 'ip proto 115' } else { 'ip6 proto 115' }
                $capture = Start-LabCapture -Namespace $ns -Interface ktap0 -Filter $filter
            }
            $s0 = (Get-L2tpSession -Backend Managed -NetworkNamespace $ns -TunnelId $HostTunnelId -SessionId $HostSessionId -ErrorAction Stop).Statistics
            $hostPing = if ($ExpectDelivery) {
                Test-LabPing -Namespace $ns -Address 198.51.100.2 -Count 2 -TimeoutSeconds 2 -Attempts 2
            }
            else {
                Test-LabPing -Namespace $ns -Address 198.51.100.2 -Count 1 -TimeoutSeconds 1
            }
            if ($Compare) {
                $r = Invoke-LabCommand -Namespace $ns -FilePath $Python -ArgumentList @('-I', '-S', '-c', $ProbePy, $ifName, "$ProbeCount")
                $r.ExitCode | Should -Be 0 -Because "our probe sender: $($r.StdErr)"
            }
            Write-ShareFile "go-$N"
            $result = Read-ShareFile (Wait-KernelLabFile $Lab "result-$N" -TimeoutSeconds 60)
            $guestPing = [int]$result.ping_received -gt 0
            $s1 = (Get-L2tpSession -Backend Managed -NetworkNamespace $ns -TunnelId $HostTunnelId -SessionId $HostSessionId -ErrorAction Stop).Statistics
            $row.'Ours->Linux' = if ($hostPing) { 'ping ok' } else { 'no reply' }
            $row.'Linux->Ours' = if ($guestPing) { 'ping ok' } else { 'no reply' }
            $ourRx = [long]$s1.RxPackets - [long]$s0.RxPackets
            $seqDiscards = [long]$s1.RxSeqDiscards - [long]$s0.RxSeqDiscards
            $stats = "ours: rx +$ourRx, tx +$([long]$s1.TxPackets - [long]$s0.TxPackets), rxerr $($s1.RxErrors), cookie discards $($s1.RxCookieDiscards), seq discards $($s1.RxSeqDiscards); " +
                "Linux $($v.GuestInterface): rx $($result.if_rx_packets), tx $($result.if_tx_packets)"

            if ($ExpectDelivery) {
                if (-not $hostPing) { $problems.Add("ping 198.51.100.2 from our end through Linux's l2tp_eth got no reply ($stats)") }
                if (-not $guestPing) { $problems.Add("ping 198.51.100.1 from Linux's end through ours got no reply ($stats):`n$($result['ping'])") }
            }
            else {
                if ($hostPing) { $problems.Add("Linux (seq recv) answered although we send no sequence numbers ($stats)") }
                if ($guestPing) { $problems.Add("we (seq recv) answered although Linux sends no sequence numbers ($stats)") }
                if ($ourRx -ne 0) { $problems.Add("our seq-recv session delivered $ourRx unsequenced frames ($stats)") }
                if ($seqDiscards -lt 1) { $problems.Add("our session counted no RxSeqDiscards for Linux's unsequenced frames ($stats)") }
                if ([long]$result.if_rx_packets -ne 0) { $problems.Add("Linux's $($v.GuestInterface) received $($result.if_rx_packets) frames from us ($stats)") }
                $row.Notes = "seq discards (ours) +$seqDiscards; Linux rx $($result.if_rx_packets)"
            }

            if ($Compare) {
                $null = Stop-LabCapture -Capture $capture -KeepFile -Field 'frame.number' -SettleMilliseconds 300
                $messages = @(foreach ($f in Read-PcapngPacket $capture.Path) { Split-L2tpPacket $f $Encap })
                if ($env:KERNEL_INTEROP_KEEP_CAPTURES) {
                    Copy-Item -LiteralPath $capture.Path -Destination (Join-Path $env:KERNEL_INTEROP_KEEP_CAPTURES "variant-$N.pcapng")
                }
                Remove-Item -LiteralPath $capture.Path -Force -ErrorAction SilentlyContinue
                $capture = $null
                $fromLinux = @($messages | Where-Object Source -EQ ([System.Net.IPAddress]::Parse($GuestAddress).ToString()))
                $fromUs = @($messages | Where-Object Source -EQ ([System.Net.IPAddress]::Parse($HostAddress).ToString()))
                $linuxProbes = @($fromLinux | Where-Object { Test-IsProbe $_.Message $HeaderLength })
                $ourProbes = @($fromUs | Where-Object { Test-IsProbe $_.Message $HeaderLength })
                $diffs = [System.Collections.Generic.List[string]]::new()
                if ($linuxProbes.Count -ne $ProbeCount) { $diffs.Add("captured $($linuxProbes.Count) of Linux's $ProbeCount probe frames") }
                if ($ourProbes.Count -ne $ProbeCount) { $diffs.Add("captured $($ourProbes.Count) of our $ProbeCount probe frames") }
                for ($i = 0; $i -lt [math]::Min($ProbeCount, [math]::Min($linuxProbes.Count, $ourProbes.Count)); $i++) {
                    $expected = Get-ExpectedMessage $v (Get-ProbeFrame $i)
                    $k = $linuxProbes[$i].Message
                    $o = $ourProbes[$i].Message
                    if ($Seq -ne 'None') {
                        foreach ($side in @(@('Linux', $k), @('ours', $o))) {
                            $w = Get-SublayerWord $side[1] $HeaderLength
                            if (($w -band 0xbf000000L) -ne 0 -or ($w -band 0x40000000) -eq 0) {
                                $diffs.Add(('probe {0}: {1} sublayer word 0x{2:x8} is not S=1 with a 24-bit sequence number' -f $i, $side[0], $w))
                            }
                        }
                        $k = Get-Unsequenced $k $HeaderLength
                        $o = Get-Unsequenced $o $HeaderLength
                        $expected = Get-Unsequenced $expected $HeaderLength
                        $expected[$HeaderLength - 4] = 0x40
                    }
                    if ((Format-Hex $k) -ne (Format-Hex $o)) {
                        $at = 0; while ($at -lt [math]::Min($k.Length, $o.Length) -and $k[$at] -eq $o[$at]) { $at++ }
                        $diffs.Add("probe ${i}: first difference at byte $at of the L2TP message`n  Linux: $(Format-Hex $k)`n  ours:  $(Format-Hex $o)")
                    }
                    elseif ((Format-Hex $k) -ne (Format-Hex $expected)) {
                        $diffs.Add("probe ${i}: both ends send the same bytes, but not the expected layout`n  both:     $(Format-Hex $k)`n  expected: $(Format-Hex $expected)")
                    }
                }
                if ($Seq -ne 'None') {
                    # Every L2TP packet each end sent while capturing carries S=1 and the next sequence number.
                    foreach ($side in @(@('Linux', $fromLinux), @('ours', $fromUs))) {
                        $ns24 = @($side[1] | ForEach-Object { Get-SublayerWord $_.Message $HeaderLength })
                        $unsequenced = @($ns24 | Where-Object { ($_ -band 0x40000000) -eq 0 }).Count
                        if ($unsequenced) { $diffs.Add("$($side[0]): $unsequenced of $($ns24.Count) packets without the S bit") }
                        for ($j = 1; $j -lt $ns24.Count; $j++) {
                            $step = (($ns24[$j] -band 0xffffff) - ($ns24[$j - 1] -band 0xffffff) + 0x1000000) % 0x1000000
                            if ($step -ne 1) {
                                $diffs.Add(('{0}: sequence number steps from {1} to {2} (packet {3} of {4})' -f $side[0], ($ns24[$j - 1] -band 0xffffff), ($ns24[$j] -band 0xffffff), $j, $ns24.Count))
                                break
                            }
                        }
                    }
                    $row.Notes = 'seq: Linux {0} pkts, ours {1} pkts, each +1' -f $fromLinux.Count, $fromUs.Count
                }
                # Outer headers (not part of the comparison): only reported, in the Notes column.
                if ($linuxProbes.Count -and $ourProbes.Count) {
                    $outer = if ($linuxProbes[0].Outer -eq $ourProbes[0].Outer) { "outer alike: $($ourProbes[0].Outer)" } else {
                        "OUTER DIFFERS: Linux $($linuxProbes[0].Outer), ours $($ourProbes[0].Outer)"
                    }
                    $row.Notes = ($row.Notes + '; ' + $outer).Trim('; ')
                }
                $row.Bytes = if ($diffs.Count) { 'DIFFERENT' } elseif ($Seq -ne 'None') { 'identical (seq layout ok)' } else { 'identical' }
                foreach ($d in $diffs) { $problems.Add("bytes: $d") }
            }
        }
        catch {
            $problems.Add("$($_.Exception.Message)")
        }
        finally {
            if ($capture) { try { $null = Stop-LabCapture -Capture $capture } catch { Write-Verbose "$_" } }
            if ($tunnelMade) { Remove-L2tpTunnel -Backend Managed -NetworkNamespace $ns -TunnelId $HostTunnelId -Force -ErrorAction SilentlyContinue }
            Write-ShareFile "done-$N"
            $row | Add-Member -NotePropertyName Seconds -NotePropertyValue ([math]::Round($sw.Elapsed.TotalSeconds, 1))
            $Results.Add($row)
        }
        $problems.Count | Should -Be 0 -Because ("Linux and the managed forwarder disagree:`n" + ($problems -join "`n"))
    }

    It 'the guest ran every variant and powered off' {
        $null = Wait-LabCondition -TimeoutSeconds 60 -Condition { $Lab.Process.HasExited }
        $r = Wait-KernelLab $Lab
        $r.ExitCode | Should -Be 0 -Because $r.Output
        $r.Output | Should -Match 'all variants done'
        $r.Output | Should -Not -Match 'never answered|no done-'
    }
}
