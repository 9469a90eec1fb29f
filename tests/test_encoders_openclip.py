"""open_clip plumbing with a tiny randomly initialised model (shapes and logic, never quality)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from interestmap.encoders.registry import get_image_encoder, get_text_encoder
from interestmap.encoders.semantics import VisualSemantics
from interestmap.encoders.visual_openclip import CHECKPOINT_ENV, OpenClipImage
from interestmap.errors import ConfigError, ModelLoadError

TINY = "interestmap-test-tiny-clip"
TINY_CONFIG = {
    "embed_dim": 32,
    "vision_cfg": {"image_size": 64, "layers": 1, "width": 32, "patch_size": 16,
                   "head_width": 16},
    "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 32, "heads": 2,
                 "layers": 1},
}


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory) -> Path:
    import torch

    from interestmap._compat import ensure_torchvision

    ensure_torchvision()
    import open_clip

    folder = tmp_path_factory.mktemp("open_clip")
    (folder / f"{TINY}.json").write_text(json.dumps(TINY_CONFIG))
    open_clip.add_model_config(folder / f"{TINY}.json")
    torch.manual_seed(0)
    model = open_clip.create_model(TINY, pretrained=None)
    path = folder / "tiny.pt"
    torch.save(model.state_dict(), path)
    return path


@pytest.fixture(scope="module")
def tiny(tiny_checkpoint) -> OpenClipImage:
    return OpenClipImage(TINY, pretrained=str(tiny_checkpoint))


@pytest.mark.slow
def test_images_of_any_shape_become_unit_vectors(tiny):
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 256, (37, 500, 3), dtype=np.uint8),   # wide strip
              rng.integers(0, 256, (64, 48), dtype=np.uint8),       # greyscale
              rng.integers(0, 256, (90, 90, 4), dtype=np.uint8),    # RGBA
              rng.random((20, 20, 3))]                              # float in [0, 1]
    for img in images:
        assert tuple(tiny.preprocess(img).shape) == (3, 64, 64)
    vecs = tiny.encode(images, batch_size=3)
    assert vecs.shape == (4, 32) and vecs.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(tiny.encode(images[1:2]), vecs[1:2], atol=1e-5)
    assert tiny.encode([]).shape == (0, 32)


@pytest.mark.slow
def test_text_side_and_zero_shot_labels(tiny):
    assert tiny.has_text_side
    texts = tiny.encode_text(["a dog on a beach", "a city street at night", ""])
    assert texts.shape == (3, 32)
    np.testing.assert_allclose(np.linalg.norm(texts, axis=1), 1.0, atol=1e-5)
    assert not np.allclose(texts[0], texts[1])
    assert len(tiny.class_names) == 1000
    img = np.full((48, 48, 3), 200, dtype=np.uint8)
    probs = tiny.class_probabilities([img, img[:, :10]])
    assert probs.shape == (2, 1000)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-4)
    sem = VisualSemantics(tiny, get_text_encoder("use-m3"))
    assert sem.encode([img]).shape == (1, sem.info.dim)


@pytest.mark.slow
def test_info_names_architecture_and_weights(tiny):
    info = tiny.info
    assert info.name == f"open_clip:{TINY}" and info.dim == 32 and info.modality == "image"
    assert "tiny.pt" in info.version


def test_missing_checkpoint_names_the_settings(monkeypatch, tmp_path):
    monkeypatch.delenv(CHECKPOINT_ENV, raising=False)
    with pytest.raises(ModelLoadError) as err:
        OpenClipImage("ViT-B-32").encode([np.zeros((8, 8, 3), np.uint8)])
    assert CHECKPOINT_ENV in str(err.value) and "open_clip:ViT-B-32@" in str(err.value)
    with pytest.raises(ModelLoadError, match="no open_clip checkpoint file"):
        OpenClipImage("ViT-B-32", pretrained=tmp_path / "missing.pt").info  # noqa: B018
    monkeypatch.setenv(CHECKPOINT_ENV, str(tmp_path / "also-missing.pt"))
    with pytest.raises(ModelLoadError, match="no open_clip checkpoint file"):
        get_image_encoder("open_clip:ViT-B-32").resolved_pretrained()


@pytest.mark.slow
def test_pretrained_tag_offline_and_unknown_values(monkeypatch):
    monkeypatch.delenv("INTERESTMAP_ALLOW_DOWNLOADS", raising=False)
    with pytest.raises(ModelLoadError, match="INTERESTMAP_ALLOW_DOWNLOADS"):
        OpenClipImage("ViT-B-32", pretrained="laion2b_s34b_b79k").encode(
            [np.zeros((8, 8, 3), np.uint8)])
    with pytest.raises(ModelLoadError, match="neither a file nor an open_clip pretrained tag"):
        OpenClipImage("ViT-B-32", pretrained="not-a-tag").resolved_pretrained()
    with pytest.raises(ConfigError, match="unknown open_clip architecture"):
        OpenClipImage("ViT-Z-99", pretrained="x").dim  # noqa: B018


@pytest.mark.slow
def test_checkpoint_for_another_architecture_is_refused(tiny_checkpoint):
    with pytest.raises(ModelLoadError, match="could not load open_clip"):
        OpenClipImage("RN50", pretrained=str(tiny_checkpoint)).encode(
            [np.zeros((8, 8, 3), np.uint8)])
