#!/usr/bin/python3
"""libtorrent for ccbt-bench, where tests/scripts/lt_client.py does not fit.

Usage: /usr/bin/python3 lt_bench.py '<json>' where json has
  mode         "seed_dir": seed every .torrent of torrent_dir (the counterpart of
               `ccbt --seed -o DATA DIR_OF_TORRENTS`),
               "save_resume": seed_dir, then once every torrent seeds, save each
               one's resume data (with its info dict) to resume_dir/<hash>.fastresume,
               "seed_resume": seed every torrent of resume_dir from its resume data
               (a restart: nothing is rechecked that the resume data vouches for), or
               "download": download one torrent (and keep seeding)
  torrent_dir  (seed_dir, save_resume) folder of .torrent files, all of them added
  resume_dir   (save_resume, seed_resume) folder of .fastresume files
  torrent      (download) the .torrent
  save_path    folder holding every torrent's data (rechecked at start)
  listen       "127.0.0.X:PORT" (PORT 0: the OS picks; the real port is printed)
  peers        (download) "HOST:PORT" list to dial once the torrent is added

Outgoing connections are bound to the listen address, so downloaders on
127.0.0.2, .3, ... are different peers to a client that keys peers by IP
(Transmission).

stdout, one JSON object a line:
  {"type":"listening","port":N}
  {"type":"status",...}               (download) every 0.25 s: verified_bytes, total_bytes, peers, state
  {"type":"complete","info_hash":H}   once per torrent, as soon as it is seeding
  {"type":"resume_saved","count":N}   (save_resume) every resume file is written
  {"type":"error","msg":...}
stdin: `connect_peer HOST PORT` (download) dials a peer. It exits when stdin closes. Loopback settings from tests/scripts/lt_loopback.py: TCP only,
plaintext, DHT/LSD/UPnP/NAT-PMP/PEX off, several connections per IP, nothing
auto-managed (no limit on active torrents).
"""

import json
import os
import queue
import sys
import threading
import time

import libtorrent as lt

# The settings and helpers shared with the interop tests' driver.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "scripts"))
from lt_loopback import out, session_settings, split_hostport, torrent_flags  # noqa: E402


def main():
    args = json.loads(sys.argv[1])
    listen = args.get("listen", "127.0.0.1:0")
    listen_ip = split_hostport(listen)[0]
    settings = session_settings(
        listen=listen,
        outgoing_interfaces=listen_ip,
        # storage: the save_resume_data alerts.
        alert_mask=lt.alert_category.error | lt.alert_category.status | lt.alert_category.storage,
        user_agent="ccbt-bench-libtorrent",
        alert_queue_size=1000000,
        active_limit=-1,
        active_seeds=-1,
    )
    ses = lt.session(settings)

    flags = torrent_flags()
    mode = args["mode"]

    if mode in ("seed_dir", "save_resume"):
        tdir = args["torrent_dir"]
        paths = [os.path.join(tdir, n) for n in sorted(os.listdir(tdir)) if n.endswith(".torrent")]
    elif mode == "seed_resume":
        rdir = args["resume_dir"]
        paths = [os.path.join(rdir, n) for n in sorted(os.listdir(rdir)) if n.endswith(".fastresume")]
    else:
        paths = [args["torrent"]]
    handles = []
    for p in paths:
        if mode == "seed_resume":
            with open(p, "rb") as f:
                atp = lt.read_resume_data(f.read())
        else:
            atp = lt.add_torrent_params()
            atp.ti = lt.torrent_info(p)
        atp.save_path = args["save_path"]
        atp.flags = flags
        if len(paths) == 1:
            handles.append(ses.add_torrent(atp))
        else:
            ses.async_add_torrent(atp)
    pending_peers = [split_hostport(p) for p in args.get("peers", [])]

    done = threading.Event()
    commands = queue.Queue()

    def read_stdin():
        for line in sys.stdin:
            commands.put(line.strip())
        done.set()

    threading.Thread(target=read_stdin, daemon=True).start()

    seeding = set()
    # save_resume: resume files written, and whether they were asked for yet.
    saved = set()
    resume_asked = False
    port_reported = False
    last_sweep = time.monotonic()
    last_status = 0.0

    def report(h):
        ih = str(h.info_hash())
        if ih not in seeding:
            seeding.add(ih)
            out({"type": "complete", "info_hash": ih})

    while not done.is_set():
        ses.wait_for_alert(50)
        for a in ses.pop_alerts():
            if isinstance(a, lt.listen_failed_alert):
                out({"type": "error", "msg": a.message()})
            elif isinstance(a, lt.add_torrent_alert) and a.error.value():
                out({"type": "error", "msg": a.message()})
            elif isinstance(a, lt.state_changed_alert) and a.state == lt.torrent_status.seeding:
                report(a.handle)
            elif isinstance(a, lt.torrent_finished_alert):
                if a.handle.status(0).is_seeding:
                    report(a.handle)
            elif isinstance(a, lt.save_resume_data_alert):
                ih = str(a.handle.info_hash())
                with open(os.path.join(args["resume_dir"], ih + ".fastresume"), "wb") as f:
                    f.write(lt.write_resume_data_buf(a.params))
                saved.add(ih)
                if len(saved) == len(paths):
                    out({"type": "resume_saved", "count": len(saved)})
            elif isinstance(a, lt.save_resume_data_failed_alert):
                out({"type": "error", "msg": a.message()})
        if not port_reported and ses.listen_port() != 0:
            out({"type": "listening", "port": ses.listen_port()})
            port_reported = True
        while not commands.empty():
            parts = commands.get().split()
            if len(parts) == 3 and parts[0] == "connect_peer" and handles:
                handles[0].connect_peer((parts[1], int(parts[2])))
        now = time.monotonic()
        if handles:
            st = handles[0].status()
            if pending_peers and st.state not in (
                lt.torrent_status.checking_files,
                lt.torrent_status.checking_resume_data,
            ):
                for host, port in pending_peers:
                    handles[0].connect_peer((host, port))
                pending_peers = []
            if st.is_seeding:
                report(handles[0])
            if now - last_status >= 0.25:
                last_status = now
                out({
                    "type": "status",
                    "state": str(st.state),
                    "verified_bytes": st.total_wanted_done,
                    "total_bytes": st.total_wanted,
                    "peers": st.num_peers,
                })
        # Alerts can be missed (a state change before the handle existed): sweep.
        if len(seeding) < len(paths) and now - last_sweep >= 1.0:
            last_sweep = now
            for st in ses.get_torrent_status(lambda s: s.is_seeding, 0):
                report(st.handle)
        if mode == "save_resume" and not resume_asked and len(seeding) == len(paths):
            resume_asked = True
            os.makedirs(args["resume_dir"], exist_ok=True)
            for h in ses.get_torrents():
                h.save_resume_data(lt.save_resume_flags_t.save_info_dict)
    ses.pause()
    os._exit(0)


if __name__ == "__main__":
    main()
