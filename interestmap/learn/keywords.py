"""Naming audiences: c-TF-IDF keywords, nearest declared topics, a short label.

Keywords are BERTopic's class-based TF-IDF over the text of each audience's clips
(caption + on-screen text + transcript), counted with scikit-learn's ``CountVectorizer``
and a multilingual analyzer:

* NFKC-normalised and lowercased; URLs and @mentions dropped; hashtags kept as words
  (``#Derby`` -> ``derby``);
* words are runs of Unicode letters (Latin, Cyrillic, Greek, Hangul, ...), 2+ letters;
  a word that starts with a digit (``2024``, ``5am``, ``140kg``) is a number, not a topic,
  and is dropped; so is any word with a character that is not a letter (a Hangul filler,
  a private-use glyph: what a page would show as an empty box);
* stop words of **the clip's own language**, from the maintained stopwords-iso lists
  (package ``stopwordsiso``, 58 languages, shipped with it), plus English (hashtags and
  loanwords are English in every language) and a few platform words of ours (``rt``,
  ``lol``, ``jaja``, ``kkk``...); matched with accents folded, so Greek or Spanish
  written without accents is caught too;
* Chinese and Japanese have no spaces: a run of kanji/hanzi becomes character bigrams
  (a lone character stays a unigram), a katakana run is one word (loanwords such as
  サッカー), and hiragana runs, mostly grammar, are dropped. A lone kanji followed by
  hiragana that is not a particle is the stem of a verb or adjective (楽しい, 見る,
  勝った) and says nothing on its own: it is dropped (a noun, 猫が or #猫, stays).

c-TF-IDF runs twice: over audiences (the audience's keywords) and over (audience,
language) pairs, so that the words of one language are weighed against that language's
own vocabulary (the keywords an audience has *in each language*). A name that only one
author writes (a pet, a friend, the author's own name: capitalised in the middle of a
sentence, in clips of one account only) is not a keyword of an audience.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.preprocessing import normalize

from interestmap.encoders.base import l2_normalize
from interestmap.errors import ConfigError

# Words of social posts that no stop-word list has (platform slang, laughter), by
# language; added to the maintained lists, never replacing them.
_EXTRA_STOP_TEXT = {
    "en": """rt amp via im ive id ill youre youve dont doesnt didnt cant wont isnt arent wasnt
        werent havent hasnt couldnt shouldnt wouldnt thats theres whats lets u ur ya yeah yes
        yall oh ok okay lol lmao omg just like get got really gonna wanna thing things still
        today day time people finally actually literally""",
    "es": "q pq xq jaja jajaja jajajaja eh",
    "pt": "vc pra pro ne ta to kkk kkkk kkkkk",
    "it": "gia cosi",
    "de": "mal gibt ganz",
    "el": "ρε",
    # Chinese/Japanese terms as the tokenizer makes them (lone kanji, kanji bigrams)
    "ja": """私 俺 僕 人 思 見 言 行 来 出 入 方 時 事 何 気 今 中 上 下 前 後 分 自分 本当
        一 二 三 今日 新 毎日 最高""",
    "zh": "的 了 是 我 你 他 她 们 在 有 不 这 那 也 就 都 和 说 个 到 会 要 去",
}
ISO_ALIASES = {"gr": "el", "iw": "he", "in": "id", "jp": "ja", "cn": "zh"}
"""Language codes seen in data sets that are not ISO 639-1 (X-Topic writes ``gr``)."""

_URL = re.compile(r"https?://\S+|www\.\S+")
_MENTION = re.compile(r"(?<!\w)@\w+")
_HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_KATAKANA = "\u30a0-\u30ff\u31f0-\u31ff\uff66-\uff9f"
_HIRAGANA = "\u3040-\u309f"
_CJK = _HAN + _KATAKANA + _HIRAGANA
_TOKEN = re.compile(rf"([{_HAN}]+)|([{_KATAKANA}]+)|([{_HIRAGANA}]+)"
                    rf"|([^\W{_CJK}]+(?:['’][^\W{_CJK}]+)*)")
# Letters that draw nothing (fillers) or nothing meaningful: never part of a keyword.
_INVISIBLE = frozenset("\u115f\u1160\u3164\uffa0\u2800")
_SENTENCE_END = re.compile(r"[.!?…。！？\n]\s*$")


def _fold(word: str) -> str:
    """Lowercase without accents or apostrophes (for stop-word matching only)."""
    decomposed = unicodedata.normalize("NFKD", word.lower())
    return "".join(ch for ch in decomposed
                   if not unicodedata.combining(ch) and ch not in "'’")


def language_code(language: str | None) -> str | None:
    """ISO 639-1 code of a language tag (``pt-BR`` -> ``pt``, ``gr`` -> ``el``), or None."""
    if not language:
        return None
    code = str(language).strip().lower().replace("_", "-").split("-")[0]
    return ISO_ALIASES.get(code, code) or None


@lru_cache(maxsize=64)
def _stopwordsiso(code: str) -> frozenset[str]:
    import stopwordsiso

    if not stopwordsiso.has_lang(code):
        return frozenset()
    return frozenset(_fold(w) for w in stopwordsiso.stopwords(code))


@lru_cache(maxsize=64)
def stop_words(language: str | None = "en") -> frozenset[str]:
    """Stop words of ``language`` (accent-folded): stopwords-iso's list for it, English's
    (mixed into posts in every language) and our platform words. ``None``: the union
    over every language stopwords-iso knows."""
    code = language_code(language)
    if code is None:
        import stopwordsiso

        codes = sorted(stopwordsiso.langs())
    else:
        codes = sorted({code, "en"})
    words: set[str] = set()
    for c in codes:
        words |= _stopwordsiso(c)
        words.update(_fold(w) for w in _EXTRA_STOP_TEXT.get(c, "").split())
    words.update(_fold(w) for w in _EXTRA_STOP_TEXT["ja"].split() + _EXTRA_STOP_TEXT["zh"].split())
    return frozenset(words)


def is_stop_word(word: str, language: str | None) -> bool:
    """Whether ``word`` is in stopwords-iso's list for ``language`` (accents folded)."""
    code = language_code(language)
    return bool(code) and _fold(word) in _stopwordsiso(code)


