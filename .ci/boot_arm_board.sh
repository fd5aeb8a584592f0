#!/usr/bin/env bash
# Boot the virtual ARM64 board made by make_arm_board.sh under qemu-system-aarch64 (TCG, the
# generic virt machine, a named CPU: cortex-a72 like a Raspberry Pi 4; never -cpu max, whose int8
# results are wrong) and wait until its sshd answers. The disk is opened with snapshot=on: the
# cached image never changes, every boot starts clean.
#
# Usage: .ci/boot_arm_board.sh BOARD RUN_DIR
# Prints the target (ssh://pi@127.0.0.1:PORT) on stdout; RUN_DIR gets ssh_config (key, known
# hosts: use MOBILEKIT_SSH_CONFIG=RUN_DIR/ssh_config), qemu.pid (power off: kill that pid) and
# console.log. Environment: BOARD_CPU (cortex-a72), BOARD_MEMORY (1536 MB), BOARD_BOOT_TIMEOUT (600 s).
set -euo pipefail

board=${1:?usage: boot_arm_board.sh BOARD RUN_DIR}
run=${2:?usage: boot_arm_board.sh BOARD RUN_DIR}
cpu=${BOARD_CPU:-cortex-a72}
timeout=${BOARD_BOOT_TIMEOUT:-600}
if [ ! -f "$board/.mobilekit-arm-board" ]; then
    echo "boot_arm_board: no board at $board (build it: .ci/make_arm_board.sh $board)" >&2
    exit 2
fi
case $cpu in max*) echo "boot_arm_board: -cpu max computes wrong int8 results; name a CPU" >&2; exit 2 ;; esac
mkdir -p "$run"
run=$(cd "$run" && pwd)

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
echo "[127.0.0.1]:$port $(cut -d' ' -f1,2 "$board/host_key.pub")" > "$run/known_hosts"
cat > "$run/ssh_config" <<EOF
Host *
    IdentityFile $board/client_key
    IdentitiesOnly yes
    UserKnownHostsFile $run/known_hosts
    StrictHostKeyChecking yes
    LogLevel ERROR
EOF

rm -f "$run/qemu.pid"
started=$(date +%s)
qemu-system-aarch64 -nodefaults -machine virt -cpu "$cpu" -smp 2 -m "${BOARD_MEMORY:-1536}" \
    -kernel "$board/vmlinuz" -initrd "$board/initrd.img" -append "console=ttyAMA0 root=/dev/vda rw" \
    -drive "file=$board/disk.img,if=none,id=disk,format=raw,snapshot=on" -device virtio-blk-pci,drive=disk \
    -netdev "user,id=net,hostfwd=tcp:127.0.0.1:$port-:22" -device virtio-net-pci,netdev=net,romfile= \
    -device virtio-rng-pci -display none -serial "file:$run/console.log" \
    -daemonize -pidfile "$run/qemu.pid"

pid=$(cat "$run/qemu.pid")
until ssh -F "$run/ssh_config" -o BatchMode=yes -o ConnectTimeout=5 -p "$port" pi@127.0.0.1 true 2>/dev/null; do
    if ! kill -0 "$pid" 2>/dev/null; then
        echo "boot_arm_board: qemu exited during boot; see $run/console.log" >&2
        exit 1
    fi
    if [ $(( $(date +%s) - started )) -ge "$timeout" ]; then
        kill "$pid"
        echo "boot_arm_board: no ssh after ${timeout} s; see $run/console.log" >&2
        exit 1
    fi
    sleep 2
done
echo "boot_arm_board: up in $(( $(date +%s) - started )) s (pid $pid); MOBILEKIT_SSH_CONFIG=$run/ssh_config" >&2
echo "ssh://pi@127.0.0.1:$port"
