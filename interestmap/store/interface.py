"""Qdrant collections of an index: clips, audiences and declared topics.

:class:`IndexStore` is the one store interface; a backend does the storing:

- embedded (``path=``, a folder): the Qdrant engine in this process, through Qdrant Edge
  (:mod:`interestmap.store.edge`): on-disk segments, payload indexes, HNSW, quantisation;
- remote (``url=``, a Qdrant server or cluster): qdrant-client
  (:mod:`interestmap.store.server`).

The rest of interestmap never knows which. Three collections, each name prefixed with
``prefix``:

- ``clips``: one vector per clip, ``fused`` (unit length; cosine). The block vectors are
  slices of it (see :mod:`interestmap.encoders.fusion`), so they are not stored again:
  :meth:`IndexStore.get_clip_vectors` and :meth:`IndexStore.search_block` read them out
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

Embedded stores allow one process per folder: a folder open in another process is
refused with :class:`~interestmap.errors.IndexBusyError`; inside a process every user of
a folder shares one open store (thread-safe).

After a bulk write call :meth:`IndexStore.optimize` (builds publish do): it builds the
search graph. Until then searches are still right, only slower.

The index folder that holds a store, its manifest and atomic builds are in
:mod:`interestmap.index.manifest`.
"""

from __future__ import annotations

import contextlib
import logging
import math
import re
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from interestmap.encoders.base import l2_normalize
from interestmap.encoders.fusion import BLOCKS, FusionLayout
from interestmap.errors import ConfigError, EncoderMismatchError, IndexError_, InterestmapError

log = logging.getLogger(__name__)

T = TypeVar("T")

CLIPS, AUDIENCES, TOPICS = "clips", "audiences", "topics"
FUSED = "fused"
CENTROID = "centroid"
DESCRIPTION = "description"
STORE_FORMAT = 2
"""Version of the collections' layout (2: one fused vector per clip, Qdrant Edge)."""

_ID_NAMESPACE = uuid.UUID("6f1f6c1e-4c8e-5d0b-9a53-1c2b8e0d7a41")
"""Namespace of the uuid5 point ids (fixed forever: changing it orphans every index)."""

FILTER_KEYS = ("account", "language", "media_kind", "labels", "audience", "since", "until",
               "near", "ids", "exclude_ids", "has_block")
"""Keys :meth:`IndexStore.search_clips` and friends accept in ``filters``."""

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


# What backends share -------------------------------------------------------------------
@dataclass(frozen=True)
class StoreSettings:
    """How the clips collection is stored and searched (set when it is created).

    ``quantization``: ``"int8"`` (default: 4x smaller than float32 in RAM, ranking kept
    by re-scoring), ``"binary"`` (32x smaller, for millions of clips) or ``"none"``.
    ``vectors_on_disk``: the full vectors stay on disk (memory-mapped). The search asks
    ``oversampling`` x as many candidates of the quantised vectors, re-scores them
    exactly, with ``hnsw_ef`` candidates in the graph walk. Segments smaller than
    ``indexing_threshold_kb`` of vectors get no graph (searched exactly, as are filters
    matching fewer than ``full_scan_kb`` of vectors, through their payload index).
    """

    quantization: str = "int8"
    vectors_on_disk: bool = True
    hnsw_m: int = 16
    ef_construct: int = 100
    hnsw_ef: int = 256
    oversampling: float = 4.0
    full_scan_kb: int = 10_000
    indexing_threshold_kb: int = 10_000

    def __post_init__(self) -> None:
        if self.quantization not in ("int8", "binary", "none"):
            raise ConfigError(f"quantization must be 'int8', 'binary' or 'none', got "
                              f"{self.quantization!r}")


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


@dataclass
class Record:
    """A point as a backend returns it."""

    id: str
    payload: dict[str, Any]
    vectors: dict[str, np.ndarray] | None = None
    score: float | None = None


