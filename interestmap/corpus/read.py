"""Read a corpus of clips: a folder of media files, or a CSV / TSV / JSONL / JSON manifest.

A folder is scanned recursively (hidden files and folders skipped, sorted so the order
is stable). Each media file is one clip:

- its caption is the text of a sidecar ``<stem>.txt`` next to it, if there is one;
- a sidecar ``<stem>.json`` object may add ``language``, ``geo``, ``published_at``,
  ``labels`` (and override ``caption``, ``account`` or ``id``);
- its account is the first subfolder under the corpus folder (``corpus/alice/x.mp4`` ->
  ``alice``), or ``"me"`` for files at the top;
- its id is its path relative to the corpus folder (``alice/x.mp4``).

A ``.txt`` file with no media file of the same stem is a caption-only post (files named
README / LICENSE / LICENCE are not clips).

A manifest has one clip per row with the columns (or JSON keys) ``id``, ``account``,
``caption`` (or ``text``), ``media`` (one path, several separated by ``|``, or a JSON
list; relative paths are relative to the manifest's folder), and optionally
``language``, ``geo`` (a place name, ``"lat,lon"`` or ``{"lat": .., "lon": ..}``),
``published_at`` (ISO 8601 date or time, or Unix seconds; a time without a zone is taken
as UTC) and ``labels`` (or ``topics``: a list, or ``|``-separated). Caption-only rows are
valid. Rows that cannot be used (a missing file, an unreadable row, a duplicate id, a bad
date) are reported as :class:`CorpusProblem` and skipped: one bad row never stops a build.
"""

from __future__ import annotations

import csv
import json
import math
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from interestmap.clip import Clip
from interestmap.errors import ConfigError, CorpusError
from interestmap.signals.language import normalize_language

MEDIA_EXTENSIONS: frozenset[str] = frozenset({
    # video
    ".mp4", ".mov", ".m4v", ".webm", ".mkv", ".avi", ".3gp", ".flv", ".wmv", ".mpg", ".mpeg",
    ".ts", ".mts", ".ogv", ".gif",
    # audio
    ".wav", ".flac", ".mp3", ".ogg", ".oga", ".opus", ".m4a", ".aac", ".wma", ".aiff", ".aif",
    ".amr", ".weba",
    # image
    ".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff", ".heic", ".heif", ".avif",
    ".jfif",
})
"""File name endings a corpus folder scan takes as media."""

MANIFEST_SUFFIXES: frozenset[str] = frozenset({".csv", ".tsv", ".jsonl", ".ndjson", ".json"})
"""File name endings read as a manifest."""

DEFAULT_ACCOUNT = "me"
"""Account of clips that sit at the top of a corpus folder or have no account column."""

_NOT_CLIPS = {"readme", "license", "licence", "copying", "notice"}
_COLUMN_ALIASES = {"text": "caption", "topics": "labels", "path": "media", "file": "media",
                   "media_path": "media", "lang": "language", "date": "published_at"}
_LATLON = re.compile(r"^\s*([-+]?\d+(?:\.\d+)?)\s*,\s*([-+]?\d+(?:\.\d+)?)\s*$")


@dataclass(frozen=True)
class CorpusProblem:
    """A row or file of a corpus that was skipped, and why (one line)."""

    where: str
    """The file, or ``"<manifest> row N"`` / ``"line N"`` / ``"item N"``."""
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


class _Skip(Exception):
    """A row cannot be used; the message says why."""


# Dates ---------------------------------------------------------------------------------
def parse_datetime(value: Any) -> datetime:
    """A time-zone-aware UTC datetime from an ISO 8601 string, a date, or Unix seconds.

    A time without a zone is taken as UTC. Raises ``ValueError`` for anything else.
    """
    if isinstance(value, bool) or value is None:
        raise ValueError(f"not a date: {value!r}")
    if isinstance(value, datetime):
        dt = value
    elif isinstance(value, date):
        dt = datetime(value.year, value.month, value.day)
    elif isinstance(value, int | float):
        if not math.isfinite(value):
            raise ValueError(f"not a date: {value!r}")
        seconds = value / 1000.0 if abs(value) > 1e11 else float(value)  # milliseconds
        dt = datetime.fromtimestamp(seconds, tz=UTC)
    elif isinstance(value, str):
        text = value.strip()
        if re.fullmatch(r"[-+]?\d+(\.\d+)?", text):
            return parse_datetime(float(text))
        if re.fullmatch(r"\d{4}/\d{1,2}/\d{1,2}", text):
            text = "-".join(f"{int(p):02d}" for p in text.split("/"))
        dt = datetime.fromisoformat(text)
    else:
        raise ValueError(f"not a date: {value!r}")
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC)


