"""The functions behind the app: figure builders, competitor comparison, and the views
over a small real index (60 X-Topic captions, built once per session)."""

from __future__ import annotations

import html
import json
import random
import re
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import plotly.graph_objects as go
import pytest

from interestmap.analysis.competitors import compare_accounts, overlap
from interestmap.app.plots import bars, density, scatter, style
from interestmap.errors import ConfigError, InterestmapError


def _points(n: int, groups: int = 3, seed: int = 0) -> list[dict]:
    rng = random.Random(seed)
    return [{"id": f"c{i}", "x": rng.random(), "y": rng.random(), "account": f"acc{i % 2}",
             "caption": f"caption <b>{i}</b> & more", "language": "en",
             "audience_label": (style.NO_AUDIENCE if i % (groups + 1) == groups
                                else f"group {i % (groups + 1)}")}
            for i in range(n)]


# Figures -------------------------------------------------------------------------------------
def test_map_figure_one_trace_per_group_and_every_point_drawn():
    pts = _points(40)
    fig = scatter.map_figure(pts)
    data = [t for t in fig.data if getattr(t, "mode", None) == "markers"]
    assert {t.name for t in data} == {"group 0", "group 1", "group 2", style.NO_AUDIENCE}
    assert sum(len(t.x) for t in data) == 40
    # Clips without an audience are drawn first (under the rest) and grey.
    assert data[0].name == style.NO_AUDIENCE and data[0].marker.color == "#c8c8c8"
    # Hover carries the clip id first (the click hook reads it) and escaped captions.
    row = data[1].customdata[0]
    assert row[0].startswith("c") and "caption &lt;b&gt;" in row[1] and "caption <b>" not in row[1]
    assert isinstance(data[1], go.Scatter)


def test_map_figure_switches_to_webgl_for_large_maps_and_skips_unplaced_points():
    pts = _points(scatter.WEBGL_FROM + 10)
    pts[0]["x"] = None
    pts[1]["y"] = float("nan")
    fig = scatter.map_figure(pts)
    data = [t for t in fig.data if getattr(t, "mode", None) == "markers"]
    assert all(isinstance(t, go.Scattergl) for t in data)
    assert sum(len(t.x) for t in data) == len(pts) - 2


def test_map_figure_markers_moves_and_selection():
    pts = _points(12)
    fig = scatter.map_figure(pts, markers=[scatter.Marker(0.5, 0.5, "Your clip")],
                           moves=[scatter.Move(0.1, 0.2, 0.8, 0.9, "caption in Spanish")],
                           selected="c3")
    star = [t for t in fig.data if t.name == "Your clip"]
    assert star and star[0].marker.symbol == "star"
    arrows = [a for a in fig.layout.annotations if a.showarrow]
    assert len(arrows) == 1 and (arrows[0].ax, arrows[0].ay, arrows[0].x, arrows[0].y) == \
        (0.1, 0.2, 0.8, 0.9)
    ring = [t for t in fig.data if t.name == "Selected clip"]
    assert ring and ring[0].x[0] == pytest.approx(pts[3]["x"], abs=1e-6)


def test_map_figure_says_when_nothing_matches():
    fig = scatter.map_figure([])
    assert "No clips match" in fig.layout.annotations[0].text
    labels = [a.text for a in scatter.map_figure(_points(40)).layout.annotations]
    assert sorted(labels) == ["group 0", "group 1", "group 2"]  # not "No clear audience"


def test_map_figure_density_highlights_and_compact_hover_for_big_maps():
    pts = _points(300)
    fig = scatter.map_figure(pts, density=True, highlight=["c1", "c2"])
    dens = [t for t in fig.data if t.name == "density"]
    assert dens and isinstance(dens[0], go.Contour) and dens[0].z.shape[0] > 10
    ring = [t for t in fig.data if t.name == "Nearest clips"]
    assert ring and len(ring[0].x) == 2
    assert fig.layout.meta["im_labels"] == 3 and fig.layout.meta["im_points"] == 300
    # Coordinates travel as float32 (compact typed arrays in the page)
    assert '"dtype":"f4"' in fig.to_json().replace(" ", "")
    big = scatter.map_figure(pts, rich_hover=False)
    trace = next(t for t in big.data if getattr(t, "mode", None) == "markers")
    assert len(trace.customdata[0]) == 1 and "fullData.name" in trace.hovertemplate


