"""Real scene photos (``scenes/`` of the shared data) as arrays, with their scene."""

from __future__ import annotations

from pathlib import Path

import numpy as np

FOLDERS = ("buildings", "forest", "glacier", "mountain", "sea", "street")


def scene_images(data: Path, per_folder: int, offset: int = 0) -> tuple[list[np.ndarray], np.ndarray]:
    from PIL import Image

    images, labels = [], []
    for i, folder in enumerate(FOLDERS):
        files = sorted((data / "scenes" / folder).glob("*.jpg"))[offset:offset + per_folder]
        assert len(files) == per_folder, f"expected {per_folder} photos in scenes/{folder}"
        for f in files:
            with Image.open(f) as im:
                images.append(np.asarray(im.convert("RGB")))
            labels.append(i)
    return images, np.array(labels)
