"""The encode cache: round trips, content keys, and surviving a killed build."""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from helpers.vectors import make_layout

from interestmap.clip import Clip, EncodedClip, GeoPoint, Signals
from interestmap.corpus.cache import EncodeCache, content_key, layout_identity
from interestmap.encoders.fusion import BLOCKS, Fuser, FusionLayout
from interestmap.errors import IndexError_, MediaError

REPO = Path(__file__).resolve().parents[1]


def encoded_clip(i: int, layout: FusionLayout | None = None) -> EncodedClip:
    """A deterministic encoded clip (random unit blocks seeded by ``i``; no speech)."""
    layout = layout or make_layout()
    rng = np.random.default_rng(i)
    blocks = {b: (None if b in ("speech", "ocr") else
                  rng.normal(size=layout.dims[b]).astype(np.float32)) for b in BLOCKS}
    fused = Fuser.from_layout(layout).transform([blocks])[0]
    signals = Signals(caption=f"sunset over the sea #{i}", hashtags=[str(i)],
                      caption_language="en", language="en", language_source="caption",
                      speech_segments=[(0.0, 1.5, "hola"), (1.5, 3.0, "amigos")],
                      faces={"frames_with_faces": 1, "frames": 4, "share": 0.25,
                             "max_faces": 1},
                      loudness_dbfs=-23.5, motion=0.1,
                      geo=GeoPoint(lat=38.72, lon=-9.14, name="Lisbon", country="PT"))
    clip = Clip(media=[Path(f"/clips/{i}.mp4")], caption=f"sunset over the sea #{i}",
                language="en", geo="Lisbon", id=f"clip-{i}", account="alice",
                published_at="2024-05-01T18:00:00+00:00", labels=["travel"])
    return EncodedClip(clip=clip, signals=signals, blocks=blocks, fused=fused,
                       media_kind="video", missing={"speech": "no speech was heard"},
                       notes=["only the first 600 s were analysed"],
                       timings_s={"media": 0.5})


def test_round_trip_keeps_everything(tmp_path):
    layout = make_layout()
    enc = encoded_clip(1, layout)
    with EncodeCache(tmp_path / "cache") as cache:
        assert "k1" not in cache and cache.get("k1") is None
        cache.put("k1", enc)
        assert "k1" in cache and len(cache) == 1 and cache.keys() == ["k1"]
        got = cache.get("k1")
    assert got.clip == enc.clip
    assert got.signals == enc.signals  # GeoPoint and (start, end, text) tuples come back
    assert got.media_kind == "video" and got.missing == enc.missing and got.notes == enc.notes
    np.testing.assert_array_equal(got.fused, enc.fused)
    assert set(got.blocks) == set(BLOCKS)
    for b in BLOCKS:
        if enc.blocks[b] is None:
            assert got.blocks[b] is None
        else:
            np.testing.assert_array_equal(got.blocks[b], enc.blocks[b])
    with EncodeCache(tmp_path / "cache") as again:  # persisted
        other = Clip(caption=enc.clip.caption, id="same content, other id", account="bob")
        assert again.get("k1", clip=other).clip is other


def test_get_re_fuses_with_the_layouts_weights(tmp_path):
    layout = make_layout()
    enc = encoded_clip(2, layout)
    heavy_caption = FusionLayout(dims=layout.dims, encoders=layout.encoders,
                                 weights={**layout.weights, "caption": 5.0})
    with EncodeCache(tmp_path) as cache:
        cache.put("k", enc)
        same = cache.get("k", layout=layout)
        reweighted = cache.get("k", layout=heavy_caption)
    np.testing.assert_allclose(same.fused, enc.fused, atol=1e-7)
    cap = layout.slices["caption"]
    assert np.linalg.norm(reweighted.fused[cap]) > np.linalg.norm(enc.fused[cap]) + 0.2
    assert np.linalg.norm(reweighted.fused) == pytest.approx(1.0, abs=1e-5)


def test_content_key_follows_content_not_location(tmp_path, data):
    photo = next(iter(sorted((data / "scenes" / "sea").glob("*.jpg"))))
    a, b = tmp_path / "a.jpg", tmp_path / "moved" / "renamed.jpg"
    b.parent.mkdir()
    shutil.copyfile(photo, a)
    shutil.copyfile(photo, b)
    ident = layout_identity(make_layout())
    base = Clip(media=[a], caption="calm sea #blue", language="en", geo="Lisbon")
    key = content_key(base, ident)
    assert key == content_key(Clip(media=[b], caption="calm sea #blue", language="en",
                                   geo="Lisbon", id="other", account="x"), ident)
    assert key != content_key(Clip(media=[a], caption="calm sea #green", language="en",
                                   geo="Lisbon"), ident)
    assert key != content_key(Clip(media=[a], caption="calm sea #blue", language="pt",
                                   geo="Lisbon"), ident)
    assert key != content_key(Clip(media=[a], caption="calm sea #blue", language="en",
                                   geo="Porto"), ident)
    assert key != content_key(Clip(media=[a, b], caption="calm sea #blue", language="en",
                                   geo="Lisbon"), ident)
    assert key != content_key(base, layout_identity(make_layout(text_name="e5")))
    assert key != content_key(base, layout_identity(make_layout(), extra={"asr": False}))
    reweighted = FusionLayout(dims=make_layout().dims, encoders=make_layout().encoders,
                              weights={**make_layout().weights, "geo": 0.5})
    assert layout_identity(reweighted) == ident  # weights only change the fused vector
    raw = bytearray(a.read_bytes())
    raw[-10] ^= 0xFF  # one byte of the photo changes
    a.write_bytes(bytes(raw))
    os.utime(a, ns=(1, 1))  # and its mtime, as any edit would
    assert content_key(base, ident) != key
    with pytest.raises(MediaError, match="not found"):
        content_key(Clip(media=[tmp_path / "gone.mp4"]), ident)


