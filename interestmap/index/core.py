"""Build and open an index: a corpus mapped into audiences, topics and a 2-D map.

Build, top to bottom: read the corpus -> encode each clip once (the encode cache makes
re-runs incremental and resumable) -> audiences by HDBSCAN on the clips' text view ->
names from keywords and the nearest declared topic -> UMAP map -> everything written to
Qdrant and published atomically (see index_manifest.py).

Query: :meth:`InterestIndex.nearest` answers "which audiences does this clip reach, and
why" with per-block attribution; :meth:`InterestIndex.place` puts clips on the map.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from interestmap import __version__
from interestmap.clip import Clip, EncodedClip
from interestmap.corpus.executors import (
    Executor,
    encode_corpus,
    encoder_options,
    make_executor,
)
from interestmap.encoders.base import l2_normalize
from interestmap.encoders.fusion import BLOCKS, Fuser, FusionLayout
from interestmap.encoders.pipeline import ClipEncoder, iter_texts
from interestmap.errors import (
    ConfigError,
    EncoderMismatchError,
    IndexBusyError,
    IndexError_,
    InterestmapError,
)
from interestmap.index.manifest import begin_build, cache_dir, check_query_layout, open_index
from interestmap.store.interface import clip_payload

CLUSTERER_FILE = "clusterer.joblib"
PROJECTOR_FILE = "projector.joblib"
DEFAULT_INDEX_NAME = "default"

Progress = Callable[[str, int, int], None]
"""``progress(stage, done, total)``: stages are read, encode, audiences, map, write."""


# Where indexes live --------------------------------------------------------------------
def indexes_root() -> Path:
    """Folder of named indexes: ``$INTERESTMAP_INDEXES``, else ``indexes/`` of a source
    checkout, else ``~/.cache/interestmap/indexes``."""
    env = os.environ.get("INTERESTMAP_INDEXES")
    if env:
        return Path(env).expanduser()
    repo = Path(__file__).resolve().parents[2]
    if (repo / "pyproject.toml").is_file() and os.access(repo, os.W_OK):
        return repo / "indexes"
    return Path(os.environ.get("INTERESTMAP_HOME", "~/.cache/interestmap")).expanduser() / "indexes"


# Results ---------------------------------------------------------------------------------
@dataclass
class Audience:
    """One audience: a cluster of clips about the same thing, named for people."""

    id: int
    label: str
    size: int
    keywords: list[tuple[str, float]]
    top_topics: list[dict[str, Any]]
    account_shares: dict[str, float]
    exemplars: list[str]
    centroid: np.ndarray
    """Fused-space centroid: block-wise mean of its clips, re-fused."""
    keywords_by_language: dict[str, list[tuple[str, float]]] = field(default_factory=dict)
    """The keywords its clips use in each language (c-TF-IDF within that language)."""
    keyword_languages: dict[str, list[str]] = field(default_factory=dict)
    """Each keyword's languages: those of the audience's clips that use it."""

    def label_for(self, language: str | None = None, n_words: int = 3) -> str:
        """The label, with the keywords in ``language`` first (the stored label when the
        audience has no keywords in that language)."""
        from interestmap.learn.keywords import audience_name, label_keywords, language_code

        if not language or language_code(language) not in self.keywords_by_language:
            return self.label
        topic = self.top_topics[0]["name"] if self.top_topics else None
        return audience_name(label_keywords(self.keywords, self.keywords_by_language,
                                            language), topic, n_words=n_words)

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "label": self.label, "size": self.size,
                "keywords": [[w, round(float(s), 4)] for w, s in self.keywords],
                "keywords_by_language": {
                    lang: [[w, round(float(s), 4)] for w, s in words]
                    for lang, words in self.keywords_by_language.items()},
                "keyword_languages": self.keyword_languages,
                "top_topics": self.top_topics, "account_shares": self.account_shares,
                "exemplars": self.exemplars}


@dataclass
class BuildReport:
    """What a build did, in numbers."""

    index_dir: Path
    n_clips: int
    n_encoded: int
    """Clips encoded in this run (the rest came from the cache)."""
    n_cached: int
    problems: list[dict[str, str]] = field(default_factory=list)
    n_audiences: int = 0
    outlier_share: float = 0.0
    raw_outlier_share: float = 0.0
    purity: float | None = None
    nmi: float | None = None
    timings_s: dict[str, float] = field(default_factory=dict)
    executor: str = "this process"
    """Where the clips were encoded (e.g. "Ray (2 workers, a local cluster)")."""

    def as_dict(self) -> dict[str, Any]:
        d = dict(self.__dict__)
        d["index_dir"] = str(self.index_dir)
        return d


# Building --------------------------------------------------------------------------------
def build_index(
    source: str | Path | Sequence[Clip],
    index_dir: str | Path,
    *,
    encoder: ClipEncoder | None = None,
    topics: str | Path | None = None,
    audiences: str = "clusters",
    min_cluster_size: int | None = None,
    audience_model: Any = None,
    map_model: Any = None,
    qdrant_url: str | None = None,
    api_key: str | None = None,
    progress: Progress | None = None,
    chunk_size: int = 32,
    executor: str | Executor | None = None,
    ray_address: str | None = None,
    about: Mapping[str, Any] | None = None,
) -> BuildReport:
    """Build (or update) the index in ``index_dir`` from a corpus folder or manifest.

    ``audiences="clusters"`` finds audiences with HDBSCAN; ``"labels"`` makes one audience
    per clip label (used for the declared-topic atlas). ``audience_model`` is an unfitted
    ``hdbscan.HDBSCAN(...)`` or ``AudienceClusterer(...)``, ``map_model`` an unfitted
    ``umap.UMAP(...)`` or ``MapProjector(...)`` (see learn/). Bad clips are reported in the
    returned report and skipped; an interrupted build resumes from the encode cache.
    ``executor`` encodes the clips: "local" (default) or "ray" (Ray Data, on the cluster
    at ``ray_address`` / ``$RAY_ADDRESS``, else a local one), see executors.py.
    ``about`` is kept in the manifest as it is (e.g. the data sources and their licenses).
    """
    from interestmap.corpus.read import read_corpus, unique_clips
    from interestmap.topics.catalog import embed_topics, load_topics

    if audiences not in ("clusters", "labels"):
        raise ConfigError("audiences must be 'clusters' or 'labels'")
    if audiences == "labels" and audience_model is not None:
        raise ConfigError("audience_model is for audiences='clusters'; 'labels' makes one "
                          "audience per label")
    from interestmap.learn.clusters import as_audience_clusterer
    from interestmap.learn.projection import as_map_projector

    audience_est = as_audience_clusterer(audience_model, min_cluster_size=min_cluster_size)
    map_est = as_map_projector(map_model)
    step = progress or (lambda stage, done, total: None)
    t_all = time.perf_counter()
    timings: dict[str, float] = {}
    index_dir = Path(index_dir)

    step("read", 0, 1)
    if isinstance(source, str | Path):
        clips, corpus_problems = read_corpus(Path(source))
        source_desc = str(Path(source).resolve())
    else:
        clips, corpus_problems = unique_clips(source)
        source_desc = f"{len(source)} clips"
    problems = [{"where": str(p.where), "message": p.message} for p in corpus_problems]
    step("read", 1, 1)
    if not clips:
        raise InterestmapError("the corpus has no usable clips: see the problems above")

    encoder = encoder or ClipEncoder()
    layout = encoder.layout
    t0 = time.perf_counter()
    run = encode_corpus(encoder, clips, cache_dir(index_dir), progress=step,
                        executor=make_executor(executor, ray_address=ray_address),
                        chunk_size=chunk_size)
    encoded, n_new, problems = run.encoded, run.n_new, problems + run.problems
    timings["encode"] = time.perf_counter() - t0
    from interestmap.learn.projection import MIN_MAP_CLIPS

    if len(encoded) < MIN_MAP_CLIPS:
        raise InterestmapError(f"only {len(encoded)} clip(s) could be encoded; an index "
                               f"needs at least {MIN_MAP_CLIPS} (see the problems reported)")

    fuser = encoder.fuser
    fused = np.stack([e.fused for e in encoded])
    view = fuser.text_view(fused)
    has_view = np.linalg.norm(view, axis=1) > 0

    step("audiences", 0, 1)
    t0 = time.perf_counter()
    topic_list = load_topics(topics)
    topic_vecs = embed_topics(topic_list, encoder.text)
    labels, probs, clusterer, raw_outliers = _find_audiences(
        encoded, view, has_view, audiences, audience_est)
    aud_list = _describe_audiences(encoded, fused, view, labels, probs, fuser, topic_list,
                                   topic_vecs, embed_words=encoder.text.encode)
    timings["audiences"] = time.perf_counter() - t0
    step("audiences", 1, 1)

    step("map", 0, 1)
    t0 = time.perf_counter()
    projector = map_est.fit(view[has_view])
    xy = np.full((len(encoded), 2), np.nan, dtype=np.float32)
    xy[has_view] = projector.transform(view[has_view])
    timings["map"] = time.perf_counter() - t0
    step("map", 1, 1)

    step("write", 0, 1)
    t0 = time.perf_counter()
    with begin_build(index_dir, url=qdrant_url, api_key=api_key) as build:
        store = build.store()
        store.create(layout, recreate=True)
        ids = [str(e.clip.id) for e in encoded]
        payloads = [clip_payload(e, audience=int(labels[i]),
                                 audience_probability=float(probs[i]),
                                 x=_opt(xy[i, 0]), y=_opt(xy[i, 1]))
                    for i, e in enumerate(encoded)]
        blocks = {b: np.stack([_zero_if_none(e.blocks.get(b), layout.dims[b])
                               for e in encoded]) for b in BLOCKS}
        store.upsert_clips(ids, fused, blocks, fuser.presence(fused), payloads)
        if aud_list:
            store.upsert_audiences([a.id for a in aud_list], np.stack([a.centroid for a in aud_list]),
                                   [a.as_dict() for a in aud_list])
        store.upsert_topics([t.id for t in topic_list], topic_vecs,
                            [{"name": t.name, "description": t.description} for t in topic_list],
                            replace=True)
        _dump(clusterer, build.staging / CLUSTERER_FILE)
        projector.save(build.staging / PROJECTOR_FILE)
        outlier_share = float(np.mean(labels < 0))
        purity, nmi = _purity(encoded, labels)
        manifest = {
            "source": source_desc,
            "layout": layout.as_dict(),
            "encoder_config": encoder_config(encoder),
            "audiences_from": audiences,
            "topics": str(topics) if topics else "default",
            "counts": {"clips": len(encoded), "audiences": len(aud_list),
                       "topics": len(topic_list), "problems": len(problems)},
            "outlier_share": outlier_share,
            "raw_outlier_share": raw_outliers,
            "purity": purity,
            "nmi": nmi,
            "interestmap_version": __version__,
        }
        if about:
            manifest["about"] = dict(about)
        build.publish(manifest)
    timings["write"] = time.perf_counter() - t0
    step("write", 1, 1)
    timings["total"] = time.perf_counter() - t_all
    return BuildReport(index_dir=index_dir.resolve(), n_clips=len(encoded), n_encoded=n_new,
                       n_cached=len(encoded) - n_new, problems=problems, executor=run.executor,
                       n_audiences=len(aud_list), outlier_share=outlier_share,
                       raw_outlier_share=raw_outliers, purity=purity, nmi=nmi,
                       timings_s={k: round(v, 3) for k, v in timings.items()})


def encoder_config(encoder: ClipEncoder) -> dict[str, Any]:
    """What it takes to rebuild the same ClipEncoder: encoder names, weights, options."""
    infos = encoder.block_encoders()
    return {"text": infos["caption"].name, "image": infos["visual"].name,
            "audio": infos["audio"].name, "weights": dict(encoder.layout.weights),
            **encoder_options(encoder)}


def _find_audiences(encoded: list[EncodedClip], view: np.ndarray, has_view: np.ndarray,
                    mode: str, clusterer: Any
                    ) -> tuple[np.ndarray, np.ndarray, Any, float]:
    """Audience label (-1: none) and confidence of each clip, the fitted model, raw noise."""
    from interestmap.learn.labels import LabelAudiences

    n = len(encoded)
    labels = np.full(n, -1, dtype=int)
    probs = np.zeros(n, dtype=np.float32)
    if mode == "labels":
        model = LabelAudiences().fit(view[has_view],
                                     [(e.clip.labels or ["unlabelled"])[0]
                                      for e, h in zip(encoded, has_view, strict=True) if h])
    else:
        model = clusterer.fit(view[has_view])
    labels[has_view] = model.labels_
    probs[has_view] = model.probabilities_
    raw = float(getattr(model, "raw_outlier_share_", np.mean(labels < 0)))
    return labels, probs, model, raw


def _describe_audiences(encoded: list[EncodedClip], fused: np.ndarray, view: np.ndarray,
                        labels: np.ndarray, probs: np.ndarray, fuser: Fuser,
                        topics: Sequence[Any], topic_vecs: np.ndarray,
                        embed_words: Callable[[Sequence[str]], np.ndarray] | None = None
                        ) -> list[Audience]:
    from interestmap.learn.keywords import audience_keywords, audience_name, nearest_topics

    ids = sorted(int(a) for a in set(labels.tolist()) if a >= 0)
    if not ids:
        return []
    texts = iter_texts(encoded)
    parts = fuser.split(fused)
    centroids, text_centroids = [], []
    for a in ids:
        m = labels == a
        blocks = {b: (l2_normalize(parts[b][m].sum(axis=0)) if np.any(parts[b][m]) else None)
                  for b in BLOCKS}
        centroids.append(fuser.transform([blocks])[0])
        text_centroids.append(l2_normalize(view[m].mean(axis=0)))
    akw = audience_keywords(texts, labels,
                            languages=[e.signals.language or e.clip.language for e in encoded],
                            accounts=[e.clip.account for e in encoded], n=8,
                            embed=embed_words, centroids=dict(zip(ids, text_centroids,
                                                                  strict=True)))
    kw = akw.overall
    near = nearest_topics(np.stack(text_centroids), topic_vecs, [t.name for t in topics], k=3)
    topic_ids = {t.name: t.id for t in topics}
    out = []
    for j, a in enumerate(ids):
        m = np.flatnonzero(labels == a)
        accounts = Counter(str(encoded[i].clip.account or "unknown") for i in m)
        top = [{"id": topic_ids[name], "name": name, "similarity": round(float(s), 4)}
               for name, s in near[j]]
        order = m[np.argsort(-probs[m])]
        words = kw.get(a, [])
        out.append(Audience(
            id=a, label=audience_name(words, top[0]["name"] if top else None), size=int(len(m)),
            keywords=[(w, float(s)) for w, s in words], top_topics=top,
            account_shares={k: round(v / len(m), 4) for k, v in accounts.most_common()},
            exemplars=[str(encoded[i].clip.id) for i in order[:5]],
            centroid=centroids[j], keywords_by_language=akw.by_language.get(a, {}),
            keyword_languages=akw.languages.get(a, {})))
    return out


def _purity(encoded: list[EncodedClip], labels: np.ndarray) -> tuple[float | None, float | None]:
    """How well audiences match the clips' labels (None, None without labels).

    Purity: share of labelled clips in an audience whose labels include that audience's
    commonest label (multi-label aware). NMI: against each clip's most specific label
    (its rarest in the corpus), since a multi-label clip has no single truth.
    """
    from sklearn.metrics import normalized_mutual_info_score

    have = [i for i, e in enumerate(encoded) if e.clip.labels and labels[i] >= 0]
    if len(have) < 2:
        return None, None
    sets = {i: set(encoded[i].clip.labels) for i in have}
    freq = Counter(lab for i in have for lab in sets[i])
    correct = 0
    for a in {int(labels[i]) for i in have}:
        members = [i for i in have if labels[i] == a]
        top = Counter(lab for i in members for lab in sets[i]).most_common(1)[0][0]
        correct += sum(top in sets[i] for i in members)
    specific = [min(sets[i], key=lambda lab: (freq[lab], lab)) for i in have]
    nmi = normalized_mutual_info_score(specific, [int(labels[i]) for i in have])
    return round(correct / len(have), 4), round(float(nmi), 4)


def _opt(v: float) -> float | None:
    return None if not np.isfinite(v) else float(v)


def _zero_if_none(v: np.ndarray | None, dim: int) -> np.ndarray:
    return np.zeros(dim, dtype=np.float32) if v is None else np.asarray(v, dtype=np.float32)


def _dump(obj: Any, path: Path) -> None:
    import joblib

    tmp = path.with_name(path.name + ".tmp")
    joblib.dump(obj, tmp)
    os.replace(tmp, path)


# Opening and querying --------------------------------------------------------------------
class InterestIndex:
    """A built index, opened for lookups: audiences, topics, map and nearest clips."""

    def __init__(self, opened: Any) -> None:
        self._opened = opened
        self.dir: Path = opened.dir
        self.manifest: dict[str, Any] = opened.manifest
        self.store = opened.store
        # One embedded lookup at a time: each already uses every core (the engine's search
        # threads, BLAS in the map placement); side by side they only fight over them
        # (16 at once gave 28 requests/s against 186 for one at a time, measured).
        # Lookups that wait on a Qdrant server run freely.
        self._lookup_lock = threading.Lock()

    @classmethod
    def open(cls, index_dir: str | Path, qdrant_url: str | None = None,
             api_key: str | None = None) -> InterestIndex:
        """Open a complete index (a half-built one is refused with a clear message)."""
        return cls(open_index(index_dir, url=qdrant_url, api_key=api_key))

    def close(self) -> None:
        self._opened.close()

    def __enter__(self) -> InterestIndex:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    @property
    def layout(self) -> FusionLayout:
        return FusionLayout.from_dict(self.manifest["layout"])

    @cached_property
    def fuser(self) -> Fuser:
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
        import joblib

        return joblib.load(self._opened.data_dir / CLUSTERER_FILE)

    @cached_property
    def projector(self) -> Any:
        from interestmap.learn.projection import MapProjector

        return MapProjector.load(self._opened.data_dir / PROJECTOR_FILE)

    @cached_property
    def audiences(self) -> list[Audience]:
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
    def topics(self) -> list[Any]:
        from interestmap.topics.catalog import load_topics

        src = self.manifest.get("topics", "default")
        return load_topics(None if src == "default" else src)

    @cached_property
    def topic_vectors(self) -> np.ndarray:
        by_id = {str(t["payload"]["id"]): t.get("description") for t in self.store.get_topics()}
        return l2_normalize(np.stack([np.asarray(by_id[t.id], dtype=np.float32)
                                      for t in self.topics]))

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
            out[ok] = self.projector.transform(view[ok])
        return out

    def nearest(self, query: EncodedClip | np.ndarray, k: int = 5, k_clips: int = 5,
                filters: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The nearest audiences (similarity, membership probability, per-block
        attribution) and clips of one clip, plus where it lands on the map."""
        if k < 1 or k_clips < 0:
            raise InterestmapError("k must be >= 1 and k_clips >= 0")
        q = self._query_matrix(query)[:1]
        with self._lookup_lock if self.store.embedded else contextlib.nullcontext():
            return self._nearest(q, k, k_clips, filters)

    def _nearest(self, q: np.ndarray, k: int, k_clips: int,
                 filters: Mapping[str, Any] | None) -> dict[str, Any]:
        result: dict[str, Any] = {"audiences": [], "clips": []}
        auds = self.audiences
        if auds:
            cents = np.stack([a.centroid for a in auds])
            attr = self.fuser.attribution(q, cents)[0]
            sims = attr.sum(-1)
            view = self.fuser.text_view(q)
            proba = (self.clusterer.predict_proba(view)[0] if np.any(view)
                     else np.zeros(len(auds)))
            for j in np.argsort(-sims)[:k]:
                a = auds[j]
                result["audiences"].append({
                    "id": a.id, "label": a.label, "size": a.size,
                    "similarity": round(float(sims[j]), 4),
                    # audience ids are the clusterer's columns, 0 .. k-1
                    "probability": round(float(proba[a.id]) if a.id < len(proba) else 0.0, 4),
                    "attribution": {b: round(float(attr[j, i]), 4)
                                    for i, b in enumerate(BLOCKS)},
                    "top_topics": a.top_topics[:1],
                })
        if k_clips:
            result["clips"] = self.nearest_clips(q[0], k_clips, filters)
        xy = self.place(q)[0]
        result["x"], result["y"] = _opt(xy[0]), _opt(xy[1])
        return result

    def nearest_clips(self, fused: np.ndarray, k: int = 5,
                      filters: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
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
            out.append({"id": p.get("id"), "account": p.get("account"),
                        "caption": p.get("caption"), "audience": p.get("audience"),
                        "similarity": round(float(sims[j]), 4)})
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


# The embedded default index ------------------------------------------------------------
def atlas_clips(topics: str | Path | None = None, data: str | Path | None = None) -> list[Clip]:
    """The declared-topic atlas as a corpus (see :mod:`interestmap.index.atlas`)."""
    from interestmap.index.atlas import atlas_clips as clips

    return clips(topics, data)


def ensure_default_index(index_dir: str | Path | None = None,
                         progress: Progress | None = None) -> InterestIndex:
    """Open the embedded default index (the declared-topic atlas), building it first if
    it does not exist yet, was built from another recipe or with other encoders than
    today's defaults (a few seconds, no corpus needed; ``INTERESTMAP_ATLAS_DATA`` adds real
    posts, see :mod:`interestmap.index.atlas`)."""
    from interestmap.index.atlas import atlas_data_dir, atlas_recipe, atlas_sources

    d = Path(index_dir) if index_dir else indexes_root() / DEFAULT_INDEX_NAME
    data = atlas_data_dir()
    recipe = atlas_recipe(data=data)
    encoder = ClipEncoder()
    try:
        idx = InterestIndex.open(d)
    except IndexBusyError:
        raise  # open elsewhere: building it again would not help
    except IndexError_:
        idx = None
    if idx is not None:
        try:
            idx.check_encoder(encoder)
            if idx.manifest.get("about", {}).get("atlas_recipe") == recipe:
                return idx
        except EncoderMismatchError:
            pass  # built with an older default encoder: the atlas is rebuilt below
        idx.close()
    build_index(atlas_clips(data=data), d, encoder=encoder, audiences="labels",
                progress=progress,
                about={"atlas_recipe": recipe, "sources": atlas_sources(data)})
    return InterestIndex.open(d)
