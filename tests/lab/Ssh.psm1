#Requires -Version 7.2
<#
    Ssh.psm1 (imported by Lab.psm1): PowerShell SSH remoting between two lab namespaces. An sshd of its own (own host
    key, own config, key-only root login, `Subsystem powershell` running this machine's pwsh with -sshs) listens in
    the server namespace; the client's `ssh` runs in the client namespace through an `ssh` wrapper put first on PATH,
    so that New-PSSession -HostName from this (root-namespace) process connects from one lab namespace to the other
    over their veth, and no address is ever added to the host's own namespace.

    Functions:
        Install-LabSshServer                                                           (apt-get install openssh-server when sshd is missing)
        Start-LabSshServer  -Namespace <server ns> -ClientNamespace <client ns> -ListenAddress <ip>
                                                                                        -> pscustomobject Dir/Process/KeyFilePath/HostName/UserName/ModulesDir
        Add-LabSshModule    -Server <that object> -Path <module folder> -Name <module> (importable by name in sessions opened later)
        Enter-LabSshClient  -Server <that object>   (puts the wrapper first on $env:PATH; returns the old PATH)
        Exit-LabSshClient   -Path <old PATH>
        Stop-LabSshServer   -Server <that object>                                       (never throws)
#>

Set-StrictMode -Version 3.0

function Install-LabSshServer {
    <#
    .SYNOPSIS
    Installs Debian's openssh-server when /usr/sbin/sshd is missing (as build.ps1 installs the other lab packages).
    #>
    [CmdletBinding()]
    param()
    if (Test-Path /usr/sbin/sshd) { return }
    $env:DEBIAN_FRONTEND = 'noninteractive'
    & apt-get update -qq | Out-Null
    & apt-get install -y -qq --no-install-recommends openssh-server | Out-Null
    if (-not (Test-Path /usr/sbin/sshd)) { throw 'apt-get could not install openssh-server (/usr/sbin/sshd is missing)' }
}

function Start-LabSshServer {
    <#
    .SYNOPSIS
    Starts sshd inside -Namespace on -ListenAddress port 22 with a fresh ed25519 host key and a fresh ed25519 client
    key (root may log in with it, nothing else may), and `Subsystem powershell` running this pwsh with -sshs. Returns
    where everything is; wait is included (returns once the port accepts connections).
    #>
    [CmdletBinding()]
    [OutputType([pscustomobject])]
    param(
        [Parameter(Mandatory)][string]$Namespace,
        [Parameter(Mandatory)][string]$ClientNamespace,
        [Parameter(Mandatory)][string]$ListenAddress
    )
    Install-LabSshServer
    $dir = Join-Path ([System.IO.Path]::GetTempPath()) ('l2tp-ssh-' + [guid]::NewGuid().ToString('N').Substring(0, 8))
    New-Item -ItemType Directory -Path $dir, "$dir/bin" | Out-Null
    & chmod 700 $dir
    & ssh-keygen -q -t ed25519 -N '' -C 'l2tp-lab-host' -f "$dir/host_ed25519" | Out-Null
    & ssh-keygen -q -t ed25519 -N '' -C 'l2tp-lab-client' -f "$dir/id_ed25519" | Out-Null
    Copy-Item "$dir/id_ed25519.pub" "$dir/authorized_keys"

    # The subsystem runs the same pwsh as this process (a dotnet local tool: dotnet + pwsh.dll), with no profile, and
    # finds modules in ModulesDir first: empty, so the peer has no L2tp until a test links one there (Add-LabSshModule).
    New-Item -ItemType Directory -Path "$dir/modules" | Out-Null
    $dotnet = [Environment]::ProcessPath
    $pwsh = Join-Path $PSHOME 'pwsh.dll'
    Set-Content -Path "$dir/pwsh-sshs.sh" -Value @"
#!/bin/sh
export POWERSHELL_TELEMETRY_OPTOUT=1 POWERSHELL_UPDATECHECK=Off DOTNET_CLI_TELEMETRY_OPTOUT=1 HOME=/root PSModulePath='$dir/modules'
exec '$dotnet' '$pwsh' -sshs -NoLogo -NoProfile
"@
    & chmod 755 "$dir/pwsh-sshs.sh"
    Set-Content -Path "$dir/sshd_config" -Value @"
ListenAddress $ListenAddress
Port 22
HostKey $dir/host_ed25519
PidFile $dir/sshd.pid
AuthorizedKeysFile $dir/authorized_keys
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
Subsystem powershell $dir/pwsh-sshs.sh
"@
    # The client side: ssh run in the client namespace, trusting this lab's host key only.
    "$ListenAddress $(Get-Content "$dir/host_ed25519.pub" -Raw)".Trim() | Set-Content "$dir/known_hosts"
    Set-Content -Path "$dir/bin/ssh" -Value @"
#!/bin/sh
exec ip netns exec '$ClientNamespace' /usr/bin/ssh -F none -o UserKnownHostsFile='$dir/known_hosts' -o StrictHostKeyChecking=yes -o BatchMode=yes -o ConnectTimeout=10 "`$@"
"@
    & chmod 755 "$dir/bin/ssh"

    # sshd insists on its privilege separation directory, which Debian's ssh.service makes at boot.
    if (-not (Test-Path /run/sshd)) { New-Item -ItemType Directory -Path /run/sshd | Out-Null; & chmod 755 /run/sshd }
    # -D keeps sshd in the foreground as our child (killed by Stop-LabSshServer, or with the namespace); -e logs to stderr.
    $psi = [System.Diagnostics.ProcessStartInfo]::new('ip')
    foreach ($a in @('netns', 'exec', $Namespace, '/usr/sbin/sshd', '-D', '-e', '-f', "$dir/sshd_config")) { $psi.ArgumentList.Add($a) }
    $psi.UseShellExecute = $false
    $psi.RedirectStandardError = $true
    $p = [System.Diagnostics.Process]::Start($psi)
    $log = $p.StandardError.ReadToEndAsync()
    $server = [pscustomobject]@{
        Dir = $dir; Process = $p; Log = $log; KeyFilePath = "$dir/id_ed25519"; HostName = $ListenAddress; UserName = 'root'
        Namespace = $Namespace; BinDir = "$dir/bin"; ModulesDir = "$dir/modules"
    }
    $deadline = [DateTime]::UtcNow.AddSeconds(10)
    while ($true) {
        $listening = & ip netns exec $Namespace ss -Htln "sport = :22"
        if ($listening) { break }
        if ($p.HasExited -or [DateTime]::UtcNow -gt $deadline) {
            Stop-LabSshServer -Server $server
            throw "sshd did not start in $Namespace : $($log.GetAwaiter().GetResult())"
        }
        Start-Sleep -Milliseconds 50
    }
    $server
}

function Add-LabSshModule {
    <#
    .SYNOPSIS
    Makes a module folder importable by name in the server's PowerShell sessions opened from now on (a symbolic link
    in its ModulesDir, named as the folder's module: -Name).
    #>
    [CmdletBinding()]
    param([Parameter(Mandatory)][pscustomobject]$Server, [Parameter(Mandatory)][string]$Path, [Parameter(Mandatory)][string]$Name)
    New-Item -ItemType SymbolicLink -Path (Join-Path $Server.ModulesDir $Name) -Target $Path | Out-Null
}

function Enter-LabSshClient {
    <#
    .SYNOPSIS
    Puts the server's ssh wrapper first on PATH (PowerShell's SSH remoting runs `ssh` from PATH), so every
    New-PSSession -HostName of this process connects from the client namespace. Returns the PATH to restore.
    #>
    [CmdletBinding()]
    [OutputType([string])]
    param([Parameter(Mandatory)][pscustomobject]$Server)
    $old = $env:PATH
    $env:PATH = "$($Server.BinDir):$old"
    $old
}

function Exit-LabSshClient {
    <#
    .SYNOPSIS
    Restores the PATH Enter-LabSshClient returned.
    #>
    [CmdletBinding()]
    param([AllowNull()][string]$Path)
    if ($Path) { $env:PATH = $Path }
}

function Stop-LabSshServer {
    <#
    .SYNOPSIS
    Kills the sshd this module started (by its process id; its sessions' pwsh die with their connections, or with the
    namespace) and deletes its folder. Never throws.
    #>
    [CmdletBinding()]
    param([AllowNull()][pscustomobject]$Server)
    if (-not $Server) { return }
    try {
        if (-not $Server.Process.HasExited) { $Server.Process.Kill($true); $Server.Process.WaitForExit(5000) | Out-Null }
        $Server.Process.Dispose()
    }
    catch { Write-Verbose "Stop-LabSshServer: $_" }
    Remove-Item -Recurse -Force $Server.Dir -ErrorAction Ignore
}

Export-ModuleMember -Function Install-LabSshServer, Start-LabSshServer, Add-LabSshModule, Enter-LabSshClient, Exit-LabSshClient, Stop-LabSshServer
