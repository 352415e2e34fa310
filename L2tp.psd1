@{
    RootModule           = 'bin/L2tp.dll'
    ModuleVersion        = '0.1.0'
    GUID                 = '5b0f3c2e-8d51-4c7a-9a43-2f1e6b7d9c10'
    Author               = 'L2tp developers'
    Description          = 'Static (unmanaged) L2TPv3 Ethernet pseudowires on Linux: ip l2tp as typed cmdlets, on the kernel or on a managed userspace forwarder.'
    PowerShellVersion    = '7.4'
    CompatiblePSEditions = @('Core')
    FormatsToProcess     = @('L2tp.Format.ps1xml')
    CmdletsToExport      = @(
        'New-L2tpTunnel', 'Get-L2tpTunnel', 'Remove-L2tpTunnel',
        'New-L2tpSession', 'Get-L2tpSession', 'Set-L2tpSession', 'Remove-L2tpSession', 'Test-L2tpSession', 'Watch-L2tpSession',
        'Set-L2tpInterface',
        'New-L2tpBridge', 'Get-L2tpBridge', 'Remove-L2tpBridge', 'Add-L2tpBridgePort', 'Remove-L2tpBridgePort',
        'Get-L2tpForwarder', 'Stop-L2tpForwarder',
        'New-L2tpPseudowire', 'Test-L2tpPseudowire', 'Remove-L2tpPseudowire',
        'Export-L2tpConfiguration', 'Sync-L2tpConfiguration', 'Compare-L2tpConfiguration', 'Install-L2tpConfigurationService',
        'ConvertTo-L2tpPeerConfiguration', 'ConvertFrom-IpL2tp'
    )
    FunctionsToExport    = @()
    VariablesToExport    = @()
    AliasesToExport      = @()
    PrivateData          = @{
        PSData = @{
            Tags       = @('L2TP', 'L2TPv3', 'pseudowire', 'Linux', 'networking')
            ProjectUri = 'https://example.invalid/l2tp'
        }
    }
}
