"""An opened index: audiences, declared topics, the map and nearest-clip lookups.

:meth:`InterestIndex.nearest` answers "which audiences does this clip reach, and why"
with per-block attribution; :meth:`InterestIndex.place` puts clips on the map;
:meth:`InterestIndex.analyze` and :meth:`InterestIndex.whatif` read one clip in full
(see :mod:`interestmap.analysis`). Build an index with
:func:`interestmap.index.build.build_index`.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Mapping, Sequence
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from interestmap._blas import one_blas_thread
from interestmap.clip import Clip, EncodedClip
from interestmap.encoders.base import l2_normalize
from interestmap.encoders.fusion import BLOCKS, Fuser, FusionLayout
from interestmap.encoders.pipeline import ClipEncoder
from interestmap.errors import InterestmapError
from interestmap.index.manifest import OpenIndex, check_query_layout, open_index
from interestmap.index.results import (
    Audience,
    AudienceMatch,
    BuildReport,
    ClipMatch,
    NearestResult,
)

if TYPE_CHECKING:
    from interestmap.analysis.analyze import ClipAnalysis
    from interestmap.analysis.whatif import Edit, WhatIfReport
    from interestmap.learn.projection import MapProjector
    from interestmap.topics.catalog import Topic
    from interestmap.topics.classifier import TopicClassifier

CLUSTERER_FILE = "clusterer.joblib"
PROJECTOR_FILE = "projector.joblib"
TOPIC_EXAMPLES_FILE = "topic_examples.npy"
"""The text vectors of the declared topics' example posts (indexes built since issue 11's
fourth pass; older ones have none and encode them on first use)."""


class InterestIndex:
    """A built index, opened for lookups: audiences, topics, map and nearest clips.

    Open one with :meth:`open` (or get it from ``build_index``); close it (or use it in a
    ``with`` block) to let another program open the folder.
    """

    def __init__(self, opened: OpenIndex, build_report: BuildReport | None = None) -> None:
        self._opened = opened
        self.dir: Path = opened.dir
        self.manifest: dict[str, Any] = opened.manifest
        self.store = opened.store
        self.build_report: BuildReport | None = build_report
        """What the build that returned this index did (None for an index opened later)."""
        # One embedded lookup at a time: each already uses every core (the engine's search
        # threads); side by side they only fight over them (16 at once gave 28 requests/s
        # against 186 for one at a time, measured). Lookups that wait on a Qdrant server
        # run freely.
        self._lookup_lock = threading.Lock()

    @property
    def serial_lookups(self) -> bool:
        """True when :meth:`nearest` runs one lookup at a time (the embedded store):
        a server can then queue lookups itself instead of parking a thread on each."""
        return bool(self.store.embedded)

    @classmethod
    def open(cls, index_dir: str | Path, qdrant_url: str | None = None,
             api_key: str | None = None) -> InterestIndex:
        """Open a complete index (a half-built one is refused with a clear message)."""
        return cls(open_index(index_dir, url=qdrant_url, api_key=api_key))

    def close(self) -> None:
        """Let go of the index's store (the folder stays as it is)."""
        self._opened.close()

    def __repr__(self) -> str:
        counts = self.manifest.get("counts", {})
        return (f"InterestIndex({str(self.dir)!r}, clips={counts.get('clips')}, "
                f"audiences={counts.get('audiences')})")

    def __enter__(self) -> InterestIndex:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    @cached_property
    def layout(self) -> FusionLayout:
        """Blocks, dimensions, weights and encoders of this index's fused vectors."""
        return FusionLayout.from_dict(self.manifest["layout"])

    @cached_property
    def fuser(self) -> Fuser:
        """The fitted :class:`Fuser` of this index's layout."""
        return Fuser.from_layout(self.layout)

    @cached_property
    def encoder(self) -> ClipEncoder:
        """A ClipEncoder that makes vectors comparable with this index's."""
        cfg = self.manifest.get("encoder_config", {})
        enc = ClipEncoder(text_encoder=cfg.get("text"), image_encoder=cfg.get("image"),
                          audio_encoder=cfg.get("audio"), weights=cfg.get("weights"),
                          ocr=cfg.get("ocr", True), asr=cfg.get("asr", True),
                          max_frames=cfg.get("max_frames", 16))
        return enc

    def check_encoder(self, encoder: ClipEncoder) -> None:
        """Refuse, with a message, an encoder whose vectors don't match this index."""
        check_query_layout(self.manifest, encoder.layout)

    @cached_property
    def clusterer(self) -> Any:
        """The fitted audience model (``labels_``, ``predict_proba``), as the build saved it."""
        import joblib

        return joblib.load(self._opened.data_dir / CLUSTERER_FILE)

    @cached_property
    def projector(self) -> MapProjector:
        """The fitted map projection (UMAP of the clips' text view)."""
        from interestmap.learn.projection import MapProjector

        return MapProjector.load(self._opened.data_dir / PROJECTOR_FILE)

    @cached_property
    def audiences(self) -> list[Audience]:
        """The index's audiences, with their centroids."""
        out = []
        for a in self.store.get_audiences(with_vectors=True):
            p = a["payload"]
            out.append(Audience(
                id=int(p["id"]), label=p.get("label", ""), size=int(p.get("size", 0)),
                keywords=[(w, float(s)) for w, s in p.get("keywords", [])],
                top_topics=list(p.get("top_topics", [])),
                account_shares=dict(p.get("account_shares", {})),
                exemplars=list(p.get("exemplars", [])),
                centroid=np.asarray(a.get("centroid"), dtype=np.float32),
                keywords_by_language={
                    lang: [(w, float(s)) for w, s in words]
                    for lang, words in p.get("keywords_by_language", {}).items()},
                keyword_languages={w: list(ls) for w, ls in
                                   p.get("keyword_languages", {}).items()}))
        return out

    @cached_property
    def topics(self) -> list[Topic]:
        """The declared topics the index was built with."""
        from interestmap.topics.catalog import load_topics

        src = self.manifest.get("topics", "default")
        return load_topics(None if src == "default" else src)

    @cached_property
    def topic_vectors(self) -> np.ndarray:
        """``(n_topics, dim)`` text-space vectors of :attr:`topics`, as stored."""
        by_id = {str(t["payload"]["id"]): t.get("description") for t in self.store.get_topics()}
        return l2_normalize(np.stack([np.asarray(by_id[t.id], dtype=np.float32)
                                      for t in self.topics]))

    @cached_property
    def topic_example_vectors(self) -> np.ndarray | None:
        """``(n_examples, dim)`` text vectors of the :attr:`topics`' example posts, topic by
        topic, as stored by the build; None when the index has none stored (built before
        they were) or they do not fit its topics."""
        path = self._opened.data_dir / TOPIC_EXAMPLES_FILE
        if not path.is_file():
            return None
        vecs = np.load(path, allow_pickle=False)
        n = sum(len(t.examples) for t in self.topics)
        dim = self.topic_vectors.shape[1]
        return vecs.astype(np.float32) if vecs.shape == (n, dim) else None

    def _query_matrix(self, query: EncodedClip | np.ndarray) -> np.ndarray:
        fused = query.fused if isinstance(query, EncodedClip) else query
        q = np.atleast_2d(np.asarray(fused, dtype=np.float32))
        dim = self.layout.total_dim
        if q.ndim != 2 or q.shape[1] != dim:
            raise InterestmapError(f"the vector has {q.shape[-1]} dimensions; this index's "
                                   f"fused vectors have {dim}")
        if not np.all(np.isfinite(q)):
            raise InterestmapError("the vector contains NaN or infinite values")
        if not np.any(q):
            raise InterestmapError("the vector is all zeros: the clip has no usable content")
        return q

    def place(self, fused: np.ndarray) -> np.ndarray:
        """``(n, 2)`` map coordinates of fused vectors (the same alone or in a batch)."""
        q = self._query_matrix(fused)
        view = self.fuser.text_view(q)
        out = np.full((len(q), 2), np.nan, dtype=np.float32)
        ok = np.linalg.norm(view, axis=1) > 0
        if np.any(ok):
            with one_blas_thread():
                out[ok] = self.projector.transform(view[ok])
        return out

    @cached_property
    def _shared_placement(self) -> bool:
        """True when the audience model's UMAP and the map were fitted on the same clips
        with the same neighbourhood (as :func:`build_index` fits them), so a query's
        nearest fitted clips are searched once and serve both placements."""
        reducer = getattr(self.clusterer, "reducer_", None)
        if not isinstance(reducer, type(self.projector)) or \
                not self.projector.same_reference(reducer):
            return False
        reducer.ref_data_ = self.projector.ref_data_  # one copy of the fitted clips in RAM
        return True

    @cached_property
    def _centroids(self) -> np.ndarray:
        return np.stack([a.centroid for a in self.audiences]) if self.audiences else \
            np.zeros((0, self.layout.total_dim), dtype=np.float32)

    def nearest(self, query: EncodedClip | np.ndarray, k: int = 5, k_clips: int = 5,
                filters: Mapping[str, Any] | None = None) -> NearestResult:
        """The nearest audiences (similarity, membership probability, per-block
        attribution) and clips of one clip, plus where it lands on the map."""
        return self.nearest_many([query], k=k, k_clips=k_clips, filters=filters)[0]

    def nearest_many(self, queries: Sequence[EncodedClip | np.ndarray] | np.ndarray,
                     k: int = 5, k_clips: int = 5, filters: Mapping[str, Any] | None = None
                     ) -> list[NearestResult]:
        """:meth:`nearest` of several clips (encoded clips, or fused vectors as rows), in
        their order: the same answers as one by one, with the model work done once for
        all of them (what a server does with the lookups waiting at one time)."""
        if k < 1 or k_clips < 0:
            raise InterestmapError("k must be >= 1 and k_clips >= 0")
        if not len(queries):
            return []
        if isinstance(queries, np.ndarray) and queries.ndim == 2:
            q = self._query_matrix(queries)
        else:
            q = np.concatenate([self._query_matrix(one)[:1] for one in queries])
        # models and their libraries load before BLAS is held at one thread
        auds, projector, shared = self.audiences, self.projector, self._shared_placement
        with self._lookup_lock if self.store.embedded else contextlib.nullcontext(), \
                one_blas_thread():
            return self._nearest(q, k, k_clips, filters, auds, projector, shared)

    def _nearest(self, q: np.ndarray, k: int, k_clips: int,
                 filters: Mapping[str, Any] | None, auds: list[Audience],
                 projector: MapProjector, shared: bool) -> list[NearestResult]:
        results = [NearestResult() for _ in range(len(q))]
        view = self.fuser.text_view(q)
        about = np.flatnonzero(np.any(view, axis=1))  # rows that say what they are about
        # their nearest fitted clips: searched once for the map and the audiences
        nbrs = projector.kneighbors(view[about]) if len(about) else None
        if auds:
            attr = self.fuser.attribution(q, self._centroids)
            sims = attr.sum(-1)
            proba = np.zeros((len(q), len(auds)), dtype=np.float32)
            if len(about):
                p = self.clusterer.predict_proba(view[about], neighbours=nbrs) if shared \
                    else self.clusterer.predict_proba(view[about])
                proba = np.zeros((len(q), p.shape[1]), dtype=np.float32)
                proba[about] = p
            for i, result in enumerate(results):
                for j in np.argsort(-sims[i])[:k]:
                    a = auds[j]
                    # audience ids are the clusterer's columns, 0 .. k-1
                    prob = float(proba[i, a.id]) if a.id < proba.shape[1] else 0.0
                    result.audiences.append(AudienceMatch(
                        id=a.id, label=a.label, size=a.size,
                        similarity=round(float(sims[i, j]), 4),
                        probability=round(prob, 4),
                        attribution={b: round(float(attr[i, j, c]), 4)
                                     for c, b in enumerate(BLOCKS)},
                        top_topics=a.top_topics[:1]))
        if k_clips:
            for i, result in enumerate(results):
                result.clips = self.nearest_clips(q[i], k_clips, filters)
        if len(about):
            xy = projector.transform(view[about], neighbours=nbrs)
            for i, (x, y) in zip(about, xy, strict=True):
                results[i].x, results[i].y = _finite_or_none(x), _finite_or_none(y)
        return results

    def nearest_clips(self, fused: np.ndarray, k: int = 5,
                      filters: Mapping[str, Any] | None = None) -> list[ClipMatch]:
        """The ``k`` most similar clips: Qdrant finds candidates by the fused vector, then
        they are re-ranked by the exact block-wise similarity over shared blocks.

        The re-rank needs no vectors: the fused cosine is ``sum_S w_b cos_b /
        sqrt(W_q W_c)`` over the shared blocks S (``W``: the weight of the blocks each
        side has), and the similarity is ``sum_S w_b cos_b / W_S``; so it is the engine's
        exact score times ``sqrt(W_q W_c) / W_S``, from which blocks each clip has.
        """
        q = self._query_matrix(fused)[:1]
        hits = self.store.search_clips(
            q[0], k=max(50, 5 * k), filters=filters,
            fields=("account", "caption", "audience", "blocks"))
        if not hits:
            return []
        sims = self._shared_block_similarity(q[0], hits)
        out = []
        for j in np.argsort(-sims)[:k]:
            p = hits[j]["payload"]
            out.append(ClipMatch(id=p.get("id"), account=p.get("account"),
                                 caption=p.get("caption"), audience=p.get("audience"),
                                 similarity=round(float(sims[j]), 4)))
        return out

    def _shared_block_similarity(self, q: np.ndarray, hits: list[dict[str, Any]]
                                 ) -> np.ndarray:
        """:meth:`Fuser.similarity` of the query and each hit, from the hit's score."""
        weights = self.layout.weights
        have_q = {b for b, p in zip(BLOCKS, self.fuser.presence(q)[0], strict=True) if p}
        w_q = sum(weights[b] for b in have_q)
        sims = np.zeros(len(hits), dtype=np.float64)
        for j, h in enumerate(hits):
            have_c = set(h["payload"].get("blocks") or ())
            w_c = sum(weights[b] for b in have_c)
            w_s = sum(weights[b] for b in have_q & have_c)
            if w_s > 0:
                sims[j] = h["score"] * np.sqrt(w_q * w_c) / w_s
        return sims

    def clips_frame(self, filters: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        """Every clip's payload (id, account, audience, probability, x, y, caption, ...)."""
        return [item["payload"] for item in self.store.scroll_clips(filters=filters)]

    def info(self) -> dict[str, Any]:
        """Audiences with label, size, keywords, top topic and account shares; the outlier
        share; the encoders used."""
        m = self.manifest
        return {
            "index": str(self.dir),
            "counts": m.get("counts", {}),
            "outlier_share": m.get("outlier_share"),
            "raw_outlier_share": m.get("raw_outlier_share"),
            "purity": m.get("purity"), "nmi": m.get("nmi"),
            "encoders": m.get("layout", {}).get("encoders", {}),
            "weights": m.get("layout", {}).get("weights", {}),
            "audiences": [a.as_dict() for a in self.audiences],
        }

    # One clip in full ------------------------------------------------------------------
    def analyze(self, clip: Clip | EncodedClip | str | Path, *,
                topics: Sequence[Topic] | str | None = None,
                classifier: TopicClassifier | str | None = "auto", k: int = 5,
                k_clips: int = 5, ocr: bool = True, asr: bool = True,
                max_advice: int = 6) -> ClipAnalysis:
        """Encode a clip (a :class:`Clip`, a media file's path, or an already encoded
        clip) with this index's encoders and read it: declared topics, clarity, nearest
        audiences and clips, modality agreement and advice. ``report.whatif(geo=...)``
        then tries a change. See :func:`interestmap.analysis.analyze.analyze`."""
        from interestmap.analysis.analyze import analyze

        if isinstance(clip, str | Path):
            clip = Clip.of(clip)
        return analyze(clip, self, topics=topics, classifier=classifier, k=k,
                       k_clips=k_clips, ocr=ocr, asr=asr, max_advice=max_advice)

    def whatif(self, clip: Clip | EncodedClip | ClipAnalysis | str | Path,
               edits: Sequence[Edit | Sequence[Edit]], *, combine: bool = False,
               k: int = 5, ocr: bool = True, asr: bool = True) -> WhatIfReport:
        """Each edit (or list of edits) applied to ``clip`` as one variant, and how far
        each moves (see :func:`interestmap.analysis.whatif.whatif`)."""
        from interestmap.analysis.whatif import whatif

        if isinstance(clip, str | Path):
            clip = Clip.of(clip)
        return whatif(clip, edits, self, combine=combine, k=k, ocr=ocr, asr=asr)


def _finite_or_none(v: float) -> float | None:
    return None if not np.isfinite(v) else float(v)
