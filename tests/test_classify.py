"""Topic classifiers trained on labelled posts, and `interestmap classify` on streams
(their macro-F1 on real posts is in tests/quality/test_classify_quality.py)."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from helpers.xtopic import xtopic_split

from interestmap.errors import ConfigError, EncoderMismatchError, InterestmapError
from interestmap.topics.catalog import load_topics
from interestmap.topics.classifier import TopicClassifier
from interestmap.topics.labelled import (
    LabelledPosts,
    read_labelled,
    resolve_labels,
    topics_from_labels,
)
from interestmap.topics.stream import classify_stream, iter_input_batches

ROOT = Path(__file__).resolve().parents[1]
"""Posts per language scored here (the first of each test set); the full 800 per
language are scored by ``benchmarks/classify_throughput.py --xtopic``."""


# --- reading labelled posts and input streams ---------------------------------------------

def test_labelled_file_errors_name_the_line(tmp_path):
    p = tmp_path / "train.jsonl"
    p.write_text('{"text": "gol", "label": "Football"}\n\n{"text": "x", "label": ["A", "B"]}\n',
                 encoding="utf-8")
    posts = read_labelled(p)
    assert posts.texts == ["gol", "x"] and posts.labels == [["Football"], ["A", "B"]]
    assert posts.lines == [1, 3]
    for body, msg in (('{"text": "a", "label": "x"}\n{"text": "b" "label": 1}\n',
                       "line 2: not valid JSON"),
                      ('{"label": "x"}\n', 'line 1: no "text"'),
                      ('{"text": "a"}\n', 'line 1: "label" must be'),
                      ('{"text": "a", "label": []}\n', 'line 1: "label" must be'),
                      ('["text"]\n', "line 1: expected a JSON object")):
        p.write_text(body, encoding="utf-8")
        with pytest.raises(ConfigError, match=msg):
            read_labelled(p)
    with pytest.raises(ConfigError, match="not found"):
        read_labelled(tmp_path / "missing.jsonl")


def test_labels_resolve_to_topic_ids_by_id_or_name():
    topics = load_topics()
    posts = LabelledPosts(["a", "b", "c"], [["football"], ["Cooking & Recipes", "travel"],
                                            ["TRAVEL"]], [1, 2, 5])
    assert resolve_labels(posts, topics) == [["football"], ["cooking", "travel"], ["travel"]]
    bad = LabelledPosts(["a"], [["Knitting"]], [7])
    with pytest.raises(ConfigError, match=r"line 7: label 'Knitting' is not one of"):
        resolve_labels(bad, topics)
    made = topics_from_labels([["Film, TV & Video"], ["Music", "film, tv & video"]])
    assert [t.id for t in made] == ["Film, TV & Video", "Music"]


def test_input_lines_are_batched_and_bad_ones_skipped_with_their_line_number():
    lines = ['{"id": "a", "text": "one"}', "", "oops", '{"text": "two"}', '{"id": 3}',
             '{"id": "c", "text": "three"}']
    warnings: list[str] = []
    batches = list(iter_input_batches(lines, batch_size=2, warn=warnings.append))
    assert [[(x.line, x.id, x.text) for x in b] for b in batches] == \
        [[(1, "a", "one"), (4, 4, "two")], [(6, "c", "three")]]
    assert len(warnings) == 2
    assert "line 3: not valid JSON" in warnings[0] and "line 5: no \"text\"" in warnings[1]
    with pytest.raises(ConfigError, match="line 3"):
        list(iter_input_batches(lines, strict=True))


# --- the classifier on real posts ---------------------------------------------------------


@pytest.mark.slow
def test_classifier_predicts_saves_atomically_and_refuses_other_encoders(xtopic_setup,
                                                                          tmp_path):
    space, clf = xtopic_setup
    texts = ["Champions League final tonight, what a goal!", "Nueva receta de paella 🥘"]
    pred = clf.predict(texts)
    assert pred[0] == "sports" and pred[1] == "food & dining"
    p = clf.predict_proba(texts)
    assert p.shape == (2, len(clf.classes_)) and np.allclose(p.sum(axis=1), 1)
    assert clf.C_ in (0.3, 1.0, 3.0, 10.0, 30.0) and 0.0 <= clf.blend_ <= 1.0
    assert set(clf.cv_scores_) >= {"C=1", "blend=0.5"}

    path = clf.save(tmp_path / "sub" / "clf.joblib")
    assert [f.name for f in path.parent.iterdir()] == ["clf.joblib"]  # no temp file left
    back = TopicClassifier.load(path)
    assert np.allclose(back.predict_proba(texts), p)
    assert back.text_encoder == "use-m3"  # the model is not pickled, its registry name is

    with pytest.raises(EncoderMismatchError, match="trained on use-m3"):
        back.check_encoder({"name": "e5-small", "dim": 384})
    with pytest.raises(EncoderMismatchError):
        back.predict_proba(np.zeros((1, 384), dtype=np.float32))
    (tmp_path / "junk.joblib").write_bytes(b"not a pickle")
    with pytest.raises(ConfigError, match="unreadable"):
        TopicClassifier.load(tmp_path / "junk.joblib")
    with pytest.raises(ConfigError, match="two different topics"):
        TopicClassifier().fit(np.zeros((2, 512)), ["a", "a"])


@pytest.mark.slow
def test_classify_stream_writes_one_line_per_input(xtopic_setup):
    space, clf = xtopic_setup
    src = io.StringIO('{"id": 1, "text": "Champions League final tonight"}\n'
                      "broken\n"
                      '{"id": "x", "text": "Mi gato duerme todo el día 🐱"}\n')
    out, warned = io.StringIO(), []
    stats = classify_stream(src, out, space, clf, top=3, warn=warned.append)
    lines = [json.loads(x) for x in out.getvalue().splitlines()]
    assert [x["id"] for x in lines] == [1, "x"] and stats.classified == 2 and stats.skipped == 1
    assert set(lines[0]) == {"id", "topic", "name", "score", "topics", "scores"}
    assert lines[0]["topic"] == "sports" and len(lines[0]["scores"]) == 3
    assert lines[0]["score"] == max(lines[0]["scores"].values())
    for x in lines:  # the topics a text is about: its top one first, then the likely others
        assert x["topics"][0] == x["topic"] and len(x["topics"]) <= 3
        assert all(x["scores"][t] >= 0.15 for t in x["topics"][1:] if t in x["scores"])
    tab = io.StringIO()
    classify_stream(io.StringIO('{"id": 7, "text": "Sunday long run, then brunch with the '
                                'kids and my parents"}\n'), tab, space, clf, as_json=False,
                    min_probability=0.0, max_topics=2)
    row = tab.getvalue().rstrip("\n").split("\t")
    assert row[0] == "7" and len(row) == 4 and row[3].split("|")[0] == row[1]
    assert len(row[3].split("|")) == 2  # every topic clears 0 %: the two likeliest
    with pytest.raises(InterestmapError, match="no line could be classified"):
        classify_stream(io.StringIO("x\ny\n"), io.StringIO(), space)
    with pytest.raises(ConfigError, match="needs a trained classifier"):
        classify_stream(io.StringIO(""), io.StringIO(), space, None, mode="classifier")


# --- the command line ------------------------------------------------------------------------

_MEASURE = textwrap.dedent("""
    import sys, threading, time
    from interestmap.serve.cli import main

    def rss_mb():
        for line in open("/proc/self/status"):
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return 0.0

    class Counting:
        def __init__(self, out):
            self.out, self.lines, self.first_batch_rss = out, 0, None
        def write(self, s):
            self.lines += s.count("\\n")
            if self.first_batch_rss is None and self.lines:
                self.first_batch_rss = rss_mb()
            return self.out.write(s)
        def flush(self):
            self.out.flush()

    peak = [0.0]
    def sample():
        while True:
            peak[0] = max(peak[0], rss_mb())
            time.sleep(0.1)
    threading.Thread(target=sample, daemon=True).start()
    sys.stdout = Counting(sys.stdout)
    rc = main(sys.argv[1:])
    peak[0] = max(peak[0], rss_mb())
    sys.stderr.write(f"RSS first_batch={sys.stdout.first_batch_rss:.1f} peak={peak[0]:.1f}\\n")
    sys.exit(rc)