def test_map_figure_needs_one_group_per_point():
    with pytest.raises(ValueError):
        scatter.map_figure(_points(5), groups=["a"])


def test_group_colors_are_distinct_and_stable():
    groups = [f"g{i % 30}" for i in range(300)] + [style.NO_AUDIENCE]
    a, b = style.group_colors(groups), style.group_colors(list(reversed(groups)))
    assert a == b
    named = [c for g, c in a.items() if g != style.NO_AUDIENCE]
    assert len(set(named)) == 30


def test_map_figure_keeps_filtered_out_points_hidden_for_the_page():
    pts = _points(40)
    pts[3]["x"] = None  # nothing to place: never drawn, never hidden
    shown = [i % 4 != 1 for i in range(40)]
    colors = {"group 0": "#010101", "group 1": "#020202", "group 2": "#030303",
              style.NO_AUDIENCE: "#c8c8c8"}
    fig = scatter.map_figure(pts, shown=shown, colors=colors, page={"key": "k"})
    visible = [t for t in fig.data if t.meta == scatter.POINTS_META]
    hidden = [t for t in fig.data if t.meta == scatter.HIDDEN_META]
    ids = [c[0] for t in visible for c in t.customdata]
    assert sorted(ids) == sorted(p["id"] for i, p in enumerate(pts) if shown[i] and i != 3)
    assert len(hidden) == 1 and hidden[0].visible is False and not hidden[0].showlegend
    assert sorted(c[0] for c in hidden[0].customdata) == \
        sorted(p["id"] for i, p in enumerate(pts) if not shown[i])
    assert all(t.marker.color == colors[t.name] for t in visible)  # colours as given
    assert fig.layout.meta["im_points"] == len(ids)
    # rows: the index in points of each drawn point, in trace order (shown, then hidden)
    rows = scatter.decode_ints(fig.layout.meta["im_map"]["rows"])
    order = [c[0] for t in [*visible, *hidden] for c in t.customdata]
    assert [pts[r]["id"] for r in rows] == order and 3 not in rows
    with pytest.raises(ValueError):
        scatter.map_figure(pts, shown=[True])


def test_density_grid_is_a_gaussian_smoothed_histogram():
    from scipy.ndimage import gaussian_filter

    rng = np.random.default_rng(0)
    xs = rng.normal(size=2000).astype(np.float32)
    ys = (rng.normal(size=2000) * 3).astype(np.float32)
    z, xc, yc = density.density_grid(xs, ys)
    assert z.shape == (density.DENSITY_BINS, density.DENSITY_BINS) and z.max() == 1.0
    pad_x, pad_y = 0.05 * np.ptp(xs), 0.05 * np.ptp(ys)
    h, _, _ = np.histogram2d(xs.astype(float), ys.astype(float), bins=density.DENSITY_BINS,
                             range=[[xs.min() - pad_x, xs.max() + pad_x],
                                    [ys.min() - pad_y, ys.max() + pad_y]])
    ref = gaussian_filter(h.T, sigma=density.DENSITY_SIGMA)
    assert np.abs(z - ref / ref.max()).max() <= 0.0006  # rounded to 3 decimals
    assert xc[0] < xs.min() and xc[-1] > xs.max() and yc[0] < ys.min() and yc[-1] > ys.max()
    assert np.allclose(np.diff(xc), (xs.max() - xs.min()) * 1.1 / density.DENSITY_BINS, rtol=1e-4)


def test_small_integers_travel_as_compact_base64():
    for top, dtype in ((200, "u1"), (60_000, "u2"), (70_000, "u4")):
        v = np.array([0, 1, top, 7])
        spec = scatter.encode_ints(v)
        assert spec["dtype"] == dtype and scatter.decode_ints(spec).tolist() == v.tolist()
    with pytest.raises(ValueError):
        scatter.encode_ints([-1])


