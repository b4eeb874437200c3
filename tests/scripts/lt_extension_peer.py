#!/usr/bin/python3
"""A libtorrent peer for the extension tests (metadata from a magnet, peer exchange).

Usage: /usr/bin/python3 lt_extension_peer.py '<json>' where json has
  magnet           a magnet link to add (metadata fetched from peers), or
  torrent          a .torrent path
  save_path        download folder (existing data is rechecked)
  listen           "127.0.0.1:PORT" (0: the OS picks; printed)
  peers            optional "HOST:PORT" list to dial once the torrent is added
  pex              true: peer exchange on (off by default, like every test client)
  file_priorities  optional list of 0..7 per file (0: skip), once metadata is known

stdout, one JSON object a line:
  {"type":"listening","port":N}
  {"type":"metadata"}                  once the info dictionary is known
  {"type":"status", ...}               every 0.25 s
  {"type":"complete"}                  once every wanted piece is verified
It asks the kernel to end it with its parent (PR_SET_PDEATHSIG), so it never
outlives the test that started it.
"""

import ctypes
import json
import signal
import sys
import time

import libtorrent as lt

from lt_loopback import out, session_settings, split_hostport, torrent_flags


PR_SET_PDEATHSIG = 1


def main():
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    args = json.loads(sys.argv[1])
    ses = lt.session(session_settings(
        listen=args.get("listen", "127.0.0.1:0"),
        outgoing_interfaces="",
        alert_mask=lt.alert_category.error | lt.alert_category.status,
        user_agent="ccbt-extension-libtorrent",
        # A peer that finished what it wants keeps its connections to seeds, so it
        # still has them to tell others about over PEX.
        close_redundant_connections=False,
    ))
    if "magnet" in args:
        atp = lt.parse_magnet_uri(args["magnet"])
    else:
        atp = lt.add_torrent_params()
        atp.ti = lt.torrent_info(args["torrent"])
    atp.save_path = args["save_path"]
    flags = torrent_flags()
    if args.get("pex"):
        flags &= ~lt.torrent_flags.disable_pex
    atp.flags = flags
    h = ses.add_torrent(atp)

    peers = [split_hostport(p) for p in args.get("peers", [])]
    port_reported = metadata_reported = priorities_set = complete_reported = False
    last_status = 0.0
    while True:
        for a in ses.pop_alerts():
            if a.category() & lt.alert_category.error:
                sys.stderr.write("alert: " + a.message() + "\n")
        if not port_reported and ses.listen_port() != 0:
            out({"type": "listening", "port": ses.listen_port()})
            port_reported = True
        st = h.status()
        if peers and st.state != lt.torrent_status.checking_files:
            for host, port in peers:
                h.connect_peer((host, port))
            peers = []
        if st.has_metadata and not metadata_reported:
            out({"type": "metadata"})
            metadata_reported = True
        if st.has_metadata and not priorities_set and args.get("file_priorities"):
            h.prioritize_files(args["file_priorities"])
            priorities_set = True
        now = time.monotonic()
        if now - last_status >= 0.25:
            last_status = now
            out({
                "type": "status",
                "state": str(st.state),
                "has_metadata": st.has_metadata,
                "progress": st.progress,
                "is_finished": st.is_finished,
                "is_seeding": st.is_seeding,
                "peers": st.num_peers,
                "total_done": st.total_done,
                "total_wanted": st.total_wanted,
            })
            finished = st.is_finished and st.has_metadata and (priorities_set or not args.get("file_priorities"))
            if finished and not complete_reported:
                out({"type": "complete"})
                complete_reported = True
        time.sleep(0.05)


if __name__ == "__main__":
    main()