""")


@pytest.mark.slow
def test_classify_cli_streams_10000_lines_in_bounded_memory(data, tmp_path):
    texts = [r["text"] for lang in ("en", "es", "ja") for r in xtopic_split(data, lang, "test")]
    src = tmp_path / "in.jsonl"
    with src.open("w", encoding="utf-8") as f:
        for i in range(10_000):
            f.write(json.dumps({"id": i, "text": texts[i % len(texts)]}, ensure_ascii=False))
            f.write("\n")
            if i == 4321:
                f.write("this line is not JSON\n")
    out = tmp_path / "out.jsonl"
    with src.open("rb") as stdin, out.open("wb") as stdout:
        # use-m3 alone: this checks streaming memory, not topics, and the default
        # ensemble's E5 half takes ~15x longer per text
        proc = subprocess.run([sys.executable, "-c", _MEASURE, "classify", "--json", "--top", "3",
                               "--batch-size", "256", "--text-encoder", "use-m3"],
                              stdin=stdin, stdout=stdout,
                              stderr=subprocess.PIPE, cwd=ROOT, timeout=1500)
    err = proc.stderr.decode()
    assert proc.returncode == 0, err[-2000:]
    results = [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines()]
    assert len(results) == 10_000
    assert [r["id"] for r in results[:3]] == [0, 1, 2] and results[-1]["id"] == 9_999
    assert "line 4323: not valid JSON" in err and "skipped 1 malformed line" in err
    first, peak = (float(x.split("=")[1]) for x in err.split("RSS ")[1].split()[:2])
    print(f"RSS after the first batch {first:.0f} MB, peak {peak:.0f} MB")
    # the 10,000 results are not held in memory: the peak stays near the first batch's
    assert peak - first < 150, (first, peak)
    assert peak < 2000, peak
