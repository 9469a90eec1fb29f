"""The Map tab: the audience map (coloured, filtered), its filter choices, one audience, one clip.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from interestmap.app import map_page
from interestmap.app.plots.bars import value_bars
from interestmap.app.plots.scatter import RICH_HOVER_UP_TO, Marker, map_figure
from interestmap.app.plots.style import NO_AUDIENCE, empty_figure, group_colors, short
from interestmap.app.views.indexes import (
    CACHE_LOCK,
    DEFAULT_CHOICE,
    FIGURE_CACHE,
    FRAME_CACHE,
    clip_rows,
    clips_by_id,
    get_index,
)
from interestmap.app.views.words import date_text, escape_md, language_code
from interestmap.errors import ConfigError
from interestmap.signals.language import language_name

if TYPE_CHECKING:
    from interestmap.index.interest_index import InterestIndex

COLOR_BY = {"Audience": "audience", "Account": "account", "Declared topic": "topic",
            "Language": "language"}
"""Map colouring, as shown to the user -> what it colours by."""

FIRST_DRAW_POINTS = 12_000
"""A map with more clips than this is drawn twice: first a sample of this many (so the
page shows a map at once), then every clip."""

TRY_THIS = ("**Try this:** hover the map to read clips · drag the lasso (toolbar, top "
            "right of the map) around a group to list and export its clips · search "
            "*street food in Rome* · check your own caption on **Check a clip** · compare "
            "*casa.caliente* with *fit.with.ana* on **Competitors**.")
"""The first screen's one line on what to try."""


def map_filters(accounts: Sequence[str] | None = None, languages: Sequence[str] | None = None,
                since: Any = None, until: Any = None) -> dict[str, Any]:
    """The index filter for the map's account, language and date choices."""
    f: dict[str, Any] = {}
    if accounts:
        f["account"] = list(accounts)
    if languages:
        f["language"] = [language_code(v) for v in languages]
    for k, v in (("since", since), ("until", until)):
        v = date_text(v)
        if v:
            f[k] = v
    return f


def filter_options(choice: str | None, label_language: str | None = None) -> dict[str, Any]:
    """Choices for the map's filters: accounts (most clips first), languages (as
    ``(name, code)``), audiences (as ``(label, id)``) and the date range of the clips."""
    idx = get_index(choice)
    rows = clip_rows(idx)
    acc = Counter(str(r.get("account") or "unknown") for r in rows)
    langs = Counter(str(r.get("language")) for r in rows if r.get("language"))
    dates = sorted(str(r["published_at"])[:10] for r in rows if r.get("published_at"))
    return {
        "accounts": [a for a, _ in acc.most_common()],
        "languages": [(f"{language_name(c)} ({n})", c) for c, n in langs.most_common()],
        "audiences": audience_choices(idx, label_language),
        "dates": (dates[0], dates[-1]) if dates else None,
    }


def audience_choices(idx: InterestIndex, language: str | None = None) -> list[tuple[str, int]]:
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
    with CACHE_LOCK:
        hit = FIGURE_CACHE.get(key)
    if hit is not None:
        return hit
    everything = clip_rows(idx)
    rows = clip_rows(idx, filters) if filters else everything
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
        markers.append(Marker(float(pinned["x"]), float(pinned["y"]), "My clip"))
    if search and search.get("x") is not None and search.get("y") is not None:
        markers.append(Marker(float(search["x"]), float(search["y"]),
                                    f"“{short(str(search.get('query', '')), 30)}”",
                                    symbol="diamond", color="#d62728"))
    highlight = [str(c["id"]) for c in (search or {}).get("clips", [])]
    rich = len(everything) <= RICH_HOVER_UP_TO
    with CACHE_LOCK:
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
    fig = map_figure(points, [m.group(map_page.column_value(r, m.column)) for r in points],
                           group_title=title, selected=selected, label_groups=m.label_groups,
                           revision=str(idx.dir), density=density, markers=markers,
                           highlight=highlight, shown=shown, colors=colors[mode],
                           rich_hover=rich, page=page)
    text = sampled or map_page.summary_text(rows, len(everything))
    with CACHE_LOCK:
        if len(FIGURE_CACHE) > 24:
            FIGURE_CACHE.clear()
        FIGURE_CACHE[key] = (fig, text)
    return fig, text


_FIG_SERIAL = [0]

COLOR_TITLES = {v: k for k, v in COLOR_BY.items()}
"""What each colouring is called on the page (mode -> the "Colour by" choice)."""


