"""What each part of the app shows, as plain functions over library calls.

The Gradio layer (:mod:`interestmap.app.ui`) only wires these to components; they take
plain values (an index choice, texts, file paths), return figures, Markdown and paths,
and raise :class:`~interestmap.errors.InterestmapError` with a one-line message when the
user asks for something that cannot be done. Tests call them directly.

An *index choice* is the folder of an index as a string, or :data:`DEFAULT_CHOICE` for
the embedded default (the declared-topic atlas, built on first use).
"""

from __future__ import annotations

import html
import re
import threading
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from interestmap.app import map_page, plots
from interestmap.encoders.context import language_names
from interestmap.errors import ConfigError, IndexError_, InterestmapError
from interestmap.signals.language import language_name

DEFAULT_CHOICE = "default"
"""Index choice that names the embedded default index."""
COLOR_BY = {"Audience": "audience", "Account": "account", "Declared topic": "topic",
            "Language": "language"}
"""Map colouring, as shown to the user -> what it colours by."""

Progress = Callable[..., Any]
"""``progress(fraction, desc=...)``: a gr.Progress, or any callable of that shape."""

_LOCK = threading.RLock()
_OPEN: dict[Path, tuple[str, Any]] = {}
_FRAMES: dict[tuple[Path, str], list[dict[str, Any]]] = {}
_FIGS: dict[tuple[Any, ...], tuple[Any, str]] = {}
_EXTRA: list[Path] = []
FIRST_DRAW_POINTS = 12_000
"""A map with more clips than this is drawn twice: first a sample of this many (so the
page shows a map at once), then every clip."""
TRY_THIS = ("**Try this:** hover the map to read clips · drag the lasso (toolbar, top "
            "right of the map) around a group to list and export its clips · search "
            "*street food in Rome* · check your own caption on **Check a clip** · compare "
            "*casa.caliente* with *fit.with.ana* on **Competitors**.")
"""The first screen's one line on what to try."""


# Indexes ---------------------------------------------------------------------------------
def default_dir() -> Path:
    """Folder of the embedded default index."""
    from interestmap.index.default import DEFAULT_INDEX_NAME, indexes_root

    return indexes_root() / DEFAULT_INDEX_NAME


def remember_index(index_dir: str | Path) -> str:
    """Make an index folder outside the indexes root selectable; returns its choice."""
    p = Path(index_dir).expanduser().resolve()
    with _LOCK:
        if p not in _EXTRA:
            _EXTRA.append(p)
    return str(p)


def index_choices() -> list[tuple[str, str]]:
    """``(label, choice)`` of every index: the default first, then the built indexes
    under the indexes root (and any opened with ``--index``), by name."""
    from interestmap.index.default import indexes_root
    from interestmap.index.manifest import MANIFEST_NAME

    out = [("Topic atlas (built in)", DEFAULT_CHOICE)]
    seen = {default_dir().resolve()}
    root = indexes_root()
    found = sorted(p.parent for p in root.glob(f"*/{MANIFEST_NAME}")) if root.is_dir() else []
    for d in [*found, *_EXTRA]:
        d = d.resolve()
        if d in seen or not (d / MANIFEST_NAME).is_file():
            continue
        seen.add(d)
        out.append((_index_label(d), str(d)))
    return out


def _index_label(d: Path) -> str:
    from interestmap.index.manifest import read_manifest

    try:
        counts = read_manifest(d).get("counts", {})
    except InterestmapError:
        return f"{d.name} (unreadable)"
    return f"{d.name} · {counts.get('clips', '?')} clips, {counts.get('audiences', '?')} audiences"


def get_index(choice: str | None, progress: Progress | None = None) -> Any:
    """The opened :class:`~interestmap.index.interest_index.InterestIndex` of a choice (cached; reopened
    when the index was rebuilt). The default index is built on first use."""
    from interestmap.index.default import ensure_default_index
    from interestmap.index.interest_index import InterestIndex
    from interestmap.index.manifest import read_manifest

    choice = (choice or DEFAULT_CHOICE).strip()
    is_default = choice == DEFAULT_CHOICE
    d = (default_dir() if is_default else Path(choice).expanduser()).resolve()
    with _LOCK:
        try:
            generation = str(read_manifest(d).get("data", ""))
        except IndexError_:
            if not is_default:
                raise
            generation = ""
        cached = _OPEN.get(d)
        if cached is not None and cached[0] == generation and generation:
            return cached[1]
        if is_default and (not generation or cached is None):
            step = _build_steps(progress, "Preparing the built-in topic atlas (first run only)")
            idx = ensure_default_index(d, progress=step)
            generation = str(idx.manifest.get("data", ""))
        else:
            idx = InterestIndex.open(d)
        if cached is not None:
            cached[1].close()
        _OPEN[d] = (generation, idx)
        for key in [k for k in _FRAMES if k[0] == d]:
            del _FRAMES[key]
        for key in [k for k in _FIGS if k[0] == d]:
            del _FIGS[key]
        return idx


