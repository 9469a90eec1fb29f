"""Labelled training posts: reading ``{"text", "label"}`` JSONL, and matching labels to
declared topics.

What ``interestmap classify --train`` reads before a
:class:`~interestmap.topics.classifier.TopicClassifier` is fitted. Training data is small
and should be right, so the first malformed line stops the read with its line number.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from interestmap.errors import ConfigError
from interestmap.topics.catalog import Topic, slugify


@dataclass
class LabelledPosts:
    """Training posts: texts, their label lists, and the line each came from."""

    texts: list[str]
    labels: list[list[str]]
    lines: list[int]


def read_labelled(path: str | Path) -> LabelledPosts:
    """Read JSONL ``{"text", "label"}`` lines (``label`` a name or a list of names).

    Raises :class:`ConfigError` naming the line of the first malformed one: training
    data is small and should be right, unlike a stream of texts to classify.
    """
    p = Path(path).expanduser()
    where = f"training file {str(p)!r}"
    if not p.is_file():
        raise ConfigError(f"{where} not found: give a JSONL file of "
                          '{"text": ..., "label": ...} lines')
    texts, labels, lines = [], [], []
    try:
        with p.open(encoding="utf-8-sig") as f:
            for line_no, raw in enumerate(f, start=1):
                if not raw.strip():
                    continue
                obj = parse_json_object(raw, line_no, where)
                text = obj.get("text")
                if not isinstance(text, str) or not text.strip():
                    raise ConfigError(f"{where}, line {line_no}: no \"text\"; every line needs "
                                      '{"text": ..., "label": ...}')
                lab = obj.get("label", obj.get("labels"))
                if isinstance(lab, str | int) and str(lab).strip():
                    labs = [str(lab).strip()]
                elif isinstance(lab, list) and lab and all(
                        isinstance(x, str | int) and str(x).strip() for x in lab):
                    labs = [str(x).strip() for x in lab]
                else:
                    raise ConfigError(f"{where}, line {line_no}: \"label\" must be a topic name "
                                      "or a list of topic names")
                texts.append(text)
                labels.append(labs)
                lines.append(line_no)
    except UnicodeDecodeError:
        raise ConfigError(f"{where} is not UTF-8 text: save it as UTF-8") from None
    except OSError as e:
        raise ConfigError(f"cannot read {where}: {e.strerror or e}") from None
    if not texts:
        raise ConfigError(f"{where} has no labelled posts")
    return LabelledPosts(texts, labels, lines)


def parse_json_object(raw: str, line_no: int, where: str) -> dict[str, Any]:
    """One JSONL line as a JSON object, or a :class:`ConfigError` naming ``where`` and the
    line."""
    try:
        obj = json.loads(raw)
    except json.JSONDecodeError as e:
        raise ConfigError(f"{where}, line {line_no}: not valid JSON ({e.msg} at column "
                          f"{e.colno})") from None
    if not isinstance(obj, dict):
        raise ConfigError(f"{where}, line {line_no}: expected a JSON object, got "
                          f"{type(obj).__name__}")
    return obj


def _key(label: str) -> str:
    return slugify(label) or label.casefold().strip()


def topics_from_labels(labels: Iterable[Sequence[str]]) -> list[Topic]:
    """One topic per distinct label (in order of first use), named and id'd as written."""
    seen: dict[str, Topic] = {}
    for labs in labels:
        for lab in labs:
            seen.setdefault(_key(lab), Topic(id=lab, name=lab, description=lab))
    return list(seen.values())


def resolve_labels(posts: LabelledPosts, topics: Sequence[Topic],
                   where: str = "the training file") -> list[list[str]]:
    """Each post's labels as topic ids; a label may be a topic's id or name (any case).

    Raises :class:`ConfigError` naming the line of a label that is no declared topic.
    """
    lookup: dict[str, str] = {}
    for t in topics:
        lookup.setdefault(_key(t.id), t.id)
        lookup.setdefault(_key(t.name), t.id)
    out = []
    for labs, line in zip(posts.labels, posts.lines, strict=True):
        ids = []
        for lab in labs:
            tid = lookup.get(_key(lab))
            if tid is None:
                shown = ", ".join(t.name for t in topics[:8]) + (", ..." if len(topics) > 8 else "")
                raise ConfigError(f"{where}, line {line}: label {lab!r} is not one of the "
                                  f"declared topics ({shown}); use a topic's name or id")
            if tid not in ids:
                ids.append(tid)
        out.append(ids)
    return out
