"""Synthetic clip vectors for the store, index-folder and cache tests: random unit blocks
fused by the real Fuser, with payloads like real posts (not model output)."""

from __future__ import annotations

import numpy as np

from interestmap.encoders.fusion import BLOCKS, Fuser, FusionLayout

DIMS = {"caption": 24, "ocr": 24, "speech": 24, "visual": 16, "visual_semantics": 24,
        "audio": 12, "audio_semantics": 24, "language": 8, "geo": 6}
ACCOUNTS = ["alice", "bob", "carla"]
LANGS = ["en", "es", "ja"]
KINDS = ["video", "image", "carousel", "audio", "none"]


def make_layout(text_name: str = "use-m3") -> FusionLayout:
    enc = {b: {"name": text_name if b in ("caption", "ocr", "speech", "visual_semantics",
                                                   "audio_semantics")
               else f"{b}-enc", "version": "1", "dim": d, "modality": b}
           for b, d in DIMS.items()}
    return FusionLayout(dims=dict(DIMS), encoders=enc)


def make_corpus(n: int, seed: int = 0) -> dict:
    """Clips with random unit blocks; speech/ocr/visual often absent, as in real posts."""
    rng = np.random.default_rng(seed)
    layout = make_layout()
    fuser = Fuser.from_layout(layout)
    blocks = {b: rng.normal(size=(n, d)).astype(np.float32) for b, d in DIMS.items()}
    presence = np.ones((n, len(BLOCKS)), dtype=bool)
    for j, b in enumerate(BLOCKS):
        if b in ("speech", "ocr", "visual", "visual_semantics", "audio", "audio_semantics"):
            presence[:, j] = rng.random(n) > 0.35
    rows = [{b: (blocks[b][i] if presence[i, j] else None) for j, b in enumerate(BLOCKS)}
            for i in range(n)]
    fused = fuser.transform(rows)
    ids = [f"{ACCOUNTS[i % 3]}/clip {i:04d}.mp4" for i in range(n)]
    payloads = []
    for i in range(n):
        payloads.append({
            "account": ACCOUNTS[i % 3],
            "language": LANGS[(i // 3) % 3],
            "geo": {"name": "Lisbon" if i % 2 else "Tokyo",
                    "lat": 38.72 if i % 2 else 35.68, "lon": -9.14 if i % 2 else 139.69},
            "published_at": f"2024-{1 + i % 12:02d}-{1 + i % 28:02d}T12:00:00Z",
            "audience": np.int64(i % 4),
            "audience_probability": np.float32(0.5 + (i % 5) / 10),
            "x": float(rng.normal()), "y": float(rng.normal()),
            "caption": f"post {i} #travel",
            "media_kind": KINDS[i % 5],
            "labels": ["travel"] if i % 2 else ["food", "travel"],
        })
    return {"ids": ids, "fused": fused, "blocks": blocks, "presence": presence,
            "payloads": payloads, "layout": layout}
