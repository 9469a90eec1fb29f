"""Helpers that make real media fixtures on the fly (ffmpeg, espeak-ng, PIL).

Each helper runs a system tool with a timeout and skips the calling test with a clear
message when the tool is not installed.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf")


def need(tool: str) -> str:
    """Path of a system tool, or skip the test naming the package to install."""
    exe = shutil.which(tool)
    if exe is None:
        pytest.skip(f"{tool} is not installed (apt-get install {tool})")
    return exe


def run(*args: str | Path, timeout: float = 120) -> None:
    """Run a command, failing the test with its stderr when it fails."""
    need(str(args[0]))
    proc = subprocess.run([str(a) for a in args], capture_output=True, timeout=timeout)
    if proc.returncode != 0:
        raise AssertionError(f"{args[0]} failed: {proc.stderr.decode(errors='replace')[-800:]}")


def ffmpeg(*args: str | Path, timeout: float = 120) -> None:
    run("ffmpeg", "-nostdin", "-v", "error", "-y", *args, timeout=timeout)


def speech_wav(text: str, path: Path, voice: str = "en", speed: int = 150) -> Path:
    """Speak ``text`` with espeak-ng into a wav file."""
    run("espeak-ng", "-v", voice, "-s", str(speed), "-w", path, text)
    return path


def subtitle_frame(photo: Path, lines: list[str], size: tuple[int, int] = (640, 360),
                   font_px: int = 30, colour: tuple[int, int, int] = (255, 255, 255),
                   outline: tuple[int, int, int] = (0, 0, 0)) -> np.ndarray:
    """A real photo upscaled to ``size`` with subtitle lines drawn near the bottom, in
    ``colour`` with a 2-px ``outline``, as burned-in captions look on short videos."""
    if not FONT.exists():
        pytest.skip(f"font {FONT} missing (apt-get install fonts-dejavu-core)")
    img = Image.open(photo).convert("RGB").resize(size, Image.Resampling.BICUBIC)
    draw = ImageDraw.Draw(img)
    font = ImageFont.truetype(str(FONT), font_px)
    y = size[1] - (font_px + 10) * len(lines) - 12
    for line in lines:
        w = draw.textlength(line, font=font)
        draw.text(((size[0] - w) / 2, y), line, font=font, fill=colour,
                  stroke_width=2, stroke_fill=outline)
        y += font_px + 10
    return np.asarray(img, dtype=np.uint8).copy()


def save_png(frame: np.ndarray, path: Path) -> Path:
    Image.fromarray(frame).save(path)
    return path


# --- a labelled multimodal demo corpus (../shared/data/README.md) ------------------------

ESPEAK_VOICES = {"en": "en-us", "es": "es", "gr": "el", "ja": "ja"}
"""espeak-ng voice for each X-Topic language folder."""
SCENE_FOR_TOPIC = {"sports": "street", "travel & adventure": "mountain",
                   "food & dining": "buildings", "music": "street"}


def demo_clip(out: Path, caption: str, photo: Path, bed: Path, voice: str = "en-us",
              words: int = 14, size: tuple[int, int] = (640, 360)) -> Path:
    """A real short clip: ``caption`` (its first ``words`` words) spoken by espeak-ng over
    the sound ``bed`` (at a lower level), with ``photo`` as the picture, muxed into an
    MP4 by ffmpeg. It lasts as long as the longer of speech and bed."""
    need("espeak-ng")
    need("ffmpeg")
    text = " ".join(w for w in caption.split() if not w.startswith(("http", "@", "{{")))
    text = " ".join(text.split()[:words]) or "hello"
    speech = out.with_suffix(".speech.wav")
    run("espeak-ng", "-v", voice, "-s", "160", "-w", speech, text)
    import soundfile

    seconds = max(soundfile.info(str(speech)).duration, soundfile.info(str(bed)).duration)
    ffmpeg("-loop", "1", "-framerate", "10", "-t", f"{seconds:.2f}", "-i", photo,
           "-i", speech, "-i", bed,
           "-filter_complex",
           f"[0:v]scale={size[0]}:{size[1]},format=yuv420p[v];"
           "[2:a]volume=0.35[b];[1:a][b]amix=inputs=2:duration=longest:normalize=0[a]",
           "-map", "[v]", "-map", "[a]", "-c:v", "libx264", "-preset", "veryfast",
           "-tune", "stillimage", "-c:a", "aac", "-b:a", "96k", "-t", f"{seconds:.2f}", out)
    speech.unlink(missing_ok=True)
    return out


def demo_corpus(data: Path, out: Path, n: int, *, seed: int = 0,
                langs: tuple[str, ...] = ("en", "es", "gr")) -> list[dict]:
    """``n`` demo clips in ``out`` (made once; an existing file is reused) and their
    manifest rows: an X-Topic tweet as caption and speech (its language's voice), a
    photo from ``scenes/``, an ESC-50 sound bed; ``labels`` are the tweet's topics."""
    import json
    import random

    rng = random.Random(seed)
    out.mkdir(parents=True, exist_ok=True)
    tweets = []
    for lang in langs:
        with open(data / "xtopic" / lang / f"{lang}_1000.jsonl", encoding="utf-8") as fh:
            rows = [json.loads(line) for line in fh]
        tweets += [(lang, r) for r in rows if r.get("topics")]
    rng.shuffle(tweets)
    photos = sorted((data / "scenes").glob("*/*.jpg"))
    beds = sorted((data / "esc50" / "audio").glob("*.flac"))
    rows = []
    for k in range(n):
        lang, tweet = tweets[k % len(tweets)]
        photo, bed = rng.choice(photos), rng.choice(beds)
        path = out / f"clip{k:04d}.mp4"
        if not path.is_file() or path.stat().st_size == 0:
            tmp = path.with_name(path.stem + ".part.mp4")
            demo_clip(tmp, tweet["text"], photo, bed, ESPEAK_VOICES[lang])
            tmp.replace(path)
        rows.append({"id": f"clip{k:04d}", "account": f"acct{k % 7}", "media": str(path),
                     "caption": tweet["text"], "language": lang if lang != "gr" else "el",
                     "labels": list(tweet["topics"])})
    return rows


def write_manifest(rows: list[dict], path: Path) -> Path:
    """The rows as a JSONL manifest (one clip per line)."""
    import json

    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows),
                    encoding="utf-8")
    return path