def open_for_serving(index_dir: str | Path | None, qdrant_url: str | None = None,
                     progress: Progress | None = None) -> Any:
    """The index a server serves, opened once and shared with the app's views."""
    from interestmap.index.interest_index import InterestIndex

    if qdrant_url is None:
        return get_index(str(index_dir) if index_dir else DEFAULT_CHOICE, progress=progress)
    if index_dir is None:
        raise InterestmapError("--qdrant-url needs --index (the folder of that index)")
    d = Path(index_dir).expanduser().resolve()
    idx = InterestIndex.open(d, qdrant_url=qdrant_url)
    with _LOCK:
        _OPEN[d] = (str(idx.manifest.get("data", "")), idx)
    return idx


def close_all() -> None:
    """Close every index the app opened (on shutdown)."""
    with _LOCK:
        for _, idx in _OPEN.values():
            idx.close()
        _OPEN.clear()
        _FRAMES.clear()
        _FIGS.clear()


def index_overview(choice: str | None) -> str:
    """Markdown: what this index holds, in a sentence or two."""
    idx = get_index(choice)
    info = idx.info()
    counts = info.get("counts", {})
    n_clips, n_aud = counts.get("clips", 0), counts.get("audiences", 0)
    out = info.get("outlier_share") or 0.0
    accounts = {str(p.get("account") or "unknown") for p in _frame(idx)}
    name = "the built-in topic atlas" if Path(str(idx.dir)) == default_dir().resolve() \
        else f"**{_md(Path(str(idx.dir)).name)}**"
    text = (f"Map {name}: {n_clips:,} clips from {len(accounts):,} account"
            f"{'s' if len(accounts) != 1 else ''}, grouped into {n_aud} audiences")
    if out:
        text += f"; {out:.0%} of the clips fit no audience clearly"
    text += "."
    sources = (idx.manifest.get("about") or {}).get("sources") or []
    if sources:
        text += " Posts: " + "; ".join(f"{_md(x.get('name', '?'))} ({_md(x.get('license', '?'))})"
                                       for x in sources) + "."
    return text


