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

from interestmap.errors import ConfigError, IndexError_
from interestmap.learn.validation import check_fitted, check_float, check_int, unit_rows

_FORMAT = "interestmap.MapProjector/1"
MIN_MAP_CLIPS = 5  # the fewest points a map is drawn from
_MIN_POINTS = MIN_MAP_CLIPS
_KNN_CHUNK = 2048


def exact_knn(X: np.ndarray, ref: np.ndarray, k: int,
              metric: str = "cosine") -> tuple[np.ndarray, np.ndarray]:
    """Indices and distances of each row's ``k`` nearest rows of ``ref``.

    ``metric="cosine"`` expects unit rows (one matrix product); any other name is one
    :func:`sklearn.metrics.pairwise_distances` knows. Exact and computed row by row in
    chunks, so a row's answer does not depend on which other rows are in the batch. Ties
    are broken by the lower index.
    """
    from sklearn.metrics import pairwise_distances

    k = min(k, ref.shape[0])
    idx = np.empty((X.shape[0], k), dtype=np.int64)
    dist = np.empty((X.shape[0], k), dtype=np.float32)
    for s in range(0, X.shape[0], _KNN_CHUNK):
        if metric == "cosine":
            d = 1.0 - X[s:s + _KNN_CHUNK] @ ref.T
        else:
            d = pairwise_distances(X[s:s + _KNN_CHUNK], ref, metric=metric).astype(np.float32)
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


_UMAP_OWN = ("n_components", "n_neighbors", "min_dist", "metric", "random_state")
"""UMAP settings a :class:`MapProjector` takes from ``umap_model`` instead of its own."""
_PAIRWISE_METRICS = ("cosine", "euclidean", "l2", "manhattan", "l1", "cityblock",
                     "chebyshev", "correlation", "canberra", "braycurtis")
"""Metrics a projector can place new points with (exact neighbours, both in UMAP)."""


