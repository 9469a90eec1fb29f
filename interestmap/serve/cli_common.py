"""What the ``interestmap`` commands share: exit codes, the clip and index options,
reading a clip from the options, opening the index, printing JSON."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from interestmap.errors import InterestmapError

EXIT_OK, EXIT_INTERNAL, EXIT_BAD_INPUT, EXIT_INTERRUPTED = 0, 1, 2, 130


@dataclass(frozen=True)
class Command:
    """One sub-command: its name, one-line help, argument builder and runner."""

    name: str
    help: str
    build: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]


def add_clip_options(p: argparse.ArgumentParser) -> None:
    """The options that describe a clip (shared by encode, nearest, analyze, whatif)."""
    p.add_argument("path", nargs="*", type=Path,
                   help="video, audio, or image file(s) (several images = a carousel); "
                        "omit for a caption-only post")
    p.add_argument("--caption", default="", help="caption with hashtags, as posted")
    p.add_argument("--language", default=None, help="language code, e.g. en, ru, pt")
    p.add_argument("--geo", default=None, help='a city or country, or "lat,lon"')
    p.add_argument("--no-ocr", action="store_true", help="skip reading on-screen text")
    p.add_argument("--no-asr", action="store_true", help="skip transcribing speech")


def add_index_options(p: argparse.ArgumentParser) -> None:
    """--index and --qdrant-url: which index a command reads (default: the built-in one)."""
    p.add_argument("--index", type=Path, default=None,
                   help="index folder (default: the embedded default index)")
    p.add_argument("--qdrant-url", default=None, help="Qdrant server of a remote index")


def clip_from_args(args: argparse.Namespace) -> Any:
    from interestmap.clip import Clip

    if not args.path and not (args.caption or "").strip():
        raise InterestmapError("nothing to encode: give a media file, a --caption, or both")
    return Clip.of(args.path or None, caption=args.caption, language=args.language,
                   geo=args.geo)


def print_json(obj: Any) -> None:
    from interestmap.store.payloads import to_jsonable

    json.dump(to_jsonable(obj), sys.stdout, ensure_ascii=False, indent=None)
    sys.stdout.write("\n")


def open_index(args: argparse.Namespace) -> Any:
    from interestmap.index.default import ensure_default_index
    from interestmap.index.interest_index import InterestIndex

    if getattr(args, "index", None):
        return InterestIndex.open(args.index, qdrant_url=getattr(args, "qdrant_url", None))
    return ensure_default_index()


def warn(message: str) -> None:
    print(f"interestmap: warning: {message}", file=sys.stderr)


def add_topic_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--topics", default=None,
                   help="declared topics file (YAML or text) instead of the index's topics")
    p.add_argument("--classifier", default=None, type=Path,
                   help="a topic classifier saved by `classify --save-classifier` (default: "
                        "the one saved with the index, if any)")
    p.add_argument("--zero-shot", action="store_true",
                   help="score topics zero-shot only, ignoring any trained classifier")
    p.add_argument("--k", type=int, default=5, help="how many topics and audiences to show")


def classifier_choice(args: argparse.Namespace) -> Any:
    if getattr(args, "zero_shot", False):
        return None
    if getattr(args, "classifier", None):
        from interestmap.topics.classifier import TopicClassifier

        return TopicClassifier.load(args.classifier)
    return "auto"