def test_page_data_describes_each_clip_for_every_colouring():
    from interestmap.app import map_page

    pts = _points(30)
    for i, p in enumerate(pts):
        p.update(audience=(i % 4) - 1, published_ts=1.7e9 + 86400 * (i % 5),
                 language=["en", "es", None][i % 3])
    modes = {"Audience": map_page.ColourMode(
                 "Audience", "audience",
                 lambda a: style.NO_AUDIENCE if a is None or a < 0 else f"aud {a} · words",
                 label_groups=True),
             "Language": map_page.ColourMode("Language", "language", lambda v: v or "unknown")}
    colors = {"Audience": {"aud 0 · words": "#111111"}, "Language": {"en": "#222222"}}
    page = map_page.page_data(
        pts, modes, colors, view=map_page.page_view("idx", "Audience", None, ["es"], "",
                                                     " 2024-01-01 ", True),
        key="7", total=31, rich=False, language_filter={"en": "en", "es": "es"})
    cols = map_page.decoded(page)
    assert cols["account"] == [p["account"] for p in pts]
    assert cols["language"] == [p["language"] for p in pts]
    assert cols["audience"] == [p["audience"] for p in pts]
    assert cols["ts"] == [p["published_ts"] for p in pts]
    aud = page["modes"]["Audience"]
    assert aud["groups"] == sorted(aud["groups"])  # the page sorts ties by this order
    for i, p in enumerate(pts):
        g = aud["groups"][aud["of"][page["cols"]["audience"]["values"].index(p["audience"])]]
        assert g == modes["Audience"].group(p["audience"]), i
    at = aud["groups"].index("aud 0 · words")
    assert aud["colors"][at] == "#111111" and aud["labels"][at] == "aud 0"
    assert aud["no_audience"] == aud["groups"].index(style.NO_AUDIENCE)
    assert page["modes"]["Language"]["labels"] is None
    assert page["view"] == {"index": "idx", "color": "Audience", "accounts": [],
                            "languages": ["es"], "since": None, "until": "2024-01-01",
                            "density": True}
    assert page["style"]["markers"]["named_huge"]["size"] < \
        page["style"]["markers"]["named_small"]["size"]
    rows = [{"x": 1.0, "y": 2.0, "audience": 3}, {"x": None, "y": 1.0, "audience": -1},
            {"x": 0.5, "y": 0.5, "audience": 3}]
    text = map_page.summary_text(rows * 700, total=12_345)
    assert text.startswith("Showing 1,400 of 12,345 clips in 1 audiences.")
    assert "(700 clip(s) with nothing to place are left out.)" in text


def test_topic_bars_rank_topics_and_keep_sources():
    scores = {"caption": {"Cooking": 0.8, "Travel": 0.3, "Gaming": 0.1},
              "visuals": {"Cooking": 0.5, "Travel": 0.6, "Gaming": 0.05}}
    fig = bars.topic_bars(scores, top=2, order_by="caption")
    assert [t.name for t in fig.data] == ["caption", "visuals"]
    assert list(fig.data[0].y) == ["Travel", "Cooking"]  # best on top = last
    assert list(fig.data[1].x) == [0.6, 0.5]
    assert "No topic scores" in bars.topic_bars({}).layout.annotations[0].text


def test_share_bars_stack_to_the_whole_audience():
    fig = bars.share_bars({"Cooking": {"me": 0.25, "rival": 0.5}, "Travel": {"me": 0.1}},
                           highlight="me")
    assert fig.data[0].name == "me"
    total = np.sum([np.asarray(t.x, dtype=float) for t in fig.data], axis=0)
    assert np.allclose(total, 1.0)


def test_shift_and_value_bars():
    fig = bars.shift_bars({"before": {"A": 0.5, "B": 0.2}, "after": {"A": 0.3, "C": 0.6}},
                           top=3)
    assert [t.name for t in fig.data] == ["before", "after"]
    assert list(fig.data[1].y) == ["B", "A", "C"] and list(fig.data[1].x) == [0.0, 0.3, 0.6]
    assert fig.data[0].marker.color == "#9aa5b1"
    vb = bars.value_bars({"x": 0.7, "y": 0.3}, percent=True)
    assert list(vb.data[0].text) == ["30%", "70%"]


