"""Audio tracks: the first audio stream of a file, decoded to mono float32 samples."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from interestmap.clip import Media
from interestmap.errors import MediaError
from interestmap.media.limits import short_error, too_long


def container_duration(container: object, stream: object | None) -> float | None:
    """Seconds, from the container's header (or the stream's); None if neither says."""
    import av

    dur = getattr(container, "duration", None)
    if dur:
        return float(dur) / av.time_base
    if stream is not None and stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    return None


def decode_audio(path: Path, sample_rate: int, limit_s: float) -> tuple[np.ndarray, str | None]:
    """Mono float32 samples of the first audio stream (at most ``limit_s`` + 1 s), and a
    note when decoding stopped early on damaged data."""
    import av

    max_samples = int((limit_s + 1.0) * sample_rate)
    chunks: list[np.ndarray] = []
    n = 0
    note = None
    with av.open(str(path), metadata_errors="ignore") as c:
        stream = c.streams.audio[0]
        stream.thread_type = "AUTO"
        resampler = av.AudioResampler(format="flt", layout="mono", rate=sample_rate)
        try:
            for frame in c.decode(stream):
                frame.pts = None  # let the resampler count samples; damaged pts confuse it
                for out in resampler.resample(frame):
                    arr = out.to_ndarray().reshape(-1)
                    chunks.append(arr)
                    n += arr.size
                if n >= max_samples:
                    break
            for out in resampler.resample(None):
                chunks.append(out.to_ndarray().reshape(-1))
        except av.FFmpegError as e:
            note = f"the sound of {path.name} is damaged after {n / sample_rate:.1f} s ({short_error(e)}); the rest was skipped"
    audio = np.concatenate(chunks).astype(np.float32, copy=False) if chunks else np.zeros(0, np.float32)
    np.clip(audio, -1.0, 1.0, out=audio)
    return audio[:max_samples], note


def load_audio_file(path: Path, limit_s: float, sample_rate: int) -> Media:
    """An audio-only clip (refused when longer than ``limit_s``)."""
    import av

    try:
        with av.open(str(path), metadata_errors="ignore") as c:
            duration = container_duration(c, c.streams.audio[0])
    except av.FFmpegError as e:
        raise MediaError(f"{path.name} cannot be opened ({short_error(e)}); export it again") from None
    if duration is not None and duration > limit_s + 0.5:
        raise too_long(path, duration, limit_s)
    try:
        audio, note = decode_audio(path, sample_rate, limit_s)
    except av.FFmpegError as e:
        raise MediaError(f"{path.name}: the sound cannot be decoded ({short_error(e)}); export it again") from None
    if audio.size == 0:
        raise MediaError(f"{path.name} contains no sound samples; export it again")
    real = audio.size / sample_rate
    if real > limit_s + 0.5:
        raise too_long(path, real, limit_s)
    media = Media(kind="audio", audio=audio, sample_rate=sample_rate, duration_s=real,
                  missing={"visual": "the post is audio only, it has no picture"})
    if note:
        media.notes.append(note)
    return media
