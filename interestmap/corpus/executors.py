"""Where a build's clips are encoded: in this process, or on a Ray cluster (Ray Data).

``build_index`` is the *driver*: it reads the corpus, works out which clips the encode
cache lacks, hands those to an executor, and is the only one that writes, to the encode
cache as results arrive and to the store at the end. So resuming an interrupted build,
the atomic publish and skipping clips encoded before work the same whichever executor
encoded the clips.

- :class:`LocalExecutor`: this process, in the build's fixed chunks (the default).
- :class:`RayExecutor`: ``ray.data.from_items`` over the clips, ``map_batches`` with
  :class:`RayEncodeWorker` (an actor per worker that loads the models once), results
  streamed back to the driver as each batch finishes. ``address=None`` uses
  ``$RAY_ADDRESS`` when set, else starts a local cluster on this machine. Ray retries
  the batches of a worker that dies, so its clips are encoded again; a bad clip is
  reported and skipped, as locally. Needs the optional extra: ``pip install
  'interestmap[ray]'``.

Media paths must be readable by the workers: on one machine they are; on a cluster, put
the corpus on storage every node mounts at the same path.
"""

from __future__ import annotations

import json
import logging
import os
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from interestmap.clip import Clip, EncodedClip
from interestmap.encoders.pipeline import ClipEncoder
from interestmap.errors import ConfigError, MissingDependencyError

EXECUTORS = ("local", "ray")
RAY_INSTALL = "pip install 'interestmap[ray]'"
RAY_ADDRESS_ENV = "RAY_ADDRESS"
REDO_ROUNDS = 2
"""Times the driver sends again the clips for which no result came back (a worker died
and the engine did not retry its batch)."""
log = logging.getLogger(__name__)


@dataclass
class EncodeResult:
    """One clip's outcome: its position in the build's clip list, and an encoding or why
    there is none."""

    index: int
    encoded: EncodedClip | None = None
    problem: str | None = None


Jobs = Sequence[Sequence[tuple[int, Clip]]]
"""Clips to encode, in chunks: ``(index, clip)`` pairs."""


class Executor(ABC):
    """Encodes clips for a build and yields the results in groups, as they are ready.

    Each yielded group is written to the encode cache in one transaction before the
    next is asked for, so everything yielded survives an interruption.
    """

    name: str = "executor"

    @property
    def workers(self) -> int:
        """How many clips are encoded side by side."""
        return 1

    @abstractmethod
    def run(self, encoder: ClipEncoder, jobs: Jobs,
            on_clip: Callable[[], None] | None = None) -> Iterator[list[EncodeResult]]:
        """Encode the clips of ``jobs``; ``on_clip()`` is called as each one is done."""

    def describe(self) -> str:
        """A few words for progress lines: "this process", "Ray (2 workers)"."""
        return self.name


class LocalExecutor(Executor):
    """Encode in this process, one chunk at a time (text blocks batched per chunk)."""

    name = "local"

    def run(self, encoder: ClipEncoder, jobs: Jobs,
            on_clip: Callable[[], None] | None = None) -> Iterator[list[EncodeResult]]:
        tick = (lambda done, total: on_clip()) if on_clip is not None else None
        for chunk in jobs:
            if not chunk:
                continue
            enc, probs = encoder.encode_many([c for _, c in chunk], on_error="skip",
                                             progress=tick)
            bad = {p.index: p.message for p in probs}
            done = iter(enc)
            yield [EncodeResult(i, problem=bad[j]) if j in bad
                   else EncodeResult(i, encoded=next(done))
                   for j, (i, _) in enumerate(chunk)]

    def describe(self) -> str:
        return "this process"


# Ray -------------------------------------------------------------------------------------
def encoder_spec(encoder: ClipEncoder) -> dict[str, Any]:
    """What a worker needs to build the same :class:`ClipEncoder`: names and settings.

    Encoders given as objects are named by the registry name that rebuilds them; one that
    no name rebuilds (a custom object) cannot be sent to workers.
    """
    from interestmap.encoders import registry

    spec: dict[str, Any] = {"weights": dict(encoder.weights) if encoder.weights else None,
                            "ocr": encoder.ocr, "asr": encoder.asr,
                            "max_frames": encoder.max_frames,
                            "max_duration_s": encoder.max_duration_s}
    for kind, given, resolved, get in (
            ("text", encoder.text_encoder, encoder.text, registry.get_text_encoder),
            ("image", encoder.image_encoder, encoder.image, registry.get_image_encoder),
            ("audio", encoder.audio_encoder, encoder.audio, registry.get_audio_encoder)):
        if given is None or isinstance(given, str):
            name = given or _registry_name(resolved)
        else:
            name = _registry_name(resolved)
        try:
            same = name is not None and get(name).info == resolved.info
        except Exception:  # noqa: BLE001 - any failure means "not rebuildable by name"
            same = False
        if not same:
            raise ConfigError(f"the {kind} encoder {resolved!r} cannot be sent to Ray workers: "
                              "give encoders by name (see interestmap.encoders.registry)")
        spec[f"{kind}_encoder"] = name
    return spec


