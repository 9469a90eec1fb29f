"""Declared topics: the interests a creator wants a clip to reach.

The shipped default is an atlas of ~35 Instagram/TikTok-style topics
(``interestmap/data/topics.yaml``). Users can bring their own as YAML (same schema) or as
a plain text file, one topic per line. How topics are embedded is in
:mod:`interestmap.topics.embed`, calibrated in :mod:`interestmap.topics.calibration`, and
how clips are scored against them in :mod:`interestmap.topics.scoring`.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from interestmap.errors import ConfigError

XTOPIC_LABELS: tuple[str, ...] = (
    "arts & culture", "business & entrepreneurs", "celebrity & pop culture",
    "diaries & daily life", "family", "fashion & style", "film tv & video",
    "fitness & health", "food & dining", "gaming", "learning & educational", "music",
    "news & social concern", "other hobbies", "relationships", "science & technology",
    "sports", "travel & adventure", "youth & student life",
)
"""The 19 topics of the X-Topic (TweetTopic-XL) data set, spelled as its README does.

Its ``topics`` field writes them in title case ("Film, TV & Video"), its columns with
underscores ("film_tv_&_video"); :func:`xtopic_label` maps both to these.
"""

TOPIC_FIELDS: tuple[str, ...] = ("id", "name", "description", "examples", "xtopic",
                                 "sounds", "visuals")


@dataclass
class Topic:
    """One declared topic.

    ``description`` is one plain sentence (what zero-shot scoring embeds); ``examples``
    are short posts on the topic; ``sounds`` and ``visuals`` are words typical of its
    audio and pictures; ``xtopic`` names the matching X-Topic labels, for evaluation.
    """

    id: str
    name: str
    description: str = ""
    examples: list[str] = field(default_factory=list)
    xtopic: list[str] = field(default_factory=list)
    sounds: list[str] = field(default_factory=list)
    visuals: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {f: getattr(self, f) for f in TOPIC_FIELDS}


def default_topics_path() -> Path:
    """Path of the shipped declared-topic atlas (YAML)."""
    return Path(str(resources.files("interestmap").joinpath("data/topics.yaml")))


def slugify(name: str) -> str:
    """A topic id from its name: "Cooking & recipes" -> "cooking-recipes", "Футбол" -> "футбол"."""
    text = unicodedata.normalize("NFKD", name)
    text = "".join(ch for ch in text if unicodedata.category(ch) != "Mn").casefold()
    text = text.replace("&", " ").replace("'", "")
    return re.sub(r"[\W_]+", "-", text).strip("-")


def xtopic_label(label: str) -> str | None:
    """Any spelling of an X-Topic label ("Film, TV & Video", "film_tv_&_video") -> canonical."""
    key = re.sub(r"[\s_,]+", " ", label.casefold()).strip()
    return key if key in XTOPIC_LABELS else None


def load_topics(source: str | Path | None = None) -> list[Topic]:
    """Declared topics from the shipped atlas (None), a YAML file or a plain text file.

    YAML: a list of topics, or a mapping with a ``topics:`` list; each topic a mapping
    with ``name`` (required) and optionally ``id`` (derived from the name when absent),
    ``description``, ``examples``, ``xtopic``, ``sounds``, ``visuals``. A topic may also be
    a bare string (its name). Text: one topic per line, ``Name`` or ``Name: description``;
    blank lines and ``#`` comments are skipped. Files ending in .yaml/.yml/.json are
    read as YAML, anything else as text.

    Raises :class:`ConfigError` with a one-line reason (file missing, bad YAML with its
    line, no topics, a topic without a name, duplicate ids, unknown fields).
    """
    path = default_topics_path() if source is None else Path(source).expanduser()
    where = "the shipped topic atlas" if source is None else f"topics file {str(path)!r}"
    if not path.is_file():
        raise ConfigError(f"{where} not found: give a .yaml or .txt file of topics")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise ConfigError(f"{where} is not UTF-8 text: save it as UTF-8 and try again") from None
    except OSError as e:
        raise ConfigError(f"cannot read {where}: {e.strerror or e}") from None
    if path.suffix.lower() in (".yaml", ".yml", ".json"):
        entries = _entries_from_yaml(text, where)
    else:
        entries = _entries_from_text(text)
    if not entries:
        raise ConfigError(f"{where} has no topics: write one topic per line "
                          "(Name or Name: description), or a YAML list of topics")
    topics = [_topic(raw, line, where) for raw, line in entries]
    _check_unique(topics, [line for _, line in entries], where)
    return topics


class _LineLoader(yaml.SafeLoader):
    """SafeLoader that records the line of each mapping (as ``__line__``)."""


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> dict[str, Any]:
    mapping = loader.construct_mapping(node, deep=True)
    mapping["__line__"] = node.start_mark.line + 1
    return mapping


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _entries_from_yaml(text: str, where: str) -> list[tuple[Any, int]]:
    try:
        doc = yaml.load(text, Loader=_LineLoader)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        at = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise ConfigError(f"{where} is not valid YAML{at} ({problem}): check the quotes, "
                          "brackets and indentation there") from None
    if doc is None:
        return []
    if isinstance(doc, dict):
        if "topics" not in doc:
            raise ConfigError(f"{where} has no 'topics:' list: write a YAML list of topics, "
                              "or put them under 'topics:'")
        doc = doc["topics"] or []
    if not isinstance(doc, list):
        raise ConfigError(f"{where}: 'topics' must be a list of topics, got "
                          f"{type(doc).__name__}")
    out = []
    for i, item in enumerate(doc):
        line = item.get("__line__", 0) if isinstance(item, dict) else 0
        out.append((item, line or i + 1))
    return out


def _entries_from_text(text: str) -> list[tuple[Any, int]]:
    out: list[tuple[Any, int]] = []
    for line_no, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, description = line.partition(":")
        entry: dict[str, Any] = {"name": name.strip()}
        if sep and description.strip():
            entry["description"] = description.strip()
        out.append((entry, line_no))
    return out


def _str_list(value: Any, key: str, label: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        value = value.split(",") if key in ("sounds", "visuals", "xtopic") else [value]
    if not isinstance(value, list) or not all(isinstance(v, str | int | float) for v in value):
        raise ConfigError(f"{label}: '{key}' must be a list of texts")
    return [str(v).strip() for v in value if str(v).strip()]


def _topic(raw: Any, line: int, where: str) -> Topic:
    if isinstance(raw, str):
        raw = {"name": raw}
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}, topic at line {line}: expected a name or a mapping with "
                          f"'name', got {type(raw).__name__}")
    raw = {k: v for k, v in raw.items() if k != "__line__"}
    label = f"{where}, topic at line {line}"
    unknown = sorted(str(k) for k in raw if k not in TOPIC_FIELDS)
    if unknown:
        raise ConfigError(f"{label}: unknown field(s) {unknown}; fields are "
                          f"{', '.join(TOPIC_FIELDS)}")
    name = raw.get("name")
    if not isinstance(name, str | int | float) or not str(name).strip():
        raise ConfigError(f"{label} has no name: give every topic a 'name'")
    name = str(name).strip()
    label = f"{where}, topic {name!r} (line {line})"
    topic_id = str(raw.get("id") or "").strip() or slugify(name)
    if not topic_id:
        raise ConfigError(f"{label}: cannot make an id from its name; give it an 'id'")
    description = raw.get("description")
    if description is not None and not isinstance(description, str):
        raise ConfigError(f"{label}: 'description' must be one sentence of text")
    xtopic = []
    for x in _str_list(raw.get("xtopic"), "xtopic", label):
        canonical = xtopic_label(x)
        if canonical is None:
            raise ConfigError(f"{label}: unknown X-Topic label {x!r}; use one of "
                              f"{', '.join(XTOPIC_LABELS)}")
        xtopic.append(canonical)
    return Topic(
        id=topic_id,
        name=name,
        description=(description or "").strip() or name,
        examples=_str_list(raw.get("examples"), "examples", label),
        xtopic=xtopic,
        sounds=_str_list(raw.get("sounds"), "sounds", label),
        visuals=_str_list(raw.get("visuals"), "visuals", label),
    )


def _check_unique(topics: list[Topic], lines: list[int], where: str) -> None:
    seen: dict[str, tuple[Topic, int]] = {}
    for topic, line in zip(topics, lines, strict=True):
        if topic.id in seen:
            other, other_line = seen[topic.id]
            raise ConfigError(
                f"{where}: topics {other.name!r} (line {other_line}) and {topic.name!r} "
                f"(line {line}) have the same id {topic.id!r}: rename one or give it its own id")
        seen[topic.id] = (topic, line)

