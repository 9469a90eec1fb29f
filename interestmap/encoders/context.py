"""The context blocks of the fused vector: the clip's language and where it was posted.

Platforms use both to choose *whose* feed a clip reaches. Neither needs a model: each
block is a fixed, deterministic feature map whose cosine between two clips is a
meaningful similarity (see :mod:`interestmap.fusion`: only block cosines count).

* :class:`LanguageEncoder` -- same language 1; related languages share a little
  (family, mutual intelligibility, a non-Latin script); unrelated languages 0.
* :class:`GeoEncoder` -- cosine decays smoothly with great-circle distance: about 1 in
  the same city, 0.94 at 300 km, 0.4 at 1,500 km and ~0 between continents.

A missing language or place encodes as a zero row: the fuser treats it as a missing
block, never as "similar to nothing".
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import numpy as np

from ..clip import GeoPoint
from ..errors import ConfigError
from .base import Encoder, EncoderInfo, l2_normalize

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

_ALIASES: dict[str, str] = {
    # old or alternative codes
    "iw": "he", "in": "id", "ji": "yi", "jw": "jv", "nb": "no", "nn": "no", "fil": "tl",
    "mo": "ro", "sh": "sr",
    # ISO 639-2/3 codes people (and some tools) use
    "eng": "en", "spa": "es", "por": "pt", "ita": "it", "fra": "fr", "fre": "fr",
    "deu": "de", "ger": "de", "nld": "nl", "dut": "nl", "rus": "ru", "ukr": "uk",
    "pol": "pl", "ces": "cs", "cze": "cs", "ell": "el", "gre": "el", "tur": "tr",
    "ara": "ar", "heb": "he", "fas": "fa", "per": "fa", "hin": "hi", "urd": "ur",
    "ben": "bn", "jpn": "ja", "kor": "ko", "zho": "zh", "chi": "zh", "cmn": "zh",
    "yue": "zh", "tha": "th", "vie": "vi", "ind": "id", "msa": "ms", "may": "ms",
    "swe": "sv", "nor": "no", "nob": "no", "dan": "da", "fin": "fi", "hun": "hu",
    "ron": "ro", "rum": "ro", "bul": "bg", "srp": "sr", "hrv": "hr", "kaz": "kk",
    "tgl": "tl", "swa": "sw", "cat": "ca",
    # English names
    "english": "en", "spanish": "es", "portuguese": "pt", "italian": "it", "french": "fr",
    "german": "de", "dutch": "nl", "russian": "ru", "ukrainian": "uk", "polish": "pl",
    "czech": "cs", "greek": "el", "turkish": "tr", "arabic": "ar", "hebrew": "he",
    "persian": "fa", "farsi": "fa", "hindi": "hi", "urdu": "ur", "bengali": "bn",
    "japanese": "ja", "korean": "ko", "chinese": "zh", "mandarin": "zh", "cantonese": "zh",
    "thai": "th", "vietnamese": "vi", "indonesian": "id", "malay": "ms", "swedish": "sv",
    "norwegian": "no", "danish": "da", "finnish": "fi", "hungarian": "hu",
    "romanian": "ro", "bulgarian": "bg", "serbian": "sr", "croatian": "hr",
    "kazakh": "kk", "tagalog": "tl", "filipino": "tl", "swahili": "sw", "catalan": "ca",
}


def supported_languages() -> list[str]:
    """ISO 639-1 codes the language block knows, sorted."""
    codes = set(_ISOLATES)
    for groups in LANGUAGE_GROUPS.values():
        for members in groups.values():
            codes.update(members)
    return sorted(codes)


def normalize_language(code: str | None) -> str | None:
    """"en-US", "pt_BR", "zh-cn", "ENG", "German" -> ISO 639-1 ("en", "pt", "zh", "de").

    None when ``code`` is empty or not a language this block knows.
    """
    if code is None:
        return None
    text = str(code).strip().casefold()
    if not text:
        return None
    base = re.split(r"[-_\s.@]", text, maxsplit=1)[0]
    known = set(supported_languages())
    for candidate in (base, _ALIASES.get(base), _ALIASES.get(text)):
        if candidate in known:
            return candidate
    return None


class LanguageEncoder(Encoder):
    """ISO 639-1 language code -> unit vector; cosine = how much two audiences overlap.

    Each language gets its own axis plus one shared axis per group it belongs to
    (:data:`LANGUAGE_GROUPS`), weighted so that two languages' cosine is exactly the sum
    of :data:`DEFAULT_SHARES` over the groups they share: 1 for the same language, e.g.
    0.25 for two Romance languages, 0.60 for Spanish-Portuguese, 0 for unrelated ones.
    Codes are normalised (:func:`normalize_language`); unknown or None -> zero row.
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
        digest = hashlib.sha1(table.tobytes()).hexdigest()[:8]
        return EncoderInfo(name="language-groups", version=f"1-{digest}", dim=table.shape[1],
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
    groups = [(kind, g) for kind, gs in LANGUAGE_GROUPS.items() for g in gs]
    axis = {lang: i for i, lang in enumerate(langs)}
    table = np.zeros((len(langs), len(langs) + len(groups)), dtype=np.float64)
    for lang, i in axis.items():
        own = 1.0
        for j, (kind, g) in enumerate(groups):
            if lang in LANGUAGE_GROUPS[kind][g]:
                table[i, len(langs) + j] = math.sqrt(shares[kind])
                own -= shares[kind]
        table[i, i] = math.sqrt(own)
    return axis, table.astype(np.float32)


# --- geo -----------------------------------------------------------------------------------

EARTH_RADIUS_KM = 6371.0088


def fibonacci_sphere(n: int) -> np.ndarray:
    """``(n, 3)`` unit vectors spread evenly over the sphere (golden-angle spiral)."""
    i = np.arange(n, dtype=np.float64) + 0.5
    polar = np.arccos(1.0 - 2.0 * i / n)
    azimuth = np.pi * (1.0 + 5.0 ** 0.5) * i
    return np.stack([np.cos(azimuth) * np.sin(polar), np.sin(azimuth) * np.sin(polar),
                     np.cos(polar)], axis=1)


def to_unit_xyz(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """Latitudes/longitudes in degrees -> ``(n, 3)`` points on the unit sphere."""
    la, lo = np.radians(lat), np.radians(lon)
    return np.stack([np.cos(la) * np.cos(lo), np.cos(la) * np.sin(lo), np.sin(la)], axis=-1)


_GEO_SCALES = ((0.4, 1.75), (4.0 / 3.0, 1.25))
"""(kernel width / bandwidth, anchor spacing / feature width) of the local and regional scale."""


@lru_cache(maxsize=8)
def _geo_scales(bandwidth_km: float) -> list[tuple[float, np.ndarray]]:
    """[(kappa, anchors)] for each scale of a :class:`GeoEncoder`."""
    out = []
    for factor, spacing in _GEO_SCALES:
        tau = factor * bandwidth_km / EARTH_RADIUS_KM   # kernel width between two points (rad)
        width = tau / math.sqrt(2.0)                    # width of one anchor's feature (rad)
        n_anchors = math.ceil(4.0 * math.pi / (spacing * width) ** 2)
        out.append((1.0 / width ** 2, fibonacci_sphere(n_anchors)))
    return out


class GeoEncoder(Encoder):
    """A position -> unit vector whose cosine decays smoothly with great-circle distance.

    Features are radial basis functions ``exp(kappa * (cos(angle to anchor) - 1))`` over a
    fixed Fibonacci grid of anchors on the sphere, at two scales (a local one and a
    regional one) that each hold half the block. For two points at angle ``d`` the cosine
    of their features is close to ``0.5 exp(-d^2 / 2 t1^2) + 0.5 exp(-d^2 / 2 t2^2)`` with
    ``t1 = 0.4 * bandwidth_km`` and ``t2 = 1.33 * bandwidth_km``. With the default
    ``bandwidth_km=1500`` (measured, averaged over directions): 100 km -> 0.99,
    300 km -> 0.94, 635 km (Moscow-St Petersburg) -> 0.77, 1,500 km -> 0.40,
    2,500 km (Moscow-Paris) -> 0.24, 5,000 km -> 0.02, beyond ~7,000 km -> 0.

    Anchors are spaced 1.75 (local) and 1.25 (regional) feature widths apart, so the
    cosine varies by only a few hundredths with direction; a smaller bandwidth needs more
    anchors (the dimension grows as ``1 / bandwidth^2``; 1,500 km -> 1,090 dims).

    Items: :class:`GeoPoint`, ``(lat, lon)``, a place name or "lat,lon" string, or None
    (zero row: the block is missing).
    """

    modality = "geo"

    def __init__(self, bandwidth_km: float = 1500.0) -> None:
        self.bandwidth_km = bandwidth_km

    @property
    def _scales(self) -> list[tuple[float, np.ndarray]]:
        b = self.bandwidth_km
        if not (isinstance(b, int | float) and math.isfinite(b) and 500 <= b <= 10000):
            raise ConfigError(f"geo bandwidth_km must be between 500 and 10000 km, got {b!r}")
        return _geo_scales(float(b))

    @property
    def dim(self) -> int:
        return sum(a.shape[0] for _, a in self._scales)

    @property
    def info(self) -> EncoderInfo:
        return EncoderInfo(name="geo-rbf", version=f"1-bw{self.bandwidth_km:g}km", dim=self.dim,
                           modality="geo")

    def encode(self, items: Sequence[Any], *, batch_size: int = 1024,
               show_progress: bool = False) -> np.ndarray:
        """``(n, dim)`` unit rows; zero rows where the position is None."""
        lat = np.full(len(items), np.nan)
        lon = np.full(len(items), np.nan)
        for i, item in enumerate(items):
            pos = _position(item)
            if pos is not None:
                lat[i], lon[i] = pos
        out = np.zeros((len(items), self.dim), dtype=np.float32)
        have = ~np.isnan(lat)
        if not have.any():
            return out
        xyz = to_unit_xyz(lat[have], lon[have])
        parts = []
        for kappa, anchors in self._scales:
            f = np.exp(kappa * (xyz @ anchors.T - 1.0))
            parts.append(math.sqrt(0.5) * l2_normalize(f.astype(np.float64)))
        out[have] = np.concatenate(parts, axis=1)
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
        from ..signals.geo import resolve_geo

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
