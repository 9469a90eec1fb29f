"""The context blocks of the fused vector: the clip's language and where it was posted.

Platforms use both to choose *whose* feed a clip reaches. Neither needs a model: each
block is a fixed, deterministic feature map whose cosine between two clips is a
meaningful similarity (see :mod:`interestmap.encoders.fusion`: only block cosines count).

* :class:`LanguageEncoder` -- same language 1; related languages share a little
  (family, mutual intelligibility, a non-Latin script); unrelated languages 0.
* :class:`GeoEncoder` -- cosine decays smoothly with great-circle distance: about 1 in
  the same city, 0.94 at 300 km, 0.4 at 1,500 km and ~0 between continents.

Both are as compact as their cosines allow (every clip stores them inside its fused
vector): 83 dims for 83 languages (exact), 529 for the geo kernel (within 0.026 of it
everywhere on Earth, the same in every direction).

A missing language or place encodes as a zero row: the fuser treats it as a missing
block, never as "similar to nothing".
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import numpy as np

from interestmap.clip import GeoPoint
from interestmap.encoders.base import Encoder, EncoderInfo, l2_normalize
from interestmap.errors import ConfigError
from interestmap.signals.language import language_name
from interestmap.signals.language import normalize_language as _signal_language

# --- language ------------------------------------------------------------------------------

LANGUAGE_GROUPS: dict[str, dict[str, tuple[str, ...]]] = {
    "family": {
        "romance": ("es", "pt", "it", "fr", "ro", "ca", "gl"),
        "germanic": ("en", "de", "nl", "sv", "no", "da", "is", "af"),
        "slavic": ("ru", "uk", "be", "pl", "cs", "sk", "bg", "sr", "hr", "bs", "sl", "mk"),
        "baltic": ("lt", "lv"),
        "celtic": ("ga", "cy"),
        "indo_aryan": ("hi", "ur", "bn", "pa", "mr", "gu", "ne", "si"),
        "iranian": ("fa", "ps", "ku", "tg"),
        "turkic": ("tr", "az", "kk", "uz", "ky", "tk", "tt"),
        "uralic": ("fi", "et", "hu"),
        "semitic": ("ar", "he", "am"),
        "dravidian": ("ta", "te", "kn", "ml"),
        "tai": ("th", "lo"),
        "austroasiatic": ("vi", "km"),
        "austronesian": ("id", "ms", "tl", "jv"),
        "niger_congo": ("sw", "zu", "xh", "yo", "ig"),
        "sino_tibetan": ("zh", "my"),
    },
    "close": {  # mutually intelligible, or nearly, for casual viewers
        "iberian": ("es", "pt", "gl", "ca"),
        "east_slavic": ("ru", "uk", "be"),
        "czech_slovak": ("cs", "sk"),
        "serbo_croatian": ("sr", "hr", "bs"),
        "bulgarian_macedonian": ("bg", "mk"),
        "scandinavian": ("sv", "no", "da"),
        "dutch_afrikaans": ("nl", "af"),
        "hindustani": ("hi", "ur"),
        "malay": ("id", "ms"),
        "finnic": ("fi", "et"),
        "oghuz": ("tr", "az", "tk"),
        "persian": ("fa", "tg"),
        "thai_lao": ("th", "lo"),
    },
    "script": {  # non-Latin scripts only: the Latin script says nothing about an audience
        "cyrillic": ("ru", "uk", "be", "bg", "sr", "mk", "kk", "ky", "mn", "tg", "tt"),
        "arabic": ("ar", "fa", "ur", "ps", "ku"),
        "devanagari": ("hi", "mr", "ne"),
        "han": ("zh", "ja"),
    },
}
"""Groups of related languages, by kind of relation."""

DEFAULT_SHARES: dict[str, float] = {"family": 0.25, "close": 0.35, "script": 0.15}
"""Cosine two languages gain for each kind of group they share.

