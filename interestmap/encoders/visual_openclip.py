"""open_clip (CLIP) image encoder with a text side, from a checkpoint the user provides.

No package registry ships CLIP weights, so the weights come from a local file
(``open_clip:ViT-B-32@/path/ckpt.pt`` or ``INTERESTMAP_OPENCLIP_CHECKPOINT``) or from an
open_clip pretrained tag (``open_clip:ViT-B-32@laion2b_s34b_b79k``), which is downloaded
only when ``INTERESTMAP_ALLOW_DOWNLOADS=1`` and otherwise must already be in the cache.
Images and texts land in one space, so ``encode_text`` compares captions with frames and
``class_probabilities`` labels frames zero-shot over the ImageNet-1k names.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from scipy.special import softmax

from interestmap._compat import (
    ALLOW_DOWNLOADS_ENV,
    downloads_allowed,
    ensure_torchvision,
    hub_offline,
)
from interestmap.encoders._images import to_pil_rgb
from interestmap.encoders._util import LazyModel, encode_in_batches, package_version, require
from interestmap.encoders.base import EncoderInfo, ImageEncoder
from interestmap.errors import ConfigError, ModelLoadError

CHECKPOINT_ENV = "INTERESTMAP_OPENCLIP_CHECKPOINT"
PROMPT = "a photo of a {}."
_WEIGHT_SUFFIXES = (".pt", ".pth", ".bin", ".safetensors", ".ckpt", ".npz")


def _open_clip() -> Any:
    ensure_torchvision()
    return require("open_clip", "open_clip_torch", "the open_clip image encoder")


def _looks_like_file(value: str) -> bool:
    return (os.sep in value or "/" in value or value.startswith(("~", "."))
            or value.lower().endswith(_WEIGHT_SUFFIXES))


def _how_to_set(model_name: str) -> str:
    return (f"set {CHECKPOINT_ENV} to a checkpoint file, or use the encoder name "
            f"open_clip:{model_name}@/path/to/checkpoint.pt")


class OpenClipImage(ImageEncoder):
    """An open_clip model (``model_name`` architecture, ``pretrained`` file or tag).

    ``pretrained=None`` takes the file named by ``INTERESTMAP_OPENCLIP_CHECKPOINT``.
    """

    def __init__(self, model_name: str = "ViT-B-32", pretrained: str | Path | None = None,
                 device: str = "cpu") -> None:
        self.model_name = model_name
        self.pretrained = None if pretrained is None else str(pretrained)
        self.device = device
        self._lock = threading.Lock()
        self._class_text: np.ndarray | None = None

    # Resolution ------------------------------------------------------------------------
    def resolved_pretrained(self) -> tuple[str, str]:
        """``("file", path)`` or ``("tag", tag)``; raises a clear error when neither is set."""
        value = self.pretrained or os.environ.get(CHECKPOINT_ENV, "").strip() or None
        if value is None:
            raise ModelLoadError(f"open_clip {self.model_name} has no weights on this machine: "
                                 f"{_how_to_set(self.model_name)}")
        path = Path(value).expanduser()
        if path.is_file():
            return "file", str(path)
        if _looks_like_file(value):
            raise ModelLoadError(f"no open_clip checkpoint file at {value}: check the path "
                                 f"({_how_to_set(self.model_name)})")
        oc = _open_clip()
        if not oc.get_pretrained_cfg(self.model_name, value):
            tags = list(oc.list_pretrained_tags_by_model(self.model_name))
            shown = ", ".join(tags[:6]) + (", ..." if len(tags) > 6 else "")
            raise ModelLoadError(
                f"'{value}' is neither a file nor an open_clip pretrained tag of "
                f"{self.model_name} (tags: {shown or 'none'})")
        return "tag", value

    def _config(self) -> dict[str, Any]:
        oc = _open_clip()
        cfg = oc.get_model_config(self.model_name)
        if cfg is None:
            raise ConfigError(f"unknown open_clip architecture '{self.model_name}'; e.g. "
                              f"ViT-B-32, ViT-B-16, ViT-L-14 (all: open_clip.list_models())")
        return cfg

    # Model ------------------------------------------------------------------------------
    @property
    def info(self) -> EncoderInfo:
        kind, value = self.resolved_pretrained()
        weights = Path(value).name if kind == "file" else value
        return EncoderInfo(name=f"open_clip:{self.model_name}",
                           version=f"{package_version('open_clip_torch')}/{self.model_name}/"
                                   f"{weights}",
                           dim=int(self._config()["embed_dim"]), modality="image")

    @property
    def dim(self) -> int:
        return int(self._config()["embed_dim"])

    @property
    def _bundle(self) -> tuple[Any, Any, Any]:
        kind, value = self.resolved_pretrained()
        return LazyModel.get(("open_clip", self.model_name, value, self.device),
                             lambda: self._load(kind, value))

    def _load(self, kind: str, value: str) -> tuple[Any, Any, Any]:
        oc = _open_clip()
        self._config()
        try:
            with hub_offline():
                try:
                    model, _, preprocess = oc.create_model_and_transforms(
                        self.model_name, pretrained=value, device=self.device)
                except RuntimeError as e:
                    if kind != "file" or "weights_only" not in str(e).lower():
                        raise
                    # full training checkpoints pickle more than tensors; the user gave it
                    model, _, preprocess = oc.create_model_and_transforms(
                        self.model_name, pretrained=value, device=self.device,
                        weights_only=False)
                tokenizer = oc.get_tokenizer(self.model_name)
        except Exception as e:
            if kind == "tag" and not downloads_allowed():
                raise ModelLoadError(
                    f"the open_clip weights {self.model_name}/{value} are not on this machine "
                    f"and downloads are off: set {ALLOW_DOWNLOADS_ENV}=1 to download them "
                    f"once, or {_how_to_set(self.model_name)}") from e
            raise ModelLoadError(
                f"could not load open_clip {self.model_name} from {value}: "
                f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}") from e
        model.eval()
        return model, preprocess, tokenizer

    # Encoding ---------------------------------------------------------------------------
    def preprocess(self, image: Any) -> Any:
        """The ``(3, S, S)`` tensor the model takes for one image (array, PIL image, path)."""
        return self._bundle[1](to_pil_rgb(image))

    def encode(self, items: Sequence[Any], *, batch_size: int = 32,
               show_progress: bool = False) -> np.ndarray:
        import torch

        model, preprocess, _ = self._bundle

        def run(chunk: Sequence[Any]) -> np.ndarray:
            x = torch.stack([preprocess(to_pil_rgb(im)) for im in chunk]).to(self.device)
            with self._lock, torch.inference_mode():
                return model.encode_image(x).float().cpu().numpy()

        return encode_in_batches(list(items), run, self.dim, batch_size, show_progress,
                                 f"open_clip:{self.model_name}")

    @property
    def has_text_side(self) -> bool:
        return True

    def encode_text(self, texts: Sequence[str], *, batch_size: int = 64,
                    show_progress: bool = False) -> np.ndarray:
        """Texts in the image space (unit rows), comparable with :meth:`encode`."""
        import torch

        model, _, tokenizer = self._bundle

        def run(chunk: Sequence[str]) -> np.ndarray:
            tokens = tokenizer([str(t or "") for t in chunk]).to(self.device)
            with self._lock, torch.inference_mode():
                return model.encode_text(tokens).float().cpu().numpy()

        return encode_in_batches(list(texts), run, self.dim, batch_size, show_progress,
                                 "open_clip text")

    # Zero-shot labels -------------------------------------------------------------------
    @property
    def class_names(self) -> list[str]:
        from open_clip.zero_shot_metadata import IMAGENET_CLASSNAMES

        return list(IMAGENET_CLASSNAMES)

    def _class_text_vectors(self) -> np.ndarray:
        if self._class_text is None:
            self._class_text = self.encode_text([PROMPT.format(n) for n in self.class_names])
        return self._class_text

    def class_probabilities(self, images: Sequence[Any]) -> np.ndarray:
        n_classes = len(self.class_names)
        if len(images) == 0:
            return np.zeros((0, n_classes), dtype=np.float32)
        model = self._bundle[0]
        scale = float(model.logit_scale.exp().item())
        logits = scale * (self.encode(images) @ self._class_text_vectors().T)
        return softmax(logits, axis=1).astype(np.float32)

    def __repr__(self) -> str:
        return f"OpenClipImage({self.model_name!r}, pretrained={self.pretrained!r})"
