"""The app in a real browser: headless Chromium opens it, the map renders with points, a
click on a point shows the clip, a lasso selection lists and exports its clips, a search
lands on the map, and a check-a-clip round trip answers and pins the clip.

Needs Debian's ``chromium`` and ``chromium-driver`` and the ``selenium`` package; skips
with a message when any is missing. Screenshots go to ``test-artifacts/``.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("INTERESTMAP_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("INTERESTMAP_CHROMEDRIVER", "/usr/bin/chromedriver")
START_TIMEOUT_S = 240
ANSWER_TIMEOUT_S = 240

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def app_url(small_index: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The app, started as a user would (python app.py), on a free loopback port."""
    home = tmp_path_factory.mktemp("app-home")
    port = _free_port()
    log_path = home / "app.log"
    env = {**os.environ, "INTERESTMAP_APP_INDEX": str(small_index),
           "INTERESTMAP_INDEXES": str(small_index.parent), "INTERESTMAP_HOME": str(home),
           "GRADIO_ANALYTICS_ENABLED": "False", "PYTHONUNBUFFERED": "1"}
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([sys.executable, str(REPO / "app.py"), "--port", str(port)],
                                cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if proc.poll() is not None:
                pytest.fail(f"the app exited with {proc.returncode}:\n"
                            + log_path.read_text(errors="replace")[-3000:])
            try:
                with urllib.request.urlopen(url, timeout=5) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("the app did not answer within "
                            f"{START_TIMEOUT_S} s:\n" + log_path.read_text(errors="replace"))
            time.sleep(1)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=20)


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """Headless Chromium driven by selenium, with a fresh profile."""
    webdriver = pytest.importorskip("selenium.webdriver",
                                    reason="the browser test needs selenium (pip install "
                                           "selenium)")
    for tool in (CHROMIUM, CHROMEDRIVER):
        if not (Path(tool).exists() or shutil.which(tool)):
            pytest.skip(f"{tool} is not installed (Debian: apt install chromium "
                        "chromium-driver)")
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for arg in ("--headless", "--no-sandbox", "--disable-gpu",
                "--disable-background-networking", "--disable-component-update",
                "--no-first-run", "--disable-sync", "--disable-dev-shm-usage",
                "--window-size=1440,1800",
                f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}"):
        opts.add_argument(arg)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    driver.set_page_load_timeout(120)
    try:
        yield driver
    finally:
        driver.quit()


def _wait(driver: object, what: str, check, timeout: float = ANSWER_TIMEOUT_S):
    from selenium.webdriver.support.ui import WebDriverWait

    try:
        return WebDriverWait(driver, timeout, poll_frequency=0.5).until(lambda d: check(d))
    except Exception as e:  # TimeoutException: say what did not appear
        raise AssertionError(f"timed out waiting for {what}") from e


def _text(driver: object, css: str) -> str:
    from selenium.webdriver.common.by import By

    els = driver.find_elements(By.CSS_SELECTOR, css)
    return " ".join(e.text for e in els).strip()


