"""The public Python API: the five lines of the docs work end to end on real posts, the
results are the types they claim, and their ``as_dict()`` is today's JSON shape.

The corpus is real: the built-in atlas's example posts of five declared topics (no
shared data needed), written as a JSONL manifest and built into a temporary folder.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

TOPICS = ("football", "cooking", "travel", "gaming", "music")
REPO = Path(__file__).resolve().parents[1]
NOTEBOOK = REPO / "notebooks" / "quickstart.ipynb"


def write_corpus(path: Path) -> int:
    """The atlas's example posts of :data:`TOPICS` as a JSONL manifest; how many."""
    from interestmap.index.atlas import atlas_clips

    rows = [{"id": c.id, "account": c.account, "caption": c.caption, "labels": c.labels}
            for c in atlas_clips() if c.labels and c.labels[0] in TOPICS]
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows),
                    encoding="utf-8")
    return len(rows)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple]:
    from interestmap import build_index

    tmp = tmp_path_factory.mktemp("public-api")
    n = write_corpus(tmp / "clips.jsonl")
    index = build_index(tmp / "clips.jsonl", tmp / "indexes" / "mine")
    try:
        yield index, n, tmp
    finally:
        index.close()


@pytest.fixture(scope="module")
def report(built: tuple):
    from interestmap import Clip

    index, _, _ = built
    return index.analyze(Clip.of(caption="Derby day: what a goal in the last minute! "
                                         "#football #soccer", geo="Rome"))


def test_build_index_returns_the_opened_index_with_its_build_report(built: tuple) -> None:
    from interestmap import BuildReport, InterestIndex

    index, n, tmp = built
    assert isinstance(index, InterestIndex)
    assert index.dir == (tmp / "indexes" / "mine").resolve()
    rep = index.build_report
    assert isinstance(rep, BuildReport)
    assert rep.n_clips == n == index.manifest["counts"]["clips"]
    assert rep.n_encoded + rep.n_cached == n and not rep.problems
    assert rep.n_audiences == len(index.audiences) >= 3
    d = rep.as_dict()
    assert d["index_dir"] == str(index.dir) and d["n_clips"] == n
    assert json.loads(json.dumps(d)) == d
    # the same folder opens again, and a later open has no build report
    with InterestIndex.open(index.dir) as again:
        assert again.build_report is None
        assert [a.label for a in again.audiences] == [a.label for a in index.audiences]


def test_the_five_lines(built: tuple, report) -> None:
    from interestmap import AudienceMatch, AudienceMove, Clarity, ClipAnalysis, Variant

    index, _, _ = built
    assert isinstance(report, ClipAnalysis) and isinstance(report.clarity, Clarity)
    assert isinstance(report.clarity.score, int) and 0 <= report.clarity.score <= 100
    top = report.audiences[0]
    assert isinstance(top, AudienceMatch)
    # a football post lands with the football posts, for the right reasons
    assert top.label.lower().startswith(("football", "sport")), top.label
    assert top.attribution["caption"] > 0
    assert sum(top.attribution.values()) == pytest.approx(top.similarity, abs=2e-3)
    sims = [a.similarity for a in report.audiences]
    assert sims == sorted(sims, reverse=True)
    assert report.agreement.top_topic["id"] in ("football", "sports")

    moved = report.whatif(geo="Madrid")
    assert isinstance(moved, Variant)
    assert 0 < moved.moved == moved.fused_distance < 1
    # only the place changed, so only the geo block explains the move
    assert max(moved.distance_by_block, key=moved.distance_by_block.get) == "geo"
    assert moved.distance_by_block["geo"] == pytest.approx(moved.moved, rel=0.05)
    assert moved.topic_kept and moved.analysis.encoded.clip.geo == "Madrid"
    assert all(isinstance(m, AudienceMove) for m in moved.audiences)
    assert moved.as_dict()["audiences"][0] == {
        "id": moved.audiences[0].id, "label": moved.audiences[0].label,
        "similarity_before": moved.audiences[0].similarity_before,
        "similarity_after": moved.audiences[0].similarity_after,
        "change": moved.audiences[0].change, "rank_before": moved.audiences[0].rank_before}
    assert report.encoded.clip.geo == "Rome"  # the original is left as it was


