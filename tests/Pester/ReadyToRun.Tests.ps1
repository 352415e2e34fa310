#Requires -Version 7.4
<#
    build.ps1 precompiles L2tp.dll, L2tp.Core.dll, l2tp-forwarder.dll and Tmds.LibC.dll (ReadyToRun) for the .NET that runs the build,
    so that pwsh and the forwarder do not JIT-compile every method they reach on each start. A runtime that cannot use
    that code (pwsh 7.4 on .NET 8 reads an older ReadyToRun format) must still run the IL beside it.
#>

BeforeAll {
    $Bin = (Resolve-Path (Join-Path $PSScriptRoot '../../out/L2tp/bin')).Path
    $Module = (Resolve-Path (Join-Path $PSScriptRoot '../../out/L2tp/L2tp.psd1')).Path

    # The ReadyToRun format version (major) of an assembly's native code, or $null for an IL-only assembly.
    function Get-ReadyToRunMajor([string] $Path) {
        $stream = [IO.File]::OpenRead($Path)
        try {
            $pe = [System.Reflection.PortableExecutable.PEReader]::new($stream)
            $dir = $pe.PEHeaders.CorHeader.ManagedNativeHeaderDirectory
            if ($dir.Size -eq 0) { return $null }
            $offset = 0
            if (-not $pe.PEHeaders.TryGetDirectoryOffset($dir, [ref] $offset)) { return $null }
            # READYTORUN_HEADER: the signature 'RTR' (uint32), then MajorVersion (uint16).
            $bytes = $pe.GetEntireImage().GetContent($offset, 6)
            if ([BitConverter]::ToUInt32([byte[]] $bytes, 0) -ne 0x00525452) { return $null }
            [BitConverter]::ToUInt16([byte[]] $bytes, 4)
        }
        finally { $stream.Dispose() }
    }
}

