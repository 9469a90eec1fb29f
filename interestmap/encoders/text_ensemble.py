"""USE-m3 and multilingual-e5-small side by side: the default caption encoder.

One 896-d unit vector per text: the USE-multilingual-v3 vector (512-d) and the centred
multilingual-e5-small vector (384-d), each of unit length, concatenated with equal
weight. The cosine of two such vectors is the mean of the two encoders' cosines, so the
ensemble keeps USE's full-range cosines for the fused map and adds E5's ~100 languages
and its better sense of topics (``benchmarks/topic_accuracy.py`` has the figures).

Three calibrations make the halves work together (``data/text_calibration.json``):

- E5 vectors sit in a narrow cone (two unrelated posts ~0.8 apart). The mean E5 vector
  of a fixed multilingual reference corpus is subtracted before normalising, which
  spreads its cosines over the same range as USE's.
- E5 vectors also carry their language: a Japanese post's nearest neighbours are almost
  all Japanese, whatever they are about. Each language's offset (its mean vector on the
  same sentences in 14 languages, minus the mean over the languages) is subtracted for
  texts detected in that language, so posts on one topic meet across languages (share
  of cross-language nearest neighbours among X-Topic tweets, es / ja: 0.15 / 0.02
  without it, 0.33 / 0.13 with it; topic accuracy unchanged).
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

from interestmap.encoders.base import EncoderInfo, TextEncoder, l2_normalize
from interestmap.encoders.text_e5 import E5SmallText
from interestmap.encoders.text_use import UniversalSentenceEncoderText
from interestmap.errors import ModelLoadError

NAME = "use-m3+e5-small"

USE_LANGUAGES: frozenset[str] = frozenset(
    {"ar", "de", "en", "es", "fr", "it", "ja", "ko", "nl", "pl", "pt", "ru", "th", "tr",
     "zh"})
"""Languages USE-multilingual-v3 was trained on (zh covers zh-cn and zh-tw)."""

E5_BATCH = 64
"""Texts per call into the E5 engine, at least. It packs a call's texts into one token
array without padding, so the vectors do not depend on how texts are grouped (the same
to the bit), and bigger calls amortise its per-call work: ms per tweet 24.4 / 22.2 /
21.1 / 21.1 in calls of 8 / 32 / 64 / 256 (``benchmarks/classify_throughput.py
--profile``, quiet machine). E5 is ~90 % of this encoder's time."""


@cache
def _calibration() -> tuple[np.ndarray, dict[str, np.ndarray], str]:
    path = resources.files("interestmap").joinpath("data/text_calibration.json")
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))["e5-small"]
        mean = np.asarray(doc["mean"], dtype=np.float32)
        offsets = {k: np.asarray(v, dtype=np.float32)
                   for k, v in doc["language_offsets"].items()}
    except (OSError, KeyError, ValueError, TypeError) as e:
        raise ModelLoadError(f"the text calibration file of interestmap is missing or "
                             f"broken ({type(e).__name__}): reinstall interestmap") from None
    raw = json.dumps([doc["mean"], doc["language_offsets"]], sort_keys=True)
    return mean, offsets, hashlib.sha1(raw.encode()).hexdigest()[:8]


def e5_mean() -> tuple[np.ndarray, str]:
    """The reference mean E5 vector and a short digest of the calibration (in the version)."""
    mean, _, digest = _calibration()
    return mean, digest


def e5_language_offsets() -> dict[str, np.ndarray]:
    """Per language (ISO 639-1), the E5 offset subtracted from texts in that language."""
    return _calibration()[1]


def detect_languages(texts: Sequence[str]) -> list[str | None]:
    """Each text's language (ISO 639-1), None where it is too short to tell."""
    from interestmap.signals.language import detect_language

    return [detect_language(t)[0] for t in texts]


def centred_e5(vectors: np.ndarray, languages: Sequence[str | None]) -> np.ndarray:
    """E5 vectors minus the reference mean and their language's offset, unit length."""
    mean, offsets, _ = _calibration()
    out = np.asarray(vectors, dtype=np.float32) - mean
    for i, lang in enumerate(languages):
        if lang in offsets:
            out[i] -= offsets[lang]
    return l2_normalize(out)


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
        """Each text once: a repeated text is encoded once and copied, and the USE half
        is computed only for texts that keep it (the same vectors as encoding all)."""
        texts = [str(t or "") for t in items]
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        unique = list(dict.fromkeys(texts))
        langs = detect_languages(unique)
        keep = [not self.route_languages or g is None or g in USE_LANGUAGES for g in langs]
        u = np.zeros((len(unique), self.use.dim), dtype=np.float32)
        rows = [i for i, k in enumerate(keep) if k]
        if rows:
            u[rows] = self.use.encode([unique[i] for i in rows], batch_size=batch_size)
        e = self.e5.encode(unique, batch_size=max(batch_size, E5_BATCH),
                           show_progress=show_progress)
        out = l2_normalize(np.hstack([u, centred_e5(e, langs)]))
        if len(unique) == len(texts):
            return out
        at = {t: i for i, t in enumerate(unique)}
        return out[[at[t] for t in texts]]

    def __repr__(self) -> str:
        return f"UseE5Text(route_languages={self.route_languages})"