def normalize_published_at(value: Any) -> str:
    """``published_at`` as ISO 8601 in UTC, e.g. ``"2024-05-01T18:00:00+00:00"``."""
    return parse_datetime(value).isoformat(timespec="seconds")


# Reading -------------------------------------------------------------------------------
def read_corpus(source: str | Path) -> tuple[list[Clip], list[CorpusProblem]]:
    """Clips of a corpus folder or manifest, and the rows or files that were skipped.

    Raises :class:`CorpusError` when the source does not exist, is not a folder or a
    manifest, or holds no clips at all.
    """
    src = Path(source).expanduser()
    if not src.exists():
        raise CorpusError(f"no corpus at {src}: give a folder of clips or a CSV/JSONL manifest")
    if src.is_dir():
        clips, problems = _read_folder(src)
        what = "media files or caption .txt files"
    elif src.suffix.lower() in MANIFEST_SUFFIXES:
        clips, problems = _read_manifest(src)
        what = "rows"
    else:
        raise CorpusError(f"{src} is neither a folder of clips nor a manifest "
                          f"({', '.join(sorted(MANIFEST_SUFFIXES))})")
    if not clips and not problems:
        raise CorpusError(f"the corpus at {src} is empty: it has no {what}")
    return clips, problems


def _read_folder(root: Path) -> tuple[list[Clip], list[CorpusProblem]]:
    files = sorted(_walk(root), key=lambda p: p.relative_to(root).as_posix())
    media = [p for p in files if p.suffix.lower() in MEDIA_EXTENSIONS]
    media_stems = {(p.parent, p.stem) for p in media}
    texts = {(p.parent, p.stem): p for p in files if p.suffix.lower() == ".txt"}
    metas = {(p.parent, p.stem): p for p in files if p.suffix.lower() == ".json"}
    clips: list[Clip] = []
    problems: list[CorpusProblem] = []
    caption_only = [p for key, p in texts.items()
                    if key not in media_stems and p.stem.lower() not in _NOT_CLIPS]
    first: dict[str, str] = {}
    for path in sorted(media + caption_only, key=lambda p: p.relative_to(root).as_posix()):
        rel = path.relative_to(root)
        where = rel.as_posix()
        try:
            is_media = path.suffix.lower() in MEDIA_EXTENSIONS
            if is_media and path.stat().st_size == 0:
                raise _Skip("the file is empty")
            caption_file = texts.get((path.parent, path.stem)) if is_media else path
            record: dict[str, Any] = {
                "id": where,
                "account": rel.parts[0] if len(rel.parts) > 1 else DEFAULT_ACCOUNT,
                "caption": _read_text(caption_file) if caption_file else "",
                "media": [str(path)] if is_media else [],
            }
            meta = metas.get((path.parent, path.stem))
            if meta is not None:
                record.update(_read_sidecar(meta))
            clips.append(_unique(_clip_from_record(record, root), where, first))
        except _Skip as e:
            problems.append(CorpusProblem(where, str(e)))
    return clips, problems


def _walk(root: Path) -> Iterator[Path]:
    for p in root.iterdir():
        if p.name.startswith(".") or p.name == "__MACOSX":
            continue
        if p.is_dir():
            yield from _walk(p)
        elif p.is_file():
            yield p


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8-sig").strip()
    except UnicodeDecodeError as e:
        raise _Skip(f"{path.name} is not UTF-8 text; save it as UTF-8") from e
    except OSError as e:
        raise _Skip(f"cannot read {path.name}: {e.strerror or e}") from e


