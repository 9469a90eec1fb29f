"""Still images and carousels (several images, optionally with one audio file)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from interestmap.clip import Media
from interestmap.errors import MediaError
from interestmap.media.audio import load_audio_file
from interestmap.media.limits import MAX_FRAME_SIDE, short_error


def load_image(path: Path) -> np.ndarray:
    """RGB uint8 pixels, EXIF-rotated, transparency on white, long side <= MAX_FRAME_SIDE."""
    from PIL import Image, ImageOps

    try:
        with Image.open(path) as im:
            im.draft("RGB", (MAX_FRAME_SIDE, MAX_FRAME_SIDE))
            im = ImageOps.exif_transpose(im)
            if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
                im = im.convert("RGBA")
                bg = Image.new("RGBA", im.size, (255, 255, 255, 255))
                im = Image.alpha_composite(bg, im)
            im = im.convert("RGB")
            im.thumbnail((MAX_FRAME_SIDE, MAX_FRAME_SIDE))
            return np.asarray(im, dtype=np.uint8).copy()
    except Image.DecompressionBombError:
        raise MediaError(f"{path.name} is too large an image to decode safely; resize it") from None
    except (OSError, ValueError, SyntaxError) as e:
        raise MediaError(f"{path.name} is a damaged image ({short_error(e)}); export it again") from None


def load_images(paths: list[Path], kinds: list[str], max_frames: int, limit_s: float,
                 sample_rate: int) -> Media:
    """An image or carousel post (at most ``max_frames`` images), with its sound if any."""
    images = [p for p, k in zip(paths, kinds, strict=True) if k == "image"]
    audio_files = [p for p, k in zip(paths, kinds, strict=True) if k == "audio"]
    notes: list[str] = []
    if len(images) > max_frames:
        notes.append(f"the post has {len(images)} images; only the first {max_frames} were "
                     "analysed (raise max_frames to use more)")
        images = images[:max_frames]
    frames = [load_image(p) for p in images]
    media = Media(kind="carousel" if len(frames) > 1 else "image", frames=frames,
                  frame_times_s=[0.0] * len(frames), sample_rate=sample_rate, notes=notes)
    if audio_files:
        sound = load_audio_file(audio_files[0], limit_s, sample_rate)
        media.audio, media.duration_s = sound.audio, sound.duration_s
        media.notes += sound.notes
    else:
        media.missing["audio"] = ("the post is an image, it has no sound" if len(frames) == 1
                                  else "the post is a set of images, it has no sound")
    return media
