"""Work-arounds for third-party packages, applied once per process before their import.

- :func:`ensure_torchvision`: torchvision from PyPI may be built for another torch
  (a CUDA build next to CPU torch). Its import then dies with ``operator torchvision::nms
  does not exist``, which also breaks open_clip, transformers and sentence-transformers.
  Defining the two missing operator schemas first lets everything but torchvision's own
  C++ ops (nms, roi_align, decode_jpeg) work; interestmap uses none of them.
- :func:`hub_offline`: Hugging Face downloads are off unless the user opts in with
  ``INTERESTMAP_ALLOW_DOWNLOADS=1``, so a model that is not on disk fails at once with a
  clear message instead of retrying the network for minutes.
"""

from __future__ import annotations

import glob
import importlib.util
import os
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType
from typing import Any

from interestmap.errors import MissingDependencyError

ALLOW_DOWNLOADS_ENV = "INTERESTMAP_ALLOW_DOWNLOADS"

_lock = threading.Lock()
_torchvision: ModuleType | None = None
_op_library: Any = None  # keeps the torch.library definitions alive for the process


def downloads_allowed() -> bool:
    """True when the user allowed model downloads (``INTERESTMAP_ALLOW_DOWNLOADS=1``)."""
    return os.environ.get(ALLOW_DOWNLOADS_ENV, "").strip().lower() in {"1", "true", "yes", "on"}


def _torchvision_has_nms() -> bool:
    import torch

    try:
        torch.ops.torchvision.nms  # noqa: B018 (attribute lookup is the check)
    except (AttributeError, RuntimeError):
        return False
    return True


def _load_torchvision_extension() -> None:
    """Load torchvision's compiled ops the way torchvision does, ignoring failures."""
    import torch

    spec = importlib.util.find_spec("torchvision")
    if spec is None or not spec.submodule_search_locations:
        return
    folder = list(spec.submodule_search_locations)[0]
    for stem in ("_C_stable", "_C"):
        for path in sorted(glob.glob(os.path.join(folder, f"{stem}*.so")) +
                           glob.glob(os.path.join(folder, f"{stem}*.pyd"))):
            try:
                torch.ops.load_library(path)
            except (ImportError, OSError, RuntimeError):
                continue
            if _torchvision_has_nms():
                return


def _define_missing_ops() -> None:
    global _op_library
    import torch

    lib = torch.library.Library("torchvision", "DEF")
    lib.define("nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
    lib.define("qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
    _op_library = lib


def ensure_torchvision() -> ModuleType:
    """Import torchvision (with the operator fix when its C++ ops do not load); idempotent.

    Call it before importing torchvision, open_clip, transformers or sentence-transformers.
    """
    global _torchvision
    if _torchvision is not None:
        return _torchvision
    with _lock:
        if _torchvision is not None:
            return _torchvision
        if "torchvision" not in sys.modules:
            try:
                import torch  # noqa: F401
            except ImportError as e:
                raise MissingDependencyError(
                    "PyTorch is not installed: run `pip install torch` (see README)") from e
            if importlib.util.find_spec("torchvision") is None:
                raise MissingDependencyError(
                    "torchvision is not installed: run `pip install torchvision`")
            if not _torchvision_has_nms():
                _load_torchvision_extension()
            if not _torchvision_has_nms():
                _define_missing_ops()
        try:
            import torchvision
        except Exception as e:  # a broken build raises all sorts of errors
            raise MissingDependencyError(
                f"torchvision cannot be imported ({type(e).__name__}: {e}); reinstall a "
                "torchvision that matches your torch version") from e
        _torchvision = torchvision
        return torchvision


@contextmanager
def hub_offline() -> Iterator[None]:
    """Within this block the Hugging Face hub is offline unless downloads are allowed."""
    if downloads_allowed():
        yield
        return
    saved = {k: os.environ.get(k) for k in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")}
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    constants = sys.modules.get("huggingface_hub.constants")
    saved_const = getattr(constants, "HF_HUB_OFFLINE", None) if constants else None
    if constants is not None:
        constants.HF_HUB_OFFLINE = True
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        constants = sys.modules.get("huggingface_hub.constants")
        if constants is not None:  # also when the hub was first imported inside the block
            constants.HF_HUB_OFFLINE = (
                saved_const if saved_const is not None
                else any((saved[k] or "").strip().lower() in {"1", "true", "yes", "on"}
                         for k in saved))
