#Requires -Version 7.2
# What every guest-only test file starts with: whether it runs inside the kernel lab's guest, and the lab and L2tp
# modules loaded there with no backend forced.

Set-StrictMode -Version 3.0

# Inside the guest: the host's share is mounted and the kernel's l2tp_netlink and l2tp_eth are loaded. Anywhere else
# the guest-only Describes skip.
function Test-InKernelLabGuest {
    [bool]($env:KERNEL_LAB_SHARE -and (Test-Path -LiteralPath '/sys/module/l2tp_netlink') -and (Test-Path -LiteralPath '/sys/module/l2tp_eth'))
}

# Lab.psm1 and the module under test (L2TP_MODULE_PATH, else the build's out/L2tp), into the global scope so the
# test file sees them; L2TP_BACKEND removed, so each test chooses.
function Import-GuestL2tpModule {
    Import-Module (Join-Path $PSScriptRoot '../../Lab.psm1') -Force -Global
    $path = if ($env:L2TP_MODULE_PATH) { $env:L2TP_MODULE_PATH } else {
        [System.IO.Path]::GetFullPath((Join-Path $PSScriptRoot '../../../../out/L2tp/L2tp.psd1'))
    }
    Import-Module $path -Force -Global
    Remove-Item Env:L2TP_BACKEND -ErrorAction Ignore
}

Export-ModuleMember -Function Test-InKernelLabGuest, Import-GuestL2tpModule
