"""Modality blocks -> one fused interest vector, with per-block attribution.

The fused vector is the concatenation of L2-normalised blocks, each scaled by
``sqrt(w_b / W)``, where ``W`` is the total weight of the blocks *present* in that clip.
So every fused vector has unit length, and for two clips with the same blocks present
their cosine is exactly ``sum_b (w_b / W) * cos_b``: the weighted mean of the per-block
similarities. That identity gives per-modality attribution for free.

A missing block (no speech, no visuals) is stored as zeros, and :func:`similarity`
re-weights over the blocks the two clips *share*, so a caption-only post is compared on
its caption, language and geo alone instead of being dragged towards zero by the
modalities it never had.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from interestmap.encoders.base import EncoderInfo, l2_normalize
from interestmap.errors import ConfigError, EncoderMismatchError

BLOCKS: tuple[str, ...] = (
    "caption", "ocr", "speech", "visual", "visual_semantics", "audio", "audio_semantics",
    "language", "geo",
)
"""Every block, in the order they sit in the fused vector."""

TEXT_BLOCKS: tuple[str, ...] = ("caption", "ocr", "speech", "visual_semantics",
                                 "audio_semantics")
"""Blocks that live in the text encoder's space (comparable with topic descriptions)."""

DEFAULT_WEIGHTS: dict[str, float] = {
    "caption": 0.25,
    "ocr": 0.09,
    "speech": 0.15,
    "visual": 0.07,
    "visual_semantics": 0.09,
    "audio": 0.04,
    "audio_semantics": 0.09,
    "language": 0.11,
    "geo": 0.11,
}
"""Share of each block in the similarity of two complete clips (sums to 1).

Content (what the clip is about) carries about three quarters; language and geo, which
platforms use to pick *whose* feed a clip reaches, carry the rest.

``audio_semantics`` (what the sound is, in words) was added on 2026-12-03 with 0.09: the
largest share at which a background sound rarely overrides what a caption says, chosen
on dev data (``benchmarks/sound_weight.py``: ESC-50's dev half, 119 sounds that belong to
an atlas topic, under 150 X-Topic en_train captions, 10 unrelated sounds each; caption
0.25 beside it): the caption's top topic stays on top 0.995 / 0.971 / **0.956** / 0.946 /
0.920 / 0.869 of the time with the sound at 0.05 / 0.07 / **0.09** / 0.10 / 0.12 / 0.15,
and a neutral caption ("what a day") over a dog barking or rain declares the sound's
topic 0.07 / 0.23 / **0.31** / 0.40 / 0.48 / 0.49 of the time (a sound alone: 0.65
top-1). The other blocks gave up the 0.09 in proportion (rounded), the aiSFX ``audio``
block a little more (0.06 -> 0.04) since both read the same track.
"""


def _check_weights(weights: Mapping[str, float]) -> dict[str, float]:
    unknown = set(weights) - set(BLOCKS)
    if unknown:
        raise ConfigError(f"unknown block weight(s) {sorted(unknown)}; blocks are {list(BLOCKS)}")
    out = {b: float(weights.get(b, 0.0)) for b in BLOCKS}
    bad = {b: w for b, w in out.items() if not np.isfinite(w) or w < 0}
    if bad:
        raise ConfigError(f"block weights must be finite and >= 0, got {bad}")
    if sum(out.values()) <= 0:
        raise ConfigError("at least one block weight must be > 0")
    return out


