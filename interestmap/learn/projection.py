"""The 2-D map: a UMAP layout of the corpus, and stable placement of new clips on it.

UMAP's own ``transform`` optimises a batch of new points *jointly* (shared sampling
schedule, per-batch weight normalisation, RNG streams keyed by batch position), so the
same clip lands on different spots depending on what it was sent with. A map a creator
compares posts on cannot do that. :class:`MapProjector` therefore places every new point
*on its own*, with UMAP's recipe applied to that point alone:

1. exact cosine k-nearest neighbours among the points the layout was fitted on;
2. UMAP's fuzzy membership weights for those neighbours (``smooth_knn_dist``), with the
   weights normalised per point, not per batch;
3. start at the membership-weighted mean of the neighbours' coordinates (a clip identical
   to a fitted one starts, and stays, on it);
4. UMAP's attractive/repulsive SGD against the fixed layout, per point, with a random
   stream seeded from ``random_state`` and the point's nearest neighbour, never from its
   position in the batch.

A clip placed alone and inside any batch therefore gets the same coordinates (up to
float rounding in the neighbour search), and a saved and reloaded projector places it
identically. Large corpora are laid out on a random subsample (``max_fit_points``) and
the rest is placed the same way.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any, NamedTuple

import numba
import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin

from interestmap.encoders.base import l2_normalize
from interestmap.errors import ConfigError, IndexError_

_FORMAT = "interestmap.MapProjector/1"
MIN_MAP_CLIPS = 5  # the fewest points a map is drawn from
_MIN_POINTS = MIN_MAP_CLIPS
_KNN_CHUNK = 2048


def _unit_rows(X: Any, name: str = "X") -> np.ndarray:
    """``X`` as a C-contiguous float32 matrix of unit rows, or a ConfigError."""
    try:
        arr = np.asarray(X, dtype=np.float32)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{name} must be a numeric matrix (n_clips, n_dims): {exc}") from None
    if arr.ndim == 1:
        arr = arr[None, :]
    if arr.ndim != 2 or arr.shape[1] == 0:
        raise ConfigError(f"{name} must be a 2-D matrix (n_clips, n_dims), got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ConfigError(f"{name} contains NaN or infinite values; re-encode those clips")
    return np.ascontiguousarray(l2_normalize(arr))


def _check_int(name: str, value: Any, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < low:
        raise ConfigError(f"{name} must be an integer >= {low}, got {value!r}")
    return int(value)


def _check_float(name: str, value: Any, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.number) \
            or not low <= float(value) <= high:
        raise ConfigError(f"{name} must be a number in [{low}, {high}], got {value!r}")
    return float(value)


def exact_knn(X: np.ndarray, ref: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices and cosine distances of each row's ``k`` nearest rows of ``ref`` (unit rows).

    Exact and computed row by row in chunks, so a row's answer does not depend on which
    other rows are in the batch. Ties are broken by the lower index.
    """
    k = min(k, ref.shape[0])
    idx = np.empty((X.shape[0], k), dtype=np.int64)
    dist = np.empty((X.shape[0], k), dtype=np.float32)
    for s in range(0, X.shape[0], _KNN_CHUNK):
        d = 1.0 - X[s:s + _KNN_CHUNK] @ ref.T
        np.maximum(d, 0.0, out=d)
        part = np.argpartition(d, k - 1, axis=1)[:, :k] if k < ref.shape[0] else \
            np.tile(np.arange(ref.shape[0]), (d.shape[0], 1))
        pd = np.take_along_axis(d, part, axis=1)
        order = np.lexsort((part, pd), axis=1)
        idx[s:s + _KNN_CHUNK] = np.take_along_axis(part, order, axis=1)
        dist[s:s + _KNN_CHUNK] = np.take_along_axis(pd, order, axis=1)
    return idx, dist


class Neighbours(NamedTuple):
    """Nearest fitted points of new points: ``idx`` and cosine ``dist`` (m, k), sorted
    nearest first, and UMAP's membership ``weights`` of those edges (m, k)."""

    idx: np.ndarray
    dist: np.ndarray
    weights: np.ndarray


