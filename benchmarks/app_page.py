"""The app's first minute, measured in a real browser: how soon the map shows after the
page opens, how fast a hover and a filter answer.

    python benchmarks/app_page.py                       # built-in atlas, 10k and 100k clips
    python benchmarks/app_page.py --sizes atlas --loads 3

For each size it starts ``python app.py`` as a user would, loads the page once to warm
the server (a "warm server" is one that has served a page before), then opens the page
``--loads`` times in headless Chromium and reads, from inside the page:

* ``first_map_s``: navigation start -> the first animation frame in which the map has
  points drawn (SVG paths or the WebGL canvas). ``full_map_s``: -> all points drawn
  (equal to ``first_map_s`` unless the first draw is down-sampled);
* ``hover_ms``: a real mouse move over a point (Chromium's input pipeline, via the
  DevTools protocol) -> its tooltip on screen; ``hover_card_ms``: -> the side panel
  shows that clip (a round trip to the server);
* ``filter_ms``: a click on "Colour by: Language" (and back) -> the map redrawn with the
  new colours (its legend); ``account_filter_ms``: picking one account in the map's
  account filter -> the map redrawn with that account's clips only. ``*_drawn_ms``: the
  same until the points are on screen (a WebGL map is drawn by the graphics process,
  here in software: reading one pixel back waits until it is done).

Sizes above the built-in atlas reuse its real clips, copied with their map positions
jittered (2 % of the map's width) and fresh ids, served by the real app code: the app
process replaces ``InterestIndex.clips_frame`` with that bigger frame (see
``_app_scaled.py``). The embedded store itself cannot hold 100k clips on this machine
(see benchmarks/README.md); what is measured is the page, the map's server side and the
browser, not the store. Prints one JSON object; progress goes to stderr.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
CHROMIUM = os.environ.get("INTERESTMAP_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("INTERESTMAP_CHROMEDRIVER", "/usr/bin/chromedriver")

# Runs in every page before its own scripts: watches the map and records, in the page's
# own clock (performance.now(), ms from navigation start), when points are drawn, when a
# tooltip shows, when the legend's title and the clip panel change.
PROBE = r"""
window.__im = {draws: [], tips: [], moves: [], clicks: [], legend: [], panel: []};
document.addEventListener('mousemove', function (e) { window.__im.moves.push(e.timeStamp); }, true);
document.addEventListener('click', function (e) { window.__im.clicks.push(e.timeStamp); }, true);
// The time the points are really on screen: a WebGL map is drawn by the graphics
// process (software rendering here); reading one pixel back waits until it is done.
function pixels(gd) {
  gd.querySelectorAll('canvas.gl-canvas-context').forEach(function (c) {
    var gl = c.width && c.height && (c.getContext('webgl') || c.getContext('webgl2'));
    if (gl) gl.readPixels(0, 0, 1, 1, gl.RGBA, gl.UNSIGNED_BYTE, new Uint8Array(4));
  });
  return performance.now();
}
(function tick() {
  var im = window.__im;
  var gd = document.querySelector('#im-map .js-plotly-plot');
  if (gd && gd._fullData && gd._fullLayout) {
    var n = 0;
    gd._fullData.forEach(function (t) {
      if (t.visible === true && (t.type === 'scatter' || t.type === 'scattergl') && t.x
          && String(t.mode).indexOf('markers') >= 0 && t.name !== 'Your clip') n += t.x.length;
    });
    var drawn = gd.querySelector('.scatterlayer .points path, canvas.gl-canvas-context');
    var last = im.draws.length ? im.draws[im.draws.length - 1][1] : -1;
    if (drawn && n !== last) { var t = performance.now(); im.draws.push([t, n, pixels(gd)]); }
    var lt = (gd._fullLayout.legend && gd._fullLayout.legend.title &&
              gd._fullLayout.legend.title.text) || '';
    var lastLt = im.legend.length ? im.legend[im.legend.length - 1][1] : null;
    if (lt !== lastLt) { var t2 = performance.now(); im.legend.push([t2, lt, pixels(gd)]); }
    var tip = gd.querySelector('.hoverlayer .hovertext');
    var hadTip = im.tips.length ? im.tips[im.tips.length - 1][1] : false;
    if (!!tip !== hadTip) im.tips.push([performance.now(), !!tip]);
  }
  var panel = document.querySelector('#im-clip-panel');
  if (panel) {
    var txt = panel.innerText;
    var lastP = im.panel.length ? im.panel[im.panel.length - 1][1] : null;
    if (txt !== lastP) im.panel.push([performance.now(), txt]);
  }
  requestAnimationFrame(tick);
})();
"""

POINT_XY = r"""
var gd = document.querySelector('#im-map .js-plotly-plot');
var k = arguments[0];
var traces = gd._fullData.filter(function (t) {
  return t.visible === true && t.x && t.x.length && String(t.mode).indexOf('markers') >= 0
         && t.hoverinfo !== 'skip'; });
