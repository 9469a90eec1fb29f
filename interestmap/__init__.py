"""interestmap: see which audiences and declared topics a short clip will reach, before posting.

The public API, in five lines::

    from interestmap import Clip, InterestIndex, build_index
    index = build_index("clips.jsonl", "indexes/mine")      # returns the opened index
    report = index.analyze(Clip.of("reel.mp4", caption="...", geo="Rome"))
    report.clarity.score, report.audiences[0].label, report.whatif(geo="Madrid").moved

``ensure_default_index()`` opens the built-in atlas index (declared topics, no corpus needed).
Names are imported on first use, so ``import interestmap`` stays cheap.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS: dict[str, str] = {
    # clips
    "Clip": "interestmap.clip",
    "EncodedClip": "interestmap.clip",
    "ClipEncoder": "interestmap.encoders.pipeline",
    # indexes
    "InterestIndex": "interestmap.index.interest_index",
    "build_index": "interestmap.index.build",
    "ensure_default_index": "interestmap.index.default",
    "Audience": "interestmap.index.results",
    "AudienceMatch": "interestmap.index.results",
    "BuildReport": "interestmap.index.results",
    "ClipMatch": "interestmap.index.results",
    "NearestResult": "interestmap.index.results",
    # one clip
    "analyze": "interestmap.analysis.analyze",
    "ClipAnalysis": "interestmap.analysis.analyze",
    "Clarity": "interestmap.analysis.analyze",
    "ModalityAgreement": "interestmap.analysis.analyze",
    "BlockReading": "interestmap.analysis.analyze",
    "Advice": "interestmap.analysis.advice",
    "whatif": "interestmap.analysis.whatif",
    "Edit": "interestmap.analysis.whatif",
    "AudienceMove": "interestmap.analysis.whatif",
    "Variant": "interestmap.analysis.whatif",
    "WhatIfReport": "interestmap.analysis.whatif",
    # estimators (scikit-learn API) to pass or reuse
    "AudienceClusterer": "interestmap.learn.clusters",
    "MapProjector": "interestmap.learn.projection",
    "TopicClassifier": "interestmap.topics.classifier",
    # errors
    "InterestmapError": "interestmap.errors",
    "NotFittedError": "interestmap.learn.validation",
    "ConfigError": "interestmap.errors",
}

__all__ = [
    "__version__",
    "Clip",
    "EncodedClip",
    "ClipEncoder",
    "InterestIndex",
    "build_index",
    "ensure_default_index",
    "Audience",
    "AudienceMatch",
    "BuildReport",
    "ClipMatch",
    "NearestResult",
    "analyze",
    "ClipAnalysis",
    "Clarity",
    "ModalityAgreement",
    "BlockReading",
    "Advice",
    "whatif",
    "Edit",
    "AudienceMove",
    "Variant",
    "WhatIfReport",
    "AudienceClusterer",
    "MapProjector",
    "TopicClassifier",
    "InterestmapError",
    "ConfigError",
    "NotFittedError",
]
"""The public names (each imported from the module named in ``_EXPORTS``)."""

if TYPE_CHECKING:
    from interestmap.analysis.advice import Advice
    from interestmap.analysis.analyze import (
        BlockReading,
        Clarity,
        ClipAnalysis,
        ModalityAgreement,
        analyze,
    )
    from interestmap.analysis.whatif import AudienceMove, Edit, Variant, WhatIfReport, whatif
    from interestmap.clip import Clip, EncodedClip
    from interestmap.encoders.pipeline import ClipEncoder
    from interestmap.errors import ConfigError, InterestmapError
    from interestmap.index.build import build_index
    from interestmap.index.default import ensure_default_index
    from interestmap.index.interest_index import InterestIndex
    from interestmap.index.results import (
        Audience,
        AudienceMatch,
        BuildReport,
        ClipMatch,
        NearestResult,
    )
    from interestmap.learn.clusters import AudienceClusterer
    from interestmap.learn.projection import MapProjector
    from interestmap.learn.validation import NotFittedError
    from interestmap.topics.classifier import TopicClassifier


def __getattr__(name: str) -> Any:
    """Import a public name from its module the first time it is used."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'interestmap' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
