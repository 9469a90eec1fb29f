"""Shared look of the app's figures: colours, fonts, empty figures, notes, short labels.
"""

from __future__ import annotations

import html
from collections import Counter
from collections.abc import Sequence
from typing import Any

import plotly.graph_objects as go
from plotly.colors import qualitative

NO_AUDIENCE = "No clear audience"
"""Colour-group name of clips that belong to no audience."""

NO_MATCH = "No clips match these filters."
"""What an empty map says."""

GREY = "#c8c8c8"

PALETTE: tuple[str, ...] = tuple(dict.fromkeys(
    qualitative.Plotly + qualitative.D3 + qualitative.Dark24 + qualitative.Alphabet
    + qualitative.Light24))


STAR = "#ffb000"

FONT = "system-ui, -apple-system, Segoe UI, Roboto, sans-serif"


def group_colors(groups: Sequence[str]) -> dict[str, str]:
    """A stable colour for each group: the biggest get the most distinct colours and
    clips without an audience are grey."""
    counts = Counter(groups)
    named = sorted((g for g in counts if g != NO_AUDIENCE), key=lambda g: (-counts[g], g))
    out = {g: PALETTE[i % len(PALETTE)] for i, g in enumerate(named)}
    if NO_AUDIENCE in counts:
        out[NO_AUDIENCE] = GREY
    return out


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


def is_finite(v: Any) -> bool:
    """True when ``v`` is a finite number (not None, NaN or infinite)."""
    try:
        f = float(v)
    except (TypeError, ValueError):
        return False
    return f == f and f not in (float("inf"), float("-inf"))


def wrap_lines(text: str, width: int) -> list[str]:
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
