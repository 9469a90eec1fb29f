"""A small real index for the app's tests: 60 X-Topic captions, built once per session."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

XTOPIC_PER_LANG = 15


@pytest.fixture(scope="session")
def small_index(data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real index of 60 X-Topic captions (15 each of en, es, gr, ja), three accounts."""
    from interestmap.index.build import build_index

    root = tmp_path_factory.mktemp("app-index")
    rows = []
    for j, lang in enumerate(("en", "es", "gr", "ja")):
        with open(data / "xtopic" / lang / f"{lang}_1000.jsonl", encoding="utf-8") as f:
            for i, line in enumerate(f):
                if i >= XTOPIC_PER_LANG:
                    break
                r = json.loads(line)
                rows.append({"id": f"{lang}-{i}", "account": ["alice", "bob", "cara"][
                    (i + j) % 3], "caption": r["text"], "language": "el" if lang == "gr" else lang,
                    "published_at": f"2024-0{1 + i % 6}-15T12:00:00Z",
                    "labels": r["topics"][:1]})
    manifest = root / "clips.jsonl"
    manifest.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows),
                        encoding="utf-8")
    index_dir = root / "small"
    build_index(manifest, index_dir).close()
    return index_dir