# Competitors ---------------------------------------------------------------------------------
def _corpus() -> tuple[list[dict], list[dict]]:
    clips = ([{"account": "me", "audience": 0}] * 6 + [{"account": "me", "audience": 1}] * 4
             + [{"account": "rival", "audience": 1}] * 8 + [{"account": "rival", "audience": 2}]
             + [{"account": "other", "audience": 3}] * 10 + [{"account": "me", "audience": -1}])
    auds = [{"id": i, "label": f"aud{i}", "size": 0} for i in range(4)]
    return clips, auds


def test_compare_accounts_shares_overlap_and_open_audiences():
    clips, auds = _corpus()
    rep = compare_accounts(clips, auds, ["rival"], mine="me", thin=0.2)
    rows = {r["label"]: r for r in rep["audiences"]}
    assert rows["aud1"]["shares"] == {"me": pytest.approx(4 / 12, abs=1e-4),
                                      "rival": pytest.approx(8 / 12, abs=1e-4)}
    me, rival = rep["accounts"]
    assert me["is_mine"] and me["clips"] == 11 and me["without_audience"] == 1
    # me: 6/11 in aud0, 4/11 in aud1; rival: 8/9 in aud1, 1/9 in aud2 (thin: not covered)
    assert rival["overlap_with_mine"] == pytest.approx(4 / 11, abs=1e-4)
    assert rival["shared_with_mine"] == ["aud1"]
    assert [a["label"] for a in rival["audiences"]] == ["aud1"]
    assert [o["label"] for o in rep["open_audiences"]] == ["aud3", "aud2"]


def test_compare_accounts_refuses_unknown_accounts_and_bad_settings():
    clips, auds = _corpus()
    with pytest.raises(ConfigError, match="no clips from 'ghost'"):
        compare_accounts(clips, auds, ["ghost"])
    with pytest.raises(ConfigError):
        compare_accounts(clips, auds, [])
    with pytest.raises(ConfigError):
        compare_accounts(clips, auds, ["me"], thin=1.5)
    assert overlap({0: 0.5, 1: 0.5}, {0: 0.5, 1: 0.5}) == pytest.approx(1.0)
    assert overlap({0: 1.0}, {1: 1.0}) == 0.0


# Views over a small real index ---------------------------------------------------------------
def _plain(md: str) -> str:
    """Markdown as the reader sees the text (escapes undone)."""
    return html.unescape(re.sub(r"\\(.)", r"\1", md))


