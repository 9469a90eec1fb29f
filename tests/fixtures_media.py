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
