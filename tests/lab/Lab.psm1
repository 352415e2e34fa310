#Requires -Version 7.2
<#
    Lab.psm1: the helpers the Pester files use to build throw-away networks for the L2tp module, one module per
    concern; importing this one imports them all (each file keeps its own list of functions):
        Namespace.psm1   namespaces, veth pairs, links, MTU, ethtool, programs inside a namespace (Invoke-Lab*)
        Traffic.psm1     ping, UDP sockets held open or listed
        Qemu.psm1        QEMU's -netdev l2tpv3 as the independent L2TPv3 peer
        Capture.psm1     tshark captures
        Packet.psm1      forged and decoded frames and L2TPv3 packets, raw IPv4
        Ssh.psm1         sshd in a namespace and an ssh client in another, for PowerShell SSH remoting
        L2tpState.psm1   state snapshots ("nothing left behind"), ip l2tp show, error records, clean-up, import of
                         the built module
    Callers as other users are in Caller.psm1, the real-kernel lab in KernelLab.psm1 (imported on their own).

    Everything here drives real Linux objects and needs root. Addresses used by the tests are documentation
    ranges only: 192.0.2.0/24 for underlays and 198.51.100.0/24 inside pseudowires.
#>

Set-StrictMode -Version 3.0

$names = foreach ($m in 'Namespace', 'Traffic', 'Qemu', 'Capture', 'Packet', 'L2tpState', 'Ssh') {
    (Import-Module (Join-Path $PSScriptRoot "$m.psm1") -Force -PassThru).ExportedFunctions.Keys
}
Export-ModuleMember -Function @($names)
