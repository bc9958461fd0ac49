#!/usr/bin/env bash
# Installs what building and testing holdfast needs on a Debian machine, as
# root. Idempotent: does nothing when everything is already there.
set -euo pipefail

# Debian packages the test suite uses (commands checked first, so a machine
# that has them does not touch apt).
declare -A packages=(
    [ip]=iproute2
    [ping]=iputils-ping
    [strip]=binutils
    [keepalived]=keepalived
    [tcpdump]=tcpdump
    [stress-ng]=stress-ng
    [dnsmasq]=dnsmasq
    [python3]=python3
    [md5sum]=coreutils
    [redis-server]=redis-server
)

missing=()
for cmd in "${!packages[@]}"; do
    command -v "$cmd" >/dev/null 2>&1 || missing+=("${packages[$cmd]}")
done
if ((${#missing[@]})); then
    if [[ $(id -u) -ne 0 ]]; then
        echo "install-prereqs: need root to install: ${missing[*]}" >&2
        exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# cargo-fuzz for the fuzz smoke test (from crates.io).
command -v cargo-fuzz >/dev/null 2>&1 || cargo install --locked --quiet cargo-fuzz

# Rust components used by CI, and the target policies are built for.
if command -v rustup >/dev/null 2>&1; then
    rustup target list --installed 2>/dev/null | grep -q '^wasm32-unknown-unknown$' || rustup target add wasm32-unknown-unknown
    rustup component list --installed 2>/dev/null | grep -q '^rustfmt' || rustup component add rustfmt
    rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy
fi

# The IPVS VM (this machine's kernel has no IPVS): QEMU, busybox, ipvsadm,
# Debian's cloud kernel unpacked into /var/cache/ipvs-vm, and the base image.
if [ "$(id -u)" = 0 ]; then
    "$(dirname "$0")/../tests/vm/run-in-ipvs-vm.sh" --setup
fi
