#!/usr/bin/env bash
# Measures a 1 GiB ccbt -> ccbt transfer over loopback between two processes
# (release build, 1 MiB pieces, cold downloader, seeder with its data in page cache).
# Usage: scripts/own-swarm-1g.sh [SIZE_MIB]
set -euo pipefail
cd "$(dirname "$0")/.."
size_mib="${1:-1024}"
cargo build --release -q -p ccbt-cli --bins
bin=target/release
work=$(mktemp -d /tmp/ccbt-own-swarm.XXXXXX)
seeder_pid=""
cleanup() {
    if [ -n "$seeder_pid" ]; then kill "$seeder_pid" 2>/dev/null || true; wait "$seeder_pid" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

mkdir -p "$work/seed" "$work/down"
head -c "$((size_mib * 1024 * 1024))" /dev/urandom > "$work/seed/payload.bin"
"$bin/btbt" create "$work/seed/payload.bin" -o "$work/payload.torrent" --piece-size 1M >/dev/null

"$bin/ccbt" "$work/payload.torrent" -o "$work/seed" --seed --json --listen 127.0.0.1:0 > "$work/seeder.jsonl" 2>"$work/seeder.err" &
seeder_pid=$!
for _ in $(seq 1 600); do
    grep -q '"type":"complete"' "$work/seeder.jsonl" 2>/dev/null && break
    sleep 0.1
done
addr=$(grep -m1 '"type":"listening"' "$work/seeder.jsonl" | sed 's/.*"addr":"\([^"]*\)".*/\1/')

start=$(date +%s.%N)
/usr/bin/time -f '%U %S' -o "$work/time" "$bin/ccbt" "$work/payload.torrent" -o "$work/down" --peer "$addr" --listen 127.0.0.1:0 --json > "$work/down.jsonl"
end=$(date +%s.%N)
cmp "$work/seed/payload.bin" "$work/down/payload.bin"
read -r user sys < "$work/time"
awk -v s="$start" -v e="$end" -v b="$((size_mib * 1024 * 1024))" -v u="$user" -v y="$sys" 'BEGIN {
    t = e - s; printf "%d MiB in %.2f s = %.0f MB/s; downloader CPU %.2f s (%.2f CPU-s/GiB); copy identical\n", b/1048576, t, b/t/1e6, u+y, (u+y)/(b/1073741824) }'
