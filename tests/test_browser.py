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

import fixtures_app
import pytest

small_index = fixtures_app.small_index

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


def test_a_lasso_selection_lists_and_exports_its_clips(app_url: str, browser: object,
                                                       artifacts_dir: Path):
    import csv
    import io

    from selenium.webdriver.common.by import By

    d = browser
    d.get(app_url)
    _wait(d, "the map's points", lambda d: d.find_elements(
        By.CSS_SELECTOR, "#im-map .js-plotly-plot .scatterlayer .points path") or False)
    lasso = _wait(d, "the lasso button", lambda d: next(
        (b for b in d.find_elements(By.CSS_SELECTOR, "#im-map .modebar-btn")
         if (b.get_attribute("data-title") or "").startswith("Lasso")), False), timeout=30)
    lasso.click()
    left, top, width, height = _map_box(d)

    def mouse(kind: str, fx: float, fy: float, buttons: int = 1) -> None:
        # Chromium's own input pipeline (DevTools protocol), as a hand on a mouse.
        d.execute_cdp_cmd("Input.dispatchMouseEvent", {
            "type": kind, "x": left + fx * width, "y": top + fy * height, "button": "left",
            "buttons": buttons, "clickCount": 1})

    # A loop around the map's left half, drawn in small steps.
    path = [(0.02, 0.02), (0.55, 0.02), (0.55, 0.98), (0.02, 0.98), (0.02, 0.05)]
    mouse("mouseMoved", *path[0], buttons=0)
    mouse("mousePressed", *path[0])
    for (ax, ay), (bx, by) in zip(path, path[1:], strict=False):
        for k in range(1, 11):
            mouse("mouseMoved", ax + (bx - ax) * k / 10, ay + (by - ay) * k / 10)
    mouse("mouseReleased", *path[-1], buttons=0)
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
