"""The index folder: its manifest, and builds that publish atomically.

An index is a folder ``DIR``::

    DIR/manifest.json      written last, by temp file + fsync + os.replace: the index
                           exists (and is complete) exactly when this file does
    DIR/data-<token>/      the published generation: qdrant/ (the embedded store) and
                           any artefacts the build saved (projection model, ...)
    DIR/cache/             the encode cache (see cache.py): kept across builds
    DIR/.building-<token>/ a build in progress; never opened by readers
    DIR/.build.lock        held while a build runs: one build per folder at a time
    DIR/.serving.json      while a server has the index open: its URL and process id

A build (:func:`begin_build`) writes a fresh generation into ``.building-<token>/``,
rebuilding the Qdrant data from the encode cache (cheap: vectors are cached, only new
clips are encoded), renames it to ``data-<token>/`` and then atomically replaces
``manifest.json`` to point at it. A build killed at any point leaves the previous
manifest and its generation untouched (or no manifest, for a first build, which
:func:`read_manifest` reports as an interrupted build); the next build removes the
leftovers and, thanks to the cache, resumes where the killed one stopped. A replaced
generation that a reader still has open is kept until a later build finds it closed.

Only one process may open an embedded index at a time; a second one is told which
program has it, and the URL of the server when it is an ``interestmap serve`` (from
``.serving.json``).

Format 1 indexes (qdrant-client's local mode, one vector per block) are refused with a
message that says how to rebuild them; the encode cache makes the rebuild quick.

On a Qdrant server the same scheme runs on collection names: each generation has its
own collection prefix, recorded in the manifest, and the replaced generation's
collections are dropped once the new manifest is written.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import secrets
import shutil
import socket
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from interestmap import __version__
from interestmap._io import atomic_write_text, fsync_dir
from interestmap.encoders.fusion import FusionLayout
from interestmap.errors import IndexBusyError, IndexError_, InterestmapError
from interestmap.store.interface import IndexStore
from interestmap.store.payloads import to_jsonable
from interestmap.store.schema import check_prefix
from interestmap.store.shared import close_embedded_under, embedded_open_under

log = logging.getLogger(__name__)

MANIFEST_NAME = "manifest.json"
MANIFEST_FORMAT = 3
"""Version of the manifest and index folder layout; bumped on incompatible changes.

