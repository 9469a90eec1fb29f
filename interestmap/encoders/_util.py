"""Small helpers shared by the encoder backends: batching, versions, model caches."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from importlib import metadata
from typing import Any, TypeVar

import numpy as np

from interestmap.errors import MissingDependencyError

T = TypeVar("T")


def package_version(dist: str) -> str:
    """``"dist==X.Y.Z"`` of an installed distribution (``"dist==?"`` if unknown)."""
    try:
        return f"{dist}=={metadata.version(dist)}"
    except metadata.PackageNotFoundError:
        return f"{dist}==?"


def require(module: str, pip_spec: str, what: str) -> Any:
    """Import ``module`` or raise :class:`MissingDependencyError` naming the pip command."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as e:
        raise MissingDependencyError(
            f"{what} needs the '{module}' package: run `pip install {pip_spec}`") from e


def batches(items: Sequence[T], batch_size: int, *, show_progress: bool = False,
            desc: str = "encoding") -> Iterator[Sequence[T]]:
    """Consecutive slices of ``items`` of at most ``batch_size``, with an optional tqdm bar."""
    batch_size = max(1, int(batch_size))
    starts = range(0, len(items), batch_size)
    if show_progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(items), desc=desc, unit="item")
        try:
            for s in starts:
                chunk = items[s:s + batch_size]
                yield chunk
                bar.update(len(chunk))
        finally:
            bar.close()
    else:
        for s in starts:
            yield items[s:s + batch_size]


def encode_in_batches(items: Sequence[T], fn: Callable[[Sequence[T]], np.ndarray], dim: int,
                      batch_size: int, show_progress: bool, desc: str) -> np.ndarray:
    """Apply ``fn`` batch by batch and stack the rows, L2-normalised, as float32."""
    from interestmap.encoders.base import l2_normalize

    if len(items) == 0:
        return np.zeros((0, dim), dtype=np.float32)
    parts = [np.asarray(fn(chunk), dtype=np.float32).reshape(len(chunk), dim)
             for chunk in batches(items, batch_size, show_progress=show_progress, desc=desc)]
    return l2_normalize(np.concatenate(parts, axis=0))


def mono_wave(wave: Any) -> np.ndarray:
    """``wave`` as a 1-d float32 array: a 2-d one is mixed down over its shorter axis (the
    channels); anything else, or an empty track, is a :class:`MediaError`."""
    from interestmap.errors import MediaError

    wave = np.asarray(wave, dtype=np.float32)
    if wave.ndim == 2:
        wave = wave.mean(axis=int(np.argmin(wave.shape)))
    if wave.ndim != 1:
        raise MediaError(f"audio must be a mono waveform, got an array of shape {wave.shape}")
    if wave.size == 0:
        raise MediaError("the audio track is empty (0 samples)")
    return wave


class LazyModel:
    """Holds a model built by ``factory`` on first use; one build per process and key."""

    _cache: dict[Any, Any] = {}
    _lock = threading.Lock()

    @classmethod
    def get(cls, key: Any, factory: Callable[[], Any]) -> Any:
        if key in cls._cache:
            return cls._cache[key]
        with cls._lock:
            if key not in cls._cache:
                cls._cache[key] = factory()
            return cls._cache[key]


def disk_cached(kind: str, key: Any, build: Callable[[], T]) -> T:
    """``build()``'s result, kept on disk under ``$INTERESTMAP_HOME/cache`` by ``key``.

    For things that are slow to make and never change for the same ``key`` (the
    encoders' names and versions go into it): class-name vectors, label lists. Arrays
    are kept as ``.npy``, anything else as JSON. Writes go through a temporary file and a
    rename, so readers never see half a file; an unreadable file is rebuilt. When the
    folder is not writable the result is simply not kept.
    """
    import hashlib
    import json

    from interestmap._io import atomic_writer
    from interestmap.signals.asr import interestmap_home

    digest = hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()
    folder = interestmap_home() / "cache"
    base = folder / f"{kind}-{digest[:24]}"
    for path in (base.with_suffix(".npy"), base.with_suffix(".json")):
        if path.is_file():
            try:
                if path.suffix == ".npy":
                    return np.load(path, allow_pickle=False)  # type: ignore[return-value]
                return json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                path.unlink(missing_ok=True)
    value = build()
    is_array = isinstance(value, np.ndarray)
    path = base.with_suffix(".npy" if is_array else ".json")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with atomic_writer(path) as fh:
            if is_array:
                np.save(fh, value, allow_pickle=False)
            else:
                fh.write(json.dumps(value, ensure_ascii=False).encode("utf-8"))
    except OSError:
        pass
    return value
