"""The ``interestmap`` command line: the same library calls the app and the API use.

Every command prints a one-line message on stderr and exits with code 2 on bad input.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from interestmap.errors import InterestmapError

EXIT_OK, EXIT_INTERNAL, EXIT_BAD_INPUT, EXIT_INTERRUPTED = 0, 1, 2, 130


def _add_clip_options(p: argparse.ArgumentParser) -> None:
    """The options that describe a clip (shared by encode, nearest, analyze, whatif)."""
    p.add_argument("path", nargs="*", type=Path,
                   help="video, audio, or image file(s) (several images = a carousel); "
                        "omit for a caption-only post")
    p.add_argument("--caption", default="", help="caption with hashtags, as posted")
    p.add_argument("--language", default=None, help="language code, e.g. en, ru, pt")
    p.add_argument("--geo", default=None, help='a city or country, or "lat,lon"')
    p.add_argument("--no-ocr", action="store_true", help="skip reading on-screen text")
    p.add_argument("--no-asr", action="store_true", help="skip transcribing speech")


def _add_index_options(p: argparse.ArgumentParser) -> None:
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


def _print_json(obj: Any) -> None:
    from interestmap.store.interface import to_jsonable

    json.dump(to_jsonable(obj), sys.stdout, ensure_ascii=False, indent=None)
    sys.stdout.write("\n")


# Commands -----------------------------------------------------------------------------
def cmd_encode(args: argparse.Namespace) -> int:
    import numpy as np

    from interestmap.encoders.pipeline import ClipEncoder, describe

    clip = clip_from_args(args)
    encoder = ClipEncoder(ocr=not args.no_ocr, asr=not args.no_asr)
    encoded = encoder.encode(clip)
    if args.out:
        out = Path(args.out)
        tmp = out.with_name(out.name + ".tmp.npy")
        np.save(tmp, encoded.fused)
        os.replace(tmp, out)
    summary = describe(encoded, encoder.layout)
    if args.json:
        _print_json(summary)
    else:
        _print_encode_summary(summary, args.out)
    return EXIT_OK


def _print_encode_summary(s: dict[str, Any], out: str | None) -> None:
    print(f"{s['media_kind']} clip -> {s['vector_dim']}-d interest vector")
    for name, b in s["blocks"].items():
        mark = "yes" if b["present"] else f"no ({b['missing']})"
        enc = b["encoder"].get("name", "") if b["present"] else ""
        print(f"  {name:<17} {mark}  {enc}")
    sig = s["signals"]
    print(f"  language: {sig['language'] or 'unknown'} (from {sig['language_source']})")
    if sig["ocr_text"]:
        print(f"  on-screen text: {sig['ocr_text'][:120]}")
    if sig["transcript"]:
        print(f"  speech: {sig['transcript'][:120]}")
    for n in s["notes"]:
        print(f"  note: {n}")
    if out:
        print(f"saved the vector to {out}")


COMMANDS: dict[str, tuple[str, Callable[[argparse.ArgumentParser], None],
                          Callable[[argparse.Namespace], int]]] = {}


def command(name: str, help_: str) -> Callable[[Callable[[argparse.ArgumentParser], None]],
                                               Callable[[argparse.ArgumentParser], None]]:
    """Register a sub-command's argument builder; its runner is ``cmd_<name>``."""
    def deco(build: Callable[[argparse.ArgumentParser], None]) -> Callable[..., None]:
        COMMANDS[name] = (help_, build, globals()[f"cmd_{name.replace('-', '_')}"])
        return build
    return deco


@command("encode", "encode one clip into its fused interest vector")
def _build_encode(p: argparse.ArgumentParser) -> None:
    _add_clip_options(p)
    p.add_argument("--out", default=None, help="save the fused vector to this .npy file")
    p.add_argument("--json", action="store_true", help="print one JSON object")


# Index commands -------------------------------------------------------------------------
def _open_index(args: argparse.Namespace) -> Any:
    from interestmap.index.core import InterestIndex, ensure_default_index

    if getattr(args, "index", None):
        return InterestIndex.open(args.index, qdrant_url=getattr(args, "qdrant_url", None))
    return ensure_default_index()


