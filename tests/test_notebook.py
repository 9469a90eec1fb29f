"""The competitors notebook runs end to end on the real data, and skips cleanly without it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "competitors.ipynb"
MARKET_TOPICS = {"Gaming", "News & Social Concern", "Business & Entrepreneurs"}


def _execute(monkeypatch: pytest.MonkeyPatch, data: Path) -> list[dict]:
    """Run every cell in a fresh kernel of this interpreter; the outputs of each cell."""
    nbclient = pytest.importorskip("nbclient")
    nbformat = pytest.importorskip("nbformat")
    pytest.importorskip("ipykernel")
    monkeypatch.setenv("INTERESTMAP_DATA", str(data))
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbclient.NotebookClient(nb, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(NOTEBOOK.parent)}}).execute()
    return [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]


def _text(outputs: list[dict]) -> str:
    return "".join(o.get("text", "") for o in outputs if o.get("output_type") == "stream")


@pytest.mark.slow
def test_notebook_finds_overlaps_and_open_audiences(monkeypatch: pytest.MonkeyPatch,
                                                    data: Path) -> None:
    outputs = _execute(monkeypatch, data)
    assert not [o for o in outputs if o.get("output_type") == "error"]
    line = next(x for x in _text(outputs).splitlines() if x.startswith("SUMMARY "))
    summary = json.loads(line.removeprefix("SUMMARY "))
    # the market posts about topics no tracked account touches: those are the openings
    # (small mixed audiences, e.g. one language's leftovers, may be open too: each tracked
    # account can have a post or two there, under its 5 % focus, so judge them together)
    opened = summary["open_audiences"]
    assert opened, summary
    posts = sum(o["posts"] for o in opened)
    market = sum(o["posts"] * o["market_share"] for o in opened) / posts
    assert market >= 0.75, opened
    largest = max(opened, key=lambda o: o["posts"])
    assert largest["topic"].rsplit(" (", 1)[0] in MARKET_TOPICS, opened
    on_market_topic = sum(o["posts"] for o in opened
                          if o["topic"].rsplit(" (", 1)[0] in MARKET_TOPICS)
    assert on_market_topic / posts >= 0.75, opened
    ov = summary["overlap"]
    for a, row in ov.items():
        for b, v in row.items():
            assert v == pytest.approx(ov[b][a]) and 0.0 <= v <= row[a] <= 1.0
    mine = ov["@goalline"]  # sports + fitness: closest to the other sports + fitness account
    assert mine["@dailyreps"] > max(mine["@stagepass"], mine["@kitchenbeats"])
    assert any("application/vnd.plotly.v1+json" in o.get("data", {}) for o in outputs)


@pytest.mark.slow
def test_notebook_skips_cleanly_without_data(monkeypatch: pytest.MonkeyPatch,
                                             tmp_path: Path) -> None:
    outputs = _execute(monkeypatch, tmp_path / "no-data-here")
    assert not [o for o in outputs if o.get("output_type") == "error"]
    text = _text(outputs)
    assert "skipping: the X-Topic data is not in" in text
    assert "SUMMARY" not in text