ru-uk: family + close + script = 0.75; es-pt: 0.60; ru-pl: 0.25; zh-ja, ar-fa: 0.15 (ar-fa
also share no family); en-ja: 0. Same language: 1.
"""

_ISOLATES = ("el", "ja", "ko", "ka", "hy", "sq", "eu", "mn", "he")
"""Languages with no relative in the table: they match only themselves (+ script)."""

_SAME_AUDIENCE: dict[str, str] = {"nb": "no", "nn": "no", "yue": "zh"}
"""Languages this block counts as another it knows: Norwegian Bokmål and Nynorsk as
Norwegian, Cantonese as Chinese."""


def supported_languages() -> list[str]:
    """ISO 639-1 codes the language block knows, sorted."""
    codes = set(_ISOLATES)
    for groups in LANGUAGE_GROUPS.values():
        for members in groups.values():
            codes.update(members)
    return sorted(codes)


@lru_cache(maxsize=1)
def language_names() -> dict[str, str]:
    """``{code: English name}`` of the languages this block knows (names from ``langcodes``),
    for menus and labels."""
    return {c: language_name(c) for c in supported_languages()}


def normalize_language(code: str | None) -> str | None:
    """"en-US", "pt_BR", "zh-cn", "ENG", "German" -> ISO 639-1 ("en", "pt", "zh", "de").

    Read as :func:`interestmap.signals.language.normalize_language` does; None when
    ``code`` is empty, not a language, or not a language this block knows.
    """
    try:
        lang = _signal_language(code)
    except ConfigError:
        return None
    lang = _SAME_AUDIENCE.get(lang or "", lang)
    return lang if lang in _known_languages() else None


@lru_cache(maxsize=1)
def _known_languages() -> frozenset[str]:
    return frozenset(supported_languages())


class LanguageEncoder(Encoder):
    """ISO 639-1 language code -> unit vector; cosine = how much two audiences overlap.

    Two languages' cosine is exactly the sum of :data:`DEFAULT_SHARES` over the groups
    (:data:`LANGUAGE_GROUPS`) they share: 1 for the same language, e.g. 0.25 for two
    Romance languages, 0.60 for Spanish-Portuguese, 0 for unrelated ones. The vectors are
    the rows of the Cholesky factor of that cosine matrix: one dimension per language
    (83), the fewest that give every cosine exactly. Codes are normalised
    (:func:`normalize_language`); unknown or None -> zero row.
    """

    modality = "language"

    def __init__(self, family_share: float = DEFAULT_SHARES["family"],
                 close_share: float = DEFAULT_SHARES["close"],
                 script_share: float = DEFAULT_SHARES["script"]) -> None:
        self.family_share = family_share
        self.close_share = close_share
        self.script_share = script_share

    @property
    def _table(self) -> tuple[dict[str, int], np.ndarray]:
        return _language_table(float(self.family_share), float(self.close_share),
                               float(self.script_share))

    @property
    def info(self) -> EncoderInfo:
        axis, table = self._table
        # digest of what defines the cosines (not of float bits, which BLAS may vary)
        spec = repr((sorted(axis), LANGUAGE_GROUPS, float(self.family_share),
                     float(self.close_share), float(self.script_share)))
        digest = hashlib.sha1(spec.encode()).hexdigest()[:8]
        return EncoderInfo(name="language-groups", version=f"2-{digest}", dim=table.shape[1],
                           modality="language")

    def encode(self, items: Sequence[str | None], *, batch_size: int = 32,
               show_progress: bool = False) -> np.ndarray:
        """``(n, dim)`` unit rows; zero rows for unknown or missing languages."""
        axis, table = self._table
        out = np.zeros((len(items), table.shape[1]), dtype=np.float32)
        for r, item in enumerate(items):
            code = normalize_language(item)
            if code is not None:
                out[r] = table[axis[code]]
        return l2_normalize(out)

    def similarity(self, a: str | None, b: str | None) -> float:
        """Cosine of two languages' vectors (0 when either is unknown)."""
        v = self.encode([a, b])
        return float(v[0] @ v[1])

    def __repr__(self) -> str:
        return (f"LanguageEncoder(family_share={self.family_share}, "
                f"close_share={self.close_share}, script_share={self.script_share})")