def _is_word(word: str) -> bool:
    """Letters (and combining marks, inner apostrophes) only, starting with a letter."""
    if not word or not unicodedata.category(word[0]).startswith("L"):
        return False
    for ch in word:
        if ch in _INVISIBLE:
            return False
        cat = unicodedata.category(ch)
        if not (cat.startswith("L") or cat.startswith("M") or cat == "Nd" or ch in "'’"):
            return False
    return True


def _terms(text: str, language: str | None = None) -> list[tuple[str, bool | None]]:
    """``(term, written like a name)`` of one text, stop words of its language removed.

    *Written like a name* is True for a capitalised word (``Sam``, not ``SAM``) in the
    middle of a sentence, False for a word in lower case or capitals, None where the
    writing cannot tell (first word of a sentence, hashtag, a language that capitalises
    its nouns, scripts without case)."""
    raw = unicodedata.normalize("NFKC", text)
    raw = _MENTION.sub(" ", _URL.sub(" ", raw))
    stops = stop_words(language)
    code = language_code(language)
    names_possible = code not in ("de", "lb")
    out: list[tuple[str, bool | None]] = []
    for m in _TOKEN.finditer(raw):
        han, kata, _hira, surface = m.groups()
        if han:
            if len(han) == 1 and _inflected(raw, m.end()):
                continue
            grams = [han] if len(han) == 1 else [han[i:i + 2] for i in range(len(han) - 1)]
            out.extend((g, None) for g in grams if g not in stops)
        elif kata:
            if len(kata) >= 2 and kata.strip("ー・"):
                out.append((kata, None))
        elif surface:
            surface = surface.strip("_")
            word = surface.lower()
            if len(word) < 2 or not _is_word(word) or _fold(word) in stops:
                continue
            before = raw[:m.start()]
            name_like: bool | None = None
            if surface.lower() == surface or surface.isupper():
                name_like = False if surface.lower() != surface.upper() else None
            elif (names_possible and not before.endswith("#") and before.strip()
                  and not _SENTENCE_END.search(before)):
                name_like = True
            out.append((word, name_like))
    return out


def _inflected(text: str, end: int) -> bool:
    """Whether a lone kanji ending at ``end`` is the stem of an inflected Japanese word:
    followed by hiragana (okurigana: 楽しい, 見る, 勝った) that is not a particle after a
    noun (猫が, 絵を, 夢の). Such a stem says nothing on its own; a noun of one kanji
    keeps its place (#猫, 猫が好き, 夢の国)."""
    rest = text[end:end + 2]
    if not rest or not ("\u3040" <= rest[0] <= "\u309f"):
        return False
    return rest[0] not in _PARTICLES


