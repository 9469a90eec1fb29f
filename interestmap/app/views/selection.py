"""The map's search, its lasso/box selection (listed and exported) and the pinned clip.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from interestmap.app.plots.style import NO_AUDIENCE, short
from interestmap.app.views.indexes import clip_rows, get_index
from interestmap.app.views.map_tab import audience_labels, map_filters
from interestmap.app.views.words import escape_md
from interestmap.errors import ConfigError


def search_view(choice: str | None, query: str | None, k: int = 10) -> dict[str, Any]:
    """Where a text lands on the map and its ``k`` nearest clips: ``{"query", "x", "y",
    "clips": [{"id", "caption", "account", "audience", "similarity"}], "audience"}``.

    The text is encoded like a caption-only clip with the map's own encoders, placed on
    the map and compared with every clip."""
    from interestmap.analysis.analyze import encoder_for
    from interestmap.clip import Clip

    q = (query or "").strip()
    if not q:
        raise ConfigError("type a few words to search for, e.g. street food in Rome")
    if len(q) > 500:
        raise ConfigError("that is a long search: keep it under 500 characters")
    idx = get_index(choice)
    enc = encoder_for(idx, ocr=False, asr=False).encode(Clip(caption=q, id="search"))
    xy = idx.place(enc.fused)[0]
    hits = [h.as_dict() for h in idx.nearest_clips(enc.fused, k=k)]
    names = audience_labels(idx)
    near = idx.nearest(enc, k=1, k_clips=0).as_dict()["audiences"]
    out = {"query": q, "x": None if np.isnan(xy[0]) else float(xy[0]),
           "y": None if np.isnan(xy[1]) else float(xy[1]),
           "audience": near[0]["label"] if near else None,
           "clips": [{"id": str(h["id"]), "caption": str(h.get("caption") or ""),
                      "account": str(h.get("account") or ""),
                      "audience": names.get(int(h["audience"]), NO_AUDIENCE)
                      if h.get("audience") is not None and int(h["audience"]) >= 0
                      else NO_AUDIENCE,
                      "similarity": float(h["similarity"])} for h in hits]}
    return out


def search_markdown(res: Mapping[str, Any]) -> str:
    """A search result in words: where the query lands and its nearest clips."""
    if not res:
        return ""
    lines = [f"**“{escape_md(res['query'])}”** lands in **{escape_md(res.get('audience') or 'no audience')}**"
             " (red diamond on the map; its nearest clips are ringed in red):", ""]
    lines += [f"{i}. {escape_md(short(c['caption'] or '(no caption)', 110))} — "
              f"*{escape_md(c['account'] or '?')}* · {escape_md(short(c['audience'], 40))} "
              f"({c['similarity']:.2f})" for i, c in enumerate(res["clips"], 1)]
    return "\n".join(lines)


SELECTION_COLUMNS = ("id", "account", "language", "published_at", "audience", "caption")


def parse_selection(selection: Any) -> dict[str, Any] | None:
    """A selection from the map's lasso or box, as the page sends it (JSON text:
    ``{"lasso": {"x": [...], "y": [...]}}`` or ``{"box": {"x": [x0, x1], "y": [y0, y1]}}``);
    None when empty. A clear error for anything else."""
    import json

    if selection is None or selection == "":
        return None
    if isinstance(selection, str):
        text = selection.split("|", 1)[0].strip()
        if not text:
            return None
        try:
            selection = json.loads(text)
        except ValueError:
            raise ConfigError("that selection could not be read: draw it again") from None
    if not isinstance(selection, Mapping):
        raise ConfigError("that selection could not be read: draw it again")
    for kind in ("lasso", "box"):
        shape = selection.get(kind)
        if isinstance(shape, Mapping):
            xs = [float(v) for v in shape.get("x") or []]
            ys = [float(v) for v in shape.get("y") or []]
            need = 3 if kind == "lasso" else 2
            if len(xs) < need or len(xs) != len(ys):
                raise ConfigError("that selection is too small: draw around a few points")
            return {kind: {"x": xs, "y": ys}}
    raise ConfigError("that selection could not be read: draw it again")


def points_inside(xs: np.ndarray, ys: np.ndarray, shape: Mapping[str, Any]) -> np.ndarray:
    """Which points lie inside a lasso polygon or a box (even-odd rule)."""
    if "box" in shape:
        bx, by = shape["box"]["x"], shape["box"]["y"]
        return ((xs >= min(bx)) & (xs <= max(bx)) & (ys >= min(by)) & (ys <= max(by)))
    px = np.asarray(shape["lasso"]["x"], dtype=np.float64)
    py = np.asarray(shape["lasso"]["y"], dtype=np.float64)
    inside = np.zeros(len(xs), dtype=bool)
    j = len(px) - 1
    for i in range(len(px)):
        cross = (py[i] > ys) != (py[j] > ys)
        with np.errstate(divide="ignore", invalid="ignore"):
            xint = (px[j] - px[i]) * (ys - py[i]) / (py[j] - py[i]) + px[i]
        inside ^= cross & (xs < xint)
        j = i
    return inside


@dataclass
class SelectionView:
    """What the map shows about a lasso or box selection."""

    summary_md: str
    table: list[list[Any]]
    csv_path: str | None
    jsonl_path: str | None
    clips: list[dict[str, Any]]


def selection_view(choice: str | None, selection: Any,
                   accounts: Sequence[str] | None = None,
                   languages: Sequence[str] | None = None, since: Any = None,
                   until: Any = None, label_language: str | None = None,
                   export_dir: str | Path | None = None) -> SelectionView:
    """The clips inside a lasso or box on the map (with the map's filters), listed, and
    written to a CSV and a JSONL file for download."""
    shape = parse_selection(selection)
    if shape is None:
        return SelectionView("Drag the **lasso** or **box** (map toolbar, top right) around "
                             "some points to list their clips here.", [], None, None, [])
    idx = get_index(choice)
    rows = [r for r in clip_rows(idx, map_filters(accounts, languages, since, until))
            if r.get("x") is not None and r.get("y") is not None]
    xs = np.array([float(r["x"]) for r in rows])
    ys = np.array([float(r["y"]) for r in rows])
    inside = points_inside(xs, ys, shape) if rows else np.zeros(0, dtype=bool)
    names = audience_labels(idx, label_language)
    clips = []
    for r in (rows[i] for i in np.flatnonzero(inside)):
        a = r.get("audience")
        clips.append({"id": str(r.get("id")), "account": str(r.get("account") or ""),
                      "language": str(r.get("language") or ""),
                      "published_at": str(r.get("published_at") or ""),
                      "audience": names.get(int(a), NO_AUDIENCE)
                      if a is not None and int(a) >= 0 else NO_AUDIENCE,
                      "caption": str(r.get("caption") or ""), "x": float(r["x"]),
                      "y": float(r["y"])})
    if not clips:
        return SelectionView("No clips inside that shape: draw around some points.",
                             [], None, None, [])
    csv_path, jsonl_path = export_selection(clips, export_dir)
    top = Counter(c["audience"] for c in clips).most_common(3)
    accs = Counter(c["account"] for c in clips).most_common(3)
    summary = (f"**{len(clips):,} clips selected**, mostly in "
               + ", ".join(f"{escape_md(a)} ({n})" for a, n in top) + "; from "
               + ", ".join(f"{escape_md(a)} ({n})" for a, n in accs)
               + ". Download them as CSV or JSONL below.")
    table = [[c[k] if k != "caption" else short(c[k], 140) for k in SELECTION_COLUMNS]
             for c in clips[:500]]
    if len(clips) > 500:
        summary += " (The table lists the first 500; the files hold all of them.)"
    return SelectionView(summary, table, csv_path, jsonl_path, clips)


def export_selection(clips: Sequence[Mapping[str, Any]],
                     export_dir: str | Path | None = None) -> tuple[str, str]:
    """Write the clips to ``selection-<n>-clips.csv`` and ``.jsonl`` in a fresh folder
    (under the system's temporary folder unless ``export_dir``); returns both paths."""
    import csv
    import json
    import tempfile

    base = Path(export_dir) if export_dir else Path(tempfile.gettempdir()) / "interestmap-exports"
    base.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix="selection-", dir=base))
    stem = f"selection-{len(clips)}-clips"
    cols = [*SELECTION_COLUMNS, "x", "y"]
    csv_path, jsonl_path = folder / f"{stem}.csv", folder / f"{stem}.jsonl"
    with open(csv_path, "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=cols, extrasaction="ignore")
        w.writeheader()
        w.writerows(clips)
    with open(jsonl_path, "w", encoding="utf-8") as fh:
        for c in clips:
            fh.write(json.dumps({k: c.get(k) for k in cols}, ensure_ascii=False) + "\n")
    return str(csv_path), str(jsonl_path)


def pinned_clip(result: Mapping[str, Any] | None, caption: str | None = None
                ) -> dict[str, Any] | None:
    """The checked clip as the pin shown on every map: ``{"x", "y", "label", "audience"}``
    (None when it has no place on the map)."""
    if not result:
        return None
    m = result.get("map") or {}
    if m.get("x") is None or m.get("y") is None:
        return None
    auds = result.get("audiences") or []
    return {"x": float(m["x"]), "y": float(m["y"]),
            "label": short((caption or "").strip() or "My clip", 60),
            "audience": auds[0]["label"] if auds else None,
            "clarity": (result.get("clarity") or {}).get("score")}


def pin_markdown(pin: Mapping[str, Any] | None) -> str:
    """The line on top of every tab about the pinned clip."""
    if not pin:
        return ""
    aud = f" → **{escape_md(pin['audience'])}**" if pin.get("audience") else ""
    clar = f", clarity {pin['clarity']}/100" if pin.get("clarity") is not None else ""
    return f"★ **My clip**: “{escape_md(pin['label'])}”{aud}{clar} — starred on every map."
