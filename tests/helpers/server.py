"""A real ``interestmap serve`` in a subprocess, for the API and reliability tests."""

from __future__ import annotations

import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests

HTTP_TIMEOUT = 300  # the first model requests load models on a busy 2-core machine


def copy_index(index_dir: Path, tmp: Path) -> Path:
    """A private copy: an embedded index is opened by one process at a time."""
    target = tmp / "index-copy"
    shutil.copytree(index_dir, target, ignore=shutil.ignore_patterns("*.lock", ".lock"))
    return target


class Server:
    """``interestmap serve`` in a subprocess on a free loopback port."""

    def __init__(self, index_dir: Path, *args: str, env: dict[str, str] | None = None,
                 log: Path) -> None:
        self.log = log
        full_env = {k: v for k, v in os.environ.items() if k != "INTERESTMAP_API_TOKEN"}
        full_env.update(env or {})
        self._err = log.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "interestmap.serve.cli", "serve", "--index", str(index_dir),
             "--port", "0", *args],
            stdout=subprocess.PIPE, stderr=self._err, env=full_env, text=True)
        lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=lambda: [lines.put(x) for x in self.proc.stdout],
                         daemon=True).start()
        self.url = ""
        deadline = time.monotonic() + 180
        while not self.url:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                pytest.fail(f"the server did not start: {log.read_text()[-2000:]}")
            try:
                line = lines.get(timeout=1)
            except queue.Empty:
                continue
            if "listening on " in line:
                self.url = line.split("listening on ", 1)[1].split()[0]
        while True:  # the socket listens before the app is up: wait for /healthz
            try:
                if requests.get(f"{self.url}/healthz", timeout=5).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                pytest.fail(f"/healthz never answered: {log.read_text()[-2000:]}")
            time.sleep(0.3)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self._err.close()