@pytest.fixture()
def views(small_index: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Every tab's view functions (the modules of :mod:`interestmap.app.views`, as one
    namespace), over the small index."""
    from interestmap.app.views import (
        build_tab,
        check_tab,
        competitors_tab,
        indexes,
        map_tab,
        selection,
        whatif_tab,
    )

    monkeypatch.setenv("INTERESTMAP_INDEXES", str(small_index.parent))
    monkeypatch.setenv("INTERESTMAP_HOME", str(tmp_path / "home"))
    every = SimpleNamespace()
    for module in (indexes, map_tab, selection, check_tab, whatif_tab, competitors_tab,
                   build_tab):
        vars(every).update({k: v for k, v in vars(module).items() if not k.startswith("__")})
    yield every
    indexes.close_all()


@pytest.mark.slow
def test_map_view_colours_filters_and_lists(views, small_index: Path):
    choice = str(small_index)
    labels = {c: label for label, c in views.index_choices()}
    assert labels[str(small_index.resolve())].startswith("small · 60 clips")
    fig, text = views.map_view(choice, "Audience")
    pts = [t for t in fig.data if getattr(t, "mode", None) == "markers"]
    assert sum(len(t.x) for t in pts) == 60 and "60 of 60 clips" in text
    fig, _ = views.map_view(choice, "Account", accounts=["alice"])
    assert [t.name for t in fig.data if t.meta == scatter.POINTS_META] == ["alice"]
    fig, text = views.map_view(choice, "Language", languages=["Japanese (ja)"])
    assert [t.name for t in fig.data if t.meta == scatter.POINTS_META] == ["Japanese"]
    assert "15 of 60" in text
    fig, text = views.map_view(choice, "Audience", since="2024-06-01")
    assert "8 of 60" in text  # i % 6 == 5 (i = 5, 11) -> June: 2 per language
    opts = views.filter_options(choice)
    assert set(opts["accounts"]) == {"alice", "bob", "cara"}
    assert {c for _, c in opts["languages"]} == {"en", "es", "el", "ja"}
    fig, _ = views.map_view(choice, "Declared topic")
    assert len([t for t in fig.data if getattr(t, "mode", None) == "markers"]) >= 1
    with pytest.raises(ConfigError):
        views.map_view(choice, "Mood")


@pytest.mark.slow
def test_map_view_keeps_colours_and_sends_every_clip_for_the_page(views, small_index: Path):
    """A filtered map hides the clips it leaves out (the page can show them again) and
    keeps each group's colour; so does a down-sampled first draw."""
    from interestmap.app import map_page

    choice = str(small_index)

    def traces(fig):
        return {t.name: t for t in fig.data if t.meta == scatter.POINTS_META}

    full, _ = views.map_view(choice, "Account")
    alice, text = views.map_view(choice, "Account", accounts=["alice"])
    assert list(traces(alice)) == ["alice"]
    assert traces(alice)["alice"].marker.color == traces(full)["alice"].marker.color
    hidden = next(t for t in alice.data if t.meta == scatter.HIDDEN_META)
    assert len(hidden.x) + len(traces(alice)["alice"].x) == 60
    page = alice.layout.meta["im_map"]
    assert page["n"] == 60 and page["total"] == 60
    assert page["view"]["accounts"] == ["alice"] and page["view"]["color"] == "Account"
    assert set(page["modes"]) == set(views.COLOR_BY)
    idx = views.get_index(choice)
    assert text == map_page.summary_text(views.clip_rows(idx, {"account": ["alice"]}), 60)
    cols = map_page.decoded(page)
    assert sorted(cols["account"]) == sorted(r["account"] for r in views.clip_rows(idx))
    sampled, _ = views.map_view(choice, "Audience", sample=20)
    whole, _ = views.map_view(choice, "Audience")
    for name, t in traces(sampled).items():
        assert t.marker.color == traces(whole)[name].marker.color
    assert sampled.layout.meta["im_map"]["summary"]["sampled"].startswith("Drawing 20 of 60")
    # the browser language picks the audience names; colours stay with their audiences
    ja, _ = views.map_view(choice, "Audience", label_language="ja")
    assert sorted(t.marker.color for t in traces(ja).values()) == \
        sorted(t.marker.color for t in traces(whole).values())


@pytest.mark.slow
def test_audience_and_clip_views(views, small_index: Path):
    choice = str(small_index)
    idx = views.get_index(choice)
    aud = max(idx.audiences, key=lambda a: a.size)
    md, fig = views.audience_view(choice, aud.id)
    assert aud.label in _plain(md) and f"{aud.size} clips" in md and "Typical clips" in md
    assert abs(sum(fig.data[0].x) - 1.0) < 0.02  # account shares of the audience
    rows = idx.clips_frame()
    md, thumb, a = views.clip_view(choice, f"{rows[0]['id']}|123")
    assert rows[0]["caption"][:20] in _plain(md)
    assert thumb is None  # caption-only clips have no picture
    with pytest.raises(InterestmapError):
        views.clip_view(choice, "no-such-clip")
    with pytest.raises(InterestmapError):
        views.audience_view(choice, 999)


@pytest.mark.slow
def test_competitors_view(views, small_index: Path):
    v = views.competitors_view(str(small_index), ["bob", "cara"], mine="alice")
    assert "You" in v.accounts_md and "Overlap with you" in v.accounts_md
    assert {a["account"] for a in v.report["accounts"]} == {"alice", "bob", "cara"}
    assert v.shares.data  # one bar trace per account (+ everyone else)


