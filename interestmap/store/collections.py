"""The plumbing under :class:`~interestmap.store.interface.IndexStore`: a backend, the
index's collections (create, describe, drop, optimise) and the low-level reads and searches.

A backend is either the embedded Qdrant Edge store of a folder (:mod:`interestmap.store.edge`,
shared inside the process by :mod:`interestmap.store.shared`) or a Qdrant server
(:mod:`interestmap.store.server`); errors from either come out in plain words.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Self, TypeVar

import numpy as np

from interestmap.encoders.base import l2_normalize
from interestmap.encoders.fusion import FusionLayout
from interestmap.errors import ConfigError, EncoderMismatchError, IndexError_, InterestmapError
from interestmap.store.filters import parse_filters
from interestmap.store.schema import (
    AUDIENCES,
    CENTROID,
    CLIPS,
    DESCRIPTION,
    FUSED,
    PAYLOAD_INDEXES,
    STORE_FORMAT,
    TOPICS,
    Record,
    StoreSettings,
    check_prefix,
    point_id,
)
from interestmap.store.shared import SharedBackend, acquire_embedded, release_embedded

T = TypeVar("T")


class CollectionStore:
    """An index's Qdrant collections on one backend; :class:`IndexStore` adds what they hold.

    Give exactly one of ``path`` (embedded, a folder) or ``url`` (a Qdrant server;
    ``api_key`` for Qdrant Cloud). ``prefix`` is put before every collection name.
    ``settings`` apply when the collections are created.
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
        self._shared: SharedBackend | None = None
        if path is not None:
            self.path = Path(path).expanduser().resolve()
            self._shared = acquire_embedded(self.path, self.settings)
            self._backend: Any = self._shared.backend
        else:
            from qdrant_client import QdrantClient

            from interestmap.store.server import ServerBackend

            self._backend = ServerBackend(
                QdrantClient(url=url, api_key=api_key, timeout=timeout_s,
                             check_compatibility=False), self.settings)

    @classmethod
    def on_client(cls, client: Any, prefix: str = "",
                  settings: StoreSettings | None = None) -> Self:
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

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        """Let go of the store (an embedded folder is closed when its last user closes)."""
        if self._closed:
            return
        self._closed = True
        if self.path is not None:
            release_embedded(self.path, self._shared)
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


    # Reads and searches ----------------------------------------------------------------
    def _check_query(self, coll: str, using: str, vector: np.ndarray) -> np.ndarray:
        """``vector`` as a flat float32 array, refused if of the wrong size or empty."""
        dim = self._vector_dims(coll)[using]
        q = np.asarray(vector, dtype=np.float32).reshape(-1)
        if q.shape[0] != dim:
            raise EncoderMismatchError(f"the query has {q.shape[0]} dims, the index's "
                                       f"'{using}' vectors have {dim}: encode with the "
                                       "index's encoders")
        if not usable(q):
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


def as_matrix(x: Any, n: int, dim: int, what: str) -> np.ndarray:
    """``x`` as an ``(n, dim)`` float32 matrix, or an error naming the vectors ``what``."""
    m = np.asarray(x, dtype=np.float32)
    if m.ndim == 1 and n == 1:
        m = m[None, :]
    if m.shape != (n, dim):
        raise EncoderMismatchError(f"'{what}' vectors are {tuple(m.shape)}, the index expects "
                                   f"({n}, {dim}): encode with the index's encoders")
    return m


def usable(v: np.ndarray) -> bool:
    """True for a vector that is finite and not all zeros."""
    return bool(np.all(np.isfinite(v)) and np.any(v != 0))


def check_unique(ids: list[str]) -> None:
    """Refuse (:class:`ConfigError`) a list of ids with a repeat."""
    seen: set[str] = set()
    for i in ids:
        if i in seen:
            raise ConfigError(f"id {i!r} is given twice: ids must be unique")
        seen.add(i)


def missing_message(missing: list[str]) -> str:
    """One line naming clips that are not in the index."""
    shown = ", ".join(repr(m) for m in missing[:3]) + (" ..." if len(missing) > 3 else "")
    return f"{len(missing)} clip(s) not in this index: {shown}"
