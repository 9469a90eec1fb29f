"""Audience mirror: someone's interests from the clips they engaged with, and which of a
creator's clips a feed would show them first.

The portrait is what two-tower feed recommenders use as a user vector: the mean of the
engaged clips' vectors (block by block, re-fused, like an audience centroid). Its
nearest audiences and declared topics are weighted by how much of the engagement each
one accounts for. A creator's clips are then ranked by interest (the cosine of their
content blocks with the portrait's, as a two-tower ranker scores) scaled by reach (how
well their language and place match), with the blocks that earn each score
(:func:`feed_scores`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from interestmap.analysis.analyze import (
    BLOCK_WORDS,
    encoder_for,
    index_classifier,
    resolve_index,
    topic_space,
)
from interestmap.clip import Clip, EncodedClip
from interestmap.encoders.base import l2_normalize
from interestmap.encoders.fusion import BLOCKS
from interestmap.errors import ConfigError

if TYPE_CHECKING:
    from interestmap.encoders.fusion import Fuser
    from interestmap.index.interest_index import InterestIndex


@dataclass
class Item:
    """One clip given to the mirror: from the index (by id) or encoded from a file."""

    key: str
    """The id or file as given."""
    fused: np.ndarray
    blocks: dict[str, np.ndarray | None]
    caption: str = ""
    source: str = "index"
    """"index" or "file"."""


def resolve_items(items: Sequence[str | Path | Clip | EncodedClip], index: InterestIndex, *,
                  ocr: bool = True, asr: bool = True) -> list[Item]:
    """Clips as vectors: an id of the index, a media file, a Clip or an EncodedClip.

    A string is an index id when the index has it, else a file; anything else is refused
    with :class:`ConfigError` naming it.
    """
    out: list[Item | None] = [None] * len(items)
    ids: list[tuple[int, str]] = []
    to_encode: list[tuple[int, str, Clip]] = []
    for i, it in enumerate(items):
        if isinstance(it, EncodedClip):
            out[i] = Item(str(it.clip.id or f"clip {i + 1}"), it.fused, dict(it.blocks),
                          it.clip.caption, "file")
        elif isinstance(it, Clip):
            to_encode.append((i, str(it.id or (it.media[0] if it.media else f"clip {i + 1}")), it))
        elif isinstance(it, Path):
            to_encode.append((i, str(it), Clip.of(it, id=it.name)))
        else:
            ids.append((i, str(it)))
    if ids:
        known = _known_ids(index, [k for _, k in ids])
        for i, key in ids:
            if key in known:
                continue
            p = Path(key).expanduser()
            if p.exists():
                to_encode.append((i, key, Clip.of(p, id=p.name)))
            else:
                raise ConfigError(f"{key!r} is neither a clip id in the index nor a file: give "
                                  "ids from `interestmap nearest`/the map, or media files")
        keep = [(i, k) for i, k in ids if k in known]
        if keep:
            fused, blocks = index.store.get_clip_vectors([k for _, k in keep])
            payloads = {str(p.get("id")): p for p in index.store.get_clips([k for _, k in keep])}
            for row, (i, key) in enumerate(keep):
                bl = {b: (blocks[b][row] if np.any(blocks[b][row]) else None) for b in BLOCKS}
                out[i] = Item(key, fused[row], bl, str(payloads.get(key, {}).get("caption") or ""))
    if to_encode:
        enc = encoder_for(index, ocr=ocr, asr=asr)
        encoded, problems = enc.encode_many([c for _, _, c in to_encode], on_error="raise")
        for (i, key, _), e in zip(to_encode, encoded, strict=True):
            out[i] = Item(key, e.fused, dict(e.blocks), e.clip.caption, "file")
    return [o for o in out if o is not None]


def _known_ids(index: InterestIndex, keys: Sequence[str]) -> set[str]:
    try:
        found = index.store.get_clips(list(keys))
        return {str(p.get("id")) for p in found}
    except Exception:  # noqa: BLE001 - unknown ids are refused; look them up one by one
        known = set()
        for k in keys:
            try:
                if index.store.get_clips([k]):
                    known.add(k)
            except Exception:  # noqa: BLE001 - not an id of this index
                continue
        return known


def centroid(items: Sequence[Item], fuser: Fuser) -> np.ndarray:
    """Block-wise mean of the items' unit blocks, re-fused (missing blocks left out)."""
    blocks = {}
    for b in BLOCKS:
        vs = [np.asarray(it.blocks[b], dtype=np.float32) for it in items
              if it.blocks.get(b) is not None]
        blocks[b] = l2_normalize(np.mean([l2_normalize(v) for v in vs], axis=0)) if vs else None
    return fuser.transform([blocks])[0]


