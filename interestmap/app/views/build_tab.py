"""The Build a map tab: build an index from a folder or a manifest, with progress.
"""

from __future__ import annotations

import re
from pathlib import Path

from interestmap.app.views.indexes import DEFAULT_CHOICE, Progress, build_steps, get_index
from interestmap.app.views.words import escape_md
from interestmap.errors import ConfigError

_NAME_OK = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def build_map(name: str, folder: str | None = None, manifest: str | None = None,
              progress: Progress | None = None) -> tuple[str, str]:
    """Build (or update) the index ``name`` under the indexes root from a folder path on
    this computer or an uploaded manifest. Returns a Markdown report and the new index's
    choice."""
    from interestmap.index.build import build_index
    from interestmap.index.default import indexes_root

    name = (name or "").strip()
    if not _NAME_OK.match(name) or name == DEFAULT_CHOICE:
        raise ConfigError("give the map a short name of letters, digits, '-' or '_' "
                          "(not 'default'), e.g. my-shop")
    folder = (folder or "").strip()
    if bool(folder) == bool(manifest):
        raise ConfigError("give either a folder of clips or a manifest file, not "
                          + ("both" if folder else "neither"))
    source = Path(folder).expanduser() if folder else Path(str(manifest))
    if folder and not source.exists():
        raise ConfigError(f"there is no folder {folder} on this computer: check the path")
    target = indexes_root() / name
    with build_index(source, target, progress=build_steps(progress)) as built:
        rep = built.build_report
    choice = str(target.resolve())
    get_index(choice)  # open it now, so the first look is quick
    lines = [f"### Map **{escape_md(name)}** is ready",
             f"{rep.n_clips:,} clips ({rep.n_encoded:,} newly encoded, {rep.n_cached:,} "
             f"reused) in **{rep.n_audiences} audiences**; {rep.outlier_share:.0%} fit no "
             f"audience clearly. Took {rep.timings_s.get('total', 0):.0f} s."]
    if rep.purity is not None:
        lines.append(f"Against the clips' own labels, the audiences are {rep.purity:.0%} pure.")
    if rep.problems:
        lines.append(f"\n**{len(rep.problems)} clip(s) were skipped:**")
        lines += [f"- {escape_md(str(p['where']))}: {escape_md(str(p['message']))}"
                  for p in rep.problems[:15]]
        if len(rep.problems) > 15:
            lines.append(f"- … and {len(rep.problems) - 15} more")
    lines.append("\nIt is now selected at the top of the page.")
    return "\n".join(lines), choice