var t = traces[k % traces.length];
var i = Math.floor((k * 7919) % t.x.length);
var fl = gd._fullLayout, r = gd.getBoundingClientRect();
var px = fl.xaxis._offset + fl.xaxis.l2p(t.x[i]), py = fl.yaxis._offset + fl.yaxis.l2p(t.y[i]);
return [r.left + px, r.top + py, String(t.name)];
"""


def log(msg: str) -> None:
    print(f"[app-bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class App:
    """``python app.py`` (or the scaled launcher) on a free loopback port."""

    def __init__(self, home: Path, rows: int | None, log_path: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        env = {**os.environ, "INTERESTMAP_INDEXES": str(home / "indexes"),
               "INTERESTMAP_HOME": str(home), "GRADIO_ANALYTICS_ENABLED": "False",
               "PYTHONUNBUFFERED": "1", "PYTHONPATH": str(REPO)}
        # app.py itself, through a launcher that can serve a bigger map (rows > 0) and
        # writes the accounts' clip counts for the account-filter measurement.
        cmd = [sys.executable, str(HERE / "_app_scaled.py"), "--rows", str(rows or 0),
               "--port", str(self.port)]
        self._log = log_path.open("wb")
        self.log_path = log_path
        self.proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=self._log,
                                     stderr=subprocess.STDOUT)
        t0 = time.monotonic()
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError("the app exited:\n" + log_path.read_text(errors="replace")[-3000:])
            try:
                with urllib.request.urlopen(self.url, timeout=5) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() - t0 > 900:
                raise RuntimeError("the app did not start in 15 min")
            time.sleep(0.5)
        self.start_s = time.monotonic() - t0

    def close(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=20)
        self._log.close()


def browser(profile: Path) -> Any:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for arg in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                "--disable-background-networking", "--disable-component-update",
                "--no-first-run", "--disable-sync", "--disable-dev-shm-usage",
                "--window-size=1440,1400", f"--user-data-dir={profile}"):
        opts.add_argument(arg)
    d = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    d.set_page_load_timeout(300)
    d.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": PROBE})
    return d


def wait_for(d: Any, what: str, js: str, timeout: float) -> Any:
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        v = d.execute_script(js)
        if v:
            return v
        time.sleep(0.05)
    raise TimeoutError(f"timed out ({timeout:.0f} s) waiting for {what}")


def open_page(d: Any, url: str, total: int, timeout: float) -> dict[str, float]:
    """Load the page; seconds to the first drawn map and to the complete one."""
    d.get("about:blank")
    d.get(url)
    draws = wait_for(d, "the complete map",
                     f"var a = window.__im && window.__im.draws; return a && a.length && "
                     f"a[a.length-1][1] >= {total} ? a : null", timeout)
    first = next(t for t, n, _ in draws if n > 0)
    full = next(t for t, n, _ in draws if n >= total)
    return {"first_map_s": first / 1000.0, "full_map_s": full / 1000.0,
            "first_points": next(n for _, n, _ in draws if n > 0)}


def mouse(d: Any, x: float, y: float) -> None:
    d.execute_cdp_cmd("Input.dispatchMouseEvent", {"type": "mouseMoved", "x": x, "y": y})


def hover_once(d: Any, k: int) -> tuple[float, float | None]:
    """A real mouse move onto point ``k``: ms to its tooltip, and to the clip card."""
    mouse(d, 5, 5)
    wait_for(d, "no tooltip", "var t = window.__im.tips; return !t.length || !t[t.length-1][1]", 10)
    time.sleep(0.3)
    x, y, _ = d.execute_script(POINT_XY, k)
    n_tips = d.execute_script("return window.__im.tips.length")
    n_panel = d.execute_script("return window.__im.panel.length")
    n_moves = d.execute_script("return window.__im.moves.length")
    mouse(d, x, y)
    tip = wait_for(d, "the tooltip", f"var t = window.__im.tips.slice({n_tips}); "
                   "for (var i=0;i<t.length;i++) if (t[i][1]) return t[i][0]; return null", 10)
    move = d.execute_script(f"return window.__im.moves[{n_moves}]")
    card = None
    with contextlib.suppress(TimeoutError):
        card = wait_for(d, "the clip card", f"var p = window.__im.panel.slice({n_panel}); "
                        "for (var i=0;i<p.length;i++) if (p[i][1].indexOf('Audience') >= 0) "
                        "return p[i][0]; return null", 10)
    return tip - move, (card - move) if card is not None else None


def colour_by(d: Any, label: str, want_title: str) -> tuple[float, float]:
    """Click a "Colour by" choice: ms from the click to the redrawn legend, and to the
    recoloured points on screen."""
    from selenium.webdriver.common.by import By

    box = next(e for e in d.find_elements(By.CSS_SELECTOR, "input[type=radio]")
               if e.get_attribute("value") == label)
    n_clicks = d.execute_script("return window.__im.clicks.length")
    n_leg = d.execute_script("return window.__im.legend.length")
    box.click()
    done = wait_for(d, f"the map coloured by {label}",
                    f"var l = window.__im.legend.slice({n_leg}); for (var i=0;i<l.length;i++) "
                    f"if (l[i][1] === {json.dumps(want_title)}) return l[i]; return null", 60)
    clicked = d.execute_script(f"return window.__im.clicks[{n_clicks}]")
    return done[0] - clicked, done[2] - clicked


def account_filter(d: Any, account: str, expect: int) -> tuple[float, float]:
    """Pick one account in the map's filter: ms from the pick to the map with
    ``expect`` points, and to those points on screen."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    box = d.find_element(By.CSS_SELECTOR, "#im-accounts input")
    box.click()
    box.send_keys(account)
    n_draws = d.execute_script("return window.__im.draws.length")
    t_key = d.execute_script("return performance.now()")
    box.send_keys(Keys.ENTER)
    done = wait_for(d, "the filtered map",
                    f"var a = window.__im.draws.slice({n_draws}); for (var i=0;i<a.length;i++)"
                    f" if (a[i][1] === {expect}) return a[i]; return null", 60)
    return done[0] - t_key, done[2] - t_key


