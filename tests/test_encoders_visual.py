"""EfficientNet-Lite0 features and the visual-semantics bridge on real scene photos
(its zero-shot accuracy is in tests/quality/test_encoders_quality.py)."""

from __future__ import annotations

import numpy as np
import pytest
from helpers.scenes import FOLDERS, scene_images

from interestmap.encoders.registry import get_text_encoder
from interestmap.encoders.semantics import VisualSemantics, readable_class_names
from interestmap.encoders.visual_efficientnet import EfficientNetLite0Image
from interestmap.errors import ConfigError, MediaError


def _same_vs_different(vecs: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    sims = vecs @ vecs.T
    same = labels[:, None] == labels[None, :]
    np.fill_diagonal(same, False)
    different = labels[:, None] != labels[None, :]
    return float(sims[same].mean()), float(sims[different].mean())


@pytest.fixture(scope="module")
def scenes(data):
    return scene_images(data, per_folder=15)


@pytest.mark.slow
def test_photos_of_one_scene_are_closer_than_photos_of_different_scenes(image_encoder, scenes):
    images, labels = scenes
    vecs = image_encoder.encode(images)
    assert vecs.shape == (len(images), 1280) and vecs.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)
    same, different = _same_vs_different(vecs, labels)
    assert same > different + 0.05, (same, different)
    # each folder on its own: its photos are closer to each other than to the rest
    for i, folder in enumerate(FOLDERS):
        mine = labels == i
        within = (vecs[mine] @ vecs[mine].T)[~np.eye(mine.sum(), dtype=bool)].mean()
        across = (vecs[mine] @ vecs[~mine].T).mean()
        assert within > across, folder


@pytest.mark.slow
def test_class_probabilities_name_what_the_photo_shows(image_encoder, scenes):
    images, labels = scenes
    probs = image_encoder.class_probabilities(images)
    assert probs.shape == (len(images), 1000)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-4)
    names = image_encoder.class_names
    sea_top = {names[j] for j in probs[labels == FOLDERS.index("sea")].argmax(axis=1)}
    assert sea_top & {"seashore", "promontory", "sandbar", "lakeside", "breakwater"}, sea_top


@pytest.mark.slow
def test_encode_and_probabilities_agree_with_a_fresh_forward_pass(image_encoder, scenes):
    images, _ = scenes
    cached = image_encoder.encode(images[:4])
    fresh = EfficientNetLite0Image(cache_size=0).encode(images[:4][::-1])[::-1]
    np.testing.assert_allclose(cached, fresh, atol=1e-5)


@pytest.mark.slow
def test_odd_images_are_preprocessed(image_encoder):
    rng = np.random.default_rng(0)
    odd = [
        rng.integers(0, 256, (37, 500, 3), dtype=np.uint8),   # wide strip
        rng.integers(0, 256, (64, 48), dtype=np.uint8),       # greyscale
        rng.integers(0, 256, (90, 90, 4), dtype=np.uint8),    # RGBA
        rng.random((33, 33, 3)),                              # float in [0, 1]
        np.zeros((1, 1, 3), dtype=np.uint8),                  # single pixel
    ]
    for img in odd:
        x = image_encoder.preprocess(img)
        assert x.shape == (3, 224, 224) and x.dtype == np.float32
        assert x.min() >= -1.0 and x.max() <= 1.0
    vecs = image_encoder.encode(odd)
    assert vecs.shape == (5, 1280)
    assert np.all(np.isfinite(vecs))
    grey = rng.integers(0, 256, (50, 50), dtype=np.uint8)
    np.testing.assert_allclose(image_encoder.encode([grey]),
                               image_encoder.encode([np.stack([grey] * 3, axis=-1)]), atol=1e-6)
    with pytest.raises(MediaError):
        image_encoder.encode([np.zeros((0, 10, 3), dtype=np.uint8)])
    with pytest.raises(MediaError):
        image_encoder.encode([np.zeros((10, 10, 7), dtype=np.uint8)])
    assert image_encoder.encode([]).shape == (0, 1280)


@pytest.mark.slow
def test_semantics_vectors_group_scenes(semantics, scenes):
    images, labels = scenes
    vecs = semantics.encode(images)
    assert vecs.shape == (len(images), semantics.text_encoder.info.dim)
    np.testing.assert_allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)
    same, different = _same_vs_different(vecs, labels)
    assert same > different + 0.05, (same, different)


@pytest.mark.slow
def test_semantics_describe_and_info(semantics, scenes):
    images, labels = scenes
    described = semantics.describe(images[:2], k=3)
    assert len(described) == 2 and all(len(d) == 3 for d in described)
    assert all(isinstance(n, str) and 0 <= p <= 1 for d in described for n, p in d)
    assert described[0][0][1] >= described[0][1][1] >= described[0][2][1]
    info = semantics.info
    assert info.dim == semantics.text_encoder.info.dim
    assert "efficientnet-lite0" in info.name and semantics.text_encoder.info.name in info.name


def test_readable_names_keep_imagenet_order():
    from interestmap.encoders.visual_efficientnet import imagenet_class_names

    tv = imagenet_class_names()
    plain = readable_class_names(tv)
    assert len(plain) == 1000
    # same classes in the same order, said plainly
    for i, raw, readable in [(0, "tench", "tench"), (517, "crane", "construction crane"),
                             (978, "seashore", "beach"), (970, "alp", "mountain")]:
        assert (tv[i], plain[i]) == (raw, readable)
    assert readable_class_names(["cat", "dog"]) == ["cat", "dog"]


def test_semantics_needs_an_image_encoder_that_labels():
    class NoLabels(EfficientNetLite0Image):
        @property
        def class_names(self):
            return None

    with pytest.raises(ConfigError):
        VisualSemantics(NoLabels(), get_text_encoder("use-m3"))
    with pytest.raises(ConfigError):
        VisualSemantics(EfficientNetLite0Image(), get_text_encoder("use-m3"), top_k=0)
