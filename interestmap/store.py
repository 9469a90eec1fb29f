"""Qdrant collections of an index: clips, audiences and declared topics.

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
message. Embedded Qdrant searches by brute force and re-normalises every stored vector
on each query, so unfiltered clip searches in an embedded store use a matrix of every
clip's unit fused vector kept in memory instead (read once, dropped on any change to the
clips' vectors or ids; it costs 4 bytes x fused dims per clip, 200 MB at 10k clips with
the default encoders, twice that while it is read). Filtered searches go to Qdrant.
Embedded Qdrant also holds every stored vector in memory, and far more while opening a
store: past a few tens of thousands of clips use a server (``url=``; see
``benchmarks/README.md``). Payload indexes are made on a server only (embedded mode has
no use for them).

The index folder that holds a store, its manifest and atomic builds are in
:mod:`interestmap.index_manifest`.
"""

from __future__ import annotations

import contextlib
import logging
import math
import re
import threading
import uuid
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from .errors import ConfigError, EncoderMismatchError, IndexError_, InterestmapError
from .fusion import BLOCKS, FusionLayout

log = logging.getLogger(__name__)

T = TypeVar("T")

CLIPS, AUDIENCES, TOPICS = "clips", "audiences", "topics"
FUSED = "fused"
CENTROID = "centroid"
DESCRIPTION = "description"

_ID_NAMESPACE = uuid.UUID("6f1f6c1e-4c8e-5d0b-9a53-1c2b8e0d7a41")
"""Namespace of the uuid5 point ids (fixed forever: changing it orphans every index)."""

FILTER_KEYS = ("account", "language", "media_kind", "labels", "audience", "since", "until",
               "near", "ids", "exclude_ids", "has_block")
"""Keys :meth:`IndexStore.search_clips` and friends accept in ``filters``."""

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


# Shared embedded clients -------------------------------------------------------------
@dataclass
class _FusedRows:
    """Every clip's fused vector as one matrix of unit rows, for exact search in memory."""

    version: int
    ids: list[str]
    matrix: np.ndarray  # (n, total_dim) float32


@dataclass
class _Shared:
    client: Any
    lock: threading.RLock = field(default_factory=threading.RLock)
    refs: int = 0
    closed: bool = False
    # per clips collection (one per prefix): a version bumped by every write to it, so a
    # stale matrix is never used, and the matrix itself
    versions: dict[str, int] = field(default_factory=dict)
    fused: dict[str, _FusedRows] = field(default_factory=dict)


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
                current.fused.clear()  # closed handles still point here: free the memory
                current.client.close()
            del _LOCAL[path]


def embedded_open_under(folder: Path) -> bool:
    """True if this process has an embedded client open on ``folder`` or inside it."""
    folder = folder.resolve()
    with _LOCAL_LOCK:
        return any(p == folder or folder in p.parents for p in _LOCAL)


