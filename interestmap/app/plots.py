"""Plotly figures for the app: the audience map, topic bars, audience shifts and shares.

Every function takes plain data (clip payloads, ``{name: score}`` mappings) and returns a
``plotly.graph_objects.Figure``; none of them computes anything about clips. The map
switches to WebGL (``Scattergl``) for large corpora, where SVG becomes slow.
"""

from __future__ import annotations

import html
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import plotly.graph_objects as go
from plotly.colors import qualitative

NO_AUDIENCE = "No clear audience"
"""Colour-group name of clips that belong to no audience."""
NO_MATCH = "No clips match these filters."
"""What an empty map says."""
WEBGL_FROM = 1500
"""Number of points from which the map is drawn with WebGL."""
_GREY = "#c8c8c8"
_PALETTE: tuple[str, ...] = tuple(dict.fromkeys(
    qualitative.Plotly + qualitative.D3 + qualitative.Dark24 + qualitative.Alphabet
    + qualitative.Light24))
_STAR = "#ffb000"
_FONT = "system-ui, -apple-system, Segoe UI, Roboto, sans-serif"


@dataclass
class Marker:
    """A highlighted point on the map (a checked clip, a what-if variant)."""

    x: float
    y: float
    label: str
    symbol: str = "star"
    color: str = _STAR
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


