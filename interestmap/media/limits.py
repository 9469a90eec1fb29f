"""The limits every decoder applies (frame size, clip length) and its one-line messages."""

from __future__ import annotations

import math
import os
from pathlib import Path

from interestmap.errors import ConfigError, MediaError

MAX_FRAME_SIDE = 1920
"""Long side, in pixels, above which frames and images are downscaled."""
DEFAULT_MAX_DURATION_S = 600.0
ENV_MAX_DURATION = "INTERESTMAP_MAX_DURATION_S"
"""Environment variable that overrides :data:`DEFAULT_MAX_DURATION_S` (seconds)."""


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


def too_long(path: Path, duration_s: float, limit_s: float) -> MediaError:
    """The error for a clip longer than the limit, naming the setting that raises it."""
    return MediaError(
        f"{path.name} is {fmt_s(duration_s)} long; clips up to {fmt_s(limit_s)} are analysed: "
        f"trim it, or raise the limit with {ENV_MAX_DURATION} (or max_duration_s)")


def fmt_s(s: float) -> str:
    if s >= 120:
        return f"{s / 60:.1f} min"
    return f"{s:.1f} s"


def short_error(e: BaseException) -> str:
    """The first line of an error, at most 120 characters, for a message."""
    msg = str(getattr(e, "strerror", None) or e).strip().splitlines()
    text = msg[0] if msg else type(e).__name__
    return text[:120]