@pytest.mark.slow
def test_build_map_reports_progress_and_becomes_selectable(views, data: Path,
                                                          tmp_path: Path):
    src = tmp_path / "corpus"
    (src / "shop").mkdir(parents=True)
    with open(data / "xtopic" / "en" / "en_1000.jsonl", encoding="utf-8") as f:
        for i, line in enumerate(f):
            if i >= 24:
                break
            (src / "shop" / f"post{i}.txt").write_text(json.loads(line)["text"],
                                                       encoding="utf-8")
    seen: list[tuple[float, str]] = []
    report, choice = views.build_map("shop-test", str(src),
                                     progress=lambda f, desc="": seen.append((f, desc)))
    assert "24 clips" in report and Path(choice).name == "shop-test"
    assert any(c == choice for _, c in views.index_choices())
    fracs = [f for f, _ in seen]
    assert fracs == sorted(fracs) and fracs[-1] == pytest.approx(1.0)
    assert any("Encoding clips" in d for _, d in seen)
    with pytest.raises(ConfigError):
        views.build_map("bad name!", str(src))
    with pytest.raises(ConfigError):
        views.build_map("x", str(tmp_path / "nope"))
    with pytest.raises(ConfigError):
        views.build_map("x", "", None)


@pytest.mark.slow
def test_check_clip_view_places_scores_and_advises(views, small_index: Path):
    steps: list[str] = []
    v = views.check_clip_view(str(small_index), None,
                              "Easy weeknight pasta with garlic, lemon and basil #recipe",
                              "English (en)", None,
                              progress=lambda f, desc="": steps.append(desc))
    assert re.search(r"Topic clarity: \d+/100", v.clarity_md)
    assert v.result["clarity"]["score"] == int(re.search(r"(\d+)/100", v.clarity_md).group(1))
    star = [t for t in v.map.data if t.name == "Your clip"]
    assert star and star[0].x[0] == pytest.approx(v.result["map"]["x"])
    bars = {t.name: t for t in v.topics.data}
    assert {"overall", "caption"} <= set(bars)
    top = v.result["topics"]["top"][0]["name"]
    assert bars["overall"].y[-1] == top  # the best topic sits on top of the chart
    for a in v.result["audiences"]:
        assert _plain(a["label"]) in _plain(v.audiences_md)
    assert v.advice_md.startswith("### Advice")
    assert v.encoded[1].clip.language == "en" and steps[-1] == "Done"
    with pytest.raises(ConfigError, match="add a video"):
        views.check_clip_view(str(small_index), None, "  ", None, None)
    with pytest.raises(InterestmapError, match="unknown place"):
        views.check_clip_view(str(small_index), None, "pasta", None, "Atlantis of the north")


@pytest.mark.slow
def test_whatif_view_moves_one_version_per_edit_and_all_together(views, small_index: Path):
    cap = "Easy weeknight pasta with garlic, lemon and basil #recipe"
    checked = views.check_clip_view(str(small_index), None, cap, "en", None).encoded
    v = views.whatif_view(str(small_index), None, cap, "en", None,
                          new_caption="Pasta fácil con ajo, limón y albahaca #receta",
                          new_language="Spanish (es)", checked=checked)
    variants = v.report["variants"]
    assert [len(x["edits"]) for x in variants] == [1, 1, 2]
    assert "all changes together" in v.changes_md and "in Spanish" in v.changes_md
    lang = variants[1]
    assert lang["map"]["distance"] == pytest.approx(0.0, abs=1e-3)  # same topic, same place
    assert "Stays at the same place on the map" in v.changes_md
    names = {t.name for t in v.map.data}
    assert "Your clip" in names and "all changes together" in names
    assert len(v.audiences.data) == 4  # before + three versions
    with pytest.raises(ConfigError, match="change something first"):
        views.whatif_view(str(small_index), None, cap, "en", None, new_caption=cap,
                          checked=checked)
    with pytest.raises(ConfigError, match="Check a clip"):
        views.whatif_view(str(small_index), None, "", None, None, new_caption="x")


