"""The app's event handlers: thin adapters from Gradio components to the views.

Each shows a user error (:class:`~interestmap.errors.InterestmapError`) as a plain message
and anything unexpected as a one-line message, with the details in the terminal.
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gradio as gr

from interestmap.app.layout import REMOVABLE
from interestmap.app.views import build_tab
from interestmap.app.views.check_tab import check_clip_view
from interestmap.app.views.competitors_tab import competitors_view
from interestmap.app.views.indexes import clip_rows, get_index, index_choices, index_overview
from interestmap.app.views.map_tab import (
    FIRST_DRAW_POINTS,
    audience_view,
    clip_view,
    filter_options,
    map_filters,
    map_view,
)
from interestmap.app.views.selection import (
    pin_markdown,
    pinned_clip,
    search_markdown,
    search_view,
    selection_view,
)
from interestmap.app.views.whatif_tab import whatif_view
from interestmap.errors import InterestmapError

log = logging.getLogger("interestmap.app")


def plot_data(fig: Any) -> Any:
    """A figure as the page's plot value, with the map's Plotly config (wheel zoom, lasso
    and box in the toolbar); serialised once per figure object (views cache figures)."""
    from gradio.components.plot import PlotData

    from interestmap.app.plots.scatter import MAP_CONFIG

    if fig is None or isinstance(fig, PlotData):
        return fig
    key = id(fig)
    hit = _JSON.get(key)
    if hit is None or hit[0] is not fig:
        text = fig.to_json()
        text = text[:-1] + ', "config": ' + json.dumps(MAP_CONFIG) + "}"
        if len(_JSON) > 32:
            _JSON.clear()
        hit = _JSON[key] = (fig, text)
    return PlotData(type="plotly", plot=hit[1])


_JSON: dict[int, tuple[Any, str]] = {}


def friendly(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Run ``fn``; show an InterestmapError as its one-line message and anything else as
    a short message (the traceback goes to the log, never to the user)."""
    @functools.wraps(fn)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except gr.Error:
            raise
        except InterestmapError as e:
            raise gr.Error(str(e), title="Can't do that", print_exception=False) from None
        except Exception as e:  # noqa: BLE001 - shown as one line, logged in full
            log.exception("unexpected error in %s", fn.__name__)
            first = (str(e).splitlines() or [type(e).__name__])[0][:200]
            raise gr.Error(f"Something went wrong ({first}). The details are in the "
                           "terminal that runs the app.", print_exception=False) from None
    return run


@friendly
def indexes() -> gr.Dropdown:
    """The maps that can be opened (refreshes the picker)."""
    return gr.Dropdown(choices=index_choices())


@friendly
def list_maps() -> list[list[str]]:
    """The maps that can be opened, as [label, index] pairs (index: a folder or "default")."""
    return [[label, choice] for label, choice in index_choices()]


@friendly
def overview(index: str) -> str:
    """What the chosen map holds, in a sentence."""
    return index_overview(index)


@friendly
def map_options(index: str, label_language: str | None = None,
                request: gr.Request | None = None) -> tuple[Any, ...]:
    """Filter choices of the chosen map (resets the filters); audience names in the
    browser's language unless one is chosen."""
    lang = label_language or _browser_language(request)
    opts = filter_options(index, lang)
    accounts = opts["accounts"]
    aud = opts["audiences"]
    return (gr.Dropdown(choices=accounts, value=[]),
            gr.Dropdown(choices=opts["languages"], value=[]),
            gr.Dropdown(choices=aud, value=aud[0][1] if aud else None),
            gr.Dropdown(choices=accounts, value=accounts[0] if len(accounts) > 2 else None),
            gr.Dropdown(choices=accounts, value=accounts[1:3] if len(accounts) > 2 else []),
            index_overview(index), lang)


def _browser_language(request: gr.Request | None) -> str:
    """The first language of the browser's Accept-Language that we name, else English."""
    from interestmap.encoders.context import language_names

    header = ""
    if request is not None:
        header = (getattr(request, "headers", None) or {}).get("accept-language", "") or ""
    for part in header.split(","):
        code = part.split(";")[0].strip().lower().split("-")[0]
        if code in language_names():
            return code
    return "en"


@friendly
def map_figure(index: str, color_by: str, accounts: list[str] | None,
               languages: list[str] | None, since: Any, until: Any,
               label_language: str | None = None, density: bool = True, pin: Any = None,
               search: Any = None, request: gr.Request | None = None) -> tuple[Any, str]:
    """The map of the chosen index, coloured and filtered, with the pinned clip and the
    last search on it."""
    fig, text = map_view(index, color_by, accounts, languages, since, until,
                               label_language=label_language or _browser_language(request),
                               density=bool(density), pinned=pin or None,
                               search=search or None)
    return plot_data(fig), text


