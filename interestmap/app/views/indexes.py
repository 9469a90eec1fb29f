"""Which index the app shows: the choices, opening (cached, reopened when rebuilt) and closing.

An *index choice* is the folder of an index as a string, or :data:`DEFAULT_CHOICE` for
the embedded default (the declared-topic atlas, built on first use). The clip rows of an
opened index and the figures drawn from them are cached here, and dropped when it changes.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from interestmap.app.plots.style import NO_AUDIENCE
from interestmap.app.views.words import escape_md
from interestmap.errors import IndexError_, InterestmapError

if TYPE_CHECKING:
    from interestmap.index.interest_index import InterestIndex

DEFAULT_CHOICE = "default"
"""Index choice that names the embedded default index."""

Progress = Callable[..., Any]
"""``progress(fraction, desc=...)``: a gr.Progress, or any callable of that shape."""

CACHE_LOCK = threading.RLock()

_OPEN: dict[Path, tuple[str, Any]] = {}

FRAME_CACHE: dict[tuple[Path, str], list[dict[str, Any]]] = {}

FIGURE_CACHE: dict[tuple[Any, ...], tuple[Any, str]] = {}

_EXTRA: list[Path] = []


def default_dir() -> Path:
    """Folder of the embedded default index."""
    from interestmap.index.default import DEFAULT_INDEX_NAME, indexes_root

    return indexes_root() / DEFAULT_INDEX_NAME


def remember_index(index_dir: str | Path) -> str:
    """Make an index folder outside the indexes root selectable; returns its choice."""
    p = Path(index_dir).expanduser().resolve()
    with CACHE_LOCK:
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
    with CACHE_LOCK:
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
            step = build_steps(progress, "Preparing the built-in topic atlas (first run only)")
            idx = ensure_default_index(d, progress=step)
            generation = str(idx.manifest.get("data", ""))
        else:
            idx = InterestIndex.open(d)
        if cached is not None:
            cached[1].close()
        _OPEN[d] = (generation, idx)
        for key in [k for k in FRAME_CACHE if k[0] == d]:
            del FRAME_CACHE[key]
        for key in [k for k in FIGURE_CACHE if k[0] == d]:
            del FIGURE_CACHE[key]
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
    with CACHE_LOCK:
        _OPEN[d] = (str(idx.manifest.get("data", "")), idx)
    return idx


def close_all() -> None:
    """Close every index the app opened (on shutdown)."""
    with CACHE_LOCK:
        for _, idx in _OPEN.values():
            idx.close()
        _OPEN.clear()
        FRAME_CACHE.clear()
        FIGURE_CACHE.clear()


def index_overview(choice: str | None) -> str:
    """Markdown: what this index holds, in a sentence or two."""
    idx = get_index(choice)
    info = idx.info()
    counts = info.get("counts", {})
    n_clips, n_aud = counts.get("clips", 0), counts.get("audiences", 0)
    out = info.get("outlier_share") or 0.0
    accounts = {str(p.get("account") or "unknown") for p in clip_rows(idx)}
    name = "the built-in topic atlas" if Path(str(idx.dir)) == default_dir().resolve() \
        else f"**{escape_md(Path(str(idx.dir)).name)}**"
    text = (f"Map {name}: {n_clips:,} clips from {len(accounts):,} account"
            f"{'s' if len(accounts) != 1 else ''}, grouped into {n_aud} audiences")
    if out:
        text += f"; {out:.0%} of the clips fit no audience clearly"
    text += "."
    sources = (idx.manifest.get("about") or {}).get("sources") or []
    if sources:
        text += " Posts: " + "; ".join(f"{escape_md(x.get('name', '?'))} ({escape_md(x.get('license', '?'))})"
                                       for x in sources) + "."
    return text


def clip_rows(idx: InterestIndex, filters: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
    """Clip payloads (cached per index and filters), each with its ``audience_label``."""
    import json

    key = (Path(str(idx.dir)).resolve(), json.dumps(filters or {}, sort_keys=True))
    with CACHE_LOCK:
        if key in FRAME_CACHE:
            return FRAME_CACHE[key]
    labels = {a.id: a.label for a in idx.audiences}
    rows = idx.clips_frame(filters or None)
    for r in rows:
        a = r.get("audience")
        r["audience_label"] = (labels.get(int(a), f"audience {a}")
                               if a is not None and int(a) >= 0 else NO_AUDIENCE)
    rows.sort(key=lambda r: str(r.get("id")))
    with CACHE_LOCK:
        if len(FRAME_CACHE) > 32:
            FRAME_CACHE.clear()
        FRAME_CACHE[key] = rows
    return rows


def clips_by_id(idx: InterestIndex) -> dict[str, dict[str, Any]]:
    """The map's clips by id (cached with the frame)."""
    key = (Path(str(idx.dir)).resolve(), "by-id")
    with CACHE_LOCK:
        hit = FRAME_CACHE.get(key)
    if hit is None:
        hit = [{str(r.get("id")): r for r in clip_rows(idx)}]
        with CACHE_LOCK:
            FRAME_CACHE[key] = hit
    return hit[0]


_STAGES = {"read": (0.0, 0.02, "Reading the clips"), "encode": (0.02, 0.85, "Encoding clips"),
           "audiences": (0.85, 0.92, "Finding audiences"), "map": (0.92, 0.97, "Drawing the map"),
           "write": (0.97, 1.0, "Saving the map")}


def build_steps(progress: Progress | None, prefix: str = "") -> Callable[[str, int, int], None]:
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