# Thumbnails and media clips ------------------------------------------------------------------
def test_thumbnails_of_real_media_are_small_cached_and_never_raise(data: Path, tmp_path: Path,
                                                                   monkeypatch):
    from PIL import Image

    from interestmap.media.thumbnails import THUMB_SIDE, thumbnail

    monkeypatch.setenv("INTERESTMAP_HOME", str(tmp_path))
    photo = sorted((data / "scenes" / "sea").glob("*.jpg"))[0]
    video = data / "video" / "bigbuckbunny.mp4"
    sound = sorted((data / "esc50" / "audio").glob("*.flac"))[0]
    for src in (photo, video, sound):
        out = thumbnail(str(src))
        assert out is not None and out.parent == tmp_path / "thumbs"
        with Image.open(out) as im:
            assert max(im.size) <= THUMB_SIDE and im.getextrema() != ((255, 255),) * 3
        assert thumbnail([str(tmp_path / "missing.jpg"), str(src)]) == out  # cached
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not a picture")
    assert thumbnail(str(broken)) is None and thumbnail(None) is None


@pytest.mark.slow
def test_check_and_whatif_with_a_real_photo(views, small_index: Path, data: Path):
    sea = sorted((data / "scenes" / "sea").glob("*.jpg"))[0]
    forest = sorted((data / "scenes" / "forest").glob("*.jpg"))[0]
    cap = "Golden hour at the beach, waves and sea breeze #travel"
    v = views.check_clip_view(str(small_index), [str(sea)], cap, None, None)
    assert "visuals" in {t.name for t in v.topics.data}
    assert "| visuals |" in v.clarity_md
    w = views.whatif_view(str(small_index), [str(sea)], cap, None, None,
                          new_visuals=str(forest), checked=v.encoded)
    (variant,) = w.report["variants"]
    moved = variant["distance_by_block"]
    assert moved["visual"] > 0 and moved["visual"] == max(moved.values())
    assert "pictures from" in w.changes_md


# Search, selection, pin ----------------------------------------------------------------------
def test_points_inside_a_lasso_and_a_box():
    from interestmap.app.views.selection import parse_selection, points_inside

    xs = np.array([0.0, 0.8, 2.0, 0.5, 5.0])
    ys = np.array([0.0, 0.9, 2.0, 0.4, 5.0])
    tri = parse_selection('{"lasso": {"x": [-1, 3, -1], "y": [-1, -1, 3]}}|123')
    assert points_inside(xs, ys, tri).tolist() == [True, True, False, True, False]
    box = parse_selection({"box": {"x": [0.2, 1.5], "y": [1.5, 0.2]}})
    assert points_inside(xs, ys, box).tolist() == [False, True, False, True, False]
    assert parse_selection("") is None and parse_selection(None) is None
    for bad in ("not json", '{"lasso": {"x": [1], "y": [1]}}', '{"circle": 1}'):
        with pytest.raises(ConfigError):
            parse_selection(bad)


