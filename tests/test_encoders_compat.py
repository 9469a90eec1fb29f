"""The torchvision fix: with torchvision's C++ ops unloadable, imports still work."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from interestmap._compat import downloads_allowed, ensure_torchvision, hub_offline

ROOT = Path(__file__).resolve().parents[1]

# Simulates a torchvision built for another torch: its compiled library fails to load.
_BREAK_TORCHVISION = textwrap.dedent("""
    import torch
    _load = torch.ops.load_library
    def _fail(path):
        if "torchvision" in str(path):
            raise OSError("simulated: torchvision built for another torch")
        return _load(path)
    torch.ops.load_library = _fail
""")


def _run(code: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-c", _BREAK_TORCHVISION + textwrap.dedent(code)],
                          capture_output=True, text=True, timeout=300, env=env, cwd=ROOT)


@pytest.mark.slow
def test_broken_torchvision_fails_without_the_fix():
    res = _run("import torchvision")
    assert res.returncode != 0
    assert "torchvision::nms" in res.stderr


@pytest.mark.slow
def test_fix_makes_torchvision_and_open_clip_import():
    res = _run("""
        from interestmap._compat import ensure_torchvision
        tv = ensure_torchvision()
        assert ensure_torchvision() is tv
        from torchvision import transforms
        from torchvision.models import ResNet18_Weights
        assert len(ResNet18_Weights.IMAGENET1K_V1.meta["categories"]) == 1000
        import open_clip
        print("ok", transforms.Resize(8))
    """)
    assert res.returncode == 0, res.stderr[-2000:]
    assert res.stdout.startswith("ok")


def test_ensure_torchvision_is_idempotent():
    assert ensure_torchvision() is ensure_torchvision()


def test_hub_offline_sets_and_restores(monkeypatch):
    monkeypatch.delenv("INTERESTMAP_ALLOW_DOWNLOADS", raising=False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    assert not downloads_allowed()
    with hub_offline():
        assert os.environ["HF_HUB_OFFLINE"] == "1"
    assert "HF_HUB_OFFLINE" not in os.environ
    monkeypatch.setenv("INTERESTMAP_ALLOW_DOWNLOADS", "1")
    with hub_offline():
        assert "HF_HUB_OFFLINE" not in os.environ
