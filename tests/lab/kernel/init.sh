#!/bin/busybox sh
# /init of the kernel lab's initramfs (KernelLab.psm1 packs this file, busybox-static and Debian's kernel modules
# into the image). It runs as PID 1 in a QEMU guest booted with Debian's own kernel:
#   1. loads the modules listed (dependencies first) in /modules.list ("NAME [PARAM=VALUE...]"), each /modules/NAME.ko;
#   2. mounts the host's / (9p tag "hostroot", read-only) under a tmpfs overlay at /newroot, so the guest sees the
#      host's files and may write anywhere without touching the host (falls back to the read-only root with tmpfs on
#      /tmp and /run if overlayfs is not available);
#   3. mounts proc, sys, dev, dev/pts, dev/shm, tmpfs on /tmp and /run, the control share (9p tag "kernellab",
#      read-write) on /run/kernel-lab and the test's share (9p tag "share", read-write) on /mnt, and binds back from
#      the host's root the directories under /tmp and /run that the control share's host-paths lists;
#   4. runs /run/kernel-lab/run.sh with the host's bash inside that chroot (run.sh runs the test's script);
#   5. powers the machine off. QEMU runs with -no-reboot and the kernel with panic=-1, so a crash ends QEMU too.
# Lines starting "kernel-lab:" on the serial console are this file's; keep them (the host greps for them).

/bin/busybox mkdir -p /bin /sbin /proc /sys /dev /lower /rw /newroot
/bin/busybox --install -s /bin
export PATH=/bin:/sbin

say() { echo "kernel-lab: $*"; }

halt_now() {
    sync
    echo o > /proc/sysrq-trigger
    sleep 5
    poweroff -f
}

fail() {
    say "FATAL: $*"
    halt_now
}

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
echo 1 > /proc/sys/kernel/printk 2>/dev/null

say "init $(cut -d' ' -f1 /proc/uptime)s kernel $(uname -r)"

while read -r m args; do
    [ -n "$m" ] || continue
    # shellcheck disable=SC2086 # args are the module's parameters, one word each
    insmod "/modules/$m.ko" $args || say "insmod $m failed"
done < /modules.list
say "modules loaded $(cut -d' ' -f1 /proc/uptime)s"

P9='trans=virtio,version=9p2000.L,msize=512000'
mount -t 9p -o "$P9,ro,cache=loose" hostroot /lower || fail "cannot mount the host root (9p tag hostroot)"

mount -t tmpfs -o mode=0755 tmpfs /rw
mkdir -p /rw/upper /rw/work
if mount -t overlay -o lowerdir=/lower,upperdir=/rw/upper,workdir=/rw/work overlay /newroot 2>/dev/null; then
    say "root: host / (9p, read-only) under a tmpfs overlay"
else
    mount -o bind /lower /newroot || fail "cannot bind the host root"
    say "root: host / (9p, read-only), tmpfs on /tmp and /run only"
fi

mount -t proc proc /newroot/proc || fail "mount proc"
mount -t sysfs sysfs /newroot/sys || fail "mount sys"
mount -t devtmpfs devtmpfs /newroot/dev || fail "mount dev"
mkdir -p /newroot/dev/pts /newroot/dev/shm
mount -t devpts -o gid=5,mode=0620,ptmxmode=0666 devpts /newroot/dev/pts
mount -t tmpfs -o mode=1777 tmpfs /newroot/dev/shm
mount -t tmpfs -o mode=1777 tmpfs /newroot/tmp || fail "mount /tmp"
mount -t tmpfs -o mode=0755 tmpfs /newroot/run || fail "mount /run"
mkdir -p /newroot/run/kernel-lab /newroot/run/netns
mount -t 9p -o "$P9" kernellab /newroot/run/kernel-lab || fail "cannot mount the control share (9p tag kernellab)"
mount -t 9p -o "$P9" share /newroot/mnt || fail "cannot mount the share (9p tag share) on /mnt"
# Host directories under /tmp or /run that the tmpfs mounts hid (a checkout in /tmp, say), listed by the host.
while read -r p; do
    case "$p" in /tmp/?*|/run/?*) ;; *) continue ;; esac
    [ -d "/lower$p" ] || continue
    mkdir -p "/newroot$p" && mount -o bind "/lower$p" "/newroot$p" || say "cannot show the host's $p"
done < /newroot/run/kernel-lab/host-paths

say "script starting $(cut -d' ' -f1 /proc/uptime)s"
chroot /newroot /bin/bash /run/kernel-lab/run.sh || say "run.sh failed (exit $?)"
say "script finished (exit $(cat /newroot/run/kernel-lab/exit-code 2>/dev/null || echo none)) $(cut -d' ' -f1 /proc/uptime)s"
umount /newroot/mnt 2>/dev/null
umount /newroot/run/kernel-lab 2>/dev/null
halt_now