# The map -----------------------------------------------------------------------------------
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
DENSITY_FROM = 20
"""Density shading needs at least this many points."""
DENSITY_BINS = 90
DENSITY_SIGMA = 1.6
"""Density shading: a ``DENSITY_BINS``² histogram smoothed by a Gaussian of this many bins."""
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
    placed = [i for i, p in enumerate(points) if _finite(p.get("x")) and _finite(p.get("y"))]
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
            marker=point_marker(colors.get(g, _GREY), no_audience=g == NO_AUDIENCE,
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


def density_kernel(sigma: float = DENSITY_SIGMA) -> np.ndarray:
    """The normalised Gaussian weights that smooth the density histogram (radius 4σ)."""
    r = int(4.0 * sigma + 0.5)
    k = np.exp(-0.5 * (np.arange(-r, r + 1, dtype=np.float64) / sigma) ** 2)
    return k / k.sum()


def density_grid(xs: np.ndarray, ys: np.ndarray, bins: int = DENSITY_BINS,
                 sigma: float = DENSITY_SIGMA) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Where points crowd: a ``bins``² histogram over the points' extent (5 % margin),
    smoothed by a Gaussian (``sigma`` bins, mirrored at the edges), scaled to a peak of 1
    and rounded to 3 decimals. Returns ``z`` (rows: y), the x and the y bin centres.

    Written step by step in float64, so that the page computes the very same grid when
    it filters the map by itself (``static/map_page.js``)."""

    def axis(v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        v = v.astype(np.float64)
        lo, hi = float(v.min()), float(v.max())
        pad = 0.05 * ((hi - lo) or 1.0)
        lo, hi = lo - pad, hi + pad
        width = (hi - lo) / bins
        idx = np.clip(np.floor((v - lo) / width).astype(np.int64), 0, bins - 1)
        return idx, lo + (np.arange(bins) + 0.5) * width

    ix, xc = axis(xs)
    iy, yc = axis(ys)
    h = np.zeros((bins, bins), dtype=np.float64)
    np.add.at(h, (iy, ix), 1.0)
    k = density_kernel(sigma)
    z = _smooth(_smooth(h, k, 0), k, 1)
    z = z / (z.max() or 1.0)
    return (np.round(z, 3).astype(np.float32), xc.astype(np.float32),
            yc.astype(np.float32))


def _smooth(a: np.ndarray, k: np.ndarray, axis: int) -> np.ndarray:
    """``a`` convolved with the symmetric kernel ``k`` along ``axis`` (0 or 1), mirrored
    at the edges (scipy.ndimage's "reflect"), summed tap by tap."""
    r = len(k) // 2
    n = a.shape[axis]
    pad = [(0, 0), (0, 0)]
    pad[axis] = (r, r)
    p = np.pad(a, pad, mode="symmetric")
    out = np.zeros_like(a)
    for j in range(len(k)):
        out += k[j] * (p[j:j + n, :] if axis == 0 else p[:, j:j + n])
    return out


def density_trace(z: np.ndarray, xc: np.ndarray, yc: np.ndarray) -> go.Contour:
    """Filled contours of a density grid, drawn under the points (a few kB whatever the
    number of clips)."""
    return go.Contour(z=z, x=xc, y=yc, **density_style())


def density_style() -> dict[str, Any]:
    """The density trace, without its ``z``, ``x`` and ``y``."""
    return {"name": "density", "showscale": False, "hoverinfo": "skip", "showlegend": False,
            "ncontours": 8, "line": {"width": 0},
            "contours": {"coloring": "fill", "start": 0.04, "end": 1.0, "size": 0.12},
            "colorscale": [[0, "rgba(255,255,255,0)"], [0.15, "rgba(90,110,160,0.10)"],
                           [1, "rgba(40,60,120,0.42)"]]}


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


def group_colors(groups: Sequence[str]) -> dict[str, str]:
    """A stable colour for each group: the biggest get the most distinct colours and
    clips without an audience are grey."""
    counts = Counter(groups)
    named = sorted((g for g in counts if g != NO_AUDIENCE), key=lambda g: (-counts[g], g))
    out = {g: _PALETTE[i % len(_PALETTE)] for i, g in enumerate(named)}
    if NO_AUDIENCE in counts:
        out[NO_AUDIENCE] = _GREY
    return out


def hover_html(p: Mapping[str, Any]) -> str:
    """The tooltip of one clip: its audience, caption, account, language and date."""
    caption = str(p.get("caption") or "").strip() or "(no caption)"
    when = str(p.get("published_at") or "")[:10]
    return (f"<b>{html.escape(str(p.get('audience_label') or NO_AUDIENCE))}</b><br>"
            + "<br>".join(_wrap(html.escape(short(caption, 220)), 60))
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
        hoverlabel={"bgcolor": "white", "font": {"size": 12, "family": _FONT},
                    "align": "left"},
        font={"family": _FONT}, dragmode="pan", uirevision=revision or True,
        clickmode="event", selectdirection="any",
        modebar={"orientation": "v", "add": ["lasso2d", "select2d"]})


# Bars --------------------------------------------------------------------------------------
def topic_bars(scores: Mapping[str, Mapping[str, float]], *, top: int = 8,
               order_by: str | None = None, title: str = "Declared topics by what the clip shows",
               axis_title: str = "match") -> go.Figure:
    """Grouped horizontal bars: one bar per source (caption, speech, visuals, ...) for
    each of the ``top`` topics. Topics are ranked by ``order_by``'s scores (default: the
    best score over all sources)."""
    scores = {src: dict(s) for src, s in scores.items() if s}
    if not scores:
        return empty_figure("No topic scores: the clip has no caption, speech, text or "
                            "visuals to read a topic from.")
    if order_by in scores:
        rank = scores[order_by]
    else:
        rank = {}
        for s in scores.values():
            for t, v in s.items():
                rank[t] = max(rank.get(t, float("-inf")), float(v))
    topics = sorted(rank, key=lambda t: -float(rank[t]))[:top]
    topics.reverse()  # the best at the top of a horizontal bar chart
    fig = go.Figure()
    for j, (src, s) in enumerate(scores.items()):
        fig.add_trace(go.Bar(
            y=[short(t, 32) for t in topics], x=[float(s.get(t, 0.0)) for t in topics],
            name=src, orientation="h", marker_color=_PALETTE[j % len(_PALETTE)],
            hovertemplate=f"{html.escape(src)}: %{{x:.2f}}<extra>%{{y}}</extra>"))
    fig.update_layout(barmode="group", bargap=0.25, bargroupgap=0.05)
    _style_bars(fig, title, axis_title, height=120 + 34 * len(topics) * max(1, len(scores)) // 2)
    return fig


def shift_bars(series: Mapping[str, Mapping[str, float]], *, top: int = 8,
               title: str = "", axis_title: str = "match") -> go.Figure:
    """Grouped bars comparing several versions (first: the original, in grey) over the
    names that score highest in any of them."""
    series = {k: dict(v) for k, v in series.items()}
    best: dict[str, float] = {}
    for values in series.values():
        for n, v in values.items():
            best[n] = max(best.get(n, float("-inf")), float(v))
    names = sorted(best, key=lambda n: -best[n])[:top][::-1]
    if not names:
        return empty_figure("Nothing to compare.")
    fig = go.Figure()
    for j, (label, values) in enumerate(series.items()):
        fig.add_trace(go.Bar(
            y=[short(n, 32) for n in names], x=[float(values.get(n, 0.0)) for n in names],
            name=short(label, 40), orientation="h",
            marker_color="#9aa5b1" if j == 0 else _PALETTE[(j - 1) % len(_PALETTE)],
            hovertemplate=f"{html.escape(label)}: %{{x:.2f}}<extra>%{{y}}</extra>"))
    fig.update_layout(barmode="group", bargap=0.25)
    _style_bars(fig, title, axis_title, height=140 + 18 * len(names) * (1 + len(series)))
    return fig


def value_bars(values: Mapping[str, float], *, title: str = "", axis_title: str = "",
               percent: bool = False, top: int = 12, color: str = "#1f77b4") -> go.Figure:
    """One horizontal bar per name, largest on top (``percent``: values are shares)."""
    items = sorted(values.items(), key=lambda kv: -float(kv[1]))[:top][::-1]
    if not items:
        return empty_figure("Nothing to show.")
    fmt = "%{x:.0%}" if percent else "%{x:.2f}"
    fig = go.Figure(go.Bar(
        y=[short(k, 32) for k, _ in items], x=[float(v) for _, v in items], orientation="h",
        marker_color=color, text=[f"{v:.0%}" if percent else f"{v:.2f}" for _, v in items],
        textposition="auto", hovertemplate=f"{fmt}<extra>%{{y}}</extra>"))
    _style_bars(fig, title, axis_title, height=110 + 30 * len(items))
    if percent:
        fig.update_xaxes(tickformat=".0%")
    return fig


def share_bars(shares: Mapping[str, Mapping[str, float]], *, title: str = "",
               axis_title: str = "share of the audience's clips",
               highlight: str | None = None) -> go.Figure:
    """Stacked horizontal bars: for each audience (key), the share of its clips that
    each account (inner key) posted; what is left is shown as "everyone else"."""
    if not shares:
        return empty_figure("No audiences to show.")
    audiences = list(shares)[::-1]
    accounts: list[str] = []
    for s in shares.values():
        accounts += [a for a in s if a not in accounts]
    if highlight in accounts:
        accounts.remove(highlight)
        accounts.insert(0, highlight)
    colors = {a: _PALETTE[i % len(_PALETTE)] for i, a in enumerate(accounts)}
    fig = go.Figure()
    for a in accounts:
        fig.add_trace(go.Bar(
            y=[short(x, 32) for x in audiences],
            x=[float(shares[x].get(a, 0.0)) for x in audiences], name=a, orientation="h",
            marker={"color": colors[a], "line": {"width": 2 if a == highlight else 0,
                                                 "color": "#111"}},
            hovertemplate=f"{html.escape(a)}: %{{x:.0%}}<extra>%{{y}}</extra>"))
    rest = [max(0.0, 1.0 - sum(float(v) for v in shares[x].values())) for x in audiences]
    fig.add_trace(go.Bar(y=[short(x, 32) for x in audiences], x=rest, name="everyone else",
                         orientation="h", marker_color="#eeeeee",
                         hovertemplate="everyone else: %{x:.0%}<extra>%{y}</extra>"))
    fig.update_layout(barmode="stack", bargap=0.3)
    _style_bars(fig, title, axis_title, height=140 + 30 * len(audiences))
    fig.update_xaxes(tickformat=".0%", range=[0, 1])
    return fig


def _style_bars(fig: go.Figure, title: str, axis_title: str, height: int) -> None:
    fig.update_layout(
        template="plotly_white", height=max(220, min(height, 900)),
        title={"text": title, "font": {"size": 14}} if title else None,
        margin={"l": 10, "r": 10, "t": 40 if title else 10, "b": 40},
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.0, "x": 0},
        xaxis={"title": {"text": axis_title}}, yaxis={"automargin": True},
        font={"family": _FONT})


# Helpers -------------------------------------------------------------------------------------
def empty_figure(message: str) -> go.Figure:
    """A blank figure that says ``message`` in the middle."""
    fig = go.Figure()
    fig.update_layout(template="plotly_white", height=260, xaxis={"visible": False},
                      yaxis={"visible": False}, margin={"l": 10, "r": 10, "t": 10, "b": 10})
    add_note(fig, message)
    return fig


def add_note(fig: go.Figure, message: str) -> None:
    """Write ``message`` in the middle of a figure."""
    fig.add_annotation(**note_annotation(message))


def note_annotation(message: str) -> dict[str, Any]:
    """The annotation that writes ``message`` in the middle of a figure."""
    return {"text": html.escape(message), "xref": "paper", "yref": "paper", "x": 0.5,
            "y": 0.5, "showarrow": False, "font": {"size": 15, "color": "#555"},
            "name": "note"}


def _finite(v: Any) -> bool:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return False
    return f == f and f not in (float("inf"), float("-inf"))


def _wrap(text: str, width: int) -> list[str]:
    """Greedy word wrap (long words are cut), quick enough for tens of thousands of captions."""
    lines: list[str] = []
    cur = ""
    for word in text.split():
        while len(word) > width:
            if cur:
                lines.append(cur)
                cur = ""
            lines.append(word[:width])
            word = word[width:]
        if not cur:
            cur = word
        elif len(cur) + 1 + len(word) <= width:
            cur += " " + word
        else:
            lines.append(cur)
            cur = word
    if cur:
        lines.append(cur)
    return lines


def short(text: str, n: int) -> str:
    """``text`` on one line, cut to ``n`` characters with an ellipsis."""
    text = " ".join(str(text).split())
    return text if len(text) <= n else text[: n - 1].rstrip() + "…"
