"""Reliability: bad inputs through every door, builds killed at random points, load.

- The bad-input table (zero bytes, garbage, truncated, a text file renamed .mp4, a video
  without sound, an mp4 with only sound, a too-long video) through the library, the CLI
  (exit code 2 and one stderr line) and the HTTP API (a 4xx naming the file).
- An index build killed with SIGKILL at random points (while encoding, clustering,
  mapping, writing the store and publishing) resumes and ends identical.
- 16 concurrent clients for 60 s against a real server: no errors, still healthy.
- 4xx cases the API tests (tests/test_api.py) do not cover yet.

The load test sends traffic only to 127.0.0.1 and stops by itself.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import requests
from helpers.corpus import cache_entries, snapshot, write_jsonl, xtopic_tweets
from helpers.media import ffmpeg
from helpers.server import HTTP_TIMEOUT, Server, copy_index

from interestmap.encoders.pipeline import ClipEncoder
from interestmap.errors import IndexError_, MediaError
from interestmap.index.build import build_index
from interestmap.index.interest_index import InterestIndex
from interestmap.media.decode import load_media

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from loadgen import run_load, vector_bodies  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


# The bad-input table --------------------------------------------------------------------
def _make(kind: str, tmp: Path, bunny: Path) -> Path:
    """One input of the table, made from the real video where it needs one."""
    if kind == "zero_byte":
        p = tmp / "empty.mp4"
        p.touch()
    elif kind == "garbage":
        p = tmp / "garbage.mp4"
        p.write_bytes(np.random.default_rng(0).integers(0, 256, 200_000,
                                                        dtype=np.uint8).tobytes())
    elif kind == "truncated":
        p = tmp / "half.mp4"
        raw = bunny.read_bytes()
        p.write_bytes(raw[: len(raw) // 2])
    elif kind == "text_renamed":
        p = tmp / "notes.mp4"
        p.write_text("Shopping list: milk, eggs, bread.\n", encoding="utf-8")
    elif kind == "no_audio":
        p = tmp / "silent.mp4"
        ffmpeg("-i", bunny, "-an", "-c", "copy", p)
    elif kind == "audio_only":
        p = tmp / "sound.mp4"
        ffmpeg("-i", bunny, "-vn", "-c", "copy", p)
    elif kind == "too_long":
        p = tmp / "long.mp4"
        ffmpeg("-f", "lavfi", "-i", "color=black:s=64x36:r=0.01", "-t", "1200",
               "-c:v", "libx264", p)
    else:
        raise AssertionError(kind)
    return p


REFUSED = {  # kind -> words the one-line message must contain (besides the file name)
    "zero_byte": "0 bytes",
    "garbage": "not a video, image or audio file",
    "truncated": "cut short",
    "text_renamed": "text file",
    "too_long": "INTERESTMAP_MAX_DURATION_S",
}
ACCEPTED = {  # kind -> the block reported missing
    "no_audio": "audio",
    "audio_only": "visual",
}


@pytest.fixture(scope="module")
def bad_inputs(data: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    bunny = data / "video" / "bigbuckbunny.mp4"
    if not bunny.is_file():
        pytest.skip(f"{bunny} is missing from the shared data")
    tmp = tmp_path_factory.mktemp("bad")
    return {k: _make(k, tmp, bunny) for k in (*REFUSED, *ACCEPTED)}


@pytest.mark.parametrize("kind", sorted(REFUSED))
def test_library_refuses_bad_media_in_one_line(bad_inputs: dict[str, Path], kind: str) -> None:
    p = bad_inputs[kind]
    with pytest.raises(MediaError) as info:
        load_media(p)
    msg = str(info.value)
    assert p.name in msg and REFUSED[kind] in msg and "\n" not in msg


@pytest.mark.parametrize("kind", sorted(ACCEPTED))
def test_library_reads_partial_media_and_names_what_is_missing(
        bad_inputs: dict[str, Path], kind: str) -> None:
    m = load_media(bad_inputs[kind])
    assert ACCEPTED[kind] in m.missing
    assert (m.audio is None) if kind == "no_audio" else not m.frames


def _cli(*args: str | Path, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "interestmap.serve.cli", *map(str, args)],
                          capture_output=True, text=True, timeout=timeout, cwd=REPO)


@pytest.mark.parametrize("kind", sorted(REFUSED))
def test_cli_encode_exits_2_with_one_line(bad_inputs: dict[str, Path], kind: str) -> None:
    p = bad_inputs[kind]
    proc = _cli("encode", p, "--caption", "my clip")
    assert proc.returncode == 2, proc.stderr
    lines = [x for x in proc.stderr.splitlines() if x.strip()]
    assert len(lines) == 1, proc.stderr
    assert p.name in lines[0] and REFUSED[kind] in lines[0]
    assert "Traceback" not in proc.stderr and proc.stdout == ""


@pytest.mark.slow
@pytest.mark.parametrize("kind", sorted(ACCEPTED))
def test_cli_encode_partial_media_succeeds_and_says_what_is_missing(
        bad_inputs: dict[str, Path], kind: str) -> None:
    proc = _cli("encode", bad_inputs[kind], "--caption", "Bunny in the forest",
                "--language", "en", "--no-ocr", "--no-asr", "--json")
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert ACCEPTED[kind] in json.dumps(summary.get("missing", summary))
    assert "Traceback" not in proc.stderr


# A real server over a small real index --------------------------------------------------
@pytest.fixture(scope="module")
def server(labelled_index: Path, tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[tuple[str, Server, Path]]:
    """A server over a copy of a small real index; the original stays readable here."""
    tmp = tmp_path_factory.mktemp("reliability")
    s = Server(copy_index(labelled_index, tmp), log=tmp / "server.log")
    try:
        yield s.url, s, labelled_index
    finally:
        s.stop()


@pytest.mark.slow
@pytest.mark.parametrize("kind", sorted(REFUSED))
def test_api_refuses_bad_media_with_a_4xx(server: tuple[str, Server],
                                          bad_inputs: dict[str, Path], kind: str) -> None:
    url, _, _ = server
    p = bad_inputs[kind]
    r = requests.post(f"{url}/v1/nearest-audience/upload", timeout=HTTP_TIMEOUT,
                      files={"file": (p.name, p.read_bytes())}, data={"caption": "my clip"})
    assert 400 <= r.status_code < 500, r.text
    detail = r.json()["detail"]
    assert p.name in detail and REFUSED[kind] in detail and "\n" not in detail
    assert "interestmap-upload" not in r.text  # no server paths leak


@pytest.mark.slow
@pytest.mark.parametrize("kind", sorted(ACCEPTED))
def test_api_accepts_partial_media_and_says_what_is_missing(
        server: tuple[str, Server], bad_inputs: dict[str, Path], kind: str) -> None:
    url, _, _ = server
    p = bad_inputs[kind]
    r = requests.post(f"{url}/v1/nearest-audience/upload", timeout=HTTP_TIMEOUT,
                      files={"file": (p.name, p.read_bytes())},
                      data={"caption": "Bunny in the forest", "language": "en",
                            "ocr": "false", "asr": "false"})
    assert r.status_code == 200, r.text
    assert ACCEPTED[kind] in r.json()["query"]["missing"]


@pytest.mark.slow
def test_4xx_cases_not_covered_by_the_api_tests(server: tuple[str, Server]) -> None:
    url, _, _ = server
    nearest = f"{url}/v1/nearest-audience"
    dim = requests.get(f"{url}/healthz", timeout=30).json()["index"]["vector_dim"]
    cases = [
        (b'{"vector": [' + b",".join([b"0.1"] * 100_001) + b"]}", "vector"),  # too long
        (json.dumps({"vector": [0.1] * (dim + 1)}).encode(), "dimensions"),  # one too many
        (json.dumps({"vector": [[0.1] * dim]}).encode(), "vector"),  # nested
        (json.dumps({"vector": ["x"] * dim}).encode(), "vector"),  # not numbers
        (b"[" * 100_000 + b"]" * 100_000, ""),  # nesting bomb
        (b'{"caption": "\xff\xfe football"}', ""),  # not UTF-8
        (json.dumps({"caption": "x" * 10_001}).encode(), "caption"),  # over max_length
        (json.dumps({"caption": "football", "k_clips": 101}).encode(), "k_clips"),
    ]
    for body, words in cases:
        r = requests.post(nearest, data=body, timeout=HTTP_TIMEOUT,
                          headers={"Content-Type": "application/json"})
        assert 400 <= r.status_code < 500, (body[:60], r.status_code, r.text[:300])
        detail = r.json()["detail"]
        assert words in detail and "\n" not in detail and "Traceback" not in detail
    assert requests.get(f"{url}/healthz", timeout=30).status_code == 200


@pytest.mark.slow
def test_16_clients_for_60_s_get_no_errors_and_the_server_stays_healthy(
        server: tuple[str, Server]) -> None:
    url, srv, index_dir = server
    assert url.startswith("http://127.0.0.1:")
    with InterestIndex.open(index_dir) as idx:  # the real clips' fused vectors as queries
        ids = [c["id"] for c in idx.clips_frame()]
        vecs, _ = idx.store.get_clip_vectors(ids)
    res = run_load(url, vector_bodies(vecs, k=3, k_clips=3), clients=16,
                   max_requests=1_000_000, duration_s=60)
    assert res["requests"] > 16, res  # traffic really flowed
    assert res["errors"] == 0, res
    assert res["ok"] == res["requests"]
    h = requests.get(f"{url}/healthz", timeout=30)
    assert h.status_code == 200 and h.json()["status"] == "ok"
    assert srv.proc.poll() is None, "the server died under load"
    r = requests.post(f"{url}/v1/nearest-audience", timeout=HTTP_TIMEOUT,
                      json={"caption": "What a goal! #football", "language": "en", "k": 1})
    assert r.status_code == 200 and r.json()["audiences"], r.text


# Builds killed with SIGKILL --------------------------------------------------------------
# The builds below use USE-m3 alone: they check what a kill leaves behind, not topics, and
# each of the ~10 child processes would otherwise also load the default ensemble's E5 half.
TEXT_ENCODER = "use-m3"

CHILD = textwrap.dedent("""
    import os, signal, sys
    import interestmap.index.manifest as im
    import interestmap.store.interface as st
    from interestmap.encoders.pipeline import ClipEncoder
    from interestmap.index.build import build_index

    manifest, target, mode = sys.argv[1:4]

    def die():
        os.kill(os.getpid(), signal.SIGKILL)

    if mode == "upsert-half":  # half of the clips written to the new store, then killed
        orig = st.IndexStore.upsert_clips
        def upsert(self, ids, fused, blocks, presence, payloads, **kw):
            h = max(1, len(ids) // 2)
            orig(self, ids[:h], fused[:h], {b: v[:h] for b, v in blocks.items()},
                 presence[:h], payloads[:h], **kw)
            die()
        st.IndexStore.upsert_clips = upsert
    elif mode in ("before-manifest", "after-manifest"):
        # inside publish: the data folder is renamed into place, then the manifest is
        # swapped; killed just before or just after that swap
        publish, write = im.IndexBuild.publish, im.write_manifest
        state = {"publishing": False}
        def publish_(self, manifest):
            state["publishing"] = True
            return publish(self, manifest)
        def write_(*a, **k):
            if state["publishing"] and mode == "before-manifest":
                die()
            out = write(*a, **k)
            if state["publishing"]:
                die()
            return out
        im.IndexBuild.publish, im.write_manifest = publish_, write_

    def progress(stage, done, total):
        print(f"{stage} {done} {total}", flush=True)

    build_index(manifest, target, chunk_size=8, progress=progress,
                encoder=ClipEncoder(text_encoder="use-m3"))  # TEXT_ENCODER
    print("finished", flush=True)
""")


def _killed_build(manifest: Path, target: Path, mode: str, rng: random.Random) -> str:
    """Run a build in a child and SIGKILL it at the point ``mode`` names; how it ended."""
    proc = subprocess.Popen([sys.executable, "-c", CHILD, str(manifest), str(target), mode],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=REPO)
    try:
        if mode.startswith("stage:"):  # the parent kills, a random moment into the stage
            stage = mode.split(":", 1)[1]
            for line in proc.stdout:
                if line.startswith(f"{stage} 0"):
                    time.sleep(rng.uniform(0.0, 0.02 if stage == "write" else 0.3))
                    proc.kill()
                    break
        elif mode == "encode":  # the parent kills after a random number of clips
            want, deadline = rng.randint(3, 60), time.monotonic() + 300
            start = cache_entries(target)
            while (cache_entries(target) - start < want and proc.poll() is None
                   and time.monotonic() < deadline):
                time.sleep(0.02)
            proc.kill()
        proc.wait(timeout=600)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    out = proc.stdout.read() if proc.stdout else ""
    return "finished" if "finished" in out else f"killed ({proc.returncode})"


@pytest.mark.slow
def test_build_killed_at_random_points_resumes_to_the_identical_index(
        data: Path, tmp_path: Path) -> None:
    seed = int(os.environ.get("INTERESTMAP_TEST_SEED", time.time_ns() % 10_000))
    rng = random.Random(seed)
    rows = [*xtopic_tweets(data, "en", 48), *xtopic_tweets(data, "es", 48)]  # captions: only text models
    m = write_jsonl(tmp_path / "corpus.jsonl", rows)
    build_index(m, tmp_path / "straight", chunk_size=8,
                encoder=ClipEncoder(text_encoder=TEXT_ENCODER)).close()
    expected = snapshot(tmp_path / "straight")
    target = tmp_path / "killed"

    # kills at random points; until a build gets through to the manifest swap no index
    # opens, and from then on the published one answers, unchanged, whatever is killed
    modes = ["stage:audiences", "stage:map", "stage:write", "upsert-half",
             "before-manifest"]
    rng.shuffle(modes)
    modes = ["encode", *modes, "after-manifest",
             *rng.sample(["stage:write", "upsert-half", "before-manifest"], 2)]
    published = False
    for mode in modes:
        how = _killed_build(m, target, mode, rng)
        published = published or how == "finished" or mode == "after-manifest"
        if published:
            assert snapshot(target) == expected, (seed, mode, how)
        else:
            with pytest.raises(IndexError_, match="not complete|no index"):
                InterestIndex.open(target)
    assert published, seed
    with build_index(m, target, chunk_size=8,
                     encoder=ClipEncoder(text_encoder=TEXT_ENCODER)) as index:
        report = index.build_report
    assert report.n_encoded == 0 and report.n_cached == len(rows)
    assert snapshot(target) == expected, seed
    leftovers = [p.name for p in target.iterdir() if p.name.startswith(("data-", ".building-"))]
    assert len(leftovers) == 1, leftovers  # old generations and staging folders are gone
