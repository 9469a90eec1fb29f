"""Visual and audio topics on real photos and sounds: cluster purity and zero-shot labels.

    python benchmarks/media_topics.py [--per-class 100] [--half test|dev]
                                      [--text-encoders use-m3,use-m3+e5-small]
    python benchmarks/media_topics.py --product [--half test|dev]

Each data set is cut in two halves: ``dev`` (looked at while choosing settings) and
``test`` (the default; reported). Scenes: ``test`` = the first ``--per-class`` photos of
each folder (file order, the set of the earlier figures), ``dev`` = the next
``--per-class``. ESC-50: the clips of each class in file order, alternately ``dev``
(1st, 3rd, ...) and ``test`` (2nd, 4th, ...); its NMI is also given on all 414 clips.

- ``scenes``: ``$INTERESTMAP_DATA/scenes`` (Intel scene photos, 6 folders: buildings,
  forest, glacier, mountain, sea, street). Features: EfficientNet-Lite0 (the ``visual``
  block, 1280-d) and visual semantics (the ImageNet-label bridge into the text space,
  ``visual_semantics``, one row per text encoder). NMI of interestmap's audiences
  (``AudienceClusterer``: UMAP + HDBSCAN + outlier policy, its defaults), of the
  audiences as they were found before 2026-12-03 (``audiences_before``: leaf selection
  always) and of k-means with the true k (6) on the same features, against the folders.
  Zero-shot: each photo's visual-semantics vector against the six folder names phrased
  as the bridge phrases labels ("a photo of a forest"), top-1.
- ``esc50``: ``$INTERESTMAP_DATA/esc50`` (414 real 5 s clips, 50 classes), aiSFX
  embeddings (the ``audio`` block, 512-d): the same NMI triple against ``category``.
  Zero-shot: the YAMNet label bridge (``AudioSemantics``: the clip's AudioSet class
  names, weighted by YAMNet's scores, embedded with the text encoder) against the 50
  class names phrased the same way ("the sound of crackling fire"), top-1; next to it
  ``zero_shot_top1_label_only``, the same with only YAMNet's top class (``top_k=1``);
  and the NMI triple of these text-space sound vectors (what audiences would see of a
  sound if it entered the text view the product clusters).

With ``--product`` the ESC-50 half goes through the product instead (:func:`esc50_product`):
each sound file encoded by ``ClipEncoder`` (the default encoders, ASR and OCR on), then
audiences on the text view of the fused vectors (what an index build clusters), zero-shot
over the 50 names with the clip's ``audio_semantics`` block, and declared atlas topics
(``TopicSpace.score``, as ``analyze``) for the 27 classes that belong to a topic
(:data:`ESC50_TOPICS`); each with the block and as it was before it (the same clips
re-fused with :data:`OLD_WEIGHTS`). Plus the shared real video (:func:`video_product`).

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


BEFORE = {"cluster_selection_method": "leaf"}
"""The audience settings before 2026-12-03 (leaf selection whatever the corpus)."""


def nmi_pair(x: np.ndarray, gold: np.ndarray, k: int, seed: int = 0) -> dict:
    """NMI of interestmap's audiences (now and before) and of k-means with the true k."""
    from sklearn.cluster import KMeans
    from sklearn.metrics import normalized_mutual_info_score as nmi

    from interestmap.learn.clusters import AudienceClusterer

    out: dict = {}
    for key, params in (("audiences", {}), ("audiences_before", BEFORE)):
        t0 = time.perf_counter()
        aud = AudienceClusterer(random_state=seed, **params).fit(x)
        labels = np.asarray(aud.labels_)
        out[key] = {"nmi": round(float(nmi(gold, labels)), 4),
                    "audiences": int(len(set(labels.tolist()) - {-1})),
                    "outliers": round(float(np.mean(labels < 0)), 4),
                    "selection": aud.selection_method_,
                    "seconds": round(time.perf_counter() - t0, 1)}
    t0 = time.perf_counter()
    km = KMeans(n_clusters=k, n_init=10, random_state=seed).fit(x)
    out["kmeans"] = {"nmi": round(float(nmi(gold, km.labels_)), 4), "k": k,
                     "seconds": round(time.perf_counter() - t0, 1)}
    return out


def scene_files(root: Path, per_class: int, half: str) -> tuple[list[Path], np.ndarray]:
    """The photos of one half (see the module doc) and their folder names."""
    files, gold = [], []
    lo = 0 if half == "test" else per_class
    for c in SCENES:
        fs = sorted((root / "scenes" / c).glob("*.jpg"))[lo:lo + per_class]
        files += fs
        gold += [c] * len(fs)
    return files, np.array(gold)


