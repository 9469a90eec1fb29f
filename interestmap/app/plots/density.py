"""Density shading of the map: a smoothed 2-D histogram drawn as filled contours.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import plotly.graph_objects as go

DENSITY_FROM = 20
"""Density shading needs at least this many points."""

DENSITY_BINS = 90

DENSITY_SIGMA = 1.6
"""Density shading: a ``DENSITY_BINS``² histogram smoothed by a Gaussian of this many bins."""


def density_kernel(sigma: float = DENSITY_SIGMA) -> np.ndarray:
    """The normalised Gaussian weights that smooth the density histogram (radius 4σ)."""
    r = int(4.0 * sigma + 0.5)
    k = np.exp(-0.5 * (np.arange(-r, r + 1, dtype=np.float64) / sigma) ** 2)
    return k / k.sum()


def density_grid(xs: np.ndarray, ys: np.ndarray, bins: int = DENSITY_BINS,
                 sigma: float = DENSITY_SIGMA) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Where points crowd: a ``bins``² histogram over the points' extent (5 % margin),
    smoothed by a Gaussian (``sigma`` bins, mirrored at the edges), scaled to a peak of 1
    and rounded to 3 decimals. Returns ``z`` (rows: y), the x and the y bin centres.

    Written step by step in float64, so that the page computes the very same grid when
    it filters the map by itself (``static/map_page.js``)."""

    def axis(v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        v = v.astype(np.float64)
        lo, hi = float(v.min()), float(v.max())
        pad = 0.05 * ((hi - lo) or 1.0)
        lo, hi = lo - pad, hi + pad
        width = (hi - lo) / bins
        idx = np.clip(np.floor((v - lo) / width).astype(np.int64), 0, bins - 1)
        return idx, lo + (np.arange(bins) + 0.5) * width

    ix, xc = axis(xs)
    iy, yc = axis(ys)
    h = np.zeros((bins, bins), dtype=np.float64)
    np.add.at(h, (iy, ix), 1.0)
    k = density_kernel(sigma)
    z = _smooth(_smooth(h, k, 0), k, 1)
    z = z / (z.max() or 1.0)
    return (np.round(z, 3).astype(np.float32), xc.astype(np.float32),
            yc.astype(np.float32))


def _smooth(a: np.ndarray, k: np.ndarray, axis: int) -> np.ndarray:
    """``a`` convolved with the symmetric kernel ``k`` along ``axis`` (0 or 1), mirrored
    at the edges (scipy.ndimage's "reflect"), summed tap by tap."""
    r = len(k) // 2
    n = a.shape[axis]
    pad = [(0, 0), (0, 0)]
    pad[axis] = (r, r)
    p = np.pad(a, pad, mode="symmetric")
    out = np.zeros_like(a)
    for j in range(len(k)):
        out += k[j] * (p[j:j + n, :] if axis == 0 else p[:, j:j + n])
    return out


def density_trace(z: np.ndarray, xc: np.ndarray, yc: np.ndarray) -> go.Contour:
    """Filled contours of a density grid, drawn under the points (a few kB whatever the
    number of clips)."""
    return go.Contour(z=z, x=xc, y=yc, **density_style())


def density_style() -> dict[str, Any]:
    """The density trace, without its ``z``, ``x`` and ``y``."""
    return {"name": "density", "showscale": False, "hoverinfo": "skip", "showlegend": False,
            "ncontours": 8, "line": {"width": 0},
            "contours": {"coloring": "fill", "start": 0.04, "end": 1.0, "size": 0.12},
            "colorscale": [[0, "rgba(255,255,255,0)"], [0.15, "rgba(90,110,160,0.10)"],
                           [1, "rgba(40,60,120,0.42)"]]}
