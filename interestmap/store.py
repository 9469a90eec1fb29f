"""Qdrant collections of an index, and the index folder that holds them.

:class:`IndexStore` wraps one ``QdrantClient``, embedded (``path=``, a folder on disk) or
remote (``url=``, a Qdrant server); the rest of interestmap never knows which. Three
collections, each name prefixed with ``prefix``:

- ``clips``: one named vector per block (``caption``, ``ocr``, ..., unit length, in that
  block's own space) plus ``fused``; cosine distance. A block the clip lacks is *not
  stored* (Qdrant lets each point omit named vectors), so a block search never meets a
  zero vector posing as a real one. Payload: ``id`` (the caller's string id; the point id
  is ``uuid5`` of it), ``account``, ``language``, ``geo`` ({name, lat, lon}),
  ``location`` ({lat, lon}, for radius filters), ``published_at`` (ISO) and
  ``published_ts`` (Unix seconds), ``audience``, ``audience_probability``, ``x``, ``y``,
  ``caption``, ``media_kind``, ``labels``, ``blocks`` (names of the blocks present).
- ``audiences``: ``centroid`` (fused space) + label, keywords, size, top topics, ...
- ``topics``: ``description`` (text space) + id, name, description.

Embedded mode allows one client per folder: clients are shared per resolved path within
a process (thread-safe), and a folder held by another process is refused with a clear
message. Embedded Qdrant searches by brute force; it suits up to a few tens of thousands
of clips, beyond that use a server (``url=``). Payload indexes are made on a server only
(embedded mode has no use for them).

Index folder (``DIR``) and atomic builds::

    DIR/manifest.json      written last, by temp file + os.replace: the index exists
                           (and is complete) exactly when this file does
    DIR/data-<token>/      the published generation: qdrant/ (embedded data) and any
                           artefacts the build saved (projection model, ...)
    DIR/cache/             the encode cache (see cache.py): survives every build
    DIR/.building-<token>/ a build in progress; never opened by readers
    DIR/.build.lock        held while a build runs: one build per folder at a time

A build (:func:`begin_build`) writes a fresh generation into ``.building-<token>/``,
rebuilding the Qdrant data from the encode cache (cheap: vectors are cached, only new
clips are encoded), renames it to ``data-<token>/`` and then atomically replaces
``manifest.json`` to point at it. A build killed at any point leaves the previous
manifest and its generation untouched (or no manifest, for a first build, which
:func:`read_manifest` reports as an interrupted build); the next build removes the
leftovers and, thanks to the cache, resumes where the killed one stopped. On a Qdrant
server the same scheme runs on collection names: each generation has its own prefix,
recorded in the manifest, and the old generation's collections are dropped on publish.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import re
import secrets
import shutil
import threading
import time
import uuid
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from . import __version__
from .errors import ConfigError, EncoderMismatchError, IndexError_, InterestmapError
from .fusion import BLOCKS, FusionLayout

log = logging.getLogger(__name__)

T = TypeVar("T")

CLIPS, AUDIENCES, TOPICS = "clips", "audiences", "topics"
FUSED = "fused"
CENTROID = "centroid"
DESCRIPTION = "description"

MANIFEST_NAME = "manifest.json"
MANIFEST_FORMAT = 1
"""Version of the manifest and index folder layout; bumped on incompatible changes."""
CACHE_DIRNAME = "cache"
QDRANT_DIRNAME = "qdrant"
_BUILDING = ".building-"
_DATA = "data-"
_BUILD_LOCK = ".build.lock"
_INDEX_ID = ".index-id"

_ID_NAMESPACE = uuid.UUID("6f1f6c1e-4c8e-5d0b-9a53-1c2b8e0d7a41")
"""Namespace of the uuid5 point ids (fixed forever: changing it orphans every index)."""

FILTER_KEYS = ("account", "language", "media_kind", "labels", "audience", "since", "until",
               "near", "ids", "exclude_ids", "has_block")
"""Keys :meth:`IndexStore.search_clips` and friends accept in ``filters``."""

_PREFIX_RE = re.compile(r"^[A-Za-z0-9_-]*$")


def point_id(kind: str, key: Any) -> str:
    """The Qdrant point id (a UUID string) of a clip, audience or topic id."""
    return str(uuid.uuid5(_ID_NAMESPACE, f"{kind}:{key}"))


# Shared embedded clients -------------------------------------------------------------
@dataclass
class _Shared:
    client: Any
    lock: threading.RLock = field(default_factory=threading.RLock)
    refs: int = 0
    closed: bool = False


_LOCAL: dict[Path, _Shared] = {}
_LOCAL_LOCK = threading.Lock()


def _acquire_local(path: Path) -> _Shared:
    with _LOCAL_LOCK:
        shared = _LOCAL.get(path)
        if shared is None:
            from qdrant_client import QdrantClient

            try:
                with warnings.catch_warnings():
                    warnings.filterwarnings("ignore", message=".*Local mode is not recommended.*")
                    client = QdrantClient(path=str(path), force_disable_check_same_thread=True)
            except RuntimeError as e:
                if "already accessed" in str(e):
                    raise IndexError_(
                        f"the index data at {path} is open in another program (an interestmap "
                        "app, API or build?): close it first, or serve the index from a "
                        "Qdrant server to share it") from e
                raise IndexError_(f"cannot open the index data at {path}: {e}") from e
            shared = _LOCAL[path] = _Shared(client)
            _tune_local(client)
        shared.refs += 1
        return shared


def _tune_local(client: Any) -> None:
    """Put embedded collections' SQLite files in WAL mode with ``synchronous=NORMAL``.

    Embedded Qdrant commits every point on its own; with SQLite's default rollback
    journal each commit waits for the disk (about 7 ms per clip here, 30x slower).
    WAL + NORMAL stays atomic and consistent after a crash or SIGKILL (a power cut can
    lose the last commits, never corrupt the file), and a build is published only once
    its client is closed, which checkpoints and syncs. Skipped quietly if the client's
    internals differ (writes are then just slower).
    """
    collections = getattr(getattr(client, "_client", None), "collections", None) or {}
    for coll in collections.values():
        conn = getattr(getattr(coll, "storage", None), "storage", None)
        if conn is None:
            continue
        with contextlib.suppress(Exception):
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")


def _release_local(path: Path, shared: _Shared | None = None, force: bool = False) -> None:
    """Drop one user of the client of ``path`` (``shared``: only if it is still that one)."""
    with _LOCAL_LOCK:
        current = _LOCAL.get(path)
        if current is None or (shared is not None and current is not shared):
            return
        current.refs -= 1
        if current.refs <= 0 or force:
            with current.lock:
                current.closed = True
                current.client.close()
            del _LOCAL[path]


def _close_local_under(folder: Path) -> None:
    """Close every shared embedded client whose folder lies in ``folder``."""
    folder = folder.resolve()
    for path in [p for p in _LOCAL if p == folder or folder in p.parents]:
        _release_local(path, force=True)


# Store ---------------------------------------------------------------------------------
class IndexStore:
    """The clips, audiences and topics of one index in Qdrant (embedded or on a server).

    Give exactly one of ``path`` (embedded, a folder) or ``url`` (a Qdrant server;
    ``api_key`` for Qdrant Cloud). ``prefix`` is put before every collection name.
    Vectors go in and come out as NumPy arrays; hits are plain dicts.
    """

    def __init__(self, path: str | Path | None = None, url: str | None = None,
                 api_key: str | None = None, prefix: str = "", timeout_s: int = 60) -> None:
        if (path is None) == (url is None):
            raise ConfigError("give either a folder (path) or a Qdrant server address (url) "
                              "for the index, not both and not neither")
        if not _PREFIX_RE.match(prefix):
            raise ConfigError(f"collection prefix {prefix!r} may only hold letters, digits, "
                              "'_' and '-'")
        self.prefix = prefix
        self.url = url
        self.path: Path | None = None
        self._closed = False
        self._dims: dict[str, dict[str, int]] = {}
        if path is not None:
            self.path = Path(path).expanduser().resolve()
            self._shared: _Shared | None = _acquire_local(self.path)
            self._client = self._shared.client
            self._lock: Any = self._shared.lock
        else:
            from qdrant_client import QdrantClient

            self._shared = None
            self._client = QdrantClient(url=url, api_key=api_key, timeout=timeout_s,
                                        check_compatibility=False)
            self._lock = contextlib.nullcontext()

    # Basics ----------------------------------------------------------------------------
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
        """Let go of the client (an embedded folder is closed when its last user closes)."""
        if self._closed:
            return
        self._closed = True
        if self.path is not None:
            _release_local(self.path, self._shared)
        else:
            self._client.close()

    def _do(self, fn: Callable[..., T], *args: Any, **kw: Any) -> T:
        """Run one client call under the folder's lock, with errors in plain words."""
        if self._closed or (self._shared is not None and self._shared.closed):
            raise IndexError_("this index store is closed: open the index again")
        try:
            with self._lock:
                return fn(*args, **kw)
        except InterestmapError:
            raise
        except Exception as e:
            raise self._plain_error(e) from e

    def _plain_error(self, e: Exception) -> IndexError_:
        text = " ".join(str(e).split())[:300]
        if self.url is not None and any(w in type(e).__name__ for w in
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
        return bool(self._do(self._client.collection_exists, self.name(CLIPS)))

    def create(self, layout: FusionLayout, recreate: bool = False) -> None:
        """Create the three collections for vectors of ``layout``.

        Existing collections are kept if their vector sizes match the layout (and refused
        otherwise); ``recreate=True`` drops and re-creates them.
        """
        from qdrant_client import models

        def params(size: int) -> Any:
            return models.VectorParams(size=int(size), distance=models.Distance.COSINE)

        wanted = {
            CLIPS: {**{b: int(layout.dims[b]) for b in BLOCKS}, FUSED: layout.total_dim},
            AUDIENCES: {CENTROID: layout.total_dim},
            TOPICS: {DESCRIPTION: int(layout.dims["caption"])},
        }
        for coll, dims in wanted.items():
            name = self.name(coll)
            if self._do(self._client.collection_exists, name):
                if recreate:
                    self._do(self._client.delete_collection, name)
                else:
                    have = self._vector_dims(coll)
                    if have != dims:
                        raise IndexError_(
                            f"the index's '{coll}' collection holds vectors of other sizes "
                            f"({have}) than this encoder setup ({dims}): rebuild the index")
                    continue
            self._do(self._client.create_collection, name,
                     vectors_config={n: params(d) for n, d in dims.items()})
            self._dims[coll] = dims
            if self._shared is not None:
                _tune_local(self._client)
        if not self.embedded:  # embedded Qdrant ignores payload indexes
            self._create_payload_indexes()

    def _create_payload_indexes(self) -> None:
        from qdrant_client import models

        schema = models.PayloadSchemaType
        fields = {"id": schema.KEYWORD, "account": schema.KEYWORD, "language": schema.KEYWORD,
                  "media_kind": schema.KEYWORD, "labels": schema.KEYWORD,
                  "blocks": schema.KEYWORD, "audience": schema.INTEGER,
                  "published_ts": schema.FLOAT, "published_at": schema.DATETIME,
                  "location": schema.GEO}
        for name, kind in fields.items():
            self._do(self._client.create_payload_index, self.name(CLIPS), name,
                     field_schema=kind, wait=True)
        self._do(self._client.create_payload_index, self.name(AUDIENCES), "id",
                 field_schema=schema.INTEGER, wait=True)

    def drop(self) -> None:
        """Delete this store's collections (a no-op for those that do not exist)."""
        for coll in (CLIPS, AUDIENCES, TOPICS):
            if self._do(self._client.collection_exists, self.name(coll)):
                self._do(self._client.delete_collection, self.name(coll))
            self._dims.pop(coll, None)

    def _vector_dims(self, coll: str) -> dict[str, int]:
        if coll not in self._dims:
            info = self._do(self._client.get_collection, self.name(coll))
            vectors = info.config.params.vectors
            if not isinstance(vectors, Mapping):
                raise IndexError_(f"the '{self.name(coll)}' collection was not made by "
                                  "interestmap: use another prefix or rebuild the index")
            self._dims[coll] = {n: int(v.size) for n, v in vectors.items()}
        return self._dims[coll]

    # Clips -----------------------------------------------------------------------------
    def upsert_clips(self, ids: Sequence[str], fused: np.ndarray,
                     blocks: Mapping[str, np.ndarray], presence: np.ndarray,
                     payloads: Sequence[Mapping[str, Any]], batch_size: int = 256) -> int:
        """Add or replace clips; returns how many were written.

        ``fused`` is ``(n, total_dim)``; ``blocks[b]`` is ``(n, dim_b)`` (a block may be
        left out of the mapping altogether); ``presence`` is ``(n, n_blocks)`` booleans
        in :data:`~interestmap.fusion.BLOCKS` order. Absent (or all-zero) blocks are not
        stored. ``payloads`` are plain dicts (see the module doc; :func:`clip_payload`
        makes one from an encoded clip).
        """
        from qdrant_client import models

        ids = [str(i) for i in ids]
        n = len(ids)
        dims = self._vector_dims(CLIPS)
        fused = _as_matrix(fused, n, dims[FUSED], "fused")
        presence = np.asarray(presence, dtype=bool)
        if presence.shape != (n, len(BLOCKS)):
            raise ConfigError(f"presence must be ({n}, {len(BLOCKS)}) booleans in block order "
                              f"{list(BLOCKS)}, got {presence.shape}")
        unknown = set(blocks) - set(BLOCKS)
        if unknown:
            raise ConfigError(f"unknown block(s) {sorted(unknown)}; blocks are {list(BLOCKS)}")
        mats = {b: _as_matrix(v, n, dims[b], b) for b, v in blocks.items()}
        if len(payloads) != n:
            raise ConfigError(f"{n} ids but {len(payloads)} payloads")
        _check_unique(ids)
        points = []
        for i, cid in enumerate(ids):
            vectors: dict[str, list[float]] = {}
            if _usable(fused[i]):
                vectors[FUSED] = fused[i].tolist()
            present = []
            for j, b in enumerate(BLOCKS):
                if b in mats and presence[i, j] and _usable(mats[b][i]):
                    vectors[b] = _unit(mats[b][i]).tolist()
                    present.append(b)
            payload = _clip_payload_fields(payloads[i], cid)
            payload["blocks"] = present
            points.append(models.PointStruct(id=point_id("clip", cid), vector=vectors,
                                             payload=payload))
        for start in range(0, n, max(1, batch_size)):
            self._do(self._client.upsert, self.name(CLIPS), points=points[start:start + batch_size],
                     wait=True)
        return n

    def set_payload(self, ids: Sequence[str],
                    payload: Mapping[str, Any] | Sequence[Mapping[str, Any]],
                    batch_size: int = 256) -> None:
        """Update payload fields of clips (other fields are kept).

        ``payload`` is one mapping for all ``ids`` (``{"audience": 3}``) or one per id
        (``[{"audience": 3, "x": .1, "y": .5}, ...]``). Unknown ids are refused.
        """
        from qdrant_client import models

        ids = [str(i) for i in ids]
        _check_unique(ids)
        self._require_clips(ids)
        if isinstance(payload, Mapping):
            body = _jsonable(dict(payload))
            for start in range(0, len(ids), max(1, batch_size)):
                chunk = [point_id("clip", i) for i in ids[start:start + batch_size]]
                self._do(self._client.set_payload, self.name(CLIPS), payload=body,
                         points=chunk, wait=True)
            return
        if len(payload) != len(ids):
            raise ConfigError(f"{len(ids)} ids but {len(payload)} payloads")
        ops = [models.SetPayloadOperation(set_payload=models.SetPayload(
            payload=_clip_payload_fields(p, None), points=[point_id("clip", i)]))
            for i, p in zip(ids, payload, strict=True)]
        for start in range(0, len(ops), max(1, batch_size)):
            self._do(self._client.batch_update_points, self.name(CLIPS),
                     update_operations=ops[start:start + batch_size], wait=True)

    def delete_clips(self, ids: Sequence[str]) -> None:
        """Remove clips by id (ids not in the index are ignored)."""
        from qdrant_client import models

        pids = [point_id("clip", str(i)) for i in ids]
        if pids:
            self._do(self._client.delete, self.name(CLIPS),
                     points_selector=models.PointIdsList(points=pids), wait=True)

    def search_clips(self, fused_query: np.ndarray, k: int = 10,
                     filters: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        """The ``k`` clips nearest to a fused vector: ``[{"id", "score", "payload"}]``.

        ``filters`` narrows the search: ``account``, ``language``, ``media_kind``,
        ``labels`` (a value or a list: any of them), ``audience`` (int or list),
        ``since`` / ``until`` (ISO date or time, datetime, or Unix seconds),
        ``near`` (``{"lat", "lon", "radius_km"}``), ``ids`` / ``exclude_ids``, and
        ``has_block`` (block name(s) the clip must have).
        """
        return self._search(CLIPS, FUSED, fused_query, k, filters)

    def search_block(self, block: str, vector: np.ndarray, k: int = 10,
                     filters: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        """The ``k`` clips nearest in one block's space (e.g. captions near a topic text).

        Clips that lack the block are never returned.
        """
        if block not in BLOCKS:
            raise ConfigError(f"unknown block {block!r}; blocks are {list(BLOCKS)}")
        return self._search(CLIPS, block, vector, k, filters)

    def _search(self, coll: str, using: str, vector: np.ndarray, k: int,
                filters: Mapping[str, Any] | None) -> list[dict[str, Any]]:
        dim = self._vector_dims(coll)[using]
        q = np.asarray(vector, dtype=np.float32).reshape(-1)
        if q.shape[0] != dim:
            raise EncoderMismatchError(f"the query has {q.shape[0]} dims, the index's "
                                       f"'{using}' vectors have {dim}: encode with the "
                                       "index's encoders")
        if not _usable(q):
            raise ConfigError("the query vector is empty (all zeros or not finite): give a "
                              "clip with some content")
        if k < 1:
            return []
        res = self._do(self._client.query_points, self.name(coll), query=q.tolist(),
                       using=using, query_filter=build_filter(filters), limit=int(k),
                       with_payload=True, with_vectors=False)
        return [{"id": p.payload.get("id"), "score": float(p.score), "payload": p.payload}
                for p in res.points]

    def get_clip_vectors(self, ids: Sequence[str]) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """``(fused (n, D), {block: (n, d_b)})`` of clips, zeros where a block is absent."""
        ids = [str(i) for i in ids]
        dims = self._vector_dims(CLIPS)
        fused = np.zeros((len(ids), dims[FUSED]), dtype=np.float32)
        blocks = {b: np.zeros((len(ids), dims[b]), dtype=np.float32) for b in BLOCKS}
        found = self._retrieve(CLIPS, "clip", ids, with_vectors=True)
        missing = [i for i in ids if i not in found]
        if missing:
            raise IndexError_(_missing_message(missing))
        for row, cid in enumerate(ids):
            vecs = found[cid].vector or {}
            if FUSED in vecs:
                fused[row] = vecs[FUSED]
            for b in BLOCKS:
                if b in vecs:
                    blocks[b][row] = vecs[b]
        return fused, blocks

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
        for p in self._scroll(CLIPS, with_vectors, filters, batch_size):
            item: dict[str, Any] = {"id": p.payload.get("id"), "payload": p.payload}
            if with_vectors:
                vecs = p.vector or {}
                dims = self._vector_dims(CLIPS)
                item["fused"] = (np.asarray(vecs[FUSED], dtype=np.float32) if FUSED in vecs
                                 else np.zeros(dims[FUSED], dtype=np.float32))
                item["blocks"] = {b: np.asarray(vecs[b], dtype=np.float32)
                                  for b in BLOCKS if b in vecs}
            yield item

    def count(self, filters: Mapping[str, Any] | None = None, collection: str = CLIPS) -> int:
        """How many clips (or audiences / topics) there are, optionally filtered."""
        res = self._do(self._client.count, self.name(collection),
                       count_filter=build_filter(filters), exact=True)
        return int(res.count)

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
        from qdrant_client import models

        dim = self._vector_dims(coll)[vname]
        mat = _as_matrix(vectors, len(ids), dim, vname)
        if len(payloads) != len(ids):
            raise ConfigError(f"{len(ids)} ids but {len(payloads)} payloads")
        _check_unique([str(i) for i in ids])
        if replace:
            self._do(self._client.delete, self.name(coll),
                     points_selector=models.FilterSelector(filter=models.Filter()), wait=True)
        points = [models.PointStruct(
            id=point_id(kind, i), vector={vname: mat[r].tolist()} if _usable(mat[r]) else {},
            payload={**_jsonable(dict(payloads[r])), "id": i}) for r, i in enumerate(ids)]
        for start in range(0, len(points), 256):
            self._do(self._client.upsert, self.name(coll), points=points[start:start + 256],
                     wait=True)
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
        for p in self._scroll(coll, with_vectors, None, 256):
            item: dict[str, Any] = {"id": p.payload.get("id"), "payload": p.payload}
            if with_vectors:
                vec = (p.vector or {}).get(vname)
                item[vname] = (np.asarray(vec, dtype=np.float32) if vec is not None
                               else np.zeros(self._vector_dims(coll)[vname], dtype=np.float32))
            out.append(item)
        return sorted(out, key=lambda d: (str(type(d["id"])), d["id"]))

    # Internals -------------------------------------------------------------------------
    def _scroll(self, coll: str, with_vectors: bool, filters: Mapping[str, Any] | None,
                batch_size: int) -> Iterator[Any]:
        flt = build_filter(filters)
        offset = None
        while True:
            points, offset = self._do(self._client.scroll, self.name(coll), scroll_filter=flt,
                                      limit=max(1, batch_size), offset=offset,
                                      with_payload=True, with_vectors=with_vectors)
            yield from points
            if offset is None:
                return

    def _retrieve(self, coll: str, kind: str, ids: list[str],
                  with_vectors: bool) -> dict[str, Any]:
        found: dict[str, Any] = {}
        for start in range(0, len(ids), 256):
            pids = [point_id(kind, i) for i in ids[start:start + 256]]
            for p in self._do(self._client.retrieve, self.name(coll), ids=pids,
                              with_payload=True, with_vectors=with_vectors):
                found[str(p.payload.get("id"))] = p
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
    from .corpus import parse_datetime

    out = _jsonable(dict(payload))
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


def build_filter(filters: Mapping[str, Any] | None) -> Any:
    """A Qdrant ``Filter`` from a plain dict (keys: :data:`FILTER_KEYS`), or None."""
    from qdrant_client import models

    if not filters:
        return None
    unknown = set(filters) - set(FILTER_KEYS)
    if unknown:
        raise ConfigError(f"unknown filter(s) {sorted(unknown)}; use {list(FILTER_KEYS)}")
    must: list[Any] = []
    must_not: list[Any] = []

    def match(key: str, value: Any, cast: Callable[[Any], Any] = str) -> Any:
        values = [cast(v) for v in (value if isinstance(value, list | tuple | set)
                                    else [value])]
        if len(values) == 1:
            return models.FieldCondition(key=key, match=models.MatchValue(value=values[0]))
        return models.FieldCondition(key=key, match=models.MatchAny(any=values))

    for key in ("account", "language", "media_kind", "labels"):
        if filters.get(key) is not None:
            must.append(match(key, filters[key]))
    if filters.get("audience") is not None:
        must.append(match("audience", filters["audience"], int))
    if filters.get("has_block") is not None:
        blocks = filters["has_block"]
        for b in ([blocks] if isinstance(blocks, str) else blocks):
            if b not in BLOCKS:
                raise ConfigError(f"unknown block {b!r} in has_block; blocks are {list(BLOCKS)}")
            must.append(models.FieldCondition(key="blocks", match=models.MatchValue(value=b)))
    since, until = filters.get("since"), filters.get("until")
    if since is not None or until is not None:
        must.append(models.FieldCondition(key="published_ts", range=models.Range(
            gte=_timestamp(since, "since") if since is not None else None,
            lte=_timestamp(until, "until") if until is not None else None)))
    if filters.get("near") is not None:
        near = filters["near"]
        try:
            lat, lon, km = float(near["lat"]), float(near["lon"]), float(near["radius_km"])
        except (KeyError, TypeError, ValueError) as e:
            raise ConfigError('filter "near" needs {"lat": .., "lon": .., "radius_km": ..}') \
                from e
        must.append(models.FieldCondition(key="location", geo_radius=models.GeoRadius(
            center=models.GeoPoint(lat=lat, lon=lon), radius=km * 1000.0)))
    if filters.get("ids") is not None:
        must.append(models.HasIdCondition(has_id=[point_id("clip", str(i))
                                                  for i in filters["ids"]]))
    if filters.get("exclude_ids"):
        must_not.append(models.HasIdCondition(has_id=[point_id("clip", str(i))
                                                      for i in filters["exclude_ids"]]))
    return models.Filter(must=must or None, must_not=must_not or None)


def _timestamp(value: Any, name: str) -> float:
    from .corpus import parse_datetime

    try:
        return parse_datetime(value).timestamp()
    except (ValueError, OverflowError, OSError) as e:
        raise ConfigError(f"filter {name}={value!r} is not a date like 2024-05-01 or "
                          "2024-05-01T18:00:00Z") from e


def _jsonable(obj: Any) -> Any:
    """NumPy scalars / arrays, Paths, dates and tuples turned into JSON types."""
    if isinstance(obj, Mapping):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple | set):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _jsonable(obj.tolist())
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


def _unit(v: np.ndarray) -> np.ndarray:
    return (v / np.linalg.norm(v)).astype(np.float32)


def _check_unique(ids: list[str]) -> None:
    seen: set[str] = set()
    for i in ids:
        if i in seen:
            raise ConfigError(f"id {i!r} is given twice: ids must be unique")
        seen.add(i)


def _missing_message(missing: list[str]) -> str:
    shown = ", ".join(repr(m) for m in missing[:3]) + (" ..." if len(missing) > 3 else "")
    return f"{len(missing)} clip(s) not in this index: {shown}"


# Manifest ------------------------------------------------------------------------------
def read_manifest(index_dir: str | Path) -> dict[str, Any]:
    """The manifest of a complete index; :class:`IndexError_` if missing or half-built."""
    d = Path(index_dir).expanduser()
    path = d / MANIFEST_NAME
    if not d.is_dir():
        raise IndexError_(f"no index at {d}: build one with `interestmap index build`")
    if not path.is_file():
        raise IndexError_(f"index at {d} is not complete (an interrupted build?): run "
                          "`interestmap index build` again to resume")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError, OSError) as e:
        raise IndexError_(f"the manifest of the index at {d} is unreadable ({e}): run "
                          "`interestmap index build` again") from e
    if not isinstance(data, dict) or "format" not in data:
        raise IndexError_(f"{path} is not an interestmap index manifest")
    if int(data["format"]) > MANIFEST_FORMAT:
        raise IndexError_(f"the index at {d} was made by a newer interestmap "
                          f"({data.get('interestmap_version', '?')}): upgrade interestmap")
    return data


def write_manifest(index_dir: str | Path, data: Mapping[str, Any]) -> dict[str, Any]:
    """Atomically write ``DIR/manifest.json`` (temp file, fsync, os.replace).

    Fills in ``format``, ``interestmap_version``, ``updated_at``, and keeps
    ``created_at`` from the manifest it replaces. Returns what was written.
    """
    d = Path(index_dir).expanduser()
    d.mkdir(parents=True, exist_ok=True)
    now = _now()
    created = now
    with contextlib.suppress(Exception):
        created = json.loads((d / MANIFEST_NAME).read_text(encoding="utf-8"))["created_at"]
    out = {**_jsonable(dict(data)), "format": MANIFEST_FORMAT,
           "interestmap_version": __version__, "updated_at": now}
    out.setdefault("created_at", created)
    _atomic_write_text(d / MANIFEST_NAME, json.dumps(out, indent=2, ensure_ascii=False) + "\n")
    return out


def manifest_layout(manifest: Mapping[str, Any]) -> FusionLayout:
    """The :class:`FusionLayout` an index was built with."""
    try:
        return FusionLayout.from_dict(manifest["layout"])
    except (KeyError, TypeError) as e:
        raise IndexError_("the index manifest has no fusion layout: rebuild the index") from e


def check_query_layout(manifest: Mapping[str, Any], layout: FusionLayout) -> None:
    """Refuse (:class:`EncoderMismatchError`) a query encoded with other encoders."""
    manifest_layout(manifest).check_compatible(layout)


def _atomic_write_text(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    _fsync_dir(path.parent)


def _fsync_dir(d: Path) -> None:
    with contextlib.suppress(OSError):  # not supported on every platform / filesystem
        fd = os.open(d, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _now() -> str:
    return datetime.now().astimezone().isoformat(timespec="seconds")


# Opening and building an index ---------------------------------------------------------
@dataclass
class OpenIndex:
    """A complete index: its folder, manifest, store and data folder."""

    dir: Path
    manifest: dict[str, Any]
    store: IndexStore
    data_dir: Path
    """Folder of the published generation (where a build saved its artefacts)."""

    @property
    def layout(self) -> FusionLayout:
        return manifest_layout(self.manifest)

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> OpenIndex:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def cache_dir(index_dir: str | Path) -> Path:
    """Where the encode cache of an index lives (kept across builds)."""
    return Path(index_dir).expanduser() / CACHE_DIRNAME


def open_index(index_dir: str | Path, url: str | None = None,
               api_key: str | None = None) -> OpenIndex:
    """Open a complete index for reading and searching.

    A remote index uses the server recorded in its manifest unless ``url`` is given;
    ``api_key`` defaults to ``$QDRANT_API_KEY``.
    """
    d = Path(index_dir).expanduser().resolve()
    manifest = read_manifest(d)
    data_dir = d / str(manifest.get("data", ""))
    q = manifest.get("qdrant") or {}
    if not manifest.get("data") or not data_dir.is_dir():
        raise IndexError_(f"index at {d} is not complete (an interrupted build?): run "
                          "`interestmap index build` again to resume")
    if q.get("mode") == "remote":
        store = IndexStore(url=url or q.get("url"),
                           api_key=api_key or os.environ.get("QDRANT_API_KEY"),
                           prefix=str(q.get("prefix", "")))
    else:
        qpath = d / str(q.get("path", Path(str(manifest["data"])) / QDRANT_DIRNAME))
        if not qpath.is_dir():
            raise IndexError_(f"index at {d} is not complete (an interrupted build?): run "
                              "`interestmap index build` again to resume")
        store = IndexStore(path=qpath)
    return OpenIndex(dir=d, manifest=manifest, store=store, data_dir=data_dir)


class IndexBuild:
    """One build of an index folder: a fresh generation, published atomically.

    Use as a context manager; leaving it by an exception aborts (the previous index,
    if any, stays as it was)::

        with begin_build(dir) as build:
            store = build.store()
            store.create(layout)
            store.upsert_clips(...)
            ...  # save other artefacts under build.staging
            build.publish({"layout": layout.as_dict(), "counts": {...}, ...})
    """

    def __init__(self, index_dir: Path, url: str | None, api_key: str | None,
                 prefix: str) -> None:
        import portalocker

        self.dir = index_dir
        self.url, self._api_key, self._base_prefix = url, api_key, prefix
        self.dir.mkdir(parents=True, exist_ok=True)
        self._lock_file = open(self.dir / _BUILD_LOCK, "a+")  # noqa: SIM115 (held open)
        try:
            portalocker.lock(self._lock_file,
                             portalocker.LockFlags.EXCLUSIVE | portalocker.LockFlags.NON_BLOCKING)
        except portalocker.exceptions.LockException as e:
            self._lock_file.close()
            raise IndexError_(f"another build of the index at {self.dir} is running: wait "
                              "for it to finish") from e
        self.index_id = _index_id(self.dir)
        self.token = f"{time.strftime('%Y%m%dT%H%M%S')}-{secrets.token_hex(3)}"
        self.staging = self.dir / f"{_BUILDING}{self.token}"
        self._stores: list[IndexStore] = []
        self._done = False
        try:
            _collect_garbage(self.dir, self._current_data(), self._remote_cleaner())
            self.staging.mkdir()
        except BaseException:
            self._release()
            raise

    @property
    def remote_prefix(self) -> str:
        """Collection prefix of this generation on a Qdrant server."""
        return f"{self._base_prefix}im{self.index_id}_{self.token.replace('T', '')}_"

    def store(self) -> IndexStore:
        """The (empty) store of the generation being built."""
        if self.url is not None:
            s = IndexStore(url=self.url, api_key=self._api_key, prefix=self.remote_prefix)
        else:
            s = IndexStore(path=self.staging / QDRANT_DIRNAME)
        self._stores.append(s)
        return s

    def publish(self, manifest: Mapping[str, Any]) -> dict[str, Any]:
        """Make this generation the index: rename it into place, then swap the manifest.

        ``manifest`` holds what the build knows (``layout``, ``clustering``,
        ``projection``, ``counts``, ``source``, ...); where the data lives is added here.
        Returns the manifest written.
        """
        if self._done:
            raise IndexError_("this build is already finished")
        for s in self._stores:
            s.close()
        _close_local_under(self.staging)
        data_name = f"{_DATA}{self.token}"
        os.rename(self.staging, self.dir / data_name)
        _fsync_dir(self.dir)
        qdrant = ({"mode": "remote", "url": self.url, "prefix": self.remote_prefix}
                  if self.url is not None else
                  {"mode": "embedded", "path": f"{data_name}/{QDRANT_DIRNAME}"})
        written = write_manifest(self.dir, {**dict(manifest), "data": data_name,
                                            "qdrant": qdrant, "index_id": self.index_id})
        self._done = True
        try:
            _collect_garbage(self.dir, data_name, self._remote_cleaner(keep=self.remote_prefix))
        finally:
            self._release()
        return written

    def abort(self) -> None:
        """Drop this generation; the published index (if any) is untouched."""
        if self._done:
            return
        self._done = True
        try:
            for s in self._stores:
                with contextlib.suppress(InterestmapError):
                    if not s.embedded:
                        s.drop()
                s.close()
            _close_local_under(self.staging)
            shutil.rmtree(self.staging, ignore_errors=True)
        finally:
            self._release()

    def __enter__(self) -> IndexBuild:
        return self

    def __exit__(self, exc_type: Any, *exc: Any) -> None:
        if not self._done:
            self.abort()

    def _current_data(self) -> str | None:
        with contextlib.suppress(InterestmapError, KeyError):
            return str(read_manifest(self.dir)["data"])
        return None

    def _remote_cleaner(self, keep: str | None = None) -> Callable[[], None] | None:
        """Drops this index's collections of unpublished or replaced generations."""
        if self.url is None:
            return None
        current = keep
        if current is None:
            with contextlib.suppress(InterestmapError, KeyError):
                current = read_manifest(self.dir)["qdrant"]["prefix"]
        mine = f"{self._base_prefix}im{self.index_id}_"

        def clean() -> None:
            from qdrant_client import QdrantClient

            client = QdrantClient(url=self.url, api_key=self._api_key, timeout=60,
                                  check_compatibility=False)
            try:
                for c in client.get_collections().collections:
                    if c.name.startswith(mine) and not (current and
                                                        c.name.startswith(current)):
                        client.delete_collection(c.name)
            finally:
                client.close()
        return clean

    def _release(self) -> None:
        import portalocker

        with contextlib.suppress(Exception):
            portalocker.unlock(self._lock_file)
        self._lock_file.close()


def begin_build(index_dir: str | Path, url: str | None = None, api_key: str | None = None,
                prefix: str = "") -> IndexBuild:
    """Start building (or rebuilding) the index in ``index_dir``; see :class:`IndexBuild`.

    With ``url`` the vectors go to that Qdrant server (``api_key`` defaults to
    ``$QDRANT_API_KEY``), otherwise into the folder. Only one build per folder runs at a
    time; leftovers of killed builds are removed here.
    """
    if not _PREFIX_RE.match(prefix):
        raise ConfigError(f"collection prefix {prefix!r} may only hold letters, digits, "
                          "'_' and '-'")
    return IndexBuild(Path(index_dir).expanduser().resolve(), url,
                      api_key or (os.environ.get("QDRANT_API_KEY") if url else None), prefix)


def _index_id(d: Path) -> str:
    """A short random id of the index folder (names its collections on a server)."""
    path = d / _INDEX_ID
    with contextlib.suppress(OSError):
        text = path.read_text(encoding="utf-8").strip()
        if re.fullmatch(r"[0-9a-f]{8}", text):
            return text
    ident = secrets.token_hex(4)
    _atomic_write_text(path, ident + "\n")
    return ident


def _collect_garbage(d: Path, keep: str | None,
                     remote_cleaner: Callable[[], None] | None) -> None:
    """Remove build leftovers and replaced generations that nobody has open."""
    for p in d.iterdir():
        name = p.name
        if p.is_file() and name.startswith(f".{MANIFEST_NAME}.") and name.endswith(".tmp"):
            with contextlib.suppress(OSError):
                p.unlink()
        elif p.is_dir() and (name.startswith(_BUILDING) or
                             (name.startswith(_DATA) and name != keep)):
            _remove_generation(p)
    if remote_cleaner is not None:
        try:
            remote_cleaner()
        except Exception as e:  # leftovers on a server cost space, not correctness
            log.warning("could not remove old collections from the Qdrant server: %s", e)


def _remove_generation(p: Path) -> None:
    """Delete a generation folder unless its embedded Qdrant is open (then keep it)."""
    import portalocker

    p = p.resolve()
    if any(q == p or p in q.parents for q in _LOCAL):
        return  # open in this process (e.g. an app still serving the old index)
    lock_path = p / QDRANT_DIRNAME / ".lock"
    if lock_path.exists():
        with open(lock_path, "r+") as f:
            try:
                portalocker.lock(f, portalocker.LockFlags.EXCLUSIVE |
                                 portalocker.LockFlags.NON_BLOCKING)
            except portalocker.exceptions.LockException:
                return  # another process reads it; a later build removes it
            shutil.rmtree(p, ignore_errors=True)
            return
    shutil.rmtree(p, ignore_errors=True)
