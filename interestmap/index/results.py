"""What an index returns: its audiences, a build's report and a nearest-audience lookup.

Each result is a dataclass with ``as_dict()``, the JSON shape the CLI and the HTTP API
print (kept stable: the API's clients read it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np


@dataclass
class Audience:
    """One audience: a cluster of clips about the same thing, named for people."""

    id: int
    label: str
    size: int
    keywords: list[tuple[str, float]]
    top_topics: list[dict[str, Any]]
    account_shares: dict[str, float]
    exemplars: list[str]
    centroid: np.ndarray
    """Fused-space centroid: block-wise mean of its clips, re-fused."""
    keywords_by_language: dict[str, list[tuple[str, float]]] = field(default_factory=dict)
    """The keywords its clips use in each language (c-TF-IDF within that language)."""
    keyword_languages: dict[str, list[str]] = field(default_factory=dict)
    """Each keyword's languages: those of the audience's clips that use it."""

    def label_for(self, language: str | None = None, n_words: int = 3) -> str:
        """The label, with the keywords in ``language`` first (the stored label when the
        audience has no keywords in that language)."""
        from interestmap.learn.keywords import audience_name, label_keywords, language_code

        if not language or language_code(language) not in self.keywords_by_language:
            return self.label
        topic = self.top_topics[0]["name"] if self.top_topics else None
        return audience_name(label_keywords(self.keywords, self.keywords_by_language,
                                            language), topic, n_words=n_words)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready, without the centroid (as stored in the index's payloads)."""
        return {"id": self.id, "label": self.label, "size": self.size,
                "keywords": [[w, round(float(s), 4)] for w, s in self.keywords],
                "keywords_by_language": {
                    lang: [[w, round(float(s), 4)] for w, s in words]
                    for lang, words in self.keywords_by_language.items()},
                "keyword_languages": self.keyword_languages,
                "top_topics": self.top_topics, "account_shares": self.account_shares,
                "exemplars": self.exemplars}


@dataclass
class BuildReport:
    """What a build did, in numbers."""

    index_dir: Path
    n_clips: int
    n_encoded: int
    """Clips encoded in this run (the rest came from the cache)."""
    n_cached: int
    problems: list[dict[str, str]] = field(default_factory=list)
    n_audiences: int = 0
    outlier_share: float = 0.0
    raw_outlier_share: float = 0.0
    purity: float | None = None
    nmi: float | None = None
    timings_s: dict[str, float] = field(default_factory=dict)
    executor: str = "this process"
    """Where the clips were encoded (e.g. "Ray (2 workers, a local cluster)")."""

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready (what ``interestmap index build --json`` prints)."""
        d = dict(self.__dict__)
        d["index_dir"] = str(self.index_dir)
        return d


@dataclass
class AudienceMatch:
    """One audience a clip reaches: how similar it is, and which blocks make it so."""

    id: int
    label: str
    size: int
    similarity: float
    """Cosine similarity of the clip and the audience's centroid (fused space)."""
    probability: float
    """Membership probability by the index's audience model (the clip's text view)."""
    attribution: dict[str, float]
    """Each block's part of :attr:`similarity` (the parts sum to it)."""
    top_topics: list[dict[str, Any]]
    """The audience's nearest declared topic: id, name, similarity."""

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready (an item of ``audiences`` in ``POST /v1/nearest-audience``)."""
        return {"id": self.id, "label": self.label, "size": self.size,
                "similarity": self.similarity, "probability": self.probability,
                "attribution": dict(self.attribution), "top_topics": list(self.top_topics)}


@dataclass
class ClipMatch:
    """One clip of the index near a query: the exact block-wise similarity."""

    id: str | None
    account: str | None
    caption: str | None
    audience: int | None
    similarity: float

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready (an item of ``clips`` in ``POST /v1/nearest-audience``)."""
        return {"id": self.id, "account": self.account, "caption": self.caption,
                "audience": self.audience, "similarity": self.similarity}


@dataclass
class NearestResult:
    """:meth:`InterestIndex.nearest`: the nearest audiences and clips of one clip, and
    where it lands on the map (``x``, ``y``: None when nothing says what it is about)."""

    audiences: list[AudienceMatch] = field(default_factory=list)
    clips: list[ClipMatch] = field(default_factory=list)
    x: float | None = None
    y: float | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: ``{"audiences": [...], "clips": [...], "x": ..., "y": ...}``."""
        return {"audiences": [a.as_dict() for a in self.audiences],
                "clips": [c.as_dict() for c in self.clips], "x": self.x, "y": self.y}
