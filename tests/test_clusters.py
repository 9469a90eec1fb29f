"""Audiences on real multilingual tweets: outlier policy, stable prediction, parameters.

Their quality (NMI, purity, languages sharing audiences) is in
tests/quality/test_clusters_quality.py."""

from __future__ import annotations

import collections

import numpy as np
import pytest
from helpers.xtopic import xtopic

from interestmap.errors import ConfigError
from interestmap.learn.clusters import (
    AUTO_MIN_SILHOUETTE,
    AudienceClusterer,
    auto_min_cluster_size,
)
from interestmap.learn.keywords import top_keywords
from interestmap.learn.validation import NotFittedError

SPORTS_WORDS = {"game", "games", "season", "match", "team", "league", "football", "soccer",
                "goal", "win", "vs", "player", "players", "playing", "cup", "coach", "nba",
                "nfl", "fútbol", "partido", "equipo", "gol", "liga", "試合", "選手", "野球",
                "サッカー", "odi", "cricket", "roster", "fans"}


@pytest.fixture(scope="module")
def small(data):
    return xtopic(data, langs=("en", "es", "ja"), stop=100)


@pytest.mark.slow
def test_sports_audience_keywords_are_sports_words(fitted, tweets):
    labels = fitted.labels_
    sports = tweets.has("Sports") & (labels >= 0)
    audience = collections.Counter(labels[sports].tolist()).most_common(1)[0][0]
    words = [w for w, _ in top_keywords(tweets.texts, labels, n=10)[audience]]
    assert SPORTS_WORDS & set(words), words


@pytest.mark.slow
def test_learned_attributes_are_consistent(fitted, tweets):
    n, k = len(tweets.texts), fitted.n_audiences_
    assert k >= 5
    assert fitted.labels_.shape == fitted.raw_labels_.shape == fitted.probabilities_.shape == (n,)
    assert fitted.membership_.shape == (n, k)
    assert np.all(fitted.membership_ >= 0) and np.all(fitted.membership_.sum(1) <= 1 + 1e-5)
    np.testing.assert_allclose(np.linalg.norm(fitted.centroids_, axis=1), 1, atol=1e-5)
    clustered = fitted.raw_labels_ >= 0
    np.testing.assert_array_equal(fitted.labels_[clustered], fitted.raw_labels_[clustered])
    assert np.all((fitted.probabilities_ >= 0) & (fitted.probabilities_ <= 1))
    assert np.all(fitted.probabilities_[fitted.labels_ < 0] == 0)
    assigned = (~clustered) & (fitted.labels_ >= 0)
    assert np.all(fitted.probabilities_[assigned] >= fitted.min_confidence)
    assert fitted.sizes_.sum() == np.sum(fitted.labels_ >= 0)
    assert fitted.min_cluster_size_ == auto_min_cluster_size(n)
    for a, ex in enumerate(fitted.exemplars_):
        assert 1 <= len(ex) <= fitted.n_exemplars
        assert np.all(fitted.raw_labels_[ex] == a)
        sims = tweets.vectors[ex] @ fitted.centroids_[a]
        assert np.all(np.diff(sims) <= 1e-6)  # most central first


@pytest.mark.slow
def test_predict_single_equals_batch_and_matches_training_labels(fitted, tweets):
    X = tweets.vectors[::7][:100]
    labels, conf = fitted.predict_with_confidence(X)
    proba = fitted.predict_proba(X)
    for i in range(len(X)):
        one_label, one_conf = fitted.predict_with_confidence(X[i:i + 1])
        assert one_label[0] == labels[i]
        assert one_conf[0] == pytest.approx(conf[i], abs=1e-6)
        np.testing.assert_allclose(fitted.predict_proba(X[i:i + 1]), proba[i:i + 1], atol=1e-6)
    np.testing.assert_array_equal(fitted.predict(X), labels)
    assert proba.shape == (100, fitted.n_audiences_)
    # a clip from the corpus gets (almost always) its own audience back
    assert np.mean(labels == fitted.labels_[::7][:100]) >= 0.95


@pytest.mark.slow
def test_new_tweets_are_predicted_with_the_policy(fitted, data):
    X = xtopic(data, start=300, stop=330).vectors  # 30 unseen tweets per language
    labels, conf = fitted.predict_with_confidence(X)
    assert np.mean(labels < 0) <= 0.25
    assert np.all(conf[labels < 0] == 0)
    assert np.all((labels >= -1) & (labels < fitted.n_audiences_))


@pytest.mark.slow
def test_fit_is_deterministic_and_keep_policy_keeps_noise(small):
    a = AudienceClusterer(random_state=5).fit(small.vectors)
    b = AudienceClusterer(random_state=5).fit(small.vectors)
    np.testing.assert_array_equal(a.labels_, b.labels_)
    np.testing.assert_array_equal(a.probabilities_, b.probabilities_)
    keep = AudienceClusterer(random_state=5, outliers="keep").fit(small.vectors)
    np.testing.assert_array_equal(keep.labels_, a.raw_labels_)
    assert keep.outlier_share_ == keep.raw_outlier_share_ >= a.outlier_share_
    strict = AudienceClusterer(random_state=5, min_confidence=1.0).fit(small.vectors)
    assert a.outlier_share_ <= strict.outlier_share_ <= keep.outlier_share_


@pytest.mark.slow
@pytest.mark.parametrize("reduction", ["pca", "none"])
def test_other_reductions_work_and_predict(small, reduction):
    c = AudienceClusterer(reduction=reduction).fit(small.vectors)
    assert c.n_audiences_ >= 1
    assert c.predict(small.vectors[:3]).shape == (3,)
    assert c.predict_proba(small.vectors[:3]).shape == (3, c.n_audiences_)