def close_embedded_under(folder: Path) -> None:
    """Close every shared embedded client whose folder lies in ``folder``."""
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
    Vectors go in and come out as NumPy arrays; hits are plain dicts.
    """

    def __init__(self, path: str | Path | None = None, url: str | None = None,
                 api_key: str | None = None, prefix: str = "", timeout_s: int = 60) -> None:
        if (path is None) == (url is None):
            raise ConfigError("give either a folder (path) or a Qdrant server address (url) "
                              "for the index, not both and not neither")
        self.prefix = check_prefix(prefix)
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

    def _clips_changed(self) -> None:
        """Forget the in-memory matrix of fused vectors (embedded stores)."""
        if self._shared is not None:
            with self._lock:
                name = self.name(CLIPS)
                self._shared.versions[name] = self._shared.versions.get(name, 0) + 1
                self._shared.fused.pop(name, None)

    @contextlib.contextmanager
    def _changing_clips(self) -> Iterator[None]:
        """Around a write to the clips: the matrix is forgotten before and after it, so no
        search during the write can leave one behind that misses it."""
        self._clips_changed()
        try:
            yield
        finally:
            self._clips_changed()

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
                    self._clips_changed()
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
            self._clips_changed()
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
        with self._changing_clips():
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
        with self._changing_clips():
            for start in range(0, n, max(1, batch_size)):
                self._do(self._client.upsert, self.name(CLIPS),
                         points=points[start:start + batch_size], wait=True)
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
        many = [payload] if isinstance(payload, Mapping) else list(payload)
        if any("id" in p for p in many):
            raise ConfigError("a clip's id cannot be changed (it names the clip in the "
                              "index): upsert it under the new id and delete the old one")
        self._require_clips(ids)
        if isinstance(payload, Mapping):
            body = to_jsonable(dict(payload))
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
            with self._changing_clips():
                self._do(self._client.delete, self.name(CLIPS),
                         points_selector=models.PointIdsList(points=pids), wait=True)

    def search_clips(self, fused_query: np.ndarray, k: int = 10,
                     filters: Mapping[str, Any] | None = None,
                     with_fused: bool = False) -> list[dict[str, Any]]:
        """The ``k`` clips nearest to a fused vector: ``[{"id", "score", "payload"}]``
        (plus ``"fused"``, the clip's unit fused vector, with ``with_fused``).

        ``filters`` narrows the search: ``account``, ``language``, ``media_kind``,
        ``labels`` (a value or a list: any of them), ``audience`` (int or list),
        ``since`` / ``until`` (ISO date or time, datetime, or Unix seconds),
        ``near`` (``{"lat", "lon", "radius_km"}``), ``ids`` / ``exclude_ids``, and
        ``has_block`` (block name(s) the clip must have).
        """
        if self._shared is not None and not filters:
            return self._search_in_memory(fused_query, k, with_fused)
        return self._search(CLIPS, FUSED, fused_query, k, filters, with_fused)

    def _search_in_memory(self, vector: np.ndarray, k: int,
                          with_fused: bool) -> list[dict[str, Any]]:
        """Exact cosine search over the in-memory matrix (same scores as Qdrant's)."""
        q = _unit(self._check_query(CLIPS, FUSED, vector))
        for _ in range(2):  # a second go only if a write came between matrix and payloads
            rows = self._fused_rows()
            n = min(int(k), len(rows.ids))
            if n < 1:
                return []
            scores = rows.matrix @ q
            top = np.argpartition(-scores, n - 1)[:n] if n < len(scores) else np.arange(n)
            top = top[np.argsort(-scores[top], kind="stable")]
            ids = [rows.ids[i] for i in top]
            found = self._retrieve(CLIPS, "clip", ids, with_vectors=False)
            if all(i in found for i in ids):
                break
        else:
            raise IndexError_("the index's clips kept changing during a search: try again")
        out = []
        for i, cid in zip(top, ids, strict=True):
            p = found[cid]
            hit = {"id": p.payload.get("id"), "score": float(scores[i]), "payload": p.payload}
            if with_fused:
                hit["fused"] = rows.matrix[i]
            out.append(hit)
        return out

    def _fused_rows(self) -> _FusedRows:
        """The matrix of every clip's unit fused vector, read from the store once."""
        shared = self._shared
        assert shared is not None
        name = self.name(CLIPS)
        rows = shared.fused.get(name)
        if rows is not None and rows.version == shared.versions.get(name, 0):
            return rows
        with self._lock:
            version = shared.versions.get(name, 0)
            rows = shared.fused.get(name)
            if rows is not None and rows.version == version:
                return rows
            ids, vecs = [], []
            for p in self._scroll(CLIPS, [FUSED], None, 1024):
                v = (p.vector or {}).get(FUSED)
                if v is not None:
                    ids.append(str(p.payload.get("id")))
                    vecs.append(np.asarray(v, dtype=np.float32))
            dim = self._vector_dims(CLIPS)[FUSED]
            matrix = np.stack(vecs) if vecs else np.zeros((0, dim), dtype=np.float32)
            matrix /= np.maximum(np.linalg.norm(matrix, axis=1, keepdims=True), 1e-12)
            matrix.setflags(write=False)  # hits hand out rows of it: nobody may change them
            rows = shared.fused[name] = _FusedRows(version, ids, matrix)
            return rows

    def search_block(self, block: str, vector: np.ndarray, k: int = 10,
                     filters: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        """The ``k`` clips nearest in one block's space (e.g. captions near a topic text).

        Clips that lack the block are never returned.
        """
        if block not in BLOCKS:
            raise ConfigError(f"unknown block {block!r}; blocks are {list(BLOCKS)}")
        return self._search(CLIPS, block, vector, k, filters)

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
                filters: Mapping[str, Any] | None,
                with_vector: bool = False) -> list[dict[str, Any]]:
        q = self._check_query(coll, using, vector)
        if k < 1:
            return []
        res = self._do(self._client.query_points, self.name(coll), query=q.tolist(),
                       using=using, query_filter=build_filter(filters), limit=int(k),
                       with_payload=True, with_vectors=[using] if with_vector else False)
        out = []
        for p in res.points:
            hit = {"id": p.payload.get("id"), "score": float(p.score), "payload": p.payload}
            if with_vector:
                hit[using] = _unit(np.asarray((p.vector or {})[using], dtype=np.float32))
            out.append(hit)
        return out

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
            payload={**to_jsonable(dict(payloads[r])), "id": i}) for r, i in enumerate(ids)]
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
    def _scroll(self, coll: str, with_vectors: bool | list[str],
                filters: Mapping[str, Any] | None, batch_size: int) -> Iterator[Any]:
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
