"""The scale-out store backend: a Qdrant server or cluster, through qdrant-client.

:class:`ServerBackend` offers the same calls as the embedded backend
(:mod:`interestmap.store.edge`), so :class:`~interestmap.store.interface.IndexStore` runs the same
code on both. Collections get the same settings on the server: the fused vectors on disk,
quantised copies in RAM for the search, an HNSW graph, payload indexes for every filter,
and interestmap's own metadata (vector layout) in the collection's metadata.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from interestmap.errors import IndexError_
from interestmap.store.filters import Cond, Conditions
from interestmap.store.schema import Record, StoreSettings

_META_KEY = "interestmap"


class ServerBackend:
    """Collections on a Qdrant server, through one ``QdrantClient``."""

    embedded = False

    def __init__(self, client: Any, settings: StoreSettings) -> None:
        self.client = client
        self.settings = settings

    def exists(self, name: str) -> bool:
        return bool(self.client.collection_exists(name))

    def describe(self, name: str) -> tuple[dict[str, int], dict[str, Any]]:
        info = self.client.get_collection(name)
        vectors = info.config.params.vectors
        meta = (info.config.metadata or {}).get(_META_KEY) if info.config.metadata else None
        if not isinstance(vectors, Mapping) or meta is None:
            raise IndexError_(f"the '{name}' collection was not made by this version of "
                              "interestmap: use another prefix or rebuild the index")
        return {n: int(v.size) for n, v in vectors.items()}, dict(meta)

    def create(self, name: str, vectors: Mapping[str, int], *, big: bool,
               meta: Mapping[str, Any]) -> None:
        from qdrant_client import models

        s = self.settings
        self.drop(name)
        kw: dict[str, Any] = {}
        if big:
            kw["hnsw_config"] = models.HnswConfigDiff(m=s.hnsw_m, ef_construct=s.ef_construct,
                                                      full_scan_threshold=s.full_scan_kb)
            kw["optimizers_config"] = models.OptimizersConfigDiff(
                indexing_threshold=s.indexing_threshold_kb)
            if s.quantization == "int8":
                kw["quantization_config"] = models.ScalarQuantization(
                    scalar=models.ScalarQuantizationConfig(
                        type=models.ScalarType.INT8, quantile=0.99, always_ram=True))
            elif s.quantization == "binary":
                kw["quantization_config"] = models.BinaryQuantization(
                    binary=models.BinaryQuantizationConfig(always_ram=True))
        on_disk = bool(big and s.vectors_on_disk)
        self.client.create_collection(
            name, vectors_config={n: models.VectorParams(size=int(d),
                                                         distance=models.Distance.COSINE,
                                                         on_disk=on_disk)
                                  for n, d in vectors.items()},
            metadata={_META_KEY: dict(meta)}, **kw)

    def drop(self, name: str) -> None:
        if self.client.collection_exists(name):
            self.client.delete_collection(name)

    def index_payload(self, name: str, fields: Mapping[str, str]) -> None:
        from qdrant_client import models

        kinds = {"keyword": models.PayloadSchemaType.KEYWORD,
                 "integer": models.PayloadSchemaType.INTEGER,
                 "float": models.PayloadSchemaType.FLOAT, "geo": models.PayloadSchemaType.GEO,
                 "datetime": models.PayloadSchemaType.DATETIME}
        for field, kind in fields.items():
            self.client.create_payload_index(name, field, field_schema=kinds[kind], wait=True)

    def indexed_fields(self, name: str) -> set[str]:
        return set(self.client.get_collection(name).payload_schema or {})

    def optimize(self, name: str, timeout_s: float = 3600) -> None:
        """Wait until the server has indexed what was written (status green)."""
        from qdrant_client import models

        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            status = self.client.get_collection(name).status
            if status == models.CollectionStatus.GREEN:
                return
            time.sleep(0.5)

    def close(self) -> None:
        self.client.close()

    # Points ----------------------------------------------------------------------------
    def upsert(self, name: str, points: Sequence[tuple[str, Mapping[str, np.ndarray],
                                                       Mapping[str, Any]]]) -> None:
        from qdrant_client import models

        self.client.upsert(name, points=[
            models.PointStruct(id=pid, vector={n: v.tolist() for n, v in vecs.items()},
                               payload=dict(payload)) for pid, vecs, payload in points],
            wait=True)

    def set_payload(self, name: str, items: Sequence[tuple[Sequence[str], Mapping[str, Any]]]
                    ) -> None:
        from qdrant_client import models

        ops = [models.SetPayloadOperation(set_payload=models.SetPayload(
            payload=dict(payload), points=list(pids))) for pids, payload in items]
        if ops:
            self.client.batch_update_points(name, update_operations=ops, wait=True)

    def delete(self, name: str, pids: Sequence[str] | None) -> None:
        from qdrant_client import models

        selector = (models.FilterSelector(filter=models.Filter()) if pids is None
                    else models.PointIdsList(points=list(pids)))
        if pids is None or pids:
            self.client.delete(name, points_selector=selector, wait=True)

    def flush(self, name: str) -> None:
        """Writes are durable when the server answers (they wait): nothing to do."""

    def search(self, name: str, using: str, vector: np.ndarray, k: int,
               flt: Conditions | None, *, with_vector: bool = False,
               payload: bool | Sequence[str] = True, exact: bool = False) -> list[Record]:
        from qdrant_client import models

        s = self.settings
        params = models.SearchParams(
            hnsw_ef=s.ef_for(k, filtered=bool(flt and (flt.must or flt.must_not))),
            exact=exact,
            quantization=models.QuantizationSearchParams(ignore=exact, rescore=True,
                                                         oversampling=s.oversampling_for(k)))
        res = self.client.query_points(
            name, query=vector.tolist(), using=using, query_filter=to_filter(flt),
            limit=int(k), with_payload=payload if isinstance(payload, bool) else list(payload),
            with_vectors=[using] if with_vector else False, search_params=params)
        return [_record(p, float(p.score)) for p in res.points]

    def retrieve(self, name: str, pids: Sequence[str], with_vectors: bool) -> list[Record]:
        pts = self.client.retrieve(name, ids=list(pids), with_payload=True,
                                   with_vectors=with_vectors)
        return [_record(p) for p in pts]

    def scroll(self, name: str, flt: Conditions | None, with_vectors: bool, limit: int,
               offset: Any, payload: bool = True) -> tuple[list[Record], Any]:
        pts, nxt = self.client.scroll(name, scroll_filter=to_filter(flt), limit=int(limit),
                                      offset=offset, with_payload=payload,
                                      with_vectors=with_vectors)
        return [_record(p) for p in pts], nxt

    def count(self, name: str, flt: Conditions | None) -> int:
        return int(self.client.count(name, count_filter=to_filter(flt), exact=True).count)

    def facet(self, name: str, key: str, flt: Conditions | None, limit: int) -> dict[Any, int]:
        res = self.client.facet(name, key, facet_filter=to_filter(flt), limit=int(limit),
                                exact=True)
        return {h.value: int(h.count) for h in res.hits}

    def stats(self, name: str) -> dict[str, Any]:
        info = self.client.get_collection(name)
        return {"points": int(info.points_count or 0),
                "segments": int(info.segments_count or 0),
                "indexed_vectors": int(info.indexed_vectors_count or 0)}


def _record(p: Any, score: float | None = None) -> Record:
    vec = p.vector
    vectors = ({n: np.asarray(v, dtype=np.float32) for n, v in vec.items()}
               if isinstance(vec, Mapping) else None)
    return Record(id=str(p.id), payload=p.payload or {}, vectors=vectors, score=score)


def to_filter(flt: Conditions | None) -> Any:
    """A qdrant-client ``Filter`` from interestmap's conditions (None for none)."""
    from qdrant_client import models

    if flt is None or (not flt.must and not flt.must_not):
        return None

    def cond(c: Cond) -> Any:
        if c.kind == "match":
            match = (models.MatchValue(value=c.values[0]) if len(c.values) == 1
                     else models.MatchAny(any=list(c.values)))
            return models.FieldCondition(key=c.key, match=match)
        if c.kind == "range":
            return models.FieldCondition(key=c.key, range=models.Range(gte=c.gte, lte=c.lte))
        if c.kind == "geo":
            return models.FieldCondition(key=c.key, geo_radius=models.GeoRadius(
                center=models.GeoPoint(lat=c.lat, lon=c.lon), radius=c.meters))
        if c.kind == "ids":
            return models.HasIdCondition(has_id=list(c.values))
        raise ValueError(f"unknown condition {c.kind!r}")

    return models.Filter(must=[cond(c) for c in flt.must] or None,
                         must_not=[cond(c) for c in flt.must_not] or None)
