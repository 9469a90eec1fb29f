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

from .errors import InterestmapError

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


def clip_from_args(args: argparse.Namespace) -> Any:
    from .clip import Clip

    if not args.path and not (args.caption or "").strip():
        raise InterestmapError("nothing to encode: give a media file, a --caption, or both")
    return Clip.of(args.path or None, caption=args.caption, language=args.language,
                   geo=args.geo)


def _print_json(obj: Any) -> None:
    json.dump(obj, sys.stdout, ensure_ascii=False, indent=None, default=_json_default)
    sys.stdout.write("\n")


def _json_default(o: Any) -> Any:
    import numpy as np

    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


# Commands -----------------------------------------------------------------------------
def cmd_encode(args: argparse.Namespace) -> int:
    import numpy as np

    from .pipeline import ClipEncoder, describe

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
    from .index import InterestIndex, ensure_default_index

    if getattr(args, "index", None):
        return InterestIndex.open(args.index, qdrant_url=getattr(args, "qdrant_url", None))
    return ensure_default_index()


def _cli_progress() -> Callable[[str, int, int], None]:
    """A progress callback that draws one tqdm bar per build stage on stderr."""
    from tqdm.auto import tqdm

    bars: dict[str, Any] = {}
    names = {"read": "reading corpus", "encode": "encoding clips", "audiences": "audiences",
             "map": "map", "write": "writing index"}

    def progress(stage: str, done: int, total: int) -> None:
        bar = bars.get(stage)
        if bar is None:
            bar = bars[stage] = tqdm(total=total, desc=names.get(stage, stage), unit="clip"
                                     if stage == "encode" else "step", file=sys.stderr,
                                     leave=True)
        bar.n = done
        bar.refresh()
        if done >= total:
            bar.close()

    return progress


def cmd_index(args: argparse.Namespace) -> int:
    from .index import build_index

    if args.index_command == "build":
        report = build_index(args.source, args.index, qdrant_url=args.qdrant_url,
                             topics=args.topics, min_cluster_size=args.min_cluster_size,
                             progress=None if args.quiet else _cli_progress())
        for p in report.problems:
            print(f"skipped {p['where']}: {p['message']}", file=sys.stderr)
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
    b.add_argument("--json", action="store_true", help="print the build report as JSON")
    b.add_argument("--quiet", action="store_true", help="no progress bars")
    for name, help_ in (("info", "audiences, outliers and encoders of an index"),
                        ("clips", "one JSON line per clip: id, account, audience, x, y")):
        q = sub.add_parser(name, help=help_)
        q.add_argument("--index", type=Path, default=None,
                       help="index folder (default: the embedded default index)")
        q.add_argument("--qdrant-url", default=None, help="Qdrant server of a remote index")
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
            drivers = sorted(a["attribution"].items(), key=lambda kv: -kv[1])[:3]
            why = ", ".join(f"{b} {v:+.2f}" for b, v in drivers)
            print(f"{a['similarity']:.2f}  {a['label']}  (member {a['probability']:.0%}; {why})")
        for c in res["clips"]:
            print(f"   clip {c['id']} ({c['account']}) {c['similarity']:.2f}: "
                  f"{(c['caption'] or '')[:70]}")
    return EXIT_OK


@command("nearest", "the audiences and clips of an index nearest to one clip")
def _build_nearest(p: argparse.ArgumentParser) -> None:
    _add_clip_options(p)
    p.add_argument("--index", type=Path, default=None,
                   help="index folder (default: the embedded default index)")
    p.add_argument("--qdrant-url", default=None, help="Qdrant server of a remote index")
    p.add_argument("--k", type=int, default=5, help="how many audiences")
    p.add_argument("--k-clips", type=int, default=5, help="how many clips")
    p.add_argument("--json", action="store_true", help="print one JSON object")


# HTTP API -------------------------------------------------------------------------------
def cmd_serve(args: argparse.Namespace) -> int:
    from .server import serve

    serve(args.index, host=args.host, port=args.port, token=args.token,
          max_upload_mb=args.max_upload_mb, log_level=args.log_level,
          qdrant_url=args.qdrant_url)
    return EXIT_OK


@command("serve", "serve the HTTP API (nearest audience, analyze, what-if) over an index")
def _build_serve(p: argparse.ArgumentParser) -> None:
    from .server import DEFAULT_HOST, DEFAULT_PORT

    p.add_argument("--index", type=Path, default=None,
                   help="index folder (default: the embedded default index)")
    p.add_argument("--qdrant-url", default=None, help="Qdrant server of a remote index")
    p.add_argument("--host", default=DEFAULT_HOST,
                   help=f"address to listen on (default {DEFAULT_HOST}, this machine only); "
                        "any other address needs a token")
    p.add_argument("--port", type=int, default=DEFAULT_PORT,
                   help=f"port (default {DEFAULT_PORT}; 0 picks a free one)")
    p.add_argument("--token", default=None,
                   help="require 'Authorization: Bearer TOKEN' on /v1 endpoints (default: "
                        "$INTERESTMAP_API_TOKEN; prefer the variable, a --token is visible "
                        "to other users in the process list)")
    p.add_argument("--max-upload-mb", type=int, default=200,
                   help="largest uploaded clip, in MB (default 200)")
    p.add_argument("--log-level", default="info",
                   choices=["critical", "error", "warning", "info", "debug"],
                   help="server log detail (default info)")


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
        print(f"interestmap: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("interestmap: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as e:  # last resort: one line, not a traceback (unless --debug)
        if args.debug:
            raise
        print(f"interestmap: internal error ({type(e).__name__}: {e}); "
              "run with --debug and report it", file=sys.stderr)
        return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())
