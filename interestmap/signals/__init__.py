"""Raw signals read from a clip's media and caption: what a platform's models see and hear.

``extract_signals`` runs one module per signal, in this order (each stage's time lands in
``Signals.timings_s``):
- caption: hashtags (``hashtags.py``) and the caption's language (``language.py``);
- in a background thread, sound: speech / music / silence shares and loudness
  (``sound.py``), then asr: the transcript, skipped when the sound stage heard no
  speech (``asr.py``);
- in another background thread, ocr: on-screen text (``ocr.py``);
- meanwhile faces (``faces.py``), motion (``motion.py``, videos only), geo (``geo.py``);
- language: the clip's language, user-given > speech > caption > on-screen text.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from interestmap.clip import GeoPoint, Media, Signals
from interestmap.signals.hashtags import parse_hashtags

__all__ = ["extract_signals", "parse_hashtags"]

MIN_SPEECH_S = 0.5
"""Less detected speech than this and ASR is skipped."""

T = TypeVar("T")


def extract_signals(media: Media, caption: str = "", language: str | None = None,
                    geo: str | None = None, *, ocr: bool = True, asr: bool = True) -> Signals:
    """Read every raw signal of one clip. ``ocr``/``asr`` False skip those (slow) stages.

    The sound branch (sound mix, then ASR) and OCR run in background threads while this
    thread reads faces and motion: Whisper (CTranslate2), Tesseract (its own process) and
    OpenCV all work outside the GIL, so on two cores they overlap. Each stage's time in
    ``timings_s`` is its own; stages overlap, so they add up to more than the wall time.

    Raises ConfigError for an invalid ``language`` or an unknown ``geo`` place, and
    MissingDependencyError when a needed tool (e.g. tesseract for OCR) is not installed.
    """
    from interestmap._threads import background, join_all
    from interestmap.signals import language as lang_mod

    given = lang_mod.normalize_language(language)
    sig = Signals(caption=caption or "")
    timings = sig.timings_s

    def timed(stage: str, fn: Callable[[], T]) -> T:
        t0 = time.perf_counter()
        try:
            return fn()
        finally:
            timings[stage] = time.perf_counter() - t0

    def caption_stage() -> None:
        sig.hashtags = parse_hashtags(sig.caption)
        sig.caption_language, _ = lang_mod.detect_language(sig.caption)

    timed("caption", caption_stage)
    if ocr and media.frames:
        from interestmap.signals.ocr import require_tesseract

        require_tesseract()  # a missing tool is said before any work starts

    speech_probability = [0.0]

    def sound_branch() -> None:
        from interestmap.signals.sound import analyse_sound

        mix = timed("sound", lambda: analyse_sound(media.audio_at(16000)))
        sig.speech_share, sig.music_share = mix.speech_share, mix.music_share
        sig.silence_share, sig.loudness_dbfs = mix.silence_share, mix.loudness_dbfs
        if not (asr and mix.speech_s >= MIN_SPEECH_S):
            return
        from interestmap.signals.asr import transcribe

        tr = timed("asr", lambda: transcribe(media.audio_at(16000), given,
                                             speech_s=mix.speech_s))
        sig.transcript, sig.speech_segments = tr.text, tr.segments
        sig.speech_language = tr.language if tr.text else None
        prob = tr.language_probability if given is None else 1.0
        if sig.speech_language and prob < 1.0:
            # Whisper is often unsure on short or synthetic speech; the transcript's
            # own language agreeing with it is enough confirmation
            text_lang, _ = lang_mod.detect_language(tr.text)
            if text_lang == sig.speech_language:
                prob = 1.0
        speech_probability[0] = prob

    def ocr_branch() -> None:
        from interestmap.signals.ocr import read_text

        hint = given or sig.caption_language
        res = timed("ocr", lambda: read_text(media.frames, media.frame_times_s, hint))
        sig.ocr_text, sig.ocr_language = res.text, res.language

    pending = []
    if media.audio is not None and media.audio.size:
        pending.append(background(sound_branch))
    if ocr and media.frames:
        pending.append(background(ocr_branch))
    try:
        if media.frames:
            from interestmap.signals.faces import detect_faces

            sig.faces = timed("faces", lambda: detect_faces(media.frames))
        if media.kind == "video":
            from interestmap.signals.motion import motion_score

            sig.motion = timed("motion", lambda: motion_score(media.frames))
        if geo is not None and str(geo).strip():
            sig.geo = timed("geo", lambda: _resolve_geo(str(geo)))
    except BaseException:
        join_all(pending, raise_errors=False)  # no branch outlives the call
        raise
    join_all(pending)  # waits for every branch, then raises the first error

    sig.language, sig.language_source = timed("language", lambda: lang_mod.resolve_language(
        given, sig.transcript, sig.speech_language, speech_probability[0],
        sig.caption_language, sig.ocr_language))
    return sig


def _resolve_geo(text: str) -> GeoPoint | None:
    try:
        from interestmap.signals.geo import resolve_geo
    except ImportError:
        return None
    return resolve_geo(text)
