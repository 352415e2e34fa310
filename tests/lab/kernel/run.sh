#!/bin/bash
# Runs inside the kernel lab guest, in the chroot of the host's root (see init.sh), as root, with the host's bash.
# KernelLab.psm1 copies this file into the run's control directory (the guest's /run/kernel-lab) next to:
#   env.sh     export lines written by the host (KERNEL_LAB_MAC and the caller's -Environment)
#   script.sh  the test's script
# and reads back:
#   output.log      the script's stdout and stderr
#   exit-code       the script's exit status, written once the script has ended
#   started-uptime  the guest's /proc/uptime when the script started (boot-to-script time)
#
# The script runs with bash, in /mnt (the test's share), with these exported:
#   GUEST_NIC         the guest's NIC on the host's TAP (found by MAC address; already up, no address), or empty
#   KERNEL_LAB_SHARE  /mnt
#   kernel_lab_wait_file PATH [SECONDS]   a function: waits for PATH to exist (default 300 s); returns 1 on timeout

ctl=/run/kernel-lab
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root LANG=C.UTF-8 TERM=dumb
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1 POWERSHELL_TELEMETRY_OPTOUT=1
export POWERSHELL_UPDATECHECK=Off
[ -r "$ctl/env.sh" ] && . "$ctl/env.sh"

hostname kernel-lab 2>/dev/null
ip link set lo up

GUEST_NIC=
if [ -n "$KERNEL_LAB_MAC" ]; then
    for d in /sys/class/net/*; do
        if [ "$(cat "$d/address" 2>/dev/null)" = "$KERNEL_LAB_MAC" ]; then GUEST_NIC=${d##*/}; fi
    done
    if [ -n "$GUEST_NIC" ]; then
        ip link set "$GUEST_NIC" up
    else
        echo "kernel-lab: no NIC with MAC $KERNEL_LAB_MAC" >/dev/console
    fi
fi
export GUEST_NIC KERNEL_LAB_SHARE=/mnt

kernel_lab_wait_file() {
    local path=$1 limit=${2:-300} waited=0
    while [ ! -e "$path" ]; do
        if [ "$waited" -ge $((limit * 10)) ]; then
            echo "kernel_lab_wait_file: $path did not appear within $limit s" >&2
            return 1
        fi
        sleep 0.1
        waited=$((waited + 1))
    done
}
export -f kernel_lab_wait_file

cut -d' ' -f1 /proc/uptime >"$ctl/started-uptime"
cd /mnt || cd /
# Straight into the file, not through a pipe: a pipe would keep this waiting for as long as anything the script
# left running in the background holds its end. The host can read output.log while the script runs.
bash "$ctl/script.sh" >"$ctl/output.log" 2>&1 </dev/null
rc=$?
echo "$rc" >"$ctl/exit-code.tmp" && mv "$ctl/exit-code.tmp" "$ctl/exit-code"
sync
exit 0
