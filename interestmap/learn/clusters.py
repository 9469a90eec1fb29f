"""Audiences: HDBSCAN clusters of a corpus, soft membership, and an explicit outlier policy.

HDBSCAN alone leaves most short posts as noise (58-67 % on X-Topic tweets). A creator
asking "which audience does this clip reach?" needs an answer for most clips, so noise
points are assigned to the nearest audience centre when they are close enough to it
(``outliers="assign"``), and only the truly unrelated ones abstain (label -1).
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClusterMixin

from interestmap.encoders.base import l2_normalize
from interestmap.errors import ConfigError
from interestmap.learn.projection import MapProjector, Neighbours
from interestmap.learn.validation import (
    check_choice,
    check_fitted,
    check_float,
    check_int,
    unit_rows,
)

REDUCTIONS = ("umap", "pca", "none")
OUTLIER_POLICIES = ("assign", "keep")
SELECTION_METHODS = ("auto", "eom", "leaf")
AUTO_MIN_SILHOUETTE = 0.2
"""``"auto"`` keeps excess-of-mass audiences when their mean silhouette (cosine, input
space) reaches this; below it they are not separated enough and the leaves are used."""
_SILHOUETTE_SAMPLE = 2000
_SELECTION_PARAMS = ("min_cluster_size", "cluster_selection_method", "allow_single_cluster",
                     "match_reference_implementation", "cluster_selection_epsilon",
                     "cluster_selection_persistence", "max_cluster_size",
                     "cluster_selection_epsilon_max")
"""HDBSCAN parameters that choose clusters from the tree (the rest shape the tree)."""
_MIN_POINTS = 10


def auto_min_cluster_size(n: int) -> int:
    """Default smallest audience for a corpus of ``n`` clips: ``sqrt(n) / 3``, 5 to 250.

    About 20 at 4k clips, 47 at 20k, 105 at 100k: audiences grow with the corpus, so a
    big corpus is not cut into hundreds of crumbs, and a small one still finds some.
    """
    return int(min(250, max(5, round(math.sqrt(max(n, 1)) / 3))))


def auto_min_samples(min_cluster_size: int) -> int:
    """Default HDBSCAN ``min_samples``: a quarter of the smallest audience, at least 3.

    Smaller than ``min_cluster_size`` (HDBSCAN's default) so fewer posts are called noise.
    """
    return max(3, min_cluster_size // 4)


class AudienceClusterer(ClusterMixin, BaseEstimator):
    """Find audiences in a corpus of fused clip vectors (unit rows of any dimension).

    Pipeline: reduction (``umap`` by default) -> HDBSCAN -> outlier policy.

    Why UMAP(10, cosine) + HDBSCAN, measured on X-Topic (4,000 real tweets,
    en/es/gr/ja, multilingual USE vectors, default parameters; ``benchmarks/clustering.py``).
    NMI against each tweet's most specific topic, on HDBSCAN's points / after the policy;
    purity is multi-label (0.535 for one audience holding everything):

    ===========  ==  ==============  ===========  ======  ==============
    reduction    k   noise -> after  NMI          purity  fit (2 cores*)
    ===========  ==  ==============  ===========  ======  ==============
    none         3   71 % -> 41 %    0.05 / 0.10  0.67    67 s
    PCA(10)      2   0 % -> 0 %      0.02 / 0.02  0.54    3 s
    PCA(50)      4   72 % -> 48 %    0.12 / 0.18  0.64    3 s
    UMAP(5)      33  58 % -> 10 %    0.31 / 0.23  0.71    95 s (+JIT)
    UMAP(10)     33  60 % -> 10 %    0.33 / 0.23  0.72    36 s
    UMAP(15)     31  58 % -> 10 %    0.34 / 0.23  0.72    24 s
    ===========  ==  ==============  ===========  ======  ==============

    (*on a shared, heavily loaded machine; that table used ``leaf`` selection.) Without
    UMAP, HDBSCAN finds only language blobs (USE does not cover Greek) or nothing; 10 and
    15 dimensions tie, 10 is cheaper. The policy at ``min_confidence=0.6`` assigns 83 % of
    HDBSCAN's noise, at purity 0.67 for the assigned points (core members: 0.78).

    Which clusters of HDBSCAN's tree become audiences (``cluster_selection_method``):
    ``leaf`` takes every leaf of the tree, so the number of audiences follows
    ``min_cluster_size``, not the data: 600 photos of 6 scene classes became 20-26
    audiences (NMI 0.55-0.58; k-means told k=6: 0.71-0.73). Excess of mass (``eom``)
    takes the most stable clusters instead, capped so that no audience holds more than
    ``max_cluster_share`` of the corpus (HDBSCAN's ``max_cluster_size``; plain ``eom``
    collapses tweets into 2 language blobs, NMI 0.02, the "one or two large clusters"
    failure HDBSCAN's docs describe). But on the product's multilingual corpus even
    capped ``eom`` merges topics (13-16 audiences instead of ~30, NMI 0.26 -> 0.20). So
    the default, ``auto``, asks the data: it keeps the ``eom`` audiences when they are
    separated in the input space (mean cosine silhouette, on at most 2,000 clustered
    points, >= ``AUTO_MIN_SILHOUETTE`` = 0.2), and takes the leaves otherwise. Chosen on
    data not used before (photos 101-200 of each scene class, half of ESC-50:
    ``benchmarks/media_topics.py --half dev``; the tests' index-build corpus), NMI after
    the policy (audiences), 2 seeds:

    ==================================================  ==========  ==========  ==========  ==========
    corpus (features)                                   leaf        capped eom  silhouette  auto
    ==================================================  ==========  ==========  ==========  ==========
    600 scene photos, 6 classes (EfficientNet)          0.57 (25)   0.74 (4)    0.25        0.74 eom
    the same, ImageNet-label bridge (default text enc.) 0.44 (34)   0.51 (19)   0.38-0.39   0.51 eom
    207 ESC-50 clips, 50 classes (aiSFX)                0.63 (14)   0.59 (11)   0.13-0.15   0.63 leaf
    1,624 clips: 4 x 400 tweets + media, text view      0.26 (31)   0.20 (15)   0.05        0.26 leaf
    4,000 X-Topic tweets (USE-m3)                       0.215 (31)  0.220 (20)  0.24-0.27   0.220 eom
    ==================================================  ==========  ==========  ==========  ==========

    (the 1,624 clips are ``tests/conftest.py``'s ``big_build`` corpus, clustered as an
    index build does: the text view of the fused vectors, default encoders.) The
    threshold sits in the gap between the corpora where leaves win (<= 0.15) and those
    where eom wins (>= 0.24); Kaufman & Rousseeuw read a silhouette under 0.25 as "no
    substantial structure". On ESC-50 (4-8 clips per class) the audiences are limited by
    ``min_cluster_size`` (5-7 at these sizes) more than by the selection: a class smaller
    than the smallest audience cannot be one. Index builds cluster the fused vectors'
    text view (caption, on-screen text, speech and visual semantics, see
    ``Fuser.text_view``), so EfficientNet and aiSFX features do not enter audiences there.

    Parameters
    ----------
    reduction : "umap", "pca" or "none".
    n_components : dimensions after reduction (umap/pca).
    n_neighbors : UMAP neighbourhood size.
    min_cluster_size : smallest audience; ``None`` scales it with the corpus
        (:func:`auto_min_cluster_size`).
    min_samples : HDBSCAN ``min_samples``; ``None`` = :func:`auto_min_samples`.
    cluster_selection_method : "auto" (default: "eom" when its audiences are separated,
        else "leaf", see above), "eom" (the most stable clusters, capped by
        ``max_cluster_share``) or "leaf" (every leaf of the tree: finer, and the number of
        audiences follows ``min_cluster_size``; the default before 2026-12-03).
    max_cluster_share : with "eom" and "auto", the largest share of the corpus one audience may
        hold, in (0, 1] (1: no cap); HDBSCAN's ``max_cluster_size`` is this times the
        number of clips (at least ``min_cluster_size``).
    outliers : "assign" — a noise point joins the audience whose centre (cosine, in the
        input space) is nearest, if its confidence is at least ``min_confidence``;
        otherwise it stays -1. "keep" — HDBSCAN's noise stays -1.
    min_confidence : threshold for assignment, in [0, 1]. Confidence is the point's
        cosine to the audience centre divided by the median cosine of the audience's
        own members (clipped to 1): 0.6 means "at least 60 % as close as a typical
        member". 0.6 leaves ~6-10 % outliers on short posts.
    n_exemplars : how many most central members each audience lists in ``exemplars_``.
    max_fit_points : UMAP is fitted on at most this many points; the rest are placed.
    random_state : seed; the same input gives the same audiences.
    hdbscan_model : an unfitted ``hdbscan.HDBSCAN`` to find the audiences with, as
        BERTopic's ``hdbscan_model=``: its ``min_cluster_size``, ``min_samples`` (``None``:
        HDBSCAN's own default, ``min_cluster_size``) and ``cluster_selection_method``
        replace the three parameters above, and its other settings (``metric``,
        ``cluster_selection_epsilon``, ``alpha``, ...) are used as they are. The reduction,
        the soft membership and the outlier policy are still this class's. It is never
        fitted itself.

    Learned attributes
    ------------------
    labels_ (n,) audience per point after the outlier policy (-1 = none);
    raw_labels_ (n,) HDBSCAN's labels; probabilities_ (n,) confidence of the label
    (0 for -1); membership_ (n, k) HDBSCAN soft membership (computed on first
    access); centroids_ (k, d) unit
    audience centres; typical_cosine_ (k,) median member cosine to the centre;
    exemplars_ list of k index arrays, most central first; sizes_ (k,) points per
    audience after the policy; n_audiences_; outlier_share_; raw_outlier_share_;
    min_cluster_size_; min_samples_; hdbscan_params_ (every HDBSCAN setting used);
    selection_method_ ("eom" or "leaf": what "auto" chose); selection_silhouette_ (the
    eom audiences' silhouette "auto" decided on; None otherwise);
    reducer_ (MapProjector, PCA or None); hdbscan_ (the fitted ``hdbscan.HDBSCAN``).
    """

    def __init__(self, reduction: str = "umap", n_components: int = 10,
                 n_neighbors: int = 15, min_cluster_size: int | None = None,
                 min_samples: int | None = None, cluster_selection_method: str = "auto",
                 max_cluster_share: float = 0.5,
                 outliers: str = "assign", min_confidence: float = 0.6,
                 n_exemplars: int = 5, max_fit_points: int = 20000,
                 random_state: int = 42, hdbscan_model: Any = None) -> None:
        self.reduction = reduction
        self.n_components = n_components
        self.n_neighbors = n_neighbors
        self.min_cluster_size = min_cluster_size
        self.min_samples = min_samples
        self.cluster_selection_method = cluster_selection_method
        self.max_cluster_share = max_cluster_share
        self.outliers = outliers
        self.min_confidence = min_confidence
        self.n_exemplars = n_exemplars
        self.max_fit_points = max_fit_points
        self.random_state = random_state
        self.hdbscan_model = hdbscan_model

    def __setstate__(self, state: dict[str, Any]) -> None:
        # clusterers pickled before ``hdbscan_model`` existed load as plain ones
        state.setdefault("hdbscan_model", None)
        state.setdefault("max_cluster_share", 0.5)  # and before the eom cap (leaf: unused)
        super().__setstate__(state)

    # validation ---------------------------------------------------------------------
    def _validate(self, n: int) -> dict[str, Any]:
        """The HDBSCAN settings to use, after checking every parameter and ``n``."""
        check_choice("reduction", self.reduction, REDUCTIONS)
        check_choice("outliers", self.outliers, OUTLIER_POLICIES)
        check_int("n_components", self.n_components, 1)
        check_int("n_neighbors", self.n_neighbors, 2)
        check_float("min_confidence", self.min_confidence, 0.0, 1.0)
        if check_float("max_cluster_share", self.max_cluster_share, 0.0, 1.0) <= 0:
            raise ConfigError("max_cluster_share must be a number in (0, 1] (1: no cap), "
                              f"got {self.max_cluster_share!r}")
        check_int("n_exemplars", self.n_exemplars, 1)
        check_int("max_fit_points", self.max_fit_points, _MIN_POINTS)
        check_int("random_state", self.random_state, 0)
        if self.hdbscan_model is None:
            params: dict[str, Any] = {"min_cluster_size": self.min_cluster_size,
                                      "min_samples": self.min_samples,
                                      "cluster_selection_method": self.cluster_selection_method}
        else:
            import hdbscan

            if not isinstance(self.hdbscan_model, hdbscan.HDBSCAN):
                raise ConfigError("hdbscan_model must be an unfitted hdbscan.HDBSCAN (or None), "
                                  f"got {type(self.hdbscan_model).__name__}")
            params = self.hdbscan_model.get_params(deep=False)
            if params.get("min_samples") is None:  # HDBSCAN's own default
                params["min_samples"] = params["min_cluster_size"]
        check_choice("cluster_selection_method", params["cluster_selection_method"],
                     SELECTION_METHODS if self.hdbscan_model is None else ("leaf", "eom"))
        if n < _MIN_POINTS:
            raise ConfigError(f"finding audiences needs at least {_MIN_POINTS} clips, "
                              f"got n_samples={n}")
        mcs = params["min_cluster_size"]
        mcs = auto_min_cluster_size(n) if mcs is None else check_int("min_cluster_size", mcs, 2)
        if mcs > n // 2:
            raise ConfigError(f"min_cluster_size={mcs} is more than half of the {n} clips; "
                              "use a smaller min_cluster_size or a bigger corpus")
        ms = params["min_samples"]
        ms = auto_min_samples(mcs) if ms is None else check_int("min_samples", ms, 1)
        params.update(min_cluster_size=mcs, min_samples=ms, prediction_data=True)
        if self.hdbscan_model is None and params["cluster_selection_method"] != "leaf" \
                and self.max_cluster_share < 1:
            params["max_cluster_size"] = max(mcs, int(self.max_cluster_share * n))
        return params

    # fitting ------------------------------------------------------------------------
    def fit(self, X: Any, y: Any = None) -> AudienceClusterer:  # noqa: ARG002 (sklearn API)
        """Find audiences in ``X`` (n, d); returns ``self``."""
        X = unit_rows(self, X, reset=True)
        params = self._validate(X.shape[0])
        self.hdbscan_params_ = params
        self.min_cluster_size_ = params["min_cluster_size"]
        self.min_samples_ = params["min_samples"]
        return self._fit_reduced(X, self._fit_reduction(X))

    def _fit_reduced(self, X: np.ndarray, Z: np.ndarray) -> AudienceClusterer:
        """HDBSCAN, centres and the outlier policy on already reduced points ``Z``."""
        n = X.shape[0]
        method = self.hdbscan_params_["cluster_selection_method"]
        self.selection_silhouette_ = None
        if method == "auto":
            model = self._select(Z, "eom")
            self.selection_silhouette_ = self._silhouette(X, model.labels_)
            if self.selection_silhouette_ < AUTO_MIN_SILHOUETTE:
                model = self._select(Z, "leaf", fitted=model)
        else:
            model = self._select(Z, method)
        self.selection_method_ = str(model.cluster_selection_method)
        raw = model.labels_.astype(np.int64)
        if raw.max() < 0:
            raw = np.zeros(n, dtype=np.int64)
        self.hdbscan_ = model
        self.raw_labels_ = raw
        k = int(raw.max()) + 1
        self.n_audiences_ = k

        centroids = np.stack([X[raw == c].mean(0) for c in range(k)])
        self.centroids_ = l2_normalize(centroids)
        sims = X @ self.centroids_.T
        self.typical_cosine_ = np.array(
            [np.median(sims[raw == c, c]) for c in range(k)], dtype=np.float32)

        labels, conf = self._apply_policy(raw, sims)
        self.labels_, self.probabilities_ = labels, conf
        self._membership: np.ndarray | None = None  # see membership_
        self.exemplars_ = []
        for c in range(k):
            members = np.flatnonzero(raw == c)
            order = np.argsort(-sims[members, c], kind="stable")
            self.exemplars_.append(members[order[: self.n_exemplars]])
        self.sizes_ = np.bincount(labels[labels >= 0], minlength=k)
        self.raw_outlier_share_ = float(np.mean(raw < 0))
        self.outlier_share_ = float(np.mean(labels < 0))
        return self

    def _fit_reduction(self, X: np.ndarray) -> np.ndarray:
        n, d = X.shape
        if self.reduction == "umap":
            dims = min(self.n_components, n - 2)
            self.reducer_ = MapProjector(n_components=dims, n_neighbors=self.n_neighbors,
                                         min_dist=0.0, max_fit_points=self.max_fit_points,
                                         random_state=self.random_state)
            return self.reducer_.fit(X).embedding_
        if self.reduction == "pca":
            from sklearn.decomposition import PCA

            self.reducer_ = PCA(n_components=min(self.n_components, n, d),
                                random_state=self.random_state)
            return self.reducer_.fit_transform(X).astype(np.float32)
        self.reducer_ = None
        return X

    def _select(self, Z: np.ndarray, method: str, fitted: Any = None) -> Any:
        """HDBSCAN with ``method`` selection; one audience if nothing is dense enough.

        With ``fitted`` (an HDBSCAN already fitted on ``Z``), its cluster tree is reused:
        the tree does not depend on the selection, so only the selection runs again.
        """
        model = self._reselect(fitted, Z, method=method, allow_single=False)
        if model.labels_.max() < 0:  # nothing dense enough: the corpus is one audience
            model = self._reselect(model, Z, method=method, allow_single=True)
        return model

    def _reselect(self, fitted: Any, Z: np.ndarray, *, method: str, allow_single: bool) -> Any:
        """``fitted`` with its audiences selected again from its own tree by ``method``;
        a new HDBSCAN fit where there is none or this hdbscan version lacks the means."""
        params = self._hdbscan_settings(method=method, allow_single=allow_single)
        try:
            from hdbscan.hdbscan_ import _tree_to_labels
        except ImportError:  # pragma: no cover - hdbscan moved its internals
            fitted = None
        if fitted is None or getattr(fitted, "_single_linkage_tree", None) is None:
            return self._run_hdbscan(Z, params)
        fitted.set_params(**params)
        labels, probabilities, stabilities, condensed, _ = _tree_to_labels(
            None, fitted._single_linkage_tree,
            **{k: params[k] for k in _SELECTION_PARAMS if k in params})
        fitted.labels_, fitted.probabilities_ = labels, probabilities
        fitted.cluster_persistence_, fitted._condensed_tree = stabilities, condensed
        fitted._prediction_data = fitted._outlier_scores = fitted._relative_validity = None
        if fitted.prediction_data:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                fitted.generate_prediction_data()
        return fitted

    def _silhouette(self, X: np.ndarray, labels: np.ndarray) -> float:
        """Mean cosine silhouette of the clustered points (a sample of at most 2,000);
        -1 when there are fewer than two audiences."""
        from sklearn.metrics import silhouette_score

        ok = labels >= 0
        if len(set(labels[ok].tolist())) < 2:
            return -1.0
        sample = min(_SILHOUETTE_SAMPLE, int(ok.sum()))
        return float(silhouette_score(X[ok], labels[ok], metric="cosine",
                                      sample_size=sample, random_state=self.random_state))

    def _hdbscan_settings(self, *, method: str, allow_single: bool) -> dict[str, Any]:
        """HDBSCAN's parameters for one selection ``method`` (leaves are never capped)."""
        params = dict(self.hdbscan_params_)
        params["cluster_selection_method"] = method
        if method == "leaf":
            params["max_cluster_size"] = 0  # HDBSCAN's "no cap"
        params["allow_single_cluster"] = allow_single or params.get("allow_single_cluster",
                                                                    False)
        return params

    @staticmethod
    def _run_hdbscan(Z: np.ndarray, params: dict[str, Any]) -> Any:
        import hdbscan

        model = hdbscan.HDBSCAN(**params)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return model.fit(np.asarray(Z, dtype=np.float64))

    @property
    def membership_(self) -> np.ndarray:
        """``(n, k)`` HDBSCAN soft membership of the fitted points (rows sum to <= 1).

        Computed on first access and kept: it costs seconds for 4k points but minutes for
        large corpora (40k points, 189 audiences: ~110 s), which ``fit`` should not pay
        when only labels are needed.
        """
        check_fitted(self, "hdbscan_", hint="membership_ is learned by fit(); call fit() "
                     "with the corpus first")
        if self._membership is None:
            self._membership = self._soft_membership_all(self.hdbscan_, len(self.labels_),
                                                         self.n_audiences_)
        return self._membership

    @staticmethod
    def _soft_membership_all(model: Any, n: int, k: int) -> np.ndarray:
        import hdbscan

        if model.labels_.max() < 0:
            return np.ones((n, 1), dtype=np.float32)
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            try:
                m = hdbscan.all_points_membership_vectors(model)
            except KeyError:  # hdbscan fails on one "eom" cluster at the tree's root
                m = model.probabilities_
        return np.nan_to_num(np.asarray(m, dtype=np.float32).reshape(n, k))

    def _apply_policy(self, raw: np.ndarray, sims: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Labels and confidences after the outlier policy, from centroid cosines."""
        typical = np.maximum(self.typical_cosine_, 1e-6)
        rel = np.clip(sims / typical[None, :], 0.0, 1.0)
        nearest = np.argmax(sims, axis=1)
        labels = raw.copy()
        conf = np.zeros(len(raw), dtype=np.float32)
        have = raw >= 0
        conf[have] = rel[have, raw[have]]
        if self.outliers == "assign":
            noise = np.flatnonzero(~have)
            c = rel[noise, nearest[noise]]
            ok = c >= self.min_confidence
            labels[noise[ok]] = nearest[noise[ok]]
            conf[noise[ok]] = c[ok]
        return labels, conf

    # prediction ---------------------------------------------------------------------
    def _prepare(self, X: Any, neighbours: Neighbours | None = None
                 ) -> tuple[np.ndarray, np.ndarray]:
        check_fitted(self, "labels_", hint="call fit() with the corpus first")
        X = unit_rows(self, X, reset=False)
        if self.reduction == "none":
            Z = X
        elif self.reduction == "umap":
            Z = self.reducer_.transform(X, neighbours=neighbours)
        else:
            Z = self.reducer_.transform(X)
        return X, np.asarray(Z, dtype=np.float64)

    def predict_with_confidence(self, X: Any) -> tuple[np.ndarray, np.ndarray]:
        """Audience label (after the outlier policy) and its confidence for new points.

        Each point is handled on its own: alone or in a batch, it gets the same answer.
        """
        import hdbscan

        X, Z = self._prepare(X)
        if self.hdbscan_.labels_.max() < 0:
            raw = np.zeros(len(X), dtype=np.int64)
        else:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                raw, _ = hdbscan.approximate_predict(self.hdbscan_, Z)
            raw = np.asarray(raw, dtype=np.int64)
        return self._apply_policy(raw, X @ self.centroids_.T)

    def predict(self, X: Any) -> np.ndarray:
        """Audience label of each new point (-1 = no audience), following the policy."""
        return self.predict_with_confidence(X)[0]

    def predict_proba(self, X: Any, *, neighbours: Neighbours | None = None) -> np.ndarray:
        """``(n, n_audiences_)`` HDBSCAN soft membership of new points (rows sum to <= 1).

        ``neighbours``: the rows' nearest fitted points, when a map projector fitted on the
        same points has found them already (``reducer_.same_reference(projector)``, see
        :meth:`MapProjector.kneighbors`): the UMAP reduction then skips its own search.
        """
        import hdbscan

        X, Z = self._prepare(X, neighbours)
        k = self.n_audiences_
        if self.hdbscan_.labels_.max() < 0:
            return np.ones((len(X), 1), dtype=np.float32)
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            try:
                m = hdbscan.membership_vector(self.hdbscan_, Z)
            except KeyError:  # hdbscan fails on one "eom" cluster at the tree's root;
                # then closeness to the one audience, as the outlier policy measures it
                m = np.clip(X @ self.centroids_.T / max(self.typical_cosine_[0], 1e-6), 0, 1)
        return np.nan_to_num(np.asarray(m, dtype=np.float32).reshape(len(X), k))


def as_audience_clusterer(model: Any = None, *, min_cluster_size: int | None = None,
                          random_state: int = 0) -> AudienceClusterer:
    """An unfitted :class:`AudienceClusterer` from what ``build_index(audience_model=...)``
    takes: None (the default clusterer), an unfitted ``hdbscan.HDBSCAN`` (its settings
    are used, see ``hdbscan_model``) or an :class:`AudienceClusterer` (copied with
    ``clone``). ``min_cluster_size`` applies to the default clusterer only."""
    from sklearn.base import clone

    if model is not None and min_cluster_size is not None:
        raise ConfigError("give min_cluster_size or audience_model, not both (set "
                          "min_cluster_size on the audience_model)")
    if model is None:
        return AudienceClusterer(min_cluster_size=min_cluster_size, random_state=random_state)
    if isinstance(model, AudienceClusterer):
        return clone(model)
    import hdbscan

    if isinstance(model, hdbscan.HDBSCAN):
        return AudienceClusterer(hdbscan_model=clone(model), random_state=random_state)
    raise ConfigError("audience_model must be an unfitted hdbscan.HDBSCAN(...) or an "
                      f"interestmap AudienceClusterer(...), got {type(model).__name__}")