# Map -------------------------------------------------------------------------------------
def _frame(idx: Any, filters: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
    """Clip payloads (cached per index and filters), each with its ``audience_label``."""
    import json

    key = (Path(str(idx.dir)).resolve(), json.dumps(filters or {}, sort_keys=True))
    with _LOCK:
        if key in _FRAMES:
            return _FRAMES[key]
    labels = {a.id: a.label for a in idx.audiences}
    rows = idx.clips_frame(filters or None)
    for r in rows:
        a = r.get("audience")
        r["audience_label"] = (labels.get(int(a), f"audience {a}")
                               if a is not None and int(a) >= 0 else plots.NO_AUDIENCE)
    rows.sort(key=lambda r: str(r.get("id")))
    with _LOCK:
        if len(_FRAMES) > 32:
            _FRAMES.clear()
        _FRAMES[key] = rows
    return rows


def _by_id(idx: Any) -> dict[str, dict[str, Any]]:
    """The map's clips by id (cached with the frame)."""
    key = (Path(str(idx.dir)).resolve(), "by-id")
    with _LOCK:
        hit = _FRAMES.get(key)
    if hit is None:
        hit = [{str(r.get("id")): r for r in _frame(idx)}]
        with _LOCK:
            _FRAMES[key] = hit
    return hit[0]


def map_filters(accounts: Sequence[str] | None = None, languages: Sequence[str] | None = None,
                since: Any = None, until: Any = None) -> dict[str, Any]:
    """The index filter for the map's account, language and date choices."""
    f: dict[str, Any] = {}
    if accounts:
        f["account"] = list(accounts)
    if languages:
        f["language"] = [language_code(v) for v in languages]
    for k, v in (("since", since), ("until", until)):
        v = _date_text(v)
        if v:
            f[k] = v
    return f


def filter_options(choice: str | None, label_language: str | None = None) -> dict[str, Any]:
    """Choices for the map's filters: accounts (most clips first), languages (as
    ``(name, code)``), audiences (as ``(label, id)``) and the date range of the clips."""
    idx = get_index(choice)
    rows = _frame(idx)
    acc = Counter(str(r.get("account") or "unknown") for r in rows)
    langs = Counter(str(r.get("language")) for r in rows if r.get("language"))
    dates = sorted(str(r["published_at"])[:10] for r in rows if r.get("published_at"))
    return {
        "accounts": [a for a, _ in acc.most_common()],
        "languages": [(f"{language_name(c)} ({n})", c) for c, n in langs.most_common()],
        "audiences": audience_choices(idx, label_language),
        "dates": (dates[0], dates[-1]) if dates else None,
    }


def audience_choices(idx: Any, language: str | None = None) -> list[tuple[str, int]]:
    """``(label with size, id)`` of each audience, largest first (names for ``language``)."""
    return [(f"{a.label_for(language)} ({a.size})", int(a.id))
            for a in sorted(idx.audiences, key=lambda a: -a.size)]


def map_view(choice: str | None, color_by: str = "Audience",
             accounts: Sequence[str] | None = None, languages: Sequence[str] | None = None,
             since: Any = None, until: Any = None,
             selected: str | None = None, *, label_language: str | None = None,
             density: bool = True, sample: int | None = None,
             pinned: Mapping[str, Any] | None = None,
             search: Mapping[str, Any] | None = None) -> tuple[Any, str]:
    """The map figure and a one-line summary, for the chosen colouring and filters.

    ``label_language``: audience names with the keywords of that language first;
    ``density``: shade dense regions; ``sample``: draw at most this many clips (a
    deterministic sample, for a quick first draw); ``pinned``: the user's checked clip
    (``x``, ``y``, ``label``), starred; ``search``: a :func:`search_view` result, its
    query starred and its nearest clips ringed. Figures are cached per choice of these.

    Each group keeps its colour whatever the filters. Clips the filters leave out travel
    in the figure, hidden, with a description of every clip
    (:func:`interestmap.app.map_page.page_data`), so the page recolours and filters the map
    by itself.
    """
    import json

    idx = get_index(choice)
    filters = map_filters(accounts, languages, since, until)
    mode = COLOR_BY.get(color_by, color_by)
    if mode not in COLOR_BY.values():
        raise ConfigError(f"colour by {color_by!r}? choose one of {', '.join(COLOR_BY)}")
    key = (Path(str(idx.dir)).resolve(), json.dumps(filters, sort_keys=True), mode,
           language_code(label_language), bool(density), sample,
           json.dumps(pinned or None, sort_keys=True, default=str),
           json.dumps(search or None, sort_keys=True, default=str), selected)
    with _LOCK:
        hit = _FIGS.get(key)
    if hit is not None:
        return hit
    everything = _frame(idx)
    rows = _frame(idx, filters) if filters else everything
    title = next(k for k, v in COLOR_BY.items() if v == mode)
    modes = colour_modes(idx, label_language)
    colors = _mode_colors(idx, label_language)
    shown: list[bool] | None = None
    sampled = None
    if sample and len(rows) > sample:
        points: Sequence[Mapping[str, Any]] = _sample(rows, sample)
        sampled = (f"Drawing {len(points):,} of {len(everything):,} clips first; the rest "
                   "follow in a moment.")
    else:
        points = everything
        if rows is not everything:
            ids = {str(r.get("id")) for r in rows}
            shown = [str(r.get("id")) in ids for r in everything]
    markers = []
    if pinned and pinned.get("x") is not None and pinned.get("y") is not None:
        markers.append(plots.Marker(float(pinned["x"]), float(pinned["y"]), "My clip"))
    if search and search.get("x") is not None and search.get("y") is not None:
        markers.append(plots.Marker(float(search["x"]), float(search["y"]),
                                    f"“{plots.short(str(search.get('query', '')), 30)}”",
                                    symbol="diamond", color="#d62728"))
    highlight = [str(c["id"]) for c in (search or {}).get("clips", [])]
    rich = len(everything) <= plots.RICH_HOVER_UP_TO
    with _LOCK:
        _FIG_SERIAL[0] += 1
        serial = _FIG_SERIAL[0]
    page = map_page.page_data(
        points, {COLOR_TITLES[k]: m for k, m in modes.items()},
        {COLOR_TITLES[k]: c for k, c in colors.items()},
        view=map_page.page_view(DEFAULT_CHOICE if choice is None else choice, title, accounts,
                                languages, since, until, density),
        key=f"{serial}", total=len(everything), rich=rich,
        language_filter=_language_filter(idx), selected=selected, highlight=highlight,
        sampled=sampled)
    m = modes[mode]
    fig = plots.map_figure(points, [m.group(map_page.column_value(r, m.column)) for r in points],
                           group_title=title, selected=selected, label_groups=m.label_groups,
                           revision=str(idx.dir), density=density, markers=markers,
                           highlight=highlight, shown=shown, colors=colors[mode],
                           rich_hover=rich, page=page)
    text = sampled or map_page.summary_text(rows, len(everything))
    with _LOCK:
        if len(_FIGS) > 24:
            _FIGS.clear()
        _FIGS[key] = (fig, text)
    return fig, text


_FIG_SERIAL = [0]
COLOR_TITLES = {v: k for k, v in COLOR_BY.items()}
"""What each colouring is called on the page (mode -> the "Colour by" choice)."""


def colour_modes(idx: Any, label_language: str | None = None) -> dict[str, Any]:
    """The map's colourings (mode -> :class:`~interestmap.app.map_page.ColourMode`): by
    audience (named for ``label_language``), account, language, or declared topic (the
    top declared topic of the clip's audience)."""
    from interestmap.app.map_page import ColourMode

    names = audience_labels(idx, label_language)
    top = {a.id: (a.top_topics[0]["name"] if a.top_topics else a.label)
           for a in idx.audiences}

    def audience(a: Any) -> str:
        return plots.NO_AUDIENCE if a is None or a < 0 else names.get(a, f"audience {a}")

    def topic(a: Any) -> str:
        return plots.NO_AUDIENCE if a is None or a < 0 else top.get(a, plots.NO_AUDIENCE)

    def account(v: Any) -> str:
        return str(v or "unknown")

    def language(v: Any) -> str:
        return language_name(v) if v else "unknown"

    return {"audience": ColourMode("Audience", "audience", audience, label_groups=True),
            "account": ColourMode("Account", "account", account),
            "topic": ColourMode("Declared topic", "audience", topic, label_groups=True),
            "language": ColourMode("Language", "language", language)}


def _mode_colors(idx: Any, label_language: str | None = None) -> dict[str, dict[str, str]]:
    """Each colouring's group colours over every clip of the map (cached), so a group
    keeps its colour whatever the filters and in a down-sampled first draw."""
    key = (Path(str(idx.dir)).resolve(), "colors", language_code(label_language))
    with _LOCK:
        hit = _FRAMES.get(key)
    if hit is None:
        rows = _frame(idx)
        hit = [{mode: plots.group_colors([m.group(map_page.column_value(r, m.column))
                                          for r in rows])
                for mode, m in colour_modes(idx, label_language).items()}]
        with _LOCK:
            _FRAMES[key] = hit
    return hit[0]


def _language_filter(idx: Any) -> dict[str, str | None]:
    """Each language the map's filter offers -> the code the index filters on (cached)."""
    key = (Path(str(idx.dir)).resolve(), "language-filter")
    with _LOCK:
        hit = _FRAMES.get(key)
    if hit is None:
        hit = [{str(v): language_code(v) for v in {r.get("language") for r in _frame(idx)}
                if v}]
        with _LOCK:
            _FRAMES[key] = hit
    return hit[0]


def _sample(rows: Sequence[Mapping[str, Any]], n: int) -> list[Mapping[str, Any]]:
    """``n`` rows, the same ones every time: a random sample that keeps every audience
    (at least a few clips of each, so none disappears from the first draw)."""
    import numpy as np

    order = np.random.default_rng(0).permutation(len(rows))
    per: Counter[Any] = Counter()
    first, rest = [], []
    for i in order.tolist():
        a = rows[i].get("audience")
        if per[a] < 5:
            per[a] += 1
            first.append(i)
        else:
            rest.append(i)
    pick = sorted((first + rest)[:n])
    return [rows[i] for i in pick]


def audience_labels(idx: Any, language: str | None = None) -> dict[int, str]:
    """Each audience's label, with the keywords of ``language`` first."""
    return {a.id: a.label_for(language) for a in idx.audiences}


def color_groups(idx: Any, rows: Sequence[Mapping[str, Any]], mode: str,
                 label_language: str | None = None) -> list[str]:
    """The colour group of each clip: its audience (named for ``label_language``),
    account, language or declared topic (the top declared topic of its audience)."""
    m = colour_modes(idx, label_language)[mode]
    return [m.group(map_page.column_value(r, m.column)) for r in rows]


def audience_view(choice: str | None, audience: int | str | None) -> tuple[str, Any]:
    """Markdown about one audience (name, size, keywords, top topics, example clips) and
    a bar chart of the accounts that post into it."""
    idx = get_index(choice)
    if audience is None or audience == "":
        return ("Pick an audience above, or click a point on the map.",
                plots.empty_figure("No audience picked yet."))
    aud = _audience(idx, audience)
    words = ", ".join(w for w, _ in aud.keywords[:10]) or "—"
    topics = ", ".join(t["name"] for t in aud.top_topics[:3]) or "—"
    lines = [f"### {_md(aud.label)}", "",
             f"**{aud.size:,} clips** · top declared topics: {_md(topics)}", "",
             f"**Words its clips use:** {_md(words)}", "", "**Typical clips:**", ""]
    by_id = {str(r.get("id")): r for r in _frame(idx)}
    for cid in aud.exemplars[:5]:
        r = by_id.get(str(cid), {})
        cap = plots.short(str(r.get("caption") or "(no caption)"), 160)
        lines.append(f"- {_md(cap)} — *{_md(str(r.get('account') or '?'))}*")
    fig = plots.value_bars(aud.account_shares, axis_title="share of its clips",
                           percent=True)
    return "\n".join(lines), fig


def _audience(idx: Any, audience: int | str) -> Any:
    try:
        aid = int(audience)
    except (TypeError, ValueError):
        raise ConfigError(f"{audience!r} is not an audience of this map") from None
    for a in idx.audiences:
        if a.id == aid:
            return a
    raise ConfigError(f"this map has no audience {aid}: pick one from the list")


def clip_view(choice: str | None, clip_id: str | None) -> tuple[str, str | None, int | None]:
    """Markdown about one clip of the map, a thumbnail path (or None) and its audience."""
    from interestmap.media.thumbnails import thumbnail

    if not clip_id:
        return "Click a point on the map to see the clip here.", None, None
    clip_id = str(clip_id).split("|", 1)[0]
    idx = get_index(choice)
    row = _by_id(idx).get(clip_id)
    if row is None:
        raise ConfigError(f"no clip {clip_id!r} on this map")
    aud = row.get("audience")
    aud = int(aud) if aud is not None and int(aud) >= 0 else None
    prob = row.get("audience_probability")
    conf = f" ({prob:.0%} sure)" if aud is not None and prob is not None else ""
    lines = [f"**{_md(str(row.get('account') or 'unknown'))}** · "
             f"{_md(language_name(row.get('language')) if row.get('language') else 'language unknown')}"
             + (f" · {str(row['published_at'])[:10]}" if row.get("published_at") else ""),
             "", _md(str(row.get("caption") or "(no caption)")), "",
             f"Audience: **{_md(str(row.get('audience_label')))}**{conf}"]
    if row.get("media"):
        lines += ["", f"<small>{_md(Path(str(row['media'][0])).name)}</small>"]
    thumb = thumbnail(row.get("media") or None)
    return "\n".join(lines), (str(thumb) if thumb else None), aud


# Search and selection ------------------------------------------------------------------------
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
                      "audience": names.get(int(h["audience"]), plots.NO_AUDIENCE)
                      if h.get("audience") is not None and int(h["audience"]) >= 0
                      else plots.NO_AUDIENCE,
                      "similarity": float(h["similarity"])} for h in hits]}
    return out


