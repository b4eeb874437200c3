"""What our libtorrent drivers share (tests/scripts/lt_client.py for the interop
tests, bench/scripts/lt_bench.py for ccbt-bench): loopback-only session settings,
the flags torrents are added with, and JSON lines on stdout."""

import json
import sys

import libtorrent as lt


def out(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def split_hostport(s):
    host, _, port = s.rpartition(":")
    return host.strip("[]"), int(port)


def session_settings(listen, outgoing_interfaces, alert_mask, user_agent, **extra):
    """TCP only (no uTP), plaintext, DHT/LSD/UPnP/NAT-PMP off, several connections
    from one IP allowed; `extra` adds or overrides settings."""
    settings = {
        "listen_interfaces": listen,
        "outgoing_interfaces": outgoing_interfaces,
        "enable_dht": False,
        "enable_lsd": False,
        "enable_upnp": False,
        "enable_natpmp": False,
        "enable_incoming_utp": False,
        "enable_outgoing_utp": False,
        "enable_incoming_tcp": True,
        "enable_outgoing_tcp": True,
        "allow_multiple_connections_per_ip": True,
        "out_enc_policy": int(lt.enc_policy.pe_disabled),
        "in_enc_policy": int(lt.enc_policy.pe_enabled),
        "allowed_enc_level": int(lt.enc_level.pe_plaintext),
        "prefer_rc4": False,
        "anonymous_mode": False,
        "listen_system_port_fallback": False,
        "alert_mask": int(alert_mask),
        "user_agent": user_agent + "/" + lt.__version__,
    }
    settings.update(extra)
    return settings


def torrent_flags():
    """Running at once, not auto-managed (no queueing), no PEX, DHT or LSD."""
    flags = lt.torrent_flags.default_flags
    flags &= ~lt.torrent_flags.auto_managed
    flags &= ~lt.torrent_flags.paused
    flags |= lt.torrent_flags.disable_pex | lt.torrent_flags.disable_dht | lt.torrent_flags.disable_lsd
    return flags
