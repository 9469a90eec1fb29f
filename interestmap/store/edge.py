"""The embedded store backend: the Qdrant engine in-process (Qdrant Edge).

``qdrant-edge-py`` (pinned to the 0.9 series: it is beta) runs the real Qdrant engine
inside this process: on-disk segments, payload indexes, HNSW graphs built by
``optimize()``, scalar or binary quantisation. Nothing else in interestmap imports it;
:class:`EdgeBackend` is the whole of what the store needs from it.

One Edge *shard* per collection, each in its own folder under the store folder::

    <folder>/.lock                 held while a process has the store open
    <folder>/<name>/               one shard (edge_config.json, segments/)
    <folder>/<name>.meta.json      what interestmap knows about it (vector sizes, layout)

Shards are made without a write-ahead log: every write call of the store flushes
before it returns (:meth:`EdgeBackend.flush`), so a write is durable once the call is back. A process killed during a write can leave
that shard half-written, which is why builds write into a fresh generation that is
published only when complete (see :mod:`interestmap.index.manifest`).

Only one process may open a store folder at a time (``.lock``); threads of that process
share one open store (see :mod:`interestmap.store.shared`).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from interestmap._io import atomic_write_json
from interestmap.errors import IndexBusyError, IndexError_, MissingDependencyError
from interestmap.store.filters import Cond, Conditions
from interestmap.store.schema import Record, StoreSettings

EDGE_VERSION_RANGE = ">=0.9,<0.10"
"""The qdrant-edge-py releases this module is written for (also pinned in pyproject)."""
LOCK_NAME = ".lock"
_META_SUFFIX = ".meta.json"
_EDGE_CONFIG = "edge_config.json"


def _edge() -> Any:
    try:
        import qdrant_edge
    except ImportError as e:  # pragma: no cover - a broken install
        raise MissingDependencyError(
            "the embedded index needs the qdrant-edge-py package (0.9.x): run "
            "`pip install 'qdrant-edge-py>=0.9,<0.10'` or `bash scripts/setup.sh app`") from e
    return qdrant_edge


class EdgeBackend:
    """Collections of one store folder, each a Qdrant Edge shard, opened by this process."""

    embedded = True

    def __init__(self, folder: Path, settings: StoreSettings) -> None:
        import portalocker

        self.folder = folder
        self.settings = settings
        self._shards: dict[str, Any] = {}
        self._lock = threading.RLock()
        folder.mkdir(parents=True, exist_ok=True)
        self._lock_file = open(folder / LOCK_NAME, "a+")  # noqa: SIM115 (held open)
        try:
            portalocker.lock(self._lock_file, portalocker.LockFlags.EXCLUSIVE |
                             portalocker.LockFlags.NON_BLOCKING)
        except portalocker.exceptions.LockException as e:
            self._lock_file.close()
            raise IndexBusyError(
                f"the index data at {folder} is open in another program (an interestmap "
                "app, API or build?): close it first, or use that program") from e

    # Collections -----------------------------------------------------------------------
    def _dir(self, name: str) -> Path:
        return self.folder / name

    def exists(self, name: str) -> bool:
        return (self._dir(name) / _EDGE_CONFIG).is_file() and \
            (self.folder / f"{name}{_META_SUFFIX}").is_file()

    def describe(self, name: str) -> tuple[dict[str, int], dict[str, Any]]:
        """``(vector sizes by name, interestmap's metadata)`` of a collection."""
        path = self.folder / f"{name}{_META_SUFFIX}"
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise IndexError_(f"the index has no collection '{name}': build the index "
                              "first") from None
        except (OSError, ValueError) as e:
            raise IndexError_(f"the index data at {self.folder} is damaged ({path.name}: "
                              f"{e}): rebuild the index") from e
        return {k: int(v) for k, v in data["vectors"].items()}, dict(data.get("meta", {}))

    def create(self, name: str, vectors: Mapping[str, int], *, big: bool,
               meta: Mapping[str, Any]) -> None:
        e = _edge()
        with self._lock:
            self.drop(name)
            s = self.settings
            if big:
                memory = e.Memory.Cold if s.vectors_on_disk else e.Memory.Cached
                params = {n: e.EdgeVectorParams(size=int(d), distance=e.Distance.Cosine,
                                                memory=memory) for n, d in vectors.items()}
                config = e.EdgeConfig(
                    vectors=params, quantization_config=_quantization(e, s.quantization),
                    hnsw_config=e.HnswIndexConfig(m=s.hnsw_m, ef_construct=s.ef_construct,
                                                  full_scan_threshold=s.full_scan_kb),
                    optimizers=e.EdgeOptimizersConfig(
                        indexing_threshold=s.indexing_threshold_kb),
                    wal_enabled=False)
            else:
                params = {n: e.EdgeVectorParams(size=int(d), distance=e.Distance.Cosine)
                          for n, d in vectors.items()}
                config = e.EdgeConfig(vectors=params, wal_enabled=False)
            shard = e.EdgeShard.create(str(self._dir(name)), config)
            shard.flush()
            self._shards[name] = shard
            atomic_write_json(self.folder / f"{name}{_META_SUFFIX}",
                         {"vectors": {k: int(v) for k, v in vectors.items()},
                          "meta": dict(meta), "big": big})

    def drop(self, name: str) -> None:
        with self._lock:
            shard = self._shards.pop(name, None)
            if shard is not None:
                shard.close()
            with contextlib.suppress(FileNotFoundError):
                (self.folder / f"{name}{_META_SUFFIX}").unlink()
            shutil.rmtree(self._dir(name), ignore_errors=True)

    def _shard(self, name: str) -> Any:
        shard = self._shards.get(name)
        if shard is not None:
            return shard
        with self._lock:
            shard = self._shards.get(name)
            if shard is None:
                if not self.exists(name):
                    raise IndexError_(f"the index has no collection '{name}': build the "
                                      "index first")
                shard = self._shards[name] = _edge().EdgeShard.load(str(self._dir(name)))
                _warm_page_cache(self._dir(name))
            return shard

    def index_payload(self, name: str, fields: Mapping[str, str]) -> None:
        e = _edge()
        kinds = {"keyword": e.PayloadSchemaType.Keyword, "integer": e.PayloadSchemaType.Integer,
                 "float": e.PayloadSchemaType.Float, "geo": e.PayloadSchemaType.Geo,
                 "datetime": e.PayloadSchemaType.Datetime}
        shard = self._shard(name)
        for field, kind in fields.items():
            shard.update(e.UpdateOperation.create_field_index(field, kinds[kind]))
        shard.flush()

    def indexed_fields(self, name: str) -> set[str]:
        return set(self._shard(name).info().payload_schema)

    def optimize(self, name: str) -> None:
        shard = self._shard(name)
        shard.optimize()
        shard.flush()

    def close(self) -> None:
        import portalocker

        with self._lock:
            for shard in self._shards.values():
                with contextlib.suppress(Exception):
                    shard.close()
            self._shards.clear()
            with contextlib.suppress(Exception):
                portalocker.unlock(self._lock_file)
            self._lock_file.close()

    # Points ----------------------------------------------------------------------------
    def upsert(self, name: str, points: Sequence[tuple[str, Mapping[str, np.ndarray],
                                                       Mapping[str, Any]]]) -> None:
        e = _edge()
        shard = self._shard(name)
        batch = [e.Point(pid, {n: v.tolist() for n, v in vecs.items()}, dict(payload))
                 for pid, vecs, payload in points]
        shard.update(e.UpdateOperation.upsert_points(batch))

    def set_payload(self, name: str, items: Sequence[tuple[Sequence[str], Mapping[str, Any]]]
                    ) -> None:
        e = _edge()
        shard = self._shard(name)
        for pids, payload in items:
            shard.update(e.UpdateOperation.set_payload(list(pids), dict(payload)))

    def delete(self, name: str, pids: Sequence[str] | None) -> None:
        """Delete points by id, or every point (``pids=None``)."""
        e = _edge()
        shard = self._shard(name)
        if pids is None:
            pids = [r.id for r in self._all_ids(name)]
        if pids:
            shard.update(e.UpdateOperation.delete_points(list(pids)))

    def flush(self, name: str) -> None:
        """Make the writes so far durable (the shards have no write-ahead log)."""
        self._shard(name).flush()

    def _all_ids(self, name: str) -> list[Record]:
        out, offset = [], None
        while True:
            recs, offset = self.scroll(name, None, False, 1024, offset, payload=False)
            out += recs
            if offset is None:
                return out

    def search(self, name: str, using: str, vector: np.ndarray, k: int,
               flt: Conditions | None, *, with_vector: bool = False,
               payload: bool | Sequence[str] = True, exact: bool = False) -> list[Record]:
        e = _edge()
        s = self.settings
        params = e.SearchParams(
            hnsw_ef=s.ef_for(k, filtered=bool(flt and (flt.must or flt.must_not))),
            exact=exact,
            quantization=e.QuantizationSearchParams(ignore=exact, rescore=True,
                                                    oversampling=s.oversampling_for(k)))
        req = e.QueryRequest(query=e.Query.Nearest(vector.tolist(), using=using), limit=int(k),
                             filter=_filter(e, flt), with_payload=_with_payload(e, payload),
                             with_vector=[using] if with_vector else False, params=params)
        return [_record(p, p.score) for p in self._shard(name).query(req)]

    def retrieve(self, name: str, pids: Sequence[str], with_vectors: bool) -> list[Record]:
        pts = self._shard(name).retrieve(list(pids), with_payload=True,
                                         with_vector=with_vectors)
        return [_record(p) for p in pts]

    def scroll(self, name: str, flt: Conditions | None, with_vectors: bool, limit: int,
               offset: Any, payload: bool = True) -> tuple[list[Record], Any]:
        e = _edge()
        pts, nxt = self._shard(name).scroll(e.ScrollRequest(
            offset=offset, limit=int(limit), filter=_filter(e, flt), with_payload=payload,
            with_vector=with_vectors))
        return [_record(p) for p in pts], nxt

    def count(self, name: str, flt: Conditions | None) -> int:
        e = _edge()
        return int(self._shard(name).count(e.CountRequest(exact=True, filter=_filter(e, flt))))

    def facet(self, name: str, key: str, flt: Conditions | None, limit: int) -> dict[Any, int]:
        e = _edge()
        res = self._shard(name).facet(e.FacetRequest(key=key, limit=int(limit), exact=True,
                                                     filter=_filter(e, flt)))
        return {h.value: int(h.count) for h in res.hits}

    def stats(self, name: str) -> dict[str, Any]:
        info = self._shard(name).info()
        return {"points": int(info.points_count), "segments": int(info.segments_count),
                "indexed_vectors": int(info.indexed_vectors_count)}


def _warm_page_cache(folder: Path, share_of_free: float = 0.5) -> None:
    """Ask the kernel to read a shard's files into the page cache in the background, when
    they fit in ``share_of_free`` of the memory available: the exact vectors stay on disk
    (memory-mapped), and re-scoring a search's candidates would otherwise wait on the disk
    for every vector not read before. Costs no memory of this process."""
    if not hasattr(os, "posix_fadvise"):
        return
    files = [p for p in folder.rglob("*") if p.is_file()]
    total = sum(p.stat().st_size for p in files)
    try:
        avail = next(int(line.split()[1]) * 1024 for line in
                     Path("/proc/meminfo").read_text().splitlines()
                     if line.startswith("MemAvailable:"))
    except (OSError, StopIteration, ValueError):
        return
    if total > share_of_free * avail:
        return
    for p in files:
        with contextlib.suppress(OSError):
            fd = os.open(p, os.O_RDONLY)
            try:
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_WILLNEED)
            finally:
                os.close(fd)