3: the package's modules moved into subpackages, so the saved audience model and map
load from their new homes. 2: the embedded store is Qdrant Edge with one fused vector per clip (1: qdrant-client's
local mode with one vector per block)."""
CACHE_DIRNAME = "cache"
QDRANT_DIRNAME = "qdrant"
_BUILDING = ".building-"
_DATA = "data-"
_BUILD_LOCK = ".build.lock"
_INDEX_ID = ".index-id"
SERVING_NAME = ".serving.json"


# Manifest ------------------------------------------------------------------------------
def read_manifest(index_dir: str | Path) -> dict[str, Any]:
    """The manifest of a complete index; :class:`IndexError_` if missing or half-built."""
    d = Path(index_dir).expanduser()
    path = d / MANIFEST_NAME
    if not d.is_dir() or not (path.is_file() or _has_index_traces(d)):
        raise IndexError_(f"no index at {d}: build one with `interestmap index build`")
    if not path.is_file():
        raise IndexError_(f"index at {d} is not complete (an interrupted build?): run "
                          "`interestmap index build` again to resume")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError, OSError) as e:
        raise IndexError_(f"the manifest of the index at {d} is unreadable ({e}): run "
                          "`interestmap index build` again") from e
    if not isinstance(data, dict) or "format" not in data:
        raise IndexError_(f"{path} is not an interestmap index manifest")
    if int(data["format"]) > MANIFEST_FORMAT:
        raise IndexError_(f"the index at {d} was made by a newer interestmap "
                          f"({data.get('interestmap_version', '?')}): upgrade interestmap")
    return data


def _has_index_traces(d: Path) -> bool:
    """True if ``d`` holds anything a build leaves (so a missing manifest means interrupted)."""
    return any(p.name in (_INDEX_ID, _BUILD_LOCK, CACHE_DIRNAME) or
               p.name.startswith((_BUILDING, _DATA)) for p in d.iterdir())


def write_manifest(index_dir: str | Path, data: Mapping[str, Any]) -> dict[str, Any]:
    """Atomically write ``DIR/manifest.json`` (temp file, fsync, os.replace).

    Fills in ``format``, ``interestmap_version``, ``updated_at``, and keeps
    ``created_at`` from the manifest it replaces. Returns what was written.
    """
    d = Path(index_dir).expanduser()
    d.mkdir(parents=True, exist_ok=True)
    now = _now()
    created = now
    with contextlib.suppress(Exception):
        created = json.loads((d / MANIFEST_NAME).read_text(encoding="utf-8"))["created_at"]
    out = {**to_jsonable(dict(data)), "format": MANIFEST_FORMAT,
           "interestmap_version": __version__, "updated_at": now}
    out.setdefault("created_at", created)
    atomic_write_text(d / MANIFEST_NAME, json.dumps(out, indent=2, ensure_ascii=False) + "\n")
    return out


def manifest_layout(manifest: Mapping[str, Any]) -> FusionLayout:
    """The :class:`FusionLayout` an index was built with."""
    try:
        return FusionLayout.from_dict(manifest["layout"])
    except (KeyError, TypeError) as e:
        raise IndexError_("the index manifest has no fusion layout: rebuild the index") from e


def check_query_layout(manifest: Mapping[str, Any], layout: FusionLayout) -> None:
    """Refuse (:class:`EncoderMismatchError`) a query encoded with other encoders."""
    manifest_layout(manifest).check_compatible(layout)


def _now() -> str:
    return datetime.now().astimezone().isoformat(timespec="seconds")


# Opening and building an index ---------------------------------------------------------
@dataclass
class OpenIndex:
    """A complete index: its folder, manifest, store and data folder."""

    dir: Path
    manifest: dict[str, Any]
    store: IndexStore
    data_dir: Path
    """Folder of the published generation (where a build saved its artefacts)."""

    @property
    def layout(self) -> FusionLayout:
        return manifest_layout(self.manifest)

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> OpenIndex:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def cache_dir(index_dir: str | Path) -> Path:
    """Where the encode cache of an index lives (kept across builds)."""
    return Path(index_dir).expanduser() / CACHE_DIRNAME


def open_index(index_dir: str | Path, url: str | None = None,
               api_key: str | None = None) -> OpenIndex:
    """Open a complete index for reading and searching.

    A remote index uses the server recorded in its manifest unless ``url`` is given;
    ``api_key`` defaults to ``$QDRANT_API_KEY``.
    """
    d = Path(index_dir).expanduser().resolve()
    manifest = read_manifest(d)
    if int(manifest["format"]) < MANIFEST_FORMAT:
        source = manifest.get("source") or "YOUR_CORPUS"
        raise IndexError_(
            f"the index at {d} was built by an older interestmap (format "
            f"{manifest['format']}) whose store this version cannot open: rebuild it with "
            f"`interestmap index build {source} --index {d}`")
    data_dir = d / str(manifest.get("data", ""))
    q = manifest.get("qdrant") or {}
    if not manifest.get("data") or not data_dir.is_dir():
        raise IndexError_(f"index at {d} is not complete (an interrupted build?): run "
                          "`interestmap index build` again to resume")
    if q.get("mode") == "remote":
        store = IndexStore(url=url or q.get("url"),
                           api_key=api_key or os.environ.get("QDRANT_API_KEY"),
                           prefix=str(q.get("prefix", "")))
    else:
        qpath = d / str(q.get("path", Path(str(manifest["data"])) / QDRANT_DIRNAME))
        if not qpath.is_dir():
            raise IndexError_(f"index at {d} is not complete (an interrupted build?): run "
                              "`interestmap index build` again to resume")
        try:
            store = IndexStore(path=qpath)
        except IndexBusyError as e:
            url = serving_url(d)
            if url:
                raise IndexBusyError(
                    f"the index at {d} is open in the interestmap server at {url}: use it "
                    f"there (the app at {url}/, the API at {url}/v1/...), or stop that "
                    "server first") from e
            raise IndexBusyError(
                f"the index at {d} is open in another program (an interestmap app, API or "
                "build?): close it first, or use that program") from e
    return OpenIndex(dir=d, manifest=manifest, store=store, data_dir=data_dir)


# The server that has an index open -----------------------------------------------------
def mark_serving(index_dir: str | Path, url: str) -> Path:
    """Write ``DIR/.serving.json`` (this process serves the index at ``url``)."""
    path = Path(index_dir).expanduser().resolve() / SERVING_NAME
    atomic_write_text(path, json.dumps({"url": url, "pid": os.getpid(),
                                         "host": socket.gethostname()}) + "\n")
    return path


def unmark_serving(index_dir: str | Path) -> None:
    """Remove ``DIR/.serving.json`` if this process wrote it."""
    path = Path(index_dir).expanduser().resolve() / SERVING_NAME
    with contextlib.suppress(OSError, ValueError, KeyError):
        if json.loads(path.read_text(encoding="utf-8"))["pid"] == os.getpid():
            path.unlink()


def serving_url(index_dir: str | Path) -> str | None:
    """The URL of the live server that has the index open (from ``.serving.json``)."""
    path = Path(index_dir).expanduser().resolve() / SERVING_NAME
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        pid, url = int(data["pid"]), str(data["url"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if data.get("host") == socket.gethostname():
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None  # left by a server that was killed
        except PermissionError:
            pass
    return url


class IndexBuild:
    """One build of an index folder: a fresh generation, published atomically.

    Use as a context manager; leaving it by an exception aborts (the previous index,
    if any, stays as it was)::

        with begin_build(dir) as build:
            store = build.store()
            store.create(layout)
            store.upsert_clips(...)
            ...  # save other artefacts under build.staging
            build.publish({"layout": layout.as_dict(), "counts": {...}, ...})
    """

    def __init__(self, index_dir: Path, url: str | None, api_key: str | None,
                 prefix: str) -> None:
        import portalocker

        self.dir = index_dir
        self.url, self._api_key, self._base_prefix = url, api_key, prefix
        self.dir.mkdir(parents=True, exist_ok=True)
        self._lock_file = open(self.dir / _BUILD_LOCK, "a+")  # noqa: SIM115 (held open)
        try:
            portalocker.lock(self._lock_file,
                             portalocker.LockFlags.EXCLUSIVE | portalocker.LockFlags.NON_BLOCKING)
        except portalocker.exceptions.LockException as e:
            self._lock_file.close()
            raise IndexError_(f"another build of the index at {self.dir} is running: wait "
                              "for it to finish") from e
        self.index_id = _index_id(self.dir)
        self.token = f"{time.strftime('%Y%m%dT%H%M%S')}-{secrets.token_hex(3)}"
        self.staging = self.dir / f"{_BUILDING}{self.token}"
        self._stores: list[IndexStore] = []
        self._done = False
        try:
            _collect_garbage(self.dir, self._current_data(), self._remote_cleaner())
            self.staging.mkdir()
        except BaseException:
            self._release()
            raise

    @property
    def remote_prefix(self) -> str:
        """Collection prefix of this generation on a Qdrant server."""
        return f"{self._base_prefix}im{self.index_id}_{self.token.replace('T', '')}_"

    def store(self) -> IndexStore:
        """The (empty) store of the generation being built."""
        if self.url is not None:
            s = IndexStore(url=self.url, api_key=self._api_key, prefix=self.remote_prefix)
        else:
            s = IndexStore(path=self.staging / QDRANT_DIRNAME)
        self._stores.append(s)
        return s

    def publish(self, manifest: Mapping[str, Any]) -> dict[str, Any]:
        """Make this generation the index: rename it into place, then swap the manifest.

        ``manifest`` holds what the build knows (``layout``, ``clustering``,
        ``projection``, ``counts``, ``source``, ...); where the data lives is added here.
        Returns the manifest written.
        """
        if self._done:
            raise IndexError_("this build is already finished")
        for s in self._stores:
            if not s.closed:
                s.optimize()  # the search graph is built once, before anyone reads
            s.close()
        close_embedded_under(self.staging)
        data_name = f"{_DATA}{self.token}"
        os.rename(self.staging, self.dir / data_name)
        fsync_dir(self.dir)
        qdrant = ({"mode": "remote", "url": self.url, "prefix": self.remote_prefix}
                  if self.url is not None else
                  {"mode": "embedded", "path": f"{data_name}/{QDRANT_DIRNAME}"})
        written = write_manifest(self.dir, {**dict(manifest), "data": data_name,
                                            "qdrant": qdrant, "index_id": self.index_id})
        self._done = True
        try:
            _collect_garbage(self.dir, data_name, self._remote_cleaner(keep=self.remote_prefix))
        finally:
            self._release()
        return written

    def abort(self) -> None:
        """Drop this generation; the published index (if any) is untouched."""
        if self._done:
            return
        self._done = True
        try:
            for s in self._stores:
                with contextlib.suppress(InterestmapError):
                    if not s.embedded:
                        s.drop()
                s.close()
            close_embedded_under(self.staging)
            shutil.rmtree(self.staging, ignore_errors=True)
        finally:
            self._release()

    def __enter__(self) -> IndexBuild:
        return self

    def __exit__(self, exc_type: Any, *exc: Any) -> None:
        if not self._done:
            self.abort()

    def _current_data(self) -> str | None:
        with contextlib.suppress(InterestmapError, KeyError):
            return str(read_manifest(self.dir)["data"])
        return None

    def _remote_cleaner(self, keep: str | None = None) -> Callable[[], None] | None:
        """Drops this index's collections of unpublished or replaced generations."""
        if self.url is None:
            return None
        current = keep
        if current is None:
            with contextlib.suppress(InterestmapError, KeyError):
                current = read_manifest(self.dir)["qdrant"]["prefix"]
        mine = f"{self._base_prefix}im{self.index_id}_"

        def clean() -> None:
            from qdrant_client import QdrantClient

            client = QdrantClient(url=self.url, api_key=self._api_key, timeout=60,
                                  check_compatibility=False)
            try:
                for c in client.get_collections().collections:
                    if c.name.startswith(mine) and not (current and
                                                        c.name.startswith(current)):
                        client.delete_collection(c.name)
            finally:
                client.close()
        return clean

    def _release(self) -> None:
        import portalocker

        with contextlib.suppress(Exception):
            portalocker.unlock(self._lock_file)
        self._lock_file.close()


