"""The Gradio app: tabs wired to the functions of :mod:`interestmap.app.views`.

Nothing here computes anything about clips. Each event has an ``api_name``, so the same
functions are reachable through the Gradio client API (``gradio_client.Client``):

=================  =================================================================
``/indexes``       list the maps that can be opened
``/overview``      what a map holds, in a sentence
``/map_options``   the filter choices of a map (accounts, languages, audiences)
``/map_figure``    the map, coloured and filtered (audience names in a chosen language,
                   density shading, the pinned clip and a search on it)
``/search``        where a text lands on the map, and its nearest clips
``/selection``     the clips inside a lasso or box on the map, listed and exported
``/audience``      one audience: keywords, typical clips, who posts into it
``/clip``          one clip of the map: its text, thumbnail and audience
``/check_clip``    where a new clip lands, its clarity, topics, audiences and advice
``/whatif``        how edits to the checked clip move it
``/competitors``   accounts compared over the audiences, and the open audiences
``/build_map``     build a map from a folder or a manifest
=================  =================================================================

User errors (:class:`~interestmap.errors.InterestmapError`) are shown as a plain
message; anything unexpected as a one-line message, with the details in the terminal.
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gradio as gr

from interestmap.app import views as views
from interestmap.app.map_page import page_script
from interestmap.errors import InterestmapError

log = logging.getLogger("interestmap.app")

TITLE = "interestmap"
MEDIA_TYPES = ["video", "image", "audio"]
MANIFEST_TYPES = [".csv", ".tsv", ".jsonl", ".ndjson", ".json"]
REMOVABLE = {"Caption": "caption", "On-screen text": "ocr", "Speech": "speech",
             "Pictures": "visuals", "Sound": "audio", "Language": "language", "Place": "geo"}

CSS = """
#im-picked, #im-picked-aud, #im-selection {display: none !important;}
#im-try {margin: -0.4em 0 0.2em 0;}
#im-pin {border-left: 4px solid #ffb000; padding-left: 0.6em;}
#im-clip-panel img {object-fit: contain;}
.im-note {color: var(--body-text-color-subdued); font-size: 0.92em;}
#im-clarity .prose h2 {margin-top: 0;}
.prose th {white-space: nowrap;}
"""

# The page's map code (interestmap/static/map_page.js): recolouring and filtering in the
# page, and Plotly's click, hover and selection events written into hidden textboxes whose
# change then asks the server (gr.Plot has no select event of its own).
HEAD = page_script()

IN_PAGE = ("(index, color, accounts, languages, since, until, density) => window.imMap ? "
           "window.imMap.apply({index: index, color: color, accounts: accounts, "
           "languages: languages, since: since, until: until, density: density}) : ''")
"""The map's colouring and filters, applied in the page (returns the map's summary)."""


def plot_data(fig: Any) -> Any:
    """A figure as the page's plot value, with the map's Plotly config (wheel zoom, lasso
    and box in the toolbar); serialised once per figure object (views cache figures)."""
    from gradio.components.plot import PlotData

    from interestmap.app.plots import MAP_CONFIG

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


# Handlers: thin adapters from components to views -------------------------------------------
@friendly
def indexes() -> gr.Dropdown:
    """The maps that can be opened (refreshes the picker)."""
    return gr.Dropdown(choices=views.index_choices())


@friendly
def list_maps() -> list[list[str]]:
    """The maps that can be opened, as [label, index] pairs (index: a folder or "default")."""
    return [[label, choice] for label, choice in views.index_choices()]


@friendly
def overview(index: str) -> str:
    """What the chosen map holds, in a sentence."""
    return views.index_overview(index)


@friendly
def map_options(index: str, label_language: str | None = None,
                request: gr.Request | None = None) -> tuple[Any, ...]:
    """Filter choices of the chosen map (resets the filters); audience names in the
    browser's language unless one is chosen."""
    lang = label_language or _browser_language(request)
    opts = views.filter_options(index, lang)
    accounts = opts["accounts"]
    aud = opts["audiences"]
    return (gr.Dropdown(choices=accounts, value=[]),
            gr.Dropdown(choices=opts["languages"], value=[]),
            gr.Dropdown(choices=aud, value=aud[0][1] if aud else None),
            gr.Dropdown(choices=accounts, value=accounts[0] if len(accounts) > 2 else None),
            gr.Dropdown(choices=accounts, value=accounts[1:3] if len(accounts) > 2 else []),
            views.index_overview(index), lang)


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
    fig, text = views.map_view(index, color_by, accounts, languages, since, until,
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
    fig, text = views.map_view(index, color_by, accounts, languages, since, until,
                               label_language=label_language or _browser_language(request),
                               density=bool(density), pinned=pin or None,
                               search=search or None, sample=views.FIRST_DRAW_POINTS)
    return plot_data(fig), text


@friendly
def map_rest(index: str, color_by: str, accounts: list[str] | None,
             languages: list[str] | None, since: Any, until: Any,
             label_language: str | None = None, density: bool = True, pin: Any = None,
             search: Any = None, request: gr.Request | None = None) -> tuple[Any, str]:
    """Every clip, after a sampled first draw (nothing to do when it showed them all)."""
    rows = views._frame(views.get_index(index), views.map_filters(accounts, languages,
                                                                  since, until))
    if len(rows) <= views.FIRST_DRAW_POINTS:
        return gr.skip(), gr.skip()
    return map_figure(index, color_by, accounts, languages, since, until, label_language,
                      density, pin, search, request)


@friendly
def search(index: str, query: str) -> tuple[Any, str]:
    """Where a text lands on the map, and its nearest clips (the map shows both)."""
    res = views.search_view(index, query)
    return res, views.search_markdown(res)


@friendly
def selection(index: str, shape: str, accounts: list[str] | None,
              languages: list[str] | None, since: Any, until: Any,
              label_language: str | None = None) -> tuple[Any, ...]:
    """The clips inside a lasso or box on the map: a summary, a table and the CSV and
    JSONL files. ``shape`` is JSON: {"lasso": {"x": [...], "y": [...]}} or
    {"box": {"x": [x0, x1], "y": [y0, y1]}} in map coordinates."""
    v = views.selection_view(index, shape, accounts, languages, since, until, label_language)
    files = [p for p in (v.csv_path, v.jsonl_path) if p]
    return (v.summary_md, gr.Dataframe(value=v.table, visible=bool(v.table)),
            gr.File(value=files or None, visible=bool(files)))


@friendly
def audience(index: str, audience_id: Any) -> tuple[str, Any]:
    """One audience: its name, words, typical clips and who posts into it."""
    return views.audience_view(index, audience_id)


@friendly
def clip(index: str, clip_id: str) -> tuple[str, Any, Any]:
    """One clip of the map: its text, thumbnail (a picture of its media, if any) and
    audience. ``clip_id`` is a clip's id as in the map's hover data."""
    md, thumb, aud = views.clip_view(index, clip_id)
    return (md, gr.Image(value=thumb, visible=thumb is not None),
            gr.Dropdown(value=aud) if aud is not None else gr.Dropdown())


@friendly
def check_clip(index: str, files: list[str] | None, caption: str, language: str, geo: str,
               progress: gr.Progress = gr.Progress()) -> tuple[Any, ...]:  # noqa: B008
    """Where a clip lands, its clarity, declared topics, nearest audiences and advice;
    the clip is pinned on every map of the page."""
    v = views.check_clip_view(index, files, caption, language, geo, progress=progress)
    pin = views.pinned_clip(v.result, caption or (Path(files[0]).name if files else ""))
    return (plot_data(v.map), v.clarity_md, v.topics, v.audiences_md, v.advice_md, v.encoded,
            pin, gr.Markdown(views.pin_markdown(pin), visible=pin is not None),
            gr.Button(visible=pin is not None))


@friendly
def whatif(index: str, files: list[str] | None, caption: str, language: str, geo: str,
           new_caption: str, new_language: str, new_geo: str, new_visuals: str | None,
           new_audio: str | None, remove: list[str] | None, checked: Any = None,
           progress: gr.Progress = gr.Progress()) -> tuple[Any, ...]:  # noqa: B008
    """How the edits move the clip: the map with arrows, and what changed."""
    v = views.whatif_view(index, files, caption, language, geo,
                          new_caption=new_caption, new_language=new_language, new_geo=new_geo,
                          new_visuals=new_visuals, new_audio=new_audio,
                          remove=[REMOVABLE.get(r, r) for r in (remove or [])],
                          checked=checked, progress=progress)
    return plot_data(v.map), v.changes_md, v.audiences, v.topics


@friendly
def competitors(index: str, mine: str | None, others: list[str] | None,
                thin: float) -> tuple[Any, str, str]:
    """The chosen accounts over the audiences: shares, overlap with you, open audiences."""
    v = views.competitors_view(index, others, mine, thin=float(thin) / 100.0)
    return v.shares, v.accounts_md, v.open_md


@friendly
def build_map(name: str, folder: str, manifest: str | None,
              progress: gr.Progress = gr.Progress()) -> tuple[str, Any]:  # noqa: B008
    """Build a map from a folder on this computer or an uploaded manifest."""
    report, choice = views.build_map(name, folder, manifest, progress=progress)
    return report, gr.Dropdown(choices=views.index_choices(), value=choice)


# Layout --------------------------------------------------------------------------------------
def build_app(index: str | None = None) -> gr.Blocks:
    """The app's Blocks, opening on ``index`` (a folder) or on the built-in default."""
    first = views.DEFAULT_CHOICE
    if index and Path(index).expanduser().resolve() != views.default_dir().resolve():
        first = views.remember_index(index)
    with gr.Blocks(title=TITLE) as demo:
        gr.Markdown("# interestmap\nSee which audiences a clip reaches *before* you post "
                    "it: the map of audiences, a check of your clip, what-if edits and your "
                    "competitors.")
        gr.Markdown(views.TRY_THIS, elem_id="im-try")
        with gr.Row(equal_height=False):
            index_dd = gr.Dropdown(views.index_choices(), value=first, label="Map",
                                   info="The built-in topic atlas, or a map you built",
                                   scale=2, interactive=True)
            refresh = gr.Button("Refresh list", scale=0, size="sm", min_width=110)
            about = gr.Markdown(elem_classes="im-note")
        with gr.Row(equal_height=True):
            pin_md = gr.Markdown(visible=False, elem_id="im-pin")
            unpin = gr.Button("Unpin", size="sm", scale=0, min_width=80, visible=False)
        with gr.Tabs():
            with gr.Tab("Map", id="map"):
                m = _map_tab()
            with gr.Tab("Check a clip", id="check"):
                c = _check_tab()
            with gr.Tab("What if", id="whatif"):
                w = _whatif_tab()
            with gr.Tab("Competitors", id="competitors"):
                k = _competitors_tab()
            with gr.Tab("Build a map", id="build"):
                b = _build_tab()
        checked = gr.State(None)
        pin = gr.State(None)
        found = gr.State(None)

        filters = [index_dd, m["color_by"], m["accounts"], m["languages"], m["since"],
                   m["until"]]
        map_inputs = [*filters, m["label_language"], m["density"], pin, found]
        map_out = [m["plot"], m["summary"]]
        private = {"api_visibility": "private"}
        # Encoding and building load models and use every core: one at a time.
        heavy = {"concurrency_limit": 1, "concurrency_id": "models"}
        refresh.click(indexes, None, index_dd, api_name="refresh_list", **private)
        gr.api(list_maps, api_name="indexes")
        gr.api(overview, api_name="overview")
        options_out = [m["accounts"], m["languages"], m["audience"], k["mine"], k["others"],
                       about, m["label_language"]]
        # On page load the filters are empty: the first map is drawn at once, side by side
        # with the filter choices (a sample first when the map is big, then every clip).
        demo.load(map_first, map_inputs, map_out, api_name="map_first", **private).then(
            map_rest, map_inputs, map_out, api_name="map_rest", **private)
        demo.load(map_options, [index_dd, m["label_language"]], options_out,
                  api_name="map_options_first", **private).then(
            competitors, [index_dd, k["mine"], k["others"], k["thin"]],
            [k["plot"], k["accounts_md"], k["open_md"]], api_name="competitors_first",
            **private)
        index_dd.change(lambda: None, None, found, api_name="forget_search", **private).then(
            map_options, [index_dd, m["label_language"]], options_out,
            api_name="map_options").then(
            map_first, map_inputs, map_out, api_name="map_after_options", **private).then(
            map_rest, map_inputs, map_out, api_name="map_rest_after_options", **private)
        # Colouring and filters answer in the page at once (the map's figure describes its
        # clips); "Update map" (which the page presses where it cannot tell) asks the
        # server. "im-restyle" is pressed by the page when a map from the server was drawn
        # for other choices than the current ones.
        in_page = [index_dd, m["color_by"], m["accounts"], m["languages"], m["since"],
                   m["until"], m["density"]]
        gr.on([m["color_by"].input, m["accounts"].input, m["languages"].input,
               m["since"].change, m["until"].change, m["density"].input,
               m["restyle"].click], None, in_page, m["summary"], js=IN_PAGE,
              show_progress="hidden", queue=False)
        m["apply"].click(map_figure, map_inputs, map_out, api_name="map_figure")
        m["label_language"].input(map_figure, map_inputs, map_out,
                                  api_name="map_names", **private).then(
            lambda i, lang: gr.Dropdown(choices=views.audience_choices(views.get_index(i),
                                                                       lang)),
            [index_dd, m["label_language"]], m["audience"], api_name="audience_names",
            **private)
        m["clear"].click(lambda: ([], [], None, None, None, ""), None,
                         [m["accounts"], m["languages"], m["since"], m["until"], found,
                          m["search_md"]],
                         api_name="clear_filters", **private).then(
            None, in_page, m["summary"], js=IN_PAGE, show_progress="hidden", queue=False).then(
            map_figure, map_inputs, map_out, api_name="map_after_clear", **private)
        gr.on([m["search_go"].click, m["search"].submit], search, [index_dd, m["search"]],
              [found, m["search_md"]], api_name="search").then(
            map_figure, map_inputs, map_out, api_name="map_after_search", **private)
        m["selection"].change(selection, [*filters[:1], m["selection"], *filters[2:],
                                          m["label_language"]],
                              [m["selection_md"], m["selection_table"], m["export"]],
                              api_name="selection", show_progress="minimal")
        m["audience"].change(audience, [index_dd, m["audience"]],
                             [m["audience_md"], m["audience_plot"]], api_name="audience")
        m["picked"].change(clip, [index_dd, m["picked"]],
                           [m["clip_md"], m["thumb"], m["audience"]], api_name="clip",
                           show_progress="hidden")

        check_inputs = [index_dd, c["files"], c["caption"], c["language"], c["geo"]]
        c["go"].click(check_clip, check_inputs,
                      [c["plot"], c["clarity"], c["topics"], c["audiences"], c["advice"],
                       checked, pin, pin_md, unpin], api_name="check_clip", **heavy).then(
            map_figure, map_inputs, map_out, api_name="map_after_check", **private)
        unpin.click(lambda: (None, gr.Markdown(visible=False), gr.Button(visible=False)),
                    None, [pin, pin_md, unpin], api_name="unpin", **private).then(
            map_figure, map_inputs, map_out, api_name="map_after_unpin", **private)
        w["go"].click(whatif, [*check_inputs, w["caption"], w["language"], w["geo"],
                               w["visuals"], w["audio"], w["remove"], checked],
                      [w["plot"], w["changes"], w["audiences"], w["topics"]],
                      api_name="whatif", **heavy)
        w["copy"].click(lambda cap, lang, geo: (cap, lang, geo),
                        [c["caption"], c["language"], c["geo"]],
                        [w["caption"], w["language"], w["geo"]], api_name="copy_checked",
                        **private)
        k["go"].click(competitors, [index_dd, k["mine"], k["others"], k["thin"]],
                      [k["plot"], k["accounts_md"], k["open_md"]], api_name="competitors")
        b["go"].click(build_map, [b["name"], b["folder"], b["manifest"]],
                      [b["report"], index_dd], api_name="build_map", **heavy)
    return demo


def _map_tab() -> dict[str, Any]:
    out: dict[str, Any] = {}
    with gr.Row():
        with gr.Column(scale=3):
            with gr.Row(equal_height=True):
                out["search"] = gr.Textbox(show_label=False, scale=4, elem_id="im-search",
                                           placeholder="Search the map: type what a clip "
                                                       "is about, e.g. street food in Rome")
                out["search_go"] = gr.Button("Find on the map", scale=1, size="sm",
                                             elem_id="im-search-go")
            out["plot"] = gr.Plot(label="Audience map", elem_id="im-map",
                                  elem_classes="im-map")
            out["summary"] = gr.Markdown(elem_classes="im-note", elem_id="im-map-summary")
            out["search_md"] = gr.Markdown(elem_id="im-search-md")
        with gr.Column(scale=1, min_width=280):
            out["color_by"] = gr.Radio(list(views.COLOR_BY), value="Audience",
                                       label="Colour by", elem_id="im-color-by")
            with gr.Row():
                out["label_language"] = gr.Dropdown(
                    _name_languages(), value=None, label="Audience names in",
                    info="Keywords in this language first", elem_id="im-name-language",
                    scale=2)
                out["density"] = gr.Checkbox(value=True, label="Density shading", scale=1,
                                             elem_id="im-density")
            out["accounts"] = gr.Dropdown([], multiselect=True, label="Accounts",
                                          info="Empty: all accounts", elem_id="im-accounts")
            out["languages"] = gr.Dropdown([], multiselect=True, label="Languages",
                                           info="Empty: all languages", elem_id="im-languages")
            with gr.Row():
                out["since"] = gr.DateTime(include_time=False, type="string",
                                           label="Posted from", elem_id="im-since")
                out["until"] = gr.DateTime(include_time=False, type="string",
                                           label="Posted until", elem_id="im-until")
            with gr.Row():
                out["apply"] = gr.Button("Update map", size="sm", elem_id="im-apply")
                out["clear"] = gr.Button("Clear filters", size="sm", elem_id="im-clear")
            with gr.Group(elem_id="im-clip-panel"):
                out["thumb"] = gr.Image(label="Clip", height=200, interactive=False,
                                        type="filepath", visible=False)
                out["clip_md"] = gr.Markdown("Hover or click a point on the map to see "
                                             "the clip here.")
            out["picked"] = gr.Textbox(elem_id="im-picked", visible="hidden",
                                       label="clip id")
            out["selection"] = gr.Textbox(elem_id="im-selection", visible="hidden",
                                          label="selection")
            out["restyle"] = gr.Button("Redraw", elem_id="im-restyle", visible="hidden")
    with gr.Group():
        out["selection_md"] = gr.Markdown("Drag the **lasso** or **box** (map toolbar, top "
                                          "right) around some points to list and export "
                                          "their clips here.", elem_id="im-selection-md")
        out["selection_table"] = gr.Dataframe(headers=list(views.SELECTION_COLUMNS),
                                              visible=False, interactive=False,
                                              wrap=True, max_height=320,
                                              elem_id="im-selection-table")
        out["export"] = gr.File(label="Download the selection", file_count="multiple",
                                visible=False, interactive=False, elem_id="im-export")
    with gr.Row():
        with gr.Column(scale=2):
            out["audience"] = gr.Dropdown([], label="Audience",
                                          info="Pick one, or click a point on the map")
            out["audience_md"] = gr.Markdown()
        with gr.Column(scale=1):
            out["audience_plot"] = gr.Plot(label="Who posts into it")
    return out


def _clip_inputs(new: bool = False) -> dict[str, Any]:
    def label(word: str) -> str:
        return f"New {word.lower()}" if new else word

    out: dict[str, Any] = {}
    out["caption"] = gr.Textbox(label=label("Caption"), lines=3,
                                placeholder="Your caption, with hashtags")
    langs = views.language_choices()
    if new:
        langs = [("Keep as it is", "")] + langs[1:]
    out["language"] = gr.Dropdown(langs, value="",
                                  label=label("Language"), allow_custom_value=True,
                                  filterable=True)
    out["geo"] = gr.Dropdown(_places(), value=None, label=label("Place"),
                             allow_custom_value=True, filterable=True,
                             info="Where it is posted: a city or country (type to search), "
                                  "or lat,lon")
    return out


def _check_tab() -> dict[str, Any]:
    out: dict[str, Any] = {}
    with gr.Row():
        with gr.Column(scale=1, min_width=300):
            out["files"] = gr.File(label="Video, image(s) or audio", file_count="multiple",
                                   file_types=MEDIA_TYPES, type="filepath")
            out.update(_clip_inputs())
            out["go"] = gr.Button("Check", variant="primary", elem_id="im-check")
            gr.Markdown("A video takes a little while: its frames, speech and on-screen "
                        "text are all read.", elem_classes="im-note")
        with gr.Column(scale=2):
            out["clarity"] = gr.Markdown("Add your clip on the left and press **Check**.",
                                         elem_id="im-clarity")
            out["plot"] = gr.Plot(label="Where it lands", elem_id="im-check-map",
                                  elem_classes="im-map")
    with gr.Row():
        out["topics"] = gr.Plot(label="Declared topics, by what the clip shows and says")
        with gr.Column():
            out["audiences"] = gr.Markdown(elem_id="im-nearest")
            out["advice"] = gr.Markdown(elem_id="im-advice")
    return out


def _whatif_tab() -> dict[str, Any]:
    out: dict[str, Any] = {}
    gr.Markdown("Starts from the clip on **Check a clip**. Change one or more things and "
                "see where the clip moves on the map: an arrow goes from before to after.")
    with gr.Row():
        with gr.Column(scale=1, min_width=300):
            out["copy"] = gr.Button("Start from the checked clip", size="sm")
            out.update(_clip_inputs(new=True))
            with gr.Row():
                out["visuals"] = gr.File(label="New visuals (video or image)",
                                         file_types=["video", "image"], type="filepath")
                out["audio"] = gr.File(label="New sound (audio file)", file_types=["audio"],
                                       type="filepath")
            out["remove"] = gr.CheckboxGroup(list(REMOVABLE), label="Leave out")
            out["go"] = gr.Button("Try it", variant="primary")
        with gr.Column(scale=2):
            out["changes"] = gr.Markdown()
            out["plot"] = gr.Plot(label="The move", elem_id="im-whatif-map",
                                  elem_classes="im-map")
    with gr.Row():
        out["audiences"] = gr.Plot(label="Audiences, before and after")
        out["topics"] = gr.Plot(label="Declared topics, before and after")
    return out


def _competitors_tab() -> dict[str, Any]:
    out: dict[str, Any] = {}
    gr.Markdown("Compare accounts on a map: which audiences each one posts into, how much "
                "they overlap with you, and which audiences none of you reaches yet. The "
                "built-in atlas has ten made-up creators to try it on; for your own, map "
                "your and your competitors' clips on **Build a map**.")
    with gr.Row():
        out["mine"] = gr.Dropdown([], label="Your account", info="Optional")
        out["others"] = gr.Dropdown([], multiselect=True, label="Competitors")
        out["thin"] = gr.Slider(1, 30, value=5, step=1, label="Counts as covered from (%)",
                                info="of an account's clips in an audience")
    out["go"] = gr.Button("Compare", variant="primary")
    with gr.Row():
        with gr.Column(scale=3):
            out["plot"] = gr.Plot(label="Share of each audience")
        with gr.Column(scale=2):
            out["accounts_md"] = gr.Markdown()
            out["open_md"] = gr.Markdown()
    return out


def _build_tab() -> dict[str, Any]:
    out: dict[str, Any] = {}
    gr.Markdown("Map your own clips and your competitors' clips. Point at a **folder** on "
                "this computer (one subfolder per account; a `.txt` next to a file is its "
                "caption) or upload a **manifest** (CSV or JSONL with `id`, `account`, "
                "`caption`, `media`, optionally `language`, `geo`, `published_at`). Media "
                "paths in an uploaded manifest must be full paths on this computer. "
                "Re-building the same name only encodes the new clips.")
    with gr.Row():
        out["name"] = gr.Textbox(label="Name of the map", placeholder="my-shop")
        out["folder"] = gr.Textbox(label="Folder on this computer",
                                   placeholder="/home/me/clips")
        out["manifest"] = gr.File(label="…or a manifest", file_types=MANIFEST_TYPES,
                                  type="filepath")
    out["go"] = gr.Button("Build the map", variant="primary")
    out["report"] = gr.Markdown()
    return out


def _name_languages() -> list[tuple[str, str]]:
    from interestmap.encoders.context import language_names

    return sorted(((n, c) for c, n in language_names().items()), key=lambda t: t[0])


@functools.lru_cache(maxsize=1)
def _places() -> list[str]:
    from interestmap.signals.geo import list_places

    return list_places()


def mount(api: Any, demo: gr.Blocks, path: str = "/") -> Any:
    """Mount the app on a FastAPI server (the HTTP API's), with the same look as
    :func:`launch`: one process, one open index, the app at ``path``."""
    from interestmap.media.thumbnails import thumbs_dir

    thumbs = thumbs_dir()
    thumbs.mkdir(parents=True, exist_ok=True)
    return gr.mount_gradio_app(api, demo.queue(default_concurrency_limit=2), path=path,
                               css=CSS, head=HEAD, theme=gr.themes.Soft(),
                               allowed_paths=[str(Path(thumbs))], show_error=False,
                               footer_links=["api"])


def launch(demo: gr.Blocks, host: str = "127.0.0.1", port: int = 7860, **kwargs: Any) -> Any:
    """Serve the app (queue on, our theme, styles and click hooks; thumbnails allowed)."""
    from interestmap.media.thumbnails import thumbs_dir

    thumbs = thumbs_dir()
    thumbs.mkdir(parents=True, exist_ok=True)
    return demo.queue(default_concurrency_limit=2).launch(
        server_name=host, server_port=port, css=CSS, head=HEAD,
        theme=gr.themes.Soft(), allowed_paths=[str(Path(thumbs))], show_error=False,
        footer_links=["api"], **kwargs)
