"""Turn the JSON that ``run.py`` prints into the Markdown tables of ``README.md``.

    python benchmarks/run.py --quick > quick.json
    python benchmarks/render.py quick.json "one quiet run"   # paste under "Results"
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any


def encode_section(e: dict[str, Any]) -> list[str]:
    """Per-stage table, memory, caption rate and the arithmetic limit."""
    o = ["### Encode (seconds, medians)\n",
         "| stage | 5 s warm | 15 s warm | 5 s cold | 15 s cold |", "|---|---|---|---|---|"]
    runs = [e["warm_5s"], e["warm_15s"], e["cold_5s"], e["cold_15s"]]
    for k in sorted({k for r in runs for k in r["stages_s"]}):
        o.append(f"| {k} | " + " | ".join(str(r["stages_s"].get(k, "")) for r in runs) + " |")
    o.append(f"| **wall** | {e['warm_5s']['wall_s']} ({e['warm_5s']['runs']} runs) | "
             f"{e['warm_15s']['wall_s']} ({e['warm_15s']['runs']} runs) | "
             f"{e['cold_5s']['process_wall_s']} (new process) | "
             f"{e['cold_15s']['process_wall_s']} (new process) |\n")
    a, c = e["arithmetic"], e["captions"]
    v = a["visual_efficientnet"]
    o.append(f"Peak RSS with every model used: {e['peak_rss_gib']} GiB. Captions: "
             f"{c['per_s']}/s ({c['n']} captions in one call, {c['encoder']}).\n")
    stage = (f"; the whole `visual` stage (preprocessing included) {v['stage_s']} s = "
             f"{v['stage_ratio_to_limit']}x" if v.get("stage_s") else "")
    o.append(f"Arithmetic limit: matmul peak {a['matmul_peak_gflops']} GFLOP/s. "
             f"EfficientNet-Lite0 on {v['frames']} frames: {v['gflops']} GFLOP, forward "
             f"{v['forward_s']} s vs limit {v['arithmetic_limit_s']} s = "
             f"**{v['ratio_to_limit']}x** the limit{stage}. Not counted: "
             + "; ".join(f"{k}: {w}" for k, w in a["not_counted"].items()) + ".\n")
    return o


def lookup_section(lk: dict[str, Any]) -> list[str]:
    """One row per store size: write, start-up, memory, latency and throughput."""
    o = ["### Lookup through the HTTP API (ms; rps)\n",
         "| clips | write s | server start s | server peak GiB | p50 1c | p95 1c | p99 1c | "
         "rps 1c | p50 16c | p99 16c | rps 16c | errors |",
         "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    sizes = sorted((k.removeprefix("lookup_") for k in lk if k.startswith("lookup_")),
                   key=lambda s: int(s.rstrip("k")))
    notes = []
    for s in sizes:
        x = lk[f"lookup_{s}"]
        if "not_measured" in x:
            o.append(f"| {s} | not measured (see below) |" + " |" * 10)
            notes.append(f"- **{s}**: {x['not_measured']}.")
            continue
        c1, c16 = x["c1"], x["c16"]
        write = (f"{lk['build_1k']['wall_s']} (real build)" if s == "1k"
                 else f"{lk[f'grow_{s}']['write_s']} (store write)")
        o.append(f"| {s} | {write} | {lk.get(f'serve_start_{s}_s', '')} | "
                 f"{lk.get(f'server_peak_rss_{s}_gib', '')} | {c1['p50_ms']} | {c1['p95_ms']} | "
                 f"{c1['p99_ms']} | {c1['rps']} | {c16['p50_ms']} | {c16['p99_ms']} | "
                 f"{c16['rps']} | {c1['errors'] + c16['errors']} |")
    return [*o, "", *notes, ""]


def map_section(m: dict[str, Any]) -> list[str]:
    """Ours against BERTopic on the same vectors."""
    o = [f"### Map build, {m['vectors']:,} vectors\n",
         "| | cluster s | map s | total s | NMI | audiences | outliers |",
         "|---|---|---|---|---|---|---|"]
    for name in ("ours", "bertopic"):
        if name in m:
            x = m[name]
            o.append(f"| {name} | {x['cluster_s']} | {x['map_s']} | {x['total_s']} | "
                     f"{x['nmi']} | {x['audiences']} | {x['outliers']} |")
    return [*o, ""]


def render(result: dict[str, Any], title: str) -> str:
    """The Markdown for one ``run.py`` result."""
    d = result["details"]
    head = {k: v for k, v in result.items() if k != "details"}
    o = [f"`run.py` ({title}): total {d['total_s']} s ({d['total_s'] / 60:.1f} min), "
         f"{d['machine']['cpus']} CPUs, 1-min load average at the end "
         f"{d['machine']['load_avg_1m']}.\n",
         "```json\n" + json.dumps(head, indent=1, ensure_ascii=False) + "\n```\n"]
    if "encode" in d:
        o += encode_section(d["encode"])
    if "lookup" in d:
        o += lookup_section(d["lookup"])
    if "map" in d:
        o += map_section(d["map"])
    return "\n".join(o)


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    text = Path(argv[0]).read_text(encoding="utf-8").strip().splitlines()[-1]
    print(render(json.loads(text), argv[1] if len(argv) > 1 else "one run"))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
