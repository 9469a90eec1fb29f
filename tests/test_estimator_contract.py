"""The scikit-learn contract of our estimators, and estimators passed as objects.

``parametrize_with_checks`` runs scikit-learn's own estimator checks on the learn/
estimators (small random data, seconds). :class:`TopicClassifier` takes texts, so the
checks do not apply to it; explicit tests cover what they would (clone, Pipeline,
GridSearchCV, get/set_params, NotFittedError, fit leaves parameters alone) on real posts.
"""

from __future__ import annotations

import json
import pickle

import hdbscan
import numpy as np
import pytest
import umap
from helpers.xtopic import xtopic
from sklearn.base import clone
from sklearn.cluster import KMeans
from sklearn.decomposition import PCA
from sklearn.exceptions import NotFittedError as SklearnNotFittedError
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer
from sklearn.utils.estimator_checks import parametrize_with_checks

from interestmap.errors import ConfigError, InterestmapError
from interestmap.learn.clusters import AudienceClusterer, as_audience_clusterer
from interestmap.learn.labels import LabelAudiences
from interestmap.learn.projection import MapProjector, as_map_projector
from interestmap.learn.validation import NotFittedError
from interestmap.topics.classifier import TopicClassifier

# --- scikit-learn's own checks on the learn/ estimators ----------------------------------

def _expected_failures(estimator: object) -> dict[str, str]:
    if isinstance(estimator, LabelAudiences):
        return {"check_clustering": "audiences given by labels need y; this check fits "
                                    "without labels"}
    return {}


@parametrize_with_checks([
    LabelAudiences(),
    AudienceClusterer(reduction="none"),
    AudienceClusterer(reduction="pca"),
    AudienceClusterer(reduction="none", hdbscan_model=hdbscan.HDBSCAN(min_cluster_size=4)),
    MapProjector(n_neighbors=5, transform_epochs=10),
    MapProjector(umap_model=umap.UMAP(n_neighbors=5, n_epochs=50), transform_epochs=10),
], expected_failed_checks=_expected_failures)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


def test_not_fitted_error_is_sklearns_and_ours_in_one_line():
    for est, call in ((AudienceClusterer(), "predict"), (MapProjector(), "transform"),
                      (LabelAudiences(), "predict"), (TopicClassifier(), "predict")):
        with pytest.raises(SklearnNotFittedError) as info:
            getattr(est, call)(np.ones((1, 8)))
        assert isinstance(info.value, NotFittedError) and isinstance(info.value, InterestmapError)
        assert type(est).__name__ in str(info.value) and "\n" not in str(info.value)


def test_config_error_is_a_value_error_naming_the_parameter():
    with pytest.raises(ValueError, match="min_dist"):
        MapProjector(min_dist=-1.0).fit(np.random.default_rng(0).normal(size=(20, 4)))
    with pytest.raises(ConfigError, match="temperature"):
        LabelAudiences(temperature=0).fit(np.ones((4, 3)), ["a", "b", "a", "b"])


# --- estimators passed as objects (BERTopic's umap_model= / hdbscan_model=) ---------------

@pytest.fixture(scope="module")
def small(data):
    return xtopic(data, langs=("en", "es"), stop=60)  # real USE-m3 tweet vectors


def test_hdbscan_model_settings_are_used_and_it_is_not_fitted(small):
    h = hdbscan.HDBSCAN(min_cluster_size=7, min_samples=2, cluster_selection_method="eom",
                        cluster_selection_epsilon=0.05)
    c = AudienceClusterer(reduction="pca", hdbscan_model=h).fit(small.vectors)
    assert (c.hdbscan_.min_cluster_size, c.hdbscan_.min_samples) == (7, 2)
    assert c.hdbscan_.cluster_selection_method == "eom"
    assert c.hdbscan_.cluster_selection_epsilon == 0.05
    assert c.min_cluster_size_ == 7 and c.hdbscan_.prediction_data
    assert not hasattr(h, "labels_")  # the user's object is a recipe, left unfitted
    assert c.get_params()["hdbscan_model"] is h
    assert c.get_params(deep=True)["hdbscan_model__min_cluster_size"] == 7
    # soft membership and the outlier policy still come from AudienceClusterer
    assert c.predict_proba(small.vectors[:3]).shape == (3, c.n_audiences_)
    assert c.outlier_share_ <= c.raw_outlier_share_