_PARTICLES = frozenset("がをにはのでともへ")
"""Hiragana that, right after a lone kanji, begin a particle (the kanji is a noun)."""


def tokenize(text: str, language: str | None = None) -> list[str]:
    """Terms of one text, per the module's rules (stop words of ``language`` removed)."""
    return [t for t, _ in _terms(text, language)]


def make_vectorizer(min_df: int = 1) -> CountVectorizer:
    """A ``CountVectorizer`` over texts, using :func:`tokenize` (any language) as analyzer."""
    return CountVectorizer(analyzer=lambda text: tokenize(text, None), min_df=min_df)


def class_tfidf(counts: Any) -> sparse.csr_matrix:
    """BERTopic's c-TF-IDF of a ``(n_classes, n_terms)`` count matrix.

    ``W[c, t] = tf[c, t] * log(1 + A / f[t])``: ``tf`` is the term's share of the class's
    words, ``f[t]`` the term's count over all classes, ``A`` the mean words per class.
    """
    counts = sparse.csr_matrix(counts, dtype=np.float64)
    f = np.asarray(counts.sum(axis=0)).ravel()
    avg = float(counts.sum(axis=1).mean())
    idf = np.log(1.0 + avg / np.maximum(f, 1e-12))
    return sparse.csr_matrix(normalize(counts, norm="l1", axis=1).multiply(idf[None, :]))


def _join(doc: str | Sequence[str] | None) -> str:
    if doc is None:
        return ""
    if isinstance(doc, str):
        return doc
    return "\n".join(str(part) for part in doc if part)


@dataclass
class AudienceKeywords:
    """Keywords of each audience: over all its clips, per language, and each keyword's
    languages (the languages of the audience's clips that use it)."""

    overall: dict[int, list[tuple[str, float]]]
    by_language: dict[int, dict[str, list[tuple[str, float]]]] = field(default_factory=dict)
    languages: dict[int, dict[str, list[str]]] = field(default_factory=dict)


def _onehot(keys: Sequence[Any]) -> tuple[sparse.csr_matrix, list[Any]]:
    classes = sorted(set(keys), key=repr)
    row = {c: i for i, c in enumerate(classes)}
    m = sparse.csr_matrix((np.ones(len(keys)), ([row[k] for k in keys], np.arange(len(keys)))),
                          shape=(len(classes), len(keys)))
    return m, classes