def med(xs: list[float]) -> float | None:
    xs = [x for x in xs if x is not None]
    return round(statistics.median(xs), 3) if xs else None


def bench_size(rows: int | None, loads: int, hovers: int, tmp: Path) -> dict[str, Any]:
    home = tmp / ("home" if rows is None else f"home-{rows}")
    home.mkdir(exist_ok=True)
    if rows is not None and (tmp / "home" / "indexes").is_dir() \
            and not (home / "indexes").exists():
        shutil.copytree(tmp / "home" / "indexes", home / "indexes")  # the built atlas
    log(f"starting the app ({'built-in atlas' if rows is None else f'{rows:,} clips'})")
    app = App(home, rows, tmp / f"app-{rows or 'atlas'}.log")
    d = browser(tmp / f"profile-{rows or 'atlas'}")
    out: dict[str, Any] = {"server_start_s": round(app.start_s, 2)}
    try:
        d.get(app.url)  # warm-up: the first page the server serves (also fills the cache)
        t_cold = wait_for(d, "the map (warm-up)", "var a = window.__im.draws; "
                          "return a.length ? a[0][0] : null", 600)
        time.sleep(1.5)
        total = int(d.execute_script("var a = window.__im.draws; return a[a.length-1][1]"))
        # Wait until the full map is drawn (it may follow a down-sampled first draw).
        t_end = time.monotonic() + 300
        while time.monotonic() < t_end:
            time.sleep(1.0)
            n = int(d.execute_script("var a = window.__im.draws; return a[a.length-1][1]"))
            if n == total:
                break
            total = n
        out["warmup_first_map_s"] = round(t_cold / 1000.0, 3)
        out["points"] = total
        runs = [open_page(d, app.url, total, 600) for _ in range(loads)]
        out["first_map_s"] = med([r["first_map_s"] for r in runs])
        out["full_map_s"] = med([r["full_map_s"] for r in runs])
        out["first_map_s_runs"] = [round(r["first_map_s"], 3) for r in runs]
        out["first_points"] = runs[0]["first_points"]
        time.sleep(1.0)
        hov = [hover_once(d, k) for k in range(1, hovers + 1)]
        out["hover_ms"] = med([h for h, _ in hov])
        out["hover_card_ms"] = med([c for _, c in hov])
        out["hover_card_missing"] = sum(c is None for _, c in hov)
        filt = []
        for _ in range(3):
            filt.append(colour_by(d, "Language", "Language"))
            time.sleep(1.0)
            filt.append(colour_by(d, "Audience", "Audience"))
            time.sleep(1.0)
        out["filter_ms"] = med([f for f, _ in filt])
        out["filter_drawn_ms"] = med([g for _, g in filt])
        out["filter_ms_runs"] = [round(f) for f, _ in filt]
        out["filter_drawn_ms_runs"] = [round(g) for _, g in filt]
        try:
            out.update(_account_filter(d, home))
        except Exception as e:  # noqa: BLE001 - reported, not fatal
            out["account_filter_ms"] = f"not measured: {type(e).__name__}: {str(e)[:160]}"
    finally:
        d.quit()
        app.close()
    return out