Describe 'ReadyToRun build' {
    It '<_> carries ReadyToRun code in the format of the .NET that runs pwsh' -ForEach 'L2tp.dll', 'L2tp.Core.dll', 'l2tp-forwarder.dll', 'Tmds.LibC.dll' {
        if ([Environment]::Version.Major -lt 9) { Set-ItResult -Skipped -Because 'build.ps1 precompiles only for .NET 9 and later'; return }
        $runtime = Get-ReadyToRunMajor (Join-Path ([System.Runtime.InteropServices.RuntimeEnvironment]::GetRuntimeDirectory()) 'System.Private.CoreLib.dll')
        $runtime | Should -Not -BeNullOrEmpty
        Get-ReadyToRunMajor (Join-Path $Bin $_) | Should -Be $runtime
    }

    It 'a pwsh whose runtime ignores the ReadyToRun code (DOTNET_ReadyToRun=0) imports the module and makes a tunnel from the IL' {
        $ns = "r2r-$([guid]::NewGuid().ToString('n').Substring(0, 8))"
        & ip netns add $ns
        try {
            & ip -n $ns link set lo up
            & ip -n $ns addr add 192.0.2.1/24 dev lo
            $self = [Environment]::ProcessPath
            $pwsh = if ((Split-Path -Leaf $self) -eq 'dotnet') { @($self, (Join-Path $PSHOME 'pwsh.dll')) } else { @($self) }
            $script = "Import-Module '$Module'; `$t = New-L2tpTunnel -netns $ns -TunnelId 7 -PeerTunnelId 8 -Local 192.0.2.1 -Remote 192.0.2.2 -SourcePort 5000 -DestinationPort 6000; " +
                "(Get-L2tpTunnel -netns $ns).TunnelId; Remove-L2tpTunnel -netns $ns -TunnelId 7 -Confirm:`$false"
            $env:DOTNET_ReadyToRun = '0'
            try { $out = & $pwsh[0] @($pwsh | Select-Object -Skip 1) -NoProfile -NonInteractive -Command $script 2>&1 }
            finally { Remove-Item Env:DOTNET_ReadyToRun }
            $LASTEXITCODE | Should -Be 0 -Because ($out | Out-String)
            ($out | Out-String).Trim() | Should -Be '7'
        }
        finally {
            & ip netns pids $ns 2>$null | ForEach-Object { kill -9 $_ 2>$null }
            & ip netns del $ns
        }
    }

    It 'Sync-L2tpConfiguration -WhatIf of a 300-session file (read, check, live state, plan) JIT-compiles none of the value-type collections the module avoids' {
        # Generic code of the framework (List<T>, Dictionary<K,V>, LINQ, Enum.Parse<T>) over a value type cannot be
        # precompiled into the module: each such instantiation is JIT-compiled in every process, some 4 ms a method
        # under the kernel lab's TCG. DOTNET_JitDisasmSummary lists every method the runtime JIT-compiles, on the C
        # runtime's stdout: the child's own console output goes to stderr so the list stays alone in the file. Not
        # DOTNET_JitStdOutFile: the JIT closes that file as the runtime shuts down and about one run in fifteen then
        # aborted in the host's teardown with a corrupted heap (free(): corrupted unsorted chunks, in dlclose); 0 in
        # 100 runs without it, 0 in 60 with the list on stdout, same command.
        if ([Environment]::Version.Major -lt 9) { Set-ItResult -Skipped -Because 'build.ps1 precompiles only for .NET 9 and later'; return }
        $ns = "r2rj-$([guid]::NewGuid().ToString('n').Substring(0, 8))"
        $work = Join-Path ([IO.Path]::GetTempPath()) $ns
        $null = New-Item -ItemType Directory -Path $work
        & ip netns add $ns
        try {
            $file = Join-Path $work 'c.json'
            @{ namespaces = @(@{ name = $ns; backend = 'Managed'; tunnels = @(@{
                                tunnelId = 3000; peerTunnelId = 4000; local = '192.0.2.1'; remote = '192.0.2.2'; sourcePort = 5000; destinationPort = 6000
                                sessions = @(foreach ($i in 1..300) { @{ sessionId = $i; peerSessionId = $i; interfaceName = "rj$i"; interface = @{ up = $true; mtu = 'Auto' } } })
                            }) })
            } | ConvertTo-Json -Depth 10 | Set-Content -LiteralPath $file
            $jit = Join-Path $work 'jit.txt'
            $self = [Environment]::ProcessPath
            $pwsh = if ((Split-Path -Leaf $self) -eq 'dotnet') { @($self, (Join-Path $PSHOME 'pwsh.dll')) } else { @($self) }
            $env:DOTNET_JitDisasmSummary = '1'
            try {
                $out = & sh -c 'list="$1"; shift; exec "$@" >"$list"' sh $jit @pwsh -NoProfile -NonInteractive `
                    -Command "[Console]::SetOut([Console]::Error); Import-Module '$Module'; Sync-L2tpConfiguration -Path '$file' -WhatIf" 2>&1
            }
            finally { Remove-Item Env:DOTNET_JitDisasmSummary }
            $LASTEXITCODE | Should -Be 0 -Because ($out | Out-String)
            @($out | Where-Object { "$_" -like 'What if:*' }).Count | Should -Be 601 -Because 'the tunnel, every session and its interface are planned'
            $avoided = 'System\.Text\.Json\.JsonElement[,\]]', 'L2tp\.Netlink\.NetlinkMessage[,\]]', 'Dictionary`2\[uint,int\]', 'HashSet`1\[uint\]',
                '\[ushort,System\.ReadOnlyMemory', 'compiled Tmds\.Linux\.', 'ToLookup\[', 'OrderBy\[System\.__Canon,uint\]', 'ToDictionary\[System\.__Canon,uint\]',
                'ToHashSet\[uint\]', 'System\.Enum:(GetNames|Parse|IsDefined)\[', 'Nullable`1\[int\]\]:', 'Stack`1\[int\]'
            $jitted = @(Get-Content -LiteralPath $jit)
            $jitted.Count | Should -BeGreaterThan 0 -Because 'the runtime lists what it JIT-compiles'
            @($jitted | Where-Object { $_ -notmatch '^ *\d+: JIT compiled ' }) | Should -BeNullOrEmpty -Because 'the list holds the JIT''s lines only'
            @($jitted | Where-Object { $line = $_; $avoided | Where-Object { $line -match $_ } }) | Should -BeNullOrEmpty
        }
        finally {
            & ip netns del $ns
            Remove-Item -Recurse -Force -LiteralPath $work -ErrorAction Ignore
        }
    }
}
