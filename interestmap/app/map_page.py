"""What the page needs to recolour and filter the drawn map by itself.

Changing the map's colouring or its filters must answer at once, even on 100k clips:
faster than any round trip that builds, sends and draws a new figure. So each map figure
carries, once, a compact description of its clips (``layout.meta.im_map``): for every
clip its account, language, audience and posting time as small integer codes; for every
colouring the group, colour, legend name and map label of each code; the styles of
:func:`interestmap.app.plots.map_figure`. ``static/map_page.js`` rebuilds from it the traces,
legend, audience names, density shading and one-line summary that the server would send
for the new choice (``tests/test_browser.py`` draws both and compares them), and asks
the server only where the page cannot tell (a date it cannot read, another map).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from interestmap.app.plots.density import DENSITY_BINS, DENSITY_FROM, density_kernel, density_style
from interestmap.app.plots.scatter import (
    DENSE_FROM,
    HIDDEN_META,
    HOVER_COMPACT,
    HOVER_RICH,
    HUGE_FROM,
    MAP_CONFIG,
    MARKER_META,
    MAX_LABELS,
    POINTS_META,
    WEBGL_FROM,
    decode_ints,
    encode_ints,
    label_style,
    label_text,
    point_marker,
    ring_style,
)
from interestmap.app.plots.style import (
    GREY,
    NO_AUDIENCE,
    NO_MATCH,
    is_finite,
    note_annotation,
    short,
)

COLUMNS = ("account", "language", "audience", "ts")
"""The clip fields the page filters and colours by (``ts``: ``published_ts``, seconds)."""
SUMMARY = ("Showing {shown} of {total} clips in {audiences} audiences. Hover a point to read "
           "it; click it to see the clip and its audience; drag the lasso or box (map "
           "toolbar) to list and export clips.")
LEFT_OUT = " ({unplaced} clip(s) with nothing to place are left out.)"
"""The map's one-line summary (numbers are written with thousands commas)."""
SCRIPT = Path(__file__).with_name("static") / "map_page.js"
"""The page's side: recolouring, filtering and the map's hooks (loaded into <head>)."""


@dataclass(frozen=True)
class ColourMode:
    """One way to colour the map."""

    title: str
    """As the user picks it; also the legend's title."""
    column: str
    """The clip field it reads: ``audience``, ``account`` or ``language``."""
    group: Callable[[Any], str]
    """The colour group of a value of that field (see :func:`column_value`)."""
    label_groups: bool = False
    """Write each group's name on the map."""


def column_value(row: Mapping[str, Any], column: str) -> Any:
    """A clip's value of one of :data:`COLUMNS`: ``audience`` as an int, ``ts`` as
    seconds (float), ``account`` and ``language`` as stored; None when absent."""
    if column == "audience":
        a = row.get("audience")
        return int(a) if a is not None else None
    if column == "ts":
        t = row.get("published_ts")
        return float(t) if t is not None and np.isfinite(float(t)) else None
    return row.get(column)


def summary_text(rows: Sequence[Mapping[str, Any]], total: int) -> str:
    """The map's one-line summary for the clips that pass its filters."""
    shown = sum(1 for r in rows if is_finite(r.get("x")) and is_finite(r.get("y")))
    audiences = len({int(r["audience"]) for r in rows
                     if r.get("audience") is not None and int(r["audience"]) >= 0})
    text = SUMMARY.format(shown=f"{shown:,}", total=f"{total:,}", audiences=f"{audiences:,}")
    if shown < len(rows):
        text += LEFT_OUT.format(unplaced=f"{len(rows) - shown:,}")
    return text


