"""The audience map: a Plotly scatter of clips by group, with markers, moves and labels.

The map switches to WebGL (``Scattergl``) for large corpora, where SVG becomes slow.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import plotly.graph_objects as go

from interestmap.app.plots.density import DENSITY_FROM, density_grid, density_trace
from interestmap.app.plots.style import (
    FONT,
    GREY,
    NO_AUDIENCE,
    NO_MATCH,
    STAR,
    add_note,
    group_colors,
    is_finite,
    short,
    wrap_lines,
)

WEBGL_FROM = 1500
"""Number of points from which the map is drawn with WebGL."""


@dataclass
class Marker:
    """A highlighted point on the map (a checked clip, a what-if variant)."""

    x: float
    y: float
    label: str
    symbol: str = "star"
    color: str = STAR
    show_label: bool = True
    """Write the label next to the marker (else it is only in the legend and hover)."""


@dataclass
class Move:
    """An arrow on the map from where a clip was to where a variant lands."""

    x0: float
    y0: float
    x1: float
    y1: float
    label: str
    color: str = "#222"


RICH_HOVER_UP_TO = 20_000
"""Up to this many points a tooltip carries the clip's caption; beyond, the tooltip names
the group and the clip card beside the map shows the caption (keeps the page light)."""

DENSE_FROM = 5000
"""From this many points, markers are smaller and drawn without an outline."""

HUGE_FROM = 50_000
"""From this many points, markers are smaller still (a 100k-point map stays readable, and
a browser without a graphics card redraws it in half the time)."""

MAX_LABELS = 60
"""Group names written on the map at most (the page hides those that would overlap)."""

HOVER_RICH = "%{customdata[1]}<extra></extra>"

HOVER_COMPACT = ("<b>%{fullData.name}</b><br><i>hover shows the clip beside the map</i>"
                 "<extra></extra>")


MAP_CONFIG: dict[str, Any] = {
    "scrollZoom": True, "displaylogo": False, "doubleClick": "reset",
    "modeBarButtonsToRemove": ["autoScale2d", "toImage"], "plotGlPixelRatio": 1,
}
"""Plotly config of the map: wheel zoom; pan, zoom, box and lasso select in its toolbar;
WebGL drawn at the screen's resolution (Plotly's default renders four times the pixels,
which doubles a redraw of 100k points where the browser draws WebGL in software)."""

POINTS_META, HIDDEN_META, MARKER_META = "im-points", "im-hidden", "im-marker"
"""``meta`` of the map's traces: clips shown (one trace per group), clips filtered out (one
invisible trace), and highlighted markers (a checked clip, a search)."""


def map_figure(
    points: Sequence[Mapping[str, Any]],
    groups: Sequence[str] | None = None,
    *,
    group_title: str = "Audience",
    markers: Sequence[Marker] = (),
    moves: Sequence[Move] = (),
    selected: str | None = None,
    label_groups: bool = True,
    webgl: bool | None = None,
    revision: str | None = None,
    focus: tuple[float, float, float, float] | None = None,
    density: bool = False,
    highlight: Sequence[str] = (),
    rich_hover: bool | None = None,
    label_names: Mapping[str, str] | None = None,
    shown: Sequence[bool] | None = None,
    colors: Mapping[str, str] | None = None,
    page: Mapping[str, Any] | None = None,
) -> go.Figure:
    """The map of clips, one colour per group, with hover text and highlighted points.

    ``points`` are clip payloads (``id``, ``x``, ``y`` and optionally ``caption``,
    ``account``, ``audience_label``, ``language``, ``published_at``); ``groups`` gives
    each point's colour group (default: its ``audience_label``). ``markers`` are drawn as
    large symbols on top, ``moves`` as arrows, ``selected`` (a clip id) is ringed and
    ``highlight`` (clip ids, e.g. a search's nearest clips) are ringed in colour.
    ``label_groups`` writes each group's name at its median position (the biggest first;
    ``label_names`` may give a shorter text per group); ``density`` shades where clips
    are dense; ``focus`` (x0, x1, y0, y1) zooms the view onto that box (the whole map
    stays a pan away). Coordinates go out as float32 arrays (compact in the page).

    ``shown`` (one flag per point) leaves points out of the map, as a filter does; they
    still travel, in one invisible trace, so the page can show them again by itself.
    ``colors`` fixes each group's colour (default: :func:`group_colors` of the shown
    points). ``page``: data for the page's own recolouring and filtering, stored in
    ``layout.meta.im_map`` together with ``rows``, the index in ``points`` of each point
    of the point traces, in trace order (see :mod:`interestmap.app.map_page`).
    """
    if groups is None:
        groups = [str(p.get("audience_label") or NO_AUDIENCE) for p in points]
    if len(groups) != len(points):
        raise ValueError("groups must have one entry per point")
    if shown is not None and len(shown) != len(points):
        raise ValueError("shown must have one entry per point")
    placed = [i for i, p in enumerate(points) if is_finite(p.get("x")) and is_finite(p.get("y"))]
    keep = placed if shown is None else [i for i in placed if shown[i]]
    use_gl = (len(keep) >= WEBGL_FROM) if webgl is None else webgl
    rich = (len(keep) <= RICH_HOVER_UP_TO) if rich_hover is None else rich_hover
    scatter = go.Scattergl if use_gl else go.Scatter
    fig = go.Figure()
    xs = np.array([float(points[i]["x"]) for i in placed], dtype=np.float32)
    ys = np.array([float(points[i]["y"]) for i in placed], dtype=np.float32)
    pos = {i: j for j, i in enumerate(placed)}
    if density and len(keep) >= DENSITY_FROM:
        rows = [pos[i] for i in keep]
        fig.add_trace(density_trace(*density_grid(xs[rows], ys[rows])))
    if colors is None:
        colors = group_colors([groups[i] for i in keep])
    by_group: dict[str, list[int]] = {}
    for i in keep:
        by_group.setdefault(groups[i], []).append(i)
    order = sorted(by_group, key=lambda g: (g == NO_AUDIENCE, -len(by_group[g]), g))
    template = HOVER_RICH if rich else HOVER_COMPACT

    def custom(idx: Sequence[int]) -> list[list[str]]:
        return ([[str(points[i].get("id", "")), hover_html(points[i])] for i in idx] if rich
                else [[str(points[i].get("id", ""))] for i in idx])

    drawn: list[int] = []
    # Clips without an audience go first, so the others are drawn over them.
    for g in sorted(order, key=lambda g: g != NO_AUDIENCE):
        idx = by_group[g]
        rows = np.array([pos[i] for i in idx])
        fig.add_trace(scatter(
            x=xs[rows], y=ys[rows], mode="markers", name=short(g, 40),
            legendrank=order.index(g) + 1, meta=POINTS_META,
            marker=point_marker(colors.get(g, GREY), no_audience=g == NO_AUDIENCE,
                                n=len(keep)),
            customdata=custom(idx), hovertemplate=template))
        drawn += idx
    out = [i for i in placed if shown is not None and not shown[i]]
    if out:
        rows = np.array([pos[i] for i in out])
        fig.add_trace(scatter(x=xs[rows], y=ys[rows], mode="markers", name="filtered out",
                              visible=False, showlegend=False, hoverinfo="skip",
                              meta=HIDDEN_META, customdata=custom(out)))
        drawn += out
    n_labels = _add_group_labels(fig, xs, ys, pos, by_group, order, label_names) \
        if label_groups else 0
    for name, ids in (("Selected clip", [str(selected)] if selected is not None else []),
                      ("Nearest clips", list(highlight))):
        want = set(ids)
        hit = [pos[i] for i in keep if str(points[i].get("id")) in want]
        if hit:
            fig.add_trace(go.Scatter(x=xs[hit], y=ys[hit], **ring_style(name)))
    for mv in moves:
        fig.add_annotation(x=mv.x1, y=mv.y1, ax=mv.x0, ay=mv.y0, xref="x", yref="y",
                           axref="x", ayref="y", showarrow=True, arrowhead=3, arrowsize=1.4,
                           arrowwidth=2.5, arrowcolor=mv.color, text="", standoff=9,
                           startstandoff=6)
    # Markers without a label first, so the labelled ones (the clip itself) stay on top.
    for m in sorted(markers, key=lambda m: m.show_label):
        fig.add_trace(go.Scatter(
            x=[m.x], y=[m.y], mode="markers+text" if m.show_label else "markers",
            name=short(m.label, 40), text=[m.label] if m.show_label else None,
            textposition="top center", textfont={"size": 13, "color": "#111"},
            marker={"symbol": m.symbol, "size": 24 if m.show_label else 18, "color": m.color,
                    "line": {"width": 1.5, "color": "#111"}}, meta=MARKER_META,
            hovertemplate=f"<b>{html.escape(m.label)}</b><extra></extra>", legendrank=0))
    _style_map(fig, group_title, revision)
    meta: dict[str, Any] = {"im_labels": n_labels, "im_points": len(keep)}
    if page is not None:
        meta["im_map"] = {**page, "rows": encode_ints(np.asarray(drawn, dtype=np.int64))}
    fig.update_layout(meta=meta)
    if focus is not None:
        x0, x1, y0, y1 = focus
        fig.update_xaxes(range=[x0, x1])
        fig.update_yaxes(range=[y0, y1])
    if not keep and not markers:
        add_note(fig, NO_MATCH)
    return fig


def point_marker(color: str | None, *, no_audience: bool, n: int) -> dict[str, Any]:
    """The marker of a group's points on a map that shows ``n`` points."""
    size = 3 if n >= HUGE_FROM else (6 if no_audience else (8 if n < DENSE_FROM else 5))
    return {"size": size, "color": color,
            "opacity": 0.55 if no_audience else 0.85,
            "line": {"width": 0.5 if n < DENSE_FROM else 0, "color": "white"}}


