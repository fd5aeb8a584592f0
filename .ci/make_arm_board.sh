#!/usr/bin/env bash
# Build a virtual ARM64 board for qemu-system-aarch64, the Raspberry Pi stand-in: Debian bookworm
# arm64 (cloud kernel, python3 + the aarch64 wheels of numpy and ai-edge-litert, OpenSSH server)
# on an ext4 disk image, a tiny initrd that loads the virtio drivers, and keys for ssh.
# Boot it with .ci/boot_arm_board.sh; docs/targets.md explains the board and a real Pi.
#
# No arm64 code runs while building (make_arm_root.sh unpacks the .debs with dpkg -x), so what
# Debian's maintainer scripts would do is done here by hand: users, sshd config and host key.
# The board's init is busybox (no systemd: it would cost minutes under TCG): mount, network, sshd.
#
# Usage: .ci/make_arm_board.sh [BOARD]   (default /var/cache/mobilekit/arm64-board; idempotent:
# a finished BOARD is left alone; needs root, debootstrap, cpio, mkfs.ext4, ssh-keygen, python3+pip)
set -euo pipefail

board=${1:-/var/cache/mobilekit/arm64-board}
board=${board%/}
if [ -f "$board/.mobilekit-arm-board" ]; then
    echo "arm64 board already built: $board" >&2
    exit 0
fi
here=$(cd "$(dirname "$0")" && pwd)
work="$board.partial"  # renamed at the end, so an interrupted build never looks finished
rm -rf "$work"
mkdir -p "$work"
root="$work/root"

MOBILEKIT_ARM_PACKAGES=linux-image-cloud-arm64,openssh-server,busybox-static \
    "$here/make_arm_root.sh" "$root"
rm -f "$root/.mobilekit-arm-root"
version=$(basename "$(ls -d "$root"/lib/modules/*)")
cp "$root/boot/vmlinuz-$version" "$work/vmlinuz"

# Users: base-passwd's, openssh-server's privilege separation user, and "pi".
cp "$root/usr/share/base-passwd/passwd.master" "$root/etc/passwd"
cp "$root/usr/share/base-passwd/group.master" "$root/etc/group"
cp "$root/usr/share/libc-bin/nsswitch.conf" "$root/etc/nsswitch.conf"
echo "sshd:x:100:65534::/run/sshd:/usr/sbin/nologin" >> "$root/etc/passwd"
echo "pi:x:1000:1000:board user:/home/pi:/bin/bash" >> "$root/etc/passwd"
echo "pi:x:1000:" >> "$root/etc/group"
echo board > "$root/etc/hostname"
printf '127.0.0.1\tlocalhost\n127.0.1.1\tboard\n' > "$root/etc/hosts"

# Keys: the board's host key (its public half goes into the client's known_hosts at boot) and
# one client key for the user "pi" and for root (root stands for a Pi user's sudo: the tests stop
# sshd with it).
ssh-keygen -q -t ed25519 -N "" -C board -f "$root/etc/ssh/ssh_host_ed25519_key"
cp "$root/etc/ssh/ssh_host_ed25519_key.pub" "$work/host_key.pub"
ssh-keygen -q -t ed25519 -N "" -C mobilekit -f "$work/client_key"
install -d -m 700 -o 1000 -g 1000 "$root/home/pi" "$root/home/pi/.ssh"
install -m 600 -o 1000 -g 1000 "$work/client_key.pub" "$root/home/pi/.ssh/authorized_keys"
install -d -m 700 "$root/root/.ssh"
install -m 600 "$work/client_key.pub" "$root/root/.ssh/authorized_keys"
cat > "$root/etc/ssh/sshd_config" <<'EOF'
HostKey /etc/ssh/ssh_host_ed25519_key
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
Subsystem sftp internal-sftp
EOF

# Times measured here are not latency: the device runner reads this file and labels its rows.
echo "qemu-system-aarch64 virt board, TCG" > "$root/etc/mobilekit-emulated"