def _registry_name(enc: Any) -> str | None:
    return getattr(getattr(enc, "info", None), "name", None)


def clip_to_json(clip: Clip) -> str:
    """A clip as one JSON line (media paths as strings)."""
    return json.dumps({"media": [str(p) for p in clip.media], "caption": clip.caption,
                       "language": clip.language, "geo": clip.geo, "id": clip.id,
                       "account": clip.account, "published_at": clip.published_at,
                       "labels": list(clip.labels or [])}, ensure_ascii=False)


def clip_from_json(text: str) -> Clip:
    d = json.loads(text)
    return Clip(**{**d, "media": [Path(p) for p in d.get("media", [])]})


class RayEncodeWorker:
    """A Ray Data actor: builds the encoder and loads its models once, then encodes batches.

    A batch comes in as columns ``index``, ``clip`` (JSON) and goes out as ``index``,
    ``meta``, ``vectors`` (the encode cache's own record format) and ``problem``.
    """

    def __init__(self, spec: dict[str, Any]) -> None:
        self.encoder = ClipEncoder(**spec)
        self.encoder.load_models()

    def __call__(self, batch: dict[str, Any]) -> dict[str, Any]:
        import numpy as np

        from interestmap.corpus.cache import encode_record

        clips = [clip_from_json(str(c)) for c in batch["clip"]]
        enc, probs = self.encoder.encode_many(clips, on_error="skip")
        bad = {p.index: p.message for p in probs}
        done = iter(enc)
        metas, vectors, problems = [], [], []
        for j in range(len(clips)):
            if j in bad:
                metas.append("")
                vectors.append(b"")
                problems.append(bad[j])
            else:
                meta, blob = encode_record(next(done))
                metas.append(meta)
                vectors.append(blob)
                problems.append("")
        return {"index": np.asarray(batch["index"], dtype=np.int64),
                "meta": np.asarray(metas, dtype=object),
                "vectors": np.asarray(vectors, dtype=object),
                "problem": np.asarray(problems, dtype=object)}


def _worker_class(spec: dict[str, Any]) -> type:
    """:class:`RayEncodeWorker` with ``spec`` built in: the class travels to the workers
    by value, so the actor needs no constructor arguments in the object store."""

    class EncodeWorker(RayEncodeWorker):
        def __init__(self) -> None:
            super().__init__(spec)

    return EncodeWorker


