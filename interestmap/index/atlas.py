"""The built-in topic atlas as a corpus: example posts spread over several accounts.

The embedded default index maps the declared topics' example posts (``topics.yaml``,
written for interestmap in many languages) as clips, one audience per topic. Its
accounts come from ``atlas_accounts.yaml``: made-up creators, each with its own mix of
topics, so the map has competitors that overlap and audiences nobody covers.

Where real posts are at hand, the atlas can take them in too: with
``INTERESTMAP_ATLAS_DATA`` (or ``data=``) pointing at a folder laid out like the shared
data (``xtopic/{en,es,gr,ja}/*_1000.jsonl`` and its ``LICENCE``), X-Topic tweets with a
single topic label join the atlas under the accounts that post on that topic, and the
index records the data set, its license and its license file (``about.sources`` in the
manifest; the app shows them). Nothing here needs that folder: without it the atlas is
the example posts alone, the same on every machine.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from interestmap.clip import Clip
from interestmap.errors import ConfigError

if TYPE_CHECKING:
    from interestmap.topics.catalog import Topic

ATLAS_DATA_ENV = "INTERESTMAP_ATLAS_DATA"
"""Environment setting: a folder of real posts to add to the built-in atlas."""
FALLBACK_ACCOUNT = "everyday.voices"
"""Account of the example posts of a topic that no atlas account lists."""
XTOPIC_PER_TOPIC_AND_LANGUAGE = 3
"""At most this many X-Topic tweets per atlas topic and language (keeps the build quick)."""
_XTOPIC_LANGS = {"en": "en", "es": "es", "gr": "el", "ja": "ja"}
_FIRST_DAY = date(2026, 1, 5)


@dataclass
class AtlasAccount:
    """A made-up account of the atlas: its handle, who it is, its topic mix."""

    handle: str
    about: str = ""
    topics: dict[str, float] = field(default_factory=dict)


def accounts_path() -> Path:
    """Path of the shipped atlas accounts (YAML)."""
    return Path(str(resources.files("interestmap").joinpath("data/atlas_accounts.yaml")))


def load_accounts(path: str | Path | None = None) -> list[AtlasAccount]:
    """The atlas's accounts; a clear error for a malformed file."""
    import yaml

    p = Path(path) if path else accounts_path()
    try:
        raw = yaml.safe_load(p.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as e:
        raise ConfigError(f"cannot read the atlas accounts {str(p)!r}: {e}") from None
    out = []
    for i, a in enumerate((raw or {}).get("accounts") or []):
        if not isinstance(a, dict) or not a.get("handle"):
            raise ConfigError(f"atlas account #{i + 1} in {p.name} has no handle")
        topics = {str(k): float(v) for k, v in (a.get("topics") or {}).items()}
        if any(v <= 0 for v in topics.values()):
            raise ConfigError(f"atlas account {a['handle']!r}: topic weights must be > 0")
        out.append(AtlasAccount(str(a["handle"]), str(a.get("about", "")), topics))
    if not out:
        raise ConfigError(f"{p.name} lists no accounts")
    return out


class _Dealer:
    """Deals a topic's posts to its accounts in proportion to their weights (smooth
    weighted round-robin: deterministic, and every account gets its share early)."""

    def __init__(self, weights: dict[str, float]) -> None:
        self.weights = weights
        self.current = dict.fromkeys(weights, 0.0)

    def next(self) -> str:
        total = sum(self.weights.values())
        for k, w in self.weights.items():
            self.current[k] += w
        best = max(self.current, key=lambda k: (self.current[k], k))
        self.current[best] -= total
        return best


def atlas_clips(topics: str | Path | None = None, data: str | Path | None = None,
                accounts: str | Path | None = None) -> list[Clip]:
    """The atlas corpus: each topic's example posts (and, with ``data``, real X-Topic
    posts), labelled with the topic, each from one of the atlas accounts."""
    from interestmap.topics.catalog import load_topics

    topic_list = load_topics(topics)
    accs = load_accounts(accounts)
    dealers = {}
    for t in topic_list:
        weights = {a.handle: a.topics[t.id] for a in accs if t.id in a.topics}
        dealers[t.id] = _Dealer(weights or {FALLBACK_ACCOUNT: 1.0})
    clips = []
    for t in topic_list:
        for j, ex in enumerate(t.examples):
            clips.append(Clip(caption=ex, id=f"{t.id}-{j}", account=dealers[t.id].next(),
                              labels=[t.id]))
    if data is not None:
        for tid, lang, row in xtopic_posts(data, topic_list):
            clips.append(Clip(caption=row["text"], id=f"xtopic-{lang}-{row['id']}",
                              account=dealers[tid].next(), labels=[tid], language=lang))
    for i, c in enumerate(clips):  # a spread of posting dates, the same on every machine
        c.published_at = (_FIRST_DAY + timedelta(days=(i * 37) % 150)).isoformat()
    return clips


def xtopic_posts(data: str | Path, topic_list: Sequence[Topic]
                 ) -> list[tuple[str, str, dict[str, Any]]]:
    """``(atlas topic id, language, tweet)`` for X-Topic tweets with one topic label that
    is an atlas topic's main label (the first of its ``xtopic``; a label that no topic
    has first counts for every topic listing it); where several atlas topics have that
    label, the one whose example posts share most words with the tweet (none: the tweet
    is left out). Main labels only, so that a tweet labelled only "diaries & daily life"
    is not filed under Cooking, which lists that label second."""
    from interestmap.learn.keywords import tokenize
    from interestmap.topics.catalog import xtopic_label

    root = Path(data).expanduser() / "xtopic"
    if not root.is_dir():
        raise ConfigError(f"no X-Topic posts under {str(Path(data))!r} (expected "
                          "xtopic/<lang>/<lang>_1000.jsonl)")
    main: dict[str, list[Topic]] = {}
    listed: dict[str, list[Topic]] = {}
    for t in topic_list:
        for j, lab in enumerate(t.xtopic):
            (listed if j else main).setdefault(lab.lower(), []).append(t)
    by_label = {**listed, **main}
    vocab = {t.id: set(tokenize(" ".join([t.name, t.description, *t.examples])))
             for t in topic_list}
    out = []
    for folder, lang in _XTOPIC_LANGS.items():
        path = root / folder / f"{folder}_1000.jsonl"
        if not path.is_file():
            continue
        taken: dict[str, int] = {}
        with open(path, encoding="utf-8") as fh:
            for line in fh:
                row = json.loads(line)
                labels = [xtopic_label(str(x)) or str(x).lower() for x in row.get("topics", [])]
                if len(labels) != 1 or labels[0] not in by_label:
                    continue
                words = set(tokenize(row.get("text", ""), lang))
                cands = by_label[labels[0]]
                scored = sorted(((len(words & vocab[t.id]), i, t) for i, t in enumerate(cands)),
                                key=lambda s: (-s[0], s[1]))
                best, _, topic = scored[0]
                if len(cands) > 1 and best == 0:
                    continue
                if taken.get(topic.id, 0) >= XTOPIC_PER_TOPIC_AND_LANGUAGE:
                    continue
                taken[topic.id] = taken.get(topic.id, 0) + 1
                out.append((topic.id, lang, row))
    return out


def atlas_data_dir() -> Path | None:
    """The folder of real posts set by ``INTERESTMAP_ATLAS_DATA`` (None: not set)."""
    v = os.environ.get(ATLAS_DATA_ENV, "").strip()
    return Path(v).expanduser() if v else None


def atlas_sources(data: str | Path | None = None) -> list[dict[str, str]]:
    """Where the atlas's posts come from, with their licenses (for the index manifest)."""
    out = [{"name": "interestmap example posts", "license": "Apache-2.0",
            "note": "written for interestmap (topics.yaml); accounts are made up "
                    "(atlas_accounts.yaml)"}]
    if data is not None:
        lic = Path(data).expanduser() / "xtopic" / "LICENCE"
        out.append({"name": "X-Topic (TweetTopic-XL, EMNLP 2024)", "license": "MIT",
                    "license_file": str(lic.resolve()) if lic.is_file() else "",
                    "note": "tweet text is X content; single-label tweets only"})
    return out


def atlas_recipe(topics: str | Path | None = None, data: str | Path | None = None) -> str:
    """A fingerprint of what the atlas is built from: the topics file, the accounts file
    and the data folder's posts. A default index with another recipe is rebuilt."""
    from interestmap.topics.catalog import default_topics_path

    h = hashlib.sha256()
    for p in (Path(topics) if topics else default_topics_path(), accounts_path()):
        h.update(p.read_bytes())
    if data is not None:
        root = Path(data).expanduser() / "xtopic"
        for p in sorted(root.glob("*/*_1000.jsonl")):
            st = p.stat()
            h.update(f"{p.name}|{st.st_size}|{st.st_mtime_ns}".encode())
    h.update(str(XTOPIC_PER_TOPIC_AND_LANGUAGE).encode())
    return h.hexdigest()[:16]
