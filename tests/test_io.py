"""Atomic writes: an interrupted write leaves the old file whole and no temporary files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from interestmap._io import atomic_write_bytes, atomic_write_json, atomic_write_text, atomic_writer


def test_writes_replace_the_file_and_leave_nothing_else(tmp_path: Path) -> None:
    target = tmp_path / "data.json"
    atomic_write_json(target, {"a": "é"}, indent=1)
    assert json.loads(target.read_text(encoding="utf-8")) == {"a": "é"}
    assert "é" in target.read_text(encoding="utf-8")  # ensure_ascii=False by default
    atomic_write_text(target, "two")
    assert target.read_text(encoding="utf-8") == "two"
    atomic_write_bytes(target, b"\x00three")
    assert target.read_bytes() == b"\x00three"
    with atomic_writer(tmp_path / "v.npy") as fh:
        np.save(fh, np.arange(3))
    assert np.load(tmp_path / "v.npy").tolist() == [0, 1, 2]
    with atomic_writer(tmp_path / "t.txt", "w") as fh:
        fh.write("línea\n")
    assert (tmp_path / "t.txt").read_bytes() == "línea\n".encode()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.json", "t.txt", "v.npy"]


def test_new_files_follow_the_umask(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        path = atomic_write_text(tmp_path / "f", "x")
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == 0o644  # not mkstemp's private 0o600


def test_an_error_inside_the_block_keeps_the_old_file(tmp_path: Path) -> None:
    target = tmp_path / "model.bin"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError), atomic_writer(target) as fh:
        fh.write(b"half of the new")
        raise RuntimeError("disk on fire")
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["model.bin"]


def test_a_killed_writer_leaves_the_old_file_intact(tmp_path: Path) -> None:
    """SIGKILL in the middle of a write (no cleanup runs): the target is still the old
    file; what is left is only a hidden temporary file, never a torn target."""
    target = tmp_path / "manifest.json"
    target.write_text('{"version": 1}', encoding="utf-8")
    script = textwrap.dedent(f"""
        import os, signal
        from interestmap._io import atomic_writer
        with atomic_writer({str(target)!r}) as fh:
            fh.write(b'{{"version": 2, "half')
            fh.flush()
            os.kill(os.getpid(), signal.SIGKILL)
    """)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    done = subprocess.run([sys.executable, "-c", script], env=env, timeout=60)
    assert done.returncode == -9
    assert json.loads(target.read_text(encoding="utf-8")) == {"version": 1}
    leftovers = [p.name for p in tmp_path.iterdir() if p != target]
    assert all(n.startswith(".manifest.json.") and n.endswith(".tmp") for n in leftovers)


def test_unknown_modes_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="mode"), atomic_writer(tmp_path / "x", "a"):
        pass


def test_the_file_and_its_folder_are_fsynced_before_and_after_the_rename(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    events: list[str] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd: int) -> None:
        events.append("fsync-dir" if os.path.isdir(f"/proc/self/fd/{fd}") else "fsync-file")
        real_fsync(fd)

    def replace(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
        events.append("replace")
        real_replace(src, dst)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    atomic_write_text(tmp_path / "f.json", "{}")
    assert events == ["fsync-file", "replace", "fsync-dir"]
