"""Bar charts of the app: topic scores by source, audience shifts, values and shares.
"""

from __future__ import annotations

import html
from collections.abc import Mapping

import plotly.graph_objects as go

from interestmap.app.plots.style import FONT, PALETTE, empty_figure, short


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
            name=src, orientation="h", marker_color=PALETTE[j % len(PALETTE)],
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
            marker_color="#9aa5b1" if j == 0 else PALETTE[(j - 1) % len(PALETTE)],
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
    colors = {a: PALETTE[i % len(PALETTE)] for i, a in enumerate(accounts)}
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
        font={"family": FONT})
