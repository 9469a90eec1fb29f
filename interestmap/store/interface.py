"""The one store interface: :class:`IndexStore`, the clips, audiences and topics of an index.

A backend does the storing:

- embedded (``path=``, a folder): the Qdrant engine in this process, through Qdrant Edge
  (:mod:`interestmap.store.edge`): on-disk segments, payload indexes, HNSW, quantisation;
- remote (``url=``, a Qdrant server or cluster): qdrant-client
  (:mod:`interestmap.store.server`).

The rest of interestmap never knows which. The collections and their payloads are
described in :mod:`interestmap.store.schema`; filters in :mod:`interestmap.store.filters`.
Every field a filter can name has a payload index, so filtered searches never scan.

refused with :class:`~interestmap.errors.IndexBusyError`; inside a process every user of
a folder shares one open store (thread-safe).

After a bulk write call :meth:`IndexStore.optimize` (builds publish do): it builds the
search graph. Until then searches are still right, only slower.

The index folder that holds a store, its manifest and atomic builds are in
:mod:`interestmap.index.manifest`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from interestmap.encoders.base import l2_normalize
from interestmap.encoders.fusion import BLOCKS
from interestmap.errors import ConfigError, EncoderMismatchError, IndexError_
from interestmap.store.collections import (
    CollectionStore,
    as_matrix,
    check_unique,
    missing_message,
    usable,
)
from interestmap.store.filters import Cond, Conditions, as_list, parse_filters
from interestmap.store.payloads import clip_payload_fields, to_jsonable
from interestmap.store.schema import (
    AUDIENCES,
    CENTROID,
    CLIPS,
    DESCRIPTION,
    FUSED,
    TOPICS,
    point_id,
)


class IndexStore(CollectionStore):
    """The clips, audiences and topics of one index in Qdrant (embedded or on a server).

    Give exactly one of ``path`` (embedded, a folder) or ``url`` (a Qdrant server;
    ``api_key`` for Qdrant Cloud). ``prefix`` is put before every collection name.
    ``settings`` apply when the collections are created. Vectors go in and come out as
    NumPy arrays; hits are plain dicts.
    """

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
        fused = as_matrix(fused, n, dims[FUSED], "fused")
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
        check_unique(ids)
        norms = np.linalg.norm(fused, axis=1)
        unit = l2_normalize(fused)
        points = []
        for i, cid in enumerate(ids):
            usable = bool(np.isfinite(norms[i]) and norms[i] > 0)
            vectors = {FUSED: unit[i]} if usable else {}
            present = [b for j, b in enumerate(BLOCKS) if have[i, j]] if usable else []
            payload = clip_payload_fields(payloads[i], cid)
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
        check_unique(ids)
        many = [payload] if isinstance(payload, Mapping) else list(payload)
        if any("id" in p for p in many):
            raise ConfigError("a clip's id cannot be changed (it names the clip in the "
                              "index): upsert it under the new id and delete the old one")
        self._require_clips(ids)
        if isinstance(payload, Mapping):
            body = clip_payload_fields(payload, None)
            items = [([point_id("clip", i) for i in ids[s:s + batch_size]], body)
                     for s in range(0, len(ids), max(1, batch_size))]
        else:
            if len(payload) != len(ids):
                raise ConfigError(f"{len(ids)} ids but {len(payload)} payloads")
            items = [([point_id("clip", i)], clip_payload_fields(p, None))
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
        if not usable(q_block):
            raise ConfigError("the query vector is empty (all zeros or not finite): give a "
                              "clip with some content")
        q = np.zeros(self._vector_dims(CLIPS)[FUSED], dtype=np.float32)
        q[sl] = l2_normalize(q_block)
        base = dict(filters or {})
        base["has_block"] = sorted({*as_list(base.get("has_block")), block})
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

    def get_clip_vectors(self, ids: Sequence[str]) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """``(fused (n, D), {block: (n, d_b)})`` of clips; block vectors are the unit
        slices of the fused vector, zeros where a block is absent."""
        ids = [str(i) for i in ids]
        dims = self._vector_dims(CLIPS)
        fused = np.zeros((len(ids), dims[FUSED]), dtype=np.float32)
        found = self._retrieve(CLIPS, "clip", ids, with_vectors=True)
        missing = [i for i in ids if i not in found]
        if missing:
            raise IndexError_(missing_message(missing))
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
            raise IndexError_(missing_message(missing))
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
        mat = as_matrix(vectors, len(ids), dim, vname)
        if len(payloads) != len(ids):
            raise ConfigError(f"{len(ids)} ids but {len(payloads)} payloads")
        check_unique([str(i) for i in ids])
        points = [(point_id(kind, i), {vname: l2_normalize(mat[r])} if usable(mat[r]) else {},
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

    def _require_clips(self, ids: list[str]) -> None:
        found = self._retrieve(CLIPS, "clip", ids, with_vectors=False)
        missing = [i for i in ids if i not in found]
        if missing:
            raise IndexError_(missing_message(missing))