def scenes(root: Path, per_class: int, half: str, text_encoders: list[str]) -> dict:
    from PIL import Image

    from interestmap.encoders.registry import get_image_encoder, get_text_encoder
    from interestmap.encoders.semantics import VisualSemantics, label_texts

    files, gold_arr = scene_files(root, per_class, half)
    images = [np.asarray(Image.open(f).convert("RGB")) for f in files]
    log(f"scenes ({half}): {len(images)} photos")
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


def esc50_halves(rows: list[dict]) -> np.ndarray:
    """True for the ``dev`` clips: the 1st, 3rd, ... of each class in file order."""
    dev = np.zeros(len(rows), dtype=bool)
    seen: dict[str, int] = {}
    for i in sorted(range(len(rows)), key=lambda i: (rows[i]["category"], rows[i]["filename"])):
        c = rows[i]["category"]
        dev[i] = seen.get(c, 0) % 2 == 0
        seen[c] = seen.get(c, 0) + 1
    return dev


def esc50(root: Path, half: str, text_encoders: list[str]) -> dict:
    import librosa
    import soundfile as sf

    from interestmap.encoders.audio_yamnet import YamnetTagger
    from interestmap.encoders.registry import get_audio_encoder, get_text_encoder
    from interestmap.encoders.semantics import SOUND_TEMPLATE, AudioSemantics, label_texts

    rows = list(csv.DictReader((root / "esc50" / "esc50.csv").open(encoding="utf-8")))
    rows = [r for r in rows if (root / "esc50" / "audio" / r["filename"].replace(
        ".wav", ".flac")).is_file()]
    enc = get_audio_encoder("aisfx")
    tagger = YamnetTagger()
    waves, waves16 = [], []
    for r in rows:
        y, sr = sf.read(root / "esc50" / "audio" / r["filename"].replace(".wav", ".flac"),
                        dtype="float32", always_2d=True)
        waves.append(librosa.resample(y.mean(axis=1), orig_sr=sr, target_sr=enc.sample_rate))
        waves16.append(librosa.resample(y.mean(axis=1), orig_sr=sr,
                                        target_sr=tagger.sample_rate))
    sel = esc50_halves(rows) == (half == "dev")
    log(f"esc50: {len(waves)} clips, {int(sel.sum())} in the {half} half")
    t0 = time.perf_counter()
    x = enc.encode(waves)
    gold = np.array([r["category"] for r in rows])
    classes = sorted(set(gold.tolist()))
    out: dict = {"clips": int(sel.sum()), "classes": len(classes),
                 "audio": {"encoder": enc.info.name,
                           **nmi_pair(x[sel], gold[sel], len(classes))},
                 "audio_all_414": nmi_pair(x, gold, len(classes)),
                 "encode_s": round(time.perf_counter() - t0, 1), "audio_semantics": {}}
    t0 = time.perf_counter()
    probs = tagger.class_probabilities([w for w, s in zip(waves16, sel, strict=True) if s])
    out["yamnet_s"] = round(time.perf_counter() - t0, 1)

    class Cached:  # the tagger's scores, computed once for every text encoder
        sample_rate, class_names, version = (tagger.sample_rate, tagger.class_names,
                                             tagger.version)

        @staticmethod
        def class_probabilities(_waves: list) -> np.ndarray:
            return probs

    for name in text_encoders:
        te = get_text_encoder(name)
        names = te.encode(label_texts(classes, SOUND_TEMPLATE))
        res: dict = {}
        for key, k in (("zero_shot_top1_label_only", 1), ("zero_shot_top1", 5)):
            sem = AudioSemantics(Cached(), te, top_k=k).encode([None] * int(sel.sum()))
            pred = np.array(classes)[(sem @ names.T).argmax(axis=1)]
            res[key] = round(float(np.mean(pred == gold[sel])), 4)
        res.update(nmi_pair(sem, gold[sel], len(classes)))  # the top-5 vectors
        out["audio_semantics"][te.info.name] = res
        log(f"  {te.info.name}: zero-shot {res}")
    return out


OLD_WEIGHTS = {"caption": 0.26, "ocr": 0.10, "speech": 0.16, "visual": 0.08,
               "visual_semantics": 0.10, "audio": 0.06, "language": 0.12, "geo": 0.12}
"""The block weights before ``audio_semantics`` joined the fused vector (2026-12-03)."""

