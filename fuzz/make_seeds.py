#!/usr/bin/python3
"""Writes the seed inputs of every fuzz target into OUT/TARGET/ (default: fuzz/seeds).

Real inputs come from the tools users have: .torrent files from mktorrent,
transmission-create and python3-libtorrent (a hybrid v1+v2 torrent with pad files
among them), and tracker responses captured from opentracker on 127.0.0.1. The rest
are crafted: wire message streams, magnet links of every shape, edge-case tracker
answers. The committed corpus (fuzz/corpus) is these seeds plus what the fuzzer found,
minimised with `cargo fuzz cmin`; rerun this only to refresh the seeds.

Needs: mktorrent, transmission-create, opentracker, python3-libtorrent.
"""

import hashlib
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import urllib.request

OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "seeds")


def write(target, name, data):
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def benc(v):
    if isinstance(v, int):
        return b"i%de" % v
    if isinstance(v, str):
        v = v.encode()
    if isinstance(v, bytes):
        return b"%d:%s" % (len(v), v)
    if isinstance(v, list):
        return b"l" + b"".join(benc(x) for x in v) + b"e"
    if isinstance(v, dict):
        items = sorted((k.encode() if isinstance(k, str) else k, x) for k, x in v.items())
        return b"d" + b"".join(benc(k) + benc(x) for k, x in items) + b"e"
    raise TypeError(type(v))


def info_span(torrent):
    """The raw bytes of the top-level `info` value (what ut_metadata peers send)."""
    i = torrent.index(b"4:info") + 6
    depth, j = 0, i
    while True:
        c = torrent[j : j + 1]
        if c in (b"d", b"l"):
            depth += 1
            j += 1
        elif c == b"i":
            j = torrent.index(b"e", j) + 1
        elif c == b"e":
            depth -= 1
            j += 1
            if depth == 0:
                return torrent[i:j]
        else:
            colon = torrent.index(b":", j)
            j = colon + 1 + int(torrent[j:colon])


# ---------------------------------------------------------------- .torrent files


def make_content(root):
    single = os.path.join(root, "single.bin")
    with open(single, "wb") as f:
        f.write(bytes(range(256)) * 300)  # 76,800 bytes: a few pieces
    multi = os.path.join(root, "album")
    os.makedirs(os.path.join(multi, "disc 1"))
    for name, size in [("disc 1/01 intro.flac", 40000), ("disc 1/02.flac", 25536), ("cover.jpg", 3000), ("notes.txt", 1)]:
        with open(os.path.join(multi, name), "wb") as f:
            f.write(os.urandom(size))
    with open(os.path.join(multi, "empty"), "wb"):
        pass
    return single, multi


