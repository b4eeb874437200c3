#!/bin/bash
# Recheck time of a partly downloaded large torrent: an 8 GiB sparse file holding
# 4 real 1 MiB pieces (the others are holes, "not downloaded yet").
# Usage: scripts/measure-sparse-recheck.sh [CCBT_BINARY] [WORK_DIR]
# Prints the time from start to the "started" line (the recheck is done) and the
# CPU seconds used. Needs about 4 MiB of real disk space.
set -euo pipefail
ccbt=${1:-target/release/ccbt}
dir=${2:-$(mktemp -d /tmp/ccbt-sparse-XXXXXX)}
mkdir -p "$dir/data"
if [ ! -e "$dir/big.torrent" ]; then
python3 - "$dir" <<'PY'
import hashlib, os, sys
d = sys.argv[1]
PL, N = 1 << 20, 8192
real = {}
with open(d + "/data/big.bin", "wb") as f:
    f.truncate(N * PL)
    for i in (0, 100, 5000, 8191):
        b = os.urandom(PL)
        f.seek(i * PL); f.write(b)
        real[i] = hashlib.sha1(b).digest()
hashes = b"".join(real.get(i) or os.urandom(20) for i in range(N))
def be(x):
    if isinstance(x, int): return b"i%de" % x
    if isinstance(x, str): x = x.encode()
    if isinstance(x, bytes): return b"%d:%s" % (len(x), x)
    return b"d" + b"".join(be(k) + be(v) for k, v in sorted(x.items())) + b"e"
info = {"length": N * PL, "name": "big.bin", "piece length": PL, "pieces": hashes}
open(d + "/big.torrent", "wb").write(b"d4:info" + be(info) + b"e")
PY
fi
sync
echo 3 > /proc/sys/vm/drop_caches 2>/dev/null || true
start=$(date +%s.%N)
"$ccbt" "$dir/big.torrent" -o "$dir/data" --listen 127.0.0.1:0 --json >"$dir/out.jsonl" 2>"$dir/err.txt" &
pid=$!
for _ in $(seq 1 2400); do
  grep -q '"started"' "$dir/out.jsonl" && break
  sleep 0.05
done
end=$(date +%s.%N)
cpu=$(awk '{print ($14+$15)/100}' "/proc/$pid/stat")
kill "$pid"; wait "$pid" 2>/dev/null || true
grep '"started"' "$dir/out.jsonl"
echo "recheck: $(echo "$end - $start" | bc) s wall, $cpu CPU-s (work dir $dir)"
