#!/usr/bin/env python3
"""Measures bitonic's CPU at N torrents: a real daemon (target/debug/btbt) holding
N torrents (paused, added over the API from generated .torrent files), bitonic
(target/debug/bitonic) in a tmux pane of 120x30 at one refresh a second, and its
CPU time from /proc over a window. Everything on 127.0.0.1, in a temp dir; only
the processes started here are stopped, by pid (and the tmux server by its own
socket).

    cargo build -p ccbt-cli && scripts/bitonic-cpu.py [--torrents 10000] [--seconds 60]
"""

import argparse
import hashlib
import http.client
import os
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BTBT = os.path.join(ROOT, "target/debug/btbt")
BITONIC = os.path.join(ROOT, "target/debug/bitonic")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def bencode(v):
    if isinstance(v, int):
        return b"i%de" % v
    if isinstance(v, bytes):
        return b"%d:%s" % (len(v), v)
    if isinstance(v, str):
        return bencode(v.encode())
    if isinstance(v, dict):
        return b"d" + b"".join(bencode(k) + bencode(v[k]) for k in sorted(v)) + b"e"
    raise TypeError(v)


def torrent(i):
    info = {"name": "torrent-%05d.bin" % i, "length": 16384, "piece length": 16384,
            "pieces": hashlib.sha1(b"%d" % i).digest()}
    return bencode({"info": info})


def cpu_ticks(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--torrents", type=int, default=10000)
    ap.add_argument("--seconds", type=int, default=60)
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="bitonic-cpu-")
    state, data = os.path.join(tmp, "state"), os.path.join(tmp, "data")
    os.makedirs(data)
    api_port = free_port()
    env = dict(os.environ, HOME=tmp, XDG_DATA_HOME=os.path.join(tmp, "xdg"))
    daemon = subprocess.Popen(
        [BTBT, "daemon", "start", "--foreground", "--state-dir", state, "--download-dir", data,
         "--listen", "127.0.0.1:%d" % free_port(), "--api", "127.0.0.1:%d" % api_port],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    sock = "bitonic-cpu-%d" % os.getpid()
    try:
        token_file = os.path.join(state, "api.token")
        for _ in range(300):
            if os.path.exists(token_file) and open(token_file).read().strip():
                break
            time.sleep(0.1)
        token = open(token_file).read().strip()
        conn = http.client.HTTPConnection("127.0.0.1", api_port, timeout=60)
        started = time.time()
        for i in range(args.torrents):
            conn.request("POST", "/api/v1/torrents?paused=true", body=torrent(i),
                         headers={"Authorization": "Bearer " + token,
                                  "Content-Type": "application/x-bittorrent"})
            r = conn.getresponse()
            r.read()
            if r.status != 201:
                sys.exit("add %d: HTTP %d" % (i, r.status))
        print("added %d torrents in %.1f s" % (args.torrents, time.time() - started))
        cmd = "%s --api 127.0.0.1:%d --state-dir %s" % (BITONIC, api_port, state)
        subprocess.run(["tmux", "-L", sock, "-f", "/dev/null", "new-session", "-d", "-s", "m",
                        "-x", "120", "-y", "30", cmd], check=True)
        pane = int(subprocess.run(["tmux", "-L", sock, "display-message", "-p", "-t", "m",
                                   "#{pane_pid}"], capture_output=True, text=True).stdout)
        # The pane's shell may have exec'd bitonic, or run it as its child.
        pid = pane
        for p in os.listdir("/proc"):
            if p.isdigit():
                try:
                    stat = open("/proc/%s/stat" % p).read()
                except OSError:
                    continue
                if "(bitonic)" in stat and int(stat.rsplit(")", 1)[1].split()[1]) in (pane,):
                    pid = int(p)
        time.sleep(10)  # the first full answer, then steady state
        screen = subprocess.run(["tmux", "-L", sock, "capture-pane", "-p", "-t", "m"],
                                capture_output=True, text=True).stdout
        if "%d of %d torrents" % (args.torrents, args.torrents) not in screen:
            sys.exit("bitonic does not show the %d torrents:\n%s" % (args.torrents, screen))
        hz = os.sysconf("SC_CLK_TCK")
        t0, c0 = time.time(), cpu_ticks(pid)
        time.sleep(args.seconds)
        t1, c1 = time.time(), cpu_ticks(pid)
        share = (c1 - c0) / hz / (t1 - t0) * 100
        print("bitonic (pid %d) at %d torrents, 120x30, 1 refresh/s: %.2f%% of a core over %.0f s "
              "(%.2f CPU-s)" % (pid, args.torrents, share, t1 - t0, (c1 - c0) / hz))
        print(screen)
    finally:
        subprocess.run(["tmux", "-L", sock, "kill-server"], stderr=subprocess.DEVNULL)
        daemon.terminate()
        try:
            daemon.wait(30)
        except subprocess.TimeoutExpired:
            daemon.kill()


if __name__ == "__main__":
    main()
