"""Resolve an encoder name to one shared encoder object per process.

Names (case-insensitive prefixes, paths as given):

=====================================  ==============================================
text                                   ``use-m3+e5-small`` (default; alias ``use-e5``),
                                       ``use-m3``, ``e5-small``, ``minilm-l6``,
                                       ``st:NAME_OR_PATH`` (any sentence-transformers model)
image                                  ``efficientnet-lite0`` (default),
                                       ``open_clip:ARCH@CHECKPOINT`` where CHECKPOINT is a
                                       file or an open_clip pretrained tag;
                                       ``open_clip:ARCH`` takes the file from
                                       ``INTERESTMAP_OPENCLIP_CHECKPOINT``
audio                                  ``aisfx`` (default), ``clap:CHECKPOINT``,
                                       ``clap:AMODEL@CHECKPOINT``; ``clap`` alone takes
                                       the file from ``INTERESTMAP_CLAP_CHECKPOINT``
=====================================  ==============================================

``None`` takes ``INTERESTMAP_TEXT_ENCODER`` / ``INTERESTMAP_IMAGE_ENCODER`` /
``INTERESTMAP_AUDIO_ENCODER`` when set, else the defaults below.

Why these defaults:

- text ``use-m3+e5-small`` (``text_ensemble.py``): USE-multilingual-v3 and centred
  multilingual-e5-small side by side, the USE half dropped for languages USE does not
  know. ``benchmarks/topic_accuracy.py`` (2026-12-03; X-Topic test sets, 800 real tweets
  per language, 19 labels, top-1 macro-F1; and the held-out split of
  ``benchmarks/data/ml_topics.jsonl``, 8 topics, the same 32 sentences in 14 languages):

  ===========================================  ===========  ==========  ================
  measure                                      use-m3       e5-small    use-m3+e5-small
  ===========================================  ===========  ==========  ================
  X-Topic zero-shot (atlas) en / es            .40 / .34    .42 / .37   .44 / .40
  X-Topic zero-shot (atlas) gr / ja            .07 / .34    .27 / .33   .27 / .38
  X-Topic zero-shot (19 label names) en / ja   .35 / .30    .34 / .32   .39 / .36
  X-Topic trained on en, es / gr / ja          .32/.08/.34  .32/.28/.34 .36/.23/.37
  14 languages, zero-shot: en / mean others    .94 / .80    1.0 / .94   .97 / .96
  14 languages, zero-shot: worst language      .06 (el)     .84 (pt)    .91 (tr)
  14 languages, trained on en: worst language  .16 (el)     .94 (pt)    .97 (pt)
  same top topic as English (trained)          .92          .98         .998
  cos of two unrelated tweets: mean / std      .12 / .17    .80 / .03   .09 / .09
  caption -> its uk / el translation, rank-1   1.0 / 0.2    1.0 / 1.0   1.0 / 1.0
  ===========================================  ===========  ==========  ================

  The cosine of two ensemble vectors is the mean of the two encoders' cosines (an
  ensemble of scores), so it keeps USE's full-range cosines for the fused map (E5 alone
  sits in a narrow band: the caption would move the fused similarity about five times
  less than its weight says; centring it on a reference mean fixes that) and adds E5's
  ~100 languages. It costs E5's speed: 13-30 ms per caption batched on 2 cores, against
  ~1 ms for ``use-m3`` alone (``INTERESTMAP_TEXT_ENCODER=use-m3`` for large English or
  Romance-language corpora where speed matters more; an index remembers its encoder).
  ``minilm-l6`` is English only (others' mean .42 in the 14-language set).
- image ``efficientnet-lite0``: the only real image model that loads offline (ImageNet
  features and labels); open_clip is better where a checkpoint is available.
- audio ``aisfx``: the only real sound embedding that loads offline; CLAP needs a
  checkpoint the user provides.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import Any

from interestmap.encoders.base import AudioEncoder, ImageEncoder, TextEncoder
from interestmap.errors import ConfigError

DEFAULT_TEXT_ENCODER = "use-m3+e5-small"
DEFAULT_IMAGE_ENCODER = "efficientnet-lite0"
DEFAULT_AUDIO_ENCODER = "aisfx"

TEXT_ENV = "INTERESTMAP_TEXT_ENCODER"
IMAGE_ENV = "INTERESTMAP_IMAGE_ENCODER"
AUDIO_ENV = "INTERESTMAP_AUDIO_ENCODER"

TEXT_NAMES = ("use-m3+e5-small", "use-e5", "use-m3", "e5-small", "minilm-l6", "st:NAME_OR_PATH")
IMAGE_NAMES = ("efficientnet-lite0", "open_clip:ARCH@CHECKPOINT", "open_clip:ARCH")
AUDIO_NAMES = ("aisfx", "clap:CHECKPOINT", "clap:AMODEL@CHECKPOINT", "clap")

_cache: dict[tuple[str, str], Any] = {}
_lock = threading.Lock()


def _split_prefix(name: str) -> tuple[str, str]:
    """``"open_clip:ViT-B-32@/x.pt"`` -> ``("open_clip", "ViT-B-32@/x.pt")``."""
    head, sep, rest = name.partition(":")
    if not sep or len(head) < 2:  # "C:\\..." is a path, not a prefix
        return name.lower(), ""
    return head.strip().lower().replace("-", "_"), rest.strip()


def _split_at(spec: str) -> tuple[str, str | None]:
    """``"ViT-B-32@/x.pt"`` -> ``("ViT-B-32", "/x.pt")``; no ``@`` -> ``(spec, None)``."""
    if "@" in spec:
        left, right = spec.split("@", 1)
        return left.strip(), right.strip() or None
    return spec.strip(), None


def _build_text(name: str) -> TextEncoder:
    key = name.lower()
    if key in {"use-m3+e5-small", "use-e5", "use+e5"}:
        from interestmap.encoders.text_ensemble import UseE5Text

        return UseE5Text()
    if key in {"use-m3", "use", "usem3"}:
        from interestmap.encoders.text_use import UniversalSentenceEncoderText

        return UniversalSentenceEncoderText()
    if key in {"e5-small", "e5"}:
        from interestmap.encoders.text_e5 import E5SmallText

        return E5SmallText()
    if key in {"minilm-l6", "minilm"}:
        from interestmap.encoders.text_st import SentenceTransformerText

        return SentenceTransformerText()
    prefix, rest = _split_prefix(name)
    if prefix in {"st", "sentence_transformers"} and rest:
        from interestmap.encoders.text_st import SentenceTransformerText

        return SentenceTransformerText(rest)
    raise ConfigError(f"unknown text encoder '{name}'; valid: {', '.join(TEXT_NAMES)}")


def _build_image(name: str) -> ImageEncoder:
    key = name.lower()
    if key in {"efficientnet-lite0", "efficientnet"}:
        from interestmap.encoders.visual_efficientnet import EfficientNetLite0Image

        return EfficientNetLite0Image()
    prefix, rest = _split_prefix(name)
    if key in {"open_clip", "openclip", "clip"}:
        prefix, rest = "open_clip", ""
    if prefix in {"open_clip", "openclip"}:
        from interestmap.encoders.visual_openclip import OpenClipImage

        arch, ckpt = _split_at(rest) if rest else ("ViT-B-32", None)
        return OpenClipImage(model_name=arch or "ViT-B-32", pretrained=ckpt)
    raise ConfigError(f"unknown image encoder '{name}'; valid: {', '.join(IMAGE_NAMES)}")


def _build_audio(name: str) -> AudioEncoder:
    key = name.lower()
    if key == "aisfx":
        from interestmap.encoders.audio_aisfx import AisfxAudio

        return AisfxAudio()
    prefix, rest = _split_prefix(name)
    if key in {"clap", "laion_clap", "laion-clap"}:
        prefix, rest = "clap", ""
    if prefix in {"clap", "laion_clap"}:
        from interestmap.encoders.audio_clap import ClapAudio

        amodel, ckpt = _split_at(rest) if "@" in rest else ("HTSAT-tiny", rest or None)
        return ClapAudio(checkpoint=ckpt, amodel=amodel or "HTSAT-tiny")
    raise ConfigError(f"unknown audio encoder '{name}'; valid: {', '.join(AUDIO_NAMES)}")


def _get(kind: str, name: str | None, env: str, default: str,
         build: Callable[[str], Any]) -> Any:
    resolved = (name or os.environ.get(env) or default).strip()
    if not resolved:
        raise ConfigError(f"empty {kind} encoder name; valid: see interestmap.encoders.registry")
    key = (kind, resolved if ":" in resolved else resolved.lower())  # paths keep their case
    with _lock:
        if key not in _cache:
            _cache[key] = build(resolved)
        return _cache[key]


def get_text_encoder(name: str | None = None) -> TextEncoder:
    """The text encoder called ``name`` (or the configured default), shared per process."""
    return _get("text", name, TEXT_ENV, DEFAULT_TEXT_ENCODER, _build_text)


def get_image_encoder(name: str | None = None) -> ImageEncoder:
    """The image encoder called ``name`` (or the configured default), shared per process."""
    return _get("image", name, IMAGE_ENV, DEFAULT_IMAGE_ENCODER, _build_image)


def get_audio_encoder(name: str | None = None) -> AudioEncoder:
    """The audio encoder called ``name`` (or the configured default), shared per process."""
    return _get("audio", name, AUDIO_ENV, DEFAULT_AUDIO_ENCODER, _build_audio)
