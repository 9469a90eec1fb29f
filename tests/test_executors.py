"""Index builds on Ray Data (a local 2-CPU cluster) against the same build in this process.

The corpus is real: 8 demo clips made from the shared data (an X-Topic tweet spoken by
espeak-ng over a scene photo and an ESC-50 sound bed) plus one corrupt MP4.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from helpers.corpus import cache_entries
from helpers.media import demo_corpus, write_manifest

from interestmap.corpus.cache import EncodeCache
from interestmap.errors import ConfigError, IndexError_
from interestmap.index.build import build_index
from interestmap.index.interest_index import InterestIndex
from interestmap.index.manifest import cache_dir

pytestmark = pytest.mark.slow
ray = pytest.importorskip("ray", reason="Ray is an optional extra: pip install 'interestmap[ray]'")

N_GOOD = 8
BROKEN_ID = "broken"


@pytest.fixture(scope="module")
def corpus(data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("ray-corpus")
    rows = demo_corpus(data, root / "clips", N_GOOD, seed=3)
    broken = root / "clips" / "broken.mp4"
    broken.write_bytes(b"\x00\x00\x00\x18ftypmp42" + os.urandom(4000))  # a cut-off MP4
    rows.insert(3, {"id": BROKEN_ID, "media": str(broken), "caption": "a damaged upload",
                    "language": "en", "labels": ["Sports"]})
    return write_manifest(rows, root / "corpus.jsonl")


def _executor(workers: int = 2):
    from interestmap.corpus.executors import RayExecutor

    return RayExecutor(workers=workers, num_cpus=2)


@pytest.fixture(scope="module")
def local_build(corpus: Path, tmp_path_factory: pytest.TempPathFactory):
    target = tmp_path_factory.mktemp("local") / "index"
    with build_index(corpus, target, audiences="labels") as index:
        return index.build_report


def _ray_workers() -> list:
    import psutil

    found = []
    for p in psutil.process_iter(["cmdline"]):
        if any("EncodeWorker" in part for part in (p.info["cmdline"] or [])):
            found.append(p)
    return found



@pytest.fixture(scope="module")
def ray_build(corpus: Path, tmp_path_factory: pytest.TempPathFactory):
    """A Ray build during which one worker process is killed with SIGKILL."""
    target = tmp_path_factory.mktemp("ray") / "index"
    killed: list[int] = []
    stop = threading.Event()

    def kill_one_worker() -> None:
        while not stop.is_set():
            workers = _ray_workers()
            if workers and cache_entries(target) >= 2:
                workers[0].send_signal(signal.SIGKILL)
                killed.append(workers[0].pid)
                return
            time.sleep(0.05)

    watcher = threading.Thread(target=kill_one_worker, daemon=True)
    watcher.start()
    try:
        with build_index(corpus, target, audiences="labels", executor=_executor()) as index:
            report = index.build_report
    finally:
        stop.set()
        watcher.join(5)
    return report, killed


def _vectors(index_dir: Path) -> dict[str, tuple[np.ndarray, dict[str, np.ndarray | None]]]:
    with EncodeCache(cache_dir(index_dir)) as cache:
        return {e.clip.id: (e.fused, e.blocks) for _, e in cache.iter_items()}


def _assert_same_index(index_dir: Path, expected_dir: Path) -> None:
    with InterestIndex.open(index_dir) as a, InterestIndex.open(expected_dir) as b:
        got = {c["id"]: c["audience"] for c in a.clips_frame()}
        want = {c["id"]: c["audience"] for c in b.clips_frame()}
    assert got == want
    va, vb = _vectors(index_dir), _vectors(expected_dir)
    assert set(va) == set(vb) == set(got)
    for cid, (fused, blocks) in vb.items():
        np.testing.assert_allclose(va[cid][0], fused, atol=1e-5, err_msg=cid)
        for b, v in blocks.items():
            if v is None:
                assert va[cid][1].get(b) is None, (cid, b)
            else:
                np.testing.assert_allclose(va[cid][1][b], v, atol=1e-5, err_msg=f"{cid} {b}")


def test_ray_build_equals_local_build(ray_build, local_build) -> None:
    report, _ = ray_build
    assert report.executor.startswith("Ray (2 workers")
    assert (report.n_clips, report.n_encoded, report.n_cached) == (N_GOOD, N_GOOD, 0), \
        report.problems
    assert local_build.n_clips == N_GOOD, local_build.problems
    _assert_same_index(report.index_dir, local_build.index_dir)


def test_a_killed_ray_worker_loses_nothing(ray_build) -> None:
    report, killed = ray_build
    assert killed, "no Ray worker was running to be killed"
    assert report.n_clips == N_GOOD and len(report.problems) == 1


def test_corrupt_file_in_a_ray_build_is_reported_and_skipped(ray_build, local_build) -> None:
    report, _ = ray_build
    assert [p["where"] for p in report.problems] == [BROKEN_ID]
    message = report.problems[0]["message"]
    assert "broken.mp4" in message and "\n" not in message
    assert report.problems == local_build.problems


def test_killed_ray_build_resumes(corpus: Path, local_build, tmp_path: Path) -> None:
    target = tmp_path / "index"
    code = ("from interestmap.index.build import build_index\n"
            "from interestmap.corpus.executors import RayExecutor\n"
            f"build_index({str(corpus)!r}, {str(target)!r}, audiences='labels', "
            "executor=RayExecutor(workers=2, num_cpus=2))\n")
    # its own session: the kill takes the driver and the Ray cluster it started
    proc = subprocess.Popen([sys.executable, "-c", code], env=dict(os.environ),
                            start_new_session=True, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 400
        while cache_entries(target) < 2 and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert proc.poll() is None, "the build finished before it could be killed"
    finally:
        _kill_session(proc)
    n_done = cache_entries(target)
    assert 0 < n_done < N_GOOD
    with pytest.raises(IndexError_, match="not complete|no index"):
        InterestIndex.open(target)

    with build_index(corpus, target, audiences="labels", executor=_executor()) as index:
        report = index.build_report
    assert report.n_cached >= n_done and report.n_encoded == N_GOOD - report.n_cached
    assert [p["where"] for p in report.problems] == [BROKEN_ID]
    _assert_same_index(target, local_build.index_dir)


def _kill_session(proc: subprocess.Popen) -> None:
    """SIGKILL every process of the session ``proc`` leads (the driver and Ray's own)."""
    import psutil

    for p in psutil.process_iter():
        try:
            if os.getsid(p.pid) == proc.pid:
                p.kill()
        except (ProcessLookupError, psutil.Error, PermissionError):
            continue
    proc.wait(30)


def test_executor_settings_are_checked() -> None:
    from interestmap.corpus.executors import RayExecutor, make_executor

    with pytest.raises(ConfigError, match="unknown executor"):
        make_executor("spark")
    with pytest.raises(ConfigError, match="--executor ray"):
        make_executor("local", ray_address="ray://head:10001")
    with pytest.raises(ConfigError, match="workers"):
        RayExecutor(workers=0)
