"""Plain words for the app: Markdown escaping, language choices and codes, dates.
"""

from __future__ import annotations

import html
import re
from typing import Any

from interestmap.encoders.context import language_names

_MD_SPECIAL = re.compile(r"([\\`*_\[\]|~])")


def escape_md(text: Any) -> str:
    """Text shown as itself inside Markdown: no HTML, no accidental emphasis or links."""
    return _MD_SPECIAL.sub(r"\\\1", html.escape(str(text), quote=False))


AUTO_LANGUAGE = "Detect automatically"


def language_choices() -> list[tuple[str, str]]:
    """``(name, code)`` for the language picker, after an automatic-detection entry."""
    return [(AUTO_LANGUAGE, "")] + sorted(((f"{n} ({c})", c) for c, n in language_names().items()),
                                          key=lambda t: t[0])


def language_code(value: Any) -> str | None:
    """A language picked or typed ("English", "en", "English (en)") as a code, or None."""
    text = str(value or "").strip()
    if not text or text == AUTO_LANGUAGE:
        return None
    m = re.search(r"\(([a-z]{2,3})\)\s*$", text)
    if m:
        return m.group(1)
    low = text.lower()
    for c, n in language_names().items():
        if low in (c, n.lower()):
            return c
    return low


def date_text(v: Any) -> str | None:
    """A date from a picker (text, timestamp or datetime) as ISO text, or None."""
    if v is None or v == "":
        return None
    if isinstance(v, int | float):
        from datetime import UTC, datetime

        return datetime.fromtimestamp(float(v), tz=UTC).isoformat()
    if hasattr(v, "isoformat"):
        return v.isoformat()
    return str(v).strip() or None