def search_markdown(res: Mapping[str, Any]) -> str:
    """A search result in words: where the query lands and its nearest clips."""
    if not res:
        return ""
    lines = [f"**“{_md(res['query'])}”** lands in **{_md(res.get('audience') or 'no audience')}**"
             " (red diamond on the map; its nearest clips are ringed in red):", ""]
    lines += [f"{i}. {_md(plots.short(c['caption'] or '(no caption)', 110))} — "
              f"*{_md(c['account'] or '?')}* · {_md(plots.short(c['audience'], 40))} "
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
    rows = [r for r in _frame(idx, map_filters(accounts, languages, since, until))
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
                      "audience": names.get(int(a), plots.NO_AUDIENCE)
                      if a is not None and int(a) >= 0 else plots.NO_AUDIENCE,
                      "caption": str(r.get("caption") or ""), "x": float(r["x"]),
                      "y": float(r["y"])})
    if not clips:
        return SelectionView("No clips inside that shape: draw around some points.",
                             [], None, None, [])
    csv_path, jsonl_path = export_selection(clips, export_dir)
    top = Counter(c["audience"] for c in clips).most_common(3)
    accs = Counter(c["account"] for c in clips).most_common(3)
    summary = (f"**{len(clips):,} clips selected**, mostly in "
               + ", ".join(f"{_md(a)} ({n})" for a, n in top) + "; from "
               + ", ".join(f"{_md(a)} ({n})" for a, n in accs)
               + ". Download them as CSV or JSONL below.")
    table = [[c[k] if k != "caption" else plots.short(c[k], 140) for k in SELECTION_COLUMNS]
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
            "label": plots.short((caption or "").strip() or "My clip", 60),
            "audience": auds[0]["label"] if auds else None,
            "clarity": (result.get("clarity") or {}).get("score")}