@pytest.mark.slow
def test_selection_lists_and_exports_the_clips_inside(views, small_index: Path,
                                                      tmp_path: Path):
    import csv

    choice = str(small_index)
    rows = views.get_index(choice).clips_frame()
    xs = [r["x"] for r in rows]
    ys = [r["y"] for r in rows]
    mid_x = sorted(xs)[len(xs) // 2]
    box = {"box": {"x": [min(xs) - 1, mid_x], "y": [min(ys) - 1, max(ys) + 1]}}
    want = {r["id"] for r in rows if r["x"] <= mid_x}
    v = views.selection_view(choice, json.dumps(box), export_dir=tmp_path)
    assert {c["id"] for c in v.clips} == want and f"{len(want)} clips selected" in v.summary_md
    with open(v.csv_path, encoding="utf-8") as fh:
        got = list(csv.DictReader(fh))
    assert {r["id"] for r in got} == want and set(views.SELECTION_COLUMNS) <= set(got[0])
    lines = Path(v.jsonl_path).read_text(encoding="utf-8").splitlines()
    assert {json.loads(x)["id"] for x in lines} == want
    # the map's filters apply to the selection too
    v = views.selection_view(choice, json.dumps(box), accounts=["alice"], export_dir=tmp_path)
    assert {c["account"] for c in v.clips} == {"alice"}
    empty = views.selection_view(choice, json.dumps({"box": {"x": [1e6, 1e6 + 1],
                                                               "y": [1e6, 1e6 + 1]}}))
    assert empty.csv_path is None and "No clips" in empty.summary_md


@pytest.mark.slow
def test_search_lands_the_query_and_rings_its_nearest_clips(views, small_index: Path):
    choice = str(small_index)
    res = views.search_view(choice, "football match goal")
    assert res["x"] is not None and len(res["clips"]) == 10
    sims = [c["similarity"] for c in res["clips"]]
    assert sims == sorted(sims, reverse=True)
    fig, _ = views.map_view(choice, "Audience", search=res)
    ring = next(t for t in fig.data if t.name == "Nearest clips")
    assert len(ring.x) == 10
    star = next(t for t in fig.data if t.name.startswith("“football"))
    assert star.x[0] == pytest.approx(res["x"])
    assert "lands in" in views.search_markdown(res)
    with pytest.raises(ConfigError, match="type a few words"):
        views.search_view(choice, "  ")


@pytest.mark.slow
def test_map_view_samples_big_maps_pins_my_clip_and_names_in_a_language(views,
                                                                       small_index: Path):
    choice = str(small_index)
    fig, text = views.map_view(choice, "Audience", sample=20)
    assert sum(len(t.x) for t in fig.data if getattr(t, "mode", None) == "markers") == 20
    assert "Drawing 20 of 60 clips first" in text
    again, _ = views.map_view(choice, "Audience", sample=20)
    assert again is fig  # cached
    pin = views.pinned_clip({"map": {"x": 1.0, "y": 2.0}, "audiences": [{"label": "A"}],
                             "clarity": {"score": 70}}, "my pasta clip")
    fig, _ = views.map_view(choice, "Account", pinned=pin)
    star = next(t for t in fig.data if t.name == "My clip")
    assert (star.x[0], star.y[0]) == (1.0, 2.0)
    assert "my pasta clip" in views.pin_markdown(pin) and "70/100" in views.pin_markdown(pin)
    assert views.pinned_clip({"map": {"x": None, "y": None}}) is None
    idx = views.get_index(choice)
    for lang in ("es", "ja", None):
        names = views.audience_labels(idx, lang)
        assert set(names) == {a.id for a in idx.audiences}


@pytest.mark.slow
def test_the_built_in_atlas_has_competitors_with_overlap_and_gaps(views, tmp_path: Path,
                                                                  monkeypatch):
    """On a fresh machine the atlas has several accounts with different topic mixes, so
    the Competitors tab shows overlap and open audiences."""
    monkeypatch.setenv("INTERESTMAP_INDEXES", str(tmp_path / "indexes"))
    monkeypatch.delenv("INTERESTMAP_ATLAS_DATA", raising=False)
    opts = views.filter_options(views.DEFAULT_CHOICE)
    assert len(opts["accounts"]) >= 8
    v = views.competitors_view(views.DEFAULT_CHOICE, ["fit.with.ana", "golazo.daily"],
                               mine="casa.caliente")
    over = {a["account"]: a["overlap_with_mine"] for a in v.report["accounts"]}
    assert over["fit.with.ana"] > 0  # both post cooking
    assert over["golazo.daily"] == 0  # football fans do not cook here
    assert len(v.report["open_audiences"]) >= 10
    assert "Overlap with you" in v.accounts_md and "none of you covers" in v.open_md
    about = views.get_index(views.DEFAULT_CHOICE).manifest["about"]
    assert about["sources"][0]["license"] == "Apache-2.0" and about["atlas_recipe"]
    assert "Apache-2.0" in views.index_overview(views.DEFAULT_CHOICE)
