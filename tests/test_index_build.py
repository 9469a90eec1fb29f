"""The index folder: atomic builds, the manifest, and refusing half-built indexes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from helpers.vectors import make_corpus, make_layout

from interestmap.errors import EncoderMismatchError, IndexError_
from interestmap.index.manifest import (
    MANIFEST_FORMAT,
    MANIFEST_NAME,
    begin_build,
    cache_dir,
    check_query_layout,
    open_index,
    read_manifest,
    write_manifest,
)

REPO = Path(__file__).resolve().parents[1]


def build(index_dir: Path, n: int = 20, seed: int = 0, tag: str = "v1") -> dict:
    c = make_corpus(n, seed=seed)
    with begin_build(index_dir) as b:
        store = b.store()
        store.create(c["layout"])
        store.upsert_clips(c["ids"], c["fused"], c["blocks"], c["presence"], c["payloads"])
        (b.staging / "projection.json").write_text(json.dumps({"tag": tag}))
        b.publish({"layout": c["layout"].as_dict(), "counts": {"clips": n},
                   "source": "corpus.csv", "clustering": {"min_cluster_size": 5},
                   "projection": {"n_neighbors": 15}})
    return c


def generations(index_dir: Path) -> list[str]:
    return sorted(p.name for p in index_dir.iterdir()
                  if p.name.startswith(("data-", ".building-")))


def test_published_index_opens_with_its_manifest(tmp_path):
    c = build(tmp_path / "idx")
    with open_index(tmp_path / "idx") as ix:
        m = ix.manifest
        assert m["format"] == MANIFEST_FORMAT and m["counts"] == {"clips": 20}
        assert m["layout"] == c["layout"].as_dict()
        assert m["created_at"] and m["updated_at"] and m["interestmap_version"]
        assert ix.layout.total_dim == c["fused"].shape[1]
        assert json.loads((ix.data_dir / "projection.json").read_text()) == {"tag": "v1"}
        assert ix.store.search_clips(c["fused"][4], k=1)[0]["id"] == c["ids"][4]
    assert cache_dir(tmp_path / "idx") == tmp_path / "idx" / "cache"


@pytest.mark.slow  # starts a Python process that imports Qdrant
def test_killed_first_build_is_refused_then_resumed(tmp_path):
    idx = tmp_path / "idx"
    code = textwrap.dedent(f"""
        import sys, time
        sys.path.insert(0, {str(REPO / "tests")!r})
        from helpers.vectors import make_corpus
        from interestmap.index.manifest import begin_build
        c = make_corpus(20)
        b = begin_build({str(idx)!r})
        s = b.store()
        s.create(c["layout"])
        s.upsert_clips(c["ids"], c["fused"], c["blocks"], c["presence"], c["payloads"])
        print("half", flush=True)
        time.sleep(60)
    """)
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=REPO, stdout=subprocess.PIPE,
                            text=True, env={**os.environ, "PYTHONPATH": str(REPO)})
    try:
        assert proc.stdout.readline().strip() == "half"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    assert generations(idx)[0].startswith(".building-")
    with pytest.raises(IndexError_, match=r"not complete \(an interrupted build\?\): run "
                                          r"`interestmap index build` again to resume"):
        read_manifest(idx)
    with pytest.raises(IndexError_, match="not complete"):
        open_index(idx)
    c = build(idx)  # the next build cleans up the leftovers and publishes
    assert len(generations(idx)) == 1 and generations(idx)[0].startswith("data-")
    with open_index(idx) as ix:
        assert ix.store.count() == 20
        assert ix.store.search_clips(c["fused"][9], k=1)[0]["id"] == c["ids"][9]


def test_failed_rebuild_leaves_the_old_index_untouched(tmp_path):
    idx = tmp_path / "idx"
    build(idx, n=20, tag="v1")
    before = read_manifest(idx)
    with pytest.raises(RuntimeError, match="encoder crashed"), begin_build(idx) as b:
        s = b.store()
        s.create(make_layout())
        raise RuntimeError("encoder crashed")
    assert read_manifest(idx) == before
    assert generations(idx) == [before["data"]]
    with open_index(idx) as ix:
        assert ix.store.count() == 20


def test_rebuild_swaps_generation_and_removes_the_old_one(tmp_path):
    idx = tmp_path / "idx"
    build(idx, n=20, tag="v1")
    first = read_manifest(idx)
    build(idx, n=30, seed=1, tag="v2")
    second = read_manifest(idx)
    assert second["data"] != first["data"]
    assert second["created_at"] == first["created_at"]
    assert generations(idx) == [second["data"]]
    with open_index(idx) as ix:
        assert ix.store.count() == 30
        assert json.loads((ix.data_dir / "projection.json").read_text())["tag"] == "v2"


def test_generation_open_in_this_process_is_kept_until_closed(tmp_path):
    idx = tmp_path / "idx"
    build(idx, n=20)
    reader = open_index(idx)  # e.g. the app serving the index while it is rebuilt
    build(idx, n=25, seed=1)
    assert reader.store.count() == 20  # the old generation still serves
    assert len(generations(idx)) == 2
    reader.close()
    build(idx, n=26, seed=2)
    assert len(generations(idx)) == 1


def test_only_one_build_at_a_time(tmp_path):
    with begin_build(tmp_path / "idx") as b, \
            pytest.raises(IndexError_, match="another build .* is running"):
        begin_build(tmp_path / "idx")
    assert b.staging.exists() is False


def test_manifest_write_is_atomic(tmp_path, monkeypatch):
    idx = tmp_path / "idx"
    write_manifest(idx, {"counts": {"clips": 1}})
    good = (idx / MANIFEST_NAME).read_text()

    def crash(src, dst):  # the process dies between writing the temp file and renaming it
        raise KeyboardInterrupt
    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(KeyboardInterrupt):
        write_manifest(idx, {"counts": {"clips": 2}})
    monkeypatch.undo()
    assert (idx / MANIFEST_NAME).read_text() == good
    # a temp file left by a real crash (truncated mid-write) is never read ...
    (idx / f".{MANIFEST_NAME}.999.deadbeef.tmp").write_text('{"format": 1, "cou')
    assert read_manifest(idx)["counts"] == {"clips": 1}
    # ... and the next build removes it
    begin_build(idx).abort()
    assert not list(idx.glob("*.tmp")) and not list(idx.glob(".*.tmp"))


def test_manifest_errors_are_plain(tmp_path):
    with pytest.raises(IndexError_, match="no index at"):
        read_manifest(tmp_path / "nowhere")
    (tmp_path / "holiday photos").mkdir()
    (tmp_path / "holiday photos" / "a.jpg").write_bytes(b"x")
    with pytest.raises(IndexError_, match="no index at"):  # not "interrupted": never one
        open_index(tmp_path / "holiday photos")
    (tmp_path / "idx").mkdir()
    (tmp_path / "idx" / MANIFEST_NAME).write_text("{not json")
    with pytest.raises(IndexError_, match="unreadable"):
        read_manifest(tmp_path / "idx")
    (tmp_path / "idx" / MANIFEST_NAME).write_text(json.dumps(
        {"format": 99, "interestmap_version": "9.0"}))
    with pytest.raises(IndexError_, match="newer interestmap"):
        read_manifest(tmp_path / "idx")


def test_query_with_other_encoders_is_refused(tmp_path):
    build(tmp_path / "idx")
    m = read_manifest(tmp_path / "idx")
    check_query_layout(m, make_layout())  # same encoders: fine
    with pytest.raises(EncoderMismatchError, match="the 'caption' block was made with e5"):
        check_query_layout(m, make_layout(text_name="e5"))


def test_index_built_before_the_sound_block_is_refused(tmp_path):
    """An index built before ``audio_semantics`` joined the fused vector (2026-12-03) has
    vectors of another layout: a query gets the encoder/layout mismatch message."""
    build(tmp_path / "idx")
    m = read_manifest(tmp_path / "idx")
    old = json.loads(json.dumps(m["layout"]))
    for part in ("dims", "weights", "encoders"):
        old[part].pop("audio_semantics")
    write_manifest(tmp_path / "idx", {**m, "layout": old})
    m = read_manifest(tmp_path / "idx")
    with pytest.raises(EncoderMismatchError,
                       match="another block layout.*'audio_semantics'.*rebuild the index"):
        check_query_layout(m, make_layout())


def test_manifest_values_are_made_json_safe(tmp_path):
    out = write_manifest(tmp_path / "idx", {"counts": {"clips": np.int64(3)},
                                            "projection": {"min_dist": np.float32(0.1)}})
    assert read_manifest(tmp_path / "idx")["counts"]["clips"] == 3
    assert out["projection"]["min_dist"] == pytest.approx(0.1)


def test_an_index_of_the_old_format_says_how_to_rebuild_it(tmp_path):
    # format 1: qdrant-client local mode, one vector per block (before Qdrant Edge)
    idx = tmp_path / "idx"
    (idx / "data-old" / "qdrant" / "collection" / "clips").mkdir(parents=True)
    (idx / "data-old" / "qdrant" / "meta.json").write_text("{}")
    (idx / MANIFEST_NAME).write_text(json.dumps(
        {"format": 1, "data": "data-old", "source": "/corpora/shop.jsonl",
         "qdrant": {"mode": "embedded", "path": "data-old/qdrant"}}))
    with pytest.raises(IndexError_) as e:
        open_index(idx)
    msg = str(e.value)
    assert "older interestmap" in msg and "\n" not in msg
    assert f"interestmap index build /corpora/shop.jsonl --index {idx.resolve()}" in msg
    build(idx)  # the rebuild it names works in place and replaces the old generation
    with open_index(idx) as ix:
        assert ix.manifest["format"] == MANIFEST_FORMAT and ix.store.count() == 20
    assert generations(idx) == [ix.manifest["data"]]


def test_an_index_open_in_another_process_names_its_server(tmp_path):
    from interestmap.errors import IndexBusyError
    from interestmap.index.manifest import mark_serving, serving_url, unmark_serving

    build(tmp_path / "idx")
    code = textwrap.dedent(f"""
        import time
        from interestmap.index.manifest import mark_serving, open_index
        ix = open_index({str(tmp_path / "idx")!r})
        mark_serving({str(tmp_path / "idx")!r}, "http://127.0.0.1:8123")
        print("open", flush=True)
        time.sleep(60)
    """)
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=REPO, stdout=subprocess.PIPE,
                            text=True, env={**os.environ, "PYTHONPATH": str(REPO)})
    try:
        assert proc.stdout.readline().strip() == "open"
        with pytest.raises(IndexBusyError, match="open in the interestmap server at "
                                                 "http://127.0.0.1:8123"):
            open_index(tmp_path / "idx")
    finally:
        proc.kill()
        proc.wait(timeout=30)
    assert serving_url(tmp_path / "idx") is None  # its server is gone: the note is stale
    mark_serving(tmp_path / "idx", "http://x:1")
    assert serving_url(tmp_path / "idx") == "http://x:1"
    unmark_serving(tmp_path / "idx")
    assert not (tmp_path / "idx" / ".serving.json").exists()
