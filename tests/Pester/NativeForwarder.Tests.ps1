#Requires -Version 7.4
<#
    build.ps1 compiles l2tp-forwarder to one native program (Native AOT) and puts it in bin/l2tp-forwarder, where the
    module and the systemd units run it: no JIT and no .NET runtime to load. A build without the native toolchain
    leaves the apphost there (it runs l2tp-forwarder.dll on .NET), and a module without bin/l2tp-forwarder runs the dll
    with `dotnet exec`; both must still serve.
#>

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot '../lab/Namespace.psm1') -Force
    $Out = (Resolve-Path (Join-Path $PSScriptRoot '../../out/L2tp')).Path
    $AppHost = Join-Path $PSScriptRoot '../../out/forwarder-aot/apphost/l2tp-forwarder'

    # Makes a tunnel with the module at $ModuleDir in a namespace of its own (a child pwsh, so the module loads from
    # there) and returns what the forwarder that serves it runs: its executable and whether the .NET runtime is mapped.
    function Invoke-ForwarderProbe([string] $ModuleDir) {
        $ns = New-LabNamespace -Prefix native
        try {
            & ip -n $ns addr add 192.0.2.1/24 dev lo
            $pwsh = @([Environment]::ProcessPath) + @(if ((Split-Path -Leaf ([Environment]::ProcessPath)) -eq 'dotnet') { Join-Path $PSHOME 'pwsh.dll' })
            $script = "Import-Module '$ModuleDir/L2tp.psd1'; `$null = New-L2tpTunnel -netns $ns -TunnelId 7 -PeerTunnelId 8 -Local 192.0.2.1 -Remote 192.0.2.2 -SourcePort 5000 -DestinationPort 6000; " +
                "`$p = (Get-L2tpForwarder -netns $ns).ProcessId; (Get-Item /proc/`$p/exe).Target; " +
                "[bool](Select-String -Quiet -SimpleMatch 'libcoreclr.so' /proc/`$p/maps); (Get-Content /proc/`$p/comm); " +
                "Remove-L2tpTunnel -netns $ns -TunnelId 7 -Confirm:`$false"
            $out = & $pwsh[0] @($pwsh | Select-Object -Skip 1) -NoProfile -NonInteractive -Command $script 2>&1
            $LASTEXITCODE | Should -Be 0 -Because ($out | Out-String)
            [pscustomobject]@{ Executable = "$($out[0])"; DotnetRuntime = "$($out[1])" -eq 'True'; Name = "$($out[2])" }
        }
        finally { Remove-LabNamespace -Name $ns }
    }

    # A copy of the built module, to take the forwarder's executable away or replace it.
    function New-ModuleCopy {
        $dir = Join-Path ([IO.Path]::GetTempPath()) "l2tp-module-$([guid]::NewGuid().ToString('n').Substring(0, 8))"
        Copy-Item -Recurse $Out $dir
        $dir
    }
}

Describe 'Native forwarder' {
    It 'the module runs bin/l2tp-forwarder, a native program with no .NET runtime loaded, named l2tp-forwarder in ps' {
        $probe = Invoke-ForwarderProbe $Out
        $probe.Executable | Should -Be (Join-Path $Out 'bin/l2tp-forwarder')
        $probe.DotnetRuntime | Should -BeFalse
        $probe.Name | Should -Be 'l2tp-forwarder'
    }

    It 'a module without bin/l2tp-forwarder runs l2tp-forwarder.dll on the .NET that pwsh runs on, named l2tp-forwarder in ps' {
        $dir = New-ModuleCopy
        try {
            Remove-Item (Join-Path $dir 'bin/l2tp-forwarder')
            $probe = Invoke-ForwarderProbe $dir
            Split-Path -Leaf $probe.Executable | Should -Be 'dotnet'
            $probe.DotnetRuntime | Should -BeTrue
            $probe.Name | Should -Be 'l2tp-forwarder'
        }
        finally { Remove-Item -Recurse -Force $dir }
    }

    It 'a module whose bin/l2tp-forwarder lost its execute bits (a package is a zip) gets them back and runs it natively' {
        $dir = New-ModuleCopy
        try {
            & chmod a-x (Join-Path $dir 'bin/l2tp-forwarder')
            $probe = Invoke-ForwarderProbe $dir
            $probe.Executable | Should -Be (Join-Path $dir 'bin/l2tp-forwarder')
            $probe.DotnetRuntime | Should -BeFalse
        }
        finally { Remove-Item -Recurse -Force $dir }
    }

    It 'a bin/l2tp-forwarder without execute bits that cannot be given them (immutable) leaves the module on the dll' {
        $dir = New-ModuleCopy
        $exe = Join-Path $dir 'bin/l2tp-forwarder'
        try {
            & chmod a-x $exe
            & chattr +i $exe 2>$null
            if ($LASTEXITCODE -ne 0) { Set-ItResult -Skipped -Because "chattr +i is not supported on $([IO.Path]::GetTempPath())"; return }
            $probe = Invoke-ForwarderProbe $dir
            Split-Path -Leaf $probe.Executable | Should -Be 'dotnet'
        }
        finally {
            & chattr -i $exe 2>$null
            Remove-Item -Recurse -Force $dir
        }
    }

    It 'a build that kept the apphost as bin/l2tp-forwarder (no native toolchain) serves through it on .NET' {
        if (-not (Test-Path $AppHost)) { Set-ItResult -Skipped -Because 'build.ps1 kept no apphost (out/forwarder-aot/apphost): it made no native forwarder'; return }
        $dir = New-ModuleCopy
        try {
            Copy-Item -Force $AppHost (Join-Path $dir 'bin/l2tp-forwarder')
            $probe = Invoke-ForwarderProbe $dir
            $probe.Executable | Should -Be (Join-Path $dir 'bin/l2tp-forwarder')
            $probe.DotnetRuntime | Should -BeTrue
        }
        finally { Remove-Item -Recurse -Force $dir }
    }
}
