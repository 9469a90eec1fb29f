"""The What if tab: how edits to the checked clip move it on the map and across audiences.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from interestmap.app.plots.bars import shift_bars
from interestmap.app.plots.scatter import Marker, Move, map_figure
from interestmap.app.plots.style import group_colors, short
from interestmap.app.views.check_tab import check_key, make_clip
from interestmap.app.views.indexes import Progress, clip_rows, get_index
from interestmap.app.views.map_tab import color_groups
from interestmap.app.views.words import escape_md, language_code
from interestmap.errors import ConfigError
from interestmap.signals.language import language_name

if TYPE_CHECKING:
    from interestmap.index.interest_index import InterestIndex


@dataclass
class WhatIfView:
    """What the what-if tab shows."""

    map: Any
    changes_md: str
    audiences: Any
    topics: Any
    report: dict[str, Any]


_VARIANT_SYMBOLS = ("diamond", "square", "triangle-up", "pentagon", "hexagon", "cross")


def whatif_edits(*, caption: str | None = None, language: Any = None, geo: str | None = None,
                 new_caption: str | None = None, new_language: Any = None,
                 new_geo: str | None = None, new_visuals: str | None = None,
                 new_audio: str | None = None, remove: Sequence[str] = ()) -> list[Any]:
    """The what-if edits the form asks for (fields left as they were are no edit)."""
    from interestmap.analysis.whatif import Edit

    edits = []
    if new_caption is not None and new_caption.strip() and \
            new_caption.strip() != (caption or "").strip():
        edits.append(Edit("caption", new_caption.strip()))
    lang = language_code(new_language)
    if lang and lang != language_code(language):
        edits.append(Edit("language", lang))
    g = (new_geo or "").strip()
    if g and g != (geo or "").strip():
        edits.append(Edit("geo", g))
    if new_visuals:
        edits.append(Edit("frames", str(new_visuals)))
    if new_audio:
        edits.append(Edit("audio", str(new_audio)))
    edits += [Edit("drop", r) for r in remove]
    return edits


def whatif_view(choice: str | None, files: Sequence[str] | str | None, caption: str | None,
                language: Any = None, geo: str | None = None, *, new_caption: str | None = None,
                new_language: Any = None, new_geo: str | None = None,
                new_visuals: str | None = None, new_audio: str | None = None,
                remove: Sequence[str] = (), checked: Any = None,
                progress: Progress | None = None) -> WhatIfView:
    """Apply the edits to the clip, one version per edit (and one with all of them), and
    show how each moves it: arrows on the map, audiences and topics before and after.

    ``checked`` is what :func:`check_clip_view` returned as ``encoded`` for the same
    inputs; it spares encoding the clip again."""
    from interestmap.analysis.analyze import analyze_encoded, encoder_for
    from interestmap.analysis.whatif import whatif

    paths = [files] if isinstance(files, str | Path) else list(files or [])
    if not paths and not (caption or "").strip():
        raise ConfigError("first add your clip on the Check a clip tab, then change "
                          "something here")
    edits = whatif_edits(caption=caption, language=language, geo=geo,
                         new_caption=new_caption, new_language=new_language, new_geo=new_geo,
                         new_visuals=new_visuals, new_audio=new_audio, remove=remove)
    if not edits:
        raise ConfigError("change something first: a new caption, language, place, "
                          "picture or sound, or leave a part out")
    idx = get_index(choice)
    say = progress or (lambda *a, **k: None)
    key = check_key(choice, files, caption, language, geo)
    if isinstance(checked, list | tuple) and len(checked) == 2 and checked[0] == key:
        encoded = checked[1]
    else:
        say(0.05, desc="Reading your clip")
        encoded = encoder_for(idx).encode(make_clip(files, caption, language, geo))
    original = analyze_encoded(encoded, idx)
    groups: list[Any] = [[e] for e in edits]
    if len(edits) > 1:
        groups.append(list(edits))
    say(0.3, desc="Trying the changes")
    rep = whatif(original, groups, idx)
    say(1.0, desc="Done")
    names = [_variant_name(v.edits, len(edits)) for v in rep.variants]
    return WhatIfView(map=_whatif_map(idx, rep, names),
                      changes_md=_whatif_markdown(rep, names, _map_extent(clip_rows(idx))),
                      audiences=_whatif_audience_bars(rep, names),
                      topics=shift_bars(
                          {"before": _topic_probs(rep.original),
                           **{n: _topic_probs(v.analysis) for n, v in
                              zip(names, rep.variants, strict=True)}},
                          axis_title="probability of each declared topic"),
                      report=rep.as_dict())


def _variant_name(edits: Sequence[Any], n_edits: int) -> str:
    if len(edits) > 1 and len(edits) == n_edits:
        return "all changes together"
    return "; ".join(_edit_words(e) for e in edits)


def _edit_words(e: Any) -> str:
    v = str(e.value)
    if e.kind == "caption":
        return f"caption “{short(v, 28)}”"
    if e.kind == "language":
        return f"in {language_name(v)}"
    if e.kind == "geo":
        return f"posted in {short(v, 24)}"
    if e.kind in ("frames", "media"):
        return f"pictures from {short(Path(v).name, 24)}"
    if e.kind == "audio":
        return f"sound from {short(Path(v).name, 24)}"
    return e.describe()


def _topic_probs(analysis: Any) -> dict[str, float]:
    ts = analysis.topics
    if not ts.block_weights:
        return {}
    return {t.name: float(p) for t, p in zip(ts.topics, ts.probabilities, strict=True)}


def _whatif_map(idx: InterestIndex, rep: Any, names: Sequence[str]) -> Any:
    rows = clip_rows(idx)
    x0, y0 = rep.original.nearest.x, rep.original.nearest.y
    markers, moves = [], []
    if x0 is not None and y0 is not None:
        markers.append(Marker(float(x0), float(y0), "Your clip"))
    colors = group_colors([f"v{i}" for i in range(len(rep.variants))])
    for i, (v, name) in enumerate(zip(rep.variants, names, strict=True)):
        x1, y1 = v.map_to
        if x1 is None or y1 is None:
            continue
        color = colors[f"v{i}"]
        markers.append(Marker(float(x1), float(y1), name,
                                    symbol=_VARIANT_SYMBOLS[i % len(_VARIANT_SYMBOLS)],
                                    color=color, show_label=False))
        if x0 is not None and y0 is not None and (v.map_distance or 0.0) > 1e-3:
            moves.append(Move(float(x0), float(y0), float(x1), float(y1), name, color))
    fig = map_figure(rows, color_groups(idx, rows, "audience"), markers=markers,
                           moves=moves, revision=f"whatif:{idx.dir}",
                           focus=_focus([(m.x, m.y) for m in markers], _map_extent(rows)))
    for m in fig.data:  # the base map recedes, the versions stand out
        if getattr(m, "mode", None) == "markers" and m.name not in {mk.label for mk in markers}:
            m.marker.opacity = 0.35
    return fig


def _whatif_audience_bars(rep: Any, names: Sequence[str]) -> Any:
    before: dict[str, float] = {}
    series: dict[str, dict[str, float]] = {}
    for v, name in zip(rep.variants, names, strict=True):
        series[name] = {}
        for a in (m.as_dict() for m in v.audiences):
            before[a["label"]] = a["similarity_before"]
            series[name][a["label"]] = a["similarity_after"]
    return shift_bars({"before": before, **series},
                            axis_title="match with the audience")


def _focus(points: Sequence[tuple[float, float]], extent: float,
           share: float = 0.22) -> tuple[float, float, float, float] | None:
    """A box around the points at least ``share`` of the map wide (None: no points)."""
    if not points:
        return None
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    cx, cy = (min(xs) + max(xs)) / 2, (min(ys) + max(ys)) / 2
    half = max(share * extent, max(xs) - min(xs), max(ys) - min(ys)) * 0.75
    return cx - half, cx + half, cy - half, cy + half


def _map_extent(rows: Sequence[Mapping[str, Any]]) -> float:
    xs = [float(r["x"]) for r in rows if r.get("x") is not None]
    ys = [float(r["y"]) for r in rows if r.get("y") is not None]
    if not xs:
        return 1.0
    return max(max(xs) - min(xs), max(ys) - min(ys), 1e-6)


def _move_words(distance: float, extent: float) -> str:
    share = distance / extent
    how = ("barely moves" if share < 0.03 else "moves a little" if share < 0.10 else
           "moves clearly" if share < 0.30 else "moves far")
    return f"{how.capitalize()} on the map ({share:.0%} of its width; see the arrow)."


def _whatif_markdown(rep: Any, names: Sequence[str], extent: float = 1.0) -> str:
    lines = []
    o = rep.original
    top0 = o.agreement.top_topic["name"] if o.agreement.top_topic else "no topic"
    lines += [f"**Your clip now:** about **{escape_md(top0)}**, clarity {o.clarity.score}/100.", ""]
    for v, name in zip(rep.variants, names, strict=True):
        lines.append(f"#### {escape_md(name)}")
        lines.append("")
        if v.top_topic_after and v.topic_kept:
            topic = f"Still about **{escape_md(v.top_topic_after['name'])}**"
        elif v.top_topic_after:
            topic = f"Now about **{escape_md(v.top_topic_after['name'])}** instead of {escape_md(top0)}"
        else:
            topic = "Nothing in it says a topic any more"
        lines.append(f"- {topic}; clarity {v.clarity_before} → **{v.clarity_after}**.")
        if v.map_distance is not None and v.map_distance > 1e-3:
            lines.append(f"- {_move_words(v.map_distance, extent)}")
        elif v.map_distance is not None:
            lines.append("- Stays at the same place on the map: the map shows what clips are "
                         "about, and this change affects *who* sees it, not what it is about.")
        if v.audiences:
            a = v.audiences[0].as_dict()
            was = (f"was #{a['rank_before']}" if a["rank_before"] != 1 else "was also first")
            lines.append(f"- Nearest audience: **{escape_md(a['label'])}** ({was}); match "
                         f"{a['similarity_before']:.2f} → {a['similarity_after']:.2f}.")
            gains = sorted((r.as_dict() for r in v.audiences), key=lambda r: -r["change"])
            up = [r for r in gains if r["change"] > 0.005][:2]
            down = [r for r in gains[::-1] if r["change"] < -0.005][:2]
            if up:
                lines.append("- Closer to: " + ", ".join(
                    f"{escape_md(r['label'])} (+{r['change']:.2f})" for r in up) + ".")
            if down:
                lines.append("- Further from: " + ", ".join(
                    f"{escape_md(r['label'])} ({r['change']:.2f})" for r in down) + ".")
        d = v.attribution_delta.get("original_top_audience") or {}
        if d.get("main_change"):
            from interestmap.analysis.analyze import BLOCK_WORDS

            b = d["main_change"]
            lines.append(f"- What changed the match most: the {escape_md(BLOCK_WORDS.get(b, b))}.")
        lines.append("")
    return "\n".join(lines).strip()