def pin_markdown(pin: Mapping[str, Any] | None) -> str:
    """The line on top of every tab about the pinned clip."""
    if not pin:
        return ""
    aud = f" → **{_md(pin['audience'])}**" if pin.get("audience") else ""
    clar = f", clarity {pin['clarity']}/100" if pin.get("clarity") is not None else ""
    return f"★ **My clip**: “{_md(pin['label'])}”{aud}{clar} — starred on every map."


# Competitors -----------------------------------------------------------------------------
@dataclass
class CompetitorView:
    """What the competitors tab shows."""

    shares: Any
    """Figure: each audience's clips by the chosen accounts."""
    accounts_md: str
    open_md: str
    report: dict[str, Any]


def competitors_view(choice: str | None, accounts: Sequence[str] | None,
                     mine: str | None = None, thin: float = 0.05) -> CompetitorView:
    """Compare the chosen accounts (and yours) over this map's audiences."""
    from interestmap.analysis.competitors import compare_accounts

    idx = get_index(choice)
    rep = compare_accounts(_frame(idx), idx.audiences, list(accounts or []), mine or None,
                           thin=thin)
    chosen = [a["account"] for a in rep["accounts"]]
    rows = [r for r in rep["audiences"] if any(r["shares"][a] > 0 for a in chosen)][:20]
    fig = plots.share_bars({f"{r['label']} ({r['size']})": r["shares"] for r in rows},
                           title="Share of each audience's clips", highlight=mine or None)
    lines = []
    for a in rep["accounts"]:
        who = "You" if a["is_mine"] else _md(a["account"])
        auds = ", ".join(f"{_md(x['label'])} ({x['focus']:.0%})"
                         for x in a["audiences"][:6]) or "no audience clearly"
        lines.append(f"**{who}** ({a['clips']} clips) posts mostly into: {auds}.")
        if a["overlap_with_mine"] is not None:
            shared = ", ".join(_md(s) for s in a["shared_with_mine"][:5])
            lines.append(f"  Overlap with you: **{a['overlap_with_mine']:.0%}**"
                         + (f" — both post into {shared}." if shared else
                            " — you post into different audiences."))
        lines.append("")
    opens = rep["open_audiences"]
    if opens:
        open_md = ("**Audiences none of you covers yet** (largest first; covering means at "
                   f"least {thin:.0%} of an account's clips go there):\n\n"
                   + "\n".join(f"- {_md(o['label'])} — {o['size']} clips"
                               for o in opens[:12]))
    else:
        open_md = "Every audience on this map is covered by at least one of these accounts."
    return CompetitorView(fig, "\n".join(lines).strip(), open_md, rep)


