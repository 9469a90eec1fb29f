"""The one interface every encoder backend implements.

An encoder turns a batch of items of one modality into an ``(n, dim)`` float32 array
of L2-normalised rows. Each backend lives in its own file; the pipeline only sees this
interface. Encoders follow scikit-learn's conventions: ``fit`` is a no-op that returns
``self`` (they are pre-trained), ``transform`` is ``encode`` on a sequence, and heavy
models are loaded lazily, once, on first use.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, ClassVar

import numpy as np


@dataclass(frozen=True)
class EncoderInfo:
    """Identity of the encoder that made a vector: compared before vectors are."""

    name: str
    version: str
    dim: int
    modality: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> EncoderInfo:
        return cls(name=str(d["name"]), version=str(d["version"]), dim=int(d["dim"]),
                   modality=str(d["modality"]))


def l2_normalize(x: Any, axis: int = -1, eps: float = 0.0) -> np.ndarray:
    """Vectors (rows, by default) scaled to unit length, as float32.

    The one normaliser of the package. A vector whose length is at most ``eps`` (by
    default: a zero vector, i.e. a missing block or an empty clip) comes back all zeros,
    never NaN.
    """
    x = np.asarray(x, dtype=np.float32)
    norm = np.linalg.norm(x, axis=axis, keepdims=True)
    return np.divide(x, norm, out=np.zeros_like(x), where=norm > eps)


class Encoder(ABC):
    """A pre-trained model that maps items of one modality to unit vectors."""

    modality: ClassVar[str] = ""

    @property
    @abstractmethod
    def info(self) -> EncoderInfo:
        """Name, version and dimension of the vectors this encoder makes."""

    @abstractmethod
    def encode(self, items: Sequence[Any], *, batch_size: int = 32,
               show_progress: bool = False) -> np.ndarray:
        """Encode a batch into an ``(len(items), dim)`` float32 array of unit rows."""

    # scikit-learn conventions -------------------------------------------------------
    def fit(self, X: Any = None, y: Any = None) -> Encoder:  # noqa: N803 (sklearn name)
        """Pre-trained: nothing to learn. Returns ``self``."""
        return self

    def transform(self, X: Sequence[Any]) -> np.ndarray:  # noqa: N803
        return self.encode(list(X))

    def fit_transform(self, X: Sequence[Any], y: Any = None) -> np.ndarray:  # noqa: N803
        return self.fit(X, y).transform(X)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class TextEncoder(Encoder):
    """Texts (captions, OCR, transcripts, topic descriptions) -> vectors."""

    modality = "text"

    @abstractmethod
    def encode(self, items: Sequence[str], *, batch_size: int = 32,
               show_progress: bool = False) -> np.ndarray: ...


class ImageEncoder(Encoder):
    """RGB uint8 images ``(H, W, 3)`` -> vectors.

    Backends that can also say *what* is in an image implement ``class_names`` and
    ``class_probabilities``; the visual-semantics bridge uses them to put visuals into
    the text space.
    """

    modality = "image"

    @abstractmethod
    def encode(self, items: Sequence[np.ndarray], *, batch_size: int = 32,
               show_progress: bool = False) -> np.ndarray: ...

    @property
    def class_names(self) -> list[str] | None:
        """Names of the classes ``class_probabilities`` scores, or None if unsupported."""
        return None

    def class_probabilities(self, images: Sequence[np.ndarray]) -> np.ndarray:
        """``(n, n_classes)`` probabilities over ``class_names``."""
        raise NotImplementedError(f"{type(self).__name__} cannot label images")

    @property
    def has_text_side(self) -> bool:
        """True if ``encode_text`` maps texts into this encoder's image space (CLIP)."""
        return False

    def encode_text(self, texts: Sequence[str]) -> np.ndarray:
        raise NotImplementedError(f"{type(self).__name__} has no text side")


class AudioEncoder(Encoder):
    """Mono float32 waveforms at ``sample_rate`` -> vectors."""

    modality = "audio"
    sample_rate: int = 16000

    @abstractmethod
    def encode(self, items: Sequence[np.ndarray], *, batch_size: int = 8,
               show_progress: bool = False) -> np.ndarray: ...

    @property
    def has_text_side(self) -> bool:
        """True if ``encode_text`` maps texts into this encoder's audio space (CLAP)."""
        return False

    def encode_text(self, texts: Sequence[str]) -> np.ndarray:
        raise NotImplementedError(f"{type(self).__name__} has no text side")
