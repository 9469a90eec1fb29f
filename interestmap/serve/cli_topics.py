"""The ``classify`` command: score texts against declared topics, zero-shot or trained on
the user's labels."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from interestmap.errors import InterestmapError
from interestmap.serve.cli_common import (
    EXIT_OK,
    Command,
    open_index,
    warn,
)


def cmd_classify(args: argparse.Namespace) -> int:
    import contextlib
    import time

    from interestmap.topics.catalog import load_topics
    from interestmap.topics.classifier import (
        TopicClassifier,
        load_index_classifier,
        save_index_classifier,
    )
    from interestmap.topics.labelled import read_labelled, resolve_labels, topics_from_labels
    from interestmap.topics.scoring import TopicSpace
    from interestmap.topics.stream import classify_stream

    if args.batch_size < 1:
        raise InterestmapError("--batch-size must be at least 1")
    with contextlib.ExitStack() as stack:
        idx = stack.enter_context(open_index(args)) if args.index else None
        posts = read_labelled(args.train) if args.train else None
        if args.topics:
            topics = load_topics(args.topics)
        elif idx is not None:
            topics = list(idx.topics)
        elif posts is not None:
            topics = topics_from_labels(posts.labels)
        else:
            topics = load_topics()
        if idx is not None:
            text_encoder = idx.encoder.text
        else:
            from interestmap.encoders.registry import get_text_encoder

            text_encoder = get_text_encoder(args.text_encoder)
        own = idx is not None and not args.topics
        space = TopicSpace(topics, text_encoder,
                           text_vectors=idx.topic_vectors if own else None,
                           example_vectors=idx.topic_example_vectors if own else None)
        classifier = None
        if posts is not None:
            labels = resolve_labels(posts, topics, where=f"training file {str(args.train)!r}")
            t0 = time.perf_counter()
            classifier = TopicClassifier(C=args.C, blend=args.blend, text_encoder=text_encoder)
            classifier.fit(posts.texts, labels, zero_shot=space)
            d = classifier.describe()
            if not args.quiet:
                print(f"interestmap: trained on {d['posts']} posts, {len(d['classes'])} topics "
                      f"in {time.perf_counter() - t0:.1f} s (C={d['C']:g}, classifier share "
                      f"{d['blend']:.0%} by cross-validation)", file=sys.stderr)
            if args.save_classifier:
                path = classifier.save(args.save_classifier)
                if not args.quiet:
                    print(f"interestmap: saved the classifier to {path}", file=sys.stderr)
            if idx is not None:
                path = save_index_classifier(idx, classifier)
                if not args.quiet:
                    print(f"interestmap: saved the classifier with the index ({path})",
                          file=sys.stderr)
        elif args.classifier:
            classifier = TopicClassifier.load(args.classifier)
        elif idx is not None:
            classifier = load_index_classifier(idx)
        if args.input is None and sys.stdin.isatty():
            if posts is not None:
                return EXIT_OK  # trained (and saved) only
            raise InterestmapError("nothing to classify: give --input TEXTS.jsonl or pipe "
                                   'JSONL lines like {"id": 1, "text": "..."} into stdin')
        if args.input is not None and not Path(args.input).is_file():
            raise InterestmapError(f"input file {str(args.input)!r} not found")
        stream = (stack.enter_context(open(args.input, encoding="utf-8-sig", errors="replace"))
                  if args.input is not None else sys.stdin)
        stats = classify_stream(stream, sys.stdout, space, classifier, mode=args.mode,
                                blend=args.blend, batch_size=args.batch_size, top=args.top,
                                as_json=args.json, strict=args.strict,
                                min_probability=args.min_probability,
                                max_topics=args.max_topics, warn=warn)
    if not args.quiet and (stats.classified or stats.skipped or posts is None):
        rate = stats.classified / max(stats.seconds, 1e-9)
        print(f"interestmap: classified {stats.classified} texts in {stats.seconds:.1f} s "
              f"({rate:.1f}/s)" + (f"; skipped {stats.skipped} malformed lines"
                                   if stats.skipped else ""), file=sys.stderr)
    return EXIT_OK


def _build_classify(p: argparse.ArgumentParser) -> None:
    from interestmap.topics.scoring import MATCH_MAX_TOPICS, MATCH_MIN_PROBABILITY

    p.description = (
        "Read JSONL lines {\"id\", \"text\"} from --input or stdin and print one result per "
        "line: with --json {\"id\", \"topic\", \"name\", \"score\", \"topics\", \"scores\"}, "
        "else id<TAB>topic<TAB>score<TAB>topics. 'topic' is the likeliest topic, 'topics' "
        "every topic the text is about (see --min-probability; '|'-separated). Texts are scored in batches, in bounded memory. A malformed "
        "line is skipped with a warning naming its line number (--strict stops instead). "
        "--train LABELLED.jsonl ({\"text\", \"label\"} lines; label a topic name or a list) "
        "fits a classifier that is blended with the zero-shot scores.")
    p.add_argument("--topics", default=None,
                   help="declared topics file (YAML or text; default: the index's topics, "
                        "else the training labels, else the shipped atlas)")
    p.add_argument("--train", type=Path, default=None,
                   help='labelled posts, JSONL {"text": ..., "label": ...}, in any language')
    p.add_argument("--input", type=Path, default=None,
                   help='texts to classify, JSONL {"id": ..., "text": ...} (default: stdin)')
    p.add_argument("--json", action="store_true", help="print one JSON object per line")
    p.add_argument("--index", type=Path, default=None,
                   help="use this index's topics, encoder and saved classifier; with "
                        "--train, save the new classifier with it")
    p.add_argument("--qdrant-url", default=None, help="Qdrant server of a remote index")
    p.add_argument("--classifier", type=Path, default=None,
                   help="a classifier saved with --save-classifier")
    p.add_argument("--save-classifier", type=Path, default=None,
                   help="save the classifier trained with --train to this file")
    p.add_argument("--mode", choices=["blend", "zero-shot", "classifier"], default="blend",
                   help="blend (default): zero-shot and classifier mixed by the "
                        "cross-validated share; or either alone")
    p.add_argument("--blend", type=float, default=None,
                   help="classifier share 0-1 (default: chosen by cross-validation)")
    p.add_argument("--C", type=float, default=None,
                   help="classifier regularisation (default: chosen by cross-validation)")
    p.add_argument("--top", type=int, default=None,
                   help="only the best N topics in 'scores' (default: all)")
    p.add_argument("--min-probability", type=float, default=MATCH_MIN_PROBABILITY,
                   help="a text is about every topic with at least this probability, and "
                        f"always about its top one (default {MATCH_MIN_PROBABILITY})")
    p.add_argument("--max-topics", type=int, default=MATCH_MAX_TOPICS,
                   help=f"at most this many topics per text (default {MATCH_MAX_TOPICS})")
    p.add_argument("--batch-size", type=int, default=256, help="texts per batch (default 256)")
    p.add_argument("--text-encoder", default=None,
                   help="text encoder without --index (default: use-m3+e5-small; "
                        "use-m3 alone is ~15x faster, weaker, and has no Greek or Ukrainian)")
    p.add_argument("--strict", action="store_true",
                   help="stop at the first malformed input line instead of skipping it")
    p.add_argument("--quiet", action="store_true", help="no summary on stderr")


COMMANDS = [
    Command("classify", "score texts against declared topics (zero-shot, or trained on your "
                        "labels)", _build_classify, cmd_classify),
]
