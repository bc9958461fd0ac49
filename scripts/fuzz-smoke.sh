#!/usr/bin/env bash
# Builds the fuzz targets and runs each briefly. cargo-fuzz passes nightly
# -Z flags (sanitizers, coverage); the machine has one stable toolchain, so
# RUSTC_BOOTSTRAP=1 lets it accept them.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
seconds=${FUZZ_SECONDS:-20}
export RUSTC_BOOTSTRAP=1
cargo fuzz build -O
for target in $(cargo fuzz list); do
    echo "fuzz: $target for ${seconds}s"
    cargo fuzz run -O "$target" -- -max_total_time="$seconds" 2>&1 | tail -n 2
done