def page_data(points: Sequence[Mapping[str, Any]], modes: Mapping[str, ColourMode],
              colors: Mapping[str, Mapping[str, str]], *, view: Mapping[str, Any], key: str,
              total: int, rich: bool, language_filter: Mapping[str, str | None],
              selected: str | None = None, highlight: Sequence[str] = (),
              sampled: str | None = None) -> dict[str, Any]:
    """The description of a map's clips for the page (``map_figure(page=...)``).

    ``points`` are the figure's clips, in its order; ``modes`` the colourings, by the
    name the user picks (``colors[name]``: each group's colour, the same whatever the
    filters); ``view`` the choices the figure was drawn for (``index``, ``color``,
    ``accounts``, ``languages``, ``since``, ``until``, ``density``); ``key`` names this
    figure; ``total`` is the number of clips on the map; ``rich``: tooltips carry
    captions; ``language_filter`` maps each language the filter offers to the code the
    server filters on; ``sampled``: the summary of a down-sampled first draw.
    """
    cols: dict[str, dict[str, Any]] = {}
    for c in COLUMNS:
        table: dict[Any, int] = {}
        codes = np.fromiter((table.setdefault(column_value(r, c), len(table)) for r in points),
                            dtype=np.int64, count=len(points))
        cols[c] = {"values": list(table), "codes": encode_ints(codes)}
    out_modes: dict[str, Any] = {}
    for name, m in modes.items():
        per_value = [m.group(v) for v in cols[m.column]["values"]]
        groups = sorted(set(per_value))
        at = {g: i for i, g in enumerate(groups)}
        palette = colors.get(name, {})
        out_modes[name] = {
            "title": m.title, "column": m.column, "groups": groups,
            "of": [at[g] for g in per_value],
            "colors": [palette.get(g, GREY) for g in groups],
            "names": [short(g, 40) for g in groups],
            "labels": [label_text(g) for g in groups] if m.label_groups else None,
            "no_audience": at.get(NO_AUDIENCE, -1),
        }
    return {"key": key, "n": len(points), "total": int(total), "view": dict(view),
            "rich": bool(rich), "cols": cols, "modes": out_modes,
            "language_filter": dict(language_filter),
            "selected": None if selected is None else str(selected),
            "highlight": [str(h) for h in highlight],
            "summary": {"shown": SUMMARY, "left_out": LEFT_OUT, "sampled": sampled},
            "style": page_style()}


@lru_cache(maxsize=1)
def page_style() -> dict[str, Any]:
    """The pieces of :func:`interestmap.app.plots.map_figure` the page draws with."""
    tiers = {"small": 0, "dense": DENSE_FROM, "huge": HUGE_FROM}
    markers = {f"{kind}_{tier}": {
        k: v for k, v in point_marker(None, no_audience=kind == "none", n=n).items()
        if k != "color"} for kind in ("none", "named") for tier, n in tiers.items()}
    return {
        "webgl_from": WEBGL_FROM, "dense_from": DENSE_FROM,
        "huge_from": HUGE_FROM,
        "max_labels": MAX_LABELS, "density_from": DENSITY_FROM,
        "density": {"bins": DENSITY_BINS,
                    "kernel": [float(v) for v in density_kernel()],
                    "trace": density_style()},
        "markers": markers,
        "rings": {n: ring_style(n) for n in ("Selected clip", "Nearest clips")},
        "label": label_style(), "note": note_annotation(NO_MATCH),
        "hover": {"rich": HOVER_RICH, "compact": HOVER_COMPACT},
        "config": {**MAP_CONFIG, "responsive": True},
        "metas": {"points": POINTS_META, "hidden": HIDDEN_META,
                  "marker": MARKER_META},
    }


def page_view(choice: str, color: str, accounts: Sequence[str] | None,
              languages: Sequence[str] | None, since: Any, until: Any,
              density: bool) -> dict[str, Any]:
    """The map's choices as the page holds them (so both sides compare them alike)."""

    def text(v: Any) -> str | None:
        return None if v is None else (str(v).strip() or None)

    return {"index": str(choice), "color": str(color),
            "accounts": [str(a) for a in accounts or []],
            "languages": [str(v) for v in languages or []],
            "since": text(since), "until": text(until), "density": bool(density)}


def page_script() -> str:
    """The page's map code, as a <script> for the app's <head>."""
    return "<script>\n" + SCRIPT.read_text(encoding="utf-8") + "\n</script>\n"


def decoded(page: Mapping[str, Any]) -> dict[str, list[Any]]:
    """Each clip's value of each of :data:`COLUMNS`, decoded from a page description (for
    tests and for reading a figure back)."""
    return {c: [page["cols"][c]["values"][k] for k in decode_ints(page["cols"][c]["codes"])]
            for c in COLUMNS}
