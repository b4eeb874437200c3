#!/usr/bin/env bash
# The whole test suite: installs test dependencies, checks formatting and lints,
# builds the binaries the end-to-end tests run, runs every test, then runs each fuzz
# target briefly over its corpus (scripts/fuzz-smoke.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-test-deps.sh
cargo fmt --all -- --check
cargo clippy --workspace --all-targets -- -D warnings
cargo build --workspace --bins
cargo nextest run --workspace --no-fail-fast
scripts/fuzz-smoke.sh
