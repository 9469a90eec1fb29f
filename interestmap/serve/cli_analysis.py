"""The commands that analyse clips: ``analyze``, ``whatif`` and ``mirror``."""

from __future__ import annotations

import argparse
from typing import Any

from interestmap.errors import InterestmapError
from interestmap.serve.cli_common import (
    EXIT_OK,
    Command,
    add_clip_options,
    add_index_options,
    add_topic_options,
    classifier_choice,
    clip_from_args,
    open_index,
    print_json,
)


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
    width = max([15] + [len(r["name"]) for r in d["modalities"]["blocks"]])
    for r in d["modalities"]["blocks"]:
        mark = "" if r["agrees"] else "   <- disagrees"
        ev = f"  [{r['evidence']}]" if r["evidence"] else ""
        print(f"  {r['name']:<{width}} {r['top_topic']['name']} "
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
    with open_index(args) as idx:
        res = analyze(clip, idx, topics=args.topics, classifier=classifier_choice(args),
                      k=args.k, k_clips=args.k_clips, ocr=not args.no_ocr, asr=not args.no_asr,
                      max_advice=args.max_advice)
        out = res.as_dict(k=args.k)
    if args.json:
        print_json(out)
    else:
        _print_analysis(out)
    return EXIT_OK


def _build_analyze(p: argparse.ArgumentParser) -> None:
    add_clip_options(p)
    add_index_options(p)
    add_topic_options(p)
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
    with open_index(args) as idx:
        rep = whatif(clip, edits, idx, combine=args.combine, k=args.k,
                     ocr=not args.no_ocr, asr=not args.no_asr)
        out = rep.as_dict()
    if args.json:
        print_json(out)
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


def _build_whatif(p: argparse.ArgumentParser) -> None:
    p.description = ("Each edit option makes its own variant of the clip (repeat options for "
                     "more variants); --combine applies all of them together as one variant.")
    add_clip_options(p)
    add_index_options(p)
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
                                        "visual_semantics, audio, audio_semantics, language, "
                                        "geo; visuals / sound for both picture / sound "
                                        "blocks")):
        p.add_argument(flag, action=_EditAction, const=kind, dest="edits", metavar=meta,
                       help=help_ + " (repeatable)")
    p.add_argument("--combine", action="store_true",
                   help="apply all the edits together as one variant")
    p.add_argument("--json", action="store_true", help="print one JSON object")


def cmd_mirror(args: argparse.Namespace) -> int:
    from interestmap.analysis.mirror import mirror

    with open_index(args) as idx:
        rep = mirror(args.engaged, args.clips or [], idx, account=args.account, k=args.k,
                     ocr=not args.no_ocr, asr=not args.no_asr)
        out = rep.as_dict()
    if args.json:
        print_json(out)
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


def _build_mirror(p: argparse.ArgumentParser) -> None:
    p.add_argument("--engaged", nargs="+", required=True, metavar="ID_OR_FILE",
                   help="clips the person liked, watched or shared: ids in the index, or files")
    p.add_argument("--clips", nargs="+", default=None, metavar="ID_OR_FILE",
                   help="a creator's clips to rank for that person: ids or files")
    p.add_argument("--account", default=None,
                   help="also rank every clip of this account in the index")
    add_index_options(p)
    p.add_argument("--k", type=int, default=5, help="how many audiences and topics to show")
    p.add_argument("--no-ocr", action="store_true", help="skip reading on-screen text")
    p.add_argument("--no-asr", action="store_true", help="skip transcribing speech")
    p.add_argument("--json", action="store_true", help="print one JSON object")


COMMANDS = [
    Command("analyze", "analyse a clip before posting: topics, clarity, audiences, advice",
            _build_analyze, cmd_analyze),
    Command("whatif", "how edits (caption, language, geo, media, a block removed) move a clip",
            _build_whatif, cmd_whatif),
    Command("mirror", "someone's interest portrait from clips they engaged with, and which "
                      "clips it would be shown first", _build_mirror, cmd_mirror),
]
