#!/usr/bin/python3
"""A libtorrent peer for the interop tests, driven over stdin/stdout.

Usage: /usr/bin/python3 lt_client.py '<json>' where json has
  torrent    path of the .torrent
  save_path  directory the torrent's name lives in (existing data is rechecked)
  listen     "127.0.0.1:PORT" (PORT 0: the OS picks; the real port is printed)
  peers      optional list of "HOST:PORT" to dial once the torrent is added
  outgoing   optional IP outgoing connections leave from (default: unbound)

stdout, one JSON object a line:
  {"type":"listening","port":N}
  {"type":"status", ...}          every 0.25 s
  {"type":"complete", ...}        once, when every piece is verified (seeding)
  {"type":"ack","cmd":...}        after each command
  {"type":"error","msg":...}      a torrent or listen error
stdin, one command a line:
  connect_peer HOST PORT | reannounce | quit
It exits when stdin closes, so it never outlives the test that started it.
Settings for loopback: TCP only (no uTP), plaintext, DHT/LSD/UPnP/NAT-PMP/PEX off,
several connections from one IP allowed.
"""

import json
import os
import queue
import sys
import threading
import time

import libtorrent as lt

from lt_loopback import out, session_settings, split_hostport, torrent_flags


def log(msg):
    sys.stderr.write(msg + "\n")
    sys.stderr.flush()


def main():
    args = json.loads(sys.argv[1])
    settings = session_settings(
        listen=args.get("listen", "127.0.0.1:0"),
        # Dial from the listen address when the test gave one, so the peer is seen
        # at that address (unbound, a dial from 127.0.0.x leaves from 127.0.0.1).
        outgoing_interfaces=args.get("outgoing", ""),
        alert_mask=lt.alert_category.error
        | lt.alert_category.status
        | lt.alert_category.tracker
        | lt.alert_category.connect
        | lt.alert_category.storage,
        user_agent="ccbt-interop-libtorrent",
    )
    ses = lt.session(settings)

    ti = lt.torrent_info(args["torrent"])
    atp = lt.add_torrent_params()
    atp.ti = ti
    atp.save_path = args["save_path"]
    atp.flags = torrent_flags()
    h = ses.add_torrent(atp)

    commands = queue.Queue()

    def read_stdin():
        for line in sys.stdin:
            commands.put(line.strip())
        commands.put("quit")

    threading.Thread(target=read_stdin, daemon=True).start()

    pending_peers = [split_hostport(p) for p in args.get("peers", [])]
    port_reported = False
    complete_reported = False
    error_reported = False
    last_status = 0.0
    while True:
        for a in ses.pop_alerts():
            cat = a.category()
            if isinstance(a, lt.listen_failed_alert):
                out({"type": "error", "msg": a.message()})
            elif cat & lt.alert_category.error:
                log("alert: " + a.message())
            elif isinstance(a, (lt.tracker_reply_alert, lt.peer_connect_alert,
                                lt.peer_disconnected_alert, lt.incoming_connection_alert,
                                lt.torrent_finished_alert, lt.state_changed_alert,
                                lt.listen_succeeded_alert)):
                log("alert: " + a.message())

        if not port_reported and ses.listen_port() != 0:
            out({"type": "listening", "port": ses.listen_port()})
            port_reported = True

        st = h.status()
        if pending_peers and st.state not in (
            lt.torrent_status.checking_files,
            lt.torrent_status.checking_resume_data,
        ):
            for host, port in pending_peers:
                h.connect_peer((host, port))
            pending_peers = []

        try:
            cmd = commands.get(timeout=0.05)
        except queue.Empty:
            cmd = None
        if cmd:
            parts = cmd.split()
            if parts[0] == "quit":
                out({"type": "ack", "cmd": "quit"})
                break
            elif parts[0] == "connect_peer" and len(parts) == 3:
                h.connect_peer((parts[1], int(parts[2])))
                out({"type": "ack", "cmd": cmd})
            elif parts[0] == "reannounce":
                h.force_reannounce()
                out({"type": "ack", "cmd": cmd})
            else:
                out({"type": "error", "msg": "unknown command: " + cmd})

        now = time.monotonic()
        if now - last_status >= 0.25:
            last_status = now
            status = {
                "type": "status",
                "state": str(st.state),
                "progress": st.progress,
                "is_seeding": st.is_seeding,
                "is_finished": st.is_finished,
                "total_done": st.total_done,
                "total_wanted": st.total_wanted,
                "num_pieces": st.num_pieces,
                "peers": st.num_peers,
                "seeds": st.num_seeds,
                "download_rate": st.download_rate,
                "upload_rate": st.upload_rate,
                "total_upload": st.all_time_upload,
                "payload_upload": st.total_payload_upload,
                "total_download": st.all_time_download,
                "error": str(st.errc.message()) if st.errc.value() else "",
            }
            out(status)
            if st.errc.value() and not error_reported:
                error_reported = True
                out({"type": "error", "msg": status["error"]})
            if st.is_seeding and not complete_reported:
                complete_reported = True
                out({"type": "complete", "total_done": st.total_done})

    ses.pause()
    os._exit(0)


if __name__ == "__main__":
    main()