def _cli_progress() -> Callable[[str, int, int], None]:
    """A progress callback that draws one tqdm bar per build stage on stderr.

    The encode bar counts clips (those already in the encode cache are its starting
    point, so its rate is clips/s encoded now) and shows the time left.
    """
    from tqdm.auto import tqdm

    bars: dict[str, Any] = {}
    names = {"read": "reading corpus", "encode": "encoding clips", "audiences": "audiences",
             "map": "map", "write": "writing index"}

    def progress(stage: str, done: int, total: int) -> None:
        bar = bars.get(stage)
        if bar is None:
            if stage == "encode" and done >= total:
                bars[stage] = None  # nothing to encode: no bar
                return
            fmt = ("{l_bar}{bar}| {n_fmt}/{total_fmt} clips [{elapsed}<{remaining} left, "
                   "{rate_noinv_fmt}]") if stage == "encode" else None
            bar = bars[stage] = tqdm(total=total, initial=done, desc=names.get(stage, stage),
                                     unit="clip" if stage == "encode" else "step",
                                     file=sys.stderr, leave=True, smoothing=0.1,
                                     bar_format=fmt)
        if bar.disable or bar.n >= bar.total:
            return
        bar.update(max(0, done - bar.n))
        if done >= total:
            bar.close()

    return progress


def build_summary(report: Any) -> str:
    """One line on the encoding of a build: how many clips, how long, how fast, where."""
    secs = float(report.timings_s.get("encode", 0.0))
    rate = report.n_encoded / secs if secs > 0 and report.n_encoded else 0.0
    took = f"{int(secs // 60)} min {secs % 60:.0f} s" if secs >= 60 else f"{secs:.1f} s"
    line = (f"encoded {report.n_encoded} clip{'s' if report.n_encoded != 1 else ''} in {took}"
            + (f" ({rate:.2f} clips/s)" if rate else "")
            + f" on {report.executor}; {report.n_cached} from the cache, "
              f"{len(report.problems)} skipped")
    return line


def cmd_index(args: argparse.Namespace) -> int:
    from interestmap.index.core import build_index

    if args.index_command == "build":
        report = build_index(args.source, args.index, qdrant_url=args.qdrant_url,
                             topics=args.topics, min_cluster_size=args.min_cluster_size,
                             progress=None if args.quiet else _cli_progress(),
                             executor=args.executor, ray_address=args.ray_address)
        for p in report.problems:
            print(f"skipped {p['where']}: {p['message']}", file=sys.stderr)
        if not args.quiet:
            print(build_summary(report), file=sys.stderr)
        if args.json:
            _print_json(report.as_dict())
        else:
            print(f"index at {report.index_dir}: {report.n_clips} clips "
                  f"({report.n_encoded} encoded now, {report.n_cached} from cache), "
                  f"{report.n_audiences} audiences, {report.outlier_share:.1%} outliers, "
                  f"{len(report.problems)} skipped")
            if report.purity is not None:
                print(f"purity against labels {report.purity:.2f}, NMI {report.nmi:.2f}")
        return EXIT_OK
    with _open_index(args) as idx:
        if args.index_command == "info":
            info = idx.info()
            if args.json:
                _print_json(info)
            else:
                print(f"{info['counts'].get('clips', 0)} clips, "
                      f"{len(info['audiences'])} audiences, "
                      f"{(info['outlier_share'] or 0):.1%} outliers")
                for a in info["audiences"]:
                    top = a["top_topics"][0]["name"] if a["top_topics"] else "-"
                    words = ", ".join(w for w, _ in a["keywords"][:5])
                    print(f"  [{a['id']:>3}] {a['label']:<40} {a['size']:>6} clips  "
                          f"topic: {top}  ({words})")
        elif args.index_command == "clips":
            for p in idx.clips_frame():
                _print_json({k: p.get(k) for k in ("id", "account", "audience", "probability",
                                                     "x", "y")}
                            | {"probability": p.get("audience_probability")})
    return EXIT_OK