def _read_sidecar(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(_read_text(path) or "{}")
    except json.JSONDecodeError as e:
        raise _Skip(f"{path.name} is not valid JSON (line {e.lineno}: {e.msg})") from e
    if not isinstance(data, dict):
        raise _Skip(f"{path.name} must hold one JSON object like "
                    '{"language": "en", "geo": "Lisbon"}')
    return {_column(k): v for k, v in data.items()}


def _read_manifest(path: Path) -> tuple[list[Clip], list[CorpusProblem]]:
    base = path.parent
    clips: list[Clip] = []
    problems: list[CorpusProblem] = []
    first: dict[str, str] = {}
    n_rows = 0
    for where, record in _manifest_records(path):
        n_rows += 1
        try:
            if isinstance(record, _Skip):
                raise record
            clip = _clip_from_record(record, base, default_id=f"{path.stem}-{n_rows}")
            clips.append(_unique(clip, where, first))
        except _Skip as e:
            problems.append(CorpusProblem(where, str(e)))
    if n_rows == 0:
        raise CorpusError(f"the manifest {path} has no rows")
    return clips, problems


def _manifest_records(path: Path) -> Iterator[tuple[str, dict[str, Any] | _Skip]]:
    suffix = path.suffix.lower()
    name = path.name
    try:
        if suffix in (".csv", ".tsv"):
            yield from _csv_records(path, name, "\t" if suffix == ".tsv" else None)
        elif suffix in (".jsonl", ".ndjson"):
            with path.open(encoding="utf-8-sig") as f:
                for n, line in enumerate(f, start=1):
                    if line.strip():
                        yield f"{name} line {n}", _json_record(line)
        else:
            yield from _json_list_records(path, name)
    except UnicodeDecodeError as e:
        raise CorpusError(f"{path} is not UTF-8 text: save it as UTF-8 and try again") from e
    except OSError as e:
        raise CorpusError(f"cannot read {path}: {e.strerror or e}") from e


def _csv_records(path: Path, name: str,
                 delimiter: str | None) -> Iterator[tuple[str, dict[str, Any] | _Skip]]:
    with path.open(encoding="utf-8-sig", newline="") as f:
        header = f.readline()
        if delimiter is None:  # spreadsheets in some locales write ";"
            delimiter = max(",;\t", key=header.count)
        f.seek(0)
        reader = csv.DictReader(f, delimiter=delimiter)
        columns = {_column(c) for c in reader.fieldnames or [] if c}
        if not columns & {"caption", "media"}:
            raise CorpusError(f"{path} has no 'caption' or 'media' column (columns: "
                              f"{', '.join(reader.fieldnames or []) or 'none'}); see "
                              "the corpus format in the docs")
        for i, row in enumerate(reader):
            where = f"{name} row {i + 2}"  # as a spreadsheet numbers it, header = row 1
            if None in row:
                n_header = len(reader.fieldnames or [])
                yield where, _Skip(f"the row has {len(row[None]) + n_header} cells, the "
                                   f"header {n_header}; quote cells that hold '{delimiter}'")
                continue
            yield where, {_column(k): v for k, v in row.items() if k}


def _json_record(text: str) -> dict[str, Any] | _Skip:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        return _Skip(f"not valid JSON ({e.msg} at column {e.colno})")
    if not isinstance(data, dict):
        return _Skip("each line must be one JSON object")
    return {_column(k): v for k, v in data.items()}


def _json_list_records(path: Path, name: str) -> Iterator[tuple[str, dict[str, Any] | _Skip]]:
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except json.JSONDecodeError as e:
        raise CorpusError(f"{path} is not valid JSON (line {e.lineno}: {e.msg})") from e
    if isinstance(data, dict) and isinstance(data.get("clips"), list):
        data = data["clips"]
    if not isinstance(data, list):
        raise CorpusError(f"{path} must hold a JSON list of clips (or {{\"clips\": [...]}})")
    for i, item in enumerate(data, start=1):
        yield (f"{name} item {i}",
               {_column(k): v for k, v in item.items()} if isinstance(item, dict)
               else _Skip("each item must be a JSON object"))


def _column(name: Any) -> str:
    key = str(name).strip().lower()
    return _COLUMN_ALIASES.get(key, key)


def unique_clips(clips: Sequence[Clip]) -> tuple[list[Clip], list[CorpusProblem]]:
    """``clips`` with an id each (``clip-N`` where none was given), the ones whose id was
    already used left out and reported, as in a corpus read from disk."""
    kept: list[Clip] = []
    problems: list[CorpusProblem] = []
    first: dict[str, str] = {}
    for i, clip in enumerate(clips):
        clip.id = str(clip.id or f"clip-{i}")
        try:
            kept.append(_unique(clip, f"clip {i + 1}", first))
        except _Skip as e:
            problems.append(CorpusProblem(f"clip {i + 1}", str(e)))
    return kept, problems


def _unique(clip: Clip, where: str, first: dict[str, str]) -> Clip:
    """``clip`` if its id is new (recorded in ``first``), else skipped: ids are unique."""
    cid = clip.id or ""
    if cid in first:
        raise _Skip(f"id {cid!r} was already used ({first[cid]}); ids must be unique")
    first[cid] = where
    return clip


# One record -> Clip ---------------------------------------------------------------------
def _clip_from_record(rec: Mapping[str, Any], base: Path, default_id: str = "") -> Clip:
    caption = _text(rec.get("caption"))
    media = [_resolve_media(p, base) for p in _list(rec.get("media"))]
    if not caption and not media:
        raise _Skip("it has neither a caption nor media")
    published = rec.get("published_at")
    if _is_blank(published):
        published_at = None
    else:
        try:
            published_at = normalize_published_at(published)
        except (ValueError, OverflowError, OSError) as e:
            raise _Skip(f"published_at {published!r} is not a date like 2024-05-01 or "
                        "2024-05-01T18:00:00Z") from e
    return Clip(
        media=media,
        caption=caption,
        language=_language(rec.get("language")),
        geo=_geo(rec.get("geo")),
        id=_text(rec.get("id")) or default_id or None,
        account=_text(rec.get("account")) or DEFAULT_ACCOUNT,
        published_at=published_at,
        labels=_labels(rec.get("labels")),
    )


def _is_blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip()) or \
        (isinstance(value, float) and math.isnan(value))


