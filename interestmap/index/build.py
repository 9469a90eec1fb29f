"""Build an index: a corpus mapped into audiences, topics and a 2-D map.

Top to bottom: read the corpus -> encode each clip once (the encode cache makes re-runs
incremental and resumable) -> audiences by HDBSCAN on the clips' text view -> names
from keywords and the nearest declared topic -> UMAP map -> everything written to
Qdrant and published atomically (see :mod:`interestmap.index.manifest`). The build
returns the opened :class:`~interestmap.index.interest_index.InterestIndex`.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from interestmap import __version__
from interestmap._io import atomic_writer
from interestmap.clip import Clip, EncodedClip
from interestmap.corpus.executors import (
    Executor,
    encode_corpus,
    encoder_options,
    make_executor,
)
from interestmap.encoders.base import l2_normalize
from interestmap.encoders.fusion import BLOCKS, Fuser
from interestmap.encoders.pipeline import ClipEncoder, iter_texts
from interestmap.errors import ConfigError, InterestmapError
from interestmap.index.interest_index import (
    CLUSTERER_FILE,
    PROJECTOR_FILE,
    TOPIC_EXAMPLES_FILE,
    InterestIndex,
)
from interestmap.index.manifest import begin_build, cache_dir
from interestmap.index.results import Audience, BuildReport
from interestmap.store.payloads import clip_payload

if TYPE_CHECKING:
    from interestmap.topics.catalog import Topic

Progress = Callable[[str, int, int], None]
"""``progress(stage, done, total)``: stages are read, encode, audiences, map, write."""


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
) -> InterestIndex:
    """Build (or update) the index in ``index_dir`` from a corpus folder or manifest (or
    a list of clips), and return it opened; what the build did is its ``build_report``.

    ``audiences="clusters"`` finds audiences with HDBSCAN; ``"labels"`` makes one audience
    per clip label (used for the declared-topic atlas). ``audience_model`` is an unfitted
    ``hdbscan.HDBSCAN(...)`` or ``AudienceClusterer(...)``, ``map_model`` an unfitted
    ``umap.UMAP(...)`` or ``MapProjector(...)`` (see learn/). Bad clips are reported in the
    returned report and skipped; an interrupted build resumes from the encode cache.
    ``executor`` encodes the clips: "local" (default) or "ray" (Ray Data, on the cluster
    at ``ray_address`` / ``$RAY_ADDRESS``, else a local one), see executors.py.
    ``about`` is kept in the manifest as it is (e.g. the data sources and their licenses).
    Close the returned index (or use it in a ``with`` block) before another program
    opens the folder.
    """
    from interestmap.corpus.read import read_corpus, unique_clips
    from interestmap.topics.catalog import load_topics
    from interestmap.topics.embed import embed_topic_examples, embed_topics

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
        with atomic_writer(build.staging / TOPIC_EXAMPLES_FILE) as f:
            np.save(f, embed_topic_examples(topic_list, encoder.text), allow_pickle=False)
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
    report = BuildReport(index_dir=index_dir.resolve(), n_clips=len(encoded), n_encoded=n_new,
                         n_cached=len(encoded) - n_new, problems=problems,
                         executor=run.executor, n_audiences=len(aud_list),
                         outlier_share=outlier_share, raw_outlier_share=raw_outliers,
                         purity=purity, nmi=nmi,
                         timings_s={k: round(v, 3) for k, v in timings.items()})
    index = InterestIndex.open(index_dir, qdrant_url=qdrant_url, api_key=api_key)
    index.build_report = report
    return index


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
                        topics: Sequence[Topic], topic_vecs: np.ndarray,
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

    with atomic_writer(path) as fh:
        joblib.dump(obj, fh)