@command("index", "build an index of a corpus, or inspect one")
def _build_index_cmd(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="index_command", metavar="ACTION", required=True)
    b = sub.add_parser("build", help="encode a folder or manifest and map its audiences")
    b.add_argument("source", type=Path, help="a folder of media files, or a CSV/JSONL manifest")
    b.add_argument("--index", required=True, type=Path, help="index folder to write")
    b.add_argument("--qdrant-url", default=None,
                   help="store vectors in this Qdrant server instead of the folder")
    b.add_argument("--topics", default=None, help="declared topics file (YAML or text)")
    b.add_argument("--min-cluster-size", type=int, default=None,
                   help="smallest audience, in clips (default: scaled with the corpus)")
    b.add_argument("--executor", choices=("local", "ray"), default="local",
                   help="where clips are encoded: this process (default), or a Ray cluster "
                        "(needs pip install 'interestmap[ray]')")
    b.add_argument("--ray-address", default=None, metavar="ADDR",
                   help="Ray cluster to use with --executor ray (default: $RAY_ADDRESS, "
                        "else a local cluster on this machine)")
    b.add_argument("--json", action="store_true", help="print the build report as JSON")
    b.add_argument("--quiet", action="store_true", help="no progress bars")
    for name, help_ in (("info", "audiences, outliers and encoders of an index"),
                        ("clips", "one JSON line per clip: id, account, audience, x, y")):
        q = sub.add_parser(name, help=help_)
        _add_index_options(q)
        q.add_argument("--json", action="store_true", help="print JSON")


def cmd_nearest(args: argparse.Namespace) -> int:
    clip = clip_from_args(args)
    with _open_index(args) as idx:
        encoder = idx.encoder
        encoder.ocr, encoder.asr = not args.no_ocr, not args.no_asr
        encoded = encoder.encode(clip)
        res = idx.nearest(encoded, k=args.k, k_clips=args.k_clips)
    if args.json:
        _print_json(res)
    else:
        for a in res["audiences"]:
            drivers = sorted(((b, v) for b, v in a["attribution"].items() if v),
                             key=lambda kv: -kv[1])[:3]
            why = ", ".join(f"{b} {v:+.2f}" for b, v in drivers)
            print(f"{a['similarity']:.2f}  {a['label']}  (member {a['probability']:.0%}; {why})")
        for c in res["clips"]:
            print(f"   clip {c['id']} ({c['account']}) {c['similarity']:.2f}: "
                  f"{(c['caption'] or '')[:70]}")
    return EXIT_OK


@command("nearest", "the audiences and clips of an index nearest to one clip")
def _build_nearest(p: argparse.ArgumentParser) -> None:
    _add_clip_options(p)
    _add_index_options(p)
    p.add_argument("--k", type=int, default=5, help="how many audiences")
    p.add_argument("--k-clips", type=int, default=5, help="how many clips")
    p.add_argument("--json", action="store_true", help="print one JSON object")


# HTTP API -------------------------------------------------------------------------------
def cmd_serve(args: argparse.Namespace) -> int:
    from interestmap.serve.server import serve

    serve(args.index, host=args.host, port=args.port, token=args.token,
          max_upload_mb=args.max_upload_mb, log_level=args.log_level,
          qdrant_url=args.qdrant_url, app=not args.no_app)
    return EXIT_OK


@command("serve", "serve the app (at /) and the HTTP API (at /v1) over an index, in one "
                  "process")
