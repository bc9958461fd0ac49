#!/usr/bin/env bash
# Runs holdfast's whole test suite: unit, property, conformance, CLI and
# end-to-end tests. Run it as root on Debian: it installs what it needs, and
# the end-to-end tests create (and remove) their own network namespaces.
#
# Set HOLDFAST_REQUIRE_ENV=1 to make tests that cannot find their
# environment (root, namespaces, keepalived, the IPVS VM) fail instead of skip.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-prereqs.sh
cargo test --workspace --locked --no-fail-fast
# The example custom policy is its own crate (built for wasm32 by the CLI
# tests); its native unit tests show policy authors how to test their logic.
cargo test --manifest-path examples/custom-policy/Cargo.toml --locked
# The shipped policies' native unit tests (their logic, without a runtime).
cargo test --manifest-path policies/Cargo.toml --locked -p keepalived-track -p http-verdict \
    -p latency-weights -p redis-probe
