"""Decode a clip's media files into ``Media``: sampled RGB frames and a mono audio track.

What a user can give:
- one video (anything FFmpeg decodes: mp4, mov, webm, mkv, animated gif/webp, ...);
- one audio file (wav, flac, mp3, ogg, m4a, ...);
- one image, or several images (a carousel), optionally with one audio file (a photo post
  with a sound), in the order given.

The kind is decided from the content, not from the extension: a file whose extension
lies but whose content decodes is read, with a note saying so.

Durations: clips longer than ``max_duration_s`` (default 600 s, or the
``INTERESTMAP_MAX_DURATION_S`` environment variable) are refused with a message naming
the setting, rather than analysed in part: the result for a long video would describe
only its start while looking like a verdict on the whole. The length is read from the
container before anything is decoded, so refusing costs nothing.

Video frames: candidates on a uniform time grid are decoded, then up to ``max_frames``
are kept: the candidates that differ most from the previous one (scene changes) and a
uniform spread over the rest. Frames are downscaled so their long side is at most
``MAX_FRAME_SIDE`` pixels.

One module per job: ``probe`` (what a file holds), ``video``, ``audio``, ``images``,
``frames`` (which frames to keep), ``limits`` (size and length limits, messages).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

from interestmap.clip import Media
from interestmap.errors import ConfigError, MediaError
from interestmap.media.audio import load_audio_file
from interestmap.media.images import load_images
from interestmap.media.limits import max_duration_setting
from interestmap.media.probe import probe
from interestmap.media.video import load_video


def load_media(paths: Path | str | Sequence[Path | str] | None, *, max_frames: int = 16,
               max_duration_s: float | None = None, sample_rate: int = 48000) -> Media:
    """Decode the media files of one clip.

    ``max_duration_s=None`` means the ``INTERESTMAP_MAX_DURATION_S`` setting (600 s by
    default). Raises ``MediaError`` (one line, naming the file) for anything that cannot
    be read. No paths gives ``Media(kind="none")`` for a caption-only post.
    """
    if max_frames < 1:
        raise ConfigError(f"max_frames must be at least 1, got {max_frames}")
    if sample_rate < 8000:
        raise ConfigError(f"sample_rate must be at least 8000 Hz, got {sample_rate}")
    limit_s = max_duration_setting() if max_duration_s is None else float(max_duration_s)
    if not limit_s > 0:
        raise ConfigError(f"max_duration_s must be positive, got {max_duration_s}")

    plist = list(iter_paths(paths))
    if not plist:
        return Media(kind="none", sample_rate=sample_rate,
                     missing={"visual": "the post has no media", "audio": "the post has no media"})

    probes = [probe(p) for p in plist]
    kinds = [k for k, _ in probes]
    notes = [n for _, n in probes if n]

    if len(plist) == 1 and kinds[0] == "video":
        media = load_video(plist[0], max_frames, limit_s, sample_rate)
    elif len(plist) == 1 and kinds[0] == "audio":
        media = load_audio_file(plist[0], limit_s, sample_rate)
    elif all(k in ("image", "audio") for k in kinds) and kinds.count("audio") <= 1:
        media = load_images(plist, kinds, max_frames, limit_s, sample_rate)
    else:
        names = ", ".join(f"{p.name} ({k})" for p, k in zip(plist, kinds, strict=True))
        raise MediaError(f"cannot combine {names}: give one video, one audio file, or "
                         "images (optionally with one audio file)")
    media.notes[:0] = notes
    return media


def iter_paths(paths: Path | str | Sequence[Path | str] | None) -> Iterator[Path]:
    """The given media paths as ``Path`` objects (a single path or a sequence)."""
    if paths is None:
        return
    if isinstance(paths, str | Path):
        yield Path(paths)
        return
    for p in paths:
        yield Path(p)