def ring_style(name: str) -> dict[str, Any]:
    """The ring trace (all but ``x`` and ``y``) around the selected clip ("Selected clip")
    or a search's nearest clips ("Nearest clips")."""
    color, size = {"Selected clip": ("#111", 18), "Nearest clips": ("#d62728", 14)}[name]
    return {"mode": "markers", "name": name, "hoverinfo": "skip",
            "showlegend": name == "Nearest clips",
            "marker": {"size": size, "color": "rgba(0,0,0,0)",
                       "line": {"width": 2.5, "color": color}}}


def label_text(group: str, names: Mapping[str, str] | None = None) -> str:
    """The name written on the map for ``group`` (short, HTML-escaped)."""
    text = (names or {}).get(group) or group.split(" · ")[0]
    return html.escape(short(text, 26))


def label_style() -> dict[str, Any]:
    """A group name's annotation on the map, without its ``x``, ``y`` and ``text``."""
    return {"showarrow": False, "font": {"size": 11, "color": "rgba(20,20,20,0.9)"},
            "bgcolor": "rgba(255,255,255,0.6)", "borderpad": 1, "name": "group label"}


def encode_ints(values: Any) -> dict[str, str]:
    """Non-negative integers as compact base64 for the page: ``{"dtype": "u1"|"u2"|"u4",
    "bdata": ...}``, little-endian, in the smallest type that holds them."""
    import base64

    v = np.asarray(values, dtype=np.int64)
    if len(v) and int(v.min()) < 0:
        raise ValueError("encode_ints takes non-negative integers")
    top = int(v.max()) if len(v) else 0
    dtype = "u1" if top < 2 ** 8 else ("u2" if top < 2 ** 16 else "u4")
    return {"dtype": dtype,
            "bdata": base64.b64encode(v.astype("<" + dtype).tobytes()).decode("ascii")}


