"""A real daemon survives 1,000 bad requests: each gets a JSON answer in plain words (never an
internal error), and afterwards the daemon still answers and stops cleanly."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

from tests.lt_peer import make_torrent, random_tree
from tests.rpc.daemon_process import post, running_daemon

REQUESTS = 1000
METHODS = ["torrent-get", "torrent-add", "torrent-set", "torrent-start", "torrent-stop", "torrent-verify",
           "torrent-remove", "torrent-set-location", "torrent-reannounce", "session-get", "session-set",
           "session-stats", "free-space", "port-test", "queue-move-top", "group-get", "no-such-method"]
# Keys a request may carry. Left out on purpose: session-set's dht-enabled, lpd-enabled and
# port-forwarding-enabled (they would contact the public DHT routers, multicast, the router)
# and session-close (it ends the daemon).
KEYS = ["ids", "fields", "format", "filename", "metainfo", "download-dir", "paused", "files-wanted",
        "files-unwanted", "priority-high", "priority-normal", "priority-low", "downloadLimit", "downloadLimited",
        "uploadLimit", "uploadLimited", "location", "move", "delete-local-data", "seedRatioLimit", "seedRatioMode",
        "sequentialDownload", "path", "speed-limit-down", "speed-limit-down-enabled", "peer-limit-global",
        "seedRatioLimited", "download-queue-size", "download-queue-enabled", "start-added-torrents", "labels"]
# Text without "/": no request names a real folder to move files to, read from or delete in.
ALPHABET = "abcxyz019 -_.:é\\\"\x00\u2603"


def random_value(rng: random.Random, depth: int = 0) -> Any:
    kinds = ["none", "bool", "int", "float", "text", "id", "hash", "recent"] + (["list", "dict"] if depth < 3 else [])
    kind = rng.choice(kinds)
    makers = {
        "none": lambda: None, "bool": lambda: rng.random() < 0.5,
        "int": lambda: rng.choice([0, 1, 2, 3, -1, 2**31, 2**63, 10**30, rng.randint(-100, 100)]),
        "float": lambda: rng.choice([0.5, -2.5, 1e308, 1e-300, 3.0]),
        "text": lambda: "".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, 12))),
        "id": lambda: rng.randint(0, 3), "hash": lambda: rng.choice(["ab" * 20, "0" * 40, "zz" * 20]),
        "recent": lambda: "recently-active",
        "list": lambda: [random_value(rng, depth + 1) for _ in range(rng.randint(0, 4))],
        "dict": lambda: {rng.choice(KEYS): random_value(rng, depth + 1) for _ in range(rng.randint(0, 3))},
    }
    return makers[kind]()


def bad_request(rng: random.Random) -> bytes:
    shape = rng.random()
    if shape < 0.1:
        return bytes(rng.randrange(256) for _ in range(rng.randint(0, 64)))
    if shape < 0.2:
        return json.dumps(random_value(rng)).encode()
    arguments = {rng.choice(KEYS): random_value(rng) for _ in range(rng.randint(0, 5))}
    request: dict[str, Any] = {"method": rng.choice(METHODS), "arguments": arguments}
    if rng.random() < 0.2:
        request["tag"] = random_value(rng)
    if rng.random() < 0.1:
        request["arguments"] = random_value(rng)
    return json.dumps(request).encode()


def test_the_daemon_survives_a_thousand_bad_requests(tmp_path: Path) -> None:
    content = random_tree(tmp_path / "seed", {"pack/a.bin": 50_000, "pack/b.bin": 999}) / "pack"
    torrent = tmp_path / "pack.torrent"
    torrent.write_bytes(make_torrent(content, piece_size=16384))
    rng = random.Random(17)
    with running_daemon(tmp_path / "profile") as daemon:
        daemon.remote("-a", str(torrent), "-w", str(content.parent))
        connection = daemon.connection()
        status, headers, _ = post(connection, b"{}")
        session = {"X-Transmission-Session-Id": headers["X-Transmission-Session-Id"]}
        results: set[str] = set()
        for number in range(REQUESTS):
            body = bad_request(rng)
            status, _, data = post(connection, body, session)
            assert status == 200, (number, body, status, data)
            result = json.loads(data)["result"]
            assert isinstance(result, str) and "internal error" not in result, (body, result)
            results.add(result)
        assert len(results) > 20, "the requests reached many different checks"
        assert "ID" in daemon.remote("-l")
        assert daemon.stop() == 0
    assert "Traceback" not in (tmp_path / "profile" / "daemon.log").read_text()
