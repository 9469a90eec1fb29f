"""Turn the JSON that ``run.py`` prints into the Markdown tables of ``README.md``.

    python benchmarks/run.py --quick > quick.json
    python benchmarks/render.py quick.json "one quiet run"   # paste under "Results"
    python benchmarks/render.py --costs new_1000.json old_1000.json ...   # store_cost.py
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
    o += ["", "Filtered lookups (1 client; filters on the nearest clips) and recall@10 of the "
          "engine's search against an exact scan (50 queries):\n",
          "| clips | language p50 / p99 | account p50 / p99 | time p50 / p99 | recall@10 | "
          "recall@10, language=en | store on disk GiB |", "|---|---|---|---|---|---|---|"]
    for s in sizes:
        f = lk[f"lookup_{s}"].get("filtered_c1")
        if not f:
            continue
        cells = [f"{f[k]['p50_ms']} / {f[k]['p99_ms']}" for k in ("language", "account", "time")]
        o.append(f"| {s} | " + " | ".join(cells) + f" | {lk.get(f'recall_at_10_{s}', '')} | "
                 f"{lk.get(f'recall_at_10_{s}_language_en', '')} | "
                 f"{lk.get(f'store_disk_{s}_gib', '')} |")
    return [*o, "", *notes, ""]


def cost_table(results: list[dict[str, Any]]) -> str:
    """``store_cost.py`` results (new and old mode, several sizes) side by side."""
    o = ["| clips | store | write s (upsert + optimize) | disk GiB | open s | RSS to open + "
         "search GiB | search p50 / p99 ms (k=50) | language-filtered p50 / p99 | "
         "recall@10 |", "|---|---|---|---|---|---|---|---|---|"]
    for r in sorted(results, key=lambda r: (r["clips"], r["mode"])):
        name = ("Qdrant Edge (now)" if r["mode"] == "new"
                else "qdrant-client local mode (before)")
        if "not_measured" in r:
            o.append(f"| {r['clips']:,} | {name} | not measured: {r['not_measured']} |"
                     + " |" * 6)
            continue
        w, op = r["write"], r["open"]
        write = (f"{w['write_s']} ({w['upsert_s']} + {w['optimize_s']})" if "upsert_s" in w
                 else f"{w['write_s']}")
        if "failed" in op:
            o.append(f"| {r['clips']:,} | {name} | {write} | {r['disk_gib']} | open failed: "
                     f"{op['failed'][-120:]} |" + " |" * 4)
            continue
        u, f = op["search_unfiltered"], op["search_language"]
        o.append(f"| {r['clips']:,} | {name} | {write} | {r['disk_gib']} | {op['open_s']} | "
                 f"{op['peak_rss_gib']} | {u['p50_ms']} / {u['p99_ms']} | {f['p50_ms']} / "
                 f"{f['p99_ms']} | {op.get('recall_at_10', 'exact scan')} |")
    return "\n".join(o)


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
    if argv[0] == "--costs":  # store_cost.py outputs, one file each
        print(cost_table([json.loads(Path(a).read_text(encoding="utf-8").strip()
                                     .splitlines()[-1]) for a in argv[1:]]))
        return 0
    text = Path(argv[0]).read_text(encoding="utf-8").strip().splitlines()[-1]
    print(render(json.loads(text), argv[1] if len(argv) > 1 else "one run"))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