def test_umap_model_settings_are_used_and_it_is_not_fitted(small):
    u = umap.UMAP(n_neighbors=8, min_dist=0.3, n_epochs=60, metric="euclidean", random_state=3)
    p = MapProjector(umap_model=u).fit(small.vectors)
    assert p.n_neighbors_ == 8 and p.metric_ == "euclidean" and p.random_state_ == 3
    assert p.umap_params_["min_dist"] == 0.3 and p.umap_params_["n_epochs"] == 60
    assert p.embedding_.shape == (len(small.vectors), 2)
    assert not hasattr(u, "embedding_")
    # new clips are still placed one by one: alone == in a batch
    batch = p.transform(small.vectors[:10])
    alone = np.concatenate([p.transform(small.vectors[i:i + 1]) for i in range(10)])
    np.testing.assert_allclose(batch, alone, atol=1e-3 * p.scale_)


def test_only_the_accepted_models_are_taken():
    with pytest.raises(ConfigError, match=r"hdbscan\.HDBSCAN.*AudienceClusterer.*KMeans"):
        as_audience_clusterer(KMeans())
    with pytest.raises(ConfigError, match=r"umap\.UMAP.*MapProjector.*PCA"):
        as_map_projector(PCA())
    with pytest.raises(ConfigError, match="not both"):
        as_audience_clusterer(hdbscan.HDBSCAN(), min_cluster_size=5)
    with pytest.raises(ConfigError, match="2 dimensions"):
        as_map_projector(umap.UMAP(n_components=3))
    with pytest.raises(ConfigError, match="hdbscan_model must be"):
        AudienceClusterer(hdbscan_model=KMeans()).fit(np.random.default_rng(0).random((20, 4)))
    with pytest.raises(ConfigError, match="umap_model must be"):
        MapProjector(umap_model=PCA()).fit(np.random.default_rng(0).random((20, 4)))
    own = AudienceClusterer(min_cluster_size=9)
    made = as_audience_clusterer(own)
    assert made is not own and made.get_params() == own.get_params()
    assert as_audience_clusterer(hdbscan.HDBSCAN(min_cluster_size=6)).hdbscan_model \
        .min_cluster_size == 6
    assert as_map_projector(umap.UMAP(n_neighbors=4)).umap_model.n_neighbors == 4


def test_a_projector_pickled_before_metric_and_umap_model_still_places(small):
    p = MapProjector(n_neighbors=5, transform_epochs=10).fit(small.vectors)
    state = dict(p.__getstate__())
    for key in ("metric", "umap_model", "metric_", "random_state_"):
        del state[key]
    old = pickle.loads(pickle.dumps(p))
    old.__dict__.clear()
    old.__setstate__(state)
    np.testing.assert_array_equal(old.transform(small.vectors[:5]), p.transform(small.vectors[:5]))
    assert old.get_params()["umap_model"] is None


@pytest.mark.slow
def test_build_index_takes_an_hdbscan_and_a_umap_object(data, tmp_path):
    from interestmap.index.build import build_index

    rows = []
    for lang in ("en", "es"):
        with open(data / "xtopic" / lang / f"{lang}_1000.jsonl", encoding="utf-8") as f:
            for i, line in zip(range(20), f, strict=False):
                rows.append({"id": f"{lang}-{i}", "caption": json.loads(line)["text"]})
    manifest = tmp_path / "clips.jsonl"
    manifest.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows),
                        encoding="utf-8")
    with pytest.raises(ConfigError, match="audience_model"):
        build_index(manifest, tmp_path / "never", audience_model=KMeans())
    build_index(manifest, tmp_path / "index",
                audience_model=hdbscan.HDBSCAN(min_cluster_size=4, min_samples=2),
                map_model=umap.UMAP(n_neighbors=6, min_dist=0.2))
    from interestmap.index.interest_index import InterestIndex

    with InterestIndex.open(tmp_path / "index") as idx:
        clusterer, projector = idx.clusterer, idx.projector
    assert isinstance(clusterer, AudienceClusterer)
    assert (clusterer.hdbscan_.min_cluster_size, clusterer.hdbscan_.min_samples) == (4, 2)
    assert isinstance(projector, MapProjector)
    assert projector.n_neighbors_ == 6 and projector.umap_params_["min_dist"] == 0.2
    assert projector.random_state_ == 0  # UMAP's random_state=None: the index's seed


