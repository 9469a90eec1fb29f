"""The 2-D map: UMAP layout of real tweet vectors and stable placement of new clips."""

from __future__ import annotations

import os

import numpy as np
import pytest
from helpers.xtopic import xtopic

from interestmap.errors import ConfigError, IndexError_
from interestmap.learn.projection import MapProjector, exact_knn
from interestmap.learn.validation import NotFittedError


@pytest.fixture(scope="module")
def vectors(data):
    return xtopic(data, langs=("en", "es", "ja"), stop=200).vectors  # 600 x 512


@pytest.fixture(scope="module")
def fitted(vectors):
    """Map fitted on the first 500 tweets; the last 100 are new clips."""
    return MapProjector(random_state=7).fit(vectors[:500])


@pytest.mark.slow
def test_layout_shape_extent_and_fitted_points_sit_on_themselves(fitted, vectors):
    assert fitted.embedding_.shape == (500, 2)
    assert np.all(np.isfinite(fitted.embedding_))
    lo, hi = fitted.extent_
    assert np.all(fitted.embedding_ >= lo) and np.all(fitted.embedding_ <= hi)
    assert fitted.scale_ == pytest.approx(float(np.max(hi - lo)))
    # a clip identical to a fitted one is placed exactly on it
    np.testing.assert_array_equal(fitted.transform(vectors[:20]), fitted.embedding_[:20])


@pytest.mark.slow
def test_same_clip_alone_or_in_a_batch_of_100_lands_on_the_same_point(fitted, vectors):
    new = vectors[500:600]
    batch = fitted.transform(new)
    alone = np.concatenate([fitted.transform(new[i:i + 1]) for i in range(len(new))])
    assert batch.shape == (100, 2)
    assert np.max(np.abs(batch - alone)) <= 1e-3 * fitted.scale_
    # and in a differently composed batch (reversed, mixed with fitted points)
    mixed = fitted.transform(np.concatenate([vectors[:30], new[::-1]]))[30:][::-1]
    assert np.max(np.abs(mixed - batch)) <= 1e-3 * fitted.scale_


@pytest.mark.slow
def test_new_clips_land_next_to_their_nearest_fitted_neighbours(fitted, vectors):
    new = vectors[500:600]
    placed = fitted.transform(new)
    nn, _ = exact_knn(new, fitted.ref_data_, 5)
    to_nn = np.linalg.norm(placed[:, None] - fitted.embedding_[nn], axis=2).mean(1)
    rng = np.random.default_rng(0)
    others = fitted.embedding_[rng.integers(0, 500, (100, 5))]
    to_random = np.linalg.norm(placed[:, None] - others, axis=2).mean(1)
    # measured: 86 % of new clips sit closer to their 5 nearest fitted clips than to 5
    # random ones, at about half the distance (fitted clips themselves: 99 %)
    assert np.mean(to_nn < to_random) >= 0.75
    assert np.median(to_nn) < 0.75 * np.median(to_random)


@pytest.mark.slow
def test_fit_is_deterministic(vectors, fitted):
    again = MapProjector(random_state=7).fit(vectors[:500])
    np.testing.assert_array_equal(again.embedding_, fitted.embedding_)


@pytest.mark.slow
def test_save_and_load_place_points_identically(fitted, vectors, tmp_path):
    path = tmp_path / "maps" / "corpus.map"
    fitted.save(path)
    assert path.is_file()
    assert [p.name for p in path.parent.iterdir()] == ["corpus.map"]  # no temp file left
    loaded = MapProjector.load(path)
    np.testing.assert_array_equal(loaded.embedding_, fitted.embedding_)
    np.testing.assert_array_equal(loaded.extent_, fitted.extent_)
    np.testing.assert_array_equal(loaded.transform(vectors[500:]), fitted.transform(vectors[500:]))
    # overwriting is atomic too: the old file is replaced, not appended to
    fitted.save(path)
    assert os.path.getsize(path) > 0


@pytest.mark.slow
def test_subsample_fit_places_the_rest(vectors):
    proj = MapProjector(max_fit_points=300, random_state=3).fit(vectors[:500])
    assert proj.embedding_.shape == (500, 2)
    assert len(proj.fit_indices_) == 300 and len(set(proj.fit_indices_.tolist())) == 300
    rest = np.setdiff1d(np.arange(500), proj.fit_indices_)
    np.testing.assert_allclose(proj.embedding_[rest], proj.transform(vectors[rest]), atol=1e-5)
    lo, hi = proj.extent_
    assert np.all(proj.embedding_ >= lo) and np.all(proj.embedding_ <= hi)


def test_load_refuses_missing_and_foreign_files(tmp_path):
    with pytest.raises(IndexError_, match="no saved map"):
        MapProjector.load(tmp_path / "nothing.map")
    bad = tmp_path / "bad.map"
    bad.write_bytes(b"not a map")
    with pytest.raises(IndexError_, match="cannot be read|not a saved"):
        MapProjector.load(bad)


def test_unfitted_map_refuses_to_place():
    with pytest.raises(NotFittedError, match="not fitted"):
        MapProjector().transform(np.ones((1, 8)))
    with pytest.raises(NotFittedError, match="not fitted"):
        MapProjector().save("/tmp/never-written.map")


@pytest.mark.parametrize(("params", "name"), [
    ({"n_neighbors": 1}, "n_neighbors"), ({"n_components": 0}, "n_components"),
    ({"min_dist": -1.0}, "min_dist"), ({"max_fit_points": 2}, "max_fit_points"),
    ({"transform_epochs": -1}, "transform_epochs"), ({"random_state": "x"}, "random_state"),
])
def test_parameter_errors_name_the_parameter(params, name):
    X = np.random.default_rng(0).normal(size=(20, 8))
    with pytest.raises(ConfigError, match=name):
        MapProjector(**params).fit(X)


def test_bad_input_is_refused_with_a_clear_error():
    with pytest.raises(ConfigError, match="at least 5 clips"):
        MapProjector().fit(np.ones((3, 8)))
    X = np.ones((10, 8))
    X[2, 3] = np.nan
    with pytest.raises(ConfigError, match="NaN"):
        MapProjector().fit(X)


@pytest.mark.slow
def test_wrong_dimension_is_refused(fitted):
    with pytest.raises(ConfigError, match="512"):
        fitted.transform(np.ones((2, 384)))