def colour_modes(idx: InterestIndex, label_language: str | None = None) -> dict[str, Any]:
    """The map's colourings (mode -> :class:`~interestmap.app.map_page.ColourMode`): by
    audience (named for ``label_language``), account, language, or declared topic (the
    top declared topic of the clip's audience)."""
    from interestmap.app.map_page import ColourMode

    names = audience_labels(idx, label_language)
    top = {a.id: (a.top_topics[0]["name"] if a.top_topics else a.label)
           for a in idx.audiences}

    def audience(a: Any) -> str:
        return NO_AUDIENCE if a is None or a < 0 else names.get(a, f"audience {a}")

    def topic(a: Any) -> str:
        return NO_AUDIENCE if a is None or a < 0 else top.get(a, NO_AUDIENCE)

    def account(v: Any) -> str:
        return str(v or "unknown")

    def language(v: Any) -> str:
        return language_name(v) if v else "unknown"

    return {"audience": ColourMode("Audience", "audience", audience, label_groups=True),
            "account": ColourMode("Account", "account", account),
            "topic": ColourMode("Declared topic", "audience", topic, label_groups=True),
            "language": ColourMode("Language", "language", language)}


def _mode_colors(idx: InterestIndex, label_language: str | None = None) -> dict[str, dict[str, str]]:
    """Each colouring's group colours over every clip of the map (cached), so a group
    keeps its colour whatever the filters and in a down-sampled first draw."""
    key = (Path(str(idx.dir)).resolve(), "colors", language_code(label_language))
    with CACHE_LOCK:
        hit = FRAME_CACHE.get(key)
    if hit is None:
        rows = clip_rows(idx)
        hit = [{mode: group_colors([m.group(map_page.column_value(r, m.column))
                                          for r in rows])
                for mode, m in colour_modes(idx, label_language).items()}]
        with CACHE_LOCK:
            FRAME_CACHE[key] = hit
    return hit[0]


def _language_filter(idx: InterestIndex) -> dict[str, str | None]:
    """Each language the map's filter offers -> the code the index filters on (cached)."""
    key = (Path(str(idx.dir)).resolve(), "language-filter")
    with CACHE_LOCK:
        hit = FRAME_CACHE.get(key)
    if hit is None:
        hit = [{str(v): language_code(v) for v in {r.get("language") for r in clip_rows(idx)}
                if v}]
        with CACHE_LOCK:
            FRAME_CACHE[key] = hit
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


def audience_labels(idx: InterestIndex, language: str | None = None) -> dict[int, str]:
    """Each audience's label, with the keywords of ``language`` first."""
    return {a.id: a.label_for(language) for a in idx.audiences}


def color_groups(idx: InterestIndex, rows: Sequence[Mapping[str, Any]], mode: str,
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
                empty_figure("No audience picked yet."))
    aud = _audience(idx, audience)
    words = ", ".join(w for w, _ in aud.keywords[:10]) or "—"
    topics = ", ".join(t["name"] for t in aud.top_topics[:3]) or "—"
    lines = [f"### {escape_md(aud.label)}", "",
             f"**{aud.size:,} clips** · top declared topics: {escape_md(topics)}", "",
             f"**Words its clips use:** {escape_md(words)}", "", "**Typical clips:**", ""]
    by_id = {str(r.get("id")): r for r in clip_rows(idx)}
    for cid in aud.exemplars[:5]:
        r = by_id.get(str(cid), {})
        cap = short(str(r.get("caption") or "(no caption)"), 160)
        lines.append(f"- {escape_md(cap)} — *{escape_md(str(r.get('account') or '?'))}*")
    fig = value_bars(aud.account_shares, axis_title="share of its clips",
                           percent=True)
    return "\n".join(lines), fig


def _audience(idx: InterestIndex, audience: int | str) -> Any:
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
    row = clips_by_id(idx).get(clip_id)
    if row is None:
        raise ConfigError(f"no clip {clip_id!r} on this map")
    aud = row.get("audience")
    aud = int(aud) if aud is not None and int(aud) >= 0 else None
    prob = row.get("audience_probability")
    conf = f" ({prob:.0%} sure)" if aud is not None and prob is not None else ""
    lines = [f"**{escape_md(str(row.get('account') or 'unknown'))}** · "
             f"{escape_md(language_name(row.get('language')) if row.get('language') else 'language unknown')}"
             + (f" · {str(row['published_at'])[:10]}" if row.get("published_at") else ""),
             "", escape_md(str(row.get("caption") or "(no caption)")), "",
             f"Audience: **{escape_md(str(row.get('audience_label')))}**{conf}"]
    if row.get("media"):
        lines += ["", f"<small>{escape_md(Path(str(row['media'][0])).name)}</small>"]
    thumb = thumbnail(row.get("media") or None)
    return "\n".join(lines), (str(thumb) if thumb else None), aud
