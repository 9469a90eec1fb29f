"""What a clip's payload holds, and how values become JSON (NumPy, dates, paths)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import date, datetime
from pathlib import Path
from typing import Any

import numpy as np

from interestmap.errors import ConfigError


def clip_payload(encoded: Any, *, audience: int | None = None,
                 audience_probability: float | None = None, x: float | None = None,
                 y: float | None = None) -> dict[str, Any]:
    """The standard ``clips`` payload of an :class:`~interestmap.clip.EncodedClip`."""
    clip, signals = encoded.clip, encoded.signals
    geo: dict[str, Any] | None = None
    if signals is not None and getattr(signals, "geo", None) is not None:
        g = signals.geo
        geo = {"name": g.name or (clip.geo or ""), "lat": float(g.lat), "lon": float(g.lon),
               "country": g.country}
    elif clip.geo:
        geo = {"name": clip.geo}
    language = (getattr(signals, "language", None) if signals is not None else None) \
        or clip.language
    return {
        "id": clip.id,
        "account": clip.account,
        "language": language,
        "geo": geo,
        "published_at": getattr(clip, "published_at", None),
        "audience": audience,
        "audience_probability": audience_probability,
        "x": x,
        "y": y,
        "caption": clip.caption,
        "media": [str(p) for p in clip.media],
        "media_kind": encoded.media_kind,
        "labels": list(getattr(clip, "labels", []) or []),
        "missing": dict(encoded.missing),
    }


def clip_payload_fields(payload: Mapping[str, Any], cid: str | None) -> dict[str, Any]:
    """Payload made JSON-safe, with ``id``, ``published_ts`` and ``location`` filled in."""
    from interestmap.corpus.read import parse_datetime

    out = to_jsonable(dict(payload))
    if cid is not None:
        out["id"] = cid
    if out.get("published_at") is not None:
        try:
            dt = parse_datetime(out["published_at"])
        except (ValueError, OverflowError, OSError) as e:
            raise ConfigError(f"clip {cid or ''}: published_at {out['published_at']!r} is not "
                              "a date like 2024-05-01T18:00:00Z") from e
        out["published_at"] = dt.isoformat(timespec="seconds")
        out["published_ts"] = dt.timestamp()
    geo = out.get("geo")
    if isinstance(geo, Mapping) and geo.get("lat") is not None and geo.get("lon") is not None:
        out["location"] = {"lat": float(geo["lat"]), "lon": float(geo["lon"])}
    if out.get("audience") is not None:
        out["audience"] = int(out["audience"])
    return out


def to_jsonable(obj: Any) -> Any:
    """NumPy scalars / arrays, Paths, dates and tuples turned into JSON types."""
    if isinstance(obj, Mapping):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple | set):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return to_jsonable(obj.tolist())
    if isinstance(obj, np.bool_):
        return bool(obj)
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.floating | float):
        v = float(obj)
        return v if math.isfinite(v) else None
    if isinstance(obj, datetime | date):
        return obj.isoformat()
    if isinstance(obj, Path):
        return str(obj)
    return obj
