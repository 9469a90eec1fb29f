"""Frame picking: scene changes, runs of near-identical frames, and which frames to keep."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

SCENE_CHANGE_THRESHOLD = 0.12
"""Mean absolute difference (0..1) of 32x32 colour thumbnails that counts as a scene change."""


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


def select_frames(cands: list[tuple[float, np.ndarray]], max_frames: int
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