def _account_filter(d: Any, home: Path) -> dict[str, Any]:
    counts = json.loads((home / "accounts.json").read_text()) if (home / "accounts.json").is_file() \
        else None
    if not counts:
        return {"account_filter_ms": "not measured: no account counts"}
    account, n = max(counts.items(), key=lambda kv: kv[1])
    ms, drawn = account_filter(d, account, n)
    return {"account_filter_ms": round(ms), "account_filter_drawn_ms": round(drawn),
            "account_filter_points": n}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", default="atlas,10000,100000",
                   help="comma-separated: atlas and/or clip counts (default atlas,10000,100000)")
    p.add_argument("--loads", type=int, default=5, help="page loads per size (default 5)")
    p.add_argument("--hovers", type=int, default=8, help="hovers per size (default 8)")
    p.add_argument("--keep", help="keep the temporary folder here (logs, indexes)")
    args = p.parse_args(argv)
    for tool in (CHROMIUM, CHROMEDRIVER):
        if not (Path(tool).exists() or shutil.which(tool)):
            sys.exit(f"{tool} not found: apt-get install chromium chromium-driver")
    tmp = Path(args.keep or tempfile.mkdtemp(prefix="im-app-bench-"))
    tmp.mkdir(parents=True, exist_ok=True)
    res: dict[str, Any] = {"cpus": os.cpu_count()}
    t0 = time.monotonic()
    for size in [s.strip() for s in args.sizes.split(",") if s.strip()]:
        rows = None if size == "atlas" else int(size)
        if rows is not None and not (tmp / "home" / "indexes").is_dir():
            (tmp / "home").mkdir(exist_ok=True)
            subprocess.run([sys.executable, "-c", "from interestmap.index.default import "
                            "ensure_default_index; ensure_default_index().close()"],
                           env={**os.environ, "PYTHONPATH": str(REPO),
                                "INTERESTMAP_INDEXES": str(tmp / "home" / "indexes"),
                                "INTERESTMAP_HOME": str(tmp / "home")}, check=True)
        try:
            res[size] = bench_size(rows, args.loads, args.hovers, tmp)
        except Exception as e:  # noqa: BLE001 - one size failing does not lose the rest
            res[size] = {"error": f"{type(e).__name__}: {str(e)[:400]}"}
        log(f"{size}: {json.dumps(res[size])}")
    res["total_s"] = round(time.monotonic() - t0, 1)
    res["load_average_1_5_15"] = [round(x, 2) for x in os.getloadavg()]
    print(json.dumps(res, indent=1))
    if not args.keep:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
