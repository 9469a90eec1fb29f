"""How much the sound block should weigh: the dev measurement behind its default weight.

    python benchmarks/sound_weight.py [--weights 0.05,0.07,0.09,0.10,0.12,0.15]

Dev data only (never the test half): the 1st, 3rd, ... ESC-50 clips of each class
(``media_topics.esc50_halves``) whose class belongs to an atlas topic
(``media_topics.ESC50_TOPICS``: dog -> Pets & animals, rain -> Nature & outdoors, ...),
and the first 150 single-topic X-Topic ``en_train`` tweets as captions. Each clip's
``audio_semantics`` vector is made as the clip pipeline makes it (YAMNet's scores, speech
classes left out, ``AudioSemantics``). Prints, per candidate weight of the sound block
next to a caption at its default weight:

- ``caption_kept``: how often a caption's top declared topic stays on top when an
  unrelated sound plays under it (10 random dev sounds per caption): a background sound
  should rarely override what the creator says;
- ``sound_declared``: how often a neutral caption ("what a day") over a topical sound
  declares the sound's topic (among ``TopicScores.matched()``): what the sound adds.

Also the fitted softmax temperature of the block (``SOUND_TEMPERATURE_RATIO``). The
default weight is the largest with ``caption_kept`` >= 0.95. One JSON object on stdout.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from _common import data_dir  # noqa: E402
from media_topics import ESC50_TOPICS, esc50_halves  # noqa: E402

NEUTRAL = ["what a day", "new video, watch till the end", "today"]


def main(argv: list[str] | None = None) -> None:
    import librosa
    import soundfile as sf

    from interestmap.encoders.fusion import DEFAULT_WEIGHTS
    from interestmap.encoders.pipeline import ClipEncoder, caption_text
    from interestmap.topics.calibration import fit_temperature
    from interestmap.topics.catalog import load_topics
    from interestmap.topics.scoring import TopicSpace

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--weights", default="0.05,0.07,0.09,0.10,0.12,0.15")
    args = ap.parse_args(argv)
    root = data_dir()
    rows = list(csv.DictReader((root / "esc50" / "esc50.csv").open(encoding="utf-8")))
    rows = [r for r in rows if (root / "esc50" / "audio" / r["filename"].replace(
        ".wav", ".flac")).is_file()]
    rows = [r for r, dev in zip(rows, esc50_halves(rows), strict=True)
            if dev and r["category"] in ESC50_TOPICS]
    enc = ClipEncoder()
    sem = enc.sound_semantics
    waves = []
    for r in rows:
        y, sr = sf.read(root / "esc50" / "audio" / r["filename"].replace(".wav", ".flac"),
                        dtype="float32", always_2d=True)
        waves.append(librosa.resample(y.mean(axis=1), orig_sr=sr, target_sr=sem.sample_rate))
    vec = sem.encode(waves)
    cats = [r["category"] for r in rows]
    topics = load_topics()
    ids = [t.id for t in topics]
    space = TopicSpace.for_encoder(topics, enc)
    gold = np.array([[t in ESC50_TOPICS[c] for t in ids] for c in cats])
    cos = space.cosines("audio_semantics", vec)
    t_fit = fit_temperature(cos, gold)
    out: dict = {"machine": {"cpus": os.cpu_count(), "load_1min": round(os.getloadavg()[0], 2)},
                 "sounds": len(rows),
                 "sound_only_top1": round(float(gold[np.arange(len(rows)), cos.argmax(1)].mean()), 4),
                 "fitted_temperature": round(t_fit, 5),
                 "ratio_to_visual": round(t_fit / space.calibration.visual, 3), "weights": {}}
    with open(root / "xtopic" / "en" / "en_train.jsonl", encoding="utf-8") as f:
        tweets = [r for r in map(json.loads, f) if len(r["topics"]) == 1][:150]
    cvec = enc.text.encode([caption_text(r["text"]) for r in tweets])
    neutral = enc.text.encode(NEUTRAL)
    caption_w = DEFAULT_WEIGHTS["caption"]
    draws = np.random.default_rng(0).integers(len(vec), size=(len(tweets), 10))
    for w in (float(x) for x in args.weights.split(",")):
        weights = {"caption": caption_w, "audio_semantics": w}
        kept = []
        for j in range(len(tweets)):
            base = space.score({"caption": cvec[j]}, weights).top_index
            kept += [space.score({"caption": cvec[j], "audio_semantics": vec[d]},
                                 weights).top_index == base for d in draws[j]]
        declared = [any(m["id"] in ESC50_TOPICS[c] for m in space.score(
            {"caption": neutral[k % len(NEUTRAL)], "audio_semantics": vec[k]}, weights).matched())
            for k, c in enumerate(cats)]
        out["weights"][str(w)] = {"caption_kept": round(float(np.mean(kept)), 4),
                                  "sound_declared": round(float(np.mean(declared)), 4)}
        print(f"w={w}: {out['weights'][str(w)]}", file=sys.stderr, flush=True)
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
