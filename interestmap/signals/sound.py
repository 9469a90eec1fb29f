"""What the sound track is made of: speech, music, silence (and other sounds), and loudness.

The track is cut into 32 ms frames at 16 kHz and each frame gets one label, in order:
1. speech: inside a segment found by Silero VAD (``load_silero_vad(onnx=True)``);
2. silence: RMS level below ``min(-35, max(-55, p95 - 35))`` dBFS, where p95 is the
   95th percentile of the track's frame levels (quiet for this recording, or near
   digital silence);
3. music: tonal and steady. Harmonic-percussive separation (librosa HPSS, margin 3) puts
   sustained pitched energy in the harmonic part; a frame is tonal when the harmonic
   part holds at least ``MUSIC_HARMONIC_RATIO`` of its energy, smoothed over 1 s, and
   tonal runs shorter than ``MUSIC_MIN_RUN_S`` are dropped. Noise (rain, traffic),
   barks and claps are not tonal; a sung vocal usually counts as speech, and steady
   tonal non-music (a held note, bells, a hum) counts as music;
4. other: everything else (noise, effects, animals).
The four shares sum to 1; ``Signals`` carries the first three.
"""

from __future__ import annotations

import functools
import warnings
from dataclasses import dataclass, field

import numpy as np

from interestmap.errors import MissingDependencyError

SAMPLE_RATE = 16000
HOP = 512
"""32 ms at 16 kHz, the Silero VAD window."""
MUSIC_HARMONIC_RATIO = 0.4
MUSIC_MIN_RUN_S = 1.5
_FLOOR_DB = -100.0


@dataclass
class SoundMix:
    """Shares of the track's duration (they sum to 1) and its level."""

    speech_share: float = 0.0
    music_share: float = 0.0
    silence_share: float = 0.0
    other_share: float = 0.0
    loudness_dbfs: float = _FLOOR_DB
    """RMS level of the whole track in dBFS (-100 for digital silence)."""
    speech_s: float = 0.0
    speech_segments: list[tuple[float, float]] = field(default_factory=list)


@functools.lru_cache(maxsize=1)
def _vad_model() -> object:
    try:
        from silero_vad import load_silero_vad
    except ImportError:
        raise MissingDependencyError("speech detection needs silero-vad: pip install "
                                     "silero-vad==6.2.3") from None
    with warnings.catch_warnings():  # silero-vad 6 uses a deprecated importlib call
        warnings.simplefilter("ignore", DeprecationWarning)
        return load_silero_vad(onnx=True)


def speech_segments(audio_16k: np.ndarray) -> list[tuple[float, float]]:
    """(start_s, end_s) of the stretches Silero VAD hears as speech."""
    if audio_16k.size < HOP * 4:
        return []
    import torch
    from silero_vad import get_speech_timestamps

    with torch.inference_mode():
        stamps = get_speech_timestamps(torch.from_numpy(np.ascontiguousarray(audio_16k)),
                                       _vad_model(), sampling_rate=SAMPLE_RATE)
    return [(s["start"] / SAMPLE_RATE, s["end"] / SAMPLE_RATE) for s in stamps]


def loudness_dbfs(audio: np.ndarray) -> float:
    """RMS level of a waveform in dBFS (full-scale sine = -3 dB); -100 for silence."""
    if audio.size == 0:
        return _FLOOR_DB
    rms = float(np.sqrt(np.mean(np.square(audio, dtype=np.float64))))
    return max(_FLOOR_DB, 20.0 * float(np.log10(rms))) if rms > 0 else _FLOOR_DB


def analyse_sound(audio_16k: np.ndarray) -> SoundMix:
    """Speech / music / silence / other shares and loudness of mono 16 kHz audio."""
    audio = np.asarray(audio_16k, dtype=np.float32)
    n = audio.size // HOP
    if n == 0:
        return SoundMix(silence_share=1.0 if audio.size else 0.0, loudness_dbfs=loudness_dbfs(audio))
    frames = audio[: n * HOP].reshape(n, HOP)
    level = 10.0 * np.log10(np.mean(np.square(frames, dtype=np.float64), axis=1) + 1e-12)

    segs = speech_segments(audio)
    speech = np.zeros(n, dtype=bool)
    for start, end in segs:
        speech[int(start * SAMPLE_RATE) // HOP: int(np.ceil(end * SAMPLE_RATE / HOP))] = True

    p95 = float(np.percentile(level, 95))
    silent = ~speech & (level < min(-35.0, max(-55.0, p95 - 35.0)))

    music = ~speech & ~silent & _tonal(audio, n)
    other = ~speech & ~silent & ~music
    return SoundMix(
        speech_share=float(speech.mean()), music_share=float(music.mean()),
        silence_share=float(silent.mean()), other_share=float(other.mean()),
        loudness_dbfs=loudness_dbfs(audio), speech_s=float(speech.sum() * HOP / SAMPLE_RATE),
        speech_segments=segs)


def _tonal(audio: np.ndarray, n: int) -> np.ndarray:
    """Per frame: part of a steady tonal run (at least MUSIC_MIN_RUN_S long)."""
    import librosa
    from scipy.ndimage import median_filter

    spec = np.abs(librosa.stft(audio, n_fft=1024, hop_length=HOP, center=True))[:, :n]
    harm, _ = librosa.decompose.hpss(spec, kernel_size=17, margin=3.0)
    ratio = np.square(harm).sum(axis=0) / (np.square(spec).sum(axis=0) + 1e-12)
    win = max(1, int(round(SAMPLE_RATE / HOP)))  # ~1 s
    tonal = median_filter(ratio, size=win, mode="nearest") >= MUSIC_HARMONIC_RATIO
    if tonal.size < n:
        tonal = np.pad(tonal, (0, n - tonal.size))
    min_run = int(MUSIC_MIN_RUN_S * SAMPLE_RATE / HOP)
    out = np.zeros(n, dtype=bool)
    i = 0
    while i < n:
        if tonal[i]:
            j = i
            while j < n and tonal[j]:
                j += 1
            if j - i >= min_run:
                out[i:j] = True
            i = j
        else:
            i += 1
    return out