# Shared embedded stores ------------------------------------------------------------------
@dataclass
class _Shared:
    backend: Any
    refs: int = 0
    closed: bool = False


_LOCAL: dict[Path, _Shared] = {}
_LOCAL_LOCK = threading.Lock()


def _acquire_local(path: Path, settings: StoreSettings) -> _Shared:
    from interestmap.store.edge import EdgeBackend

    with _LOCAL_LOCK:
        shared = _LOCAL.get(path)
        if shared is None:
            shared = _LOCAL[path] = _Shared(EdgeBackend(path, settings))
        shared.refs += 1
        return shared


def _release_local(path: Path, shared: _Shared | None = None, force: bool = False) -> None:
    """Drop one user of the store of ``path`` (``shared``: only if it is still that one)."""
    with _LOCAL_LOCK:
        current = _LOCAL.get(path)
        if current is None or (shared is not None and current is not shared):
            return
        current.refs -= 1
        if current.refs <= 0 or force:
            current.closed = True
            current.backend.close()
            del _LOCAL[path]


def embedded_open_under(folder: Path) -> bool:
    """True if this process has an embedded store open on ``folder`` or inside it."""
    folder = folder.resolve()
    with _LOCAL_LOCK:
        return any(p == folder or folder in p.parents for p in _LOCAL)


def close_embedded_under(folder: Path) -> None:
    """Close every shared embedded store whose folder lies in ``folder``."""
    folder = folder.resolve()
    with _LOCAL_LOCK:
        paths = [p for p in _LOCAL if p == folder or folder in p.parents]
    for path in paths:
        _release_local(path, force=True)