def decode_ints(spec: Mapping[str, Any]) -> np.ndarray:
    """The integers of :func:`encode_ints`."""
    import base64

    return np.frombuffer(base64.b64decode(spec["bdata"]),
                         dtype="<" + str(spec["dtype"])).astype(np.int64)


def hover_html(p: Mapping[str, Any]) -> str:
    """The tooltip of one clip: its audience, caption, account, language and date."""
    caption = str(p.get("caption") or "").strip() or "(no caption)"
    when = str(p.get("published_at") or "")[:10]
    return (f"<b>{html.escape(str(p.get('audience_label') or NO_AUDIENCE))}</b><br>"
            + "<br>".join(wrap_lines(html.escape(short(caption, 220)), 60))
            + f"<br><i>account:</i> {html.escape(str(p.get('account') or 'unknown'))}"
            f" · <i>language:</i> {html.escape(str(p.get('language') or '?'))}"
            + (f" · <i>posted:</i> {html.escape(when)}" if when else ""))


def _add_group_labels(fig: go.Figure, xs: np.ndarray, ys: np.ndarray, pos: Mapping[int, int],
                      by_group: Mapping[str, list[int]], order: Sequence[str],
                      names: Mapping[str, str] | None = None, most: int = MAX_LABELS) -> int:
    """Each group's name at its median position, biggest group first, as annotations
    (readable above WebGL points too). The page hides the ones that would overlap a
    bigger group's name, so names thin out as the map zooms out. Returns how many."""
    n = 0
    for g in [g for g in order if g != NO_AUDIENCE][:most]:
        rows = [pos[i] for i in by_group[g]]
        if len(rows) < 2:
            continue
        fig.add_annotation(x=float(np.median(xs[rows])), y=float(np.median(ys[rows])),
                           text=label_text(g, names), **label_style())
        n += 1
    return n


def _style_map(fig: go.Figure, group_title: str, revision: str | None) -> None:
    axis = {"showticklabels": False, "showgrid": False, "zeroline": False, "title": None,
            "showline": False}
    fig.update_layout(
        template="plotly_white", height=620, margin={"l": 10, "r": 10, "t": 30, "b": 10},
        xaxis=axis, yaxis={**axis, "scaleanchor": "x", "scaleratio": 1},
        legend={"title": {"text": group_title}, "itemsizing": "constant",
                "font": {"size": 11}},
        hoverlabel={"bgcolor": "white", "font": {"size": 12, "family": FONT},
                    "align": "left"},
        font={"family": FONT}, dragmode="pan", uirevision=revision or True,
        clickmode="event", selectdirection="any",
        modebar={"orientation": "v", "add": ["lasso2d", "select2d"]})