def audience_keywords(docs: Sequence[str | Sequence[str]], labels: Sequence[int] | np.ndarray,
                      languages: Sequence[str | None] | None = None,
                      accounts: Sequence[str | None] | None = None, n: int = 8,
                      min_df: int = 2,
                      embed: Callable[[Sequence[str]], np.ndarray] | None = None,
                      centroids: Mapping[int, np.ndarray] | None = None) -> AudienceKeywords:
    """The ``n`` most distinctive words of each audience (c-TF-IDF), overall and in each
    language its clips are written in.

    ``docs`` holds one entry per clip: a string, or its texts (caption, on-screen text,
    transcript) which are joined. ``labels`` gives each clip's audience; clips labelled -1
    count as their own class (so words common among them are not distinctive) but get
    no keywords. ``languages`` (each clip's language; None: unknown) chooses each clip's
    stop words; ``accounts`` (each clip's author) lets names written by one author only be
    dropped. Words must occur in at least ``min_df`` clips (relaxed to 1 when that leaves
    no words at all).
    """
    labels = np.asarray(labels)
    if labels.ndim != 1 or len(labels) != len(docs):
        raise ConfigError(f"labels must give one audience per clip: {len(docs)} clips, "
                          f"labels of shape {labels.shape}")
    if not isinstance(n, int) or n < 1:
        raise ConfigError(f"n must be an integer >= 1, got {n!r}")
    if not isinstance(min_df, int) or min_df < 1:
        raise ConfigError(f"min_df must be an integer >= 1, got {min_df!r}")
    for name, seq in (("languages", languages), ("accounts", accounts)):
        if seq is not None and len(seq) != len(docs):
            raise ConfigError(f"{name} must give one value per clip: {len(docs)} clips, "
                              f"{len(seq)} {name}")
    labels = labels.astype(np.int64)
    audiences = sorted(int(c) for c in set(labels.tolist()) if c >= 0)
    out = AudienceKeywords(overall={c: [] for c in audiences})
    if not audiences:
        return out
    langs = [language_code(x) for x in (languages or [None] * len(docs))]
    authors = [str(a) if a else None for a in (accounts or [None] * len(docs))]
    terms = [_terms(_join(d), lang) for d, lang in zip(docs, langs, strict=True)]
    vec = CountVectorizer(analyzer=lambda ts: [t for t, _ in ts])
    try:
        counts = vec.fit_transform(terms)
    except ValueError:  # empty vocabulary
        return out
    vocab = vec.get_feature_names_out()
    counts = sparse.csr_matrix(counts)
    keep = ~_one_authors_names(terms, authors, vocab)
    counts = counts[:, np.flatnonzero(keep)]
    vocab = vocab[keep]
    if not len(vocab):
        return out
    present = (counts > 0).astype(np.float64).tocsc()
    onehot, classes = _onehot(labels.tolist())
    weights = class_tfidf(onehot @ counts).toarray()
    row = {c: i for i, c in enumerate(classes)}
    pair_hot, pairs = _onehot(list(zip(labels.tolist(), [x or "" for x in langs], strict=True)))
    pair_w = class_tfidf(pair_hot @ counts).toarray()
    pair_docs = (pair_hot @ present).toarray()  # clips of each (audience, language) using a term
    aud_docs = (onehot @ present).toarray()  # clips of each audience using a term
    rerank = _Reranker(embed, centroids, vocab) if embed is not None and centroids else None
    for c in audiences:
        w = weights[row[c]]
        shared = aud_docs[row[c]] >= min_df  # words several of its clips use, first
        order = np.lexsort((vocab, -w, ~shared))
        cand = [j for j in order[:4 * n] if w[j] > 0]
        if rerank is not None:
            cand = rerank(c, cand, shared)
        out.overall[c] = [(str(vocab[j]), float(w[j])) for j in cand[:n]]
        per: dict[str, list[tuple[str, float]]] = {}
        used: dict[str, list[str]] = {}
        for i, (a, lang) in enumerate(pairs):
            if a != c:
                continue
            for j in np.flatnonzero(pair_docs[i] > 0):
                if lang:
                    used.setdefault(str(vocab[j]), []).append(lang)
            if not lang:
                continue
            pw = pair_w[i]
            pshared = pair_docs[i] >= min_df
            order = np.lexsort((vocab, -pw, ~pshared))
            cand = [j for j in order[:4 * n] if pw[j] > 0]
            if rerank is not None:
                cand = rerank(c, cand, pshared)
            words = [(str(vocab[j]), float(pw[j])) for j in cand[:n]]
            if words:
                per[lang] = words
        out.by_language[c] = per
        wanted = {w for w, _ in out.overall[c]} | {w for ws in per.values() for w, _ in ws}
        out.languages[c] = {w: sorted(set(ls)) for w, ls in used.items() if w in wanted}
    return out


class _Reranker:
    """Orders candidate words by cosine to an audience's centre (words embedded once)."""

    def __init__(self, embed: Callable[[Sequence[str]], np.ndarray],
                 centroids: Mapping[int, np.ndarray], vocab: np.ndarray) -> None:
        self.embed, self.vocab = embed, vocab
        self.centroids = {int(k): np.asarray(v, dtype=np.float32) for k, v in centroids.items()}
        self.vectors: dict[int, np.ndarray] = {}

    def __call__(self, audience: int, cand: list[int], shared: np.ndarray) -> list[int]:
        centre = self.centroids.get(int(audience))
        if centre is None or not cand:
            return cand
        todo = [j for j in cand if j not in self.vectors]
        if todo:
            vecs = np.asarray(self.embed([str(self.vocab[j]) for j in todo]), dtype=np.float32)
            vecs = l2_normalize(vecs)
            self.vectors.update(zip(todo, vecs, strict=True))
        centre = l2_normalize(centre)
        cos = {j: float(self.vectors[j] @ centre) for j in cand}
        # Words several clips use keep their lead; within each group, closest first.
        return sorted(cand, key=lambda j: (not shared[j], -cos[j], str(self.vocab[j])))