@lru_cache(maxsize=8)
def _language_table(family: float, close: float, script: float
                    ) -> tuple[dict[str, int], np.ndarray]:
    """Language -> row index, and the ``(n_languages, dim)`` table of unit vectors."""
    shares = {"family": family, "close": close, "script": script}
    bad = {k: v for k, v in shares.items() if not (0 <= v < 1)}
    if bad or sum(shares.values()) >= 1:
        raise ConfigError(f"language shares must each be in [0, 1) and sum to < 1, got {shares}")
    langs = supported_languages()
    axis = {lang: i for i, lang in enumerate(langs)}
    gram = np.eye(len(langs), dtype=np.float64)
    for kind, groups in LANGUAGE_GROUPS.items():
        for members in groups.values():
            idx = [axis[m] for m in members]
            for i in idx:
                for j in idx:
                    if i != j:
                        gram[i, j] += shares[kind]
    # positive definite (each language keeps 1 - sum(shares) > 0 of its own): L L^T = gram
    table = np.linalg.cholesky(gram)
    return axis, table.astype(np.float32)


# --- geo -----------------------------------------------------------------------------------

EARTH_RADIUS_KM = 6371.0088

_GEO_SCALES = (0.4, 4.0 / 3.0)
"""Widths of the kernel's local and regional Gaussians, as fractions of the bandwidth."""
_GEO_DEGREE_AT_1500 = 22
"""Spherical-harmonic degree at the default bandwidth; it grows as 1 / bandwidth."""
_GEO_TAIL = 0.003
"""Most cosine the encoding may keep beyond 4 bandwidths (where the kernel is ~0)."""
_GEO_COEFFS_1500 = (
    0.028678, 0.074031, 0.099709, 0.106186, 0.096383, 0.079657, 0.063499, 0.052193,
    0.044942, 0.039119, 0.032393, 0.025248, 0.020062, 0.019439, 0.023839, 0.031165,
    0.037396, 0.039127, 0.03492, 0.026271, 0.016079, 0.007566, 0.002099)
""":func:`geo_coefficients` at 1,500 km (kept here so every machine makes the same vectors)."""


def geo_kernel(distance_km: np.ndarray | float, bandwidth_km: float = 1500.0) -> np.ndarray:
    """The geo similarity we aim for: ``0.5 exp(-d^2 / 2 t1^2) + 0.5 exp(-d^2 / 2 t2^2)``
    with ``t1 = 0.4 * bandwidth`` and ``t2 = 1.33 * bandwidth`` (great-circle distance)."""
    d = np.asarray(distance_km, dtype=np.float64)
    t1, t2 = (f * bandwidth_km for f in _GEO_SCALES)
    return 0.5 * np.exp(-d**2 / (2 * t1**2)) + 0.5 * np.exp(-d**2 / (2 * t2**2))


def geo_degree(bandwidth_km: float) -> int:
    """Spherical-harmonic degree of the geo encoding at a bandwidth."""
    return int(math.ceil(_GEO_DEGREE_AT_1500 * 1500.0 / bandwidth_km - 1e-9))


