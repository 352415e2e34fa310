#Requires -Version 7.2
<#
    Runs inside the kernel lab guest (Debian's 6.1 kernel with 8021q, bridge, tun and l2tp_eth), started by
    tests/Pester/KernelBackend.Tests.ps1 (in its guest's pwsh, after the guest suite): the man page's "VLAN per bridge" example, once per run of RunsPath (a JSON array of
    { Id, Prefix, SiteA, SiteB, Title }; SiteA/SiteB are the backends, Kernel or Managed), in the guest's network
    namespaces <Prefix>-sA, -sB, -hA, -hB, -hA6, -hB6:

        hA  eth0.5 198.51.100.10/24 (00:00:5e:00:53:10)           hB  eth0.5 198.51.100.20/24 (00:00:5e:00:53:20)
        hA6 eth0.6 198.51.100.16/24 (00:00:5e:00:53:16)           hB6 eth0.6 198.51.100.26/24 (00:00:5e:00:53:26)
              (both VLAN devices of hA's eth0, the trunk;                (likewise on hB's eth0)
               eth0.6 then moved into hA6)
        hA eth0 =trunk= sA eth1                                    sB eth1 =trunk= hB eth0
        sA  eth1.5 + l2tpeth0.5 in brvlan5                         sB  the same
            eth1.6 + l2tpeth1.6 in brvlan6
            uA 192.0.2.1/24  ========= veth underlay =========     uB 192.0.2.2/24
            tunnel 3000 -> 4000, UDP 5000 -> 6000                  tunnel 4000 -> 3000, UDP 6000 -> 5000
            session 1000 -> 2000 (l2tpeth0, VLAN 5)                session 2000 -> 1000 (l2tpeth0, VLAN 5)
            session 1001 -> 2001 (l2tpeth1, VLAN 6)                session 2001 -> 1001 (l2tpeth1, VLAN 6)

    Namespaces, veths and VLAN devices are made with `ip` (the module has no VLAN cmdlet); every L2TP and bridge step
    is a cmdlet of the module: New-L2tpTunnel | New-L2tpSession, Set-L2tpInterface -Up -Mtu Auto, New-L2tpBridge -Up,
    Set-L2tpInterface -Up | Add-L2tpBridgePort -PassThru, Get-L2tpBridge, Get-L2tpSession, Remove-L2tpBridge,
    Remove-L2tpTunnel -Force.

    Writes into ResultDirectory, each file under a temporary name and then renamed:
        <Id>-vlan5.json, <Id>-vlan6.json   Key, Passed, Problems (what went wrong: command, expected, actual),
                                           Details (what was seen), Seconds
        summary.json                       PwshStartSeconds, ImportSeconds, Runs (seconds, phases, cleanup notes), Error
    Exit code 0 once every run was tried (whatever the results), 1 if the module could not even be imported.
#>
param(
    [Parameter(Mandatory)][string]$ModulePath,
    [Parameter(Mandatory)][string]$RunsPath,
    [Parameter(Mandatory)][string]$ResultDirectory,
    # The guest's /proc/uptime when the lab script launched this pwsh (for the pwsh start-up time).
    [double]$LaunchUptime = -1
)

Set-StrictMode -Version 3.0
$ErrorActionPreference = 'Stop'

function Get-Uptime { [double]::Parse(([System.IO.File]::ReadAllText('/proc/uptime') -split ' ')[0], [cultureinfo]::InvariantCulture) }

function Write-ResultFile([string]$Name, $Object) {
    $path = Join-Path $ResultDirectory $Name
    $utf8 = [System.Text.UTF8Encoding]::new($false)
    [System.IO.File]::WriteAllText("$path.tmp", ($Object | ConvertTo-Json -Depth 6), $utf8)
    [System.IO.File]::Move("$path.tmp", $path, $true)
}

# Runs a bash script; returns ExitCode, StdOut, StdErr.
function Invoke-Bash([string]$Script) {
    $psi = [System.Diagnostics.ProcessStartInfo]::new('bash')
    $psi.ArgumentList.Add('-c')
    $psi.ArgumentList.Add($Script)
    $psi.UseShellExecute = $false
    $psi.RedirectStandardOutput = $true
    $psi.RedirectStandardError = $true
    $p = [System.Diagnostics.Process]::Start($psi)
    try {
        $o = $p.StandardOutput.ReadToEndAsync()
        $e = $p.StandardError.ReadToEndAsync()
        $p.WaitForExit()
        [pscustomobject]@{ ExitCode = $p.ExitCode; StdOut = $o.GetAwaiter().GetResult(); StdErr = $e.GetAwaiter().GetResult() }
    }
    finally { $p.Dispose() }
}

# Runs a bash script with `set -e -x` and throws (with the trace) if it fails.
function Invoke-BashChecked([string]$What, [string]$Script) {
    $r = Invoke-Bash ("set -e -x`n" + $Script)
    if ($r.ExitCode -ne 0) { throw "$What failed (exit $($r.ExitCode)):`n$($r.StdErr.TrimEnd())" }
    $r.StdOut
}

# Runs pings at once, each `ip netns exec NS ping -n -c COUNT -i 0.2 -W WAIT ADDRESS`, then the -After commands,
# all in one bash; returns a hashtable: each ping's Name -> replies received, each -After name -> its output.
function Invoke-PingSet([object[]]$Ping, [System.Collections.IDictionary]$After = @{}) {
    $lines = @('d=$(mktemp -d)')
    for ($i = 0; $i -lt $Ping.Count; $i++) {
        $p = $Ping[$i]
        $lines += "ip netns exec '$($p.Ns)' ping -n -c $($p.Count) -i 0.2 -W $($p.Wait) $($p.Address) >`$d/$i 2>&1 &"
    }
    $lines += 'wait'
    for ($i = 0; $i -lt $Ping.Count; $i++) { $lines += "echo '@@ping $i'; cat `$d/$i" }
    foreach ($k in $After.Keys) { $lines += "echo '@@after $k'; $($After[$k])" }
    $lines += 'rm -rf "$d"'
    $text = (Invoke-Bash ($lines -join "`n")).StdOut
    $section = @{}
    $name = $null
    foreach ($line in $text -split "`n") {
        if ($line -match '^@@(ping|after) (.+)$') { $name = "$($Matches[1]) $($Matches[2])"; $section[$name] = ''; continue }
        if ($name) { $section[$name] += "$line`n" }
    }
    $out = @{}
    for ($i = 0; $i -lt $Ping.Count; $i++) {
        $received = 0
        if ("$($section["ping $i"])" -match '(\d+) (packets )?received') { $received = [int]$Matches[1] }
        $out[$Ping[$i].Name] = $received
    }
    foreach ($k in $After.Keys) { $out[$k] = "$($section["after $k"])".Trim() }
    $out
}

# The MAC addresses a bridge's forwarding database learned (from `bridge fdb show br BR` output), as "MAC dev PORT"
# (permanent and self entries left out).
function Get-LearnedMac([string]$FdbText) {
    @($FdbText -split "`n" | Where-Object { $_ -match '^([0-9a-f:]{17}) dev (\S+)' -and $_ -notmatch 'permanent' } |
            ForEach-Object { $_ -replace '^([0-9a-f:]{17}) dev (\S+).*$', '$1 dev $2' })
}

$start = Get-Uptime
$null = New-Item -ItemType Directory -Force -Path $ResultDirectory
$summary = [ordered]@{
    PwshStartSeconds = if ($LaunchUptime -ge 0) { [math]::Round($start - $LaunchUptime, 1) } else { $null }
    ImportSeconds    = $null
    Runs             = [ordered]@{}
    Error            = $null
}
try {
    # Others may rebuild out/ while this runs; the host gave us a copy, but try again for a while anyway.
    $until = [DateTime]::UtcNow.AddSeconds(30)
    while ($true) {
        try { Import-Module $ModulePath -Force -ErrorAction Stop; break }
        catch { if ([DateTime]::UtcNow -gt $until) { throw }; Start-Sleep -Seconds 2 }
    }
    $summary.ImportSeconds = [math]::Round((Get-Uptime) - $start, 1)
}
catch {
    $summary.Error = "Import-Module $ModulePath failed: $_"
    Write-ResultFile 'summary.json' $summary
    exit 1
}

$Runs = @(Get-Content -Raw -LiteralPath $RunsPath | ConvertFrom-Json)
$Mac = @{ HA = '00:00:5e:00:53:10'; HB = '00:00:5e:00:53:20'; HA6 = '00:00:5e:00:53:16'; HB6 = '00:00:5e:00:53:26' }

foreach ($run in $Runs) {
    $runStart = Get-Uptime
    $p = $run.Prefix
    $ns = [ordered]@{ A = "$p-sA"; B = "$p-sB"; HA = "$p-hA"; HB = "$p-hB"; HA6 = "$p-hA6"; HB6 = "$p-hB6" }
    $backend = @{ A = [string]$run.SiteA; B = [string]$run.SiteB }
    $sites = [ordered]@{
        A = @{ Local = '192.0.2.1'; Remote = '192.0.2.2'; TunnelId = 3000; PeerTunnelId = 4000; SourcePort = 5000; DestinationPort = 6000; S5 = 1000, 2000; S6 = 1001, 2001 }
        B = @{ Local = '192.0.2.2'; Remote = '192.0.2.1'; TunnelId = 4000; PeerTunnelId = 3000; SourcePort = 6000; DestinationPort = 5000; S5 = 2000, 1000; S6 = 2001, 1001 }
    }
    # Problems per case: "command: expected ..., got ..."; details: what was seen.
    $prob = @{ 5 = [System.Collections.Generic.List[string]]::new(); 6 = [System.Collections.Generic.List[string]]::new() }
    $det = @{ 5 = [ordered]@{}; 6 = [ordered]@{} }
    $cleanup = [System.Collections.Generic.List[string]]::new()
    $check = {
        param([int]$Vlan, [bool]$Ok, [string]$Problem)
        if (-not $Ok) { $prob[$Vlan].Add($Problem) }
    }
    $phases = [ordered]@{}
    $lastMark = Get-Uptime
    $mark = { param([string]$Name) $now = Get-Uptime; $phases[$Name] = [math]::Round($now - $lastMark, 1); Set-Variable -Name lastMark -Value $now -Scope 1 }
    $step = '(none yet)'
    $setupOk = $false
    $session = @{}
    try {
        # Under TCG every process costs a good fraction of a second: one `ip -batch` per namespace.
        $step = 'topology (ip netns/veth/vlan)'
        $batch = [ordered]@{ '' = [System.Collections.Generic.List[string]]::new() }
        foreach ($n in $ns.Values) {
            $batch[''].Add("netns add $n")
            $batch[$n] = [System.Collections.Generic.List[string]]::new()
            $batch[$n].Add('link set lo up')
        }
        $batch[''].Add("link add uA netns $($ns.A) type veth peer name uB netns $($ns.B)")
        $batch[$ns.A].AddRange([string[]]@('addr add 192.0.2.1/24 dev uA', 'link set uA up'))
        $batch[$ns.B].AddRange([string[]]@('addr add 192.0.2.2/24 dev uB', 'link set uB up'))
        foreach ($s in 'A', 'B') {
            $site = $ns[$s]; $h = $ns["H$s"]; $h6 = $ns["H${s}6"]
            $octet = if ($s -eq 'A') { 1 } else { 2 }
            $batch[''].Add("link add eth1 netns $site type veth peer name eth0 netns $h")
            $batch[$site].AddRange([string[]]@(
                    'link set eth1 up'
                    'link add link eth1 name eth1.5 type vlan id 5'
                    'link add link eth1 name eth1.6 type vlan id 6'))
            $batch[$h].AddRange([string[]]@(
                    'link set eth0 up'
                    "link add link eth0 name eth0.5 address $($Mac["H$s"]) type vlan id 5"
                    "addr add 198.51.100.${octet}0/24 dev eth0.5"
                    'link set eth0.5 up'
                    "link add link eth0 name eth0.6 address $($Mac["H${s}6"]) type vlan id 6"
                    "link set eth0.6 netns $h6"))
            $batch[$h6].AddRange([string[]]@("addr add 198.51.100.${octet}6/24 dev eth0.6", 'link set eth0.6 up'))
        }
        $topo = foreach ($n in $batch.Keys) {
            $opt = if ($n) { "-n $n " } else { '' }
            "ip $opt-batch - <<'EOF'`n$($batch[$n] -join "`n")`nEOF"
        }
        $null = Invoke-BashChecked $step ($topo -join "`n")
        & $mark 'topology'

        # The pseudowires: "ip l2tp add tunnel ...; ip l2tp add session ...; ip link set l2tpethN up mtu 1446".
        foreach ($s in 'A', 'B') {
            $c = $sites[$s]
            $step = "site-$s ($($backend[$s])): New-L2tpTunnel -Backend $($backend[$s]) -NetworkNamespace $($ns[$s]) -TunnelId $($c.TunnelId) -PeerTunnelId $($c.PeerTunnelId) -Encapsulation Udp -Local $($c.Local) -Remote $($c.Remote) -SourcePort $($c.SourcePort) -DestinationPort $($c.DestinationPort)"
            $t = New-L2tpTunnel -Backend $backend[$s] -NetworkNamespace $ns[$s] -TunnelId $c.TunnelId -PeerTunnelId $c.PeerTunnelId -Encapsulation Udp `
                -Local $c.Local -Remote $c.Remote -SourcePort $c.SourcePort -DestinationPort $c.DestinationPort -ErrorAction Stop
            & $check 5 ("$($t.Backend)" -eq $backend[$s]) "$step : expected Backend $($backend[$s]), got $($t.Backend)"
            & $check 5 ($t.NetworkNamespace -eq $ns[$s]) "$step : expected NetworkNamespace $($ns[$s]), got '$($t.NetworkNamespace)'"
            foreach ($vlan in 5, 6) {
                $ids = $c["S$vlan"]
                $step = "site-$s ($($backend[$s])): `$tunnel | New-L2tpSession -SessionId $($ids[0]) -PeerSessionId $($ids[1]) | Set-L2tpInterface -Up -Mtu Auto"
                $sess = $t | New-L2tpSession -SessionId $ids[0] -PeerSessionId $ids[1] -ErrorAction Stop
                $link = $sess | Set-L2tpInterface -Up -Mtu Auto -ErrorAction Stop
                $session["$s$vlan"] = $sess
                & $check $vlan ("$($sess.Backend)" -eq $backend[$s]) "$step : expected session Backend $($backend[$s]), got $($sess.Backend)"
                & $check $vlan ($sess.SuggestedMtu -eq 1446) "$step : expected SuggestedMtu 1446 (UDP/IPv4, default sublayer, 1500 underlay), got $($sess.SuggestedMtu)"
                & $check $vlan ($link.Mtu -eq $sess.SuggestedMtu -and $link.Up) "$step : expected $($sess.InterfaceName) up with MTU $($sess.SuggestedMtu), got Up=$($link.Up) Mtu=$($link.Mtu)"
                $det[$vlan]["site$s.session"] = '{0} {1}->{2} on {3}: Backend {4}, SuggestedMtu {5}, interface Up={6} Mtu={7}' -f $sess.TunnelId, $sess.SessionId, $sess.PeerSessionId, $sess.InterfaceName, $sess.Backend, $sess.SuggestedMtu, $link.Up, $link.Mtu
            }
        }

        & $mark 'tunnels+sessions'
        # The VLAN devices on the pseudowires' interfaces (no cmdlet for that: ip link add ... type vlan).
        $step = 'VLAN devices on the session interfaces (ip link add link l2tpethN name l2tpethN.V type vlan id V)'
        $vl = foreach ($s in 'A', 'B') {
            $if5 = $session["${s}5"].InterfaceName; $if6 = $session["${s}6"].InterfaceName
            "ip -n $($ns[$s]) -batch - <<'EOF'`nlink add link $if5 name $if5.5 type vlan id 5`nlink add link $if6 name $if6.6 type vlan id 6`nEOF"
        }
        $null = Invoke-BashChecked $step ($vl -join "`n")
        & $mark 'vlan devices'

        # "ip link add brvlan5 type bridge; ip link set l2tpeth0.5 master brvlan5; ip link set eth1.5 master brvlan5;
        #  ip link set brvlan5 up" (and the VLAN devices up, which the man page leaves out), the same for VLAN 6.
        foreach ($s in 'A', 'B') {
            foreach ($vlan in 5, 6) {
                $br = "brvlan$vlan"
                $pw = "$($session["$s$vlan"].InterfaceName).$vlan"
                $step = "site-$s : New-L2tpBridge $br -Up -NetworkNamespace $($ns[$s])"
                $bridge = New-L2tpBridge $br -Up -NetworkNamespace $ns[$s] -ErrorAction Stop
                & $check $vlan ($bridge.Name -eq $br -and $bridge.Up) "$step : expected bridge $br up, got Name=$($bridge.Name) Up=$($bridge.Up)"
                foreach ($port in $pw, "eth1.$vlan") {
                    $step = "site-$s : Set-L2tpInterface -NetworkNamespace $($ns[$s]) -InterfaceName $port -Up | Add-L2tpBridgePort -Bridge `$$br -PassThru"
                    $pi = Set-L2tpInterface -NetworkNamespace $ns[$s] -InterfaceName $port -Up -ErrorAction Stop |
                        Add-L2tpBridgePort -Bridge $bridge -PassThru -ErrorAction Stop
                    & $check $vlan ($pi.InterfaceName -eq $port -and $pi.Master -eq $br -and $pi.Up) "$step : expected $port up with Master $br, got InterfaceName=$($pi.InterfaceName) Up=$($pi.Up) Master='$($pi.Master)'"
                }
                $step = "site-$s : Get-L2tpBridge $br -NetworkNamespace $($ns[$s])"
                $got = @(Get-L2tpBridge $br -NetworkNamespace $ns[$s] -ErrorAction Stop)
                $ports = if ($got.Count -eq 1) { @($got[0].Ports) -join ',' } else { "($($got.Count) bridges)" }
                $want = (@("eth1.$vlan", $pw) | Sort-Object -CaseSensitive) -join ','
                & $check $vlan ($got.Count -eq 1 -and $ports -eq $want -and $got[0].Up) "$step : expected one bridge, up, with ports $want, got $($got.Count) bridge(s), ports '$ports', Up=$(if ($got.Count) { $got[0].Up })"
                if ($got.Count -eq 1) { $det[$vlan]["site$s.bridge"] = "$br up=$($got[0].Up) mtu=$($got[0].Mtu) ports=$ports" }
            }
        }
        & $mark 'bridges'
        $setupOk = $true
    }
    catch {
        $msg = "setup step failed: $step`n  -> $($_.FullyQualifiedErrorId): $($_.Exception.Message)"
        $prob[5].Add($msg); $prob[6].Add($msg)
    }

    if ($setupOk) {
        # VLAN 5 and VLAN 6 each between their two hosts, both ways; VLAN 6 must not reach VLAN 5, neither across the
        # pseudowire nor on the same trunk, nor the other way. All at once, and then with the same bash: the VLAN 5
        # hosts never saw VLAN 6's ARP requests (no lladdr for 198.51.100.16), brvlan5 never learned a VLAN 6 MAC,
        # while brvlan6 learned it through the pseudowire (and brvlan5 VLAN 5's).
        $want = @(
            @{ Name = 'hA->hB (VLAN 5)'; Vlan = 5; Ns = $ns.HA; Address = '198.51.100.20'; Count = 3; Wait = 2 }
            @{ Name = 'hB->hA (VLAN 5)'; Vlan = 5; Ns = $ns.HB; Address = '198.51.100.10'; Count = 3; Wait = 2 }
            @{ Name = 'hA6->hB6 (VLAN 6)'; Vlan = 6; Ns = $ns.HA6; Address = '198.51.100.26'; Count = 3; Wait = 2 }
            @{ Name = 'hB6->hA6 (VLAN 6)'; Vlan = 6; Ns = $ns.HB6; Address = '198.51.100.16'; Count = 3; Wait = 2 }
        )
        $deny = @(
            @{ Name = 'hA6->hB (VLAN 6 to VLAN 5, across)'; Ns = $ns.HA6; Address = '198.51.100.20'; Count = 2; Wait = 1 }
            @{ Name = 'hA6->hA (VLAN 6 to VLAN 5, same trunk)'; Ns = $ns.HA6; Address = '198.51.100.10'; Count = 2; Wait = 1 }
            @{ Name = 'hB->hA6 (VLAN 5 to VLAN 6, across)'; Ns = $ns.HB; Address = '198.51.100.16'; Count = 2; Wait = 1 }
        )
        $evidence = [ordered]@{}
        foreach ($h in 'HA', 'HB') { $evidence["neigh $h"] = "ip -n $($ns[$h]) neigh show 198.51.100.16" }
        foreach ($s in 'A', 'B') { foreach ($vlan in 5, 6) { $evidence["fdb $s$vlan"] = "ip netns exec $($ns[$s]) bridge fdb show br brvlan$vlan" } }
        $got = Invoke-PingSet ($want + $deny) -After $evidence
        # One more try for a ping that lost replies (TCG on a busy host), before the fdb is read again.
        $again = @($want | Where-Object { $got[$_.Name] -lt $_.Count })
        if ($again) {
            $second = Invoke-PingSet $again -After $evidence
            foreach ($w in $again) { $got[$w.Name] = [math]::Max($got[$w.Name], $second[$w.Name]) }
            foreach ($k in $evidence.Keys) { $got[$k] = $second[$k] }
        }
        & $mark 'pings+neigh+fdb'
        foreach ($w in $want) {
            $det[$w.Vlan]["ping $($w.Name)"] = "$($got[$w.Name])/$($w.Count) replies"
            & $check $w.Vlan ($got[$w.Name] -eq $w.Count) "ping $($w.Address) from $($w.Ns) ($($w.Name)): expected $($w.Count)/$($w.Count) replies, got $($got[$w.Name])"
        }
        $denied = $got
        foreach ($d in $deny) {
            $det[6]["ping $($d.Name)"] = "$($denied[$d.Name])/$($d.Count) replies"
            & $check 6 ($denied[$d.Name] -eq 0) "ping $($d.Address) from $($d.Ns) ($($d.Name)): expected no reply (other VLAN), got $($denied[$d.Name])"
        }
        foreach ($h in 'HA', 'HB') {
            $n = $denied["neigh $h"]
            $det[6]["neigh 198.51.100.16 in $($ns[$h])"] = if ($n) { $n } else { '(none)' }
            & $check 6 ($n -notmatch 'lladdr') "ip -n $($ns[$h]) neigh show 198.51.100.16: expected no link-layer address (VLAN 5 host never got VLAN 6's ARP), got '$n'"
        }
        foreach ($s in 'A', 'B') {
            $far = if ($s -eq 'A') { 'B' } else { 'A' }
            $fdb5 = Get-LearnedMac $denied["fdb ${s}5"]
            $fdb6 = Get-LearnedMac $denied["fdb ${s}6"]
            $det[5]["site$s.brvlan5 fdb"] = $fdb5 -join '; '
            $det[6]["site$s.brvlan6 fdb"] = $fdb6 -join '; '
            $pw5 = "$($session["${s}5"].InterfaceName).5"
            $pw6 = "$($session["${s}6"].InterfaceName).6"
            & $check 5 ("$($Mac["H$far"]) dev $pw5" -in $fdb5) "bridge fdb show br brvlan5 (site-$s): expected the far VLAN 5 host's $($Mac["H$far"]) learned on $pw5 (frames came through the pseudowire), got: $($fdb5 -join '; ')"
            & $check 6 ("$($Mac["H${far}6"]) dev $pw6" -in $fdb6) "bridge fdb show br brvlan6 (site-$s): expected the far VLAN 6 host's $($Mac["H${far}6"]) learned on $pw6, got: $($fdb6 -join '; ')"
            $leak = @($fdb5 | Where-Object { $_ -match "^($($Mac.HA6)|$($Mac.HB6)) " })
            & $check 6 ($leak.Count -eq 0) "bridge fdb show br brvlan5 (site-$s): expected no VLAN 6 MAC, got: $($leak -join '; ')"
            $leak = @($fdb6 | Where-Object { $_ -match "^($($Mac.HA)|$($Mac.HB)) " })
            & $check 6 ($leak.Count -eq 0) "bridge fdb show br brvlan6 (site-$s): expected no VLAN 5 MAC, got: $($leak -join '; ')"
        }
        # The frames went through the sessions (their counters, as the backend keeps them).
        foreach ($s in 'A', 'B') {
            foreach ($vlan in 5, 6) {
                $sess = $session["$s$vlan"]
                try {
                    $st = (Get-L2tpSession -Backend $backend[$s] -NetworkNamespace $ns[$s] -TunnelId $sess.TunnelId -SessionId $sess.SessionId -ErrorAction Stop).Statistics
                    $det[$vlan]["site$s.session $($sess.SessionId) stats"] = "$st"
                    & $check $vlan ($st.TxPackets -gt 0 -and $st.RxPackets -gt 0) "Get-L2tpSession -Backend $($backend[$s]) -NetworkNamespace $($ns[$s]) -TunnelId $($sess.TunnelId) -SessionId $($sess.SessionId): expected TxPackets and RxPackets above 0 after the pings, got $st"
                }
                catch {
                    & $check $vlan $false "Get-L2tpSession -Backend $($backend[$s]) -NetworkNamespace $($ns[$s]) -TunnelId $($sess.TunnelId) -SessionId $($sess.SessionId): $($_.FullyQualifiedErrorId): $($_.Exception.Message)"
                }
            }
        }
    }

    & $mark 'checks'
    # Cleanup with the module (reported, not asserted).
    foreach ($s in 'A', 'B') {
        foreach ($br in 'brvlan5', 'brvlan6') {
            try { Remove-L2tpBridge $br -NetworkNamespace $ns[$s] -ErrorAction Stop }
            catch { if ($setupOk) { $cleanup.Add("Remove-L2tpBridge $br -NetworkNamespace $($ns[$s]): $($_.FullyQualifiedErrorId): $($_.Exception.Message)") } }
        }
        try {
            Get-L2tpTunnel -Backend $backend[$s] -NetworkNamespace $ns[$s] -ErrorAction Stop | Remove-L2tpTunnel -Force -ErrorAction Stop
            $left = @(Get-L2tpTunnel -Backend $backend[$s] -NetworkNamespace $ns[$s] -ErrorAction Stop)
            # (The kernel deletes a tunnel asynchronously: with -Backend Kernel it may still be listed for a moment.)
            if ($left.Count) { $cleanup.Add("site-$s ($($backend[$s])): Get-L2tpTunnel right after Get-L2tpTunnel | Remove-L2tpTunnel -Force still listed $($left.Count) tunnel(s): $(($left | ForEach-Object TunnelId) -join ', ')") }
        }
        catch { $cleanup.Add("site-$s : Get-L2tpTunnel | Remove-L2tpTunnel -Force: $($_.FullyQualifiedErrorId): $($_.Exception.Message)") }
    }
    # A managed forwarder exits by itself once its last tunnel is gone: give it 5 s, then note and kill what is left.
    # (The namespaces stay: the guest powers off at the end anyway.)
    $r = Invoke-Bash (@"
for i in `$(seq 50); do
    left=`$(ip netns pids $($ns.A); ip netns pids $($ns.B))
    [ -z "`$left" ] && break
    sleep 0.1
done
for pid in `$left; do echo "pid `$pid still running 5 s after the last tunnel was removed: `$(tr '\0' ' ' </proc/`$pid/cmdline)"; kill -9 `$pid; done
"@)
    foreach ($line in ($r.StdOut -split "`n" | Where-Object { $_ })) { $cleanup.Add($line) }
    & $mark 'cleanup'
    $seconds = [math]::Round((Get-Uptime) - $runStart, 1)
    foreach ($vlan in 5, 6) {
        Write-ResultFile "$($run.Id)-vlan$vlan.json" ([ordered]@{
                Key      = "$($run.Id)/vlan$vlan"
                Passed   = $prob[$vlan].Count -eq 0
                Problems = @($prob[$vlan])
                Details  = $det[$vlan]
                Seconds  = $seconds
            })
    }
    $summary.Runs[$run.Id] = [ordered]@{ Seconds = $seconds; Phases = $phases; Cleanup = @($cleanup) }
    Write-Host "run $($run.Id): $seconds s, VLAN 5 $($prob[5].Count) problem(s), VLAN 6 $($prob[6].Count) problem(s), cleanup notes $($cleanup.Count)"
}
Write-ResultFile 'summary.json' $summary
exit 0