def _one_authors_names(terms: Sequence[Sequence[tuple[str, bool | None]]],
                       authors: Sequence[str | None], vocab: np.ndarray) -> np.ndarray:
    """Which vocabulary terms are names of one author: written like a name more often
    than not (where the writing tells) and found in the clips of a single account (or,
    without accounts, of a single clip)."""
    named: Counter[str] = Counter()
    plain: Counter[str] = Counter()
    who: dict[str, set[str]] = {}
    for i, ts in enumerate(terms):
        owner = authors[i] or f"clip {i}"
        for t, name_like in ts:
            if name_like is True:
                named[t] += 1
            elif name_like is False:
                plain[t] += 1
            who.setdefault(t, set()).add(owner)
    return np.array([named[t] > plain[t] and len(who.get(t, ())) == 1 for t in vocab],
                    dtype=bool)


def top_keywords(docs: Sequence[str | Sequence[str]], labels: Sequence[int] | np.ndarray,
                 n: int = 8, min_df: int = 2, languages: Sequence[str | None] | None = None,
                 accounts: Sequence[str | None] | None = None
                 ) -> dict[int, list[tuple[str, float]]]:
    """The ``n`` most distinctive words of each audience, with their c-TF-IDF scores
    (:func:`audience_keywords`' ``overall``)."""
    return audience_keywords(docs, labels, languages, accounts, n=n, min_df=min_df).overall


def label_keywords(overall: Sequence[tuple[str, float]] | Sequence[str],
                   by_language: Mapping[str, Sequence[tuple[str, float]]] | None = None,
                   language: str | None = None) -> list[str]:
    """An audience's keywords in the order a reader of ``language`` should see them: the
    words its clips in that language use first, then the rest (overall order)."""
    words = [w[0] if isinstance(w, tuple | list) else str(w) for w in overall]
    code = language_code(language)
    first = [w for w, _ in (by_language or {}).get(code or "", [])]
    return list(dict.fromkeys([*first, *words]))


def nearest_topics(centroids: np.ndarray, topic_vectors: np.ndarray,
                   topic_names: Sequence[str], k: int = 3) -> list[list[tuple[str, float]]]:
    """For each audience centre, the ``k`` declared topics with the highest cosine."""
    c = np.atleast_2d(np.asarray(centroids, dtype=np.float32))
    t = np.atleast_2d(np.asarray(topic_vectors, dtype=np.float32))
    if len(topic_names) != len(t):
        raise ConfigError(f"{len(t)} topic vectors but {len(topic_names)} topic names")
    if c.shape[1] != t.shape[1]:
        raise ConfigError(f"topic vectors have {t.shape[1]} dims but audience centres have "
                          f"{c.shape[1]}; embed the topics in the same space as the clips")
    if not isinstance(k, int) or k < 1:
        raise ConfigError(f"k must be an integer >= 1, got {k!r}")
    c, t = l2_normalize(c), l2_normalize(t)
    sims = c @ t.T
    out = []
    for row in sims:
        order = np.argsort(-row, kind="stable")[:k]
        out.append([(str(topic_names[j]), float(row[j])) for j in order])
    return out


def audience_name(keywords: Sequence[str | tuple[str, float]] | Mapping[str, float],
                  topic: str | None = None, n_words: int = 3,
                  fallback: str = "Unnamed audience") -> str:
    """A short label: ``"Football · goal, match, derby"``.

    The topic (if any) leads, followed by the top keywords that do not merely repeat it;
    without a topic, the first keyword leads.
    """
    items = list(keywords.keys()) if isinstance(keywords, Mapping) else list(keywords)
    words = [w[0] if isinstance(w, tuple) else str(w) for w in items]
    topic = (topic or "").strip()
    topic_words = {_fold(w) for w in re.findall(r"\w+", topic)}
    seen: set[str] = set()
    picked = []
    for w in words:
        key = _fold(w)
        if not w.strip() or key in topic_words or key in seen:
            continue
        seen.add(key)
        picked.append(w)
    picked = picked[:n_words]
    if topic:
        return f"{topic} · {', '.join(picked)}" if picked else topic
    if not picked:
        return fallback
    head = picked[0][:1].upper() + picked[0][1:]
    return f"{head} · {', '.join(picked[1:])}" if len(picked) > 1 else head