@lru_cache(maxsize=8)
def geo_coefficients(bandwidth_km: float, degree: int | None = None,
                     stored: bool = True) -> tuple[float, ...]:
    """Legendre weights ``c_0..c_L`` (summing to 1) of the geo encoding's cosine
    ``sum_l c_l P_l(cos angle)``: the closest such function to :func:`geo_kernel` (in the
    largest error over all distances) that never rises with distance, is never negative
    and stays under :data:`_GEO_TAIL` past 4 bandwidths. A small linear programme
    (SciPy's HiGHS); the default bandwidth's result is stored (``stored=False``
    re-derives it).
    """
    from scipy.optimize import linprog
    from scipy.special import eval_legendre

    deg = geo_degree(bandwidth_km) if degree is None else int(degree)
    if stored and bandwidth_km == 1500.0 and deg == _GEO_DEGREE_AT_1500:
        return _GEO_COEFFS_1500
    angle = np.linspace(0.0, np.pi, 2500)
    target = geo_kernel(angle * EARTH_RADIUS_KM, bandwidth_km)
    legendre = np.stack([eval_legendre(ell, np.cos(angle)) for ell in range(deg + 1)], 1)
    n, m = legendre.shape
    far = angle * EARTH_RADIUS_KM >= 4 * bandwidth_km
    ones, zeros = np.ones((n, 1)), np.zeros((n, 1))
    a_ub = np.block([[legendre, -ones], [-legendre, -ones],            # |error| <= e
                     [legendre[1:] - legendre[:-1], zeros[1:]],        # never rises
                     [-legendre, zeros],                               # never negative
                     [legendre[far], np.zeros((int(far.sum()), 1))]])  # small tail
    b_ub = np.concatenate([target, -target, np.zeros(n - 1), np.zeros(n),
                           target[far] + _GEO_TAIL])
    res = linprog(np.r_[np.zeros(m), 1.0], A_ub=a_ub, b_ub=b_ub,
                  A_eq=np.r_[np.ones(m), 0.0][None], b_eq=[1.0],
                  bounds=[(0, None)] * (m + 1), method="highs")
    if res.status != 0:  # pragma: no cover - feasible for every allowed bandwidth
        raise ConfigError(f"no geo encoding for bandwidth {bandwidth_km} km: {res.message}")
    return tuple(float(f"{c:.6f}") for c in res.x[:m])


def _normalized_legendre(degree: int, x: np.ndarray) -> np.ndarray:
    """``P[l, m, i]``: orthonormal associated Legendre functions of ``x = cos(polar)``
    (so that ``P[l, m] cos(m lon)`` etc. are orthonormal on the sphere), ``m <= l``."""
    s = np.sqrt(np.maximum(0.0, 1.0 - x * x))
    p = np.zeros((degree + 1, degree + 1, len(x)))
    p[0, 0] = math.sqrt(1.0 / (4.0 * math.pi))
    for m in range(1, degree + 1):
        p[m, m] = math.sqrt((2 * m + 1) / (2 * m)) * s * p[m - 1, m - 1]
    for m in range(degree):
        p[m + 1, m] = math.sqrt(2 * m + 3) * x * p[m, m]
    for m in range(degree + 1):
        for ell in range(m + 2, degree + 1):
            a = math.sqrt((4 * ell * ell - 1) / (ell * ell - m * m))
            b = math.sqrt(((ell - 1) ** 2 - m * m) / (4 * (ell - 1) ** 2 - 1))
            p[ell, m] = a * (x * p[ell - 1, m] - b * p[ell - 2, m])
    return p


