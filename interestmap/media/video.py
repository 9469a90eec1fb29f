"""Videos and animations: frames sampled on a time grid (scene changes kept), and the sound.

Candidates on a uniform time grid are decoded (sequentially for short videos, by seeking
for long ones, so decode work and memory stay bounded), then up to ``max_frames`` are
kept by :func:`interestmap.media.frames.select_frames`.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from interestmap.clip import Media
from interestmap.errors import MediaError
from interestmap.media.audio import container_duration, decode_audio
from interestmap.media.frames import select_frames
from interestmap.media.limits import MAX_FRAME_SIDE, short_error, too_long
from interestmap.media.probe import is_attached_pic, probe_image

_SEQUENTIAL_MAX_FRAMES = 1800
"""Videos with at most this many frames are decoded start to end; longer ones by seeking."""
_MAX_DECODE_PER_SEEK = 400
_MAX_ANIMATION_FRAMES = 5000


def load_video(path: Path, max_frames: int, limit_s: float, sample_rate: int) -> Media:
    """A video clip: up to ``max_frames`` frames and its sound track."""
    import av

    notes: list[str] = []
    try:
        with av.open(str(path), metadata_errors="ignore") as c:
            vstreams = [s for s in c.streams.video if not is_attached_pic(s)]
            if not vstreams:  # an animated image PIL can read but FFmpeg cannot
                raise av.InvalidDataError(0, "no video stream")
            vs = vstreams[0]
            has_audio = bool(c.streams.audio)
            duration = container_duration(c, vs)
            if duration is not None and duration > limit_s + 0.5:
                raise too_long(path, duration, limit_s)
            fps = float(vs.average_rate or vs.guessed_rate or 25)
            if duration is None:
                duration = _demux_duration(c, vs)
                if duration is not None and duration > limit_s + 0.5:
                    raise too_long(path, duration, limit_s)
            cands, note = _video_candidates(c, vs, duration, fps, max_frames, limit_s)
            if note:
                notes.append(note)
    except av.FFmpegError as e:
        if probe_image(path) == "video":
            return load_animation(path, max_frames, limit_s, sample_rate)
        raise MediaError(f"{path.name} cannot be decoded ({short_error(e)}); export it again") from None
    if not cands:
        raise MediaError(f"{path.name}: no picture could be decoded from the video; it is "
                         "damaged or empty, export it again")
    frames, times = select_frames(cands, max_frames)
    media = Media(kind="video", frames=frames, frame_times_s=times, sample_rate=sample_rate,
                  duration_s=float(duration or cands[-1][0]), notes=notes)
    if not has_audio:
        media.missing["audio"] = "the video has no sound track"
        return media
    try:
        audio, anote = decode_audio(path, sample_rate, min(limit_s, media.duration_s + 1.0))
    except av.FFmpegError as e:
        audio, anote = np.zeros(0, np.float32), f"the sound track of {path.name} cannot be decoded ({short_error(e)})"
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
                    raise too_long(Path(c.name), t, limit_s)
                if gi < len(grid) and t + 0.5 / fps >= grid[gi]:
                    cands.append((t, _to_rgb(frame)))
                    while gi < len(grid) and grid[gi] <= t + 0.5 / fps:
                        gi += 1
                if gi >= len(grid) and duration is not None:
                    break
        except av.FFmpegError as e:
            return cands, (f"the video is damaged after {last_t:.1f} s ({short_error(e)}); "
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


def load_animation(path: Path, max_frames: int, limit_s: float, sample_rate: int) -> Media:
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
            raise too_long(path, duration, limit_s)
        grid = _grid(duration, max_frames, limit_s)
        wanted = sorted({int(np.searchsorted(times, g, side="right") - 1) for g in grid})
        cands = []
        for i in wanted:
            im.seek(max(i, 0))
            rgb = im.convert("RGB")
            rgb.thumbnail((MAX_FRAME_SIDE, MAX_FRAME_SIDE))
            cands.append((times[max(i, 0)], np.asarray(rgb, dtype=np.uint8).copy()))
    frames, ftimes = select_frames(cands, max_frames)
    return Media(kind="video", frames=frames, frame_times_s=ftimes, sample_rate=sample_rate,
                 duration_s=duration, missing={"audio": "the animation has no sound track"})
