#!/usr/bin/python3
"""libtorrent fetching a magnet for `ccbt-bench --scenario magnet`.

Usage: /usr/bin/python3 lt_magnet.py '<json>' where json has
  magnet     the link (its x.pe names the seeder)
  save_path  the download folder
  listen     "127.0.0.X:0"

stdout, one JSON object a line, times in seconds since the torrent was added
(libtorrent's own alerts, so no polling interval in them):
  {"type":"listening","port":N}
  {"type":"metadata","seconds":S}      metadata_received_alert
  {"type":"first_piece","seconds":S}   the first piece_finished_alert (hash checked)
  {"type":"complete","seconds":S}      torrent_finished_alert; then it exits
  {"type":"error","msg":...}
Loopback settings from tests/scripts/lt_loopback.py (DHT, LSD, PEX off).
"""

import json
import os
import sys
import time

import libtorrent as lt

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "scripts"))
from lt_loopback import out, session_settings, split_hostport, torrent_flags  # noqa: E402

# The harness bounds the run too; this keeps a stuck script from living on.
MAX_SECONDS = 600


def main():
    args = json.loads(sys.argv[1])
    listen = args.get("listen", "127.0.0.1:0")
    settings = session_settings(
        listen=listen,
        outgoing_interfaces=split_hostport(listen)[0],
        alert_mask=lt.alert_category.error | lt.alert_category.status | lt.alert_category.piece_progress,
        user_agent="ccbt-bench-libtorrent",
    )
    ses = lt.session(settings)
    deadline = time.monotonic() + 30
    while ses.listen_port() == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    out({"type": "listening", "port": ses.listen_port()})

    atp = lt.parse_magnet_uri(args["magnet"])
    atp.save_path = args["save_path"]
    atp.flags = torrent_flags()
    added = time.monotonic()
    ses.async_add_torrent(atp)
    seen_first = False
    while time.monotonic() - added < MAX_SECONDS:
        ses.wait_for_alert(100)
        for a in ses.pop_alerts():
            now = time.monotonic() - added
            if isinstance(a, lt.add_torrent_alert) and a.error.value() != 0:
                out({"type": "error", "msg": a.error.message()})
                return 1
            if isinstance(a, lt.metadata_received_alert):
                out({"type": "metadata", "seconds": now})
            elif isinstance(a, lt.piece_finished_alert) and not seen_first:
                seen_first = True
                out({"type": "first_piece", "seconds": now})
            elif isinstance(a, lt.torrent_finished_alert):
                out({"type": "complete", "seconds": now})
                return 0
            elif isinstance(a, lt.torrent_error_alert):
                out({"type": "error", "msg": a.message()})
                return 1
    out({"type": "error", "msg": "not complete within %d s" % MAX_SECONDS})
    return 1


if __name__ == "__main__":
    sys.exit(main())