@dataclass
class Portrait:
    """Someone's interests, read from what they engaged with."""

    vector: np.ndarray
    audiences: list[dict[str, Any]]
    """Nearest audiences: weight (share of the engagement), mean similarity."""
    topics: list[dict[str, Any]]
    """Declared topics: weight (mean fused probability over the engaged clips)."""
    engaged: list[dict[str, Any]]
    x: float | None = None
    y: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"audiences": self.audiences, "topics": self.topics, "engaged": self.engaged,
                "map": {"x": self.x, "y": self.y}}


@dataclass
class MirrorReport:
    """A portrait and, if clips were given, the order a feed would show them in."""

    portrait: Portrait
    ranking: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"portrait": self.portrait.as_dict(), "ranking": self.ranking}


def portrait_of(engaged: Sequence[str | Path | Clip | EncodedClip], index: InterestIndex | str | Path | None = None, *,
                k: int = 5, ocr: bool = True, asr: bool = True) -> Portrait:
    """The interest portrait of the clips someone engaged with (ids of the index or files)."""
    index = resolve_index(index)
    if not engaged:
        raise ConfigError("no engaged clips given: pass the ids or files of clips someone "
                          "liked, watched or shared")
    items = resolve_items(engaged, index, ocr=ocr, asr=asr)
    return _portrait(items, index, k)


def _portrait(items: Sequence[Item], index: InterestIndex, k: int) -> Portrait:
    fuser = index.fuser
    vector = centroid(items, fuser)
    F = np.stack([it.fused for it in items])  # noqa: N806 (a matrix)
    space = topic_space(index)
    clf = index_classifier(index)
    per_clip = [space.score(it.blocks, index.layout.weights, clf) for it in items]
    have = [s for s in per_clip if s.top_index is not None]
    topics: list[dict[str, Any]] = []
    if have:
        w = np.mean([s.probabilities for s in have], axis=0)
        topics = [{"id": space.topics[i].id, "name": space.topics[i].name,
                   "weight": round(float(w[i]), 4)} for i in np.argsort(-w)[:k]]
    audiences = _audience_weights(F, index, k)
    engaged = []
    for it, s in zip(items, per_clip, strict=True):
        top = s.top
        engaged.append({"key": it.key, "source": it.source, "caption": it.caption,
                        "top_topic": None if top is None else {"id": top.id, "name": top.name}})
    xy = index.place(vector[None, :])[0] if np.any(vector) else (np.nan, np.nan)
    return Portrait(vector=vector, audiences=audiences, topics=topics, engaged=engaged,
                    x=None if not np.isfinite(xy[0]) else float(xy[0]),
                    y=None if not np.isfinite(xy[1]) else float(xy[1]))


def _audience_weights(F: np.ndarray, index: InterestIndex, k: int) -> list[dict[str, Any]]:  # noqa: N803
    """Audiences weighted by the engaged clips' mean membership probability (the index's
    clusterer), or by their share of nearest-audience similarity where no clip belongs."""
    auds = list(index.audiences)
    if not auds:
        return []
    cents = np.stack([a.centroid for a in auds])
    sims = index.fuser.similarity(F, cents)  # (n, A)
    view = index.fuser.text_view(F)
    proba = np.zeros_like(sims)
    ok = np.linalg.norm(view, axis=1) > 0
    if np.any(ok):
        raw = np.asarray(index.clusterer.predict_proba(view[ok]))
        col = {int(a): j for j, a in enumerate(getattr(index.clusterer, "audience_ids_",
                                                       range(len(auds))))}
        for j, a in enumerate(auds):
            if a.id in col and col[a.id] < raw.shape[1]:
                proba[ok, j] = raw[:, col[a.id]]
    weight = proba.mean(axis=0)
    basis = "membership"
    if weight.sum() <= 1e-9:
        top = np.zeros_like(sims)
        top[np.arange(len(sims)), sims.argmax(axis=1)] = 1.0
        weight, basis = top.mean(axis=0), "nearest"
    weight = weight / max(weight.sum(), 1e-12)
    order = np.argsort(-weight)[:k]
    return [{"id": auds[j].id, "label": auds[j].label, "weight": round(float(weight[j]), 4),
             "similarity": round(float(sims[:, j].mean()), 4), "basis": basis}
            for j in order if weight[j] > 0]


def rank_clips(portrait: Portrait, clips: Sequence[str | Path | Clip | EncodedClip],
               index: InterestIndex | str | Path | None = None, *, ocr: bool = True, asr: bool = True) -> list[dict[str, Any]]:
    """A creator's clips in the order the portrait would be shown them: similarity to the
    portrait, best first, with the blocks that earn it and each clip's top topic."""
    index = resolve_index(index)
    items = resolve_items(clips, index, ocr=ocr, asr=asr)
    return _rank(portrait, items, index)


CONTEXT_BLOCKS: tuple[str, ...] = ("language", "geo")


