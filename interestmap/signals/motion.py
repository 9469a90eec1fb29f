"""How much the picture changes between sampled frames."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def motion_score(frames: Sequence[np.ndarray]) -> float | None:
    """Mean absolute change (0..1) between consecutive frames, on 32x32 colour thumbnails;
    None for fewer than 2 frames. Cuts count as change, so a fast-cut edit scores high."""
    if len(frames) < 2:
        return None
    from interestmap.media.frames import scene_change_scores

    return float(np.mean(scene_change_scores(frames)[1:]))
