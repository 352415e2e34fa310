#Requires -Version 7.2
# Pester 5: who may use the managed forwarder. As the kernel's GENL_UNS_ADMIN_PERM: uid 0, or CAP_NET_ADMIN in the
# user namespace that owns the network namespace. Callers run inside the namespace (ip netns exec), so a refusal
# comes from the forwarder itself and not from setns(). And the module talks only to a forwarder that is privileged:
# an unprivileged process squatting on @l2tp-forwarder is named, never obeyed.

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot '../lab/Lab.psm1') -Force
    Import-Module (Join-Path $PSScriptRoot '../lab/Caller.psm1') -Force
    $ModulePath = [System.IO.Path]::GetFullPath((Join-Path $PSScriptRoot '../../out/L2tp/L2tp.psd1'))
    Import-Module $ModulePath -Force

    $A = New-LabNamespace -Prefix 'auth-A'
    $B = New-LabNamespace -Prefix 'auth-B'
    $C = New-LabNamespace -Prefix 'auth-C'
    New-LabVethPair -Namespace $A -Peer $B -Address 192.0.2.1/24 -PeerAddress 192.0.2.2/24 | Out-Null
    Invoke-LabNs $C 'ip link set lo up' | Out-Null
    New-L2tpTunnel -netns $A -Backend Managed -TunnelId 3000 -PeerTunnelId 4000 -Local 192.0.2.1 -Remote 192.0.2.2 -SourcePort 5000 -DestinationPort 6000 -ErrorAction Stop | Out-Null
    $CallerHome = New-LabCallerHome -ModulePath $ModulePath

    function Get-ForwarderPid([string] $Namespace) {
        @(Get-LabNamespaceProcess -Namespace $Namespace -CommandLinePattern 'l2tp-forwarder') | Select-Object -ExpandProperty Id
    }
    $NewTunnel = 'New-L2tpTunnel -TunnelId 3900 -PeerTunnelId 4900 -Local 192.0.2.1 -Remote 192.0.2.2 -SourcePort 5900 -DestinationPort 6900'
}

AfterAll {
    if (Get-Command Remove-LabL2tpConfig -ErrorAction Ignore) { Remove-LabL2tpConfig -Namespace $A, $B, $C }
    if (Get-Command Remove-LabNamespace -ErrorAction Ignore) { Remove-LabNamespace -Name $A, $B, $C }
    if (Get-Command Remove-LabCallerHome -ErrorAction Ignore) { Remove-LabCallerHome $CallerHome }
}

Describe 'A caller refused by the forwarder itself' {
    It '<As> gets L2tp.PermissionDenied from the forwarder for <Command>, and nothing changes' -ForEach @(
        @{ As = 'Nobody'; Command = 'Get-L2tpTunnel' }
        @{ As = 'Nobody'; Command = 'New-L2tpTunnel' }
        @{ As = 'UserNamespaceRoot'; Command = 'Get-L2tpTunnel' }
        @{ As = 'UserNamespaceRoot'; Command = 'New-L2tpTunnel' }
    ) {
        $before = Get-LabL2tpState -Namespace $A
        $forwarder = Get-ForwarderPid $A
        $script = if ($Command -eq 'Get-L2tpTunnel') { 'Get-L2tpTunnel' } else { $NewTunnel }
        $r = Invoke-LabCaller -CallerHome $CallerHome -Namespace $A -As $As -Script $script
        $r.Ok | Should -BeFalse -Because "a $As caller must not use the root-owned forwarder (output: $($r.Output))"
        $r.Id | Should -Match '^L2tp\.PermissionDenied(,|$)'
        $r.Category | Should -Be 'PermissionDenied'
        $r.Message | Should -Match 'l2tp-forwarder refuses pid \d+ \(uid 65534\)' -Because 'the refusal must come from the forwarder, not from setns or the module'
        Assert-LabL2tpState -Namespace $A -Expected $before -Because 'a refused caller changes nothing'
        Get-ForwarderPid $A | Should -Be $forwarder -Because 'the forwarder serves on, and no second one was started'
    }

    It 'a private user namespace''s root cannot start a forwarder of its own where none runs' {
        $r = Invoke-LabCaller -CallerHome $CallerHome -Namespace $C -As UserNamespaceRoot -Script $NewTunnel
        $r.Ok | Should -BeFalse
        $r.Id | Should -Match '^L2tp\.PermissionDenied(,|$)'
        $r.Message | Should -Match 'user namespace'
        @(Get-ForwarderPid $C).Count | Should -Be 0 -Because 'an unprivileged forwarder would squat @l2tp-forwarder for the namespace'
    }
}

Describe 'A caller with CAP_NET_ADMIN over the namespace' {
    It 'uid 65534 holding CAP_NET_ADMIN lists the tunnels (a capability, not uid 0, is what counts)' {
        $r = Invoke-LabCaller -CallerHome $CallerHome -Namespace $A -As NobodyWithNetAdmin -Script 'Get-L2tpTunnel | ForEach-Object TunnelId'
        $r.Ok | Should -BeTrue -Because "the caller got: $($r.Id) $($r.Message)"
        $r.Output.Trim() | Should -Be '3000'
    }
}

Describe 'A squatter on @l2tp-forwarder' {
    BeforeAll {
        # uid 65534 binds the forwarder's abstract name first, in a namespace where no forwarder runs yet.
        $squat = "import socket, time`ns = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)`ns.bind('\0l2tp-forwarder')`ns.listen(8)`nprint('listening', flush=True)`ntime.sleep(120)"
        $script:Squatter = Start-LabCallerProcess -Namespace $C -Nobody -FilePath /usr/bin/python3 -ArgumentList '-c', $squat
        $Squatter.StandardOutput.ReadLine() | Should -Be 'listening'
    }
    AfterAll {
        if ($Squatter) { try { $Squatter.Kill($true) } catch { }; $Squatter.Dispose() }
    }

    It 'is refused as L2tp.ForwarderNotTrusted, named by its pid, and root''s tunnel is not handed to it' {
        $squatterPid = @(Get-LabNamespaceProcess -Namespace $C -CommandLinePattern 'python3')[0].Id
        $err = $null
        $t = New-L2tpTunnel -netns $C -Backend Managed -TunnelId 3100 -PeerTunnelId 4100 -Local 127.0.0.1 -Remote 127.0.0.1 -SourcePort 5100 -DestinationPort 6100 -ErrorVariable err -ErrorAction SilentlyContinue
        $t | Should -BeNullOrEmpty
        $err.Count | Should -Be 1
        $err[0].FullyQualifiedErrorId | Should -Match '^L2tp\.ForwarderNotTrusted(,|$)'
        $err[0].CategoryInfo.Category | Should -Be 'PermissionDenied'
        $err[0].TargetObject | Should -Be $squatterPid
        $err[0].Exception.Message | Should -Match "kill $squatterPid"
    }
}
