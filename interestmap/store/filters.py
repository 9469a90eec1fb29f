"""Clip filters: a plain dict (account, language, dates, place, ids, ...) -> conditions
both backends translate into Qdrant's filters."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from interestmap.encoders.fusion import BLOCKS
from interestmap.errors import ConfigError
from interestmap.store.schema import point_id

FILTER_KEYS = ("account", "language", "media_kind", "labels", "audience", "since", "until",
               "near", "ids", "exclude_ids", "has_block")
"""Keys :meth:`~interestmap.store.interface.IndexStore.search_clips` and friends accept
in ``filters``."""


@dataclass(frozen=True)
class Cond:
    """One filter condition, in terms both backends translate."""

    kind: str  # "match" | "range" | "geo" | "ids"
    key: str = ""
    values: tuple[Any, ...] = ()
    gte: float | None = None
    lte: float | None = None
    lat: float = 0.0
    lon: float = 0.0
    meters: float = 0.0


@dataclass
class Conditions:
    """Conditions that must all hold, and conditions that must not."""

    must: list[Cond] = field(default_factory=list)
    must_not: list[Cond] = field(default_factory=list)


def parse_filters(filters: Mapping[str, Any] | None) -> Conditions | None:
    """:class:`Conditions` from a plain dict (keys: :data:`FILTER_KEYS`), or None.

    Unknown keys, blocks and dates are refused with a :class:`ConfigError`.
    """
    if not filters:
        return None
    unknown = set(filters) - set(FILTER_KEYS)
    if unknown:
        raise ConfigError(f"unknown filter(s) {sorted(unknown)}; use {list(FILTER_KEYS)}")
    out = Conditions()

    def match(key: str, value: Any, cast: Callable[[Any], Any] = str) -> Cond:
        return Cond("match", key, tuple(cast(v) for v in as_list(value)))

    for key in ("account", "language", "media_kind", "labels"):
        if filters.get(key) is not None:
            out.must.append(match(key, filters[key]))
    if filters.get("audience") is not None:
        out.must.append(match("audience", filters["audience"], int))
    if filters.get("has_block") is not None:
        for b in as_list(filters["has_block"]):
            if b not in BLOCKS:
                raise ConfigError(f"unknown block {b!r} in has_block; blocks are {list(BLOCKS)}")
            out.must.append(Cond("match", "blocks", (b,)))
    since, until = filters.get("since"), filters.get("until")
    if since is not None or until is not None:
        out.must.append(Cond("range", "published_ts",
                             gte=_timestamp(since, "since") if since is not None else None,
                             lte=_timestamp(until, "until") if until is not None else None))
    if filters.get("near") is not None:
        near = filters["near"]
        try:
            lat, lon, km = float(near["lat"]), float(near["lon"]), float(near["radius_km"])
        except (KeyError, TypeError, ValueError) as e:
            raise ConfigError('filter "near" needs {"lat": .., "lon": .., "radius_km": ..}') \
                from e
        out.must.append(Cond("geo", "location", lat=lat, lon=lon, meters=km * 1000.0))
    if filters.get("ids") is not None:
        out.must.append(Cond("ids", values=tuple(point_id("clip", str(i))
                                                 for i in filters["ids"])))
    if filters.get("exclude_ids"):
        out.must_not.append(Cond("ids", values=tuple(point_id("clip", str(i))
                                                     for i in filters["exclude_ids"])))
    return out


def as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple | set) else [value]

def _timestamp(value: Any, name: str) -> float:
    from interestmap.corpus.read import parse_datetime

    try:
        return parse_datetime(value).timestamp()
    except (ValueError, OverflowError, OSError) as e:
        raise ConfigError(f"filter {name}={value!r} is not a date like 2024-05-01 or "
                          "2024-05-01T18:00:00Z") from e

