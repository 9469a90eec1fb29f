"""Visual and audio topics on real photos and sounds: cluster purity and zero-shot labels.

    python benchmarks/media_topics.py [--per-class 100] [--text-encoders use-m3,use-m3+e5-small]

- ``scenes``: ``$INTERESTMAP_DATA/scenes`` (Intel scene photos, 6 folders: buildings,
  forest, glacier, mountain, sea, street), ``--per-class`` photos from each (file order).
  Features: EfficientNet-Lite0 (the ``visual`` block, 1280-d) and visual semantics (the
  ImageNet-label bridge into the text space, ``visual_semantics``, one row per text
  encoder). NMI of interestmap's audiences (``AudienceClusterer``: UMAP + HDBSCAN +
  outlier policy, its defaults) and of k-means with the true k (6) on the same features,
  against the folders. Zero-shot: each photo's visual-semantics vector against the six
  folder names phrased as the bridge phrases labels ("a photo of a forest"), top-1.
- ``esc50``: ``$INTERESTMAP_DATA/esc50`` (414 real 5 s clips, 50 classes), aiSFX
  embeddings (the ``audio`` block, 512-d), NMI of audiences and of k-means (k=50) against
  ``category``. Zero-shot sound labels need an audio encoder with a text side (CLAP);
  none loads offline, so that row says so instead of a number.

NMI: ``sklearn.metrics.normalized_mutual_info_score``; audiences' outliers (-1), if any
remain, count as one more label. Prints one JSON object; progress on stderr.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from _common import data_dir  # noqa: E402

SCENES = ("buildings", "forest", "glacier", "mountain", "sea", "street")


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def nmi_pair(x: np.ndarray, gold: np.ndarray, k: int, seed: int = 0) -> dict:
    """NMI of interestmap's audiences and of k-means with the true k, same features."""
    from sklearn.cluster import KMeans
    from sklearn.metrics import normalized_mutual_info_score as nmi

    from interestmap.learn.clusters import AudienceClusterer

    t0 = time.perf_counter()
    aud = AudienceClusterer(random_state=seed).fit(x)
    t_aud = time.perf_counter() - t0
    t0 = time.perf_counter()
    km = KMeans(n_clusters=k, n_init=10, random_state=seed).fit(x)
    t_km = time.perf_counter() - t0
    labels = np.asarray(aud.labels_)
    return {"audiences_nmi": round(float(nmi(gold, labels)), 4),
            "audiences": int(len(set(labels.tolist()) - {-1})),
            "audiences_outliers": round(float(np.mean(labels < 0)), 4),
            "kmeans_nmi": round(float(nmi(gold, km.labels_)), 4), "k": k,
            "seconds": {"audiences": round(t_aud, 1), "kmeans": round(t_km, 1)}}


def scenes(root: Path, per_class: int, text_encoders: list[str]) -> dict:
    from PIL import Image

    from interestmap.encoders.registry import get_image_encoder, get_text_encoder
    from interestmap.encoders.semantics import VisualSemantics, label_texts

    files, gold = [], []
    for c in SCENES:
        fs = sorted((root / "scenes" / c).glob("*.jpg"))[:per_class]
        files += fs
        gold += [c] * len(fs)
    gold_arr = np.array(gold)
    images = [np.asarray(Image.open(f).convert("RGB")) for f in files]
    log(f"scenes: {len(images)} photos")
    image = get_image_encoder("efficientnet-lite0")
    t0 = time.perf_counter()
    feats = image.encode(images)
    out: dict = {"photos": len(images), "classes": len(SCENES),
                 "visual": {"encoder": image.info.name, **nmi_pair(feats, gold_arr, 6)},
                 "encode_s": round(time.perf_counter() - t0, 1), "visual_semantics": {}}
    for name in text_encoders:
        te = get_text_encoder(name)
        vs = VisualSemantics(image, te)
        sem = vs.encode(images)
        names = te.encode(label_texts(list(SCENES)))
        top1 = float(np.mean(np.array(SCENES)[(sem @ names.T).argmax(axis=1)] == gold_arr))
        out["visual_semantics"][te.info.name] = {
            "zero_shot_top1": round(top1, 4), **nmi_pair(sem, gold_arr, 6)}
        log(f"  {te.info.name}: zero-shot {top1:.3f}")
    return out


def esc50(root: Path) -> dict:
    import librosa
    import soundfile as sf

    from interestmap.encoders.registry import get_audio_encoder

    rows = list(csv.DictReader((root / "esc50" / "esc50.csv").open(encoding="utf-8")))
    rows = [r for r in rows if (root / "esc50" / "audio" / r["filename"].replace(
        ".wav", ".flac")).is_file()]
    enc = get_audio_encoder("aisfx")
    waves = []
    for r in rows:
        y, sr = sf.read(root / "esc50" / "audio" / r["filename"].replace(".wav", ".flac"),
                        dtype="float32", always_2d=True)
        waves.append(librosa.resample(y.mean(axis=1), orig_sr=sr, target_sr=enc.sample_rate))
    log(f"esc50: {len(waves)} clips")
    t0 = time.perf_counter()
    x = enc.encode(waves)
    gold = np.array([r["category"] for r in rows])
    return {"clips": len(rows), "classes": int(len(set(gold.tolist()))),
            "audio": {"encoder": enc.info.name, **nmi_pair(x, gold, len(set(gold.tolist())))},
            "encode_s": round(time.perf_counter() - t0, 1),
            "zero_shot_top1": "not measurable offline: aiSFX has no text side, and no "
                              "registry package ships CLAP weights (give a CLAP checkpoint "
                              "with INTERESTMAP_AUDIO_ENCODER=clap:/path/to/ckpt.pt)"}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--per-class", type=int, default=100, help="scene photos per folder")
    ap.add_argument("--text-encoders", default="use-m3,use-m3+e5-small",
                    help="text encoders of the visual-semantics bridge")
    args = ap.parse_args(argv)
    root = data_dir()
    if not (root / "scenes").is_dir() or not (root / "esc50").is_dir():
        sys.exit(f"scenes/ and esc50/ not found under {root}: set INTERESTMAP_DATA")
    t0 = time.perf_counter()
    out = {"machine": {"cpus": os.cpu_count(), "load_1min": round(os.getloadavg()[0], 2)},
           "scenes": scenes(root, args.per_class, args.text_encoders.split(",")),
           "esc50": esc50(root)}
    out["machine"]["load_1min_end"] = round(os.getloadavg()[0], 2)
    out["total_s"] = round(time.perf_counter() - t0, 1)
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