def _build_serve(p: argparse.ArgumentParser) -> None:
    from interestmap.serve.server import DEFAULT_HOST, DEFAULT_PORT

    _add_index_options(p)
    p.add_argument("--host", default=None,
                   help=f"address to listen on (default $GRADIO_SERVER_NAME, else "
                        f"{DEFAULT_HOST}: this machine only); any other address needs a token")
    p.add_argument("--port", type=int, default=None,
                   help=f"port (default $GRADIO_SERVER_PORT, else {DEFAULT_PORT}; 0 picks a "
                        "free one)")
    p.add_argument("--no-app", action="store_true",
                   help="serve the HTTP API only, without the Gradio app at /")
    p.add_argument("--token", default=None,
                   help="require 'Authorization: Bearer TOKEN' on /v1 endpoints (default: "
                        "$INTERESTMAP_API_TOKEN; prefer the variable, a --token is visible "
                        "to other users in the process list)")
    p.add_argument("--max-upload-mb", type=int, default=200,
                   help="largest uploaded clip, in MB (default 200)")
    p.add_argument("--log-level", default="info",
                   choices=["critical", "error", "warning", "info", "debug"],
                   help="server log detail (default info)")


# Declared topics, clip analysis, what-if and the audience mirror --------------------------
def _add_topic_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--topics", default=None,
                   help="declared topics file (YAML or text) instead of the index's topics")
    p.add_argument("--classifier", default=None, type=Path,
                   help="a topic classifier saved by `classify --save-classifier` (default: "
                        "the one saved with the index, if any)")
    p.add_argument("--zero-shot", action="store_true",
                   help="score topics zero-shot only, ignoring any trained classifier")
    p.add_argument("--k", type=int, default=5, help="how many topics and audiences to show")


def _classifier_choice(args: argparse.Namespace) -> Any:
    if getattr(args, "zero_shot", False):
        return None
    if getattr(args, "classifier", None):
        from interestmap.topics.classifier import TopicClassifier

        return TopicClassifier.load(args.classifier)
    return "auto"


def _warn(message: str) -> None:
    print(f"interestmap: warning: {message}", file=sys.stderr)


def cmd_classify(args: argparse.Namespace) -> int:
    import contextlib
    import time

    from interestmap.topics.catalog import TopicSpace, load_topics
    from interestmap.topics.classifier import (
        TopicClassifier,
        load_index_classifier,
        save_index_classifier,
    )
    from interestmap.topics.labelled import read_labelled, resolve_labels, topics_from_labels
    from interestmap.topics.stream import classify_stream

    if args.batch_size < 1:
        raise InterestmapError("--batch-size must be at least 1")
    with contextlib.ExitStack() as stack:
        idx = stack.enter_context(_open_index(args)) if args.index else None
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
        space = TopicSpace(topics, text_encoder, text_vectors=idx.topic_vectors if own else None)
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
                                max_topics=args.max_topics, warn=_warn)
    if not args.quiet and (stats.classified or stats.skipped or posts is None):
        rate = stats.classified / max(stats.seconds, 1e-9)
        print(f"interestmap: classified {stats.classified} texts in {stats.seconds:.1f} s "
              f"({rate:.1f}/s)" + (f"; skipped {stats.skipped} malformed lines"
                                   if stats.skipped else ""), file=sys.stderr)
    return EXIT_OK


@command("classify", "score texts against declared topics (zero-shot, or trained on your labels)")
def _build_classify(p: argparse.ArgumentParser) -> None:
    from interestmap.topics.catalog import MATCH_MAX_TOPICS, MATCH_MIN_PROBABILITY

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


def _pct(p: float) -> str:
    return f"{p:.0%}"