WRITER = textwrap.dedent("""
    import sys
    sys.path.insert(0, {tests!r})
    from test_cache import encoded_clip
    from interestmap.corpus.cache import EncodeCache
    cache = EncodeCache({dir!r})
    cache._db.execute("PRAGMA wal_autocheckpoint=0")  # keep every commit in the WAL
    i = 0
    while True:
        cache.put(f"key-{{i:05d}}", encoded_clip(i))
        print(i, flush=True)
        i += 1
""")


def run_writer_and_kill(cache_dir: Path, n_commits: int) -> int:
    """Start a process writing entries, SIGKILL it mid-stream; returns commits it reported."""
    code = WRITER.format(tests=str(REPO / "tests"), dir=str(cache_dir))
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=REPO, stdout=subprocess.PIPE,
                            text=True, env={**os.environ, "PYTHONPATH": str(REPO)})
    last = -1
    try:
        while last < n_commits - 1:
            line = proc.stdout.readline()
            assert line, "the writer died on its own"
            last = int(line)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    return last + 1


def check_whole(cache_dir: Path) -> list[str]:
    db = sqlite3.connect(cache_dir / "encode-cache.sqlite")
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    db.close()
    with EncodeCache(cache_dir) as cache:
        keys = cache.keys()
        for key in keys:  # every entry that is there is whole
            got = cache.get(key)
            want = encoded_clip(int(key.split("-")[1]))
            np.testing.assert_array_equal(got.fused, want.fused)
    return keys


def test_sigkill_mid_write_leaves_only_whole_entries(tmp_path):
    committed = run_writer_and_kill(tmp_path, 40)
    keys = check_whole(tmp_path)
    assert len(keys) >= committed  # nothing reported as written is lost
    assert keys == [f"key-{i:05d}" for i in range(len(keys))]


def test_truncated_write_ahead_log_is_ignored(tmp_path):
    run_writer_and_kill(tmp_path, 30)
    wal = tmp_path / "encode-cache.sqlite-wal"
    size = wal.stat().st_size
    assert size > 0
    with open(wal, "r+b") as f:  # as if the disk stopped half-way through a write
        f.truncate(size // 2 + 1234)
    keys = check_whole(tmp_path)
    assert 0 < len(keys) < 30


def test_interrupted_build_resumes_and_ends_identical(tmp_path):
    """A build killed half-way re-encodes only what is missing; the result is the same."""
    layout = make_layout()
    ident = layout_identity(layout)
    clips = [Clip(caption=f"post {i} #sea", language="en", id=f"c{i}") for i in range(12)]
    keys = [content_key(c, ident) for c in clips]
    calls: list[str] = []

    def encode(clip: Clip) -> EncodedClip:  # stands in for the (deterministic) pipeline
        calls.append(clip.id)
        e = encoded_clip(int(clip.id[1:]), layout)
        e.clip = clip
        return e

    def build(cache: EncodeCache, stop_after: int | None = None) -> np.ndarray:
        out = []
        for n, (clip, key) in enumerate(zip(clips, keys, strict=True)):
            if stop_after is not None and n == stop_after:
                raise KeyboardInterrupt  # the build is killed here
            enc = cache.get(key, clip=clip, layout=layout)
            if enc is None:
                enc = encode(clip)
                cache.put(key, enc)
            out.append(enc.fused)
        return np.stack(out)

    with EncodeCache(tmp_path / "a") as cache:
        with pytest.raises(KeyboardInterrupt):
            build(cache, stop_after=5)
        assert calls == [f"c{i}" for i in range(5)]
        calls.clear()
        resumed = build(cache)
        assert calls == [f"c{i}" for i in range(5, 12)]  # only what was missing
        calls.clear()
        again = build(cache)
        assert calls == []  # a third build encodes nothing
    with EncodeCache(tmp_path / "b") as fresh:
        uninterrupted = build(fresh)
    np.testing.assert_array_equal(resumed, uninterrupted)
    np.testing.assert_array_equal(again, uninterrupted)


def test_damaged_entry_reads_as_absent(tmp_path):
    with EncodeCache(tmp_path) as cache:
        cache.put("good", encoded_clip(1))
        cache.put("bad", encoded_clip(2))
        cache._db.execute("UPDATE entries SET vectors=? WHERE key='bad'", (b"PK\x03\x04junk",))
        assert cache.get("bad") is None  # encoded again by the next build
        assert cache.get("good") is not None
        cache.discard(["bad"])
        assert cache.keys() == ["good"]


def test_a_file_that_is_not_a_cache_is_refused(tmp_path):
    (tmp_path / "encode-cache.sqlite").write_bytes(b"this is not a database" * 100)
    with pytest.raises(IndexError_, match="damaged or not a cache"):
        EncodeCache(tmp_path)