# Store ---------------------------------------------------------------------------------
class IndexStore:
    """The clips, audiences and topics of one index in Qdrant (embedded or on a server).

    Give exactly one of ``path`` (embedded, a folder) or ``url`` (a Qdrant server;
    ``api_key`` for Qdrant Cloud). ``prefix`` is put before every collection name.
    ``settings`` apply when the collections are created. Vectors go in and come out as
    NumPy arrays; hits are plain dicts.
    """

    def __init__(self, path: str | Path | None = None, url: str | None = None,
                 api_key: str | None = None, prefix: str = "", timeout_s: int = 60,
                 settings: StoreSettings | None = None) -> None:
        if (path is None) == (url is None):
            raise ConfigError("give either a folder (path) or a Qdrant server address (url) "
                              "for the index, not both and not neither")
        self.prefix = check_prefix(prefix)
        self.url = url
        self.path: Path | None = None
        self.settings = settings or StoreSettings()
        self._closed = False
        self._meta: dict[str, tuple[dict[str, int], dict[str, Any]]] = {}
        self._shared: _Shared | None = None
        if path is not None:
            self.path = Path(path).expanduser().resolve()
            self._shared = _acquire_local(self.path, self.settings)
            self._backend: Any = self._shared.backend
        else:
            from qdrant_client import QdrantClient

            from interestmap.store.server import ServerBackend

            self._backend = ServerBackend(
                QdrantClient(url=url, api_key=api_key, timeout=timeout_s,
                             check_compatibility=False), self.settings)

    @classmethod
    def on_client(cls, client: Any, prefix: str = "",
                  settings: StoreSettings | None = None) -> IndexStore:
        """A store on a ready ``QdrantClient`` (e.g. one made with ``location=':memory:'``
        to run the server backend's code without a server)."""
        from interestmap.store.server import ServerBackend

        self = cls.__new__(cls)
        self.prefix, self.url, self.path = check_prefix(prefix), "(client)", None
        self.settings = settings or StoreSettings()
        self._closed, self._meta, self._shared = False, {}, None
        self._backend = ServerBackend(client, self.settings)
        return self

    # Basics ----------------------------------------------------------------------------
    @property
    def closed(self) -> bool:
        """True once :meth:`close` was called (or the shared folder was closed)."""
        return self._closed or (self._shared is not None and self._shared.closed)

    @property
    def embedded(self) -> bool:
        """True when the data lives in a local folder (no server)."""
        return self.path is not None

    def name(self, collection: str) -> str:
        """The Qdrant collection name of ``clips``, ``audiences`` or ``topics``."""
        return f"{self.prefix}{collection}"

    def __repr__(self) -> str:
        where = f"path={str(self.path)!r}" if self.path else f"url={self.url!r}"
        return f"IndexStore({where}, prefix={self.prefix!r})"

    def __enter__(self) -> IndexStore:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        """Let go of the store (an embedded folder is closed when its last user closes)."""
        if self._closed:
            return
        self._closed = True
        if self.path is not None:
            _release_local(self.path, self._shared)
        else:
            self._backend.close()

    def _do(self, fn: Callable[..., T], *args: Any, **kw: Any) -> T:
        """Run one backend call, with errors in plain words."""
        if self.closed:
            raise IndexError_("this index store is closed: open the index again")
        try:
            return fn(*args, **kw)
        except InterestmapError:
            raise
        except Exception as e:
            raise self._plain_error(e) from e

    def _plain_error(self, e: Exception) -> IndexError_:
        text = " ".join(str(e).split())[:300]
        if not self.embedded and any(w in type(e).__name__ for w in
                                     ("Connect", "Timeout", "ResponseHandling", "Network")):
            return IndexError_(f"cannot reach the Qdrant server at {self.url} ({text}): check "
                               "that it runs and the address is right")
        if "not found" in text.lower() or "doesn't exist" in text.lower():
            return IndexError_(f"the index has no such collection ({text}): build the index "
                               "first")
        return IndexError_(f"the index store failed: {text}")

    # Collections -----------------------------------------------------------------------
    def exists(self) -> bool:
        """True when the ``clips`` collection exists."""
        return bool(self._do(self._backend.exists, self.name(CLIPS)))

    def create(self, layout: FusionLayout, recreate: bool = False) -> None:
        """Create the three collections for vectors of ``layout``.

        Existing collections are kept if their vector sizes match the layout (and refused
        otherwise); ``recreate=True`` drops and re-creates them.
        """
        slices = {b: [s.start, s.stop] for b, s in layout.slices.items()}
        wanted = {
            CLIPS: ({FUSED: layout.total_dim}, {"format": STORE_FORMAT, "slices": slices}),
            AUDIENCES: ({CENTROID: layout.total_dim}, {"format": STORE_FORMAT}),
            TOPICS: ({DESCRIPTION: int(layout.dims["caption"])}, {"format": STORE_FORMAT}),
        }
        for coll, (dims, meta) in wanted.items():
            name = self.name(coll)
            if self._do(self._backend.exists, name) and not recreate:
                have, have_meta = self._describe(coll)
                if have != dims or have_meta.get("slices", slices) != slices:
                    raise IndexError_(
                        f"the index's '{coll}' collection holds vectors of other sizes "
                        f"({have}) than this encoder setup ({dims}): rebuild the index")
                continue
            self._do(self._backend.create, name, dims, big=coll == CLIPS, meta=meta)
            self._meta.pop(coll, None)
            if coll == CLIPS:
                self._do(self._backend.index_payload, name, PAYLOAD_INDEXES)
            elif coll == AUDIENCES:
                self._do(self._backend.index_payload, name, {"id": "integer"})

    def drop(self) -> None:
        """Delete this store's collections (a no-op for those that do not exist)."""
        for coll in (CLIPS, AUDIENCES, TOPICS):
            if self._do(self._backend.exists, self.name(coll)):
                self._do(self._backend.drop, self.name(coll))
            self._meta.pop(coll, None)

    def optimize(self) -> None:
        """Build the search structures after bulk writes (HNSW graph, merged segments).

        Embedded: runs here and blocks until done. Server: waits until it is indexed.
        """
        for coll in (CLIPS, AUDIENCES, TOPICS):
            if self._do(self._backend.exists, self.name(coll)):
                self._do(self._backend.optimize, self.name(coll))

    def stats(self) -> dict[str, Any]:
        """Points, segments and indexed vectors of the clips collection."""
        return self._do(self._backend.stats, self.name(CLIPS))

    def indexed_fields(self) -> set[str]:
        """Payload fields of the clips collection that have an index."""
        return self._do(self._backend.indexed_fields, self.name(CLIPS))

    @contextlib.contextmanager
    def _writing(self, coll: str) -> Iterator[None]:
        """Around the backend calls of one write: durable once it is left normally."""
        yield
        self._do(self._backend.flush, self.name(coll))

    def _describe(self, coll: str) -> tuple[dict[str, int], dict[str, Any]]:
        if coll not in self._meta:
            dims, meta = self._do(self._backend.describe, self.name(coll))
            if int(meta.get("format", 0)) != STORE_FORMAT:
                raise IndexError_(f"the '{self.name(coll)}' collection is in another format "
                                  f"({meta.get('format')}): rebuild the index")
            self._meta[coll] = (dims, meta)
        return self._meta[coll]

    def _vector_dims(self, coll: str) -> dict[str, int]:
        return self._describe(coll)[0]

    def block_slices(self) -> dict[str, slice]:
        """Where each block sits in the clips' fused vectors."""
        meta = self._describe(CLIPS)[1]
        return {b: slice(int(a), int(z)) for b, (a, z) in meta["slices"].items()}

    # Clips -----------------------------------------------------------------------------
    def upsert_clips(self, ids: Sequence[str], fused: np.ndarray,
                     blocks: Mapping[str, np.ndarray] | None = None,
                     presence: np.ndarray | None = None,
                     payloads: Sequence[Mapping[str, Any]] = (),
                     batch_size: int = 256) -> int:
        """Add or replace clips; returns how many were written.

        ``fused`` is ``(n, total_dim)``: it is the one vector stored (the block vectors
        are its slices). ``blocks`` is accepted for callers that have them and checked
        for unknown names only. ``presence`` (``(n, n_blocks)`` booleans in
        :data:`~interestmap.encoders.fusion.BLOCKS` order) narrows which blocks count as present;
        a block is present when its slice of the fused vector is non-zero. ``payloads``
        are plain dicts (see the module doc; :func:`clip_payload` makes one from an
        encoded clip).
        """
        ids = [str(i) for i in ids]
        n = len(ids)
        dims = self._vector_dims(CLIPS)
        fused = _as_matrix(fused, n, dims[FUSED], "fused")
        slices = self.block_slices()
        have = np.stack([np.linalg.norm(fused[:, slices[b]], axis=1) > 1e-6 for b in BLOCKS],
                        axis=1) if n else np.zeros((0, len(BLOCKS)), dtype=bool)
        if presence is not None:
            presence = np.asarray(presence, dtype=bool)
            if presence.shape != (n, len(BLOCKS)):
                raise ConfigError(f"presence must be ({n}, {len(BLOCKS)}) booleans in block "
                                  f"order {list(BLOCKS)}, got {presence.shape}")
            have &= presence
        unknown = set(blocks or {}) - set(BLOCKS)
        if unknown:
            raise ConfigError(f"unknown block(s) {sorted(unknown)}; blocks are {list(BLOCKS)}")
        if len(payloads) != n:
            raise ConfigError(f"{n} ids but {len(payloads)} payloads")
        _check_unique(ids)
        norms = np.linalg.norm(fused, axis=1)
        unit = l2_normalize(fused)
        points = []
        for i, cid in enumerate(ids):
            usable = bool(np.isfinite(norms[i]) and norms[i] > 0)
            vectors = {FUSED: unit[i]} if usable else {}
            present = [b for j, b in enumerate(BLOCKS) if have[i, j]] if usable else []
            payload = _clip_payload_fields(payloads[i], cid)
            payload["blocks"] = present
            payload["blockset"] = ",".join(present)
            points.append((point_id("clip", cid), vectors, payload))
        with self._writing(CLIPS):
            for start in range(0, n, max(1, batch_size)):
                self._do(self._backend.upsert, self.name(CLIPS),
                         points[start:start + batch_size])
        return n

    def set_payload(self, ids: Sequence[str],
                    payload: Mapping[str, Any] | Sequence[Mapping[str, Any]],
                    batch_size: int = 256) -> None:
        """Update payload fields of clips (other fields are kept).

        ``payload`` is one mapping for all ``ids`` (``{"audience": 3}``) or one per id
        (``[{"audience": 3, "x": .1, "y": .5}, ...]``). Unknown ids are refused.
        """
        ids = [str(i) for i in ids]
        _check_unique(ids)
        many = [payload] if isinstance(payload, Mapping) else list(payload)
        if any("id" in p for p in many):
            raise ConfigError("a clip's id cannot be changed (it names the clip in the "
                              "index): upsert it under the new id and delete the old one")
        self._require_clips(ids)
        if isinstance(payload, Mapping):
            body = _clip_payload_fields(payload, None)
            items = [([point_id("clip", i) for i in ids[s:s + batch_size]], body)
                     for s in range(0, len(ids), max(1, batch_size))]
        else:
            if len(payload) != len(ids):
                raise ConfigError(f"{len(ids)} ids but {len(payload)} payloads")
            items = [([point_id("clip", i)], _clip_payload_fields(p, None))
                     for i, p in zip(ids, payload, strict=True)]
        with self._writing(CLIPS):
            for start in range(0, len(items), max(1, batch_size)):
                self._do(self._backend.set_payload, self.name(CLIPS),
                         items[start:start + batch_size])

    def delete_clips(self, ids: Sequence[str]) -> None:
        """Remove clips by id (ids not in the index are ignored)."""
        pids = [point_id("clip", str(i)) for i in ids]
        if pids:
            with self._writing(CLIPS):
                self._do(self._backend.delete, self.name(CLIPS), pids)

    def search_clips(self, fused_query: np.ndarray, k: int = 10,
                     filters: Mapping[str, Any] | None = None,
                     with_fused: bool = False, exact: bool = False,
                     fields: Sequence[str] | None = None) -> list[dict[str, Any]]:
        """The ``k`` clips nearest to a fused vector: ``[{"id", "score", "payload"}]``
        (plus ``"fused"``, the clip's unit fused vector, with ``with_fused``).

        ``filters`` narrows the search: ``account``, ``language``, ``media_kind``,
        ``labels`` (a value or a list: any of them), ``audience`` (int or list),
        ``since`` / ``until`` (ISO date or time, datetime, or Unix seconds),
        ``near`` (``{"lat", "lon", "radius_km"}``), ``ids`` / ``exclude_ids``, and
        ``has_block`` (block name(s) the clip must have). ``exact`` skips the graph and
        the quantised vectors (a full exact scan: for checking recall). ``fields`` limits
        the payload returned (``id`` is always included).
        """
        return self._search(CLIPS, FUSED, fused_query, k, filters, with_fused, exact, fields)

    def search_block(self, block: str, vector: np.ndarray, k: int = 10,
                     filters: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        """The ``k`` clips nearest in one block's space (e.g. captions near a topic text).

        Clips that lack the block are never returned. Scores are the block's own cosine.
        The block lives inside the fused vector, scaled by the weight of the blocks each
        clip has; so the search runs once per set of present blocks (each a payload-indexed
        group in which that scale is the same) and the groups' best are merged.
        """
        if block not in BLOCKS:
            raise ConfigError(f"unknown block {block!r}; blocks are {list(BLOCKS)}")
        sl = self.block_slices()[block]
        q_block = np.asarray(vector, dtype=np.float32).reshape(-1)
        if q_block.shape[0] != sl.stop - sl.start:
            raise EncoderMismatchError(f"the query has {q_block.shape[0]} dims, the index's "
                                       f"'{block}' vectors have {sl.stop - sl.start}: encode "
                                       "with the index's encoders")
        if not _usable(q_block):
            raise ConfigError("the query vector is empty (all zeros or not finite): give a "
                              "clip with some content")
        q = np.zeros(self._vector_dims(CLIPS)[FUSED], dtype=np.float32)
        q[sl] = l2_normalize(q_block)
        base = dict(filters or {})
        base["has_block"] = sorted({*_as_list(base.get("has_block")), block})
        flt = parse_filters(base)
        groups = self._do(self._backend.facet, self.name(CLIPS), "blockset", flt, 256)
        hits: list[dict[str, Any]] = []
        for blockset in groups:
            group = Conditions(must=[*flt.must, Cond("match", "blockset", (blockset,))],
                               must_not=list(flt.must_not)) if flt else None
            for r in self._do(self._backend.search, self.name(CLIPS), FUSED, q, k, group,
                              with_vector=True):
                part = r.vectors[FUSED][sl]
                score = float(l2_normalize(part) @ q[sl])
                hits.append({"id": r.payload.get("id"), "score": score, "payload": r.payload})
        hits.sort(key=lambda h: -h["score"])
        return hits[:k]

    def _check_query(self, coll: str, using: str, vector: np.ndarray) -> np.ndarray:
        """``vector`` as a flat float32 array, refused if of the wrong size or empty."""
        dim = self._vector_dims(coll)[using]
        q = np.asarray(vector, dtype=np.float32).reshape(-1)
        if q.shape[0] != dim:
            raise EncoderMismatchError(f"the query has {q.shape[0]} dims, the index's "
                                       f"'{using}' vectors have {dim}: encode with the "
                                       "index's encoders")
        if not _usable(q):
            raise ConfigError("the query vector is empty (all zeros or not finite): give a "
                              "clip with some content")
        return q

    def _search(self, coll: str, using: str, vector: np.ndarray, k: int,
                filters: Mapping[str, Any] | None, with_vector: bool = False,
                exact: bool = False, fields: Sequence[str] | None = None
                ) -> list[dict[str, Any]]:
        q = self._check_query(coll, using, vector)
        flt = parse_filters(filters)
        if k < 1:
            return []
        payload: bool | list[str] = True if fields is None else sorted({"id", *fields})
        res = self._do(self._backend.search, self.name(coll), using, q, int(k), flt,
                       with_vector=with_vector, payload=payload, exact=exact)
        out = []
        for r in res:
            hit = {"id": r.payload.get("id"), "score": float(r.score or 0.0),
                   "payload": r.payload}
            if with_vector:
                hit[using] = l2_normalize(r.vectors[using])
            out.append(hit)
        return out

    def get_clip_vectors(self, ids: Sequence[str]) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """``(fused (n, D), {block: (n, d_b)})`` of clips; block vectors are the unit
        slices of the fused vector, zeros where a block is absent."""
        ids = [str(i) for i in ids]
        dims = self._vector_dims(CLIPS)
        fused = np.zeros((len(ids), dims[FUSED]), dtype=np.float32)
        found = self._retrieve(CLIPS, "clip", ids, with_vectors=True)
        missing = [i for i in ids if i not in found]
        if missing:
            raise IndexError_(_missing_message(missing))
        for row, cid in enumerate(ids):
            vecs = found[cid].vectors or {}
            if FUSED in vecs:
                fused[row] = vecs[FUSED]
        return fused, self._split(fused)

    def _split(self, fused: np.ndarray) -> dict[str, np.ndarray]:
        out = {}
        for b, sl in self.block_slices().items():
            out[b] = l2_normalize(fused[:, sl], eps=1e-6)
        return out

    def get_clips(self, ids: Sequence[str]) -> list[dict[str, Any]]:
        """Payloads of clips by id, in the given order; unknown ids are refused."""
        ids = [str(i) for i in ids]
        found = self._retrieve(CLIPS, "clip", ids, with_vectors=False)
        missing = [i for i in ids if i not in found]
        if missing:
            raise IndexError_(_missing_message(missing))
        return [found[i].payload for i in ids]

    def scroll_clips(self, with_vectors: bool = False, filters: Mapping[str, Any] | None = None,
                     batch_size: int = 256) -> Iterator[dict[str, Any]]:
        """Every clip (or those matching ``filters``) as ``{"id", "payload"}`` dicts.

        With ``with_vectors`` each also has ``"fused"`` (an array, zeros if absent) and
        ``"blocks"`` (block -> array, for the blocks the clip has).
        """
        dim = self._vector_dims(CLIPS)[FUSED] if with_vectors else 0
        for r in self._scroll(CLIPS, with_vectors, filters, batch_size):
            item: dict[str, Any] = {"id": r.payload.get("id"), "payload": r.payload}
            if with_vectors:
                vec = (r.vectors or {}).get(FUSED)
                fused = vec if vec is not None else np.zeros(dim, dtype=np.float32)
                parts = self._split(fused[None, :])
                item["fused"] = fused
                item["blocks"] = {b: parts[b][0] for b in BLOCKS
                                  if b in r.payload.get("blocks", [])}
            yield item

    def count(self, filters: Mapping[str, Any] | None = None, collection: str = CLIPS) -> int:
        """How many clips (or audiences / topics) there are, optionally filtered."""
        return int(self._do(self._backend.count, self.name(collection), parse_filters(filters)))

    # Audiences and topics --------------------------------------------------------------
    def upsert_audiences(self, ids: Sequence[int], centroids: np.ndarray,
                         payloads: Sequence[Mapping[str, Any]], replace: bool = True) -> int:
        """Store audiences: a centroid (fused space) and a payload each.

        Payload keys by convention: ``label``, ``keywords``, ``size``, ``top_topics``,
        ``account_shares``, ``exemplars``. ``replace`` (default) first removes the
        audiences of an earlier clustering.
        """
        return self._upsert_side(AUDIENCES, "audience", CENTROID, [int(i) for i in ids],
                                 centroids, payloads, replace)

    def upsert_topics(self, ids: Sequence[str], vectors: np.ndarray,
                      payloads: Sequence[Mapping[str, Any]], replace: bool = False) -> int:
        """Store declared topics: a description vector (text space) and ``name``,
        ``description`` in the payload. ``replace`` first removes every earlier topic."""
        return self._upsert_side(TOPICS, "topic", DESCRIPTION, [str(i) for i in ids], vectors,
                                 payloads, replace)

    def _upsert_side(self, coll: str, kind: str, vname: str, ids: list[Any],
                     vectors: np.ndarray, payloads: Sequence[Mapping[str, Any]],
                     replace: bool) -> int:
        dim = self._vector_dims(coll)[vname]
        mat = _as_matrix(vectors, len(ids), dim, vname)
        if len(payloads) != len(ids):
            raise ConfigError(f"{len(ids)} ids but {len(payloads)} payloads")
        _check_unique([str(i) for i in ids])
        points = [(point_id(kind, i), {vname: l2_normalize(mat[r])} if _usable(mat[r]) else {},
                   {**to_jsonable(dict(payloads[r])), "id": i}) for r, i in enumerate(ids)]
        with self._writing(coll):
            if replace:
                self._do(self._backend.delete, self.name(coll), None)
            for start in range(0, len(points), 256):
                self._do(self._backend.upsert, self.name(coll), points[start:start + 256])
        return len(points)

    def search_audiences(self, vector: np.ndarray, k: int = 5) -> list[dict[str, Any]]:
        """The ``k`` audiences whose centroids are nearest a fused vector."""
        return self._search(AUDIENCES, CENTROID, vector, k, None)

    def search_topics(self, vector: np.ndarray, k: int = 5) -> list[dict[str, Any]]:
        """The ``k`` declared topics whose descriptions are nearest a text-space vector."""
        return self._search(TOPICS, DESCRIPTION, vector, k, None)

    def get_audiences(self, with_vectors: bool = True) -> list[dict[str, Any]]:
        """Every audience, sorted by id: ``{"id", "payload"}`` (+ ``"centroid"``)."""
        return self._all(AUDIENCES, CENTROID, with_vectors)

    def get_topics(self, with_vectors: bool = True) -> list[dict[str, Any]]:
        """Every declared topic, sorted by id: ``{"id", "payload"}`` (+ ``"description"``)."""
        return self._all(TOPICS, DESCRIPTION, with_vectors)

    def _all(self, coll: str, vname: str, with_vectors: bool) -> list[dict[str, Any]]:
        out = []
        for r in self._scroll(coll, with_vectors, None, 256):
            item: dict[str, Any] = {"id": r.payload.get("id"), "payload": r.payload}
            if with_vectors:
                vec = (r.vectors or {}).get(vname)
                item[vname] = (np.asarray(vec, dtype=np.float32) if vec is not None
                               else np.zeros(self._vector_dims(coll)[vname], dtype=np.float32))
            out.append(item)
        return sorted(out, key=lambda d: (str(type(d["id"])), d["id"]))

    # Internals -------------------------------------------------------------------------
    def _scroll(self, coll: str, with_vectors: bool, filters: Mapping[str, Any] | None,
                batch_size: int) -> Iterator[Record]:
        flt = parse_filters(filters)
        offset = None
        while True:
            recs, offset = self._do(self._backend.scroll, self.name(coll), flt, with_vectors,
                                    max(1, batch_size), offset)
            yield from recs
            if offset is None:
                return

    def _retrieve(self, coll: str, kind: str, ids: list[str],
                  with_vectors: bool) -> dict[str, Record]:
        found: dict[str, Record] = {}
        for start in range(0, len(ids), 256):
            pids = [point_id(kind, i) for i in ids[start:start + 256]]
            for r in self._do(self._backend.retrieve, self.name(coll), pids, with_vectors):
                found[str(r.payload.get("id"))] = r
        return found

    def _require_clips(self, ids: list[str]) -> None:
        found = self._retrieve(CLIPS, "clip", ids, with_vectors=False)
        missing = [i for i in ids if i not in found]
        if missing:
            raise IndexError_(_missing_message(missing))


# Payloads and filters ------------------------------------------------------------------
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


def _clip_payload_fields(payload: Mapping[str, Any], cid: str | None) -> dict[str, Any]:
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
        return Cond("match", key, tuple(cast(v) for v in _as_list(value)))

    for key in ("account", "language", "media_kind", "labels"):
        if filters.get(key) is not None:
            out.must.append(match(key, filters[key]))
    if filters.get("audience") is not None:
        out.must.append(match("audience", filters["audience"], int))
    if filters.get("has_block") is not None:
        for b in _as_list(filters["has_block"]):
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


def _as_list(value: Any) -> list[Any]:
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


def _as_matrix(x: Any, n: int, dim: int, what: str) -> np.ndarray:
    m = np.asarray(x, dtype=np.float32)
    if m.ndim == 1 and n == 1:
        m = m[None, :]
    if m.shape != (n, dim):
        raise EncoderMismatchError(f"'{what}' vectors are {tuple(m.shape)}, the index expects "
                                   f"({n}, {dim}): encode with the index's encoders")
    return m


def _usable(v: np.ndarray) -> bool:
    return bool(np.all(np.isfinite(v)) and np.any(v != 0))


def _check_unique(ids: list[str]) -> None:
    seen: set[str] = set()
    for i in ids:
        if i in seen:
            raise ConfigError(f"id {i!r} is given twice: ids must be unique")
        seen.add(i)


def _missing_message(missing: list[str]) -> str:
    shown = ", ".join(repr(m) for m in missing[:3]) + (" ..." if len(missing) > 3 else "")
    return f"{len(missing)} clip(s) not in this index: {shown}"
