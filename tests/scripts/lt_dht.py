#!/usr/bin/python3
"""A libtorrent session with its DHT on, for the DHT tests, driven like lt_client.py.

Usage: /usr/bin/python3 lt_dht.py '<json>' where json has
  listen     "127.0.0.1:PORT" (an explicit port: libtorrent runs a DHT node per
             listen socket, and the loopback one needs its own address)
  bootstrap  list of "HOST:PORT" DHT nodes to start from
  torrent    optional path of a .torrent (no tracker needed) ...
  save_path  ... and the directory its name lives in (existing data is rechecked)

stdout, one JSON object a line:
  {"type":"listening","port":N}
  {"type":"status","dht_nodes":N, ...torrent fields if any}   every 0.25 s
  {"type":"dht_announce","info_hash":HEX,"ip":IP,"port":N}     a node announced to us
  {"type":"dht_get_peers","info_hash":HEX}                     a node asked us for peers
  {"type":"complete"}                                          the torrent is seeding
It exits when its parent (the test) is gone; the test also kills it by pid.
Settings that let libtorrent's DHT work on 127.0.0.1
(see docs/interop-notes.md): routing and search IP restrictions off, node-id
enforcement off, the per-IP rate limit raised (every node here is one IP).
"""

import json
import os
import sys
import time

import libtorrent as lt

from lt_loopback import out, session_settings, split_hostport


def log(msg):
    sys.stderr.write(msg + "\n")
    sys.stderr.flush()


DHT_SETTINGS = {
    "enable_dht": True,
    "dht_restrict_routing_ips": False,
    "dht_restrict_search_ips": False,
    "dht_enforce_node_id": False,
    "dht_prefer_verified_node_ids": False,
    "dht_ignore_dark_internet": False,
    "dht_block_ratelimit": 100000,
    "dht_upload_rate_limit": 1000000,
    "dht_announce_interval": 5,
}


def main():
    args = json.loads(sys.argv[1])
    settings = session_settings(
        listen=args["listen"],
        outgoing_interfaces="",
        alert_mask=lt.alert_category.error
        | lt.alert_category.status
        | lt.alert_category.dht
        | lt.alert_category.connect
        | lt.alert_category.storage,
        user_agent="ccbt-interop-libtorrent-dht",
        dht_bootstrap_nodes=",".join(args.get("bootstrap", [])),
    )
    ses = lt.session(settings)
    # One at a time: a name this libtorrent does not know is skipped, not fatal.
    for key, value in DHT_SETTINGS.items():
        try:
            ses.apply_settings({key: value})
        except Exception as e:  # noqa: BLE001
            log("setting %s not applied: %s" % (key, e))
    for node in args.get("bootstrap", []):
        host, port = split_hostport(node)
        ses.add_dht_node((host, port))

    h = None
    if args.get("torrent"):
        atp = lt.add_torrent_params()
        atp.ti = lt.torrent_info(args["torrent"])
        atp.save_path = args["save_path"]
        flags = lt.torrent_flags.default_flags
        flags &= ~lt.torrent_flags.auto_managed
        flags &= ~lt.torrent_flags.paused
        flags |= lt.torrent_flags.disable_pex | lt.torrent_flags.disable_lsd
        atp.flags = flags
        h = ses.add_torrent(atp)

    parent = os.getppid()
    port_reported = False
    complete_reported = False
    last_status = 0.0
    while True:
        for a in ses.pop_alerts():
            if isinstance(a, lt.dht_announce_alert):
                out({"type": "dht_announce", "info_hash": str(a.info_hash), "ip": str(a.ip), "port": a.port})
            elif isinstance(a, lt.dht_get_peers_alert):
                out({"type": "dht_get_peers", "info_hash": str(a.info_hash)})
            elif isinstance(a, lt.listen_failed_alert):
                out({"type": "error", "msg": a.message()})
            elif a.category() & lt.alert_category.error:
                log("alert: " + a.message())
            elif isinstance(a, (lt.dht_reply_alert, lt.peer_connect_alert, lt.incoming_connection_alert,
                                lt.torrent_finished_alert, lt.dht_bootstrap_alert)):
                log("alert: " + a.message())

        if not port_reported and ses.listen_port() != 0:
            out({"type": "listening", "port": ses.listen_port()})
            port_reported = True

        if os.getppid() != parent:
            break
        time.sleep(0.05)

        now = time.monotonic()
        if now - last_status >= 0.25:
            last_status = now
            status = {"type": "status", "dht_nodes": ses.status().dht_nodes}
            if h is not None:
                st = h.status()
                status.update({
                    "state": str(st.state),
                    "is_seeding": st.is_seeding,
                    "total_done": st.total_done,
                    "total_wanted": st.total_wanted,
                    "peers": st.num_peers,
                })
                if st.is_seeding and not complete_reported:
                    complete_reported = True
                    out({"type": "complete"})
            out(status)

    ses.pause()
    os._exit(0)


if __name__ == "__main__":
    main()