# Conversions ---------------------------------------------------------------------------
def _quantization(e: Any, kind: str | None) -> Any:
    if kind in (None, "none"):
        return None
    if kind == "int8":
        return e.ScalarQuantizationConfig(type=e.ScalarType.Int8, quantile=0.99,
                                          memory=e.Memory.Pinned)
    if kind == "binary":
        return e.BinaryQuantizationConfig(memory=e.Memory.Pinned)
    raise ValueError(f"unknown quantization {kind!r}")


def _with_payload(e: Any, payload: bool | Sequence[str]) -> Any:
    if isinstance(payload, bool):
        return payload
    return e.PayloadSelector.Include(list(payload))


def _record(p: Any, score: float | None = None) -> Record:
    vec = p.vector
    vectors = ({n: np.asarray(v, dtype=np.float32) for n, v in vec.items()}
               if isinstance(vec, dict) else None)
    return Record(id=str(p.id), payload=p.payload or {}, vectors=vectors, score=score)


def _filter(e: Any, flt: Conditions | None) -> Any:
    if flt is None or (not flt.must and not flt.must_not):
        return None
    return e.Filter(must=[_cond(e, c) for c in flt.must] or None,
                    must_not=[_cond(e, c) for c in flt.must_not] or None)


def _cond(e: Any, c: Cond) -> Any:
    if c.kind == "match":
        if len(c.values) == 1:
            return e.FieldCondition(key=c.key, match=e.MatchValue(c.values[0]))
        return e.FieldCondition(key=c.key, match=e.MatchAny(list(c.values)))
    if c.kind == "range":
        return e.FieldCondition(key=c.key, range=e.RangeFloat(gte=c.gte, lte=c.lte))
    if c.kind == "geo":
        return e.FieldCondition(key=c.key, geo_radius=e.GeoRadius(
            center=e.GeoPoint(lon=c.lon, lat=c.lat), radius=c.meters))
    if c.kind == "ids":
        return e.HasIdCondition(set(c.values))
    raise ValueError(f"unknown condition {c.kind!r}")