def _text(value: Any) -> str:
    if _is_blank(value):
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, dict | list):
        raise _Skip(f"expected text, got {json.dumps(value)[:60]}")
    return str(value).strip()


def _list(value: Any) -> list[str]:
    """A list from a JSON list, a JSON-list string, or a ``|``-separated string."""
    if _is_blank(value):
        return []
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            try:
                value = json.loads(text)
            except json.JSONDecodeError as e:
                raise _Skip(f"{text[:60]!r} looks like a JSON list but is not valid JSON") from e
        else:
            value = text.split("|")
    if not isinstance(value, list):
        value = [value]
    return [s for s in (_text(v) for v in value) if s]


def _resolve_media(raw: str, base: Path) -> Path:
    path = Path(raw).expanduser()
    if not path.is_absolute():
        path = base / path
    if not path.is_file():
        raise _Skip(f"media file not found: {raw}" + ("" if raw == str(path)
                                                       else f" (looked for {path})"))
    if path.stat().st_size == 0:
        raise _Skip(f"media file is empty: {raw}")
    return path


def _language(value: Any) -> str | None:
    try:
        return normalize_language(_text(value))
    except ConfigError as e:
        raise _Skip(str(e)) from None


def _geo(value: Any) -> str | None:
    if _is_blank(value):
        return None
    if isinstance(value, dict):
        if "lat" in value and ("lon" in value or "lng" in value):
            value = f"{value['lat']},{value.get('lon', value.get('lng'))}"
        elif value.get("name"):
            return _text(value["name"])
        else:
            raise _Skip('geo must be a place name, "lat,lon" or {"lat": .., "lon": ..}')
    elif isinstance(value, list | tuple) and len(value) == 2:
        value = f"{value[0]},{value[1]}"
    text = _text(value)
    m = _LATLON.match(text)
    if m:
        lat, lon = float(m.group(1)), float(m.group(2))
        if not (-90 <= lat <= 90 and -180 <= lon <= 180):
            raise _Skip(f"geo {text!r} is outside the globe: latitude -90..90, "
                        "longitude -180..180")
        return f"{lat:g},{lon:g}"
    return text


def _labels(value: Any) -> list[str]:
    out: list[str] = []
    for label in _list(value):
        if label not in out:
            out.append(label)
    return out
