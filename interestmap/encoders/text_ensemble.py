"""USE-m3 and multilingual-e5-small side by side: the default caption encoder.

One 896-d unit vector per text: the USE-multilingual-v3 vector (512-d) and the centred
multilingual-e5-small vector (384-d), each of unit length, concatenated with equal
weight. The cosine of two such vectors is the mean of the two encoders' cosines, so the
ensemble keeps USE's full-range cosines for the fused map and adds E5's ~100 languages
and its better sense of topics (``benchmarks/topic_accuracy.py`` has the figures).

Two calibrations make the halves work together:

- E5 vectors sit in a narrow cone (two unrelated posts ~0.8 apart). The mean E5 vector
  of a fixed multilingual reference corpus (``data/text_calibration.json``) is
  subtracted before normalising, which spreads its cosines over the same range as USE's.
- USE knows 16 languages. For a text whose detected language is not one of them
  (Greek, Ukrainian, Hindi, ...) its USE half is noise, so it is left out (zero) and the
  text is represented by its E5 half alone ("routing by detected language"). Texts too
  short to detect keep both halves.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from functools import cache
from importlib import resources

import numpy as np

from ..errors import ModelLoadError
from .base import EncoderInfo, TextEncoder, l2_normalize
from .text_e5 import E5SmallText
from .text_use import UniversalSentenceEncoderText

NAME = "use-m3+e5-small"

USE_LANGUAGES: frozenset[str] = frozenset(
    {"ar", "de", "en", "es", "fr", "it", "ja", "ko", "nl", "pl", "pt", "ru", "th", "tr",
     "zh"})
"""Languages USE-multilingual-v3 was trained on (zh covers zh-cn and zh-tw)."""


@cache
def e5_mean() -> tuple[np.ndarray, str]:
    """The reference mean E5 vector and a short digest of it (part of the version)."""
    path = resources.files("interestmap").joinpath("data/text_calibration.json")
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        values = doc["e5-small"]["mean"]
    except (OSError, KeyError, ValueError) as e:
        raise ModelLoadError(f"the text calibration file of interestmap is missing or "
                             f"broken ({type(e).__name__}): reinstall interestmap") from None
    digest = hashlib.sha1(json.dumps(values).encode()).hexdigest()[:8]
    return np.asarray(values, dtype=np.float32), digest


def _route_mask(texts: Sequence[str]) -> np.ndarray:
    """True where a text's detected language is one USE does not know."""
    from ..signals.language import detect_language

    out = np.zeros(len(texts), dtype=bool)
    for i, t in enumerate(texts):
        code, _ = detect_language(t)
        out[i] = code is not None and code not in USE_LANGUAGES
    return out


class UseE5Text(TextEncoder):
    """USE-m3 (512-d) + centred e5-small (384-d), equal weight, routed by language.

    ``route_languages=False`` keeps the USE half for every text (for experiments).
    """

    dim = 896

    def __init__(self, route_languages: bool = True) -> None:
        self.route_languages = route_languages
        self.use = UniversalSentenceEncoderText()
        self.e5 = E5SmallText()

    @property
    def info(self) -> EncoderInfo:
        _, digest = e5_mean()
        route = "routed" if self.route_languages else "unrouted"
        return EncoderInfo(name=NAME,
                           version=f"{self.use.info.version}|{self.e5.info.version}|"
                                   f"centre-{digest}|{route}",
                           dim=self.dim, modality="text")

    def encode(self, items: Sequence[str], *, batch_size: int = 64,
               show_progress: bool = False) -> np.ndarray:
        texts = [str(t or "") for t in items]
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        u = self.use.encode(texts, batch_size=batch_size)
        e = self.e5.encode(texts, batch_size=min(batch_size, 32), show_progress=show_progress)
        mean, _ = e5_mean()
        e = l2_normalize(e - mean)
        if self.route_languages:
            u = u.copy()
            u[_route_mask(texts)] = 0.0
        return l2_normalize(np.hstack([u, e]))

    def __repr__(self) -> str:
        return f"UseE5Text(route_languages={self.route_languages})"
