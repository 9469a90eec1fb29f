"""The Check a clip tab: where a new clip lands, its clarity, topics, audiences and advice.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from interestmap.app.plots.bars import topic_bars
from interestmap.app.plots.scatter import Marker, map_figure
from interestmap.app.plots.style import add_note, short
from interestmap.app.views.indexes import DEFAULT_CHOICE, Progress, clip_rows, get_index
from interestmap.app.views.map_tab import color_groups
from interestmap.app.views.words import escape_md, language_code
from interestmap.errors import ConfigError


@dataclass
class CheckView:
    """What the check-a-clip tab shows, plus the encoded clip for what-if."""

    map: Any
    clarity_md: str
    topics: Any
    audiences_md: str
    advice_md: str
    encoded: Any
    result: dict[str, Any]


def make_clip(files: Sequence[str] | str | None, caption: str | None, language: Any = None,
              geo: str | None = None) -> Any:
    """A :class:`~interestmap.clip.Clip` from the form's uploads and fields."""
    from interestmap.clip import Clip

    paths = [files] if isinstance(files, str | Path) else list(files or [])
    caption = (caption or "").strip()
    if not paths and not caption:
        raise ConfigError("add a video, image or audio file, or type a caption, then check")
    return Clip.of([Path(str(p)) for p in paths], caption=caption,
                   language=language_code(language), geo=(geo or "").strip() or None,
                   id="your clip")


def check_key(choice: str | None, files: Any, caption: Any, language: Any, geo: Any) -> str:
    """The key of a checked clip: the same inputs give the same key (what-if reuses the check)."""
    import json

    paths = [files] if isinstance(files, str | Path) else list(files or [])
    return json.dumps([choice or DEFAULT_CHOICE, [str(p) for p in paths], caption or "",
                       language_code(language), (geo or "").strip()])


def check_clip_view(choice: str | None, files: Sequence[str] | str | None, caption: str | None,
                    language: Any = None, geo: str | None = None,
                    progress: Progress | None = None) -> CheckView:
    """Encode and analyse a clip against the chosen map: where it lands, its clarity,
    its declared topics per modality, the nearest audiences and the advice."""
    from interestmap.analysis.analyze import analyze_encoded, encoder_for

    clip = make_clip(files, caption, language, geo)
    idx = get_index(choice)
    say = progress or (lambda *a, **k: None)
    say(0.05, desc="Reading the clip: pictures, sound, speech and on-screen text")
    encoded = encoder_for(idx).encode(clip)
    say(0.8, desc="Comparing it with the map")
    res = analyze_encoded(encoded, idx)
    say(1.0, desc="Done")
    near = res.nearest.as_dict()
    marker = ([Marker(float(near["x"]), float(near["y"]), "Your clip")]
              if near.get("x") is not None and near.get("y") is not None else [])
    rows = clip_rows(idx)
    fig = map_figure(rows, color_groups(idx, rows, "audience"), markers=marker,
                           revision=f"check:{idx.dir}")
    if not marker:
        add_note(fig, "This clip has no caption, speech, on-screen text or visuals "
                             "to place it by.")
    return CheckView(map=fig, clarity_md=clarity_markdown(res), topics=topic_figure(res),
                     audiences_md=audiences_markdown(res), advice_md=advice_markdown(res),
                     encoded=(check_key(choice, files, caption, language, geo), encoded),
                     result=res.as_dict())


def topic_figure(res: Any, top: int = 8) -> Any:
    """Declared topics of an analysed clip: overall and per block, as bars."""
    from interestmap.analysis.analyze import BLOCK_WORDS

    ts = res.topics
    scores: dict[str, dict[str, float]] = {}
    if ts.block_weights:
        scores["overall"] = {t.name: float(p) for t, p in zip(ts.topics, ts.probabilities,
                                                              strict=True)}
    for b in ts.block_weights:
        p = ts.block_probabilities.get(b)
        if p is not None:
            scores[BLOCK_WORDS.get(b, b)] = {t.name: float(v) for t, v in zip(ts.topics, p,
                                                                             strict=True)}
    return topic_bars(scores, top=top, order_by="overall", title="",
                            axis_title="probability of each declared topic")


def clarity_markdown(res: Any) -> str:
    """Clarity score, its reason, and what each part of the clip says."""
    from interestmap.analysis.analyze import BLOCK_WORDS

    c, agr = res.clarity, res.agreement
    color = {"clear": "#1a9850", "mixed": "#f08c00"}.get(c.band, "#d73027")
    icon = f'<span style="color:{color}">●</span>'
    top = agr.top_topic["name"] if agr.top_topic else "no topic"
    lines = [f"## {icon} Topic clarity: {c.score}/100 ({c.band})", "",
             f"Reads as **{escape_md(top)}**. {escape_md(c.reason.split(': ', 1)[-1])}", ""]
    if agr.blocks:
        lines += ["| part of the clip | says | agrees | what it contains |",
                  "|---|---|---|---|"]
        for r in agr.blocks:
            lines.append(f"| {escape_md(r.words)} | {escape_md(r.top_topic['name'])} "
                         f"({r.top_topic['probability']:.0%}) | {'yes' if r.agrees else '**no**'}"
                         f" | {escape_md(r.evidence) or '—'} |")
    missing = {BLOCK_WORDS.get(b, b): why for b, why in res.encoded.missing.items()
               if b in ("caption", "ocr", "speech", "visual_semantics", "audio", "audio_semantics")}
    if missing:
        lines += ["", "<small>Not used: " + "; ".join(f"{escape_md(k)} ({escape_md(v)})"
                                                    for k, v in missing.items()) + "</small>"]
    return "\n".join(lines)


def audiences_markdown(res: Any) -> str:
    """The nearest audiences, how close, what drives each match; the nearest clips."""
    from interestmap.analysis.analyze import BLOCK_WORDS

    auds = res.nearest.as_dict()["audiences"]
    if not auds:
        return "### Nearest audiences\n\nThis map has no audiences to compare with."
    lines = ["### Nearest audiences", "", "| audience | match | belongs | mostly because of |",
             "|---|---|---|---|"]
    for a in auds:
        attr = sorted(((v, b) for b, v in a.get("attribution", {}).items() if v > 0),
                      reverse=True)[:2]
        why = " and ".join(BLOCK_WORDS.get(b, b) for _, b in attr) or "—"
        lines.append(f"| {escape_md(a['label'])} | {a['similarity']:.2f} | "
                     f"{a.get('probability', 0.0):.0%} | {escape_md(why)} |")
    lines += ["", "<small>*match*: how alike the clip and the audience's clips are (1 = the "
                  "same); *belongs*: how likely the clip counts as one of the audience's "
                  "own.</small>"]
    clips = res.nearest.as_dict()["clips"]
    if clips:
        lines += ["", "**Most similar clips on the map:**", ""]
        lines += [f"- {escape_md(short(str(c.get('caption') or '(no caption)'), 120))} — "
                  f"*{escape_md(c.get('account') or '?')}* ({c['similarity']:.2f})" for c in clips[:5]]
    return "\n".join(lines)


def advice_markdown(res: Any) -> str:
    """The ranked advice: what to do, and why."""
    if not res.advice:
        return "### Advice\n\nNothing to fix: the clip is clear as it is."
    lines = ["### Advice", ""]
    for i, a in enumerate(res.advice, 1):
        d = a.as_dict() if hasattr(a, "as_dict") else dict(a)
        lines.append(f"{i}. **{escape_md(d.get('title', ''))}** {escape_md(d.get('detail', ''))}")
    return "\n".join(lines)
