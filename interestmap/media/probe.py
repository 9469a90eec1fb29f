"""What a media file holds (video, audio or image), read from its content, not its name."""

from __future__ import annotations

from pathlib import Path

from interestmap.errors import MediaError

_VIDEO_EXT = {".mp4", ".mov", ".m4v", ".webm", ".mkv", ".avi", ".3gp", ".flv", ".wmv",
              ".mpg", ".mpeg", ".ts", ".mts", ".ogv", ".gif"}
_AUDIO_EXT = {".wav", ".flac", ".mp3", ".ogg", ".oga", ".opus", ".m4a", ".aac", ".wma",
              ".aiff", ".aif", ".amr", ".weba"}
_ANIMATABLE = {".gif", ".webp", ".png", ".apng"}
"""Extensions that hold either a still image or an animation."""
_IMAGE_EXT = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff", ".heic", ".heif",
              ".avif", ".jfif"}


def check_file(path: Path) -> None:
    """Refuse, in plain words, a path that is missing, a folder, unreadable or empty."""
    if not path.exists():
        raise MediaError(f"{path}: no such file; check the path")
    if path.is_dir():
        raise MediaError(f"{path} is a folder, not a media file; give the files inside it")
    if not path.is_file():
        raise MediaError(f"{path} is not a regular file (a device or a pipe); give a media file")
    try:
        size = path.stat().st_size
        with open(path, "rb") as fh:
            fh.read(1)
    except OSError as e:
        raise MediaError(f"{path} cannot be read ({e.strerror or e}); check its permissions") from None
    if size == 0:
        raise MediaError(f"{path.name} is empty (0 bytes); export or copy it again")


def _looks_like_text(path: Path) -> bool:
    with open(path, "rb") as fh:
        head = fh.read(2048)
    if not head or b"\x00" in head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as e:
        # a multi-byte character cut at the end of the sample is still text
        if e.start < len(head) - 4:
            return False
    return True


def _ext_kind(path: Path) -> str | None:
    ext = path.suffix.lower()
    for kind, exts in (("video", _VIDEO_EXT), ("audio", _AUDIO_EXT), ("image", _IMAGE_EXT)):
        if ext in exts:
            return kind
    return None


def probe(path: Path) -> tuple[str, str | None]:
    """("video" | "audio" | "image", note about a misleading extension or None)."""
    check_file(path)
    kind = probe_image(path) or _probe_av(path)
    if kind is None:
        what = "it is a text file" if _looks_like_text(path) else "its content is not media"
        raise MediaError(f"{path.name} is not a video, image or audio file that can be "
                         f"decoded ({what}); check that it is the right file and not damaged")
    expected = _ext_kind(path)
    note = None
    animated = path.suffix.lower() in _ANIMATABLE and {expected, kind} == {"video", "image"}
    if expected is not None and expected != kind and not animated:
        note = (f"{path.name} has {'an' if expected[0] in 'aeiou' else 'a'} {expected} extension "
                f"but holds {_a(kind)}: read as {_a(kind)}")
    return kind, note


def _a(kind: str) -> str:
    return {"audio": "audio only", "image": "an image", "video": "a video"}[kind]


def probe_image(path: Path) -> str | None:
    """"image", "video" (an animated image) or None if PIL cannot open it."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            animated = bool(getattr(im, "is_animated", False)) and getattr(im, "n_frames", 1) > 1
            return "video" if animated else "image"
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        return None


def _probe_av(path: Path) -> str | None:
    import av

    try:
        with av.open(str(path), metadata_errors="ignore") as c:
            video = [s for s in c.streams.video if not is_attached_pic(s)]
            if video:
                return "video"
            if c.streams.audio:
                return "audio"
            streams = ", ".join(sorted({s.type for s in c.streams})) or "none"
    except (av.FFmpegError, OSError, ValueError, UnicodeDecodeError) as e:
        if _is_truncated_container(path, e):
            raise MediaError(f"{path.name} looks damaged or cut short (the container cannot be "
                             "opened); export or download it again") from None
        return None
    raise MediaError(f"{path.name} holds neither pictures nor sound (streams: {streams}); "
                     "give a file with a video or an audio track")


def _is_truncated_container(path: Path, err: Exception) -> bool:
    """A recognisable container header whose index is missing: a file cut short."""
    with open(path, "rb") as fh:
        head = fh.read(16)
    mp4_like = head[4:8] in (b"ftyp", b"mdat", b"moov", b"free", b"wide")
    mkv_like = head[:4] == b"\x1a\x45\xdf\xa3"
    return mp4_like or mkv_like


def is_attached_pic(stream: object) -> bool:
    """True for a video stream that is only cover art (an mp3's album picture)."""
    import av

    disp = getattr(stream, "disposition", 0)
    return bool(int(disp) & int(av.stream.Disposition.attached_pic))
