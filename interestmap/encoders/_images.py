"""Turn whatever image a caller holds into a PIL RGB image, with one clear error if it is bad."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from interestmap.errors import MediaError


def to_pil_rgb(image: Any) -> Any:
    """A PIL RGB image from an ``(H, W)``, ``(H, W, 1|3|4)`` array, a PIL image or a path.

    Arrays may be uint8 (0-255) or float (0-1, or 0-255 when any value is above 1).
    Transparent pixels (RGBA) are laid over white, as a viewer shows them.
    """
    from PIL import Image

    if isinstance(image, str | Path):
        try:
            with Image.open(image) as im:
                image = im.copy()
        except (OSError, ValueError) as e:
            raise MediaError(f"cannot read the image {image}: {e}") from e
    if isinstance(image, Image.Image):
        if image.width == 0 or image.height == 0:
            raise MediaError("an image is empty (0 pixels wide or high)")
        if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and
                                                  "transparency" in image.info):
            rgba = image.convert("RGBA")
            canvas = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
            return Image.alpha_composite(canvas, rgba).convert("RGB")
        return image.convert("RGB")
    arr = np.asarray(image)
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[2] not in (3, 4)):
        raise MediaError(f"an image has shape {arr.shape}; expected (height, width) or "
                         "(height, width, 3 or 4 channels)")
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise MediaError("an image is empty (0 pixels wide or high)")
    if arr.dtype != np.uint8:
        a = np.nan_to_num(arr.astype(np.float32))
        if a.size and a.max() <= 1.0:
            a = a * 255.0
        arr = np.clip(np.rint(a), 0, 255).astype(np.uint8)
    # uint8 (H, W) / (H, W, 3) / (H, W, 4) map to L / RGB / RGBA
    return to_pil_rgb(Image.fromarray(np.ascontiguousarray(arr)))


def center_crop_resize(img: Any, size: int, crop_fraction: float = 1.0) -> Any:
    """The central square (``crop_fraction`` of the shorter side), resized to ``size``."""
    from PIL import Image

    w, h = img.size
    side = max(1.0, min(w, h) * crop_fraction)
    box = ((w - side) / 2, (h - side) / 2, (w + side) / 2, (h + side) / 2)
    return img.resize((size, size), Image.BICUBIC, box=box)