class GeoEncoder(Encoder):
    """A position -> unit vector whose cosine decays smoothly with great-circle distance.

    The features are real spherical harmonics up to degree ``L``, degree ``l`` scaled by
    ``sqrt(4 pi c_l / (2l + 1))``; by the addition theorem two points' cosine is then
    ``sum_l c_l P_l(cos angle)``: it depends on their distance only, the same in every
    direction, and the weights (:func:`geo_coefficients`) make it follow
    :func:`geo_kernel` within 0.026 everywhere on Earth. With the default
    ``bandwidth_km=1500``: 100 km -> 0.99, 300 km -> 0.95, 635 km (Moscow-St Petersburg)
    -> 0.79, 1,500 km -> 0.37, 2,500 km (Moscow-Paris) -> 0.26, 5,000 km -> 0.04,
    beyond ~6,000 km -> at most 0.003.

    ``(L + 1)^2`` dims: 529 at 1,500 km (half of the 1,090 radial-basis features of
    version 1, which were further from the kernel and varied with direction). A smaller
    bandwidth needs more (the dimension grows as ``1 / bandwidth^2``).

    Items: :class:`GeoPoint`, ``(lat, lon)``, a place name or "lat,lon" string, or None
    (zero row: the block is missing).
    """

    modality = "geo"

    def __init__(self, bandwidth_km: float = 1500.0) -> None:
        self.bandwidth_km = bandwidth_km

    @property
    def _coefficients(self) -> tuple[float, ...]:
        b = self.bandwidth_km
        if not (isinstance(b, int | float) and math.isfinite(b) and 500 <= b <= 10000):
            raise ConfigError(f"geo bandwidth_km must be between 500 and 10000 km, got {b!r}")
        return geo_coefficients(float(b))

    @property
    def dim(self) -> int:
        return len(self._coefficients) ** 2

    @property
    def info(self) -> EncoderInfo:
        coeffs = self._coefficients
        digest = hashlib.sha1(repr(coeffs).encode()).hexdigest()[:6]
        return EncoderInfo(name="geo-harmonics",
                           version=f"2-bw{self.bandwidth_km:g}km-L{len(coeffs) - 1}-{digest}",
                           dim=self.dim, modality="geo")

    def encode(self, items: Sequence[Any], *, batch_size: int = 1024,
               show_progress: bool = False) -> np.ndarray:
        """``(n, dim)`` unit rows; zero rows where the position is None."""
        lat = np.full(len(items), np.nan)
        lon = np.full(len(items), np.nan)
        for i, item in enumerate(items):
            pos = _position(item)
            if pos is not None:
                lat[i], lon[i] = pos
        coeffs = np.asarray(self._coefficients, dtype=np.float64)
        coeffs = coeffs / coeffs.sum()
        out = np.zeros((len(items), self.dim), dtype=np.float32)
        have = ~np.isnan(lat)
        if not have.any():
            return out
        la, lo = np.radians(lat[have]), np.radians(lon[have])
        p = _normalized_legendre(len(coeffs) - 1, np.sin(la))
        cols = []
        for ell, c in enumerate(coeffs):
            w = math.sqrt(max(c, 0.0) * 4.0 * math.pi / (2 * ell + 1))
            cols.append(w * p[ell, 0])
            for m in range(1, ell + 1):
                cols.append(w * math.sqrt(2.0) * p[ell, m] * np.cos(m * lo))
                cols.append(w * math.sqrt(2.0) * p[ell, m] * np.sin(m * lo))
        out[have] = np.stack(cols, axis=1)
        return l2_normalize(out)

    def similarity(self, a: Any, b: Any) -> float:
        """Cosine of two positions' vectors (0 when either is missing)."""
        v = self.encode([a, b])
        return float(v[0] @ v[1])

    def __repr__(self) -> str:
        return f"GeoEncoder(bandwidth_km={self.bandwidth_km:g})"


def _position(item: Any) -> tuple[float, float] | None:
    if item is None:
        return None
    if isinstance(item, GeoPoint):
        lat, lon = item.lat, item.lon
    elif isinstance(item, str):
        from interestmap.signals.geo import resolve_geo

        point = resolve_geo(item)
        if point is None:
            return None
        lat, lon = point.lat, point.lon
    else:
        try:
            lat, lon = (float(v) for v in item)
        except (TypeError, ValueError):
            raise ConfigError(f"cannot read {item!r} as a position: give a place name, "
                              '"lat,lon" or a (lat, lon) pair') from None
    if not (math.isfinite(lat) and math.isfinite(lon) and -90 <= lat <= 90
            and -180 <= lon <= 180):
        raise ConfigError(f"position ({lat}, {lon}) is out of range: latitude must be in "
                          "-90..90 and longitude in -180..180")
    return float(lat), float(lon)
