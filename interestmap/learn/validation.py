"""Checks shared by the estimators: fitted state, parameters, and input matrices.

Every check raises an :mod:`interestmap.errors` error with a one-line message, so the
command line prints one line; the errors also subclass the exceptions scikit-learn
expects (``ValueError``, :class:`sklearn.exceptions.NotFittedError`), so the estimators
behave as scikit-learn estimators do in ``Pipeline``, ``GridSearchCV`` and
``check_estimator``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.exceptions import NotFittedError as SklearnNotFittedError
from sklearn.utils.validation import check_is_fitted, validate_data

from interestmap.encoders.base import l2_normalize
from interestmap.errors import ConfigError, InterestmapError


class NotFittedError(InterestmapError, SklearnNotFittedError):
    """An estimator is used before ``fit``: one line for the CLI, and scikit-learn's
    :class:`~sklearn.exceptions.NotFittedError` for code that catches that."""


def check_fitted(estimator: Any, attributes: str | list[str] | None = None, *,
                 hint: str = "call fit() first") -> None:
    """Raise :class:`NotFittedError` unless ``estimator`` is fitted (``check_is_fitted``)."""
    try:
        check_is_fitted(estimator, attributes)
    except SklearnNotFittedError:
        raise NotFittedError(f"this {type(estimator).__name__} is not fitted yet: "
                             f"{hint}") from None


def check_int(name: str, value: Any, low: int) -> int:
    """``value`` as an int, or a :class:`ConfigError` naming the parameter."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < low:
        raise ConfigError(f"{name} must be an integer >= {low}, got {value!r}")
    return int(value)


def check_float(name: str, value: Any, low: float, high: float) -> float:
    """``value`` as a float in ``[low, high]``, or a :class:`ConfigError` naming it."""
    if isinstance(value, bool) or not isinstance(value, int | float | np.number) \
            or not low <= float(value) <= high:
        raise ConfigError(f"{name} must be a number in [{low}, {high}], got {value!r}")
    return float(value)


def check_choice(name: str, value: Any, choices: tuple[str, ...]) -> str:
    """``value`` if it is one of ``choices``, or a :class:`ConfigError` listing them."""
    if not isinstance(value, str) or value not in choices:
        raise ConfigError(f"{name} must be one of {list(choices)}, got {value!r}")
    return value


def unit_rows(estimator: Any, X: Any, *, reset: bool) -> np.ndarray:
    """``X`` checked by scikit-learn's ``validate_data`` and scaled to unit rows (float32).

    ``reset=True`` (in ``fit``) records ``n_features_in_``; ``reset=False`` (when
    predicting) refuses another number of features; a single vector must be a row,
    ``(1, d)``. All-zero rows stay zero. Errors are one-line :class:`ConfigError`\\ s.
    """
    try:
        arr = validate_data(estimator, X, reset=reset, dtype=np.float32)
    except InterestmapError:
        raise
    except ValueError as exc:
        lines = str(exc).strip().splitlines()
        hint = [line for line in lines[1:] if line.startswith("Reshape your data")]
        raise ConfigError(" ".join(lines[:1] + hint)) from None
    return np.ascontiguousarray(l2_normalize(arr), dtype=np.float32)