def _print_analysis(d: dict[str, Any]) -> None:
    c = d["clarity"]
    print(f"Clarity {c['score']}/100 ({c['band']})")
    print(f"  {c['reason']}")
    top = d["topics"]["top"]
    if top:
        print("Declared topics: " + " · ".join(f"{t['name']} {_pct(t['probability'])}"
                                               for t in top[:4]))
        about = d["topics"].get("matched") or []
        if len(about) > 1:
            print("  the clip is about: " + ", ".join(t["name"] for t in about))
    for r in d["modalities"]["blocks"]:
        mark = "" if r["agrees"] else "   <- disagrees"
        ev = f"  [{r['evidence']}]" if r["evidence"] else ""
        print(f"  {r['name']:<15} {r['top_topic']['name']} "
              f"{_pct(r['top_topic']['probability'])}{mark}{ev}")
    m = d["modalities"]
    if m.get("topic_driver") or m.get("audience_driver"):
        print(f"  drives the topic: {m.get('topic_driver') or '-'}; drives the top audience: "
              f"{m.get('audience_driver') or '-'}")
    if d["audiences"]:
        print("Nearest audiences:")
        for a in d["audiences"]:
            drivers = sorted(((b, v) for b, v in a["attribution"].items() if v),
                             key=lambda kv: -kv[1])[:3]
            why = ", ".join(f"{b} {v:+.2f}" for b, v in drivers)
            print(f"  {a['similarity']:.2f}  {a['label']}  (member {_pct(a['probability'])}; "
                  f"{why})")
    if d["advice"]:
        print("Advice:")
        for i, a in enumerate(d["advice"], start=1):
            print(f"  {i}. {a['title']}: {a['detail']}")


def cmd_analyze(args: argparse.Namespace) -> int:
    from interestmap.analysis.analyze import analyze

    clip = clip_from_args(args)
    with _open_index(args) as idx:
        res = analyze(clip, idx, topics=args.topics, classifier=_classifier_choice(args),
                      k=args.k, k_clips=args.k_clips, ocr=not args.no_ocr, asr=not args.no_asr,
                      max_advice=args.max_advice)
        out = res.as_dict(k=args.k)
    if args.json:
        _print_json(out)
    else:
        _print_analysis(out)
    return EXIT_OK


@command("analyze", "analyse a clip before posting: topics, clarity, audiences, advice")
def _build_analyze(p: argparse.ArgumentParser) -> None:
    _add_clip_options(p)
    _add_index_options(p)
    _add_topic_options(p)
    p.add_argument("--k-clips", type=int, default=5, help="how many nearest clips")
    p.add_argument("--max-advice", type=int, default=6, help="at most this many suggestions")
    p.add_argument("--json", action="store_true", help="print one JSON object")