def tool_torrents(root):
    single, multi = make_content(root)
    out = {}
    run = lambda *a: subprocess.run(a, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    t = os.path.join(root, "t.torrent")
    run("mktorrent", "-l", "15", "-a", "http://127.0.0.1:6969/announce", "-o", t, single)
    out["mktorrent-single"] = open(t, "rb").read()
    os.unlink(t)
    run("mktorrent", "-l", "15", "-p", "-c", "a comment", "-a", "http://127.0.0.1:6969/announce,udp://127.0.0.1:6969",
        "-a", "http://[::1]:6969/announce", "-w", "http://127.0.0.1:8080/seed/", "-o", t, multi)
    out["mktorrent-multi-private"] = open(t, "rb").read()
    os.unlink(t)
    run("transmission-create", "-s", "16", "-t", "udp://127.0.0.1:6969", "-o", t, single)
    out["transmission-single"] = open(t, "rb").read()
    os.unlink(t)
    run("transmission-create", "-s", "32", "-t", "http://127.0.0.1:6969/announce", "-c", "räksmörgås", "-o", t, multi)
    out["transmission-multi"] = open(t, "rb").read()

    import libtorrent as lt

    for label, path, flags in [
        ("libtorrent-hybrid-multi", multi, 0),
        ("libtorrent-hybrid-single", single, 0),
        ("libtorrent-v1-multi", multi, lt.create_torrent.v1_only),
        ("libtorrent-v2-multi", multi, lt.create_torrent.v2_only),
    ]:
        fs = lt.file_storage()
        lt.add_files(fs, path)
        ct = lt.create_torrent(fs, 16384, flags=flags)
        ct.add_tracker("http://127.0.0.1:6969/announce", 0)
        ct.add_tracker("udp://127.0.0.1:6969/announce", 1)
        ct.add_url_seed("http://127.0.0.1:8080/")
        lt.set_piece_hashes(ct, os.path.dirname(path))
        out[label] = lt.bencode(ct.generate())
    return out


def crafted_torrents():
    h = hashlib.sha1(b"x").digest()
    files_info = {
        "name": "dir",
        "piece length": 16384,
        "pieces": h * 2,
        "files": [
            {"length": 10000, "path": ["a", "b.txt"]},
            {"length": 6384, "path": [".pad", "6384"], "attr": "p"},
            {"length": 100, "path": ["c"], "attr": "x"},
            {"length": 0, "path": ["zero"]},
        ],
        "name.utf-8": "dir",
    }
    return {
        "crafted-pad-files": benc({"announce": "http://t/a", "info": files_info}),
        "crafted-announce-list": benc({
            "announce-list": [["http://a/announce", "udp://b:1"], [""], []],
            "url-list": "http://ws/",
            "creation date": 1700000000,
            "created by": "hand",
            "comment": 7,
            "info": {"length": 1, "name": "one", "piece length": 1, "pieces": h, "private": 1},
        }),
        "crafted-info-only": benc({"length": 3, "name": "n", "piece length": 2, "pieces": h * 2}),
        "crafted-bad-path": benc({"info": {"name": "x", "piece length": 4, "pieces": h,
                                           "files": [{"length": 4, "path": ["..", "etc"]}]}}),
    }


# ---------------------------------------------------------------- opentracker captures


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def tracker_captures(root, info_hash):
    chroot = os.path.join(root, "chroot")
    os.makedirs(chroot)
    with open(os.path.join(chroot, "whitelist"), "w") as f:
        f.write(info_hash.hex() + "\n")
    os.chmod(root, 0o755)
    os.chmod(chroot, 0o755)
    port = free_port()
    proc = subprocess.Popen(["opentracker", "-i", "127.0.0.1", "-p", str(port), "-P", str(port), "-d", chroot,
                             "-w", "whitelist"], cwd=chroot, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    http, udp = {}, {}
    try:
        base = "http://127.0.0.1:%d" % port
        for _ in range(100):
            try:
                urllib.request.urlopen(base + "/stats", timeout=1).read()
                break
            except OSError:
                time.sleep(0.05)
        q = lambda b: "".join("%%%02x" % c for c in b)
        peer = b"-XX0001-" + b"0" * 12

        def get(path):
            try:
                return urllib.request.urlopen(base + path, timeout=5).read()
            except urllib.error.HTTPError as e:
                return e.read()

        for n, (p, extra) in enumerate([(6881, "&compact=1&event=started"), (6882, "&compact=0"), (6883, "&compact=1&numwant=0")]):
            pid = peer[:-1] + bytes([0x30 + n])
            http["opentracker-announce-%d" % n] = get(
                "/announce?info_hash=%s&peer_id=%s&port=%d&uploaded=0&downloaded=0&left=5%s" % (q(info_hash), q(pid), p, extra))
        http["opentracker-announce-not-whitelisted"] = get(
            "/announce?info_hash=%s&peer_id=%s&port=1&left=0" % (q(b"\1" * 20), q(peer)))
        http["opentracker-scrape"] = get("/scrape?info_hash=%s" % q(info_hash))
        http["opentracker-scrape-two"] = get("/scrape?info_hash=%s&info_hash=%s" % (q(info_hash), q(b"\2" * 20)))

        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.settimeout(2)
        s.sendto(struct.pack(">QII", 0x41727101980, 0, 7), ("127.0.0.1", port))
        connect = s.recv(2048)
        cid = struct.unpack(">Q", connect[8:16])[0]
        announce = struct.pack(">QII20s20sQQQIIIiH", cid, 1, 8, info_hash, peer, 0, 5, 0, 2, 0, 9, -1, 6884)
        s.sendto(announce, ("127.0.0.1", port))
        ann = s.recv(2048)
        scrape_req = struct.pack(">QII", cid, 2, 9) + info_hash + b"\3" * 20
        s.sendto(scrape_req, ("127.0.0.1", port))
        scr = s.recv(2048)
        s.sendto(struct.pack(">QII", cid, 1, 10) + info_hash, ("127.0.0.1", port))  # truncated announce
        try:
            err = s.recv(2048)
        except socket.timeout:
            err = struct.pack(">II", 3, 10) + b"bad request"
        s.close()
        udp.update(connect=connect, announce=ann, scrape=scr, error=err,
                   req_connect=struct.pack(">QII", 0x41727101980, 0, 7), req_announce=announce, req_scrape=scrape_req)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return http, udp


# ---------------------------------------------------------------- crafted inputs


def msg(mid, payload=b""):
    return struct.pack(">IB", 1 + len(payload), mid) + payload


def wire_streams():
    ext_hs = benc({"m": {"ut_metadata": 2, "ut_pex": 1, "lt_donthave": 7, "upload_only": 3}, "p": 6881,
                   "reqq": 500, "v": "libtorrent/2.0.8.0", "metadata_size": 31235,
                   "yourip": bytes([127, 0, 0, 1]), "complete_ago": -1})
    meta_req = benc({"msg_type": 0, "piece": 0})
    meta_data = benc({"msg_type": 1, "piece": 0, "total_size": 5}) + b"hello"
    pex = benc({"added": bytes([127, 0, 0, 1, 0x1a, 0xe1]), "added.f": b"\x10", "dropped": b""})
    block = struct.pack(">III", 3, 1, 16384)
    hs = bytes([19]) + b"BitTorrent protocol" + bytes([0, 0, 0, 0, 0, 0x10, 0, 5]) + hashlib.sha1(b"i").digest() + b"-qB4620-abcdefghijkl"
    everything = b"".join([
        b"\0\0\0\0", msg(0), msg(1), msg(2), msg(3), msg(4, struct.pack(">I", 7)),
        msg(5, b"\xff\xf0"), msg(6, block), msg(7, struct.pack(">II", 3, 0) + b"data" * 8), msg(8, block),
        msg(9, struct.pack(">H", 6881)), msg(13, struct.pack(">I", 1)), msg(14), msg(15), msg(16, block),
        msg(17, struct.pack(">I", 2)), msg(20, b"\0" + ext_hs), msg(20, b"\2" + meta_req), msg(20, b"\1" + pex),
        msg(20, b"\3" + meta_data), msg(21, b"unknown id"),
    ])
    # header: options (bit 0 handshake, bits 1-2 limits), piece count (12 pieces), chunk seed
    head = lambda opts, seed: bytes([opts]) + struct.pack("<HH", 12, seed)
    return {
        "all-messages": head(0, 1) + everything,
        "handshake-then-all": head(1, 2) + hs + everything,
        "piece-count-limits": head(3, 3) + hs + msg(5, b"\xff\xf0") + msg(20, b"\0" + ext_hs),
        "tiny-limits": head(4, 4) + msg(7, struct.pack(">II", 0, 0) + b"x" * 32) + msg(20, b"\0" + ext_hs),
        "oversized-prefix": head(0, 5) + b"\xff\xff\xff\xff\x07",
        "extended-handshake-only": head(0, 6) + msg(20, b"\0" + ext_hs),
        "bad-request": head(0, 7) + msg(6, struct.pack(">III", 1, 0xffffffff, 16384)),
    }


def magnets():
    hexh = hashlib.sha1(b"m").hexdigest()
    b32 = "YMVUIIZ2TPOVOSVW5AUCNS7JNN4MUX4S"
    return {
        "hex": "magnet:?xt=urn:btih:%s" % hexh,
        "base32": "magnet:?xt=urn:btih:%s" % b32,
        "upper": "MAGNET:?XT=URN:BTIH:%s&DN=Big+File" % hexh.upper(),
        "full": "magnet:?xt=urn:btih:%s&dn=Ubuntu%%2024.04%%20%%E2%%9C%%93&tr=udp%%3A%%2F%%2F127.0.0.1%%3A6969"
                "&tr=http://127.0.0.1/announce?a=1&x.pe=127.0.0.1:6881&x.pe=[::1]:6881&x.pe=host.example:1&xl=1024" % hexh,
        "numbered": "magnet:?xt.1=urn:btih:%s&xt.2=urn:btih:%s&tr.1=http://a/&tr.2=http://a/&tr.10=udp://b:1" % (hexh, hexh),
        "hybrid": "magnet:?xt=urn:btih:%s&xt=urn:btmh:1220%s&dn=hybrid" % (hexh, "ab" * 32),
        "v2-only": "magnet:?xt=urn:btmh:1220%s" % ("cd" * 32),
        "spaces": "  magnet:?dn=&&xt=urn:btih:%s&&so=0-3&ws=http%%3A%%2F%%2Fw%%2F  " % hexh,
        "bad-percent": "magnet:?xt=urn:btih:%s&dn=%%zz%%4&tr=%%" % hexh,
        "conflict": "magnet:?xt=urn:btih:%s&xt=urn:btih:%s" % (hexh, "0" * 40),
    }


def http_crafted(info_hash):
    return {
        "dict-peers": benc({"interval": 1800, "min interval": 60, "complete": 3, "incomplete": 2,
                            "tracker id": "abc", "warning message": "be nice",
                            "peers": [{"ip": "127.0.0.1", "port": 6881, "peer id": "x" * 20},
                                      {"ip": "::1", "port": 6882}, {"ip": "host.example", "port": 1},
                                      {"ip": "10.0.0.1", "port": 0}]}),
        "compact-v4-v6": benc({"interval": 900, "peers": bytes([127, 0, 0, 1, 0x1a, 0xe1]) * 3,
                               "peers6": bytes(15) + b"\x01\x1a\xe2"}),
        # Keys in insertion order, as many trackers send them: accepted leniently.
        "unsorted-keys": b"d8:intervali30e5:peers0:8:completei1ee",
        "failure": benc({"failure reason": "torrent not registered", "interval": 10}),
        "scrape": benc({"files": {info_hash: {"complete": 5, "downloaded": 50, "incomplete": 1},
                                  b"short": {"complete": 1}, b"\1" * 20: 7},
                        "flags": {"min_request_interval": 900}}),
    }


def udp_seeds(captured):
    """UDP seeds: a 2-byte header (options, scrape count) before the packet(s)."""
    out = {}
    for name, packet in captured.items():
        count = 2 if name == "scrape" else 0
        out["packet-" + name] = bytes([0, count]) + packet
    # Datagram sequences for the exchange: each datagram after its length byte; with
    # option 4 the transaction ids are stamped to match.
    conn, ann, scr = captured["connect"], captured["announce"], captured["scrape"]
    out["exchange-announce"] = bytes([4, 0, len(conn)]) + conn + bytes([len(ann)]) + ann
    out["exchange-scrape"] = bytes([6, 2, len(conn)]) + conn + bytes([len(scr)]) + scr
    out["exchange-timeouts"] = bytes([4, 0, 0, 0, len(conn)]) + conn + bytes([0, 0, len(captured["error"])]) + captured["error"]
    v6 = struct.pack(">IIiii", 1, 0, 1800, 1, 2) + bytes(15) + b"\x01\x1a\xe1"
    out["exchange-v6"] = bytes([5, 0, len(conn)]) + conn + bytes([len(v6)]) + v6
    return out


def main():
    if os.path.isdir(OUT):
        shutil.rmtree(OUT)
    with tempfile.TemporaryDirectory(prefix="ccbt-seeds-") as root:
        torrents = tool_torrents(root)
        torrents.update(crafted_torrents())
        for name, t in torrents.items():
            write("metainfo", name + ".torrent", t)
            if b"4:info" in t and not name.startswith("crafted-bad"):
                write("metainfo", name + ".info", info_span(t))
        for name in ["mktorrent-single", "libtorrent-hybrid-multi", "crafted-announce-list"]:
            write("bencode", name + ".torrent", torrents[name])
        info_hash = hashlib.sha1(info_span(torrents["mktorrent-single"])).digest()
        http, udp = tracker_captures(os.path.join(root, "ot"), info_hash)
    http.update(http_crafted(info_hash))
    for name, body in http.items():
        write("http_tracker", name, body)
    for name in ["opentracker-announce-0", "opentracker-scrape", "unsorted-keys"]:
        write("bencode", name, http[name])
    for name, data in udp_seeds(udp).items():
        write("udp_tracker", name, data)
    for name, data in wire_streams().items():
        write("wire", name, data)
    for name, data in magnets().items():
        write("magnet", name, data)
    for name, data in {"int": b"i-42e", "nested": b"lld1:ai0eeee", "bytes": b"4:spam", "empty-dict": b"de",
                       "bad-len": b"4294967296:x", "prefix-then-data": b"d1:ai1ee" + b"raw"}.items():
        write("bencode", name, data)


if __name__ == "__main__":
    main()