def feed_scores(F: np.ndarray, portrait: np.ndarray, fuser: Fuser  # noqa: N803
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``score = interest * reach`` of each row of ``F`` for a portrait vector.

    ``interest``: cosine of the content parts of the fused vectors (every block but
    language and geo, as weighted in the fused vector; a block only one side has adds
    nothing, so a clip sharing little with the portrait scores low). ``reach``:
    ``0.5 + 0.5 * c``, ``c`` the fusion-weighted mean cosine of the language and geo
    blocks both have (0.5 when they share neither): the language and place a platform
    uses to pick whose feed a clip reaches scale its score between half and full.
    Returns (score, interest, reach, per-block interest parts).
    """
    layout = fuser.layout_
    content = [b for b in BLOCKS if b not in CONTEXT_BLOCKS]
    parts = np.stack([F[:, layout.slices[b]] @ portrait[layout.slices[b]] for b in content], 1)
    norm_f = np.sqrt(sum(np.sum(F[:, layout.slices[b]] ** 2, axis=1) for b in content))
    norm_p = float(np.sqrt(sum(np.sum(portrait[layout.slices[b]] ** 2) for b in content)))
    denom = np.maximum(norm_f * norm_p, 1e-12)
    parts = parts / denom[:, None]
    interest = parts.sum(axis=1)
    sims = fuser.block_similarities(F, portrait[None, :])[:, 0, :]
    idx = [BLOCKS.index(b) for b in CONTEXT_BLOCKS]
    w = np.array([layout.weights[b] for b in CONTEXT_BLOCKS])
    ctx = sims[:, idx]
    shared = ~np.isnan(ctx)
    wsum = (shared * w).sum(axis=1)
    c = np.where(wsum > 0, (np.nan_to_num(ctx) * w).sum(axis=1) / np.maximum(wsum, 1e-12), 0.5)
    reach = 0.5 + 0.5 * np.clip(c, 0.0, 1.0)
    return interest * reach, interest, reach, parts


def _rank(portrait: Portrait, items: Sequence[Item], index: InterestIndex) -> list[dict[str, Any]]:
    if not items:
        return []
    F = np.stack([it.fused for it in items])  # noqa: N806
    score, interest, reach, parts = feed_scores(F, portrait.vector, index.fuser)
    content = [b for b in BLOCKS if b not in CONTEXT_BLOCKS]
    space = topic_space(index)
    clf = index_classifier(index)
    liked = {t["id"]: t["weight"] for t in portrait.topics}
    out = []
    for rank, i in enumerate(np.argsort(-score), start=1):
        it = items[i]
        s = space.score(it.blocks, index.layout.weights, clf)
        top = s.top
        contrib = {b: round(float(parts[i, j]), 4) for j, b in enumerate(content)
                   if abs(parts[i, j]) > 1e-6}
        best = [b for b in sorted(contrib, key=lambda b: -contrib[b])[:2] if contrib[b] > 0]
        why = ("matches on " + " and ".join(BLOCK_WORDS.get(b, b) for b in best)) if best \
            else "shares no content with what they engaged with"
        why += f"; reach {reach[i]:.2f} from language and place"
        out.append({
            "rank": rank, "key": it.key, "source": it.source, "caption": it.caption,
            "score": round(float(score[i]), 4), "interest": round(float(interest[i]), 4),
            "reach": round(float(reach[i]), 4), "interest_by_block": contrib,
            "top_topic": None if top is None else {"id": top.id, "name": top.name},
            "topic_weight_in_portrait": liked.get(top.id, 0.0) if top is not None else 0.0,
            "why": why,
        })
    return out


def mirror(engaged: Sequence[str | Path | Clip | EncodedClip],
           clips: Sequence[str | Path | Clip | EncodedClip] = (), index: InterestIndex | str | Path | None = None, *,
           account: str | None = None, filters: Mapping[str, Any] | None = None, k: int = 5,
           ocr: bool = True, asr: bool = True) -> MirrorReport:
    """The portrait of ``engaged`` and the ranking of ``clips`` (plus, with ``account``,
    every clip of that account in the index, the engaged ones left out)."""
    index = resolve_index(index)
    portrait = portrait_of(engaged, index, k=k, ocr=ocr, asr=asr)
    candidates: list[Any] = list(clips)
    if account is not None or filters:
        f = dict(filters or {})
        if account is not None:
            f["account"] = account
        engaged_keys = {e["key"] for e in portrait.engaged}
        found = [str(p.get("id")) for p in index.clips_frame(filters=f)]
        if not found and not candidates:
            raise ConfigError(f"the index has no clips of account {account!r}: check the name "
                              "(see `interestmap index info`)")
        candidates += [cid for cid in found if cid not in engaged_keys]
    ranking = rank_clips(portrait, candidates, index, ocr=ocr, asr=asr) if candidates else []
    return MirrorReport(portrait=portrait, ranking=ranking)
