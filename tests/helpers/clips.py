"""Real test clips for the analysis and what-if tests, made once per session.

Each clip is a real photo from ``scenes/`` shown for the length of a sentence spoken by
espeak-ng, muxed by ffmpeg, with a caption: so what every modality is about is known.

- ``coherent``: caption, speech and a sea photo all about a beach holiday (Travel);
- ``disagreeing``: a football caption, speech about growing a business, a forest photo.

The ``encoded_clip`` fixture (``tests/conftest.py``) encodes them once per test session
with the default index's encoder.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from functools import cache, lru_cache
from pathlib import Path

from helpers.media import ffmpeg, speech_wav

SEA_PHOTO = "sea/20072.jpg"
FOREST_PHOTO = "forest/20056.jpg"

COHERENT = {
    "speech": "Welcome to my travel vlog. This summer holiday we are at the beach. Look at "
              "the sea and the waves. This is the best trip of my vacation.",
    "photo": SEA_PHOTO,
    "caption": "Summer holiday at the beach 🌊 the sea is so blue #travel #beach #vacation",
}
DISAGREEING = {
    "speech": "Let me explain how to grow your small business. Track your revenue, cut your "
              "costs, and invest the profit to scale your company and increase sales.",
    "photo": FOREST_PHOTO,
    "caption": "What a goal in the derby! ⚽ #football #PremierLeague",
}
SPANISH_CAPTION = "Vacaciones de verano en la playa 🌊 el mar es tan azul #viajes #playa #vacaciones"
BUSINESS_SPEECH = DISAGREEING["speech"]


@lru_cache(maxsize=1)
def workdir() -> Path:
    d = Path(tempfile.mkdtemp(prefix="interestmap-analysis-"))
    atexit.register(shutil.rmtree, d, ignore_errors=True)
    return d


@cache
def still_video(data: Path, photo: str, sentence: str, name: str) -> Path:
    """A real photo shown while ``sentence`` is spoken (H.264 + AAC, 640x360)."""
    src = data / "scenes" / photo
    if not src.is_file():
        photos = sorted((data / "scenes" / photo.split("/")[0]).glob("*.jpg"))
        src = photos[0]
    wav = speech_wav(sentence, workdir() / f"{name}.wav")
    out = workdir() / f"{name}.mp4"
    ffmpeg("-loop", "1", "-i", src, "-i", wav, "-vf", "scale=640:360,format=yuv420p",
           "-c:v", "libx264", "-tune", "stillimage", "-c:a", "aac", "-shortest", out)
    return out


@cache
def speech_only(sentence: str, name: str) -> Path:
    return speech_wav(sentence, workdir() / f"{name}.wav")


def clip(data: Path, spec: dict[str, str], name: str):
    from interestmap.clip import Clip

    video = still_video(data, spec["photo"], spec["speech"], name)
    return Clip.of(video, caption=spec["caption"], id=name)
