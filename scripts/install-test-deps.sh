#!/usr/bin/env bash
# Installs what the test suite needs beyond the Rust toolchain: real peers and
# torrent tools from Debian, cargo-nextest and cargo-fuzz. Idempotent: installs only what is missing.
set -euo pipefail

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi

need=()
command -v mktorrent >/dev/null 2>&1 || need+=(mktorrent)
/usr/bin/python3 -c 'import libtorrent' >/dev/null 2>&1 || need+=(python3-libtorrent)
# promtool and a Prometheus server check and scrape /metrics (tests/tests/daemon_metrics.rs).
command -v promtool >/dev/null 2>&1 && command -v prometheus >/dev/null 2>&1 || need+=(prometheus)
if [ ${#need[@]} -gt 0 ]; then
    echo "installing Debian packages: ${need[*]}"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi
command -v mktorrent >/dev/null 2>&1 || { echo "error: mktorrent could not be installed" >&2; exit 1; }
/usr/bin/python3 -c 'import libtorrent' >/dev/null 2>&1 || { echo "error: python3-libtorrent could not be installed" >&2; exit 1; }
command -v promtool >/dev/null 2>&1 || { echo "error: prometheus (promtool) could not be installed" >&2; exit 1; }

if ! command -v cargo-nextest >/dev/null 2>&1; then
    echo "installing cargo-nextest"
    cargo install cargo-nextest --locked
fi
# The fuzz smoke run (scripts/fuzz-smoke.sh) drives libFuzzer through cargo-fuzz.
if ! command -v cargo-fuzz >/dev/null 2>&1; then
    echo "installing cargo-fuzz"
    cargo install cargo-fuzz --locked
fi
"$(dirname "$0")/install-interop-deps.sh"
"$(dirname "$0")/install-python-test-deps.sh"
