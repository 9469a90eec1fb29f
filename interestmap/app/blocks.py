"""The Gradio app: the tabs of :mod:`interestmap.app.layout` wired to the handlers of
:mod:`interestmap.app.handlers`, which call the views (:mod:`interestmap.app.views`).

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

from pathlib import Path
from typing import Any

import gradio as gr

from interestmap.app.handlers import (
    audience,
    build_map,
    check_clip,
    clip,
    competitors,
    indexes,
    list_maps,
    map_figure,
    map_first,
    map_options,
    map_rest,
    overview,
    search,
    selection,
    whatif,
)
from interestmap.app.layout import (
    build_components,
    check_components,
    competitors_components,
    map_components,
    whatif_components,
)
from interestmap.app.map_page import page_script
from interestmap.app.views.indexes import (
    DEFAULT_CHOICE,
    default_dir,
    get_index,
    index_choices,
    remember_index,
)
from interestmap.app.views.map_tab import TRY_THIS, audience_choices

TITLE = "interestmap"

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


def build_app(index: str | None = None) -> gr.Blocks:
    """The app's Blocks, opening on ``index`` (a folder) or on the built-in default."""
    first = DEFAULT_CHOICE
    if index and Path(index).expanduser().resolve() != default_dir().resolve():
        first = remember_index(index)
    with gr.Blocks(title=TITLE) as demo:
        gr.Markdown("# interestmap\nSee which audiences a clip reaches *before* you post "
                    "it: the map of audiences, a check of your clip, what-if edits and your "
                    "competitors.")
        gr.Markdown(TRY_THIS, elem_id="im-try")
        with gr.Row(equal_height=False):
            index_dd = gr.Dropdown(index_choices(), value=first, label="Map",
                                   info="The built-in topic atlas, or a map you built",
                                   scale=2, interactive=True)
            refresh = gr.Button("Refresh list", scale=0, size="sm", min_width=110)
            about = gr.Markdown(elem_classes="im-note")
        with gr.Row(equal_height=True):
            pin_md = gr.Markdown(visible=False, elem_id="im-pin")
            unpin = gr.Button("Unpin", size="sm", scale=0, min_width=80, visible=False)
        with gr.Tabs():
            with gr.Tab("Map", id="map"):
                m = map_components()
            with gr.Tab("Check a clip", id="check"):
                c = check_components()
            with gr.Tab("What if", id="whatif"):
                w = whatif_components()
            with gr.Tab("Competitors", id="competitors"):
                k = competitors_components()
            with gr.Tab("Build a map", id="build"):
                b = build_components()
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
            lambda i, lang: gr.Dropdown(choices=audience_choices(get_index(i),
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