class MapProjector(TransformerMixin, BaseEstimator):
    """UMAP layout of a corpus (cosine), with batch-independent placement of new clips.

    Parameters
    ----------
    n_components : dimensions of the layout (2 for the map; the audience clusterer uses
        the same machinery with ~10).
    n_neighbors : UMAP neighbourhood size, also the neighbours a new point is placed from.
    min_dist : UMAP's minimum distance between laid-out points.
    metric : distance between clips, for the layout and for placing new points:
        "cosine" (default) or another metric both UMAP and scikit-learn's
        ``pairwise_distances`` know ("euclidean", "manhattan", "correlation", ...).
    max_fit_points : UMAP is fitted on at most this many points (a seeded random sample);
        the rest are placed like new points. On 2 cores a fit takes ~15-30 s for 4k
        points and ~2 min for 20k; placing runs at ~1 ms per point.
    transform_epochs : SGD epochs used to place each new point (0 = weighted mean only).
    random_state : seed for UMAP, the subsample and the placement.
    umap_model : an unfitted ``umap.UMAP`` to lay the corpus out with, as BERTopic's
        ``umap_model=``: its ``n_components``, ``n_neighbors``, ``min_dist``, ``metric``
        and ``random_state`` replace the parameters above (its ``random_state=None``
        keeps ``random_state`` for the subsample and the placement), and its other
        settings (``n_epochs``, ``spread``, ``learning_rate``, ...) are used as they are.
        The neighbour graph stays exact, and new clips are still placed one by one.
        It is never fitted itself.

    Learned: ``embedding_`` (n, n_components) coordinates of the fitted corpus,
    ``extent_`` (2, n_components) min and max corner of the layout, ``fit_indices_``
    (rows of the corpus UMAP was fitted on), ``ref_data_``/``ref_embedding_`` (those rows,
    unit-normalised, and their coordinates), ``a_``/``b_`` (UMAP's curve parameters),
    ``n_neighbors_``/``n_components_``/``metric_``/``random_state_`` (the settings used),
    ``umap_params_`` (every UMAP setting used), ``n_features_in_``.
    """

    def __init__(self, n_components: int = 2, n_neighbors: int = 15, min_dist: float = 0.1,
                 metric: str = "cosine", max_fit_points: int = 20000,
                 transform_epochs: int = 100, random_state: int = 42,
                 umap_model: Any = None) -> None:
        self.n_components = n_components
        self.n_neighbors = n_neighbors
        self.min_dist = min_dist
        self.metric = metric
        self.max_fit_points = max_fit_points
        self.transform_epochs = transform_epochs
        self.random_state = random_state
        self.umap_model = umap_model

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float32"]  # coordinates are float32
        return tags

    def __setstate__(self, state: dict[str, Any]) -> None:
        # projectors pickled before ``metric``/``umap_model`` existed load as cosine ones
        state.setdefault("metric", "cosine")
        state.setdefault("umap_model", None)
        if "embedding_" in state:
            state.setdefault("metric_", "cosine")
            state.setdefault("random_state_", state.get("random_state", 42))
        super().__setstate__(state)

    def _settings(self) -> dict[str, Any]:
        """The UMAP settings to fit with, checked: our parameters or ``umap_model``'s."""
        check_int("max_fit_points", self.max_fit_points, _MIN_POINTS)
        check_int("transform_epochs", self.transform_epochs, 0)
        check_int("random_state", self.random_state, 0)
        own = {"n_components": self.n_components, "n_neighbors": self.n_neighbors,
               "min_dist": self.min_dist, "metric": self.metric,
               "random_state": self.random_state}
        if self.umap_model is None:
            params = dict(own)
        else:
            import umap

            if not isinstance(self.umap_model, umap.UMAP):
                raise ConfigError("umap_model must be an unfitted umap.UMAP (or None), got "
                                  f"{type(self.umap_model).__name__}")
            params = self.umap_model.get_params(deep=False)
            if params.get("random_state") is None:
                params["random_state"] = self.random_state
        check_int("n_components", params["n_components"], 1)
        check_int("n_neighbors", params["n_neighbors"], 2)
        check_float("min_dist", params["min_dist"], 0.0, 10.0)
        if params["metric"] not in _PAIRWISE_METRICS:
            raise ConfigError(f"metric must be one of {list(_PAIRWISE_METRICS)}, "
                              f"got {params['metric']!r}")
        if self.umap_model is not None:
            rs = params["random_state"]
            if not isinstance(rs, int | np.integer) or rs < 0:
                raise ConfigError("umap_model's random_state must be an integer >= 0 or "
                                  f"None, got {rs!r}")
        return params

    def fit(self, X: Any, y: Any = None) -> MapProjector:  # noqa: ARG002 (sklearn API)
        """Lay out the corpus ``X`` (n, d); returns ``self``."""
        params = self._settings()
        X = unit_rows(self, X, reset=True)
        n = X.shape[0]
        if n < _MIN_POINTS:
            raise ConfigError(f"a map needs at least {_MIN_POINTS} clips, got n_samples={n}")
        seed = int(params["random_state"])
        if n > self.max_fit_points:
            rng = np.random.default_rng(seed)
            fit_idx = np.sort(rng.choice(n, self.max_fit_points, replace=False))
        else:
            fit_idx = np.arange(n)
        ref = X[fit_idx]
        k = min(int(params["n_neighbors"]), len(fit_idx) - 1)
        dims = int(params["n_components"])

        import umap

        # exact neighbours by one matrix product: faster here than UMAP's own search
        # (no per-process JIT of NN-descent) and the same graph new points are placed with
        knn = exact_knn(ref, ref, k, params["metric"])
        init = params.get("init", "spectral")
        if isinstance(init, str) and init == "spectral" and len(fit_idx) <= dims + 2:
            init = "random"
        params.update(n_neighbors=k, precomputed_knn=(*knn, None), init=init)
        model = umap.UMAP(**params)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ref_emb = model.fit_transform(ref).astype(np.float32)

        self.umap_params_ = {key: v for key, v in params.items() if key != "precomputed_knn"}
        self.n_components_, self.metric_, self.random_state_ = dims, params["metric"], seed
        self.fit_indices_ = fit_idx
        self.ref_data_ = ref
        self.ref_embedding_ = np.ascontiguousarray(ref_emb)
        self.a_, self.b_ = float(model._a), float(model._b)
        self.n_neighbors_ = k
        embedding = np.empty((n, dims), dtype=np.float32)
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
        check_fitted(self, "embedding_", hint="call fit() with the corpus first")

    @property
    def scale_(self) -> float:
        """Largest side of the layout's bounding box (the unit of placement tolerances)."""
        self._check_fitted()
        return float(np.max(self.extent_[1] - self.extent_[0]))

    def _check_X(self, X: Any) -> np.ndarray:
        self._check_fitted()
        return unit_rows(self, X, reset=False)

    def kneighbors(self, X: Any) -> Neighbours:
        """The ``n_neighbors_`` nearest fitted points of each row of ``X`` (exact, row by
        row, in the map's metric) and their UMAP membership weights: what a placement
        starts from.

        Give the result to :meth:`transform` (of this projector, or of another one fitted
        on the same points, see :meth:`same_reference`) to place ``X`` without searching
        again.
        """
        return self._neighbours(self._check_X(X))

    def _neighbours(self, X: np.ndarray) -> Neighbours:
        idx, dist = exact_knn(X, self.ref_data_, self.n_neighbors_, self.metric_)
        return Neighbours(idx, dist, membership_weights(dist, self.n_neighbors_))

    def same_reference(self, other: Any) -> bool:
        """True when ``other`` is a fitted MapProjector with the same fitted points (to
        float rounding: 1e-6 per coordinate of the unit rows), neighbourhood size and
        metric, so :meth:`kneighbors` of one serves both."""
        if other is self:
            return True
        if not isinstance(other, MapProjector) or not hasattr(other, "ref_data_"):
            return False
        self._check_fitted()
        return (other.n_neighbors_ == self.n_neighbors_
                and getattr(other, "metric_", "cosine") == self.metric_
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
            neighbours = self._neighbours(X)
        elif len(neighbours.idx) != len(X) or neighbours.idx.shape[1] != self.n_neighbors_:
            raise ConfigError(f"neighbours of {neighbours.idx.shape} do not belong to these "
                              f"{len(X)} points and this map's {self.n_neighbors_} neighbours")
        return self._place_from(neighbours)

    def _place(self, X: np.ndarray) -> np.ndarray:
        return self._place_from(self._neighbours(X))

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
        seeds = ((self.random_state_ * 1_000_003 + idx[:, 0]) % (2**31 - 1)).astype(np.int64)
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


def as_map_projector(model: Any = None, *, random_state: int = 0) -> MapProjector:
    """An unfitted 2-D :class:`MapProjector` from what ``build_index(map_model=...)``
    takes: None (the default map), an unfitted ``umap.UMAP`` (its settings are used, see
    ``umap_model``) or a :class:`MapProjector` (copied with ``clone``)."""
    from sklearn.base import clone

    if model is None:
        return MapProjector(random_state=random_state)
    if isinstance(model, MapProjector):
        out = clone(model)
    else:
        import umap

        if not isinstance(model, umap.UMAP):
            raise ConfigError("map_model must be an unfitted umap.UMAP(...) or an interestmap "
                              f"MapProjector(...), got {type(model).__name__}")
        out = MapProjector(umap_model=clone(model), random_state=random_state)
    dims = getattr(out.umap_model if out.umap_model is not None else out, "n_components", 2)
    if dims != 2:
        raise ConfigError(f"map_model must lay the map out in 2 dimensions, got "
                          f"n_components={dims!r}")
    return out