class RayExecutor(Executor):
    """Encode on a Ray cluster with Ray Data.

    ``address``: a cluster to join (``"ray://host:10001"``, ``"host:6379"``, ``"auto"``);
    None means ``$RAY_ADDRESS``, else a local cluster of ``num_cpus`` CPUs started for the
    build and stopped after it. ``workers``: encoder actors (default: one per
    ``cpus_per_worker`` CPUs of the cluster). ``batch_size``: clips per task; a smaller
    one shows progress sooner and redoes less when a worker dies.
    """

    name = "ray"

    def __init__(self, address: str | None = None, *, workers: int | None = None,
                 cpus_per_worker: float = 1.0, batch_size: int = 2,
                 num_cpus: int | None = None, object_store_mb: int = 512,
                 threads_per_worker: int | None = None) -> None:
        if workers is not None and workers < 1:
            raise ConfigError(f"workers must be at least 1, got {workers}")
        if batch_size < 1:
            raise ConfigError(f"batch_size must be at least 1, got {batch_size}")
        if cpus_per_worker <= 0:
            raise ConfigError(f"cpus_per_worker must be positive, got {cpus_per_worker}")
        self.address = address
        self.n_workers = workers
        self.cpus_per_worker = float(cpus_per_worker)
        self.batch_size = int(batch_size)
        self.num_cpus = num_cpus
        self.object_store_mb = int(object_store_mb)
        self.threads_per_worker = threads_per_worker
        self._resolved_workers: int | None = None

    @property
    def workers(self) -> int:
        return self._resolved_workers or self.n_workers or 1

    def describe(self) -> str:
        where = self.address or os.environ.get(RAY_ADDRESS_ENV) or "a local cluster"
        return f"Ray ({self.workers} worker{'s' if self.workers != 1 else ''}, {where})"

    def _thread_env(self) -> dict[str, str]:
        """Math threads per worker: Ray's default is one per reserved CPU, but Whisper's
        beam search can pick other words for noisy speech when its sums run on another
        number of threads. Workers use as many as this process does, so a Ray build
        encodes every clip as a local build would."""
        n = self.threads_per_worker or _local_threads()
        return {k: str(n) for k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS",
                                    "OPENBLAS_NUM_THREADS")}

    def _connect(self, ray: Any) -> bool:
        """Join or start a cluster; True when this call started (and must stop) it."""
        if ray.is_initialized():
            return False
        address = self.address or os.environ.get(RAY_ADDRESS_ENV) or None
        env = {k: v for k, v in os.environ.items() if k.startswith("INTERESTMAP_")}
        kw: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False,
                              "logging_level": "ERROR", "configure_logging": True}
        try:
            if address:
                ray.init(address=address, runtime_env={"env_vars": env} if env else None, **kw)
            else:
                # a local cluster: its workers inherit this process's environment
                ray.init(num_cpus=self.num_cpus or os.cpu_count() or 1,
                         object_store_memory=self.object_store_mb * 1024 * 1024, **kw)
        except ConnectionError as e:
            raise ConfigError(f"cannot reach the Ray cluster at {address}: {e}") from None
        return True

    def run(self, encoder: ClipEncoder, jobs: Jobs,
            on_clip: Callable[[], None] | None = None) -> Iterator[list[EncodeResult]]:
        ray = import_ray()
        from interestmap.corpus.cache import decode_record

        items = [{"index": int(i), "clip": clip_to_json(c)} for chunk in jobs for i, c in chunk]
        if not items:
            return
        clips = {int(i): c for chunk in jobs for i, c in chunk}
        spec = encoder_spec(encoder)
        started = self._connect(ray)
        try:
            ctx = ray.data.DataContext.get_current()
            ctx.enable_progress_bars = False  # the build draws its own
            ctx.print_on_execution_start = False
            logging.getLogger("ray.data").setLevel(logging.ERROR)
            cpus = float(ray.cluster_resources().get("CPU", 1.0))
            workers = self.n_workers or max(1, int(cpus // self.cpus_per_worker))
            workers = min(workers, max(1, -(-len(items) // self.batch_size)))
            self._resolved_workers = workers
            blocks = max(1, min(len(items), -(-len(items) // self.batch_size)))
            ds = ray.data.from_items(items, override_num_blocks=blocks)
            # Ray Data restarts a dead actor and retries its batch (max_restarts and
            # max_task_retries are -1 for actor pools), so a killed worker's clips
            # are encoded again and nothing is lost.
            ds = ds.map_batches(_worker_class(spec), batch_size=self.batch_size,
                                batch_format="numpy", num_cpus=self.cpus_per_worker,
                                compute=ray.data.ActorPoolStrategy(size=workers),
                                runtime_env={"env_vars": self._thread_env()})
            for batch in ds.iter_batches(batch_size=None, batch_format="numpy"):
                out = []
                for i, meta, blob, problem in zip(batch["index"], batch["meta"],
                                                  batch["vectors"], batch["problem"],
                                                  strict=True):
                    i = int(i)
                    if problem:
                        out.append(EncodeResult(i, problem=str(problem)))
                    else:
                        out.append(EncodeResult(i, encoded=decode_record(
                            str(meta), bytes(blob), clip=clips[i])))
                    if on_clip is not None:
                        on_clip()
                yield out
        finally:
            if started:
                ray.shutdown()


def _local_threads() -> int:
    """Math threads this process's libraries use: ``$OMP_NUM_THREADS``, else the CPUs."""
    try:
        n = int(os.environ.get("OMP_NUM_THREADS", ""))
    except ValueError:
        n = 0
    return n if n > 0 else (os.cpu_count() or 1)


def import_ray() -> Any:
    """The ``ray`` module with Ray Data, or a clear error naming the extra to install."""
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError:
        raise MissingDependencyError(f"the Ray executor needs Ray Data: {RAY_INSTALL}") from None
    return ray


def make_executor(executor: str | Executor | None = None, *, ray_address: str | None = None,
                  workers: int | None = None) -> Executor:
    """An executor by name ("local", "ray") or as given; None is "local"."""
    if isinstance(executor, Executor):
        return executor
    name = (executor or "local").strip().lower()
    if name == "local":
        if ray_address:
            raise ConfigError("--ray-address needs --executor ray")
        return LocalExecutor()
    if name == "ray":
        import_ray()
        return RayExecutor(ray_address, workers=workers)
    raise ConfigError(f"unknown executor '{executor}': use one of {', '.join(EXECUTORS)}")


# The driver's side -------------------------------------------------------------------------
@dataclass
class CorpusEncoding:
    """What :func:`encode_corpus` produced."""

    encoded: list[EncodedClip]
    """Every clip that has an encoding (cached before or made now), in corpus order."""
    n_new: int
    n_cached: int
    problems: list[dict[str, str]]
    seconds: float
    """Wall time of the encoding proper (clips made now)."""
    executor: str


def encode_corpus(encoder: ClipEncoder, clips: Sequence[Clip], cache_folder: str | Path,
                  *, executor: Executor | None = None,
                  progress: Callable[[str, int, int], None] | None = None,
                  chunk_size: int = 32) -> CorpusEncoding:
    """Every clip's encoding, from the encode cache or made now by ``executor``.

    This process is the only writer of the cache: each group of results the executor
    yields is stored in one transaction as it arrives, so an interrupted build loses at
    most the groups in flight and the next run encodes only what is missing.
    ``progress("encode", done, total)`` counts clips, cached ones included.
    """
    import time

    from interestmap.corpus.cache import EncodeCache, content_key, layout_identity

    executor = executor or LocalExecutor()
    step = progress or (lambda stage, done, total: None)
    layout = encoder.layout
    ident = layout_identity(layout, extra=encoder_options(encoder))
    cache = EncodeCache(cache_folder)
    try:
        keys = [content_key(c, ident) for c in clips]
        total = len(clips)
        # Chunks are fixed slices of the corpus order. Text models give ever so slightly
        # different vectors for a text in another batch; fixed chunks mean a resumed
        # local build re-encodes exactly the batches an uninterrupted one would, so both
        # end with identical vectors and audiences (Ray batches differ by ~1e-7).
        jobs = [[(i, clips[i]) for i in range(start, min(start + chunk_size, total))
                 if keys[i] not in cache] for start in range(0, total, chunk_size)]
        jobs = [j for j in jobs if j]
        n_todo = sum(len(j) for j in jobs)
        done = total - n_todo
        step("encode", done, total)
        problems: list[dict[str, str]] = []
        failed: set[int] = set()
        n_new = 0
        t0 = time.perf_counter()

        def tick() -> None:
            nonlocal done
            done = min(total, done + 1)
            step("encode", done, total)

        answered: set[int] = set()
        for attempt in range(1 + REDO_ROUNDS):
            if attempt:  # clips a dead worker took with it: sent again
                jobs = [[(i, c) for i, c in job if i not in answered] for job in jobs]
                jobs = [j for j in jobs if j]
                if not jobs:
                    break
                log.warning("%d clip(s) got no result from %s; encoding them again",
                            sum(len(j) for j in jobs), executor.describe())
            for results in executor.run(encoder, jobs, on_clip=tick):
                cache.put_many((keys[r.index], r.encoded) for r in results
                               if r.encoded is not None and r.index not in answered)
                for r in results:
                    if r.index in answered:  # a retried batch: the first answer stands
                        continue
                    answered.add(r.index)
                    if r.encoded is None:
                        failed.add(r.index)
                        problems.append({"where": str(clips[r.index].id),
                                         "message": r.problem or "could not be encoded"})
                    else:
                        n_new += 1
        for i in sorted({i for job in jobs for i, _ in job} - answered):
            failed.add(i)  # never silently lost: said, and encoded on the next run
            problems.append({"where": str(clips[i].id),
                             "message": f"no result came back from {executor.describe()}; "
                                        "build again to encode it"})
        seconds = time.perf_counter() - t0
        step("encode", total, total)
        encoded = []
        for i, (c, k) in enumerate(zip(clips, keys, strict=True)):
            if i in failed:
                continue
            e = cache.get(k, clip=c, layout=layout)
            if e is not None:
                encoded.append(e)
        return CorpusEncoding(encoded=encoded, n_new=n_new, n_cached=total - n_todo,
                              problems=problems, seconds=seconds,
                              executor=executor.describe())
    finally:
        cache.close()


def encoder_options(encoder: ClipEncoder) -> dict[str, Any]:
    """Settings besides the models that change the block vectors."""
    return {"ocr": encoder.ocr, "asr": encoder.asr, "max_frames": encoder.max_frames}