# --- TopicClassifier: the contract, explicitly --------------------------------------------

@pytest.fixture(scope="module")
def posts(data):
    """English X-Topic posts about exactly one of three topics (30 each), and vectors."""
    from interestmap.encoders.registry import get_text_encoder

    texts, labels = [], []
    with open(data / "xtopic" / "en" / "en_1000.jsonl", encoding="utf-8") as f:
        for line in f:
            r = json.loads(line)
            mine = [t for t in r["topics"] if t in ("Sports", "Music", "Food & Dining")]
            if len(mine) == 1 and labels.count(mine[0]) < 30:
                texts.append(r["text"])
                labels.append(mine[0])
    enc = get_text_encoder("use-m3")
    return texts, np.array(labels, dtype=object), enc.encode(texts), enc


def _lower(texts):
    return [t.lower() for t in texts]


def test_classifier_clone_and_params_round_trip(posts):
    *_, enc = posts
    clf = TopicClassifier(C=2.0, blend=0.3, cv=3, text_encoder=enc)
    copy = clone(clf)
    assert copy is not clf and copy.get_params() == clf.get_params()
    assert copy.text_encoder is enc  # a loaded model is shared, not deep-copied
    assert copy.set_params(C=0.5) is copy and copy.C == 0.5 and clf.C == 2.0
    assert TopicClassifier(**clf.get_params()).get_params() == clf.get_params()
    assert "C=2.0" in repr(clf)


def test_classifier_fit_returns_self_and_leaves_its_parameters_alone(posts):
    texts, labels, vecs, enc = posts
    for te in ("use-m3", enc):
        clf = TopicClassifier(cv=3, text_encoder=te)
        before = clf.get_params()
        assert clf.fit(texts[:40], labels[:40]) is clf
        after = clf.get_params()
        assert after.keys() == before.keys()
        assert all(after[k] is before[k] for k in before)  # C stays None, text_encoder as given
        assert clf.C_ > 0 and clf.classes_.tolist() == sorted(set(labels[:40]))
    with pytest.raises(NotFittedError, match="TopicClassifier is not fitted"):
        TopicClassifier(text_encoder=enc).predict_proba(vecs[:2])


@pytest.mark.parametrize(("params", "name"), [
    ({"C": 0}, "C"), ({"C": "big"}, "C"), ({"blend": 1.5}, "blend"), ({"cv": -1}, "cv"),
    ({"max_iter": 0}, "max_iter"), ({"class_weight": "heavy"}, "class_weight"),
    ({"random_state": -2}, "random_state"), ({"text_encoder": 42}, "text_encoder"),
])
def test_classifier_parameters_are_checked_at_fit(params, name):
    clf = TopicClassifier(**params)  # __init__ only stores
    assert clf.get_params()[next(iter(params))] == next(iter(params.values()))
    with pytest.raises(ConfigError, match=name):
        clf.fit(np.ones((4, 512)), ["a", "b", "a", "b"])


def test_classifier_in_a_pipeline_and_a_grid_search_over_c(posts):
    texts, labels, vecs, enc = posts
    pipe = Pipeline([("clean", FunctionTransformer(_lower)),
                     ("clf", TopicClassifier(C=3.0, cv=0, text_encoder=enc))])
    pipe.fit(texts, labels)
    assert set(pipe.predict(texts[:5])) <= set(labels)
    assert pipe.score(texts, labels) > 0.6  # three topics: chance is about 0.33
    search = GridSearchCV(TopicClassifier(cv=0, text_encoder=enc), {"C": [0.01, 3.0]}, cv=3)
    search.fit(vecs, labels)
    assert search.best_params_["C"] in (0.01, 3.0)
    assert search.best_params_["C"] == search.best_estimator_.C_
    assert search.best_estimator_.text_encoder is enc
    assert search.score(vecs, labels) > 0.6


def test_classifier_pickles_with_its_encoder_name(posts, tmp_path):
    texts, labels, vecs, enc = posts
    clf = TopicClassifier(C=3.0, cv=0, text_encoder=enc).fit(vecs, labels)
    again = TopicClassifier.load(clf.save(tmp_path / "clf.joblib"))
    assert again.text_encoder == "use-m3"
    assert clf.text_encoder is enc  # saving does not change the object saved
    np.testing.assert_allclose(again.predict_proba(vecs[:5]), clf.predict_proba(vecs[:5]))