@friendly
def map_first(index: str, color_by: str, accounts: list[str] | None,
              languages: list[str] | None, since: Any, until: Any,
              label_language: str | None = None, density: bool = True, pin: Any = None,
              search: Any = None, request: gr.Request | None = None) -> tuple[Any, str]:
    """The map's first draw: a sample of a big map, all of a small one."""
    fig, text = map_view(index, color_by, accounts, languages, since, until,
                               label_language=label_language or _browser_language(request),
                               density=bool(density), pinned=pin or None,
                               search=search or None, sample=FIRST_DRAW_POINTS)
    return plot_data(fig), text


@friendly
def map_rest(index: str, color_by: str, accounts: list[str] | None,
             languages: list[str] | None, since: Any, until: Any,
             label_language: str | None = None, density: bool = True, pin: Any = None,
             search: Any = None, request: gr.Request | None = None) -> tuple[Any, str]:
    """Every clip, after a sampled first draw (nothing to do when it showed them all)."""
    rows = clip_rows(get_index(index), map_filters(accounts, languages,
                                                                  since, until))
    if len(rows) <= FIRST_DRAW_POINTS:
        return gr.skip(), gr.skip()
    return map_figure(index, color_by, accounts, languages, since, until, label_language,
                      density, pin, search, request)


@friendly
def search(index: str, query: str) -> tuple[Any, str]:
    """Where a text lands on the map, and its nearest clips (the map shows both)."""
    res = search_view(index, query)
    return res, search_markdown(res)


@friendly
def selection(index: str, shape: str, accounts: list[str] | None,
              languages: list[str] | None, since: Any, until: Any,
              label_language: str | None = None) -> tuple[Any, ...]:
    """The clips inside a lasso or box on the map: a summary, a table and the CSV and
    JSONL files. ``shape`` is JSON: {"lasso": {"x": [...], "y": [...]}} or
    {"box": {"x": [x0, x1], "y": [y0, y1]}} in map coordinates."""
    v = selection_view(index, shape, accounts, languages, since, until, label_language)
    files = [p for p in (v.csv_path, v.jsonl_path) if p]
    return (v.summary_md, gr.Dataframe(value=v.table, visible=bool(v.table)),
            gr.File(value=files or None, visible=bool(files)))


@friendly
def audience(index: str, audience_id: Any) -> tuple[str, Any]:
    """One audience: its name, words, typical clips and who posts into it."""
    return audience_view(index, audience_id)


@friendly
def clip(index: str, clip_id: str) -> tuple[str, Any, Any]:
    """One clip of the map: its text, thumbnail (a picture of its media, if any) and
    audience. ``clip_id`` is a clip's id as in the map's hover data."""
    md, thumb, aud = clip_view(index, clip_id)
    return (md, gr.Image(value=thumb, visible=thumb is not None),
            gr.Dropdown(value=aud) if aud is not None else gr.Dropdown())


@friendly
def check_clip(index: str, files: list[str] | None, caption: str, language: str, geo: str,
               progress: gr.Progress = gr.Progress()) -> tuple[Any, ...]:  # noqa: B008
    """Where a clip lands, its clarity, declared topics, nearest audiences and advice;
    the clip is pinned on every map of the page."""
    v = check_clip_view(index, files, caption, language, geo, progress=progress)
    pin = pinned_clip(v.result, caption or (Path(files[0]).name if files else ""))
    return (plot_data(v.map), v.clarity_md, v.topics, v.audiences_md, v.advice_md, v.encoded,
            pin, gr.Markdown(pin_markdown(pin), visible=pin is not None),
            gr.Button(visible=pin is not None))


@friendly
def whatif(index: str, files: list[str] | None, caption: str, language: str, geo: str,
           new_caption: str, new_language: str, new_geo: str, new_visuals: str | None,
           new_audio: str | None, remove: list[str] | None, checked: Any = None,
           progress: gr.Progress = gr.Progress()) -> tuple[Any, ...]:  # noqa: B008
    """How the edits move the clip: the map with arrows, and what changed."""
    v = whatif_view(index, files, caption, language, geo,
                          new_caption=new_caption, new_language=new_language, new_geo=new_geo,
                          new_visuals=new_visuals, new_audio=new_audio,
                          remove=[REMOVABLE.get(r, r) for r in (remove or [])],
                          checked=checked, progress=progress)
    return plot_data(v.map), v.changes_md, v.audiences, v.topics


@friendly
def competitors(index: str, mine: str | None, others: list[str] | None,
                thin: float) -> tuple[Any, str, str]:
    """The chosen accounts over the audiences: shares, overlap with you, open audiences."""
    v = competitors_view(index, others, mine, thin=float(thin) / 100.0)
    return v.shares, v.accounts_md, v.open_md


@friendly
def build_map(name: str, folder: str, manifest: str | None,
              progress: gr.Progress = gr.Progress()) -> tuple[str, Any]:  # noqa: B008
    """Build a map from a folder on this computer or an uploaded manifest."""
    report, choice = build_tab.build_map(name, folder, manifest, progress=progress)
    return report, gr.Dropdown(choices=index_choices(), value=choice)
