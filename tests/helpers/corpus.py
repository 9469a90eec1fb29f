"""Real corpora for the index, API and reliability tests: X-Topic tweets as manifest rows,
real photos and sounds, a small labelled set of captions, and how to compare two builds."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from interestmap.index.interest_index import InterestIndex
from interestmap.index.manifest import cache_dir

LANGS = ("en", "es", "gr", "ja")

TOPICS = {"sports": "Sports", "food": "Food & Dining", "music": "Music"}
PER_TOPIC = 16


def xtopic_tweets(data: Path, lang: str, n: int, offset: int = 0) -> list[dict]:
    rows = []
    with open(data / "xtopic" / lang / f"{lang}_1000.jsonl", encoding="utf-8") as f:
        for j, line in enumerate(f):
            if j < offset:
                continue
            r = json.loads(line)
            rows.append({"id": f"{lang}-{j}", "account": f"xtopic-{lang}", "caption": r["text"],
                         "labels": [t.lower() for t in r["topics"]]})
            if len(rows) == n:
                break
    return rows


def media_rows(data: Path, n_scenes: int, n_sounds: int) -> list[dict]:
    rows = []
    for folder in ("sea", "forest", "street"):
        for p in sorted((data / "scenes" / folder).glob("*.jpg"))[:n_scenes]:
            rows.append({"id": f"scene-{folder}-{p.stem}", "account": "photos",
                         "media": str(p), "labels": [f"scene:{folder}"]})
    import csv

    with open(data / "esc50" / "esc50.csv", encoding="utf-8") as f:
        meta = {r["filename"]: r["category"] for r in csv.DictReader(f)}
    by_cat: dict[str, list[Path]] = {}
    for p in sorted((data / "esc50" / "audio").glob("*.flac")):
        by_cat.setdefault(meta.get(p.name, "?"), []).append(p)
    for cat in ("rain", "dog", "church_bells"):
        for p in by_cat.get(cat, [])[:n_sounds]:
            rows.append({"id": f"sound-{p.stem}", "account": "sounds", "media": str(p),
                         "labels": [f"sound:{cat}"]})
    return rows


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    with open(path, "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    return path


def labelled_clips(data: Path) -> list:
    from interestmap.clip import Clip

    wanted = set(TOPICS.values())
    picked: dict[str, list] = {k: [] for k in TOPICS}
    for lang in ("en", "es"):
        for line in (data / "xtopic" / lang / f"{lang}_1000.jsonl").open(encoding="utf-8"):
            row = json.loads(line)
            mine = set(row["topics"]) & wanted
            if len(mine) != 1:
                continue
            key = next(k for k, v in TOPICS.items() if v in mine)
            if len(picked[key]) < PER_TOPIC:
                picked[key].append(Clip(caption=row["text"], language=lang,
                                        id=f"{key}-{len(picked[key])}",
                                        account=f"@{key}fan", labels=[key]))
    assert all(len(v) == PER_TOPIC for v in picked.values()), {k: len(v) for k, v in
                                                                picked.items()}
    return [c for v in picked.values() for c in v]


def cache_entries(index_dir: Path) -> int:
    db = cache_dir(index_dir) / "encode-cache.sqlite"
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1) as con:
            return int(con.execute("SELECT COUNT(*) FROM entries").fetchone()[0])
    except sqlite3.Error:
        return 0


def snapshot(index_dir: Path) -> dict[str, tuple]:
    with InterestIndex.open(index_dir) as idx:
        return {c["id"]: (c["audience"], _r(c["x"]), _r(c["y"])) for c in idx.clips_frame()}


def _r(v: float | None) -> float | None:
    return None if v is None else round(v, 4)
