"""Small preview images of clips, made on first request and cached on disk.

An image gives a scaled-down copy, a video its frame at about one second, an audio file
a picture of its waveform. Thumbnails are keyed by the file's path, size and modification
time, so an edited file gets a fresh one.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from interestmap._io import atomic_writer

log = logging.getLogger(__name__)

THUMB_SIDE = 240
_IMAGE = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff", ".gif", ".jfif"}
_VIDEO = {".mp4", ".mov", ".m4v", ".webm", ".mkv", ".avi", ".3gp", ".flv", ".wmv", ".mpg",
          ".mpeg", ".ts", ".mts", ".ogv"}
_AUDIO = {".wav", ".flac", ".mp3", ".ogg", ".oga", ".opus", ".m4a", ".aac", ".wma", ".aiff",
          ".aif", ".amr", ".weba"}
_LOCK = threading.Lock()


def thumbs_dir() -> Path:
    """Where thumbnails are kept: ``$INTERESTMAP_HOME/thumbs`` (default
    ``~/.cache/interestmap/thumbs``)."""
    home = Path(os.environ.get("INTERESTMAP_HOME", "~/.cache/interestmap")).expanduser()
    return home / "thumbs"


def thumbnail(media: Sequence[str | Path] | str | Path | None,
              side: int = THUMB_SIDE) -> Path | None:
    """Path of a JPEG/PNG preview of the first readable media file, or None (no media,
    unreadable file). Never raises for a bad file: a preview is a nicety."""
    if media is None:
        return None
    paths = [media] if isinstance(media, str | Path) else list(media)
    for raw in paths:
        p = Path(raw)
        try:
            st = p.stat()
        except OSError:
            continue
        key = hashlib.sha1(f"{p.resolve()}|{st.st_size}|{st.st_mtime_ns}|{side}".encode())
        out = thumbs_dir() / f"{key.hexdigest()[:24]}.png"
        if out.is_file():
            return out
        try:
            img = _render(p, side)
        except Exception as e:  # noqa: BLE001 - any decoder failure means "no preview"
            log.info("no thumbnail for %s: %s", p, e)
            continue
        if img is None:
            continue
        with _LOCK:
            out.parent.mkdir(parents=True, exist_ok=True)
            with atomic_writer(out) as fh:
                img.save(fh, format="PNG")
        return out
    return None


def _render(path: Path, side: int):  # -> PIL.Image.Image | None
    ext = path.suffix.lower()
    if ext in _IMAGE:
        return _image(path, side)
    if ext in _VIDEO:
        return _video_frame(path, side)
    if ext in _AUDIO:
        return _waveform(path, side)
    return None


def _image(path: Path, side: int):
    from PIL import Image, ImageOps

    with Image.open(path) as im:
        im = ImageOps.exif_transpose(im)
        im.seek(0)
        im = im.convert("RGB")
        im.thumbnail((side, side))
        return im


def _video_frame(path: Path, side: int):
    import av
    from PIL import Image

    with av.open(str(path)) as c:
        if not c.streams.video:
            return _waveform(path, side) if c.streams.audio else None
        vs = c.streams.video[0]
        target = 1.0
        if vs.duration and vs.time_base:
            target = min(target, float(vs.duration * vs.time_base) / 2)
        best = None
        for frame in c.decode(vs):
            best = frame
            if frame.time is not None and frame.time >= target:
                break
        if best is None:
            return None
        im = best.to_image()
    im.thumbnail((side, side))
    return im if isinstance(im, Image.Image) else None


def _waveform(path: Path, side: int):
    """A picture of the sound: the loudness envelope, mirrored, on white."""
    from PIL import Image, ImageDraw

    wave = _audio_samples(path)
    w, h = side, side // 2
    img = Image.new("RGB", (w, h), "white")
    if wave is None or wave.size == 0:
        return img
    bins = np.array_split(np.abs(wave), w)
    env = np.array([b.max() if b.size else 0.0 for b in bins])
    env = env / (env.max() or 1.0)
    draw = ImageDraw.Draw(img)
    mid = h / 2
    for x, v in enumerate(env):
        draw.line([(x, mid - v * (mid - 4)), (x, mid + v * (mid - 4))], fill="#1f77b4")
    return img


def _audio_samples(path: Path, seconds: float = 30.0) -> np.ndarray | None:
    try:
        import soundfile as sf

        data, sr = sf.read(str(path), frames=int(48000 * seconds), dtype="float32",
                           always_2d=True)
        return data.mean(axis=1)
    except Exception:  # noqa: BLE001 - fall back to PyAV for mp3/m4a/...
        pass
    import av

    chunks: list[np.ndarray] = []
    with av.open(str(path)) as c:
        if not c.streams.audio:
            return None
        total = 0
        for frame in c.decode(c.streams.audio[0]):
            arr = frame.to_ndarray().astype(np.float32)
            if arr.ndim == 2 and arr.shape[0] < arr.shape[1]:
                arr = arr.mean(axis=0)
            chunks.append(arr.ravel())
            total += frame.samples
            if total > frame.sample_rate * seconds:
                break
    return np.concatenate(chunks) if chunks else None