def _smooth_knn_sigma(dists: np.ndarray, n_neighbors: int, n_iter: int = 64) -> np.ndarray:
    """Per-row bandwidth of UMAP's ``smooth_knn_dist`` for transform (local_connectivity 0).

    Same binary search as UMAP (the first neighbour is left out of the sum, as there), but
    the floor on sigma uses the row's own mean distance instead of the batch's, so a row's
    answer does not depend on the others.
    """
    d = dists[:, 1:].astype(np.float64)
    target = np.log2(n_neighbors)
    lo = np.zeros(len(d))
    hi = np.full(len(d), np.inf)
    mid = np.ones(len(d))
    active = np.ones(len(d), dtype=bool)
    for _ in range(n_iter):
        if not active.any():
            break
        with np.errstate(over="ignore"):
            psum = np.where(d > 0, np.exp(-d / mid[:, None]), 1.0).sum(1)
        active &= np.abs(psum - target) >= 1e-5
        down = active & (psum > target)
        up = active & ~(psum > target)
        hi = np.where(down, mid, hi)
        lo = np.where(up, mid, lo)
        mid = np.where(down | (up & np.isfinite(hi)), (lo + hi) / 2,
                       np.where(up, mid * 2, mid))
    floor = 1e-3 * dists.astype(np.float64).mean(1)
    return np.maximum(mid, floor)


def membership_weights(dists: np.ndarray, n_neighbors: int) -> np.ndarray:
    """UMAP's fuzzy-set membership of each neighbour, as ``UMAP.transform`` computes it."""
    sigma = _smooth_knn_sigma(dists, n_neighbors)[:, None]
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        w = np.exp(-dists / sigma)
    w[(dists <= 0) | (sigma == 0)] = 1.0
    return w.astype(np.float32)


@numba.njit(cache=True, nogil=True)
def _optimise_points(emb, ref, nbr, eps, seeds, a, b, n_epochs, neg_rate, alpha0, gamma):
    """UMAP's SGD for each new point against the fixed reference layout, point by point."""
    m, k = nbr.shape
    dim = emb.shape[1]
    n_ref = ref.shape[0]
    for p in range(m):
        np.random.seed(seeds[p])
        cur = emb[p]
        next_s = eps[p].copy()
        eps_neg = eps[p] / neg_rate
        next_neg = eps_neg.copy()
        for n in range(n_epochs):
            alpha = alpha0 * (1.0 - n / n_epochs)
            for j in range(k):
                if eps[p, j] <= 0.0 or next_s[j] > n:
                    continue
                other = ref[nbr[p, j]]
                d2 = 0.0
                for d in range(dim):
                    d2 += (cur[d] - other[d]) ** 2
                coeff = 0.0
                if d2 > 0.0:
                    coeff = -2.0 * a * b * d2 ** (b - 1.0) / (a * d2 ** b + 1.0)
                for d in range(dim):
                    g = min(4.0, max(-4.0, coeff * (cur[d] - other[d])))
                    cur[d] += g * alpha
                next_s[j] += eps[p, j]
                n_neg = int((n - next_neg[j]) / eps_neg[j])
                for _ in range(n_neg):
                    other = ref[np.random.randint(n_ref)]
                    d2 = 0.0
                    for d in range(dim):
                        d2 += (cur[d] - other[d]) ** 2
                    if d2 <= 0.0:
                        continue
                    coeff = 2.0 * gamma * b / ((0.001 + d2) * (a * d2 ** b + 1.0))
                    for d in range(dim):
                        cur[d] += min(4.0, max(-4.0, coeff * (cur[d] - other[d]))) * alpha
                next_neg[j] += n_neg * eps_neg[j]
    return emb