# Build a map -----------------------------------------------------------------------------
_NAME_OK = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_STAGES = {"read": (0.0, 0.02, "Reading the clips"), "encode": (0.02, 0.85, "Encoding clips"),
           "audiences": (0.85, 0.92, "Finding audiences"), "map": (0.92, 0.97, "Drawing the map"),
           "write": (0.97, 1.0, "Saving the map")}


def _build_steps(progress: Progress | None, prefix: str = "") -> Callable[[str, int, int], None]:
    """A ``build_index`` progress callback that feeds ``progress(fraction, desc=...)``."""
    def step(stage: str, done: int, total: int) -> None:
        if progress is None:
            return
        lo, hi, words = _STAGES.get(stage, (0.0, 1.0, stage))
        frac = lo + (hi - lo) * (done / total if total else 1.0)
        desc = f"{prefix}: {words}" if prefix else words
        if stage == "encode" and total:
            desc += f" ({done}/{total})"
        progress(min(frac, 1.0), desc=desc)
    return step


def build_map(name: str, folder: str | None = None, manifest: str | None = None,
              progress: Progress | None = None) -> tuple[str, str]:
    """Build (or update) the index ``name`` under the indexes root from a folder path on
    this computer or an uploaded manifest. Returns a Markdown report and the new index's
    choice."""
    from interestmap.index.build import build_index
    from interestmap.index.default import indexes_root

    name = (name or "").strip()
    if not _NAME_OK.match(name) or name == DEFAULT_CHOICE:
        raise ConfigError("give the map a short name of letters, digits, '-' or '_' "
                          "(not 'default'), e.g. my-shop")
    folder = (folder or "").strip()
    if bool(folder) == bool(manifest):
        raise ConfigError("give either a folder of clips or a manifest file, not "
                          + ("both" if folder else "neither"))
    source = Path(folder).expanduser() if folder else Path(str(manifest))
    if folder and not source.exists():
        raise ConfigError(f"there is no folder {folder} on this computer: check the path")
    target = indexes_root() / name
    with build_index(source, target, progress=_build_steps(progress)) as built:
        rep = built.build_report
    choice = str(target.resolve())
    get_index(choice)  # open it now, so the first look is quick
    lines = [f"### Map **{_md(name)}** is ready",
             f"{rep.n_clips:,} clips ({rep.n_encoded:,} newly encoded, {rep.n_cached:,} "
             f"reused) in **{rep.n_audiences} audiences**; {rep.outlier_share:.0%} fit no "
             f"audience clearly. Took {rep.timings_s.get('total', 0):.0f} s."]
    if rep.purity is not None:
        lines.append(f"Against the clips' own labels, the audiences are {rep.purity:.0%} pure.")
    if rep.problems:
        lines.append(f"\n**{len(rep.problems)} clip(s) were skipped:**")
        lines += [f"- {_md(str(p['where']))}: {_md(str(p['message']))}"
                  for p in rep.problems[:15]]
        if len(rep.problems) > 15:
            lines.append(f"- … and {len(rep.problems) - 15} more")
    lines.append("\nIt is now selected at the top of the page.")
    return "\n".join(lines), choice


# Words -------------------------------------------------------------------------------------
_MD_SPECIAL = re.compile(r"([\\`*_\[\]|~])")


def _md(text: Any) -> str:
    """Text shown as itself inside Markdown: no HTML, no accidental emphasis or links."""
    return _MD_SPECIAL.sub(r"\\\1", html.escape(str(text), quote=False))


AUTO_LANGUAGE = "Detect automatically"


def language_choices() -> list[tuple[str, str]]:
    """``(name, code)`` for the language picker, after an automatic-detection entry."""
    return [(AUTO_LANGUAGE, "")] + sorted(((f"{n} ({c})", c) for c, n in language_names().items()),
                                          key=lambda t: t[0])


def language_code(value: Any) -> str | None:
    """A language picked or typed ("English", "en", "English (en)") as a code, or None."""
    text = str(value or "").strip()
    if not text or text == AUTO_LANGUAGE:
        return None
    m = re.search(r"\(([a-z]{2,3})\)\s*$", text)
    if m:
        return m.group(1)
    low = text.lower()
    for c, n in language_names().items():
        if low in (c, n.lower()):
            return c
    return low


def _date_text(v: Any) -> str | None:
    """A date from a picker (text, timestamp or datetime) as ISO text, or None."""
    if v is None or v == "":
        return None
    if isinstance(v, int | float):
        from datetime import UTC, datetime

        return datetime.fromtimestamp(float(v), tz=UTC).isoformat()
    if hasattr(v, "isoformat"):
        return v.isoformat()
    return str(v).strip() or None


# Check a clip ------------------------------------------------------------------------------
@dataclass
class CheckView:
    """What the check-a-clip tab shows, plus the encoded clip for what-if."""

    map: Any
    clarity_md: str
    topics: Any
    audiences_md: str
    advice_md: str
    encoded: Any
    result: dict[str, Any]


