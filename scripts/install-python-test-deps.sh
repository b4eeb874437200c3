#!/usr/bin/env bash
# Installs the PyPI clients the compatibility-API tests drive the daemon with
# (transmission-rpc, qbittorrent-api) into a virtualenv at target/pyenv, where the
# tests look for it (or at $CCBT_TEST_PYENV). Idempotent: does nothing when both
# import already.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
venv="${CCBT_TEST_PYENV:-$root/target/pyenv}"

if [ -x "$venv/bin/python" ] && "$venv/bin/python" -c 'import transmission_rpc, qbittorrentapi' >/dev/null 2>&1; then
    exit 0
fi
if ! python3 -m venv --help >/dev/null 2>&1 || ! python3 -c 'import ensurepip' >/dev/null 2>&1; then
    SUDO=""
    if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
    echo "installing Debian package: python3-venv"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends python3-venv >/dev/null
fi
echo "installing PyPI packages into $venv: transmission-rpc qbittorrent-api"
python3 -m venv "$venv"
"$venv/bin/pip" install -q --disable-pip-version-check "transmission-rpc>=7,<8" "qbittorrent-api>=2024.1"
"$venv/bin/python" -c 'import transmission_rpc, qbittorrentapi' || {
    echo "error: transmission-rpc / qbittorrent-api could not be installed into $venv" >&2
    exit 1
}
