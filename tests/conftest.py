"""Shared fixtures: the real data set in ../shared/data (or $INTERESTMAP_DATA)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

_DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def data_dir() -> Path | None:
    """The shared real-data folder, or None when it is absent."""
    p = Path(os.environ.get("INTERESTMAP_DATA", _DEFAULT_DATA))
    return p if p.is_dir() else None


@pytest.fixture(scope="session")
def data() -> Path:
    """Path to the real data; skips the test with a clear message when absent."""
    p = data_dir()
    if p is None:
        pytest.skip(f"real data not found at {_DEFAULT_DATA}: set INTERESTMAP_DATA to the "
                    "shared data folder (see ../shared/data/README.md) to run this test")
    return p


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    """Folder for test artifacts (screenshots, rendered fixtures), git-ignored."""
    p = Path(__file__).resolve().parents[1] / "test-artifacts"
    p.mkdir(exist_ok=True)
    return p
