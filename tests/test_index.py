"""The map of a corpus (issue: map a corpus), end to end on real data.

A real build over X-Topic captions in four languages plus real photos and sounds (the
session's ``big_build``): captions across languages, stable map placement, encoder
checks, incremental and resumable builds. Its purity and cross-language audiences are in
tests/quality/test_index_quality.py.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from helpers.corpus import cache_entries, media_rows, snapshot, write_jsonl, xtopic_tweets

from interestmap.clip import Clip
from interestmap.errors import IndexError_
from interestmap.index.build import build_index
from interestmap.index.interest_index import InterestIndex

pytestmark = pytest.mark.slow


def test_caption_in_two_languages_lands_in_same_audience(big_build) -> None:
    """A Russian and an English caption about football are assigned to the same audience,
    a football one. Ranked by fused similarity, which also weighs the language (an
    English caption leans to English-speaking audiences, by design), the Russian
    caption's first audience is among the English caption's first two."""
    _, idx, _ = big_build
    from interestmap.clip import Clip

    enc = idx.encoder
    en = enc.encode(Clip(caption="What a goal in the derby! Football at its best #football"))
    ru = enc.encode(Clip(caption="Какой гол в дерби! Футбол во всей красе #футбол"))
    assigned = idx.clusterer.predict(idx.fuser.text_view(np.stack([en.fused, ru.fused])))
    assert assigned[0] == assigned[1] >= 0, assigned
    label = {a.id: a.label for a in idx.audiences}
    assert label[int(assigned[0])].lower().startswith(("football", "sport")), label
    top_en = idx.nearest(en, k=2, k_clips=0).audiences
    top_ru = idx.nearest(ru, k=1, k_clips=0).audiences[0]
    assert top_ru.id in [a.id for a in top_en]
    assert top_en[0].label.lower().startswith(("football", "sport"))
    assert top_ru.label.lower().startswith(("football", "sport"))
    assert top_en[0].attribution["caption"] > 0


def test_place_alone_or_in_batch_lands_on_same_point(big_build) -> None:
    _, idx, _ = big_build
    fused = np.stack([np.asarray(v) for v in idx.store.get_clip_vectors(
        [c["id"] for c in idx.clips_frame()[:100]])[0]])
    batch = idx.place(fused)
    extent = np.ptp(idx.projector.extent_, axis=0).max()
    for i in (0, 17, 99):
        alone = idx.place(fused[i:i + 1])[0]
        assert np.max(np.abs(alone - batch[i])) <= 1e-3 * extent


def _same_answer(alone: Any, together: Any, extent: float) -> None:
    assert [a.id for a in alone.audiences] == [a.id for a in together.audiences]
    for a, b in zip(alone.audiences, together.audiences, strict=True):
        assert a.similarity == pytest.approx(b.similarity, abs=2e-4)
        assert a.probability == pytest.approx(b.probability, abs=2e-4)
    assert [c.id for c in alone.clips] == [c.id for c in together.clips]
    if alone.x is None:
        assert together.x is None and together.y is None
    else:
        assert abs(alone.x - together.x) + abs(alone.y - together.y) <= 1e-3 * extent


def test_nearest_many_answers_as_one_by_one(big_build) -> None:
    """Lookups answered together (the server batches those waiting) get the answers each
    gets alone: captions, and sounds with nothing in the text space (no map point)."""
    from interestmap.encoders.fusion import BLOCKS

    _, idx, _ = big_build
    ids = [c["id"] for c in idx.clips_frame()]
    fused = np.stack([np.asarray(v) for v in idx.store.get_clip_vectors(ids)[0]])
    heard = np.flatnonzero(np.any(fused[:, idx.layout.slices["audio_semantics"]], axis=1))
    assert len(heard) >= 2, "the corpus should hold sound clips"
    # the corpus's sounds with their aiSFX block alone: nothing in the text space, as a
    # clip whose track is only talking without a transcript
    parts = idx.fuser.split(fused[heard[:2]])
    blind = idx.fuser.transform([{b: parts[b][j] if b == "audio" else None for b in BLOCKS}
                                 for j in range(2)])
    assert not np.any(idx.fuser.text_view(blind))
    queries = np.concatenate([fused[[0, 5, 250]], blind, fused[[999]]])
    extent = float(np.ptp(idx.projector.extent_, axis=0).max())
    for filters in (None, {"language": "es"}):
        together = idx.nearest_many(queries, k=3, k_clips=4, filters=filters)
        assert len(together) == len(queries)
        for q, res in zip(queries, together, strict=True):
            _same_answer(idx.nearest(q, k=3, k_clips=4, filters=filters), res, extent)
        assert all(t.x is None for t in together[3:5])
        if filters:
            langs = {c["id"]: c.get("language") for c in idx.clips_frame()}
            assert {langs[c.id] for t in together for c in t.clips} == {"es"}
    assert idx.nearest_many(fused[:0]) == []


def test_nearest_many_on_the_labelled_default_index(default_index) -> None:
    """The atlas's audiences are labelled (no UMAP of their own): together, alone."""
    from interestmap.clip import Clip

    encoded = [default_index.encoder.encode(Clip(caption=c, language=lang)) for c, lang in (
        ("Messi scores twice as Barcelona win the derby", "en"),
        ("Рецепт борща: свекла, капуста и немного уксуса", "ru"))]
    together = default_index.nearest_many(encoded, k=2, k_clips=2)
    extent = float(np.ptp(default_index.projector.extent_, axis=0).max())
    for enc, res in zip(encoded, together, strict=True):
        _same_answer(default_index.nearest(enc, k=2, k_clips=2), res, extent)
    assert together[0].audiences[0].id != together[1].audiences[0].id