def test_unfitted_clusterer_refuses_to_predict():
    X = np.ones((2, 8))
    for method in ("predict", "predict_proba", "predict_with_confidence"):
        with pytest.raises(NotFittedError, match="not fitted"):
            getattr(AudienceClusterer(), method)(X)
    with pytest.raises(NotFittedError, match="fit"):
        _ = AudienceClusterer().membership_


@pytest.mark.parametrize(("params", "name"), [
    ({"reduction": "tsne"}, "reduction"), ({"outliers": "drop"}, "outliers"),
    ({"min_confidence": 1.5}, "min_confidence"), ({"min_cluster_size": 1}, "min_cluster_size"),
    ({"min_cluster_size": 40}, "min_cluster_size"), ({"min_samples": 0}, "min_samples"),
    ({"cluster_selection_method": "kmeans"}, "cluster_selection_method"),
    ({"n_components": 0}, "n_components"), ({"n_neighbors": 1}, "n_neighbors"),
    ({"n_exemplars": 0}, "n_exemplars"), ({"random_state": -1}, "random_state"),
    ({"max_cluster_share": 0}, "max_cluster_share"),
    ({"max_cluster_share": 1.5}, "max_cluster_share"),
])
def test_parameter_errors_name_the_parameter(params, name):
    X = np.random.default_rng(0).normal(size=(60, 8))
    with pytest.raises(ConfigError, match=name):
        AudienceClusterer(**params).fit(X)


def test_too_few_clips_and_bad_values_are_refused():
    with pytest.raises(ConfigError, match="at least 10 clips"):
        AudienceClusterer().fit(np.ones((4, 8)))
    with pytest.raises(ConfigError, match="infinity"):
        AudienceClusterer().fit(np.full((20, 8), np.inf))


def test_min_cluster_size_scales_with_the_corpus():
    sizes = [auto_min_cluster_size(n) for n in (50, 1000, 4000, 20000, 100000, 10**7)]
    assert sizes == sorted(sizes)
    assert sizes[0] == 5 and sizes[-1] == 250
    assert auto_min_cluster_size(4000) == 21


@pytest.mark.slow
def test_no_audience_holds_more_than_its_share_of_the_corpus(small):
    # plain excess of mass collapses tweets into a few language blobs; the cap splits them
    n = len(small.vectors)
    plain = AudienceClusterer(random_state=5, cluster_selection_method="eom",
                              max_cluster_share=1.0).fit(small.vectors)
    capped = AudienceClusterer(random_state=5, cluster_selection_method="eom").fit(small.vectors)
    assert capped.selection_method_ == "eom" and capped.selection_silhouette_ is None
    assert capped.hdbscan_params_["max_cluster_size"] == max(capped.min_cluster_size_, n // 2)
    assert "max_cluster_size" not in plain.hdbscan_params_
    assert np.bincount(capped.raw_labels_[capped.raw_labels_ >= 0]).max() <= n // 2
    assert capped.n_audiences_ >= plain.n_audiences_
    leaf = AudienceClusterer(random_state=5, cluster_selection_method="leaf").fit(small.vectors)
    assert leaf.selection_method_ == "leaf"
    print(f"audiences: eom {plain.n_audiences_}, capped eom {capped.n_audiences_}, "
          f"leaf {leaf.n_audiences_}")
    # "auto" keeps eom's audiences only when they are separated, and says which it took
    auto = AudienceClusterer(random_state=5).fit(small.vectors)
    assert auto.hdbscan_params_["cluster_selection_method"] == "auto"
    assert isinstance(auto.selection_silhouette_, float)
    chosen = capped if auto.selection_silhouette_ >= AUTO_MIN_SILHOUETTE else leaf
    assert auto.selection_method_ == chosen.selection_method_
    np.testing.assert_array_equal(auto.labels_, chosen.labels_)


def test_auto_falling_back_to_the_leaves_reuses_the_cluster_tree(small, monkeypatch):
    # the tree does not depend on the selection: one HDBSCAN fit, the same audiences as a
    # fresh "leaf" fit, down to the soft membership and predictions on new points
    import hdbscan

    import interestmap.learn.clusters as clusters

    leaf = AudienceClusterer(reduction="pca", cluster_selection_method="leaf",
                             random_state=3).fit(small.vectors)
    monkeypatch.setattr(clusters, "AUTO_MIN_SILHOUETTE", 2.0)  # no silhouette reaches it
    fits = []
    real_fit = hdbscan.HDBSCAN.fit
    monkeypatch.setattr(hdbscan.HDBSCAN, "fit",
                        lambda model, X, y=None: fits.append(1) or real_fit(model, X, y))
    auto = AudienceClusterer(reduction="pca", random_state=3).fit(small.vectors)
    assert len(fits) == 1
    assert auto.selection_method_ == "leaf" and auto.selection_silhouette_ is not None
    assert auto.hdbscan_.get_params()["max_cluster_size"] == 0  # leaves are never capped
    np.testing.assert_array_equal(auto.raw_labels_, leaf.raw_labels_)
    np.testing.assert_array_equal(auto.labels_, leaf.labels_)
    np.testing.assert_allclose(auto.hdbscan_.probabilities_, leaf.hdbscan_.probabilities_)
    np.testing.assert_allclose(auto.membership_, leaf.membership_, atol=1e-6)
    np.testing.assert_array_equal(auto.predict(small.vectors[:40]),
                                  leaf.predict(small.vectors[:40]))
