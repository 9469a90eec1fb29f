"""The Competitors tab: accounts compared over the audiences, and the open audiences.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from interestmap.app.plots.bars import share_bars
from interestmap.app.views.indexes import clip_rows, get_index
from interestmap.app.views.words import escape_md


@dataclass
class CompetitorView:
    """What the competitors tab shows."""

    shares: Any
    """Figure: each audience's clips by the chosen accounts."""
    accounts_md: str
    open_md: str
    report: dict[str, Any]


def competitors_view(choice: str | None, accounts: Sequence[str] | None,
                     mine: str | None = None, thin: float = 0.05) -> CompetitorView:
    """Compare the chosen accounts (and yours) over this map's audiences."""
    from interestmap.analysis.competitors import compare_accounts

    idx = get_index(choice)
    rep = compare_accounts(clip_rows(idx), idx.audiences, list(accounts or []), mine or None,
                           thin=thin)
    chosen = [a["account"] for a in rep["accounts"]]
    rows = [r for r in rep["audiences"] if any(r["shares"][a] > 0 for a in chosen)][:20]
    fig = share_bars({f"{r['label']} ({r['size']})": r["shares"] for r in rows},
                           title="Share of each audience's clips", highlight=mine or None)
    lines = []
    for a in rep["accounts"]:
        who = "You" if a["is_mine"] else escape_md(a["account"])
        auds = ", ".join(f"{escape_md(x['label'])} ({x['focus']:.0%})"
                         for x in a["audiences"][:6]) or "no audience clearly"
        lines.append(f"**{who}** ({a['clips']} clips) posts mostly into: {auds}.")
        if a["overlap_with_mine"] is not None:
            shared = ", ".join(escape_md(s) for s in a["shared_with_mine"][:5])
            lines.append(f"  Overlap with you: **{a['overlap_with_mine']:.0%}**"
                         + (f" — both post into {shared}." if shared else
                            " — you post into different audiences."))
        lines.append("")
    opens = rep["open_audiences"]
    if opens:
        open_md = ("**Audiences none of you covers yet** (largest first; covering means at "
                   f"least {thin:.0%} of an account's clips go there):\n\n"
                   + "\n".join(f"- {escape_md(o['label'])} — {o['size']} clips"
                               for o in opens[:12]))
    else:
        open_md = "Every audience on this map is covered by at least one of these accounts."
    return CompetitorView(fig, "\n".join(lines).strip(), open_md, rep)