def test_query_with_other_encoders_is_refused(big_build) -> None:
    from interestmap.encoders.base import EncoderInfo
    from interestmap.encoders.fusion import Fuser
    from interestmap.errors import EncoderMismatchError

    _, idx, _ = big_build
    infos = {b: EncoderInfo(**e) for b, e in idx.layout.encoders.items()}
    infos["caption"] = EncoderInfo("other-model", "1", infos["caption"].dim, "text")

    class Fake:
        layout = Fuser().fit(infos).layout_

    with pytest.raises(EncoderMismatchError, match="other-model"):
        idx.check_encoder(Fake())  # type: ignore[arg-type]


# Incremental and resumable builds -----------------------------------------------------
def _small_rows(data: Path) -> list[dict]:
    return [r for lang in ("en", "es") for r in xtopic_tweets(data, lang, 80)] + \
        media_rows(data, n_scenes=2, n_sounds=1)


def test_adding_ten_clips_encodes_only_those(data: Path, tmp_path: Path) -> None:
    rows = _small_rows(data)
    m = write_jsonl(tmp_path / "corpus.jsonl", rows)
    with build_index(m, tmp_path / "index") as index:
        first = index.build_report
    assert first.n_encoded == len(rows) and first.n_cached == 0
    extra = xtopic_tweets(data, "en", 10, offset=500)
    write_jsonl(m, rows + extra)
    with build_index(m, tmp_path / "index") as index:
        second = index.build_report
    assert second.n_encoded == 10
    assert second.n_cached == len(rows)
    assert second.n_clips == len(rows) + 10


def test_killed_build_resumes_to_the_same_result(data: Path, tmp_path: Path) -> None:
    rows = _small_rows(data)
    m = write_jsonl(tmp_path / "corpus.jsonl", rows)
    build_index(m, tmp_path / "straight", chunk_size=8).close()
    expected = snapshot(tmp_path / "straight")

    target = tmp_path / "killed"
    code = ("import sys; from interestmap.index.build import build_index; "
            f"build_index({str(m)!r}, {str(target)!r}, chunk_size=8)")
    proc = subprocess.Popen([sys.executable, "-c", code], env=dict(os.environ))
    deadline = time.monotonic() + 300
    while cache_entries(target) < 40 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert proc.poll() is None, "the build finished before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    n_done = cache_entries(target)
    assert 0 < n_done < len(rows)
    with pytest.raises(IndexError_, match="not complete|no index"):
        InterestIndex.open(target)

    with build_index(m, target, chunk_size=8) as index:
        report = index.build_report
    assert report.n_cached >= n_done and report.n_encoded == len(rows) - report.n_cached
    assert snapshot(target) == expected


def test_clips_with_a_repeated_id_are_reported_and_skipped(tmp_path: Path) -> None:
    clips = [Clip(caption=t, id=i, labels=[lab]) for i, t, lab in [
        ("a", "Derby day: our striker scores twice #football", "sports"),
        ("b", "Slow-cooked ragu, my grandmother's recipe", "food"),
        ("a", "Same id again: this one must not replace the first", "food"),
        ("c", "Penalty shoot-out drama in the cup final", "sports"),
        ("d", "Five-minute tomato pasta for busy weeknights", "food"),
        ("e", "Training ground drills before the derby", "sports"),
    ]]
    with build_index(clips, tmp_path / "index", audiences="labels") as index:
        report = index.build_report
    assert report.n_clips == 5
    assert [p["where"] for p in report.problems] == ["clip 3"]
    assert "'a' was already used (clip 1)" in report.problems[0]["message"]
    with InterestIndex.open(tmp_path / "index") as idx:
        assert {c["id"]: c["caption"][:5] for c in idx.clips_frame()} == \
            {"a": "Derby", "b": "Slow-", "c": "Penal", "d": "Five-", "e": "Train"}


def test_the_index_stores_the_topic_example_vectors_analysis_scores_with(default_index) -> None:
    """The build saves the atlas examples' text vectors, so scoring topics against an
    open index does not encode them again; they are what the text encoder gives."""
    from interestmap.analysis.analyze import topic_space
    from interestmap.topics.embed import embed_topic_examples

    stored = default_index.topic_example_vectors
    n = sum(len(t.examples) for t in default_index.topics)
    assert stored is not None and stored.shape == (n, default_index.topic_vectors.shape[1])
    fresh = embed_topic_examples(default_index.topics, default_index.encoder.text)
    assert np.allclose(stored, fresh, atol=1e-5)
    assert np.allclose(topic_space(default_index).example_vectors, stored, atol=1e-6)
