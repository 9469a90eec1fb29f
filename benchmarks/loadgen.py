"""Load generator for the HTTP API: nearest-audience lookups from N concurrent clients.

Runs as its own process (so the server's CPU time is not shared with the client's
interpreter lock) and sends traffic only to a loopback address. Each client keeps one
keep-alive connection and posts fused vectors taken in turn from a ``.npy`` file. Stops
after ``--requests`` requests in all or ``--duration`` seconds, whichever comes first.
Prints one JSON object: counts, errors, latency percentiles (ms) and requests per second.

    python benchmarks/loadgen.py --url http://127.0.0.1:8000 --vectors q.npy \
        --clients 16 --requests 2000 --duration 30
"""

from __future__ import annotations

import argparse
import http.client
import ipaddress
import json
import sys
import threading
import time
import urllib.parse
from pathlib import Path

import numpy as np

LOOPBACK_NAMES = ("localhost",)


def _is_loopback(host: str) -> bool:
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def run_load(url: str, bodies: list[bytes], clients: int, max_requests: int,
             duration_s: float, warmup: int = 0) -> dict:
    """Post ``bodies`` round-robin from ``clients`` threads; latency stats as a dict.
    ``warmup`` requests are sent first, one at a time, and not counted."""
    parsed = urllib.parse.urlsplit(url)
    if not _is_loopback(parsed.hostname or ""):
        raise SystemExit(f"loadgen: refusing to load {parsed.hostname}: loopback only")
    if warmup:
        conn = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=120)
        for i in range(warmup):
            conn.request("POST", "/v1/nearest-audience", body=bodies[i % len(bodies)],
                         headers={"Content-Type": "application/json"})
            conn.getresponse().read()
        conn.close()
    lock = threading.Lock()
    issued = [0]
    latencies: list[list[float]] = [[] for _ in range(clients)]
    errors: list[str] = []
    stop_at = time.monotonic() + duration_s

    def take() -> int | None:
        with lock:
            if issued[0] >= max_requests or time.monotonic() >= stop_at:
                return None
            issued[0] += 1
            return issued[0] - 1

    def client(slot: int) -> None:
        conn = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=60)
        try:
            while (i := take()) is not None:
                body = bodies[i % len(bodies)]
                t0 = time.perf_counter()
                try:
                    conn.request("POST", "/v1/nearest-audience", body=body,
                                 headers={"Content-Type": "application/json"})
                    resp = conn.getresponse()
                    payload = resp.read()
                    dt = time.perf_counter() - t0
                    if resp.status != 200 or not json.loads(payload).get("audiences"):
                        with lock:
                            errors.append(f"{resp.status}: {payload[:200]!r}")
                        continue
                    latencies[slot].append(dt)
                except (OSError, http.client.HTTPException, ValueError) as e:
                    with lock:
                        errors.append(f"{type(e).__name__}: {e}")
                    conn.close()
                    conn = http.client.HTTPConnection(parsed.hostname, parsed.port,
                                                      timeout=60)
        finally:
            conn.close()

    threads = [threading.Thread(target=client, args=(s,), daemon=True)
               for s in range(clients)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join(duration_s + 120)
    wall = time.perf_counter() - t0
    lat = np.asarray([x for per in latencies for x in per]) * 1000.0
    out = {"clients": clients, "requests": int(issued[0]), "ok": int(lat.size),
           "errors": len(errors), "error_examples": errors[:3], "wall_s": round(wall, 3),
           "rps": round(lat.size / wall, 2) if wall > 0 else 0.0}
    for q in (50, 95, 99):
        out[f"p{q}_ms"] = round(float(np.percentile(lat, q)), 2) if lat.size else None
    return out


def vector_bodies(vectors: np.ndarray, k: int = 5, k_clips: int = 5,
                  filters: dict | None = None) -> list[bytes]:
    """JSON request bodies for fused query vectors (with ``filters`` on the clips)."""
    extra = {"filters": filters} if filters else {}
    return [json.dumps({"vector": [round(float(x), 6) for x in v], "k": k,
                        "k_clips": k_clips, **extra}).encode() for v in vectors]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--url", required=True, help="server base URL (loopback only)")
    p.add_argument("--vectors", required=True, type=Path, help=".npy of fused vectors")
    p.add_argument("--clients", type=int, default=1)
    p.add_argument("--requests", type=int, default=500, help="most requests in all")
    p.add_argument("--duration", type=float, default=30.0, help="most seconds")
    p.add_argument("--k-clips", type=int, default=5)
    p.add_argument("--warmup", type=int, default=5, help="uncounted requests sent first")
    p.add_argument("--filters", type=json.loads, default=None,
                   help='clip filters as JSON, e.g. \'{"language": "en"}\'')
    a = p.parse_args(argv)
    if a.clients < 1 or a.requests < 1 or a.duration <= 0:
        p.error("--clients and --requests must be >= 1 and --duration > 0")
    bodies = vector_bodies(np.load(a.vectors), k_clips=a.k_clips, filters=a.filters)
    print(json.dumps(run_load(a.url, bodies, a.clients, a.requests, a.duration, a.warmup)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
