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

Video frames: candidates on a uniform time grid are decoded (sequentially for short
videos, by seeking for long ones, so decode work and memory stay bounded), then up to
``max_frames`` are kept: the candidates that differ most from the previous one (scene
changes) and a uniform spread over the rest. Frames are downscaled so their long side is
at most ``MAX_FRAME_SIDE`` pixels.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from interestmap.clip import Media
from interestmap.errors import ConfigError, MediaError

MAX_FRAME_SIDE = 1920
"""Long side, in pixels, above which frames and images are downscaled."""
DEFAULT_MAX_DURATION_S = 600.0
ENV_MAX_DURATION = "INTERESTMAP_MAX_DURATION_S"
SCENE_CHANGE_THRESHOLD = 0.12
"""Mean absolute difference (0..1) of 32x32 colour thumbnails that counts as a scene change."""
_SEQUENTIAL_MAX_FRAMES = 1800
"""Videos with at most this many frames are decoded start to end; longer ones by seeking."""
_MAX_DECODE_PER_SEEK = 400
_MAX_ANIMATION_FRAMES = 5000

_VIDEO_EXT = {".mp4", ".mov", ".m4v", ".webm", ".mkv", ".avi", ".3gp", ".flv", ".wmv",
              ".mpg", ".mpeg", ".ts", ".mts", ".ogv", ".gif"}
_AUDIO_EXT = {".wav", ".flac", ".mp3", ".ogg", ".oga", ".opus", ".m4a", ".aac", ".wma",
              ".aiff", ".aif", ".amr", ".weba"}
_ANIMATABLE = {".gif", ".webp", ".png", ".apng"}
"""Extensions that hold either a still image or an animation."""
_IMAGE_EXT = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff", ".heic", ".heif",
              ".avif", ".jfif"}


def max_duration_setting() -> float:
    """The longest clip analysed, in seconds: ``INTERESTMAP_MAX_DURATION_S`` or 600."""
    raw = os.environ.get(ENV_MAX_DURATION)
    if raw is None or not raw.strip():
        return DEFAULT_MAX_DURATION_S
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not value > 0 or math.isinf(value):
        raise ConfigError(f"{ENV_MAX_DURATION}={raw!r} is not a positive number of seconds: "
                          "set it to e.g. 600 or unset it")
    return value


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

    probes = [_probe(p) for p in plist]
    kinds = [k for k, _ in probes]
    notes = [n for _, n in probes if n]

    if len(plist) == 1 and kinds[0] == "video":
        media = _load_video(plist[0], max_frames, limit_s, sample_rate)
    elif len(plist) == 1 and kinds[0] == "audio":
        media = _load_audio_file(plist[0], limit_s, sample_rate)
    elif all(k in ("image", "audio") for k in kinds) and kinds.count("audio") <= 1:
        media = _load_images(plist, kinds, max_frames, limit_s, sample_rate)
    else:
        names = ", ".join(f"{p.name} ({k})" for p, k in zip(plist, kinds, strict=True))
        raise MediaError(f"cannot combine {names}: give one video, one audio file, or "
                         "images (optionally with one audio file)")
    media.notes[:0] = notes
    return media


# --- probing -------------------------------------------------------------------------


def _check_file(path: Path) -> None:
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


def _probe(path: Path) -> tuple[str, str | None]:
    """("video" | "audio" | "image", note about a misleading extension or None)."""
    _check_file(path)
    kind = _probe_image(path) or _probe_av(path)
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


def _probe_image(path: Path) -> str | None:
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
            video = [s for s in c.streams.video if not _is_attached_pic(s)]
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


def _is_attached_pic(stream: object) -> bool:
    import av

    disp = getattr(stream, "disposition", 0)
    return bool(int(disp) & int(av.stream.Disposition.attached_pic))


# --- images --------------------------------------------------------------------------


def _load_image(path: Path) -> np.ndarray:
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
        raise MediaError(f"{path.name} is a damaged image ({_short(e)}); export it again") from None


def _load_images(paths: list[Path], kinds: list[str], max_frames: int, limit_s: float,
                 sample_rate: int) -> Media:
    images = [p for p, k in zip(paths, kinds, strict=True) if k == "image"]
    audio_files = [p for p, k in zip(paths, kinds, strict=True) if k == "audio"]
    notes: list[str] = []
    if len(images) > max_frames:
        notes.append(f"the post has {len(images)} images; only the first {max_frames} were "
                     "analysed (raise max_frames to use more)")
        images = images[:max_frames]
    frames = [_load_image(p) for p in images]
    media = Media(kind="carousel" if len(frames) > 1 else "image", frames=frames,
                  frame_times_s=[0.0] * len(frames), sample_rate=sample_rate, notes=notes)
    if audio_files:
        sound = _load_audio_file(audio_files[0], limit_s, sample_rate)
        media.audio, media.duration_s = sound.audio, sound.duration_s
        media.notes += sound.notes
    else:
        media.missing["audio"] = ("the post is an image, it has no sound" if len(frames) == 1
                                  else "the post is a set of images, it has no sound")
    return media