ESC50_TOPICS = {
    **{c: ("pets",) for c in ("dog", "cat", "rooster", "hen", "pig", "cow", "frog", "sheep",
                              "crow", "insects")},
    "chirping_birds": ("pets", "nature-outdoors", "gardening"), "crying_baby": ("parenting",),
    "laughing": ("comedy",),
    **{c: ("nature-outdoors",) for c in ("rain", "sea_waves", "crackling_fire", "wind",
                                         "water_drops", "thunderstorm")},
    "car_horn": ("cars",), "engine": ("cars",), "airplane": ("travel",), "train": ("travel",),
    "keyboard_typing": ("tech", "business-finance", "crypto"), "mouse_click": ("tech", "gaming"),
    "vacuum_cleaner": ("home-diy",), "chainsaw": ("home-diy",), "hand_saw": ("home-diy",)}
"""ESC-50 classes that belong to an atlas topic (the right declared topics of such a
sound); the other 23 classes (footsteps, clock tick, ...) have no topic of their own."""


def esc50_product(root: Path, half: str) -> dict:
    """ESC-50 clips through the product: each sound file encoded by ``ClipEncoder`` as a
    sound-only clip (default encoders, ASR and OCR on), then audiences as an index build
    finds them (the text view of the fused vectors) and declared topics as ``analyze``
    scores them, with the ``audio_semantics`` block and without it (the same clips
    re-fused with the weights from before it, which is what interestmap did then)."""
    from sklearn.metrics import normalized_mutual_info_score as nmi

    from interestmap.clip import Clip
    from interestmap.encoders.fusion import BLOCKS, Fuser
    from interestmap.encoders.pipeline import ClipEncoder
    from interestmap.encoders.semantics import SOUND_TEMPLATE, label_texts
    from interestmap.topics.catalog import load_topics
    from interestmap.topics.scoring import TopicSpace

    rows = list(csv.DictReader((root / "esc50" / "esc50.csv").open(encoding="utf-8")))
    rows = [r for r in rows if (root / "esc50" / "audio" / r["filename"].replace(
        ".wav", ".flac")).is_file()]
    rows = [r for r, d in zip(rows, esc50_halves(rows), strict=True) if d == (half == "dev")]
    gold = np.array([r["category"] for r in rows])
    classes = sorted(set(gold.tolist()))
    enc = ClipEncoder()
    enc.load_models()
    clips = [Clip.of(root / "esc50" / "audio" / r["filename"].replace(".wav", ".flac"),
                     id=r["filename"]) for r in rows]
    log(f"esc50 product path ({half}): encoding {len(clips)} sound clips")
    t0 = time.perf_counter()
    encoded, problems = enc.encode_many(clips, on_error="skip")
    encode_s = time.perf_counter() - t0
    keep = {e.clip.id for e in encoded}
    gold = np.array([r["category"] for r in rows if r["filename"] in keep])
    blocks = [{b: e.blocks.get(b) for b in BLOCKS} for e in encoded]
    old_fuser = Fuser(OLD_WEIGHTS).fit(enc.block_encoders())
    space = TopicSpace.for_encoder(load_topics(), enc)
    names = enc.text.encode(label_texts(classes, SOUND_TEMPLATE))
    out: dict = {"clips": len(encoded), "problems": len(problems),
                 "encode_s_per_clip": round(encode_s / max(len(encoded), 1), 3),
                 "audio_semantics_s_per_clip": round(float(np.mean(
                     [e.timings_s.get("audio_semantics", 0.0) for e in encoded])), 4),
                 "audio_s_per_clip": round(float(np.mean(
                     [e.timings_s.get("audio", 0.0) for e in encoded])), 4),
                 "asr_clips": int(sum("asr" in e.timings_s for e in encoded)),
                 "block_missing": {}}
    for e in encoded:
        if "audio_semantics" in e.missing:
            out["block_missing"][e.clip.id] = e.missing["audio_semantics"]
    for key, fuser, weights in (("with_audio_semantics", enc.fuser, enc.layout.weights),
                                ("before", old_fuser, old_fuser.layout_.weights)):
        fused = fuser.transform(blocks)
        view = fuser.text_view(fused)
        has = np.linalg.norm(view, axis=1) > 0
        res: dict = {"clips_with_a_text_view": int(has.sum())}
        if has.sum() >= 10:
            res.update(nmi_pair(view[has], gold[has], len(classes)))
            # every clip counts: those without a view have no audience (-1)
            labels = np.full(len(gold), -1)
            from interestmap.learn.clusters import AudienceClusterer

            labels[has] = AudienceClusterer(random_state=0).fit(view[has]).labels_
            res["audiences_nmi_all_clips"] = round(float(nmi(gold, labels)), 4)
        else:
            res["audiences_nmi_all_clips"] = 0.0
            res["note"] = "no clip has a text view: sound-only clips get no audience"
        sem = np.stack([b["audio_semantics"] if b["audio_semantics"] is not None and
                        weights["audio_semantics"] > 0 else np.zeros(names.shape[1])
                        for b in blocks])
        ok = np.linalg.norm(sem, axis=1) > 0
        pred = np.where(ok, np.array(classes)[(sem @ names.T).argmax(axis=1)], "")
        res["zero_shot_top1"] = round(float(np.mean(pred == gold)), 4)
        right, declared = [], []
        for b, g in zip(blocks, gold, strict=True):
            if g not in ESC50_TOPICS:
                continue
            sc = space.score(b, weights)
            top = sc.ranking(1)
            right.append(bool(top) and sc.block_weights != {} and
                         top[0]["id"] in ESC50_TOPICS[g])
            declared.append(any(m["id"] in ESC50_TOPICS[g] for m in sc.matched()))
        res["topic_clips"] = len(right)
        res["declared_topic_top1"] = round(float(np.mean(right)), 4)
        res["declared_topics_include_right"] = round(float(np.mean(declared)), 4)
        out[key] = res
        log(f"  {key}: {res}")
    return out


