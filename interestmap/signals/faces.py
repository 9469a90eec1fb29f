"""Frontal faces in the frames, with OpenCV's Haar cascade (bundled with opencv-python).

Settings were chosen on a real face photo (scikit-image's astronaut, alone and pasted
at 300-580 px into a 1280x720 street scene: 6 of 7 found) against 200 scene photos
without people in close-up (2 false alarms): pyramid step 1.15, 8 neighbours, faces
at least 6 % of the shorter side, no histogram equalisation (it hurt on frames with
large flat areas). Profiles are missed, and so are small faces: the astronaut photo
pasted at 480 px into a 720-px-high frame is found, at 400 px it is not.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import MissingDependencyError, ModelLoadError

DETECT_WIDTH = 640
"""Wider frames are scaled down to this width before detection."""
MIN_FACE_SHARE = 0.06
"""Smallest face side, as a share of the frame's shorter side."""
SCALE_STEP = 1.15
"""Haar pyramid step: larger is faster and misses more in-between sizes."""


@functools.lru_cache(maxsize=1)
def _cascade() -> Any:
    try:
        import cv2
    except ImportError:
        raise MissingDependencyError("face detection needs OpenCV: pip install "
                                     "'opencv-python-headless<5'") from None
    data = getattr(cv2, "data", None)
    if data is None or not hasattr(cv2, "CascadeClassifier"):
        raise MissingDependencyError("this OpenCV has no Haar cascades (OpenCV 5 dropped "
                                     "them): pip install 'opencv-python-headless<5'")
    path = Path(data.haarcascades) / "haarcascade_frontalface_default.xml"
    cascade = cv2.CascadeClassifier(str(path))
    if cascade.empty():
        raise ModelLoadError(f"the face model {path} cannot be loaded: reinstall "
                             "opencv-python-headless")
    return cascade


def count_faces(frame: np.ndarray) -> int:
    """Number of frontal faces in one RGB frame."""
    import cv2

    grey = cv2.cvtColor(np.ascontiguousarray(frame), cv2.COLOR_RGB2GRAY)
    h, w = grey.shape
    if w > DETECT_WIDTH:
        grey = cv2.resize(grey, (DETECT_WIDTH, max(1, round(h * DETECT_WIDTH / w))),
                          interpolation=cv2.INTER_AREA)
    side = max(24, int(MIN_FACE_SHARE * min(grey.shape)))
    found = _cascade().detectMultiScale(grey, scaleFactor=SCALE_STEP, minNeighbors=8,
                                        minSize=(side, side))
    return int(len(found))


def detect_faces(frames: Sequence[np.ndarray]) -> dict[str, Any]:
    """{"frames_with_faces", "frames", "share", "max_faces"} over the given frames.

    Near-identical consecutive frames (a still photo, a static shot) are searched once
    and share the count (see ``media.representatives``).
    """
    from ..media import representatives

    reps = representatives(frames)
    found = {i: count_faces(frames[i]) for i in sorted(set(reps))}
    counts = [found[r] for r in reps]
    with_faces = sum(1 for c in counts if c > 0)
    return {"frames_with_faces": with_faces, "frames": len(counts),
            "share": with_faces / len(counts) if counts else 0.0,
            "max_faces": max(counts, default=0)}
