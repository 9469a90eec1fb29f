"""Visual semantics: what an image shows, as a vector in the text encoder's space.

An image classifier says which ImageNet classes a frame looks like; the names of the
``top_k`` classes, embedded with the text encoder and weighted by their probabilities,
give one text-space vector per frame. Frames then compare directly with captions,
transcripts and declared-topic descriptions ("beach and sea", "street food"), without a
CLIP model. With an open_clip image encoder the class probabilities come from its own
zero-shot head, so the same bridge works for any image encoder that can label images.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import numpy as np

from interestmap._compat import ensure_torchvision
from interestmap.encoders._util import disk_cached, package_version
from interestmap.encoders.base import EncoderInfo, ImageEncoder, TextEncoder, l2_normalize
from interestmap.errors import ConfigError, MissingDependencyError

LABEL_TEMPLATE = "a photo of {}"
"""How a class name is phrased before it is embedded ({} is the article + name)."""
SOUND_TEMPLATE = "the sound of {}"
"""How a sound class name is phrased ({} is the name in lower case, no article: AudioSet
names are often plural or mass nouns, "Speech", "Crackling fire", "Domestic animals, pets")."""

_name_vectors: dict[tuple[Any, ...], np.ndarray] = {}
_name_lock = threading.Lock()


def _with_article(name: str) -> str:
    return ("an " if name[:1].lower() in "aeiou" else "a ") + name


def label_texts(names: Sequence[str], template: str = LABEL_TEMPLATE) -> list[str]:
    """The phrases embedded for class names (``"seashore"`` -> ``"a photo of a seashore"``;
    with :data:`SOUND_TEMPLATE`, ``"Crackling fire"`` -> ``"the sound of crackling fire"``)."""
    if template == SOUND_TEMPLATE:
        return [template.format(n.strip().replace("_", " ").lower()) for n in names]
    return [template.format(_with_article(n.strip())) for n in names]


def readable_class_names(names: Sequence[str]) -> list[str]:
    """Class names in plain words: for the 1000 ImageNet classes, open_clip's cleaned list.

    torchvision's names keep WordNet oddities ("maillot", "crane" twice, "Cardigan");
    open_clip's list, written for zero-shot prompts, says the same classes plainly
    ("one-piece bathing suit", "construction crane"). Other label sets are kept as given.
    """
    names = list(names)
    if len(names) != 1000:
        return names
    try:
        ensure_torchvision()
        from open_clip.zero_shot_metadata import IMAGENET_CLASSNAMES
    except (ImportError, MissingDependencyError):
        return names
    return list(IMAGENET_CLASSNAMES) if len(IMAGENET_CLASSNAMES) == 1000 else names


def class_name_vectors(text_encoder: TextEncoder, names: Sequence[str],
                       template: str = LABEL_TEMPLATE) -> np.ndarray:
    """``(n_classes, text_dim)`` unit vectors of the class names; cached per text encoder,
    in memory and on disk (1000 names take seconds to embed; a cold start reads them)."""
    key = (text_encoder.info, tuple(names), template)
    with _name_lock:
        if key not in _name_vectors:
            texts = label_texts(names, template)
            _name_vectors[key] = disk_cached(
                "class-name-vectors", {"encoder": text_encoder.info.as_dict(), "texts": texts},
                lambda: np.asarray(text_encoder.encode(texts, batch_size=128), dtype=np.float32))
        return _name_vectors[key]


def top_classes(probs: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices and scores of each row's ``k`` highest-scored classes, highest first."""
    k = min(k, probs.shape[1])
    idx = np.argpartition(-probs, k - 1, axis=1)[:, :k]
    p = np.take_along_axis(probs, idx, axis=1)
    order = np.argsort(-p, axis=1)
    return np.take_along_axis(idx, order, axis=1), np.take_along_axis(p, order, axis=1)


def weighted_names(probs: np.ndarray, name_vectors: np.ndarray, k: int) -> np.ndarray:
    """``(n, d)`` unit vectors: each row's top ``k`` class-name vectors, weighted by score."""
    idx, p = top_classes(probs, k)
    w = p / np.maximum(p.sum(axis=1, keepdims=True), 1e-12)
    return l2_normalize(np.einsum("nk,nkd->nd", w, name_vectors[idx]))


