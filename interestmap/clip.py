"""The data that flows through the pipeline: a clip, its decoded media, its signals.

``Clip`` (what the user gives) -> ``Media`` (decoded frames and audio, see media.py)
-> ``Signals`` (OCR, ASR, language, faces, sound mix, geo; see signals/) -> encoders ->
fusion. Every stage adds to these plain dataclasses; none of them holds a model.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

_RESAMPLE_LOCK = threading.Lock()


@dataclass
class Clip:
    """One post as the user describes it. Every field is optional but not all at once."""

    media: list[Path] = field(default_factory=list)
    """A video, an audio file, one image, or several images (a carousel)."""
    caption: str = ""
    """Caption with hashtags, as posted."""
    language: str | None = None
    """ISO 639-1 code the user declares (overrides detection)."""
    geo: str | None = None
    """A place name (a city, US state or country, see :mod:`interestmap.signals.geo`), or
    "lat,lon"."""
    id: str | None = None
    account: str | None = None
    published_at: str | None = None
    """When it was (or will be) posted: ISO 8601 with a time zone, e.g. "2024-05-01T18:00:00+00:00"."""
    labels: list[str] = field(default_factory=list)
    """The user's own tags for the clip (e.g. a campaign or a known topic); kept as given."""

    @classmethod
    def of(cls, media: str | Path | Sequence[str | Path] | None = None, caption: str = "",
           **kw: Any) -> Clip:
        if media is None:
            paths: list[Path] = []
        elif isinstance(media, str | Path):
            paths = [Path(media)]
        else:
            paths = [Path(p) for p in media]
        return cls(media=paths, caption=caption or "", **kw)


@dataclass
class Media:
    """Decoded media of a clip. ``missing`` says, in words, why a modality is absent."""

    kind: str
    """"video", "image", "carousel", "audio" or "none" (caption-only post)."""
    frames: list[np.ndarray] = field(default_factory=list)
    """Sampled frames (or the images of a post), RGB uint8 ``(H, W, 3)``."""
    frame_times_s: list[float] = field(default_factory=list)
    audio: np.ndarray | None = None
    """Mono float32 waveform in [-1, 1] at ``sample_rate``."""
    sample_rate: int = 48000
    duration_s: float = 0.0
    missing: dict[str, str] = field(default_factory=dict)
    """Modality ("visual", "audio") -> one-line reason it is absent."""
    notes: list[str] = field(default_factory=list)
    """Other things worth telling the user (e.g. "only the first 600 s were analysed")."""

    def audio_at(self, sample_rate: int) -> np.ndarray | None:
        """The audio track resampled to ``sample_rate`` (cached per rate)."""
        if self.audio is None:
            return None
        if sample_rate == self.sample_rate:
            return self.audio
        with _RESAMPLE_LOCK:  # stages running side by side resample a track once
            cache = self.__dict__.setdefault("_resampled", {})
            if sample_rate not in cache:
                import librosa

                cache[sample_rate] = librosa.resample(
                    self.audio, orig_sr=self.sample_rate, target_sr=sample_rate
                ).astype(np.float32)
            return cache[sample_rate]


@dataclass
class GeoPoint:
    """A resolved location."""

    lat: float
    lon: float
    name: str = ""
    country: str = ""
    """ISO 3166-1 alpha-2 code where known."""


@dataclass
class Signals:
    """Raw signals read from a clip: what a platform's models would see and hear."""

    caption: str = ""
    hashtags: list[str] = field(default_factory=list)
    caption_language: str | None = None
    ocr_text: str = ""
    ocr_language: str | None = None
    transcript: str = ""
    speech_language: str | None = None
    speech_segments: list[tuple[float, float, str]] = field(default_factory=list)
    """(start_s, end_s, text) of each transcribed segment."""
    language: str | None = None
    """The clip's language as used for the language block."""
    language_source: str = "unknown"
    """"given", "speech", "caption", "ocr" or "unknown"."""
    faces: dict[str, Any] = field(default_factory=dict)
    """{"frames_with_faces": int, "frames": int, "share": float, "max_faces": int}"""
    speech_share: float | None = None
    music_share: float | None = None
    silence_share: float | None = None
    loudness_dbfs: float | None = None
    """Mean RMS level of the audio track in dBFS (None without audio)."""
    motion: float | None = None
    """Mean absolute frame-to-frame change in [0, 1] (None for fewer than 2 frames)."""
    geo: GeoPoint | None = None
    timings_s: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["speech_segments"] = [list(s) for s in self.speech_segments]
        return d


@dataclass
class EncodedClip:
    """A clip after the whole pipeline: its signals, one vector per block, the fused vector."""

    clip: Clip
    signals: Signals
    blocks: dict[str, np.ndarray | None]
    """Block name -> unit vector, or None where the modality is missing."""
    fused: np.ndarray
    media_kind: str = "none"
    missing: dict[str, str] = field(default_factory=dict)
    """Block or modality -> one-line reason it is absent."""
    notes: list[str] = field(default_factory=list)
    timings_s: dict[str, float] = field(default_factory=dict)
