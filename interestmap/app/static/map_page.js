/* interestmap: the map's code in the page (loaded into the app's <head>).
 *
 * 1. window.imMap.apply(view) recolours and filters the drawn map in the page, at once,
 *    from the description of its clips that each map figure carries in
 *    layout.meta.im_map (interestmap/map_page.py): the same traces, colours, legend,
 *    audience names, density shading and summary as the server's figure for that view
 *    (interestmap/app/plots/scatter.py map_figure; tests/test_browser.py compares the two). Where the
 *    page cannot tell (a date it cannot read, no description), it asks the server
 *    ("Update map").
 * 2. Hooks on the page's maps: hover and click -> the clip card; lasso and box -> the
 *    selection; audience names that thin out as the map zooms out; and, for each new map
 *    from the server, a check against the current choices (a choice made while that map
 *    was on its way is applied to it).
 */
(function () {
  'use strict';

  // Typed arrays ------------------------------------------------------------------------
  var TYPES = {u1: Uint8Array, u2: Uint16Array, u4: Uint32Array, i1: Int8Array,
               i2: Int16Array, i4: Int32Array, f4: Float32Array, f8: Float64Array};

  /* An array from a {dtype, bdata} spec (plotly's and ours, little-endian), or as is. */
  function typed(v) {
    if (v && typeof v === 'object' && typeof v.bdata === 'string' && v.dtype) {
      var bin = atob(v.bdata), n = bin.length, bytes = new Uint8Array(n);
      for (var i = 0; i < n; i++) bytes[i] = bin.charCodeAt(i);
      var T = TYPES[v.dtype];
      return new T(bytes.buffer, 0, n / T.BYTES_PER_ELEMENT);
    }
    return v || [];
  }

  function clone(o) { return JSON.parse(JSON.stringify(o)); }

  function commas(n) { return String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ','); }

  function fill(template, values) {
    return template.replace(/\{(\w+)\}/g, function (m, k) { return values[k]; });
  }

  // The choices of the map, as both sides compare them ----------------------------------
  function text(v) {
    if (v === null || v === undefined) return null;
    var s = String(v).trim();
    return s || null;
  }

  function norm(v) {
    v = v || {};
    return {index: text(v.index), color: String(v.color || ''),
            accounts: (v.accounts || []).map(String), languages: (v.languages || []).map(String),
            since: text(v.since), until: text(v.until), density: !!v.density};
  }

  function sameView(a, b) {
    function key(v) {
      v = norm(v);
      return JSON.stringify([v.index, v.color, v.accounts.slice().sort(),
                             v.languages.slice().sort(), v.since, v.until, v.density]);
    }
    return key(a) === key(b);
  }

  /* A date as the server reads it (ISO date, or date and time, UTC unless a zone is
   * given) -> Unix seconds; null when empty; undefined when the page cannot read it. */
  function seconds(v) {
    v = text(v);
    if (v === null) return null;
    var m = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2}))?)?(Z|[+-]\d{2}:\d{2})?$/.exec(v);
    if (!m || (m[7] && !m[4])) return undefined;
    var f = m.slice(1, 7).map(function (x) { return x === undefined ? 0 : +x; });
    var t = Date.UTC(f[0], f[1] - 1, f[2], f[3], f[4], f[5]);
    var d = new Date(t);
    if (d.getUTCFullYear() !== f[0] || d.getUTCMonth() !== f[1] - 1 || d.getUTCDate() !== f[2]
        || f[3] > 23 || f[4] > 59 || f[5] > 59) return undefined;
    if (m[7] && m[7] !== 'Z') {
      var sign = m[7][0] === '-' ? -1 : 1;
      t -= sign * (+m[7].slice(1, 3) * 60 + +m[7].slice(4, 6)) * 60000;
    }
    return t / 1000;
  }

  // The map's clips, read once per figure from the server -------------------------------
  function mapDiv() { return document.querySelector('#im-map .js-plotly-plot'); }

  function meta(gd) { return (gd && gd.layout && gd.layout.meta) || {}; }

  /* The clips of the figure drawn in gd: positions and hover data from its traces, codes
   * from its description. null when the figure has no (matching) description. */
  function ingest(gd) {
    var p = meta(gd).im_map;
    if (!p || !gd.data) return null;
    if (gd.__im && gd.__im.key === p.key) return gd.__im;
    var S = p.style, n = p.n, rows = typed(p.rows);
    var X = new Float32Array(n), Y = new Float32Array(n), CD = new Array(n);
    var placed = new Uint8Array(n), j = 0, markers = [];
    X.fill(NaN); Y.fill(NaN);
    gd.data.forEach(function (t) {
      if (t.meta === S.metas.marker) markers.push(t);
      if (t.meta !== S.metas.points && t.meta !== S.metas.hidden) return;
      var x = typed(t.x), y = typed(t.y), cd = t.customdata || [];
      for (var k = 0; k < x.length; k++, j++) {
        var r = rows[j];
        X[r] = x[k]; Y[r] = y[k]; CD[r] = cd[k]; placed[r] = 1;
      }
    });
    if (j !== rows.length) return null;
    var cols = {};
    Object.keys(p.cols).forEach(function (c) {
      cols[c] = {values: p.cols[c].values, codes: typed(p.cols[c].codes)};
    });
    var others = (gd.layout.annotations || []).filter(function (a) {
      return a.name !== S.label.name && a.name !== S.note.name;
    });
    gd.__im = {key: p.key, p: p, n: n, X: X, Y: Y, CD: CD, placed: placed, cols: cols,
               markers: markers, annotations: others};
    return gd.__im;
  }

  // Which clips a view shows ------------------------------------------------------------
  function allowed(values, picked) {
    if (!picked || !picked.length) return null;
    var want = new Set(picked.map(String)), ok = new Uint8Array(values.length);
    for (var k = 0; k < values.length; k++) {
      ok[k] = values[k] !== null && want.has(String(values[k])) ? 1 : 0;
    }
    return ok;
  }

  /* The clips that pass the view's filters (1/0 per clip); null when the page cannot
   * tell (a language or a date it does not know). */
  function passing(st, v) {
    var p = st.p, cols = st.cols, n = st.n;
    var codes = [];
    for (var i = 0; i < v.languages.length; i++) {
      if (!Object.prototype.hasOwnProperty.call(p.language_filter, v.languages[i])) return null;
      codes.push(p.language_filter[v.languages[i]]);
    }
    var since = seconds(v.since), until = seconds(v.until);
    if (since === undefined || until === undefined) return null;
    var acc = allowed(cols.account.values, v.accounts);
    var lang = allowed(cols.language.values, codes.length ? codes : null);
    var when = null;
    if (since !== null || until !== null) {
      var tv = cols.ts.values;
      when = new Uint8Array(tv.length);
      for (var k = 0; k < tv.length; k++) {
        when[k] = tv[k] !== null && (since === null || tv[k] >= since)
                  && (until === null || tv[k] <= until) ? 1 : 0;
      }
    }
    var a = cols.account.codes, l = cols.language.codes, t = cols.ts.codes;
    var pass = new Uint8Array(n);
    for (var r = 0; r < n; r++) {
      pass[r] = (!acc || acc[a[r]]) && (!lang || lang[l[r]]) && (!when || when[t[r]]) ? 1 : 0;
    }
    return pass;
  }

  // The figure for a view, as plots.map_figure draws it ---------------------------------
  function median(vals) {
    vals.sort();
    var h = vals.length >> 1;
    return vals.length % 2 ? vals[h] : Math.fround(Math.fround(vals[h - 1] + vals[h]) / 2);
  }

  function rint(v) {  // round half to even, as numpy
    var r = Math.round(v);
    return Math.abs(r - v) === 0.5 ? 2 * Math.round(v / 2) : r;
  }

  /* interestmap.app.plots.density_grid, step by step in the same float64 arithmetic. */
  function densityGrid(xs, ys, bins, kernel) {
    function axis(v) {
      var lo = Infinity, hi = -Infinity, i;
      for (i = 0; i < v.length; i++) { if (v[i] < lo) lo = v[i]; if (v[i] > hi) hi = v[i]; }
      var pad = 0.05 * ((hi - lo) || 1.0);
      lo = lo - pad; hi = hi + pad;
      var width = (hi - lo) / bins, idx = new Int32Array(v.length), c = [];
      for (i = 0; i < v.length; i++) {
        var b = Math.floor((v[i] - lo) / width);
        idx[i] = b < 0 ? 0 : (b > bins - 1 ? bins - 1 : b);
      }
      for (i = 0; i < bins; i++) c.push(Math.fround(lo + (i + 0.5) * width));
      return {idx: idx, centres: c};
    }
    var ax = axis(xs), ay = axis(ys), h = new Float64Array(bins * bins), i, j, k;
    for (i = 0; i < xs.length; i++) h[ay.idx[i] * bins + ax.idx[i]] += 1;
    var r = kernel.length >> 1;
    function mirror(q) {  // numpy's "symmetric" padding
      while (q < 0 || q >= bins) q = q < 0 ? -q - 1 : 2 * bins - q - 1;
      return q;
    }
    function smooth(a, alongRows) {
      var out = new Float64Array(bins * bins);
      for (i = 0; i < bins; i++) {
        for (j = 0; j < bins; j++) {
          var s = 0;
          for (k = 0; k < kernel.length; k++) {
            var q = mirror((alongRows ? i : j) + k - r);
            s += kernel[k] * (alongRows ? a[q * bins + j] : a[i * bins + q]);
          }
          out[i * bins + j] = s;
        }
      }
      return out;
    }
    var z = smooth(smooth(h, true), false), top = 0;
    for (i = 0; i < z.length; i++) if (z[i] > top) top = z[i];
    top = top || 1.0;
    var rows = [];
    for (i = 0; i < bins; i++) {
      var row = new Array(bins);
      for (j = 0; j < bins; j++) row[j] = Math.fround(rint((z[i * bins + j] / top) * 1000) / 1000);
      rows.push(row);
    }
    return {z: rows, x: ax.centres, y: ay.centres};
  }

  /* What the view shows: {data, annotations, title, labels, shown, summary}; null when
   * the page cannot tell. */
  function build(st, view) {
    var v = norm(view), p = st.p, S = p.style, n = st.n;
    var mode = p.modes[v.color];
    if (!mode) return null;
    var pass = passing(st, v);
    if (!pass) return null;
    var col = st.cols[mode.column].codes, of = mode.of, G = mode.groups.length;
    var aud = st.cols.audience, audSeen = new Uint8Array(aud.values.length);
    var count = new Int32Array(G), nShown = 0, nRows = 0, r, g;
    for (r = 0; r < n; r++) {
      if (!pass[r]) continue;
      nRows++;
      audSeen[aud.codes[r]] = 1;
      if (st.placed[r]) { nShown++; count[of[col[r]]]++; }
    }
    var nAud = 0;
    for (var k = 0; k < aud.values.length; k++) {
      if (audSeen[k] && aud.values[k] !== null && aud.values[k] >= 0) nAud++;
    }
    var summary = p.summary.sampled || (fill(p.summary.shown, {
      shown: commas(nShown), total: commas(p.total), audiences: commas(nAud)})
      + (nRows > nShown ? fill(p.summary.left_out, {unplaced: commas(nRows - nShown)}) : ''));
    var none = mode.no_audience;
    var order = [];
    for (g = 0; g < G; g++) if (count[g]) order.push(g);
    order.sort(function (a, b) {
      return ((a === none) - (b === none)) || (count[b] - count[a]) || (a - b);
    });
    // Each group's clips, in the figure's order (a counting sort).
    var start = new Int32Array(G + 1);
    for (g = 0; g < G; g++) start[g + 1] = start[g] + count[g];
    var at = start.slice(0, G), members = new Int32Array(nShown);
    for (r = 0; r < n; r++) if (pass[r] && st.placed[r]) members[at[of[col[r]]]++] = r;
    var gl = nShown >= S.webgl_from;
    var tier = nShown >= S.huge_from ? '_huge' : (nShown >= S.dense_from ? '_dense' : '_small');
    var data = [];
    if (v.density && nShown >= S.density_from) {
      var dx = new Float32Array(nShown), dy = new Float32Array(nShown);
      for (k = 0; k < nShown; k++) { dx[k] = st.X[members[k]]; dy[k] = st.Y[members[k]]; }
      var grid = densityGrid(dx, dy, S.density.bins, S.density.kernel);
      data.push(Object.assign({type: 'contour', z: grid.z, x: grid.x, y: grid.y},
                              clone(S.density.trace)));
    }
    var drawOrder = order.filter(function (g) { return g === none; })
      .concat(order.filter(function (g) { return g !== none; }));
    drawOrder.forEach(function (g) {
      var m = count[g], xs = new Float32Array(m), ys = new Float32Array(m), cd = new Array(m);
      for (var q = 0; q < m; q++) {
        var row = members[start[g] + q];
        xs[q] = st.X[row]; ys[q] = st.Y[row]; cd[q] = st.CD[row];
      }
      var marker = clone(S.markers[(g === none ? 'none' : 'named') + tier]);
      marker.color = mode.colors[g];
      data.push({type: gl ? 'scattergl' : 'scatter', x: xs, y: ys, mode: 'markers',
                 name: mode.names[g], legendrank: order.indexOf(g) + 1, meta: S.metas.points,
                 marker: marker, customdata: cd,
                 hovertemplate: p.rich ? S.hover.rich : S.hover.compact});
    });
    var labels = [];
    if (mode.labels) {
      order.filter(function (g) { return g !== none; }).slice(0, S.max_labels).forEach(function (g) {
        var m = count[g];
        if (m < 2) return;
        var xs = new Float32Array(m), ys = new Float32Array(m);
        for (var q = 0; q < m; q++) {
          xs[q] = st.X[members[start[g] + q]]; ys[q] = st.Y[members[start[g] + q]];
        }
        labels.push(Object.assign(clone(S.label), {x: median(xs), y: median(ys),
                                                   text: mode.labels[g]}));
      });
    }
    [['Selected clip', p.selected === null ? [] : [p.selected]],
     ['Nearest clips', p.highlight]].forEach(function (ring) {
      if (!ring[1].length) return;
      var want = new Set(ring[1]), hx = [], hy = [];
      for (var row = 0; row < n; row++) {
        if (pass[row] && st.placed[row] && st.CD[row] && want.has(String(st.CD[row][0]))) {
          hx.push(st.X[row]); hy.push(st.Y[row]);
        }
      }
      if (hx.length) {
        data.push(Object.assign({type: 'scatter', x: new Float32Array(hx),
                                 y: new Float32Array(hy)}, clone(S.rings[ring[0]])));
      }
    });
    data = data.concat(st.markers);
    var annotations = labels.concat(st.annotations);
    if (!nShown && !st.markers.length) annotations.push(clone(S.note));
    return {data: data, annotations: annotations, labels: labels.length, title: mode.title,
            shown: nShown, summary: summary, view: v};
  }

  function draw(gd, st, fig) {
    var layout = Object.assign({}, gd.layout);
    // Keep the drawn height: without one, a responsive plot takes 100% of a container
    // that has no height of its own, and collapses.
    if (!layout.height && gd._fullLayout && gd._fullLayout.height) layout.height = gd._fullLayout.height;
    layout.annotations = fig.annotations;
    var legend = Object.assign({}, layout.legend || {});
    legend.title = Object.assign({}, legend.title || {}, {text: fig.title});
    layout.legend = legend;
    layout.meta = {im_labels: fig.labels, im_points: fig.shown, im_map: st.p, im_view: fig.view};
    return window.Plotly.react(gd, fig.data, layout, st.p.style.config);
  }

  function currentSummary() {
    var el = document.querySelector('#im-map-summary');
    return el ? el.innerText.trim() : '';
  }

  function askServer() {
    var b = document.querySelector('#im-apply');
    if (b) b.click();
    return 'Updating the map…';
  }

  /* Show the map for a view (index, color, accounts, languages, since, until, density:
   * the values of the map's controls). Returns the map's one-line summary. */
  function apply(view) {
    var v = norm(view), gd = mapDiv();
    if (!gd || !gd.data || !window.Plotly) return currentSummary();
    var st = ingest(gd);
    if (!st) return meta(gd).im_points === undefined ? currentSummary() : askServer();
    if (st.p.view.index !== v.index) return currentSummary();  // another map is on its way
    var fig = build(st, v);
    if (!fig) return askServer();
    if (!sameView(meta(gd).im_view || st.p.view, v)) draw(gd, st, fig);
    return fig.summary;
  }

  window.imMap = {apply: apply, build: function (view) {
    var gd = mapDiv(), st = gd && ingest(gd);
    return st ? build(st, view) : null;
  }, seconds: seconds, densityGrid: densityGrid};

  // Hooks -------------------------------------------------------------------------------
  var timer = null;
  function setBox(sel, value) {
    var box = document.querySelector(sel + ' textarea, ' + sel + ' input');
    if (!box) return;
    var setter = Object.getOwnPropertyDescriptor(Object.getPrototypeOf(box), 'value').set;
    setter.call(box, value);
    box.dispatchEvent(new Event('input', {bubbles: true}));
  }
  function send(ev, delay) {
    var p = ev && ev.points && ev.points[0];
    if (!p || !p.customdata || !p.customdata[0]) return;
    var id = String(p.customdata[0]);
    clearTimeout(timer);
    timer = setTimeout(function () { setBox('#im-picked', id + '|' + Date.now()); }, delay);
  }
  // Audience names: biggest first; a name that would overlap one already shown is
  // hidden, so names thin out as the map zooms out and come back when zooming in.
  function thin(gd) {
    var n = meta(gd).im_labels || 0;
    if (!n) return;
    var els = Array.prototype.slice.call(gd.querySelectorAll('.annotation[data-index]'))
      .filter(function (e) { return +e.getAttribute('data-index') < n; })
      .sort(function (a, b) { return a.getAttribute('data-index') - b.getAttribute('data-index'); });
    var shown = [];
    els.forEach(function (el) {
      el.style.display = '';
      var r = el.getBoundingClientRect();
      var clash = !r.width || shown.some(function (q) {
        return !(r.right + 4 < q.left || r.left - 4 > q.right || r.bottom + 2 < q.top || r.top - 2 > q.bottom);
      });
      if (clash) el.style.display = 'none'; else shown.push(r);
    });
  }
  // A map from the server was drawn for the choices of its request: if they changed
  // meanwhile, "im-restyle" applies the current ones (its click hands them to apply()).
  function check(gd) {
    var m = meta(gd);
    if (!m.im_map) return;
    var drawn = m.im_view ? 'page' : 'server ' + m.im_map.key;
    if (gd.__imDrawn === drawn) return;
    gd.__imDrawn = drawn;
    if (drawn === 'page') return;
    var b = document.querySelector('#im-restyle');
    if (b) b.click();
  }
  function hook() {
    document.querySelectorAll('.im-map .js-plotly-plot').forEach(function (gd) {
      if (gd.__imHooked || typeof gd.on !== 'function') return;
      gd.__imHooked = true;
      var main = !!gd.closest('#im-map');
      gd.on('plotly_click', function (ev) { send(ev, 0); });
      gd.on('plotly_hover', function (ev) { send(ev, 120); });
      gd.on('plotly_unhover', function () { clearTimeout(timer); });
      gd.on('plotly_afterplot', function () {
        requestAnimationFrame(function () { thin(gd); if (main) check(gd); });
      });
      if (main) {
        gd.on('plotly_selected', function (ev) {
          if (!ev) return;
          var sel = ev.lassoPoints ? {lasso: {x: ev.lassoPoints.x, y: ev.lassoPoints.y}}
                  : (ev.range ? {box: {x: ev.range.x, y: ev.range.y}} : null);
          if (sel) setBox('#im-selection', JSON.stringify(sel) + '|' + Date.now());
        });
        check(gd);
      }
      thin(gd);
    });
  }
  new MutationObserver(hook).observe(document.documentElement, {childList: true, subtree: true});
})();