def test_whatif_takes_several_changes_at_once_and_refuses_none(report) -> None:
    from interestmap import ConfigError

    v = report.whatif(language="es", caption="¡Qué golazo en el derbi! #futbol")
    assert [e.kind for e in v.edits] == ["caption", "language"]
    assert v.moved > report.whatif(geo="Madrid").moved
    with pytest.raises(ConfigError, match="no change"):
        report.whatif()


def test_nearest_is_typed_and_its_dict_is_the_api_shape(built: tuple, report) -> None:
    from interestmap import AudienceMatch, ClipMatch, NearestResult

    index, _, _ = built
    res = index.nearest(report.encoded, k=3, k_clips=2)
    assert isinstance(res, NearestResult)
    assert len(res.audiences) == 3 and all(isinstance(a, AudienceMatch) for a in res.audiences)
    assert len(res.clips) == 2 and all(isinstance(c, ClipMatch) for c in res.clips)
    assert res.clips[0].id.startswith("football-")
    d = res.as_dict()
    assert list(d) == ["audiences", "clips", "x", "y"]
    assert list(d["audiences"][0]) == ["id", "label", "size", "similarity", "probability",
                                       "attribution", "top_topics"]
    assert list(d["clips"][0]) == ["id", "account", "caption", "audience", "similarity"]
    assert json.loads(json.dumps(d)) == d  # plain JSON types only
    assert d["audiences"][0]["label"] == res.audiences[0].label
    assert isinstance(res.x, float) and isinstance(res.y, float)
    # the analysis prints the same items
    a = report.as_dict()
    assert a["audiences"] == [m.as_dict() for m in report.audiences]
    assert a["nearest_clips"] == [c.as_dict() for c in report.nearest_clips]
    assert a["map"] == {"x": report.nearest.x, "y": report.nearest.y}
    assert json.loads(json.dumps(a)) == a


def test_analyze_takes_an_encoded_clip_and_a_media_path(built: tuple, report,
                                                        data: Path) -> None:
    index, _, _ = built
    again = index.analyze(report.encoded)
    assert again.clarity.score == report.clarity.score
    assert [a.id for a in again.audiences] == [a.id for a in report.audiences]
    photo = sorted((data / "scenes" / "sea").glob("*.jpg"))[0]
    seen = index.analyze(photo, ocr=False)
    assert seen.encoded.media_kind == "image"
    assert seen.encoded.blocks["visual"] is not None and np.any(seen.encoded.fused)
    assert seen.audiences and 0 <= seen.clarity.score <= 100


def test_importing_interestmap_is_cheap_and_names_resolve() -> None:
    code = ("import sys, interestmap; heavy = [m for m in ('numpy', 'torch', 'qdrant_edge', "
            "'interestmap.index.build') if m in sys.modules]; print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert out.stdout.strip() == "[]"
    import interestmap

    assert sorted(interestmap.__all__) == sorted(["__version__", *interestmap._EXPORTS])
    for name in interestmap.__all__:
        assert getattr(interestmap, name) is not None, name
    assert interestmap.build_index.__module__ == "interestmap.index.build"
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        interestmap.nope  # noqa: B018


@pytest.mark.slow
def test_quickstart_notebook_runs(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The quickstart notebook runs in a fresh kernel and writes nothing into indexes/."""
    nbclient = pytest.importorskip("nbclient")
    nbformat = pytest.importorskip("nbformat")
    pytest.importorskip("ipykernel")
    indexes = REPO / "indexes"
    before = sorted(p.name for p in indexes.iterdir()) if indexes.is_dir() else []
    # the kernel inherits this process's environment
    monkeypatch.setenv("INTERESTMAP_INDEXES", str(tmp_path / "indexes"))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(
        [str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])]))
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbclient.NotebookClient(nb, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    text = "".join(o.get("text", "") for o in outputs if o.get("output_type") == "stream")
    line = next(x for x in text.splitlines() if x.startswith("RESULT "))
    result = json.loads(line.removeprefix("RESULT "))
    assert 0 <= result["clarity"] <= 100
    assert result["audience"].lower().startswith(("cooking", "food", "travel")), result
    assert result["moved"] > 0
    assert (sorted(p.name for p in indexes.iterdir()) if indexes.is_dir() else []) == before