class VisualSemantics(ImageEncoder):
    """Images -> unit vectors in ``text_encoder``'s space, via ``image_encoder``'s labels."""

    def __init__(self, image_encoder: ImageEncoder, text_encoder: TextEncoder,
                 top_k: int = 10) -> None:
        if image_encoder.class_names is None:
            raise ConfigError(f"{type(image_encoder).__name__} cannot label images, so it "
                              "cannot feed visual semantics; use efficientnet-lite0 or open_clip")
        if int(top_k) < 1:
            raise ConfigError(f"top_k must be >= 1, got {top_k}")
        self.image_encoder = image_encoder
        self.text_encoder = text_encoder
        self.top_k = int(top_k)
        self._names: list[str] | None = None

    @property
    def info(self) -> EncoderInfo:
        img, txt = self.image_encoder.info, self.text_encoder.info
        return EncoderInfo(name=f"semantics:{img.name}>{txt.name}",
                           version=f"{img.version}|{txt.version}|top{self.top_k}",
                           dim=txt.dim, modality="image")

    @property
    def class_names(self) -> list[str]:
        """The plain-word names of the classes the image encoder scores."""
        if self._names is None:
            raw = self.image_encoder.class_names or []
            # open_clip's import alone takes seconds: its cleaned names are kept on disk
            self._names = list(disk_cached(
                "readable-class-names",
                {"names": raw, "open_clip": package_version("open_clip_torch")},
                lambda: readable_class_names(raw)))
        return self._names

    def class_probabilities(self, images: Sequence[Any]) -> np.ndarray:
        return self.image_encoder.class_probabilities(images)

    def encode(self, items: Sequence[Any], *, batch_size: int = 32,
               show_progress: bool = False) -> np.ndarray:
        dim = self.text_encoder.info.dim
        if len(items) == 0:
            return np.zeros((0, dim), dtype=np.float32)
        probs = self.image_encoder.class_probabilities(items)
        return weighted_names(probs, class_name_vectors(self.text_encoder, self.class_names),
                              self.top_k)

    def describe(self, images: Sequence[Any], k: int = 5) -> list[list[tuple[str, float]]]:
        """For each image, its ``k`` likeliest classes as ``(plain name, probability)``."""
        if len(images) == 0:
            return []
        names = self.class_names
        idx, p = top_classes(self.image_encoder.class_probabilities(images), k)
        return [[(names[i], round(float(q), 4)) for i, q in zip(ri, rp, strict=True)]
                for ri, rp in zip(idx, p, strict=True)]

    def __repr__(self) -> str:
        return (f"VisualSemantics({self.image_encoder!r}, {self.text_encoder!r}, "
                f"top_k={self.top_k})")


class AudioSemantics:
    """Sounds -> unit vectors in ``text_encoder``'s space, via a sound tagger's class names.

    The audio twin of :class:`VisualSemantics`: a tagger with ``class_names`` and
    ``class_probabilities`` (YAMNet's 521 AudioSet classes, :class:`~interestmap.encoders.
    audio_yamnet.YamnetTagger`) says which sounds a clip holds; the names of its
    ``top_k`` classes, phrased with :data:`SOUND_TEMPLATE`, embedded with the text encoder
    and weighted by their scores, give one text-space vector per clip. A clip then
    compares directly with "the sound of rain" or a declared topic's description, without
    a CLAP model. Takes mono waveforms at ``tagger.sample_rate``.

    ``ignore``: class names left out (the clip pipeline leaves out speech, which its
    speech block already reads, so a talking clip's sound block says what else is heard).

    ``top_k=5``: zero-shot top-1 on the dev half of ESC-50 (207 clips, 50 names), default
    text encoder, top 1/3/5/10/20 classes: 0.42/0.51/0.57/0.52/0.51 (use-m3 alone: best at
    5 too).
    """

    modality = "audio"

    def __init__(self, tagger: Any, text_encoder: TextEncoder, top_k: int = 5,
                 ignore: Sequence[str] = ()) -> None:
        if not getattr(tagger, "class_names", None):
            raise ConfigError(f"{type(tagger).__name__} cannot label sounds, so it cannot "
                              "feed audio semantics; use interestmap's YamnetTagger")
        if int(top_k) < 1:
            raise ConfigError(f"top_k must be >= 1, got {top_k}")
        self.tagger = tagger
        self.text_encoder = text_encoder
        self.top_k = int(top_k)
        self.ignore = tuple(ignore)

    @property
    def sample_rate(self) -> int:
        """The sample rate the tagger expects its waveforms at."""
        return int(self.tagger.sample_rate)

    @property
    def info(self) -> EncoderInfo:
        txt = self.text_encoder.info
        skip = f"|minus{len(self.ignore)}" if self.ignore else ""
        return EncoderInfo(name=f"semantics:yamnet>{txt.name}",
                           version=f"{self.tagger.version}|{txt.version}|top{self.top_k}{skip}",
                           dim=txt.dim, modality="audio")

    def scores(self, waves: Sequence[np.ndarray]) -> np.ndarray:
        """``(n, n_classes)`` the tagger's class scores, the ``ignore``d classes set to 0."""
        return self.without_ignored(self.tagger.class_probabilities(waves))

    def without_ignored(self, scores: np.ndarray) -> np.ndarray:
        """A copy of the tagger's ``(n, n_classes)`` scores with the ``ignore``d classes 0."""
        out = np.array(np.atleast_2d(scores), dtype=np.float32)
        if self.ignore:
            names = self.tagger.class_names
            out[:, [names.index(n) for n in self.ignore if n in names]] = 0.0
        return out

    def encode_scores(self, scores: np.ndarray) -> np.ndarray:
        """``(n, text_dim)`` unit text-space vectors of class scores (from :meth:`scores`)."""
        scores = np.atleast_2d(np.asarray(scores, dtype=np.float32))
        if len(scores) == 0:
            return np.zeros((0, self.text_encoder.info.dim), dtype=np.float32)
        names = class_name_vectors(self.text_encoder, self.tagger.class_names, SOUND_TEMPLATE)
        return weighted_names(scores, names, self.top_k)

    def encode(self, waves: Sequence[np.ndarray]) -> np.ndarray:
        """``(n, text_dim)`` unit text-space vectors of mono waveforms."""
        if len(waves) == 0:
            return np.zeros((0, self.text_encoder.info.dim), dtype=np.float32)
        return self.encode_scores(self.scores(waves))

    def __repr__(self) -> str:
        return (f"AudioSemantics({self.tagger!r}, {self.text_encoder!r}, top_k={self.top_k}"
                + (f", ignore={list(self.ignore)!r}" if self.ignore else "") + ")")