# Bytecode for the standard library (python3.11's maintainer script would compile it): without
# it every Python start on the board compiles what it imports, which costs seconds under TCG.
# .pyc files are the same on every CPU, but only a Python 3.11 writes the board's (3.11) ones.
if python3 -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
    python3 -m compileall -q -j 0 -s "$root" -p / -x '/(test|tests|idlelib|lib2to3)/' "$root/usr/lib/python3.11" >&2
else
    echo "make_arm_board: host python3 is not 3.11: no stdlib bytecode (slower Python starts on the board)" >&2
fi

# busybox init: /etc/board-rc, then sshd (once: a stopped sshd stays stopped, as on a Pi).
ln -sf /bin/busybox "$root/sbin/init"
cat > "$root/etc/inittab" <<'EOF'
::sysinit:/etc/board-rc
::once:/usr/sbin/sshd -D -e
EOF
cat > "$root/etc/board-rc" <<'EOF'
#!/bin/busybox sh
# Mounts, loopback and qemu user-mode networking's fixed address, sshd's privilege separation dir.
bb=/bin/busybox
$bb mount -t proc proc /proc
$bb mount -t sysfs sysfs /sys
$bb mkdir -p /dev/pts /dev/shm
$bb mount -t devpts devpts /dev/pts
$bb mount -t tmpfs -o mode=755 tmpfs /run
$bb mount -t tmpfs -o mode=1777 tmpfs /tmp
$bb mount -t tmpfs -o mode=1777 tmpfs /dev/shm
$bb hostname -F /etc/hostname
$bb ip link set lo up
$bb ip link set eth0 up
$bb ip addr add 10.0.2.15/24 dev eth0
$bb ip route add default via 10.0.2.2
$bb mkdir -p -m 755 /run/sshd
echo "board-rc: up, starting sshd"
EOF
chmod 755 "$root/etc/board-rc"

# initrd: busybox and the virtio modules (modules in this kernel; ext4 is built in), in
# dependency order; it mounts /dev/vda and switches to it.
initrd="$work/initrd"
mkdir -p "$initrd/bin" "$initrd/dev" "$initrd/proc" "$initrd/newroot" "$initrd/modules"
cp "$root/bin/busybox" "$initrd/bin/busybox"
modules="virtio virtio_ring virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci virtio_blk
         failover net_failover virtio_net virtio-rng"
for name in $modules; do
    found=$(find "$root/lib/modules/$version" -name "$name.ko")
    [ -n "$found" ] || { echo "make_arm_board: module $name.ko not in kernel $version" >&2; exit 1; }
    cp "$found" "$initrd/modules/"
done
cat > "$initrd/init" <<EOF
#!/bin/busybox sh
bb=/bin/busybox
\$bb mount -t proc proc /proc
\$bb mount -t devtmpfs devtmpfs /dev
for name in $(echo $modules); do \$bb insmod /modules/\$name.ko || echo "initrd: insmod \$name failed"; done
for i in \$(\$bb seq 100); do [ -b /dev/vda ] && break; \$bb sleep 0.1; done
\$bb mount -t ext4 -o rw /dev/vda /newroot || { echo "initrd: cannot mount /dev/vda"; exec \$bb sh; }
\$bb mount -o move /dev /newroot/dev
\$bb umount /proc
exec \$bb switch_root /newroot /sbin/init
EOF
chmod 755 "$initrd/init"
(cd "$initrd" && find . | cpio --quiet -o -H newc) | gzip -1 > "$work/initrd.img"
rm -rf "$initrd"

# The disk: the root without its kernel files (they live outside, for qemu -kernel), plus room.
rm -rf "$root/boot" "$root/lib/modules" "$root/debootstrap"
size_mb=$(( $(du -sm "$root" | cut -f1) * 5 / 4 + 256 ))
mkfs.ext4 -q -F -L board -d "$root" "$work/disk.img" "${size_mb}M"
rm -rf "$root"

touch "$work/.mobilekit-arm-board"
rm -rf "$board"
mv "$work" "$board"
echo "arm64 board ready: $board (kernel $version, disk ${size_mb} MB)" >&2