def video_product(root: Path) -> dict:
    """The shared real video through the product: what its sound is heard as, and its
    declared topics with and without the sound block."""
    from interestmap.clip import Clip
    from interestmap.encoders.fusion import BLOCKS
    from interestmap.encoders.pipeline import ClipEncoder
    from interestmap.topics.catalog import load_topics
    from interestmap.topics.scoring import TopicSpace

    enc = ClipEncoder()
    e = enc.encode(Clip.of(root / "video" / "bigbuckbunny.mp4"))
    space = TopicSpace.for_encoder(load_topics(), enc)
    blocks = {b: e.blocks.get(b) for b in BLOCKS}
    heard = enc.sound_semantics.tagger.describe([e_wave(root)], k=5)[0]
    with_ = space.score(blocks, enc.layout.weights)
    without = space.score(dict(blocks, audio_semantics=None),
                          dict(enc.layout.weights, audio_semantics=0.0))
    return {"blocks_present": [b for b in BLOCKS if blocks[b] is not None],
            "missing": e.missing, "heard": heard,
            "topics_with": with_.ranking(3), "topics_before": without.ranking(3),
            "audio_semantics_top": with_.ranking(3, block="audio_semantics"),
            "timings_s": {k: round(v, 3) for k, v in e.timings_s.items()}}


def e_wave(root: Path) -> np.ndarray:
    from interestmap.media.decode import load_media

    return load_media(root / "video" / "bigbuckbunny.mp4").audio_at(16000)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--per-class", type=int, default=100, help="scene photos per folder")
    ap.add_argument("--half", choices=("test", "dev"), default="test",
                    help="which half of each data set to score (dev: the one to choose on)")
    ap.add_argument("--text-encoders", default="use-m3,use-m3+e5-small",
                    help="text encoders of the visual-semantics bridge")
    ap.add_argument("--product", action="store_true",
                    help="instead: ESC-50 and the shared video through the product "
                         "(ClipEncoder -> text view -> audiences, declared topics), with "
                         "and without the audio_semantics block")
    args = ap.parse_args(argv)
    root = data_dir()
    if not (root / "scenes").is_dir() or not (root / "esc50").is_dir():
        sys.exit(f"scenes/ and esc50/ not found under {root}: set INTERESTMAP_DATA")
    t0 = time.perf_counter()
    if args.product:
        out = {"machine": {"cpus": os.cpu_count(), "load_1min": round(os.getloadavg()[0], 2)},
               "half": args.half, "esc50_product": esc50_product(root, args.half),
               "video": video_product(root)}
        out["machine"]["load_1min_end"] = round(os.getloadavg()[0], 2)
        out["total_s"] = round(time.perf_counter() - t0, 1)
        print(json.dumps(out, indent=1, default=str))
        return
    out = {"machine": {"cpus": os.cpu_count(), "load_1min": round(os.getloadavg()[0], 2)},
           "half": args.half,
           "scenes": scenes(root, args.per_class, args.half, args.text_encoders.split(",")),
           "esc50": esc50(root, args.half, args.text_encoders.split(","))}
    out["machine"]["load_1min_end"] = round(os.getloadavg()[0], 2)
    out["total_s"] = round(time.perf_counter() - t0, 1)
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