# --- audio ---------------------------------------------------------------------------


def _container_duration(container: object, stream: object | None) -> float | None:
    import av

    dur = getattr(container, "duration", None)
    if dur:
        return float(dur) / av.time_base
    if stream is not None and stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    return None


def _too_long(path: Path, duration_s: float, limit_s: float) -> MediaError:
    return MediaError(
        f"{path.name} is {_fmt_s(duration_s)} long; clips up to {_fmt_s(limit_s)} are analysed: "
        f"trim it, or raise the limit with {ENV_MAX_DURATION} (or max_duration_s)")


def _fmt_s(s: float) -> str:
    if s >= 120:
        return f"{s / 60:.1f} min"
    return f"{s:.1f} s"


def _decode_audio(path: Path, sample_rate: int, limit_s: float) -> tuple[np.ndarray, str | None]:
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
            note = f"the sound of {path.name} is damaged after {n / sample_rate:.1f} s ({_short(e)}); the rest was skipped"
    audio = np.concatenate(chunks).astype(np.float32, copy=False) if chunks else np.zeros(0, np.float32)
    np.clip(audio, -1.0, 1.0, out=audio)
    return audio[:max_samples], note


def _load_audio_file(path: Path, limit_s: float, sample_rate: int) -> Media:
    import av

    try:
        with av.open(str(path), metadata_errors="ignore") as c:
            duration = _container_duration(c, c.streams.audio[0])
    except av.FFmpegError as e:
        raise MediaError(f"{path.name} cannot be opened ({_short(e)}); export it again") from None
    if duration is not None and duration > limit_s + 0.5:
        raise _too_long(path, duration, limit_s)
    try:
        audio, note = _decode_audio(path, sample_rate, limit_s)
    except av.FFmpegError as e:
        raise MediaError(f"{path.name}: the sound cannot be decoded ({_short(e)}); export it again") from None
    if audio.size == 0:
        raise MediaError(f"{path.name} contains no sound samples; export it again")
    real = audio.size / sample_rate
    if real > limit_s + 0.5:
        raise _too_long(path, real, limit_s)
    media = Media(kind="audio", audio=audio, sample_rate=sample_rate, duration_s=real,
                  missing={"visual": "the post is audio only, it has no picture"})
    if note:
        media.notes.append(note)
    return media


# --- video ---------------------------------------------------------------------------


def _load_video(path: Path, max_frames: int, limit_s: float, sample_rate: int) -> Media:
    import av

    notes: list[str] = []
    try:
        with av.open(str(path), metadata_errors="ignore") as c:
            vstreams = [s for s in c.streams.video if not _is_attached_pic(s)]
            if not vstreams:  # an animated image PIL can read but FFmpeg cannot
                raise av.InvalidDataError(0, "no video stream")
            vs = vstreams[0]
            has_audio = bool(c.streams.audio)
            duration = _container_duration(c, vs)
            if duration is not None and duration > limit_s + 0.5:
                raise _too_long(path, duration, limit_s)
            fps = float(vs.average_rate or vs.guessed_rate or 25)
            if duration is None:
                duration = _demux_duration(c, vs)
                if duration is not None and duration > limit_s + 0.5:
                    raise _too_long(path, duration, limit_s)
            cands, note = _video_candidates(c, vs, duration, fps, max_frames, limit_s)
            if note:
                notes.append(note)
    except av.FFmpegError as e:
        if _probe_image(path) == "video":
            return _load_animation(path, max_frames, limit_s, sample_rate)
        raise MediaError(f"{path.name} cannot be decoded ({_short(e)}); export it again") from None
    if not cands:
        raise MediaError(f"{path.name}: no picture could be decoded from the video; it is "
                         "damaged or empty, export it again")
    frames, times = _select(cands, max_frames)
    media = Media(kind="video", frames=frames, frame_times_s=times, sample_rate=sample_rate,
                  duration_s=float(duration or cands[-1][0]), notes=notes)
    if not has_audio:
        media.missing["audio"] = "the video has no sound track"
        return media
    try:
        audio, anote = _decode_audio(path, sample_rate, min(limit_s, media.duration_s + 1.0))
    except av.FFmpegError as e:
        audio, anote = np.zeros(0, np.float32), f"the sound track of {path.name} cannot be decoded ({_short(e)})"
    if anote:
        media.notes.append(anote)
    if audio.size == 0:
        media.missing["audio"] = "the video's sound track is empty or unreadable"
    else:
        media.audio = audio
    if notes:  # damaged or cut short: the analysed length is what decoded
        media.duration_s = max(cands[-1][0] + 1.0 / fps, audio.size / sample_rate)
    return media