class MapProjector(TransformerMixin, BaseEstimator):
    """UMAP layout of a corpus (cosine), with batch-independent placement of new clips.

    Parameters
    ----------
    n_components : dimensions of the layout (2 for the map; the audience clusterer uses
        the same machinery with ~10).
    n_neighbors : UMAP neighbourhood size, also the neighbours a new point is placed from.
    min_dist : UMAP's minimum distance between laid-out points.
    max_fit_points : UMAP is fitted on at most this many points (a seeded random sample);
        the rest are placed like new points. On 2 cores a fit takes ~15-30 s for 4k
        points and ~2 min for 20k; placing runs at ~1 ms per point.
    transform_epochs : SGD epochs used to place each new point (0 = weighted mean only).
    random_state : seed for UMAP, the subsample and the placement.

    Learned: ``embedding_`` (n, n_components) coordinates of the fitted corpus,
    ``extent_`` (2, n_components) min and max corner of the layout, ``fit_indices_``
    (rows of the corpus UMAP was fitted on), ``ref_data_``/``ref_embedding_`` (those rows,
    unit-normalised, and their coordinates), ``a_``/``b_`` (UMAP's curve parameters),
    ``n_features_in_``.
    """

    def __init__(self, n_components: int = 2, n_neighbors: int = 15, min_dist: float = 0.1,
                 max_fit_points: int = 20000, transform_epochs: int = 100,
                 random_state: int = 42) -> None:
        self.n_components = n_components
        self.n_neighbors = n_neighbors
        self.min_dist = min_dist
        self.max_fit_points = max_fit_points
        self.transform_epochs = transform_epochs
        self.random_state = random_state

    def _validate(self) -> None:
        _check_int("n_components", self.n_components, 1)
        _check_int("n_neighbors", self.n_neighbors, 2)
        _check_float("min_dist", self.min_dist, 0.0, 10.0)
        _check_int("max_fit_points", self.max_fit_points, _MIN_POINTS)
        _check_int("transform_epochs", self.transform_epochs, 0)
        _check_int("random_state", self.random_state, 0)

    def fit(self, X: Any, y: Any = None) -> MapProjector:  # noqa: ARG002 (sklearn API)
        """Lay out the corpus ``X`` (n, d); returns ``self``."""
        self._validate()
        X = _unit_rows(X)
        n = X.shape[0]
        if n < _MIN_POINTS:
            raise ConfigError(f"a map needs at least {_MIN_POINTS} clips, got {n}")
        if n > self.max_fit_points:
            rng = np.random.default_rng(self.random_state)
            fit_idx = np.sort(rng.choice(n, self.max_fit_points, replace=False))
        else:
            fit_idx = np.arange(n)
        ref = X[fit_idx]
        k = min(self.n_neighbors, len(fit_idx) - 1)

        import umap

        # exact neighbours by one matrix product: faster here than UMAP's own search
        # (no per-process JIT of NN-descent) and the same graph new points are placed with
        knn = exact_knn(ref, ref, k)
        model = umap.UMAP(n_components=self.n_components, n_neighbors=k,
                          min_dist=self.min_dist, metric="cosine",
                          random_state=self.random_state, precomputed_knn=(*knn, None),
                          init="spectral" if len(fit_idx) > self.n_components + 2 else "random")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ref_emb = model.fit_transform(ref).astype(np.float32)

        self.n_features_in_ = X.shape[1]
        self.fit_indices_ = fit_idx
        self.ref_data_ = ref
        self.ref_embedding_ = np.ascontiguousarray(ref_emb)
        self.a_, self.b_ = float(model._a), float(model._b)
        self.n_neighbors_ = k
        embedding = np.empty((n, self.n_components), dtype=np.float32)
        embedding[fit_idx] = ref_emb
        rest = np.setdiff1d(np.arange(n), fit_idx)
        if len(rest):
            embedding[rest] = self._place(X[rest])
        self.embedding_ = embedding
        self.extent_ = np.stack([embedding.min(0), embedding.max(0)]).astype(np.float32)
        return self

    def fit_transform(self, X: Any, y: Any = None) -> np.ndarray:
        """Fit and return ``embedding_``."""
        return self.fit(X, y).embedding_

    def _check_fitted(self) -> None:
        if not hasattr(self, "embedding_"):
            raise ConfigError("this map is not fitted yet: call fit() with the corpus first")

    @property
    def scale_(self) -> float:
        """Largest side of the layout's bounding box (the unit of placement tolerances)."""
        self._check_fitted()
        return float(np.max(self.extent_[1] - self.extent_[0]))

    def _check_X(self, X: Any) -> np.ndarray:
        self._check_fitted()
        X = _unit_rows(X)
        if X.shape[1] != self.n_features_in_:
            raise ConfigError(f"X has {X.shape[1]} dims, but the map was fitted on "
                              f"{self.n_features_in_}-d vectors; encode with the same setup")
        return X

    def kneighbors(self, X: Any) -> Neighbours:
        """The ``n_neighbors_`` nearest fitted points of each row of ``X`` (exact cosine,
        row by row) and their UMAP membership weights: what a placement starts from.

        Give the result to :meth:`transform` (of this projector, or of another one fitted
        on the same points, see :meth:`same_reference`) to place ``X`` without searching
        again.
        """
        X = self._check_X(X)
        idx, dist = exact_knn(X, self.ref_data_, self.n_neighbors_)
        return Neighbours(idx, dist, membership_weights(dist, self.n_neighbors_))

    def same_reference(self, other: Any) -> bool:
        """True when ``other`` is a fitted MapProjector with the same fitted points (to
        float rounding: 1e-6 per coordinate of the unit rows) and neighbourhood size, so
        :meth:`kneighbors` of one serves both."""
        if other is self:
            return True
        if not isinstance(other, MapProjector) or not hasattr(other, "ref_data_"):
            return False
        self._check_fitted()
        return (other.n_neighbors_ == self.n_neighbors_
                and other.ref_data_.shape == self.ref_data_.shape
                and (other.ref_data_ is self.ref_data_
                     or bool(np.allclose(other.ref_data_, self.ref_data_, rtol=0.0,
                                         atol=1e-6))))

    def transform(self, X: Any, *, neighbours: Neighbours | None = None) -> np.ndarray:
        """Coordinates of new points ``X`` on the fitted layout, each placed on its own.

        ``neighbours``: the rows' :meth:`kneighbors`, if already found (by this projector
        or one with the :meth:`same_reference`); the result is the same.
        """
        X = self._check_X(X)
        if neighbours is None:
            idx, dist = exact_knn(X, self.ref_data_, self.n_neighbors_)
            neighbours = Neighbours(idx, dist, membership_weights(dist, self.n_neighbors_))
        elif len(neighbours.idx) != len(X) or neighbours.idx.shape[1] != self.n_neighbors_:
            raise ConfigError(f"neighbours of {neighbours.idx.shape} do not belong to these "
                              f"{len(X)} points and this map's {self.n_neighbors_} neighbours")
        return self._place_from(neighbours)

    def _place(self, X: np.ndarray) -> np.ndarray:
        idx, dist = exact_knn(X, self.ref_data_, self.n_neighbors_)
        return self._place_from(Neighbours(idx, dist,
                                           membership_weights(dist, self.n_neighbors_)))

    def _place_from(self, nb: Neighbours) -> np.ndarray:
        idx, dist, w = nb.idx, nb.dist, nb.weights
        ref_emb = self.ref_embedding_
        wn = w / w.sum(1, keepdims=True)
        init = np.einsum("mk,mkd->md", wn, ref_emb[idx]).astype(np.float32)
        exact = dist[:, 0] <= 1e-6  # a clip identical to a fitted one sits on it
        init[exact] = ref_emb[idx[exact, 0]]
        if self.transform_epochs == 0:
            return init
        # UMAP's sampling schedule, normalised per point; weak edges are never sampled
        n_epochs = int(self.transform_epochs)
        wmax = w.max(1, keepdims=True)
        eps = np.where(w >= wmax / n_epochs, wmax / np.maximum(w, 1e-12), -1.0)
        seeds = ((self.random_state * 1_000_003 + idx[:, 0]) % (2**31 - 1)).astype(np.int64)
        out = _optimise_points(init.copy(), ref_emb, idx, eps.astype(np.float64), seeds,
                               self.a_, self.b_, n_epochs, 5.0, 0.25, 1.0)
        out[exact] = ref_emb[idx[exact, 0]]
        return out

    # persistence --------------------------------------------------------------------
    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the fitted projector to ``path`` atomically (temp file, fsync, rename)."""
        self._check_fitted()
        import joblib

        from interestmap._io import atomic_writer

        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_writer(path) as fh:
            joblib.dump({"format": _FORMAT, "projector": self}, fh)
        return path

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> MapProjector:
        """Read a projector written by :meth:`save` (a pickle: load only your own files)."""
        import joblib

        path = Path(path)
        if not path.is_file():
            raise IndexError_(f"no saved map at {path}: build the map first")
        try:
            blob = joblib.load(path)
        except Exception as exc:  # noqa: BLE001 - any unreadable file is the same user error
            raise IndexError_(f"the saved map at {path} cannot be read ({exc}); "
                              "rebuild the map") from None
        if not isinstance(blob, dict) or blob.get("format") != _FORMAT \
                or not isinstance(blob.get("projector"), cls):
            raise IndexError_(f"{path} is not a saved interestmap map (or is from another "
                              "version); rebuild the map")
        return blob["projector"]
