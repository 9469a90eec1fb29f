"""One process serves the app and the API over one open index, as a user starts it.

``python app.py`` (port from Gradio's own GRADIO_SERVER_PORT) on a small real index: an
HTTP API call and the Gradio page answer from the same server; the index folder names
the server's URL while it runs; a second program that opens the index is told, in one
line, where it is served.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

pytestmark = pytest.mark.slow  # builds an index and starts the app and the API

REPO = Path(__file__).resolve().parents[1]
START_TIMEOUT_S = 240


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _env(index: Path, home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("INTERESTMAP_API_TOKEN", "GRADIO_SERVER_PORT", "GRADIO_SERVER_NAME")}
    return {**env, "INTERESTMAP_INDEXES": str(index.parent), "INTERESTMAP_HOME": str(home),
            "GRADIO_ANALYTICS_ENABLED": "False", "PYTHONUNBUFFERED": "1",
            "PYTHONPATH": str(REPO), **extra}


@pytest.fixture(scope="module")
def served(small_index: Path, tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[tuple[str, Path]]:
    """``python app.py --index DIR`` listening on $GRADIO_SERVER_PORT (no --port flag)."""
    home = tmp_path_factory.mktemp("serve-home")
    port = _free_port()
    log_path = home / "app.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, str(REPO / "app.py"), "--index", str(small_index)], cwd=REPO,
            env=_env(small_index, home, GRADIO_SERVER_PORT=str(port)), stdout=log,
            stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if proc.poll() is not None:
                pytest.fail(f"the app exited with {proc.returncode}:\n"
                            + log_path.read_text(errors="replace")[-3000:])
            try:
                h = requests.get(f"{url}/healthz", timeout=5)
                if h.status_code == 200 and h.json().get("models_ready"):
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"no answer within {START_TIMEOUT_S} s:\n"
                            + log_path.read_text(errors="replace")[-3000:])
            time.sleep(1)
        yield url, home
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=20)
    assert not (small_index / ".serving.json").exists()  # removed on the way out


def test_app_and_api_answer_from_one_process(served: tuple[str, Path], small_index: Path):
    url, _ = served
    r = requests.post(f"{url}/v1/nearest-audience", timeout=120,
                      json={"caption": "Champions League final tonight! #football",
                            "language": "en", "k": 3, "k_clips": 3,
                            "filters": {"language": "en"}})
    assert r.status_code == 200, r.text
    body = r.json()
    assert len(body["audiences"]) == 3 and body["clips"]
    assert all(c["id"].startswith("en-") for c in body["clips"])  # the filter held
    page = requests.get(f"{url}/", timeout=60)
    assert page.status_code == 200 and "gradio" in page.text.lower()
    config = requests.get(f"{url}/config", timeout=60)
    assert config.status_code == 200 and config.json()["components"]
    info = json.loads((small_index / ".serving.json").read_text())
    assert info["url"] == url and info["pid"] != os.getpid()


def test_a_second_opener_is_told_where_the_index_is_served(served: tuple[str, Path],
                                                           small_index: Path):
    url, home = served
    cli = subprocess.run(
        [sys.executable, "-m", "interestmap.serve.cli", "nearest", "--caption", "pasta night",
         "--index", str(small_index)], cwd=REPO, env=_env(small_index, home),
        capture_output=True, text=True, timeout=300)
    assert cli.returncode == 2, cli.stderr
    lines = cli.stderr.strip().splitlines()
    assert len(lines) == 1 and url in lines[0] and "open in the interestmap server" in lines[0]
    app = subprocess.run(
        [sys.executable, str(REPO / "app.py"), "--index", str(small_index), "--port",
         str(_free_port())], cwd=REPO, env=_env(small_index, home), capture_output=True,
        text=True, timeout=300)
    assert app.returncode == 2
    assert url in app.stderr and "Traceback" not in app.stderr
