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

Why these defaults (``benchmarks/text_encoders.py``: X-Topic tweets in en/es/gr/ja, 800
test posts per language, 19 topics; 20 captions with ru/it/pt translations):

- text ``use-m3``. Against ``e5-small`` (multilingual-e5-small) and ``minilm-l6``:

  ======================================  =======  ========  =========
  measure                                 use-m3   e5-small  minilm-l6
  ======================================  =======  ========  =========
  caption -> translation, rank-1 ru/it/pt 1.0      1.0       0.15-0.65
  translation cos - unrelated cos         0.69     0.14      0.01-0.17
  topic LR macro-F1, within language      0.297    0.317     0.252
  topic LR macro-F1, trained on English   0.270    0.280     0.153
  zero-shot topic P@1 (topic names)       0.341    0.443     0.240
  Greek (not a USE language): P@1 / LR-en 0.15/.06 0.42/.25  0.07/.03
  cos of two unrelated tweets: mean / std 0.12/.16 0.80/.03  0.16/.21
  ms per caption (short), 2 busy cores    8        82        52
  ======================================  =======  ========  =========

  USE matches captions across its 16 languages perfectly and its cosines use the whole
  range (unrelated posts ~0.1, translations ~0.8), which is what the fused map needs:
  fusion weighs each block's cosine, and e5's cosines sit in a narrow band (two tweets:
  0.80 +- 0.03; caption vs translation ~0.92), so with e5 the caption would move the
  fused similarity about five times less than its weight says. USE is also about ten times faster.
  e5-small is the better choice for posts in languages USE lacks (Greek, Ukrainian,
  Hindi, ...) and matches topic *names* better; select it with
  ``INTERESTMAP_TEXT_ENCODER=e5-small`` (an index remembers its encoder).
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

from ..errors import ConfigError
from .base import AudioEncoder, ImageEncoder, TextEncoder

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
        from .text_ensemble import UseE5Text

        return UseE5Text()
    if key in {"use-m3", "use", "usem3"}:
        from .text_use import UniversalSentenceEncoderText

        return UniversalSentenceEncoderText()
    if key in {"e5-small", "e5"}:
        from .text_e5 import E5SmallText

        return E5SmallText()
    if key in {"minilm-l6", "minilm"}:
        from .text_st import SentenceTransformerText

        return SentenceTransformerText()
    prefix, rest = _split_prefix(name)
    if prefix in {"st", "sentence_transformers"} and rest:
        from .text_st import SentenceTransformerText

        return SentenceTransformerText(rest)
    raise ConfigError(f"unknown text encoder '{name}'; valid: {', '.join(TEXT_NAMES)}")


def _build_image(name: str) -> ImageEncoder:
    key = name.lower()
    if key in {"efficientnet-lite0", "efficientnet"}:
        from .visual_efficientnet import EfficientNetLite0Image

        return EfficientNetLite0Image()
    prefix, rest = _split_prefix(name)
    if key in {"open_clip", "openclip", "clip"}:
        prefix, rest = "open_clip", ""
    if prefix in {"open_clip", "openclip"}:
        from .visual_openclip import OpenClipImage

        arch, ckpt = _split_at(rest) if rest else ("ViT-B-32", None)
        return OpenClipImage(model_name=arch or "ViT-B-32", pretrained=ckpt)
    raise ConfigError(f"unknown image encoder '{name}'; valid: {', '.join(IMAGE_NAMES)}")


def _build_audio(name: str) -> AudioEncoder:
    key = name.lower()
    if key == "aisfx":
        from .audio_aisfx import AisfxAudio

        return AisfxAudio()
    prefix, rest = _split_prefix(name)
    if key in {"clap", "laion_clap", "laion-clap"}:
        prefix, rest = "clap", ""
    if prefix in {"clap", "laion_clap"}:
        from .audio_clap import ClapAudio

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
