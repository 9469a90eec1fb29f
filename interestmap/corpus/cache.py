"""The encode cache: every clip encoded once, so index builds are incremental and resumable.

Each entry is one encoded clip (its block vectors, fused vector, signals, media kind and
missing-modality notes) under a *content key*: a hash of the media files' bytes, the
caption, language and geo, and the identity of the encoders (:func:`layout_identity`).
Change any of them and the key changes; move or rename the files and it does not.

Storage is one SQLite file in WAL mode, one transaction per ``put`` / ``put_many``.
Why SQLite rather than one file per clip: a transaction is atomic under SIGKILL and
power loss alike (an interrupted write is rolled back, or its WAL frames are ignored by
checksum, on the next open), so a killed build leaves only whole entries; it is one file
instead of one or two per clip, reads are consistent while another process writes, and
``synchronous=NORMAL`` in WAL mode keeps commits fast (a power cut may lose the last few
entries, never corrupt the others: they are simply encoded again).
"""

from __future__ import annotations

import hashlib
import io
import json
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import fields
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from interestmap.clip import Clip, EncodedClip, GeoPoint, Signals
from interestmap.encoders.fusion import BLOCKS, Fuser, FusionLayout
from interestmap.errors import EncoderMismatchError, IndexError_, MediaError
from interestmap.store.payloads import to_jsonable

CACHE_FORMAT = 1
"""Version of the entry format; entries of another version are treated as absent."""
KEY_VERSION = 1
"""Version of :func:`content_key`; bumping it invalidates every cached entry."""
DB_NAME = "encode-cache.sqlite"
_CHUNK = 1 << 20


# Keys ----------------------------------------------------------------------------------
def layout_identity(layout: FusionLayout, extra: Mapping[str, Any] | None = None) -> str:
    """A short hash of what makes the block vectors: block dims and encoders.

    Block weights are left out: they change only the fused vector, which
    :meth:`EncodeCache.get` re-fuses from the cached blocks. Put other settings that
    change the vectors (OCR or speech recognition on/off, frame count, ...) in ``extra``.
    """
    ident = {"dims": {b: int(layout.dims[b]) for b in BLOCKS},
             "encoders": layout.encoders, "extra": dict(extra or {})}
    return hashlib.sha256(_canonical(ident).encode()).hexdigest()[:16]


def content_key(clip: Clip, layout_identity: str) -> str:
    """The cache key of a clip: its media bytes, caption, language, geo and encoders.

    Raises :class:`MediaError` when a media file is missing.
    """
    media = []
    for p in clip.media:
        path = Path(p).expanduser()
        try:
            st = path.stat()
        except OSError as e:
            raise MediaError(f"media file not found: {p}") from e
        media.append(_file_digest(str(path.resolve()), st.st_size, st.st_mtime_ns))
    ident = {"v": KEY_VERSION, "media": media, "caption": clip.caption or "",
             "language": clip.language, "geo": clip.geo, "layout": layout_identity}
    return hashlib.sha256(_canonical(ident).encode()).hexdigest()


@lru_cache(maxsize=65536)
def _file_digest(path: str, size: int, mtime_ns: int) -> str:
    """BLAKE2b of a file's bytes (memoised per path, size and mtime in this process)."""
    h = hashlib.blake2b(digest_size=20)
    try:
        with open(path, "rb") as f:
            while chunk := f.read(_CHUNK):
                h.update(chunk)
    except OSError as e:
        raise MediaError(f"cannot read media file {path}: {e.strerror or e}") from e
    return f"{size}:{h.hexdigest()}"


def _canonical(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, ensure_ascii=False, separators=(",", ":"),
                      default=str)


