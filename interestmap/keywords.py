"""Naming audiences: c-TF-IDF keywords, nearest declared topics, a short label.

Keywords are BERTopic's class-based TF-IDF over the text of each audience's clips
(caption + on-screen text + transcript), counted with scikit-learn's ``CountVectorizer``
and a multilingual analyzer:

* NFKC-normalised and lowercased; URLs and @mentions dropped; hashtags kept as words (``#Derby`` -> ``derby``);
* words are runs of Unicode letters (Latin, Cyrillic, Greek, Hangul, ...), 2+ letters,
  pure numbers dropped;
* stop words for en, es, pt, it, fr, de, ru, el and common Chinese/Japanese terms, matched with accents folded (so
  Greek or Spanish written without accents is caught too);
* Chinese and Japanese have no spaces: a run of kanji/hanzi becomes character bigrams
  (a lone character stays a unigram), a katakana run is one word (loanwords such as
  サッカー), and hiragana runs, mostly grammar, are dropped.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, CountVectorizer
from sklearn.preprocessing import normalize

from .errors import ConfigError

_STOP_TEXT = {
    "en": """rt amp via im ive id ill youre youve dont doesnt didnt cant wont isnt arent wasnt
        werent havent hasnt couldnt shouldnt wouldnt thats theres whats lets u ur ya yeah yes
        yall oh ok okay lol just like get got really one also would could know think going gonna
        wanna thing things still even much make made well way new today day time people""",
    "es": """a al algo algunas algunos ante antes como con contra cual cuando de del desde donde
        durante e el ella ellas ellos en entre era eran es esa esas ese eso esos esta estaba
        estado estais estamos estan estar estas este esto estos estoy fue fueron fui ha haber
        habia han has hasta hay he la las le les lo los mas me mi mis mucho muy nada ni no nos
        nosotros o os otra otro para pero poco por porque que quien se sea ser si sin sobre
        son su sus tambien te tengo ti tiene tienen todo todos tu tus un una uno unos vos y ya
        yo q pq xq ahi asi bien aqui aca eh ahora siempre nunca solo jaja jajaja jajajaja hace hacer ver vez cosa""",
    "pt": """a ao aos as ate com como da das de dela dele deles do dos e ela elas ele eles em
        entre era essa esse esta este eu foi ha isso isto ja la lhe mais mas me meu minha muito
        na nao nas nem no nos o os ou para pela pelo por porque quando que quem se sem ser seu
        sua so sao tambem te tem ter tu um uma voce voces vc pra pro ne ta to kkk kkkk""",
    "it": """a ad al alla alle allo anche che chi ci come con da dal dalla dei del della delle
        di e ed gli ha hanno ho i il in io la le lei li lo loro lui ma mi mia mio ne nei nel
        nella noi non o per perche piu piu quando quella quello questa questo se si sono su sua
        suo sul sulla ti tra tu tutto un una uno vi voi gia cosi essere fare""",
    "fr": """a ai au aux avec c ce ces cette dans de des du elle elles en est et etait il ils
        j je l la le les leur lui m ma mais me mes moi mon n ne nos notre nous on ou par pas
        pour qu que qui s sa se ses si son sont sur t ta te tes toi ton tu un une vos votre
        vous y d ca cest etre fait faire tout tous tres bien plus aussi comme""",
    "de": """aber alle als also am an auch auf aus bei bin bis bist da damit dann das dass dem
        den der des die dir doch du ein eine einem einen einer es fur hat hatte ich ihr im in
        ist ja jetzt kann kein man mein mich mir mit nach nicht noch nur oder schon sein sich
        sie sind so uber um und uns unter von vor war was wenn wer wie wir wird zu zum zur
        mal gibt ganz immer""",
    "ru": """и в во не что он на я с со как а то все она так его но да ты к у же вы за бы по
        только ее мне было вот от меня еще нет о из ему теперь когда даже ну вдруг ли если уже
        или ни быть был него до вас нибудь опять уж вам ведь там потом себя ничего ей может
        они тут где есть надо ней для мы тебя их чем была сам чтоб без будто чего раз тоже себе
        под будет ж тогда кто этот того потому этого какой совсем ним здесь этом один почти
        мой тем чтобы нее были куда зачем всех никогда можно при об другой хоть после над
        больше тот через эти нас про всего них какая много разве эту моя свою этой перед
        иногда лучше чуть том нельзя такой им более всегда конечно всю между это так""",
    "el": """και να το η ο της τα του των τη την τον σε με για που δεν θα από απο στο στην στη
        στα στον στις στους είναι ειναι ένα ενα μια μία ότι οτι αλλά αλλα ή οι τις τους αυτό
        αυτο αυτή αυτη αυτά αυτα πως πώς μου σου μας σας τι έχω εχω έχει εχει ήταν ηταν ως
        όταν οταν πολύ πολυ μόνο μονο κι ούτε ουτε μην μη αν ενώ ενω εγώ εγω εσύ εσυ
        εμείς εμεις ολα όλα ολοι όλοι κάτι κατι γιατί γιατι ακόμα ακομα πιο δε μετά τώρα
        έχουν έχεις έχουμε είμαι είσαι είμαστε κάνει κάνω κάνεις πριν σαν είτε όχι ρε λέει
        λες λέω θέλω θέλει μπορεί μπορώ πω πει ήδη εδώ εκεί έτσι πάλι τόσο όπως μέσα πάνω
        κάτω χωρίς μα λοιπόν απλά δηλαδή οπότε αφού επειδή ποιος ποια ποιο ένας ενός μιας""",
    # Chinese/Japanese terms as the tokenizer makes them (lone kanji, kanji bigrams)
    "cjk": """私 俺 僕 人 思 見 言 行 来 出 入 方 時 事 何 気 今 中 上 下 前 後 分 自分 本当
        一 二 三 的 了 是 我 你 他 她 们 在 有 不 这 那 也 就 都 和 说 个 到 会 要 去""",
}

# scikit-learn's English list also drops content words that name interests
_NOT_STOP = frozenset({
    "bill", "bottom", "cry", "describe", "detail", "empty", "fill", "fire", "front", "full",
    "interest", "mill", "move", "name", "part", "serious", "show", "side", "sincere",
    "system", "thick", "thin", "top"})

_URL = re.compile(r"https?://\S+|www\.\S+")
_MENTION = re.compile(r"(?<!\w)@\w+")
_HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_KATAKANA = "\u30a0-\u30ff\u31f0-\u31ff\uff66-\uff9f"
_HIRAGANA = "\u3040-\u309f"
_CJK = _HAN + _KATAKANA + _HIRAGANA
_TOKEN = re.compile(rf"([{_HAN}]+)|([{_KATAKANA}]+)|([{_HIRAGANA}]+)"
                    rf"|([^\W{_CJK}]+(?:['’][^\W{_CJK}]+)*)")


def _fold(word: str) -> str:
    """Lowercase without accents or apostrophes (for stop-word matching only)."""
    decomposed = unicodedata.normalize("NFKD", word.lower())
    return "".join(ch for ch in decomposed
                   if not unicodedata.combining(ch) and ch not in "'’")


@lru_cache(maxsize=1)
def stop_words() -> frozenset[str]:
    """All stop words, accent-folded: scikit-learn's English list (less ``_NOT_STOP``) and ours."""
    words = {_fold(w) for w in ENGLISH_STOP_WORDS - _NOT_STOP}
    for text in _STOP_TEXT.values():
        words.update(_fold(w) for w in text.split())
    return frozenset(words)


