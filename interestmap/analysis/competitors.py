"""Accounts side by side on an index's audiences: who posts where, and what is left open.

For each chosen account: the audiences its clips fall into (its "clusters"), its share of
each audience's clips, and how much its posting overlaps with yours. Audiences that none
of the chosen accounts covers -- where all of them are absent or thin -- are the open
ones, largest first.

Definitions (all from the clips' audience assignments, nothing re-encoded):

* an account's **focus** on an audience: the fraction of the account's own clips that
  fall into it;
* its **share** of an audience: the fraction of the audience's clips it posted;
* an account **covers** an audience when its focus there is at least ``thin`` (default
  5 %) -- a stray clip or two in a big corpus does not count;
* **overlap** of two accounts: the histogram intersection of their focus over audiences,
  ``sum_k min(focus_a(k), focus_b(k))``, 0 (never the same audiences) to 1 (the same mix).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from interestmap.errors import ConfigError
from interestmap.index.results import Audience

DEFAULT_THIN = 0.05


def compare_accounts(clips: Sequence[Mapping[str, Any]],
                     audiences: Sequence[Audience | Mapping[str, Any]],
                     accounts: Sequence[str], mine: str | None = None,
                     thin: float = DEFAULT_THIN) -> dict[str, Any]:
    """Compare ``accounts`` (and ``mine``, your own account) over the audiences.

    ``clips`` are clip payloads with ``account`` and ``audience``; ``audiences`` are
    :class:`~interestmap.index.results.Audience` objects or dicts with ``id``, ``label`` and
    ``size``. Returns a JSON-ready dict: ``accounts`` (each with clips, audiences covered,
    focus per audience, overlap with ``mine``), ``audiences`` (each with size and the
    chosen accounts' shares), ``open_audiences`` (covered by none of them), ``thin``.
    """
    if not 0.0 <= thin < 1.0:
        raise ConfigError("thin must be between 0 and 1 (a share of an account's clips)")
    chosen = list(dict.fromkeys([a for a in ([mine] if mine else []) + list(accounts) if a]))
    if not chosen:
        raise ConfigError("pick at least one account to compare")
    known = Counter(str(c.get("account") or "unknown") for c in clips)
    unknown = [a for a in chosen if a not in known]
    if unknown:
        raise ConfigError(f"no clips from {', '.join(map(repr, unknown))} in this index; "
                          f"accounts here: {', '.join(sorted(known)[:12])}")
    auds = [_aud(a) for a in audiences]
    per: dict[str, Counter[int]] = {a: Counter() for a in chosen}
    sizes: Counter[int] = Counter()
    for c in clips:
        aud = c.get("audience")
        aud = -1 if aud is None else int(aud)
        if aud >= 0:
            sizes[aud] += 1
        acc = str(c.get("account") or "unknown")
        if acc in per:
            per[acc][aud] += 1
    focus = {a: {k: n / known[a] for k, n in per[a].items() if k >= 0} for a in chosen}
    rows = []
    for au in auds:
        size = sizes.get(au["id"], 0) or au["size"]
        rows.append({
            "id": au["id"], "label": au["label"], "size": size,
            "shares": {a: round(per[a].get(au["id"], 0) / size, 4) if size else 0.0
                       for a in chosen},
            "covered_by": [a for a in chosen if focus[a].get(au["id"], 0.0) >= thin],
        })
    rows.sort(key=lambda r: -r["size"])
    label = {au["id"]: au["label"] for au in auds}
    out_accounts = []
    for a in chosen:
        mine_focus = focus.get(mine, {}) if mine else {}
        out_accounts.append({
            "account": a, "is_mine": a == mine, "clips": known[a],
            "without_audience": per[a].get(-1, 0),
            "audiences": [{"id": k, "label": label.get(k, f"audience {k}"),
                           "clips": per[a][k], "focus": round(f, 4)}
                          for k, f in sorted(focus[a].items(), key=lambda kv: -kv[1])
                          if f >= thin],
            "overlap_with_mine": (None if not mine or a == mine
                                  else round(overlap(mine_focus, focus[a]), 4)),
            "shared_with_mine": ([] if not mine or a == mine else
                                 [label.get(k, str(k)) for k in sorted(
                                     set(mine_focus) & set(focus[a]),
                                     key=lambda k: -min(mine_focus[k], focus[a][k]))
                                  if mine_focus[k] >= thin and focus[a][k] >= thin]),
        })
    return {
        "mine": mine, "thin": thin, "accounts": out_accounts, "audiences": rows,
        "open_audiences": [{"id": r["id"], "label": r["label"], "size": r["size"]}
                           for r in rows if not r["covered_by"]],
    }


def overlap(a: Mapping[int, float], b: Mapping[int, float]) -> float:
    """Histogram intersection of two focus distributions (0 to 1)."""
    return float(sum(min(v, b.get(k, 0.0)) for k, v in a.items()))


def _aud(a: Audience | Mapping[str, Any]) -> dict[str, Any]:
    if isinstance(a, Mapping):
        return {"id": int(a["id"]), "label": str(a.get("label", "")),
                "size": int(a.get("size", 0))}
    return {"id": int(a.id), "label": str(a.label), "size": int(a.size)}