def begin_build(index_dir: str | Path, url: str | None = None, api_key: str | None = None,
                prefix: str = "") -> IndexBuild:
    """Start building (or rebuilding) the index in ``index_dir``; see :class:`IndexBuild`.

    With ``url`` the vectors go to that Qdrant server (``api_key`` defaults to
    ``$QDRANT_API_KEY``), otherwise into the folder. Only one build per folder runs at a
    time; leftovers of killed builds are removed here.
    """
    check_prefix(prefix)
    return IndexBuild(Path(index_dir).expanduser().resolve(), url,
                      api_key or (os.environ.get("QDRANT_API_KEY") if url else None), prefix)


def _index_id(d: Path) -> str:
    """A short random id of the index folder (names its collections on a server)."""
    path = d / _INDEX_ID
    with contextlib.suppress(OSError):
        text = path.read_text(encoding="utf-8").strip()
        if re.fullmatch(r"[0-9a-f]{8}", text):
            return text
    ident = secrets.token_hex(4)
    atomic_write_text(path, ident + "\n")
    return ident


def _collect_garbage(d: Path, keep: str | None,
                     remote_cleaner: Callable[[], None] | None) -> None:
    """Remove build leftovers and replaced generations that nobody has open."""
    for p in d.iterdir():
        name = p.name
        if p.is_file() and name.startswith(f".{MANIFEST_NAME}.") and name.endswith(".tmp"):
            with contextlib.suppress(OSError):
                p.unlink()
        elif p.is_dir() and (name.startswith(_BUILDING) or
                             (name.startswith(_DATA) and name != keep)):
            _remove_generation(p)
    if remote_cleaner is not None:
        try:
            remote_cleaner()
        except Exception as e:  # leftovers on a server cost space, not correctness
            log.warning("could not remove old collections from the Qdrant server: %s", e)


def _remove_generation(p: Path) -> None:
    """Delete a generation folder unless its embedded Qdrant is open (then keep it)."""
    import portalocker

    p = p.resolve()
    if embedded_open_under(p):
        return  # open in this process (e.g. an app still serving the old index)
    lock_path = p / QDRANT_DIRNAME / ".lock"
    if lock_path.exists():
        with open(lock_path, "r+") as f:
            try:
                portalocker.lock(f, portalocker.LockFlags.EXCLUSIVE |
                                 portalocker.LockFlags.NON_BLOCKING)
            except portalocker.exceptions.LockException:
                return  # another process reads it; a later build removes it
            shutil.rmtree(p, ignore_errors=True)
            return
    shutil.rmtree(p, ignore_errors=True)