def make_clip(files: Sequence[str] | str | None, caption: str | None, language: Any = None,
              geo: str | None = None) -> Any:
    """A :class:`~interestmap.clip.Clip` from the form's uploads and fields."""
    from interestmap.clip import Clip

    paths = [files] if isinstance(files, str | Path) else list(files or [])
    caption = (caption or "").strip()
    if not paths and not caption:
        raise ConfigError("add a video, image or audio file, or type a caption, then check")
    return Clip.of([Path(str(p)) for p in paths], caption=caption,
                   language=language_code(language), geo=(geo or "").strip() or None,
                   id="your clip")


def _check_key(choice: str | None, files: Any, caption: Any, language: Any, geo: Any) -> str:
    import json

    paths = [files] if isinstance(files, str | Path) else list(files or [])
    return json.dumps([choice or DEFAULT_CHOICE, [str(p) for p in paths], caption or "",
                       language_code(language), (geo or "").strip()])


def check_clip_view(choice: str | None, files: Sequence[str] | str | None, caption: str | None,
                    language: Any = None, geo: str | None = None,
                    progress: Progress | None = None) -> CheckView:
    """Encode and analyse a clip against the chosen map: where it lands, its clarity,
    its declared topics per modality, the nearest audiences and the advice."""
    from interestmap.analysis.analyze import analyze_encoded, encoder_for

    clip = make_clip(files, caption, language, geo)
    idx = get_index(choice)
    say = progress or (lambda *a, **k: None)
    say(0.05, desc="Reading the clip: pictures, sound, speech and on-screen text")
    encoded = encoder_for(idx).encode(clip)
    say(0.8, desc="Comparing it with the map")
    res = analyze_encoded(encoded, idx)
    say(1.0, desc="Done")
    near = res.nearest.as_dict()
    marker = ([plots.Marker(float(near["x"]), float(near["y"]), "Your clip")]
              if near.get("x") is not None and near.get("y") is not None else [])
    rows = _frame(idx)
    fig = plots.map_figure(rows, color_groups(idx, rows, "audience"), markers=marker,
                           revision=f"check:{idx.dir}")
    if not marker:
        plots.add_note(fig, "This clip has no caption, speech, on-screen text or visuals "
                             "to place it by.")
    return CheckView(map=fig, clarity_md=clarity_markdown(res), topics=topic_figure(res),
                     audiences_md=audiences_markdown(res), advice_md=advice_markdown(res),
                     encoded=(_check_key(choice, files, caption, language, geo), encoded),
                     result=res.as_dict())


def topic_figure(res: Any, top: int = 8) -> Any:
    """Declared topics of an analysed clip: overall and per block, as bars."""
    from interestmap.analysis.analyze import BLOCK_WORDS

    ts = res.topics
    scores: dict[str, dict[str, float]] = {}
    if ts.block_weights:
        scores["overall"] = {t.name: float(p) for t, p in zip(ts.topics, ts.probabilities,
                                                              strict=True)}
    for b in ts.block_weights:
        p = ts.block_probabilities.get(b)
        if p is not None:
            scores[BLOCK_WORDS.get(b, b)] = {t.name: float(v) for t, v in zip(ts.topics, p,
                                                                             strict=True)}
    return plots.topic_bars(scores, top=top, order_by="overall", title="",
                            axis_title="probability of each declared topic")


def clarity_markdown(res: Any) -> str:
    """Clarity score, its reason, and what each part of the clip says."""
    from interestmap.analysis.analyze import BLOCK_WORDS

    c, agr = res.clarity, res.agreement
    color = {"clear": "#1a9850", "mixed": "#f08c00"}.get(c.band, "#d73027")
    icon = f'<span style="color:{color}">●</span>'
    top = agr.top_topic["name"] if agr.top_topic else "no topic"
    lines = [f"## {icon} Topic clarity: {c.score}/100 ({c.band})", "",
             f"Reads as **{_md(top)}**. {_md(c.reason.split(': ', 1)[-1])}", ""]
    if agr.blocks:
        lines += ["| part of the clip | says | agrees | what it contains |",
                  "|---|---|---|---|"]
        for r in agr.blocks:
            lines.append(f"| {_md(r.words)} | {_md(r.top_topic['name'])} "
                         f"({r.top_topic['probability']:.0%}) | {'yes' if r.agrees else '**no**'}"
                         f" | {_md(r.evidence) or '—'} |")
    missing = {BLOCK_WORDS.get(b, b): why for b, why in res.encoded.missing.items()
               if b in ("caption", "ocr", "speech", "visual_semantics", "audio")}
    if missing:
        lines += ["", "<small>Not used: " + "; ".join(f"{_md(k)} ({_md(v)})"
                                                    for k, v in missing.items()) + "</small>"]
    return "\n".join(lines)