def tokenize(text: str) -> list[str]:
    """Terms of one text, per the module's rules (stop words removed)."""
    text = unicodedata.normalize("NFKC", text).lower()  # full-width ＡＢＣ -> abc
    text = _MENTION.sub(" ", _URL.sub(" ", text)).replace("#", " ")
    stops = stop_words()
    out: list[str] = []
    for han, kata, _hira, word in _TOKEN.findall(text):
        if han:
            grams = [han] if len(han) == 1 else [han[i:i + 2] for i in range(len(han) - 1)]
            out.extend(g for g in grams if g not in stops)
        elif kata:
            if len(kata) >= 2 and kata.strip("ー・"):
                out.append(kata)
        elif word:
            word = word.strip("_")
            if len(word) >= 2 and not word.replace("_", "").isdigit() \
                    and _fold(word) not in stops:
                out.append(word)
    return out


def make_vectorizer(min_df: int = 1) -> CountVectorizer:
    """A ``CountVectorizer`` using :func:`tokenize` as its analyzer."""
    return CountVectorizer(analyzer=tokenize, min_df=min_df)


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


def top_keywords(docs: Sequence[str | Sequence[str]], labels: Sequence[int] | np.ndarray,
                 n: int = 8, min_df: int = 2) -> dict[int, list[tuple[str, float]]]:
    """The ``n`` most distinctive words of each audience, with their c-TF-IDF scores.

    ``docs`` holds one entry per clip: a string, or its texts (caption, on-screen text,
    transcript) which are joined. ``labels`` gives each clip's audience; clips labelled -1
    count as their own class (so words common among them are not distinctive) but get
    no keywords. Words must occur in at least ``min_df`` clips (relaxed to 1 when that
    leaves no words at all).
    """
    labels = np.asarray(labels)
    if labels.ndim != 1 or len(labels) != len(docs):
        raise ConfigError(f"labels must give one audience per clip: {len(docs)} clips, "
                          f"labels of shape {labels.shape}")
    if not isinstance(n, int) or n < 1:
        raise ConfigError(f"n must be an integer >= 1, got {n!r}")
    if not isinstance(min_df, int) or min_df < 1:
        raise ConfigError(f"min_df must be an integer >= 1, got {min_df!r}")
    labels = labels.astype(np.int64)
    audiences = sorted(int(c) for c in set(labels.tolist()) if c >= 0)
    result: dict[int, list[tuple[str, float]]] = {c: [] for c in audiences}
    if not audiences:
        return result
    texts = [_join(d) for d in docs]
    counts = vocab = None
    for df in dict.fromkeys((min(min_df, len(texts)), 1)):
        vec = make_vectorizer(df)
        try:
            counts = vec.fit_transform(texts)
        except ValueError:  # empty vocabulary
            continue
        vocab = vec.get_feature_names_out()
        break
    if counts is None or vocab is None:
        return result
    classes = sorted(set(labels.tolist()))
    row = {c: i for i, c in enumerate(classes)}
    onehot = sparse.csr_matrix((np.ones(len(labels)), ([row[c] for c in labels.tolist()],
                                                       np.arange(len(labels)))),
                               shape=(len(classes), len(labels)))
    weights = class_tfidf(onehot @ counts).toarray()
    for c in audiences:
        w = weights[row[c]]
        order = np.lexsort((vocab, -w))
        result[c] = [(str(vocab[j]), float(w[j])) for j in order[:n] if w[j] > 0]
    return result


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
    c = c / np.maximum(np.linalg.norm(c, axis=1, keepdims=True), 1e-12)
    t = t / np.maximum(np.linalg.norm(t, axis=1, keepdims=True), 1e-12)
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
