"""What the store's backends share: collection and vector names, settings, point ids, records.

The three collections of an index (each name prefixed with the store's ``prefix``):

- ``clips``: one vector per clip, ``fused`` (unit length; cosine). The block vectors are
  slices of it (see :mod:`interestmap.encoders.fusion`), so they are not stored again:
  :meth:`~interestmap.store.interface.IndexStore.get_clip_vectors` and
  :meth:`~interestmap.store.interface.IndexStore.search_block` read them out
  of the fused vector. The fused vectors live on disk; the search uses quantised copies
  in RAM and an HNSW graph, and re-scores the best candidates with the exact vectors.
  Payload: ``id`` (the caller's string id; the point id is ``uuid5`` of it), ``account``,
  ``language``, ``geo`` ({name, lat, lon}), ``location`` ({lat, lon}, for radius
  filters), ``published_at`` (ISO) and ``published_ts`` (Unix seconds), ``audience``,
  ``audience_probability``, ``x``, ``y``, ``caption``, ``media_kind``, ``labels``,
  ``blocks`` (names of the blocks present) and ``blockset`` (the same, as one string).
  Every field a filter can name has a payload index, so filtered searches never scan.
- ``audiences``: ``centroid`` (fused space) + label, keywords, size, top topics, ...
- ``topics``: ``description`` (text space) + id, name, description.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Any

import numpy as np

from interestmap.errors import ConfigError

CLIPS, AUDIENCES, TOPICS = "clips", "audiences", "topics"
FUSED = "fused"
CENTROID = "centroid"
DESCRIPTION = "description"
STORE_FORMAT = 2
"""Version of the collections' layout (2: one fused vector per clip, Qdrant Edge)."""

_ID_NAMESPACE = uuid.UUID("6f1f6c1e-4c8e-5d0b-9a53-1c2b8e0d7a41")
"""Namespace of the uuid5 point ids (fixed forever: changing it orphans every index)."""
PAYLOAD_INDEXES: dict[str, str] = {
    "id": "keyword", "account": "keyword", "language": "keyword", "media_kind": "keyword",
    "labels": "keyword", "blocks": "keyword", "blockset": "keyword", "audience": "integer",
    "published_ts": "float", "location": "geo"}
"""Payload indexes of the clips collection: every field a filter reads has one."""

_PREFIX_RE = re.compile(r"^[A-Za-z0-9_-]*$")


def check_prefix(prefix: str) -> str:
    """``prefix`` if it can start a Qdrant collection name, else :class:`ConfigError`."""
    if not _PREFIX_RE.match(prefix):
        raise ConfigError(f"collection prefix {prefix!r} may only hold letters, digits, "
                          "'_' and '-'")
    return prefix


def point_id(kind: str, key: Any) -> str:
    """The Qdrant point id (a UUID string) of a clip, audience or topic id."""
    return str(uuid.uuid5(_ID_NAMESPACE, f"{kind}:{key}"))


@dataclass(frozen=True)
class StoreSettings:
    """How the clips collection is stored and searched (set when it is created).

    ``quantization``: ``"int8"`` (default: 4x smaller than float32 in RAM, ranking kept
    by re-scoring), ``"binary"`` (32x smaller, for millions of clips) or ``"none"``.
    ``vectors_on_disk``: the full vectors stay on disk (memory-mapped). The search asks
    ``oversampling`` x as many candidates of the quantised vectors, but no more than
    ``max_rescore`` (and never fewer than asked for), re-scores them exactly, with
    ``hnsw_ef`` candidates in the graph walk (``hnsw_ef_filtered`` when a filter prunes
    the graph: at 100k clips a language filter found 0.90 of the exact top 10 with 128
    and 0.97 with 256, while an unfiltered search finds 0.996 with either). Re-scoring reads each candidate's full
    vector from disk or the page cache, which is most of a wide search's cost: a k=10
    search re-scores 40, a k=50 one (what ``nearest`` asks) 100 instead of 200.
    Segments smaller than ``indexing_threshold_kb`` of vectors get no graph (searched
    exactly, as are filters matching fewer than ``full_scan_kb`` of vectors, through their
    payload index).
    """

    quantization: str = "int8"
    vectors_on_disk: bool = True
    hnsw_m: int = 16
    ef_construct: int = 100
    hnsw_ef: int = 128
    hnsw_ef_filtered: int = 256
    oversampling: float = 4.0
    max_rescore: int = 100
    full_scan_kb: int = 10_000
    indexing_threshold_kb: int = 10_000

    def __post_init__(self) -> None:
        if self.quantization not in ("int8", "binary", "none"):
            raise ConfigError(f"quantization must be 'int8', 'binary' or 'none', got "
                              f"{self.quantization!r}")

    def ef_for(self, k: int, filtered: bool) -> int:
        """The graph walk's candidate count for a search of ``k`` clips."""
        return max(self.hnsw_ef_filtered if filtered else self.hnsw_ef, int(k))

    def oversampling_for(self, k: int) -> float:
        """The oversampling a search for ``k`` clips uses (see the class doc)."""
        return max(1.0, min(self.oversampling, self.max_rescore / max(int(k), 1)))


@dataclass
class Record:
    """A point as a backend returns it."""

    id: str
    payload: dict[str, Any]
    vectors: dict[str, np.ndarray] | None = None
    score: float | None = None

