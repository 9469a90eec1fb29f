"""The commands that encode clips and build, read and serve an index: ``encode``,
``index build|info|clips``, ``nearest`` and ``serve``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from interestmap.serve.cli_common import (
    EXIT_OK,
    Command,
    add_clip_options,
    add_index_options,
    clip_from_args,
    open_index,
    print_json,
)


def cmd_encode(args: argparse.Namespace) -> int:
    import numpy as np

    from interestmap.encoders.pipeline import ClipEncoder, describe

    clip = clip_from_args(args)
    encoder = ClipEncoder(ocr=not args.no_ocr, asr=not args.no_asr)
    encoded = encoder.encode(clip)
    if args.out:
        from interestmap._io import atomic_writer

        with atomic_writer(args.out) as fh:
            np.save(fh, encoded.fused)
    summary = describe(encoded, encoder.layout)
    if args.json:
        print_json(summary)
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


def _build_encode(p: argparse.ArgumentParser) -> None:
    add_clip_options(p)
    p.add_argument("--out", default=None, help="save the fused vector to this .npy file")
    p.add_argument("--json", action="store_true", help="print one JSON object")


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
    from interestmap.index.build import build_index

    if args.index_command == "build":
        with build_index(args.source, args.index, qdrant_url=args.qdrant_url,
                         topics=args.topics, min_cluster_size=args.min_cluster_size,
                         progress=None if args.quiet else _cli_progress(),
                         executor=args.executor, ray_address=args.ray_address) as built:
            report = built.build_report
        for p in report.problems:
            print(f"skipped {p['where']}: {p['message']}", file=sys.stderr)
        if not args.quiet:
            print(build_summary(report), file=sys.stderr)
        if args.json:
            print_json(report.as_dict())
        else:
            print(f"index at {report.index_dir}: {report.n_clips} clips "
                  f"({report.n_encoded} encoded now, {report.n_cached} from cache), "
                  f"{report.n_audiences} audiences, {report.outlier_share:.1%} outliers, "
                  f"{len(report.problems)} skipped")
            if report.purity is not None:
                print(f"purity against labels {report.purity:.2f}, NMI {report.nmi:.2f}")
        return EXIT_OK
    with open_index(args) as idx:
        if args.index_command == "info":
            info = idx.info()
            if args.json:
                print_json(info)
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
                print_json({k: p.get(k) for k in ("id", "account", "audience", "probability",
                                                     "x", "y")}
                            | {"probability": p.get("audience_probability")})
    return EXIT_OK


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
        add_index_options(q)
        q.add_argument("--json", action="store_true", help="print JSON")


def cmd_nearest(args: argparse.Namespace) -> int:
    clip = clip_from_args(args)
    with open_index(args) as idx:
        encoder = idx.encoder
        encoder.ocr, encoder.asr = not args.no_ocr, not args.no_asr
        encoded = encoder.encode(clip)
        res = idx.nearest(encoded, k=args.k, k_clips=args.k_clips).as_dict()
    if args.json:
        print_json(res)
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


def _build_nearest(p: argparse.ArgumentParser) -> None:
    add_clip_options(p)
    add_index_options(p)
    p.add_argument("--k", type=int, default=5, help="how many audiences")
    p.add_argument("--k-clips", type=int, default=5, help="how many clips")
    p.add_argument("--json", action="store_true", help="print one JSON object")


def cmd_serve(args: argparse.Namespace) -> int:
    from interestmap.serve.server import serve

    serve(args.index, host=args.host, port=args.port, token=args.token,
          max_upload_mb=args.max_upload_mb, log_level=args.log_level,
          qdrant_url=args.qdrant_url, app=not args.no_app)
    return EXIT_OK


def _build_serve(p: argparse.ArgumentParser) -> None:
    from interestmap.serve.server import DEFAULT_HOST, DEFAULT_PORT

    add_index_options(p)
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


COMMANDS = [
    Command("encode", "encode one clip into its fused interest vector", _build_encode,
            cmd_encode),
    Command("index", "build an index of a corpus, or inspect one", _build_index_cmd, cmd_index),
    Command("nearest", "the audiences and clips of an index nearest to one clip",
            _build_nearest, cmd_nearest),
    Command("serve", "serve the app (at /) and the HTTP API (at /v1) over an index, in one "
                     "process", _build_serve, cmd_serve),
]
