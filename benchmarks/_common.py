"""Helpers shared by the benchmark scripts: data paths, statistics, processes, servers."""

from __future__ import annotations

import json
import os
import queue
import resource
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
XTOPIC_LANGS = ("en", "es", "gr", "ja")


def data_dir() -> Path:
    """The shared data folder: ``$INTERESTMAP_DATA``, default ``../shared/data``."""
    return Path(os.environ.get("INTERESTMAP_DATA", REPO.parent / "shared" / "data")).resolve()


def xtopic_data_dir() -> Path:
    """:func:`data_dir`, or exit with a clear message when X-Topic is not under it."""
    p = data_dir()
    if not (p / "xtopic").is_dir():
        sys.exit(f"X-Topic data not found under {p}: set INTERESTMAP_DATA to the shared data "
                 "folder (see ../shared/data/README.md)")
    return p


def median(values: Sequence[float]) -> float:
    """Median of a non-empty sequence."""
    return float(statistics.median(values))


def percentile_ms(latencies_s: Sequence[float], q: float) -> float:
    """The ``q``-th percentile of latencies given in seconds, in milliseconds."""
    return float(np.percentile(np.asarray(latencies_s) * 1000.0, q))


def peak_rss_gib() -> float:
    """Peak resident memory of this process so far, in GiB (Linux ru_maxrss is kB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2


def load_xtopic(data: Path) -> list[dict]:
    """The 4,000 X-Topic tweets (text, topics, lang)."""
    rows = []
    for lang in XTOPIC_LANGS:
        with open(data / "xtopic" / lang / f"{lang}_1000.jsonl", encoding="utf-8") as fh:
            rows += [dict(json.loads(line), lang=lang) for line in fh]
    return rows


def run_json(args: Sequence[str], timeout_s: float, env: dict[str, str] | None = None
             ) -> dict:
    """Run a Python helper that prints one JSON object on its last stdout line."""
    proc = subprocess.run([sys.executable, *args], capture_output=True, text=True,
                          timeout=timeout_s, env=env or dict(os.environ))
    if proc.returncode != 0:
        raise RuntimeError(f"{args[0]} failed ({proc.returncode}): {proc.stderr[-1500:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


class Server:
    """``interestmap serve`` over an index, in a subprocess on a free loopback port."""

    def __init__(self, index_dir: Path, log: Path, start_timeout_s: float = 300) -> None:
        import requests

        env = {k: v for k, v in os.environ.items() if k != "INTERESTMAP_API_TOKEN"}
        self._log = log.open("wb")
        self.log_path = log
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "interestmap.serve.cli", "serve", "--index", str(index_dir),
             "--port", "0", "--log-level", "warning"],
            stdout=subprocess.PIPE, stderr=self._log, env=env, text=True)
        lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=lambda: [lines.put(x) for x in self.proc.stdout],
                         daemon=True).start()
        self.url = ""
        deadline = time.monotonic() + start_timeout_s
        while not self.url:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"server did not start: {log.read_text()[-1500:]}")
            try:
                line = lines.get(timeout=1)
            except queue.Empty:
                continue
            if "listening on " in line:
                self.url = line.split("listening on ", 1)[1].split()[0]
        while True:
            try:
                if requests.get(f"{self.url}/healthz", timeout=5).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"/healthz never answered: {log.read_text()[-1500:]}")
            time.sleep(0.3)
        while True:  # models load in the background at start-up: measure after that
            h = requests.get(f"{self.url}/healthz", timeout=30).json()
            if h.get("models_ready") or h.get("warmup_error"):
                break
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"models never loaded: {log.read_text()[-1500:]}")
            time.sleep(0.5)

    def peak_rss_gib(self) -> float | None:
        """The server process's peak resident memory so far (Linux), in GiB."""
        try:
            status = Path(f"/proc/{self.proc.pid}/status").read_text()
        except OSError:
            return None
        kib = next((int(x.split()[1]) for x in status.splitlines()
                    if x.startswith("VmHWM:")), None)
        return None if kib is None else round(kib / 1024**2, 3)

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL after 30 s)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self._log.close()

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
