#!/usr/bin/env bash
# Build an arm64 Debian root with python3 + numpy + ai-edge-litert for the qemu-aarch64 target
# (recipe: ../shared/reference/arm_emulation.md). No arm64 code runs while building: debootstrap's
# first stage downloads the .debs and they are unpacked with `dpkg -x`, the wheels are installed
# with pip --platform/--target, so neither binfmt_misc nor a chroot is needed.
#
# Usage: .ci/make_arm_root.sh ROOT   (idempotent: a finished ROOT is left alone; needs root,
# debootstrap and a python3 with pip on PATH; about 400 MB and a few minutes).
# MOBILEKIT_ARM_PACKAGES=a,b,... adds Debian packages (make_arm_board.sh adds a kernel and sshd).
set -euo pipefail

root=${1:?usage: make_arm_root.sh ROOT}
root=${root%/}
if [ -f "$root/.mobilekit-arm-root" ]; then
    echo "arm64 root already built: $root" >&2
    exit 0
fi

suite=bookworm
pyver=3.11
mirror=$(sed -n 's/^URIs: *\(http[^ ]*\/debian\)\/\?$/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -n1)
mirror=${mirror:-http://deb.debian.org/debian}

# Build beside ROOT and rename at the end, so an interrupted build never looks finished.
work="$root.partial"
rm -rf "$work"
mkdir -p "$(dirname "$root")"

echo "debootstrap (first stage) from $mirror into $work" >&2
debootstrap --arch=arm64 --foreign --variant=minbase \
    --include="python3,ca-certificates${MOBILEKIT_ARM_PACKAGES:+,$MOBILEKIT_ARM_PACKAGES}" "$suite" "$work" "$mirror" >&2
for deb in "$work"/var/cache/apt/archives/*.deb; do
    dpkg -x "$deb" "$work"
done
rm -f "$work"/var/cache/apt/archives/*.deb

echo "aarch64 wheels: ai-edge-litert numpy" >&2
platforms=(--platform manylinux2014_aarch64 --platform manylinux_2_17_aarch64
           --platform manylinux_2_27_aarch64 --platform manylinux_2_28_aarch64)
wheel_flags=(--only-binary=:all: "${platforms[@]}" --python-version "$pyver" --implementation cp)
wheels=$(mktemp -d)
trap 'rm -rf "$wheels"' EXIT
python3 -m pip download --quiet "${wheel_flags[@]}" -d "$wheels" ai-edge-litert numpy
python3 -m pip install --quiet --no-index --find-links "$wheels" "${wheel_flags[@]}" \
    --target "$work/usr/local/lib/python$pyver/dist-packages" ai-edge-litert numpy

# qemu-user passes the host's x86 /proc/cpuinfo through and LiteRT's CPU detection crashes on it;
# with -L ROOT qemu serves these files from the root instead (arm_emulation.md, "Two traps").
mkdir -p "$work/proc" "$work/sys/devices/system/cpu"
cpuinfo=""
for cpu in 0 1; do
    cpuinfo+="processor	: $cpu
BogoMIPS	: 50.00
Features	: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm lrcpc dcpop asimddp
CPU implementer	: 0x41
CPU architecture: 8
CPU variant	: 0x3
CPU part	: 0xd0c
CPU revision	: 1

"
done
printf '%s' "$cpuinfo" > "$work/proc/cpuinfo"
for f in possible present online; do
    echo 0-1 > "$work/sys/devices/system/cpu/$f"
done

touch "$work/.mobilekit-arm-root"
rm -rf "$root"
mv "$work" "$root"
echo "arm64 root ready: $root" >&2
