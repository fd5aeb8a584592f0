#!/usr/bin/env bash
# CI for the emulated ARM64 board (the Raspberry Pi stand-in, tests/test_board.py): the system
# packages it needs and the board image, built once and cached at MOBILEKIT_ARM_BOARD. The board
# tests themselves are marked slow and board: `pytest -m board` runs them.
set -euo pipefail
cd "$(dirname "$0")/.."

export DEBIAN_FRONTEND=noninteractive
if command -v apt-get >/dev/null; then
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends qemu-system-arm debootstrap cpio e2fsprogs \
        openssh-client openssh-server >/dev/null
fi
.ci/make_arm_board.sh "${MOBILEKIT_ARM_BOARD:-/var/cache/mobilekit/arm64-board}"
