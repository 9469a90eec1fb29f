"""The components of each tab of the app (no events: :mod:`interestmap.app.blocks` wires them).
"""

from __future__ import annotations

import functools
from typing import Any

import gradio as gr

from interestmap.app.views.map_tab import COLOR_BY
from interestmap.app.views.selection import SELECTION_COLUMNS
from interestmap.app.views.words import language_choices

MEDIA_TYPES = ["video", "image", "audio"]

MANIFEST_TYPES = [".csv", ".tsv", ".jsonl", ".ndjson", ".json"]

REMOVABLE = {"Caption": "caption", "On-screen text": "ocr", "Speech": "speech",
             "Pictures": "visuals", "Sound": "sound", "Language": "language", "Place": "geo"}


def map_components() -> dict[str, Any]:
    """The Map tab's components (the map, its filters and side panels), by name."""
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
            out["color_by"] = gr.Radio(list(COLOR_BY), value="Audience",
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
        out["selection_table"] = gr.Dataframe(headers=list(SELECTION_COLUMNS),
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
    langs = language_choices()
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


def check_components() -> dict[str, Any]:
    """The Check a clip tab's components, by name."""
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


def whatif_components() -> dict[str, Any]:
    """The What if tab's components, by name."""
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


def competitors_components() -> dict[str, Any]:
    """The Competitors tab's components, by name."""
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


def build_components() -> dict[str, Any]:
    """The Build a map tab's components, by name."""
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