@dataclass
class FusionLayout:
    """Where each block sits in the fused vector, its weight, and which encoder made it.

    Saved with every index, so vectors made with another layout are refused.
    """

    dims: dict[str, int]
    weights: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_WEIGHTS))
    encoders: dict[str, dict[str, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.weights = _check_weights(self.weights)
        missing = [b for b in BLOCKS if b not in self.dims]
        if missing:
            raise ConfigError(f"fusion layout lacks dims for blocks {missing}")

    @property
    def slices(self) -> dict[str, slice]:
        out, start = {}, 0
        for b in BLOCKS:
            out[b] = slice(start, start + int(self.dims[b]))
            start += int(self.dims[b])
        return out

    @property
    def total_dim(self) -> int:
        return int(sum(self.dims[b] for b in BLOCKS))

    def as_dict(self) -> dict[str, Any]:
        return {"dims": dict(self.dims), "weights": dict(self.weights),
                "encoders": dict(self.encoders)}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> FusionLayout:
        """The layout saved by :meth:`as_dict`; one saved with another set of blocks (an
        index built by an older interestmap) is refused with :class:`EncoderMismatchError`."""
        dims = {k: int(v) for k, v in d["dims"].items()}
        lacks = [b for b in BLOCKS if b not in dims]
        extra = [b for b in dims if b not in BLOCKS]
        if lacks or extra:
            said = ([f"has no {', '.join(repr(b) for b in lacks)} block"] if lacks else []) + \
                   ([f"has block(s) this version does not know ({', '.join(extra)})"]
                    if extra else [])
            raise EncoderMismatchError(
                f"these vectors were made with another block layout (it {' and '.join(said)}): "
                "encode with the same interestmap version or rebuild the index")
        return cls(dims=dims,
                   weights=dict(d.get("weights", DEFAULT_WEIGHTS)),
                   encoders=dict(d.get("encoders", {})))

    def check_compatible(self, other: FusionLayout) -> None:
        """Raise :class:`EncoderMismatchError` unless ``other`` makes comparable vectors."""
        for b in BLOCKS:
            mine, theirs = self.encoders.get(b), other.encoders.get(b)
            if self.dims[b] != other.dims[b] or (mine and theirs and mine != theirs):
                def _name(e: Mapping[str, Any] | None) -> str:
                    return f"{e['name']} {e['version']} ({e['dim']}-d)" if e else "unknown"
                raise EncoderMismatchError(
                    f"the '{b}' block was made with {_name(theirs)}, but this index uses "
                    f"{_name(mine)}; encode with the index's encoders or rebuild the index")


class Fuser:
    """Fuse per-block vectors into one weighted unit vector.

    ``fit`` learns the layout (block dimensions and encoders) from encoder infos;
    ``transform`` takes one mapping ``block -> vector or None`` per clip.
    """

    def __init__(self, weights: Mapping[str, float] | None = None) -> None:
        self.weights = weights

    def fit(self, encoders: Mapping[str, EncoderInfo | int]) -> Fuser:
        """Learn the layout from each block's encoder info (or plain dimension)."""
        weights = _check_weights(self.weights if self.weights is not None else DEFAULT_WEIGHTS)
        dims, infos = {}, {}
        for b in BLOCKS:
            if b not in encoders:
                raise ConfigError(f"no encoder given for the '{b}' block")
            e = encoders[b]
            if isinstance(e, EncoderInfo):
                dims[b], infos[b] = e.dim, e.as_dict()
            else:
                dims[b] = int(e)
        self.layout_ = FusionLayout(dims=dims, weights=weights, encoders=infos)
        return self

    @classmethod
    def from_layout(cls, layout: FusionLayout) -> Fuser:
        f = cls(weights=layout.weights)
        f.layout_ = layout
        return f

    def _layout(self) -> FusionLayout:
        if not hasattr(self, "layout_"):
            raise ConfigError("this Fuser is not fitted yet: call fit() with the encoders first")
        return self.layout_

    def transform(self, blocks: Sequence[Mapping[str, np.ndarray | None]]) -> np.ndarray:
        """``(n, total_dim)`` fused unit vectors; missing blocks are zeros (see module doc)."""
        layout = self._layout()
        out = np.zeros((len(blocks), layout.total_dim), dtype=np.float32)
        for i, clip_blocks in enumerate(blocks):
            out[i] = self._fuse_one(clip_blocks, layout)
        return out

    def _fuse_one(self, clip_blocks: Mapping[str, np.ndarray | None],
                  layout: FusionLayout) -> np.ndarray:
        unknown = set(clip_blocks) - set(BLOCKS)
        if unknown:
            raise ConfigError(f"unknown block(s) {sorted(unknown)}")
        vec = np.zeros(layout.total_dim, dtype=np.float32)
        present = {}
        for b in BLOCKS:
            v = clip_blocks.get(b)
            if v is None or layout.weights[b] == 0:
                continue
            v = np.asarray(v, dtype=np.float32).reshape(-1)
            if v.shape[0] != layout.dims[b]:
                raise EncoderMismatchError(
                    f"the '{b}' block has {v.shape[0]} dims, the layout expects {layout.dims[b]}")
            if not np.all(np.isfinite(v)) or not np.any(v):
                continue  # an empty or broken block is a missing block, said explicitly
            present[b] = l2_normalize(v)
        total = sum(layout.weights[b] for b in present)
        for b, v in present.items():
            vec[layout.slices[b]] = np.sqrt(layout.weights[b] / total) * v
        return vec

    def split(self, fused: np.ndarray) -> dict[str, np.ndarray]:
        """The block parts of fused vector(s), unscaled back to unit length (zeros if missing)."""
        layout = self._layout()
        fused = np.atleast_2d(np.asarray(fused, dtype=np.float32))
        return {b: l2_normalize(fused[:, s]) for b, s in layout.slices.items()}

    def presence(self, fused: np.ndarray) -> np.ndarray:
        """``(n, n_blocks)`` booleans: which blocks each fused vector has."""
        layout = self._layout()
        fused = np.atleast_2d(np.asarray(fused, dtype=np.float32))
        return np.stack([np.linalg.norm(fused[:, s], axis=1) > 1e-6
                         for s in layout.slices.values()], axis=1)

    def text_view(self, fused: np.ndarray) -> np.ndarray:
        """``(n, d_text)`` what each clip is *about*, in the text encoder's space.

        The weighted mean of the text-space blocks (caption, on-screen text, speech,
        visual and audio semantics) a clip has, L2-normalised: a linear reduction of the fused
        vector in which a caption-only post and a video on the same topic, in any
        language, are directly comparable with each other and with declared topics.
        Rows of clips with none of these blocks are zero.
        """
        layout = self._layout()
        fused = np.atleast_2d(np.asarray(fused, dtype=np.float32))
        # Inside the fused vector block b is scaled by sqrt(w_b / W); scaling it again by
        # sqrt(w_b) gives w_b / sqrt(W) * unit_b, proportional to the weighted mean.
        acc = None
        for b in TEXT_BLOCKS:
            part = fused[:, layout.slices[b]] * np.sqrt(layout.weights[b])
            acc = part if acc is None else acc + part
        return l2_normalize(acc)

    def block_similarities(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """``(n_a, n_b, n_blocks)`` per-block cosines; NaN where either side lacks the block."""
        pa, pb = self.split(a), self.split(b)
        sims = []
        for blk in BLOCKS:
            s = pa[blk] @ pb[blk].T
            have = (np.linalg.norm(pa[blk], axis=1)[:, None] > 0) & \
                   (np.linalg.norm(pb[blk], axis=1)[None, :] > 0)
            sims.append(np.where(have, s, np.nan))
        return np.stack(sims, axis=-1).astype(np.float32)

    def attribution(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """``(n_a, n_b, n_blocks)`` each block's contribution to :meth:`similarity`.

        Contributions are ``w_b * cos_b / sum(w over shared blocks)`` and sum to the
        similarity; a block either side lacks contributes 0.
        """
        sims = self.block_similarities(a, b)
        w = np.array([self._layout().weights[blk] for blk in BLOCKS], dtype=np.float32)
        shared = ~np.isnan(sims)
        wsum = (shared * w).sum(-1, keepdims=True)
        contrib = np.where(shared, np.nan_to_num(sims) * w, 0.0)
        return np.divide(contrib, wsum, out=np.zeros_like(contrib), where=wsum > 0)

    def similarity(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """``(n_a, n_b)`` weighted mean of per-block cosines over the blocks both share."""
        return self.attribution(a, b).sum(-1)
