"""Hashtags: the one rule for what is a hashtag in a caption, in any script.

A hashtag is ``#`` followed by letters, digits, underscores and combining marks (so
#футбол, #料理, #café, #हिंदी and #football_skills are whole tags), with at least one
letter (``#1`` is not a tag), and not glued to what comes before (``a#b``, ``&#39;``
and ``example.com/#top`` hold none). Punctuation ends a tag: ``#café!`` is ``café``.
Combining marks belong to the tag, so a decomposed ``é`` stays in it; tags are
NFC-normalised, so #café is one tag however its ``é`` was typed.
"""

from __future__ import annotations

import re
import sys
import unicodedata
from functools import cache

__all__ = ["hashtag_pattern", "parse_hashtags", "spell_out_hashtags"]

_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])")


@cache
def _marks() -> str:
    """A regex class body of every combining mark (Unicode categories Mn, Mc, Me)."""
    ranges: list[tuple[int, int]] = []
    for cp in range(sys.maxunicode + 1):
        if unicodedata.category(chr(cp))[0] == "M":
            if ranges and ranges[-1][1] == cp - 1:
                ranges[-1] = (ranges[-1][0], cp)
            else:
                ranges.append((cp, cp))
    return "".join(re.escape(chr(a)) + (f"-{re.escape(chr(b))}" if b > a else "")
                   for a, b in ranges)


@cache
def hashtag_pattern() -> re.Pattern[str]:
    """The compiled hashtag rule; group 1 is the tag without ``#``."""
    word = rf"[\w{_marks()}]"
    return re.compile(rf"(?<![\w{_marks()}#&/])#({word}*[^\W\d_]{word}*)")


def parse_hashtags(caption: str | None) -> list[str]:
    """Hashtags of a caption, case-folded, without '#', in order, without repeats."""
    seen: dict[str, None] = {}
    for m in hashtag_pattern().finditer(caption or ""):
        seen.setdefault(unicodedata.normalize("NFC", m.group(1).casefold()), None)
    return list(seen)


def spell_out_hashtags(caption: str | None) -> str:
    """The caption with each hashtag as words, for a text model: '#RealMadrid' -> 'Real
    Madrid', '#football_skills' -> 'football skills'; whitespace collapsed."""
    def words(m: re.Match[str]) -> str:
        return _CAMEL.sub(" ", m.group(1)).replace("_", " ")

    return re.sub(r"\s+", " ", hashtag_pattern().sub(words, caption or "")).strip()