def audiences_markdown(res: Any) -> str:
    """The nearest audiences, how close, what drives each match; the nearest clips."""
    from interestmap.analysis.analyze import BLOCK_WORDS

    auds = res.nearest.as_dict()["audiences"]
    if not auds:
        return "### Nearest audiences\n\nThis map has no audiences to compare with."
    lines = ["### Nearest audiences", "", "| audience | match | belongs | mostly because of |",
             "|---|---|---|---|"]
    for a in auds:
        attr = sorted(((v, b) for b, v in a.get("attribution", {}).items() if v > 0),
                      reverse=True)[:2]
        why = " and ".join(BLOCK_WORDS.get(b, b) for _, b in attr) or "—"
        lines.append(f"| {_md(a['label'])} | {a['similarity']:.2f} | "
                     f"{a.get('probability', 0.0):.0%} | {_md(why)} |")
    lines += ["", "<small>*match*: how alike the clip and the audience's clips are (1 = the "
                  "same); *belongs*: how likely the clip counts as one of the audience's "
                  "own.</small>"]
    clips = res.nearest.as_dict()["clips"]
    if clips:
        lines += ["", "**Most similar clips on the map:**", ""]
        lines += [f"- {_md(plots.short(str(c.get('caption') or '(no caption)'), 120))} — "
                  f"*{_md(c.get('account') or '?')}* ({c['similarity']:.2f})" for c in clips[:5]]
    return "\n".join(lines)


def advice_markdown(res: Any) -> str:
    """The ranked advice: what to do, and why."""
    if not res.advice:
        return "### Advice\n\nNothing to fix: the clip is clear as it is."
    lines = ["### Advice", ""]
    for i, a in enumerate(res.advice, 1):
        d = a.as_dict() if hasattr(a, "as_dict") else dict(a)
        lines.append(f"{i}. **{_md(d.get('title', ''))}** {_md(d.get('detail', ''))}")
    return "\n".join(lines)



# What if -----------------------------------------------------------------------------------
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
    key = _check_key(choice, files, caption, language, geo)
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
                      changes_md=_whatif_markdown(rep, names, _map_extent(_frame(idx))),
                      audiences=_whatif_audience_bars(rep, names),
                      topics=plots.shift_bars(
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
        return f"caption “{plots.short(v, 28)}”"
    if e.kind == "language":
        return f"in {language_name(v)}"
    if e.kind == "geo":
        return f"posted in {plots.short(v, 24)}"
    if e.kind in ("frames", "media"):
        return f"pictures from {plots.short(Path(v).name, 24)}"
    if e.kind == "audio":
        return f"sound from {plots.short(Path(v).name, 24)}"
    return e.describe()


def _topic_probs(analysis: Any) -> dict[str, float]:
    ts = analysis.topics
    if not ts.block_weights:
        return {}
    return {t.name: float(p) for t, p in zip(ts.topics, ts.probabilities, strict=True)}


def _whatif_map(idx: Any, rep: Any, names: Sequence[str]) -> Any:
    rows = _frame(idx)
    x0, y0 = rep.original.nearest.x, rep.original.nearest.y
    markers, moves = [], []
    if x0 is not None and y0 is not None:
        markers.append(plots.Marker(float(x0), float(y0), "Your clip"))
    colors = plots.group_colors([f"v{i}" for i in range(len(rep.variants))])
    for i, (v, name) in enumerate(zip(rep.variants, names, strict=True)):
        x1, y1 = v.map_to
        if x1 is None or y1 is None:
            continue
        color = colors[f"v{i}"]
        markers.append(plots.Marker(float(x1), float(y1), name,
                                    symbol=_VARIANT_SYMBOLS[i % len(_VARIANT_SYMBOLS)],
                                    color=color, show_label=False))
        if x0 is not None and y0 is not None and (v.map_distance or 0.0) > 1e-3:
            moves.append(plots.Move(float(x0), float(y0), float(x1), float(y1), name, color))
    fig = plots.map_figure(rows, color_groups(idx, rows, "audience"), markers=markers,
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
    return plots.shift_bars({"before": before, **series},
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
    lines += [f"**Your clip now:** about **{_md(top0)}**, clarity {o.clarity.score}/100.", ""]
    for v, name in zip(rep.variants, names, strict=True):
        lines.append(f"#### {_md(name)}")
        lines.append("")
        if v.top_topic_after and v.topic_kept:
            topic = f"Still about **{_md(v.top_topic_after['name'])}**"
        elif v.top_topic_after:
            topic = f"Now about **{_md(v.top_topic_after['name'])}** instead of {_md(top0)}"
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
            lines.append(f"- Nearest audience: **{_md(a['label'])}** ({was}); match "
                         f"{a['similarity_before']:.2f} → {a['similarity_after']:.2f}.")
            gains = sorted((r.as_dict() for r in v.audiences), key=lambda r: -r["change"])
            up = [r for r in gains if r["change"] > 0.005][:2]
            down = [r for r in gains[::-1] if r["change"] < -0.005][:2]
            if up:
                lines.append("- Closer to: " + ", ".join(
                    f"{_md(r['label'])} (+{r['change']:.2f})" for r in up) + ".")
            if down:
                lines.append("- Further from: " + ", ".join(
                    f"{_md(r['label'])} ({r['change']:.2f})" for r in down) + ".")
        d = v.attribution_delta.get("original_top_audience") or {}
        if d.get("main_change"):
            from interestmap.analysis.analyze import BLOCK_WORDS

            b = d["main_change"]
            lines.append(f"- What changed the match most: the {_md(BLOCK_WORDS.get(b, b))}.")
        lines.append("")
    return "\n".join(lines).strip()