def test_map_renders_and_a_point_click_shows_the_clip(app_url: str, browser: object,
                                                      artifacts_dir: Path):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    d = browser
    d.get(app_url)
    points = _wait(d, "the map's points", lambda d: d.find_elements(
        By.CSS_SELECTOR, "#im-map .js-plotly-plot .scatterlayer .points path") or False)
    assert len(points) >= 50  # 60 clips, a few may overlap into no path? none: one each
    legend = _text(d, "#im-map .legend")
    assert legend, "the map has no legend"
    assert "60 of 60 clips" in _text(d, "body")
    d.save_screenshot(str(artifacts_dir / "app-map.png"))

    # A click on a point shows the clip's caption in the side panel.
    before = _text(d, "#im-clip-panel")
    ActionChains(d).move_to_element(points[len(points) // 2]).click().perform()
    _wait(d, "the clicked clip in the side panel",
          lambda d: "Audience:" in _text(d, "#im-clip-panel")
          and _text(d, "#im-clip-panel") != before, timeout=60)
    d.save_screenshot(str(artifacts_dir / "app-map-clicked.png"))


def _map_box(d: object) -> tuple[float, float, float, float]:
    """Left, top, width, height of the map's plotting area in the page."""
    return tuple(d.execute_script(
        "var gd = document.querySelector('#im-map .js-plotly-plot');"
        "var r = gd.getBoundingClientRect(), l = gd._fullLayout;"
        "return [r.left + l.xaxis._offset, r.top + l.yaxis._offset, l.xaxis._length,"
        " l.yaxis._length];"))


def _draw_lasso(d: object, path: list[tuple[float, float]]) -> None:
    """Pick the lasso in the map's toolbar and draw ``path`` (fractions of the plotting
    area) in small steps with the real mouse (Chromium's input pipeline, through the
    DevTools protocol)."""
    from selenium.webdriver.common.by import By

    lasso = _wait(d, "the lasso button", lambda d: next(
        (b for b in d.find_elements(By.CSS_SELECTOR, "#im-map .modebar-btn")
         if (b.get_attribute("data-title") or "").startswith("Lasso")), False), timeout=30)
    d.execute_script("arguments[0].click();", lasso)  # the toolbar shows on hover only
    left, top, width, height = _map_box(d)

    def mouse(kind: str, fx: float, fy: float, buttons: int = 1) -> None:
        d.execute_cdp_cmd("Input.dispatchMouseEvent", {
            "type": kind, "x": left + fx * width, "y": top + fy * height, "button": "left",
            "buttons": buttons, "clickCount": 1})

    mouse("mouseMoved", *path[0], buttons=0)
    mouse("mousePressed", *path[0])
    for (ax, ay), (bx, by) in zip(path, path[1:], strict=False):
        for k in range(1, 11):
            mouse("mouseMoved", ax + (bx - ax) * k / 10, ay + (by - ay) * k / 10)
    mouse("mouseReleased", *path[-1], buttons=0)


def test_a_lasso_selection_lists_and_exports_its_clips(app_url: str, browser: object,
                                                       artifacts_dir: Path):
    import csv
    import io

    from selenium.webdriver.common.by import By

    d = browser
    d.get(app_url)
    _wait(d, "the map's points", lambda d: d.find_elements(
        By.CSS_SELECTOR, "#im-map .js-plotly-plot .scatterlayer .points path") or False)
    # A loop around the map's left half.
    _draw_lasso(d, [(0.02, 0.02), (0.55, 0.02), (0.55, 0.98), (0.02, 0.98), (0.02, 0.05)])
    _wait(d, "the selection's summary", lambda d: "clips selected" in _text(
        d, "#im-selection-md"), timeout=60)
    n = int(re.search(r"([\d,]+) clips selected", _text(d, "#im-selection-md"))
            .group(1).replace(",", ""))
    assert 1 <= n <= 60
    links = _wait(d, "the export files", lambda d: [
        a for a in d.find_elements(By.CSS_SELECTOR, "#im-export a")
        if (a.get_attribute("href") or "").endswith((".csv", ".jsonl"))] or False, timeout=30)
    d.save_screenshot(str(artifacts_dir / "app-lasso-export.png"))
    hrefs = {Path(a.get_attribute("href")).suffix: a.get_attribute("href") for a in links}
    assert set(hrefs) == {".csv", ".jsonl"}
    with urllib.request.urlopen(hrefs[".csv"], timeout=30) as r:
        rows = list(csv.DictReader(io.StringIO(r.read().decode("utf-8"))))
    assert len(rows) == n and {"id", "account", "audience", "caption"} <= set(rows[0])
    with urllib.request.urlopen(hrefs[".jsonl"], timeout=30) as r:
        assert len(r.read().decode("utf-8").splitlines()) == n


def test_a_search_lands_on_the_map(app_url: str, browser: object, artifacts_dir: Path):
    from selenium.webdriver.common.by import By

    d = browser
    d.get(app_url)
    _wait(d, "the map's points", lambda d: d.find_elements(
        By.CSS_SELECTOR, "#im-map .js-plotly-plot .scatterlayer .points path") or False)
    box = d.find_element(By.CSS_SELECTOR, "#im-search textarea, #im-search input")
    box.send_keys("football match and the goal of the season")
    d.find_element(By.CSS_SELECTOR, "#im-search-go").click()
    _wait(d, "the search's nearest clips on the map", lambda d: "Nearest clips" in _text(
        d, "#im-map .legend") and "lands in" in _text(d, "#im-search-md"))
    xy = d.execute_script(
        "var gd = document.querySelector('#im-map .js-plotly-plot');"
        "var t = gd._fullData.find(function (t) { return t.name.indexOf('football') >= 0; });"
        "return t ? [t.x[0], t.y[0]] : null;")
    assert xy is not None and all(v == v for v in xy)  # the query has a place on the map
    assert "Error" not in _text(d, ".toast-body")
    d.save_screenshot(str(artifacts_dir / "app-search.png"))


def test_check_a_clip_round_trip(app_url: str, browser: object, artifacts_dir: Path):
    from selenium.webdriver.common.by import By

    d = browser
    if not d.current_url.startswith(app_url):
        d.get(app_url)
    tab = _wait(d, "the Check a clip tab", lambda d: next(
        (b for b in d.find_elements(By.CSS_SELECTOR, "button[role='tab']")
         if b.text.strip() == "Check a clip"), False), timeout=60)
    tab.click()
    box = _wait(d, "the caption box", lambda d: next(
        (t for t in d.find_elements(By.CSS_SELECTOR, "textarea")
         if t.is_displayed() and "caption" in (t.get_attribute("placeholder") or "").lower()),
        False), timeout=30)
    box.send_keys("Easy weeknight pasta with garlic, lemon and fresh basil #cooking #recipe")
    d.find_element(By.CSS_SELECTOR, "#im-check").click()
    _wait(d, "the clarity score and nearest audiences",
          lambda d: "clarity" in _text(d, "#im-clarity").lower()
          and "audience" in _text(d, "#im-nearest").lower())
    _wait(d, "the checked clip on the map", lambda d: "Your clip" in _text(
        d, "#im-check-map .legend"), timeout=30)
    assert "Error" not in _text(d, ".toast-body")
    d.save_screenshot(str(artifacts_dir / "app-check-clip.png"))
    # The checked clip is pinned: named on top of every tab, starred on the Map tab.
    _wait(d, "the pinned clip", lambda d: "My clip" in _text(d, "#im-pin"), timeout=30)
    next(b for b in d.find_elements(By.CSS_SELECTOR, "button[role='tab']")
         if b.text.strip() == "Map").click()
    _wait(d, "my clip on the map", lambda d: "My clip" in _text(d, "#im-map .legend"),
          timeout=60)
    d.save_screenshot(str(artifacts_dir / "app-map-pinned.png"))


def test_every_tab_is_reachable_through_the_gradio_client(app_url: str):
    client_mod = pytest.importorskip("gradio_client")
    client = client_mod.Client(app_url, verbose=False)
    names = set(client.view_api(print_info=False, return_format="dict")["named_endpoints"])
    assert {"/indexes", "/overview", "/map_options", "/map_figure", "/audience", "/clip",
            "/check_clip", "/whatif", "/competitors", "/build_map"} <= names
    maps = client.predict(api_name="/indexes")
    assert any(choice == "default" for _, choice in maps)
    index = next(choice for _, choice in maps if Path(choice).name == "small")
    plot, summary = client.predict(index, "Account", [], [], None, None,
                                   api_name="/map_figure")
    assert "60 of 60 clips" in summary
    assert "plotly" in str(plot)


# The map recoloured and filtered in the page = the server's map for the same choices ------
PAGE_FIGURE = r"""
var gd = document.querySelector('#im-map .js-plotly-plot');
function arr(v) {  // a typed-array spec ({dtype, bdata}) is decoded by the test
  return v === undefined || v === null ? null : (v.bdata ? v : Array.from(v)); }
return {
  data: gd.data.filter(function (t) { return t.visible !== false; }).map(function (t) {
    var m = t.marker || {};
    return {type: t.type || 'scatter', name: t.name, meta: t.meta || null,
            legendrank: t.legendrank === undefined ? null : t.legendrank, mode: t.mode || null,
            marker: t.marker ? {size: m.size, color: m.color, opacity: m.opacity,
                                line: m.line || null, symbol: m.symbol || null} : null,
            x: arr(t.x), y: arr(t.y),
            z: !t.z ? null : (t.z.bdata ? t.z : t.z.map(function (r) { return Array.from(r); })),
            ids: t.customdata ? t.customdata.map(function (c) { return String(c[0]); }) : null,
            hover: t.customdata && t.customdata[0] && t.customdata[0].length > 1
                   ? t.customdata.map(function (c) { return c[1]; }) : null,
            hovertemplate: t.hovertemplate || null};
  }),
  annotations: (gd.layout.annotations || []).map(function (a) {
    return {text: a.text, x: a.x, y: a.y, name: a.name || null}; }),
  title: gd.layout.legend.title.text, labels: gd.layout.meta.im_labels,
  points: gd.layout.meta.im_points
};
"""


def _decode(v: object) -> object:
    """A plotly typed-array spec ({dtype, bdata, shape}) as nested lists; else as is."""
    import base64

    import numpy as np

    if isinstance(v, dict) and "bdata" in v:
        a = np.frombuffer(base64.b64decode(v["bdata"]), dtype="<" + v["dtype"])
        if v.get("shape"):
            a = a.reshape([int(s) for s in str(v["shape"]).split(",")])
        return a.tolist()
    return v


def server_figure(plot: object) -> dict:
    """The server's map (a /map_figure answer) in the shape of PAGE_FIGURE's."""
    import json as _json

    fig = _json.loads(plot["plot"] if isinstance(plot, dict) else plot)
    data = []
    for t in fig["data"]:
        if t.get("visible") is False:
            continue
        m = t.get("marker")
        cd = t.get("customdata")
        data.append({
            "type": t.get("type", "scatter"), "name": t.get("name"), "meta": t.get("meta"),
            "legendrank": t.get("legendrank"), "mode": t.get("mode"),
            "marker": None if m is None else {
                "size": m.get("size"), "color": m.get("color"), "opacity": m.get("opacity"),
                "line": m.get("line"), "symbol": m.get("symbol")},
            "x": _decode(t.get("x")), "y": _decode(t.get("y")), "z": _decode(t.get("z")),
            "ids": None if cd is None else [str(c[0]) for c in cd],
            "hover": None if not cd or len(cd[0]) < 2 else [c[1] for c in cd],
            "hovertemplate": t.get("hovertemplate")})
    lay = fig["layout"]
    return {"data": data,
            "annotations": [{"text": a.get("text"), "x": a.get("x"), "y": a.get("y"),
                             "name": a.get("name")} for a in lay.get("annotations", [])],
            "title": lay["legend"]["title"]["text"], "labels": lay["meta"]["im_labels"],
            "points": lay["meta"]["im_points"]}


def assert_same_map(page: dict, server: dict, what: str) -> None:
    """The page's map and the server's show the same: traces in the same order, each with
    the same name, kind, legend rank, colour, marker, points (ids, x, y) and hover; the
    same audience names at the same places, legend title and density shading."""
    import numpy as np

    for t in page["data"]:
        for k in ("x", "y", "z"):
            t[k] = _decode(t[k])

    def short(t: dict) -> str:
        return f"{t['type']}:{t['name']}"

    assert [short(t) for t in page["data"]] == [short(t) for t in server["data"]], what
    for p, s in zip(page["data"], server["data"], strict=True):
        where = f"{what}, trace {short(s)}"
        for k in ("meta", "legendrank", "mode", "marker", "ids", "hover", "hovertemplate"):
            assert p[k] == s[k], f"{where}: {k} differs: {str(p[k])[:200]} != {str(s[k])[:200]}"
        if s["type"] == "contour":
            z_p, z_s = np.asarray(p["z"], dtype=float), np.asarray(s["z"], dtype=float)
            assert z_p.shape == z_s.shape and np.abs(z_p - z_s).max() <= 1e-3, where
            assert np.allclose(p["x"], s["x"], rtol=0, atol=1e-6 * (1 + np.ptp(s["x"]))), where
            assert np.allclose(p["y"], s["y"], rtol=0, atol=1e-6 * (1 + np.ptp(s["y"]))), where
        else:
            assert np.array_equal(np.float32(p["x"]), np.float32(s["x"])), where
            assert np.array_equal(np.float32(p["y"]), np.float32(s["y"])), where
    assert page["title"] == server["title"], what
    assert page["labels"] == server["labels"] and page["points"] == server["points"], what
    assert [(a["text"], a["name"]) for a in page["annotations"]] == \
        [(a["text"], a["name"]) for a in server["annotations"]], what
    for a, b in zip(page["annotations"], server["annotations"], strict=True):
        assert a["x"] == pytest.approx(b["x"], abs=1e-9) and \
            a["y"] == pytest.approx(b["y"], abs=1e-9), f"{what}: label {a['text']} moved"


def _open_map(d: object, url: str) -> None:
    """Open the app and wait for the map and the description of its clips."""
    d.get(url)
    _wait(d, "the map", lambda d: d.execute_script(
        "var gd = document.querySelector('#im-map .js-plotly-plot');"
        "return !!(gd && gd.layout && gd.layout.meta && gd.layout.meta.im_map);"), timeout=120)
    time.sleep(1.0)


def _server_calls(d: object) -> int:
    """How many requests the page has sent to the app's event queue so far."""
    return int(d.execute_script(
        "return performance.getEntriesByType('resource').filter(function (e) {"
        " return e.name.indexOf('/gradio_api/queue/join') >= 0"
        " || e.name.indexOf('/gradio_api/run/') >= 0; }).length;"))


def _pick(d: object, css: str, text: str) -> None:
    """Type ``text`` into a dropdown and take the first match, as a user does."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    box = d.find_element(By.CSS_SELECTOR, f"{css} input")
    box.click()
    box.send_keys(text)
    time.sleep(0.3)
    box.send_keys(Keys.ENTER)
    box.send_keys(Keys.ESCAPE)


def _type_date(d: object, css: str, text: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    box = d.find_element(By.CSS_SELECTOR, f"{css} input")
    box.click()
    box.send_keys(Keys.CONTROL, "a")
    box.send_keys(Keys.DELETE)
    box.send_keys(text, Keys.ENTER)


def test_colour_and_filters_answer_in_the_page_as_the_server_would(
        app_url: str, browser: object, artifacts_dir: Path):
    """Colour by, accounts, languages, dates and density change the map in the page,
    without a request to the server, and the map is the one the server draws for the
    same choices (same traces, colours, legend, points, names, density, summary)."""
    client_mod = pytest.importorskip("gradio_client")
    from selenium.webdriver.common.by import By

    d = browser
    _open_map(d, app_url)
    index = d.execute_script("return document.querySelector('#im-map .js-plotly-plot')"
                             ".layout.meta.im_map.view.index")
    client = client_mod.Client(app_url, verbose=False)
    client.predict(index, "en", api_name="/map_options")  # this session's filter choices

    def same_as_server(what: str, color: str, accounts=(), languages=(), since=None,
                       until=None, density=True) -> None:
        plot, summary = client.predict(index, color, list(accounts), list(languages), since,
                                       until, "en", density, api_name="/map_figure")
        _wait(d, f"the page's summary for {what}",
              lambda d: _text(d, "#im-map-summary") == summary.strip(), timeout=30)
        assert_same_map(d.execute_script(PAGE_FIGURE), server_figure(plot), what)

    def legend(d: object) -> str:
        return d.execute_script("return document.querySelector('#im-map .js-plotly-plot')"
                                ".layout.legend.title.text")

    before = _server_calls(d)
    next(e for e in d.find_elements(By.CSS_SELECTOR, "#im-color-by input[type=radio]")
         if e.get_attribute("value") == "Language").click()
    _wait(d, "the map coloured by language", lambda d: legend(d) == "Language", timeout=30)
    time.sleep(0.5)
    assert _server_calls(d) == before, "a colour change went to the server"
    same_as_server("colour by language", "Language")

    _pick(d, "#im-accounts", "alice")
    _wait(d, "alice's clips only", lambda d: "of 60 clips" in _text(d, "#im-map-summary")
          and "Showing 60 " not in _text(d, "#im-map-summary"), timeout=30)
    same_as_server("alice, by language", "Language", accounts=["alice"])
    _pick(d, "#im-languages", "Japanese")
    _type_date(d, "#im-since", "2024-02-01")
    _type_date(d, "#im-until", "2024-05-31")
    d.find_element(By.CSS_SELECTOR, "#im-density input").click()  # shading off
    next(e for e in d.find_elements(By.CSS_SELECTOR, "#im-color-by input[type=radio]")
         if e.get_attribute("value") == "Audience").click()
    _wait(d, "the map coloured by audience", lambda d: legend(d) == "Audience", timeout=30)
    time.sleep(1.0)
    assert _server_calls(d) == before, "a filter went to the server"
    same_as_server("alice, Japanese, Feb-May, by audience, no shading", "Audience",
                   accounts=["alice"], languages=["ja"], since="2024-02-01",
                   until="2024-05-31", density=False)
    d.save_screenshot(str(artifacts_dir / "app-map-filtered-in-page.png"))

    # A date the page cannot read goes to the server, which says what is wrong.
    _type_date(d, "#im-until", "2024-13-45")
    _wait(d, "the server's word on the date", lambda d: "not a date" in _text(d, "body"),
          timeout=60)
    assert _server_calls(d) > before

    # Clear filters: every clip again, coloured as before.
    d.find_element(By.CSS_SELECTOR, "#im-clear").click()
    _wait(d, "every clip again", lambda d: "Showing 60 of 60" in _text(d, "#im-map-summary"),
          timeout=60)
    time.sleep(1.0)
    same_as_server("cleared, by audience, no shading", "Audience", density=False)


def test_a_server_map_drawn_for_older_choices_takes_the_current_ones(app_url: str,
                                                                     browser: object):
    """A map from the server answers the choices of its request; when a choice changed
    while it was on its way, the page applies the current ones to it."""
    from selenium.webdriver.common.by import By

    d = browser
    _open_map(d, app_url)
    # Draw the page's map for other choices than the controls show (as a map from the
    # server for an older request would be), then let a new map from the server arrive.
    d.execute_script("var v = document.querySelector('#im-map .js-plotly-plot')"
                     ".layout.meta.im_map.view; window.imMap.apply(Object.assign({}, v, "
                     "{color: 'Account'}));")
    assert d.execute_script("return document.querySelector('#im-map .js-plotly-plot')"
                            ".layout.legend.title.text") == "Account"
    d.find_element(By.CSS_SELECTOR, "#im-density input").click()
    d.find_element(By.CSS_SELECTOR, "#im-apply").click()  # the server: audience, no shading
    _wait(d, "the map for the current choices", lambda d: d.execute_script(
        "var gd = document.querySelector('#im-map .js-plotly-plot');"
        "return gd.layout.legend.title.text === 'Audience' && !gd.data.some("
        "function (t) { return t.type === 'contour'; });"), timeout=60)


def test_a_lasso_exports_only_the_clips_the_filters_show(app_url: str, browser: object):
    """Filtered in the page, a lasso around the whole map exports only the clips shown."""
    import csv
    import io

    from selenium.webdriver.common.by import By

    d = browser
    d.get(app_url)
    _wait(d, "the map's points", lambda d: d.find_elements(
        By.CSS_SELECTOR, "#im-map .js-plotly-plot .scatterlayer .points path") or False)
    _pick(d, "#im-accounts", "bob")
    _wait(d, "bob's clips only", lambda d: "Showing 60 " not in _text(d, "#im-map-summary")
          and "of 60 clips" in _text(d, "#im-map-summary"), timeout=30)
    shown = int(re.search(r"Showing ([\d,]+) of", _text(d, "#im-map-summary")).group(1))
    # A loop around the whole map.
    _draw_lasso(d, [(0.01, 0.01), (0.99, 0.01), (0.99, 0.99), (0.01, 0.99), (0.01, 0.03)])
    _wait(d, "the selection's summary", lambda d: "clips selected" in _text(
        d, "#im-selection-md"), timeout=60)
    link = _wait(d, "the CSV export", lambda d: next(
        (a.get_attribute("href") for a in d.find_elements(By.CSS_SELECTOR, "#im-export a")
         if (a.get_attribute("href") or "").endswith(".csv")), False), timeout=30)
    with urllib.request.urlopen(link, timeout=30) as r:
        rows = list(csv.DictReader(io.StringIO(r.read().decode("utf-8"))))
    assert rows and {r["account"] for r in rows} == {"bob"} and len(rows) <= shown