def _demux_duration(container: object, vs: object) -> float | None:
    """Duration from the last packet timestamp, for containers without one in the header."""
    last = None
    try:
        for pkt in container.demux(vs):
            if pkt.pts is not None:
                last = pkt.pts if last is None else max(last, pkt.pts)
    except Exception:  # noqa: BLE001 - damaged tail: keep what was read
        pass
    container.seek(0)
    if last is None or not vs.time_base:
        return None
    start = vs.start_time or 0
    return float((last - start) * vs.time_base)


def _grid(duration: float | None, max_frames: int, limit_s: float) -> list[float]:
    """Candidate times: ~4 per second for short clips, at least max_frames, at most 3x."""
    dur = min(duration if duration else limit_s, limit_s)
    n = int(min(3 * max_frames, max(max_frames, math.ceil(dur * 4))))
    step = dur / n
    return [i * step for i in range(n)]


def _target_size(w: int, h: int) -> tuple[int, int]:
    scale = min(1.0, MAX_FRAME_SIDE / max(w, h, 1))
    return max(2, int(round(w * scale / 2)) * 2), max(2, int(round(h * scale / 2)) * 2)


def _to_rgb(frame: object) -> np.ndarray:
    w, h = _target_size(frame.width, frame.height)
    arr = frame.to_ndarray(format="rgb24", width=w, height=h)
    rot = int(getattr(frame, "rotation", 0) or 0) % 360
    if rot:
        arr = np.ascontiguousarray(np.rot90(arr, k=rot // 90))
    return arr


def _frame_time(frame: object, start: float, index: int, fps: float) -> float:
    t = frame.time
    return max(0.0, float(t) - start) if t is not None else index / fps


def _video_candidates(c: object, vs: object, duration: float | None, fps: float, max_frames: int,
                      limit_s: float) -> tuple[list[tuple[float, np.ndarray]], str | None]:
    """Decoded frames at (about) the grid times, with a note if the video is damaged."""
    import av

    grid = _grid(duration, max_frames, limit_s)
    start = float(vs.start_time * vs.time_base) if vs.start_time and vs.time_base else 0.0
    vs.thread_type = "AUTO"
    est_frames = (duration or limit_s) * fps
    cands: list[tuple[float, np.ndarray]] = []
    if est_frames <= _SEQUENTIAL_MAX_FRAMES or not vs.time_base:
        gi = 0
        last_t = 0.0
        try:
            for i, frame in enumerate(c.decode(vs)):
                t = _frame_time(frame, start, i, fps)
                last_t = t
                if t > limit_s + 0.5:
                    raise _too_long(Path(c.name), t, limit_s)
                if gi < len(grid) and t + 0.5 / fps >= grid[gi]:
                    cands.append((t, _to_rgb(frame)))
                    while gi < len(grid) and grid[gi] <= t + 0.5 / fps:
                        gi += 1
                if gi >= len(grid) and duration is not None:
                    break
        except av.FFmpegError as e:
            return cands, (f"the video is damaged after {last_t:.1f} s ({_short(e)}); "
                           "only the part before was analysed")
        if duration and cands and last_t < duration - max(1.0, 2 * duration / len(grid)) \
                and gi < len(grid):
            return cands, (f"the video stops after {last_t:.1f} s of {duration:.1f} s "
                           "(cut short?); only that part was analysed")
        return cands, None
    # Seek to the keyframe before each grid time; take it when it is within half a grid
    # step (typical for long videos: one decode per point), else decode forward to it.
    errors = 0
    tolerance = (grid[1] - grid[0]) / 2 if len(grid) > 1 else 1.0
    for t in grid:
        try:
            c.seek(int((t + start) / vs.time_base), stream=vs, backward=True, any_frame=False)
            for k, frame in enumerate(c.decode(vs)):
                ft = _frame_time(frame, start, 0, fps)
                if ft + tolerance >= t or k >= _MAX_DECODE_PER_SEEK:
                    if not cands or ft > cands[-1][0]:
                        cands.append((ft, _to_rgb(frame)))
                    break
        except av.FFmpegError:
            errors += 1
            continue
    note = (f"{errors} of {len(grid)} sampled points of the video could not be decoded"
            if errors else None)
    return cands, note


def _load_animation(path: Path, max_frames: int, limit_s: float, sample_rate: int) -> Media:
    """Animated GIF/WebP/PNG through PIL, when FFmpeg cannot decode it."""
    from PIL import Image, ImageSequence

    times: list[float] = []
    t = 0.0
    with Image.open(path) as im:
        for i, _ in enumerate(ImageSequence.Iterator(im)):
            if i >= _MAX_ANIMATION_FRAMES:
                break
            times.append(t)
            t += max(float(im.info.get("duration", 100) or 100), 10.0) / 1000.0
        duration = t
        if duration > limit_s + 0.5:
            raise _too_long(path, duration, limit_s)
        grid = _grid(duration, max_frames, limit_s)
        wanted = sorted({int(np.searchsorted(times, g, side="right") - 1) for g in grid})
        cands = []
        for i in wanted:
            im.seek(max(i, 0))
            rgb = im.convert("RGB")
            rgb.thumbnail((MAX_FRAME_SIDE, MAX_FRAME_SIDE))
            cands.append((times[max(i, 0)], np.asarray(rgb, dtype=np.uint8).copy()))
    frames, ftimes = _select(cands, max_frames)
    return Media(kind="video", frames=frames, frame_times_s=ftimes, sample_rate=sample_rate,
                 duration_s=duration, missing={"audio": "the animation has no sound track"})


def _thumb(frame: np.ndarray) -> np.ndarray:
    """32x32 colour thumbnail in [0, 1] by block averaging (no resampling library needed)."""
    step = max(1, min(frame.shape[0], frame.shape[1]) // 128)
    small = frame[::step, ::step].astype(np.float32)
    h, w = small.shape[:2]
    ys = np.linspace(0, h, 33).astype(int)
    xs = np.linspace(0, w, 33).astype(int)
    rows = np.add.reduceat(small, ys[:-1], axis=0) / np.diff(ys)[:, None, None].clip(min=1)
    return (np.add.reduceat(rows, xs[:-1], axis=1) / np.diff(xs)[None, :, None].clip(min=1)) / 255.0


def scene_change_scores(frames: Sequence[np.ndarray]) -> np.ndarray:
    """Mean absolute difference (0..1) of each frame's thumbnail to the previous frame's;
    the first frame scores 0."""
    thumbs = [_thumb(f) for f in frames]
    scores = np.zeros(len(thumbs), dtype=np.float32)
    for i in range(1, len(thumbs)):
        scores[i] = float(np.abs(thumbs[i] - thumbs[i - 1]).mean())
    return scores


NEAR_DUPLICATE = 0.003
"""Mean absolute difference (0..1) of 32x32 colour thumbnails below which two frames count
as the same picture (a still photo or a static shot differs by ~0.0001 between frames,
from compression noise; a slow pan by 0.005 and more)."""


def representatives(frames: Sequence[np.ndarray], threshold: float = NEAR_DUPLICATE
                    ) -> list[int]:
    """For each frame, the index of the first frame of its run of near-identical frames.

    A run is a stretch of consecutive frames that each differ from the run's first frame
    by less than ``threshold``. Per-frame work (faces, image features, text regions) is
    done once per run and shared: a still-photo video or a static shot costs one frame.
    """
    reps: list[int] = []
    first = -1
    first_thumb = None
    for i, frame in enumerate(frames):
        thumb = _thumb(frame)
        if first_thumb is None or thumb.shape != first_thumb.shape or \
                float(np.abs(thumb - first_thumb).mean()) >= threshold:
            first, first_thumb = i, thumb
        reps.append(first)
    return reps


def _select(cands: list[tuple[float, np.ndarray]], max_frames: int
            ) -> tuple[list[np.ndarray], list[float]]:
    """Up to ``max_frames`` candidates: the first, scene changes (up to half the budget,
    strongest first), then a uniform spread over the rest; in time order."""
    if len(cands) <= max_frames:
        return [f for _, f in cands], [t for t, _ in cands]
    scores = scene_change_scores([f for _, f in cands])
    chosen = {0}
    for i in np.argsort(-scores, kind="stable"):
        if len(chosen) > max(1, max_frames // 2) or scores[i] < SCENE_CHANGE_THRESHOLD:
            break
        chosen.add(int(i))
    rest = [i for i in range(len(cands)) if i not in chosen]
    need = max_frames - len(chosen)
    if need > 0 and rest:
        picks = np.linspace(0, len(rest) - 1, num=min(need, len(rest)))
        chosen.update(rest[int(round(p))] for p in picks)
    idx = sorted(chosen)[:max_frames]
    return [cands[i][1] for i in idx], [float(cands[i][0]) for i in idx]


def _short(e: BaseException) -> str:
    msg = str(getattr(e, "strerror", None) or e).strip().splitlines()
    text = msg[0] if msg else type(e).__name__
    return text[:120]


def iter_paths(paths: Path | str | Sequence[Path | str] | None) -> Iterator[Path]:
    """The given media paths as ``Path`` objects (a single path or a sequence)."""
    if paths is None:
        return
    if isinstance(paths, str | Path):
        yield Path(paths)
        return
    for p in paths:
        yield Path(p)
