"""Audiences given by labels instead of found by clustering.

The declared-topic atlas (the embedded default index) already knows its audiences: one
per declared topic. :class:`LabelAudiences` makes them with the same learned attributes
and prediction methods as :class:`~interestmap.learn.clusters.AudienceClusterer`, so the rest
of the index code does not care which made the audiences.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy.special import softmax
from sklearn.base import BaseEstimator, ClusterMixin

from interestmap.encoders.base import l2_normalize
from interestmap.errors import ConfigError
from interestmap.learn.validation import check_fitted, unit_rows


class LabelAudiences(ClusterMixin, BaseEstimator):
    """One audience per distinct label; membership from cosine to the label centres.

    Parameters
    ----------
    temperature : softmax temperature over centre cosines for ``predict_proba``
        (smaller = sharper). 0.05 turns a cosine lead of 0.1 into ~7x the probability.
    """

    def __init__(self, temperature: float = 0.05) -> None:
        self.temperature = temperature

    def fit(self, X: Any, y: Sequence[str]) -> LabelAudiences:
        """Learn one centre per label from unit rows ``X`` and their labels ``y``."""
        if isinstance(self.temperature, bool) or \
                not isinstance(self.temperature, int | float | np.number) or \
                not (np.isfinite(self.temperature) and self.temperature > 0):
            raise ConfigError(f"temperature must be a number > 0, got {self.temperature!r}")
        X = unit_rows(self, X, reset=True)
        if y is None:
            raise ConfigError("LabelAudiences requires y to be passed, but the target y is "
                              "None: give each row's label")
        if len(y) != len(X):
            raise ConfigError(f"X has {len(X)} rows but y has {len(y)} labels")
        self.audience_names_ = sorted(set(map(str, y)))
        index = {name: i for i, name in enumerate(self.audience_names_)}
        self.labels_ = np.array([index[str(v)] for v in y], dtype=np.int64)
        k = len(self.audience_names_)
        self.centroids_ = l2_normalize(np.stack([X[self.labels_ == c].mean(0)
                                                 for c in range(k)]))
        self.n_audiences_ = k
        self.membership_ = self.predict_proba(X)
        self.probabilities_ = self.membership_[np.arange(len(X)), self.labels_]
        self.sizes_ = np.bincount(self.labels_, minlength=k)
        self.outlier_share_ = self.raw_outlier_share_ = 0.0
        return self

    def fit_predict(self, X: Any, y: Sequence[str]) -> np.ndarray:  # type: ignore[override]
        """Fit and return ``labels_`` (the audience id of each labelled row)."""
        return self.fit(X, y).labels_

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.target_tags.required = True
        return tags

    def _check(self, X: Any) -> np.ndarray:
        check_fitted(self, "centroids_")
        return unit_rows(self, X, reset=False)

    def predict_proba(self, X: Any) -> np.ndarray:
        """``(n, n_audiences_)`` softmax of centre cosines (rows sum to 1)."""
        z = (self._check(X) @ self.centroids_.T) / self.temperature
        return softmax(z, axis=1).astype(np.float32)

    def predict(self, X: Any) -> np.ndarray:
        """The nearest label's audience id for each row."""
        return np.argmax(self._check(X) @ self.centroids_.T, axis=1)
