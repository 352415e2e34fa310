#Requires -Version 7.4
<#
    A forwarder holds a TAP fd per session. Started under a low open-file limit (ulimit -n 400, soft and hard, in the
    shell of the pwsh whose first cmdlet starts it), it must refuse the session that would leave it fewer than 256 fds
    (L2tp.OpenFileLimit), and keep serving: it once ran out instead, failed in its journal writes and crashed (found
    at 19,500 sessions under this machine's 20,000).
#>

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot '../lab/Lab.psm1') -Force
    $ModulePath = Import-LabL2tpModule
    $Ns = New-LabNamespace -Prefix 'l2tpFd'
    & ip -n $Ns addr add 192.0.2.1/24 dev lo
    $self = [Environment]::ProcessPath
    $Pwsh = if ((Split-Path -Leaf $self) -eq 'dotnet') { "'$self' '$(Join-Path $PSHOME 'pwsh.dll')'" } else { "'$self'" }
    $Script = Join-Path ([IO.Path]::GetTempPath()) "l2tp-fd-$([guid]::NewGuid().ToString('n').Substring(0, 8)).ps1"
    Set-Content $Script @"
Import-Module '$ModulePath'
`$ErrorActionPreference = 'Stop'
New-L2tpTunnel -netns $Ns -TunnelId 3000 -PeerTunnelId 4000 -Local 192.0.2.1 -Remote 192.0.2.2 -SourcePort 5000 -DestinationPort 6000 | Out-Null
`$pid0 = (Get-L2tpForwarder -netns $Ns).ProcessId
`$made = @(1..300 | ForEach-Object { [pscustomobject]@{ TunnelId = 3000; SessionId = `$_; PeerSessionId = `$_ } } |
    New-L2tpSession -netns $Ns -ErrorAction SilentlyContinue -ErrorVariable +refused)
`$made | Select-Object -First 10 | Remove-L2tpSession -Confirm:`$false
`$again = @(New-L2tpSession -netns $Ns -TunnelId 3000 -SessionId 1000 -PeerSessionId 1000 -ErrorAction SilentlyContinue).Count
[pscustomobject]@{
    Made = `$made.Count; Refused = @(`$refused).Count
    Ids = @(`$refused | ForEach-Object FullyQualifiedErrorId | Sort-Object -Unique)
    Categories = @(`$refused | ForEach-Object { `$_.CategoryInfo.Category.ToString() } | Sort-Object -Unique)
    Targets = @(`$refused | Select-Object -First 1 | ForEach-Object TargetObject)
    Message = "`$(`$refused | Select-Object -First 1)"
    SamePid = (Get-L2tpForwarder -netns $Ns).ProcessId -eq `$pid0
    Again = `$again
    Sessions = @(Get-L2tpSession -netns $Ns).Count
} | ConvertTo-Json -Compress
"@
    $out = & bash -c "ulimit -n 400 && exec $Pwsh -NoProfile -NonInteractive -File '$Script'" 2>&1
    $Result = ($out | Select-Object -Last 1) | ConvertFrom-Json -ErrorAction Ignore
    if (-not $Result) { throw "the child pwsh gave no result: $($out | Out-String)" }
    $Links = @(& ip -n $Ns -o link show | Select-String 'l2tpeth').Count
}

AfterAll {
    Remove-LabL2tpConfig $Ns -Backend Managed
    Remove-LabNamespace -Name $Ns
    Remove-Item $Script -ErrorAction Ignore
}

Describe 'A forwarder under a low open-file limit' {
    It 'makes sessions while 256 fds stay free, then refuses the rest with L2tp.OpenFileLimit (ResourceUnavailable), naming the limit' {
        $Result.Made | Should -BeGreaterThan 50
        $Result.Made | Should -BeLessThan 160
        $Result.Refused | Should -Be (300 - $Result.Made)
        $Result.Ids | Should -Be @('L2tp.OpenFileLimit,L2tp.Commands.NewL2tpSessionCommand')
        $Result.Categories | Should -Be @('ResourceUnavailable')
        $Result.Targets.Count | Should -Be 1
        $Result.Targets[0] | Should -BeGreaterThan ($Result.Made - 1)
        $Result.Message | Should -Match 'limit of 400 \(RLIMIT_NOFILE'
    }

    It 'keeps serving as the same process: ten sessions removed make room for one more, and no interface is left over' {
        $Result.SamePid | Should -BeTrue
        $Result.Again | Should -Be 1
        $Result.Sessions | Should -Be ($Result.Made - 10 + 1)
        $Links | Should -Be $Result.Sessions
    }
}
