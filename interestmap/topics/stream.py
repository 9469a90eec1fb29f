"""Fast batch classification of texts: what ``interestmap classify`` runs.

:func:`classify_stream` reads JSONL ``{"id", "text"}`` lines in batches and writes one
result per line, in bounded memory, with the zero-shot scores of the declared topics,
a :class:`~interestmap.topics.classifier.TopicClassifier`, or their blend.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import IO, Any

import numpy as np

from interestmap.errors import ConfigError, InterestmapError
from interestmap.topics.classifier import TopicClassifier
from interestmap.topics.labelled import parse_json_object
from interestmap.topics.scoring import (
    MATCH_MAX_TOPICS,
    MATCH_MIN_PROBABILITY,
    TopicSpace,
    select_topics,
)


@dataclass
class InputLine:
    """One text to classify and where it came from."""

    line: int
    id: Any
    text: str


def iter_input_batches(stream: Iterable[str], batch_size: int = 256, *,
                       strict: bool = False,
                       warn: Callable[[str], None] | None = None) -> Iterator[list[InputLine]]:
    """JSONL ``{"id", "text"}`` lines in batches; ``id`` defaults to the line number.

    A malformed line (not JSON, no text) is skipped with a warning naming its line, so
    one bad line does not lose a long run; ``strict=True`` raises :class:`ConfigError`
    instead. Blank lines are ignored.
    """
    batch: list[InputLine] = []
    for line_no, raw in enumerate(stream, start=1):
        if not raw.strip():
            continue
        try:
            obj = parse_json_object(raw, line_no, "input")
            text = obj.get("text")
            if not isinstance(text, str) or not text.strip():
                raise ConfigError(f"input, line {line_no}: no \"text\" to classify")
        except ConfigError as e:
            if strict:
                raise
            if warn is not None:
                warn(f"{e}; line skipped")
            continue
        batch.append(InputLine(line_no, obj.get("id", line_no), text))
        if len(batch) >= batch_size:
            yield batch
            batch = []
    if batch:
        yield batch


@dataclass
class ClassifyStats:
    """What a classify run did."""

    classified: int = 0
    skipped: int = 0
    seconds: float = 0.0


def classify_stream(stream: Iterable[str], out: IO[str], space: TopicSpace,
                    classifier: TopicClassifier | None = None, *, mode: str = "blend",
                    blend: float | None = None, batch_size: int = 256, top: int | None = None,
                    as_json: bool = True, strict: bool = False,
                    min_probability: float = MATCH_MIN_PROBABILITY,
                    max_topics: int = MATCH_MAX_TOPICS,
                    warn: Callable[[str], None] | None = None) -> ClassifyStats:
    """Classify JSONL texts from ``stream`` into ``out``, one line per input, in batches.

    ``mode``: ``"zero-shot"``, ``"classifier"`` or ``"blend"`` (the classifier's
    cross-validated blend, or ``blend``). Output lines are JSON ``{"id", "topic",
    "name", "score", "topics", "scores"}`` (``as_json``) or
    ``id<TAB>topic<TAB>score<TAB>topics``: ``topic`` is the likeliest topic, ``topics``
    every topic the text is about (:func:`~interestmap.topics.catalog.select_topics` with
    ``min_probability`` and ``max_topics``; ``|``-separated in the tab form).
    """
    import time

    if mode not in ("zero-shot", "classifier", "blend"):
        raise ConfigError("mode must be 'zero-shot', 'classifier' or 'blend'")
    if mode != "zero-shot" and classifier is None:
        if mode == "classifier":
            raise ConfigError("mode 'classifier' needs a trained classifier: give --train "
                              "or --classifier")
        mode = "zero-shot"
    if classifier is not None:
        classifier.check_encoder(space.text_encoder.info)
    a = {"zero-shot": 0.0, "classifier": 1.0}.get(mode, blend)
    stats = ClassifyStats()
    t0 = time.perf_counter()
    bad = 0

    def _warn(msg: str) -> None:
        nonlocal bad
        bad += 1
        if warn is not None:
            warn(msg)

    select_topics(np.zeros(1), min_probability=min_probability, max_topics=max_topics)
    ids, names = space.ids, [t.name for t in space.topics]
    k = len(ids) if top is None else max(1, min(int(top), len(ids)))
    for batch in iter_input_batches(stream, batch_size, strict=strict, warn=_warn):
        vecs = space.text_encoder.encode([b.text for b in batch], batch_size=64)
        p = space.proba("caption", vecs)
        if classifier is not None and (a is None or a > 0):
            p = classifier.blend_with(p, vecs, ids, blend=a)
        about = select_topics(p, min_probability=min_probability, max_topics=max_topics)
        lines = []
        for item, row, mask in zip(batch, p, about, strict=True):
            order = np.argsort(-row, kind="stable")
            j = int(order[0])
            matched = [ids[i] for i in order if mask[i]]
            if as_json:
                rec = {"id": item.id, "topic": ids[j], "name": names[j],
                       "score": round(float(row[j]), 4), "topics": matched,
                       "scores": {ids[i]: round(float(row[i]), 4) for i in order[:k]}}
                lines.append(json.dumps(rec, ensure_ascii=False))
            else:
                lines.append(f"{item.id}\t{ids[j]}\t{row[j]:.3f}\t{'|'.join(matched)}")
        out.write("\n".join(lines) + "\n")
        out.flush()
        stats.classified += len(batch)
    stats.skipped = bad
    stats.seconds = time.perf_counter() - t0
    if stats.classified == 0 and bad:
        raise InterestmapError(f"no line could be classified ({bad} malformed): each line must "
                               'be a JSON object like {"id": 1, "text": "..."}')
    return stats