class _EditAction(argparse.Action):
    """Collects what-if edits in the order given: ``args.edits = [(kind, value), ...]``."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: Any, option_string: str | None = None) -> None:
        edits = list(getattr(namespace, self.dest, None) or [])
        edits.append((self.const, values))
        setattr(namespace, self.dest, edits)


def cmd_whatif(args: argparse.Namespace) -> int:
    from interestmap.analysis.whatif import Edit, whatif

    edits = [Edit(kind, value) for kind, value in (args.edits or [])]
    if not edits:
        raise InterestmapError("no edits given: use --set-caption, --set-language, --set-geo, "
                               "--set-media, --set-frames, --set-audio or --drop")
    clip = clip_from_args(args)
    with _open_index(args) as idx:
        rep = whatif(clip, edits, idx, combine=args.combine, k=args.k,
                     ocr=not args.no_ocr, asr=not args.no_asr)
        out = rep.as_dict()
    if args.json:
        _print_json(out)
        return EXIT_OK
    o = out["original"]
    top = o["topics"]["top"][0]["name"] if o["topics"]["top"] else "no topic"
    aud = o["audiences"][0]["label"] if o["audiences"] else "-"
    print(f"Original: {top}, clarity {o['clarity']['score']}/100, nearest audience '{aud}'")
    for i, v in enumerate(out["variants"], start=1):
        print(f"{i}. {v['summary']}")
        parts = {b: x for b, x in v["distance_by_block"].items() if x > 1e-4}
        if parts:
            print("   move by block: " + ", ".join(f"{b} {x:.3f}" for b, x in
                                                   sorted(parts.items(), key=lambda kv: -kv[1])))
        for a in v["audiences"][:3]:
            print(f"   {a['similarity_after']:.2f} ({a['change']:+.2f})  {a['label']}")
    return EXIT_OK


@command("whatif", "how edits (caption, language, geo, media, a block removed) move a clip")
def _build_whatif(p: argparse.ArgumentParser) -> None:
    p.description = ("Each edit option makes its own variant of the clip (repeat options for "
                     "more variants); --combine applies all of them together as one variant.")
    _add_clip_options(p)
    _add_index_options(p)
    p.add_argument("--k", type=int, default=5, help="how many topics and audiences to show")
    for flag, kind, meta, help_ in (
            ("--set-caption", "caption", "TEXT", "another caption (e.g. translated)"),
            ("--set-language", "language", "CODE", "another language tag, e.g. es"),
            ("--set-geo", "geo", "PLACE", 'another place: a city, a country or "lat,lon"'),
            ("--set-media", "media", "FILE", "other media replacing all of the clip's"),
            ("--set-frames", "frames", "FILE", "an image or video whose pictures replace the "
                                               "clip's (the sound is kept)"),
            ("--set-audio", "audio", "FILE", "an audio file (or video) whose sound replaces "
                                             "the clip's (the pictures are kept)"),
            ("--drop", "drop", "BLOCK", "remove a block: caption, ocr, speech, visual, "
                                        "visual_semantics, audio, language, geo, visuals")):
        p.add_argument(flag, action=_EditAction, const=kind, dest="edits", metavar=meta,
                       help=help_ + " (repeatable)")
    p.add_argument("--combine", action="store_true",
                   help="apply all the edits together as one variant")
    p.add_argument("--json", action="store_true", help="print one JSON object")


def cmd_mirror(args: argparse.Namespace) -> int:
    from interestmap.analysis.mirror import mirror

    with _open_index(args) as idx:
        rep = mirror(args.engaged, args.clips or [], idx, account=args.account, k=args.k,
                     ocr=not args.no_ocr, asr=not args.no_asr)
        out = rep.as_dict()
    if args.json:
        _print_json(out)
        return EXIT_OK
    p = out["portrait"]
    print("Interest portrait:")
    for a in p["audiences"]:
        print(f"  {a['weight']:.0%}  {a['label']}")
    if p["topics"]:
        print("  topics: " + " · ".join(f"{t['name']} {t['weight']:.0%}" for t in p["topics"]))
    if out["ranking"]:
        print("Shown first:")
        for r in out["ranking"]:
            topic = r["top_topic"]["name"] if r["top_topic"] else "-"
            print(f"  {r['rank']:>3}. {r['score']:.3f}  {r['key']}  ({topic}; {r['why']})")
    return EXIT_OK


@command("mirror", "someone's interest portrait from clips they engaged with, and which "
                   "clips it would be shown first")
def _build_mirror(p: argparse.ArgumentParser) -> None:
    p.add_argument("--engaged", nargs="+", required=True, metavar="ID_OR_FILE",
                   help="clips the person liked, watched or shared: ids in the index, or files")
    p.add_argument("--clips", nargs="+", default=None, metavar="ID_OR_FILE",
                   help="a creator's clips to rank for that person: ids or files")
    p.add_argument("--account", default=None,
                   help="also rank every clip of this account in the index")
    _add_index_options(p)
    p.add_argument("--k", type=int, default=5, help="how many audiences and topics to show")
    p.add_argument("--no-ocr", action="store_true", help="skip reading on-screen text")
    p.add_argument("--no-asr", action="store_true", help="skip transcribing speech")
    p.add_argument("--json", action="store_true", help="print one JSON object")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="interestmap",
        description="See which audiences and declared topics a short clip will reach.")
    parser.add_argument("--debug", action="store_true", help="show full tracebacks")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (help_, build, _run) in COMMANDS.items():
        build(sub.add_parser(name, help=help_, description=help_))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help(sys.stderr)
        return EXIT_BAD_INPUT
    run = COMMANDS[args.command][2]
    try:
        return run(args)
    except InterestmapError as e:
        print(f"interestmap: {' '.join(str(e).split())}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("interestmap: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as e:  # last resort: one line, not a traceback (unless --debug)
        if args.debug:
            raise
        first = (str(e).strip().splitlines() or [""])[0][:200]
        print(f"interestmap: internal error ({type(e).__name__}: {first}); "
              "run with --debug and report it", file=sys.stderr)
        return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())