# Cache ---------------------------------------------------------------------------------
class EncodeCache:
    """Encoded clips by content key, in ``dir/encode-cache.sqlite``.

    Safe to share between threads; several processes may read while one writes.
    """

    def __init__(self, dir: str | Path) -> None:
        self.dir = Path(dir).expanduser()
        self.path = self.dir / DB_NAME
        self._lock = threading.RLock()
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, timeout=60, isolation_level=None,
                                       check_same_thread=False)
            with self._lock:
                mode = self._db.execute("PRAGMA journal_mode=WAL").fetchone()[0]
                if str(mode).lower() != "wal":  # e.g. a network drive: the rollback
                    self._db.execute("PRAGMA journal_mode=DELETE")  # journal is atomic too
                self._db.execute("PRAGMA synchronous=NORMAL")
                self._db.execute(
                    "CREATE TABLE IF NOT EXISTS entries (key TEXT PRIMARY KEY, "
                    "format INTEGER NOT NULL, meta TEXT NOT NULL, vectors BLOB NOT NULL)")
        except sqlite3.DatabaseError as e:
            raise IndexError_(f"the encode cache at {self.path} is damaged or not a cache "
                              f"({e}): delete it and build again (clips will be encoded "
                              "again)") from e
        except OSError as e:
            raise IndexError_(f"cannot open the encode cache in {self.dir}: "
                              f"{e.strerror or e}") from e

    def __repr__(self) -> str:
        return f"EncodeCache({str(self.dir)!r})"

    def __enter__(self) -> EncodeCache:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # Reading ---------------------------------------------------------------------------
    def __contains__(self, key: object) -> bool:
        with self._lock:
            row = self._db.execute("SELECT 1 FROM entries WHERE key=? AND format=?",
                                   (key, CACHE_FORMAT)).fetchone()
        return row is not None

    def __len__(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM entries WHERE format=?",
                                        (CACHE_FORMAT,)).fetchone()[0])

    def keys(self) -> list[str]:
        """Every key in the cache (sorted)."""
        with self._lock:
            rows = self._db.execute("SELECT key FROM entries WHERE format=? ORDER BY key",
                                    (CACHE_FORMAT,)).fetchall()
        return [r[0] for r in rows]

    def get(self, key: str, clip: Clip | None = None,
            layout: FusionLayout | None = None) -> EncodedClip | None:
        """The cached encoding of ``key``, or None if absent (or unreadable).

        ``clip`` replaces the stored clip (same content, maybe another id or account).
        With ``layout`` the fused vector is re-made from the cached blocks with that
        layout's weights (the same vector when the weights are the ones it was made with).
        """
        with self._lock:
            row = self._db.execute("SELECT meta, vectors FROM entries WHERE key=? AND format=?",
                                   (key, CACHE_FORMAT)).fetchone()
        if row is None:
            return None
        try:
            return _decode(row[0], row[1], clip, layout)
        except EncoderMismatchError:
            raise
        except Exception:  # noqa: BLE001 - a damaged entry is an absent one: re-encoded
            return None

    def get_many(self, keys: Iterable[str], clips: Iterable[Clip | None] | None = None,
                 layout: FusionLayout | None = None) -> list[EncodedClip | None]:
        """:meth:`get` for many keys (None where absent)."""
        keys = list(keys)
        clip_list = list(clips) if clips is not None else [None] * len(keys)
        return [self.get(k, c, layout) for k, c in zip(keys, clip_list, strict=True)]

    # Writing ---------------------------------------------------------------------------
    def put(self, key: str, encoded: EncodedClip) -> None:
        """Store one encoded clip (atomically; replaces an entry with the same key)."""
        self.put_many([(key, encoded)])

    def put_many(self, items: Iterable[tuple[str, EncodedClip]]) -> int:
        """Store encoded clips in one transaction; returns how many."""
        rows = [(k, CACHE_FORMAT, *_encode(e)) for k, e in items]
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.executemany("INSERT OR REPLACE INTO entries VALUES (?, ?, ?, ?)", rows)
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return len(rows)

    def discard(self, keys: Iterable[str]) -> None:
        """Remove entries (absent keys are ignored)."""
        with self._lock:
            self._db.executemany("DELETE FROM entries WHERE key=?", [(k,) for k in keys])

    def iter_items(self, layout: FusionLayout | None = None) -> Iterator[
            tuple[str, EncodedClip]]:
        """Every readable entry as ``(key, EncodedClip)``."""
        for key in self.keys():
            enc = self.get(key, layout=layout)
            if enc is not None:
                yield key, enc


# Entry format --------------------------------------------------------------------------
def encode_record(encoded: EncodedClip) -> tuple[str, bytes]:
    """An encoded clip as the cache stores it: JSON metadata and an ``.npz`` of vectors.

    Ray workers send results to the build's driver in this form.
    """
    return _encode(encoded)


def decode_record(meta: str, vectors: bytes, clip: Clip | None = None,
                  layout: FusionLayout | None = None) -> EncodedClip:
    """The inverse of :func:`encode_record` (see :meth:`EncodeCache.get` for the options)."""
    return _decode(meta, vectors, clip, layout)


def _encode(e: EncodedClip) -> tuple[str, bytes]:
    arrays = {"fused": np.asarray(e.fused, dtype=np.float32)}
    for b, v in e.blocks.items():
        if v is not None:
            arrays[f"b_{b}"] = np.asarray(v, dtype=np.float32)
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    clip = e.clip
    meta = {
        "clip": {"media": [str(p) for p in clip.media], "caption": clip.caption,
                 "language": clip.language, "geo": clip.geo, "id": clip.id,
                 "account": clip.account, "published_at": getattr(clip, "published_at", None),
                 "labels": list(getattr(clip, "labels", []) or [])},
        "signals": e.signals.as_dict() if e.signals is not None else None,
        "blocks": sorted(e.blocks),
        "media_kind": e.media_kind,
        "missing": dict(e.missing),
        "notes": list(e.notes),
        "timings_s": dict(e.timings_s),
    }
    return json.dumps(to_jsonable(meta), ensure_ascii=False), buf.getvalue()


def _decode(meta_text: str, blob: bytes, clip: Clip | None,
            layout: FusionLayout | None) -> EncodedClip:
    meta = json.loads(meta_text)
    with np.load(io.BytesIO(blob), allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    blocks: dict[str, np.ndarray | None] = {
        b: arrays.get(f"b_{b}") for b in meta["blocks"]}
    fused = arrays["fused"]
    if layout is not None:
        fused = Fuser.from_layout(layout).transform([blocks])[0]
    if clip is None:
        c = meta["clip"]
        clip = Clip(**{**{k: v for k, v in c.items() if k in _CLIP_FIELDS},
                       "media": [Path(p) for p in c.get("media", [])]})
    return EncodedClip(clip=clip, signals=_signals(meta.get("signals")), blocks=blocks,
                       fused=fused, media_kind=meta.get("media_kind", "none"),
                       missing=dict(meta.get("missing", {})), notes=list(meta.get("notes", [])),
                       timings_s=dict(meta.get("timings_s", {})))


_CLIP_FIELDS = {f.name for f in fields(Clip)}
_SIGNAL_FIELDS = {f.name for f in fields(Signals)}


def _signals(d: Mapping[str, Any] | None) -> Signals:
    if not d:
        return Signals()
    kw = {k: v for k, v in d.items() if k in _SIGNAL_FIELDS}
    if kw.get("geo"):
        kw["geo"] = GeoPoint(**kw["geo"])
    if "speech_segments" in kw:
        kw["speech_segments"] = [tuple(s) for s in kw["speech_segments"]]
    return Signals(**kw)
