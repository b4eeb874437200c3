#!/usr/bin/env bash
# Installs the real BitTorrent clients the interop tests run on loopback:
# libtorrent (python3-libtorrent), Transmission, qBittorrent-nox, aria2, rqbit,
# plus opentracker, mktorrent and curl. Idempotent: apt-get update runs once and
# only when a package is missing; rqbit is built only when the wanted version is
# not already installed. Starts no daemon: while apt runs, a policy-rc.d that
# refuses every service start is put in place (unless one already exists).
set -euo pipefail

RQBIT_VERSION="9.1.0"

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi

# package -> how to tell it is installed
have() {
    case "$1" in
        python3-libtorrent) /usr/bin/python3 -c 'import libtorrent' >/dev/null 2>&1 ;;
        transmission-cli) command -v transmission-cli >/dev/null 2>&1 ;;
        transmission-daemon) command -v transmission-daemon >/dev/null 2>&1 ;;
        qbittorrent-nox) command -v qbittorrent-nox >/dev/null 2>&1 ;;
        aria2) command -v aria2c >/dev/null 2>&1 ;;
        opentracker) command -v opentracker >/dev/null 2>&1 ;;
        mktorrent) command -v mktorrent >/dev/null 2>&1 ;;
        curl) command -v curl >/dev/null 2>&1 ;;
        *) return 1 ;;
    esac
}

packages=(python3-libtorrent transmission-cli transmission-daemon qbittorrent-nox aria2 opentracker mktorrent curl)
need=()
for p in "${packages[@]}"; do
    have "$p" || need+=("$p")
done

if [ ${#need[@]} -gt 0 ]; then
    echo "installing Debian packages: ${need[*]}"
    policy=/usr/sbin/policy-rc.d
    own_policy=0
    if [ ! -e "$policy" ]; then
        # Refuse every service start while the packages' scripts run.
        printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null
        $SUDO chmod 755 "$policy"
        own_policy=1
    fi
    status=0
    $SUDO apt-get update -qq || status=$?
    if [ "$status" = 0 ]; then
        DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null || status=$?
    fi
    if [ "$own_policy" = 1 ]; then $SUDO rm -f "$policy"; fi
    if [ "$status" != 0 ]; then
        echo "error: apt-get failed (status $status) installing: ${need[*]}" >&2
    fi
fi

failed=()
for p in "${packages[@]}"; do
    have "$p" || failed+=("$p")
done
if [ ${#failed[@]} -gt 0 ]; then
    echo "error: could not install: ${failed[*]}" >&2
    exit 1
fi

if [ "$(rqbit --version 2>/dev/null | awk '{print $NF}')" != "$RQBIT_VERSION" ]; then
    echo "installing rqbit $RQBIT_VERSION (takes ~9 minutes on 2 cores)"
    cargo install rqbit --locked --version "$RQBIT_VERSION" || {
        echo "error: could not install: rqbit $RQBIT_VERSION" >&2
        exit 1
    }
fi
if [ "$(rqbit --version 2>/dev/null | awk '{print $NF}')" != "$RQBIT_VERSION" ]; then
    echo "error: could not install: rqbit $RQBIT_VERSION (got: $(rqbit --version 2>&1 | head -1))" >&2
    exit 1
fi
