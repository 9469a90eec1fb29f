"""On-screen text (titles, burned-in subtitles) read from frames with Tesseract.

Tesseract reads almost nothing from raw video frames, so each frame is prepared first:
1. grey at a working height of 480-1080 px;
2. two ink masks: bright text (luma >= 185, read as black on white) and dark text
   (luma <= 70); blobs too big to be letters are dropped;
3. text lines are found without OCR: runs of at least 4 letter-sized shapes of similar
   height side by side. Frames and masks without such runs are skipped, which is what
   keeps OCR fast on footage without text;
4. each text band is cropped, bands already seen (the same subtitle on several frames)
   are dropped, and the remaining bands of all frames are stacked into one page read by
   a single Tesseract call (``--psm 6``, ``eng`` first, then the clip's language and
   Russian).
Words below a confidence of 60 or that are mostly not letters are discarded, and Latin /
Cyrillic look-alike letters are put in the script of the line they sit in.
"""

from __future__ import annotations

import functools
import logging
import os
import re
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from interestmap.errors import MissingDependencyError

log = logging.getLogger(__name__)

BRIGHT_LUMA = 185
DARK_LUMA = 70
MIN_WORD_CONF = 60.0
MIN_LINE_CONF = 70.0
MIN_LINE_SHAPES = 5
"""Letter-sized shapes a run needs to count as a line of text."""
_TIMEOUT_S = 120
_MAX_PAGE_H = 6000

_TESS_CODES = {
    "en": "eng", "ru": "rus", "uk": "ukr", "be": "bel", "bg": "bul", "sr": "srp", "kk": "kaz",
    "it": "ita", "pt": "por", "es": "spa", "de": "deu", "fr": "fra", "nl": "nld", "pl": "pol",
    "tr": "tur", "cs": "ces", "sv": "swe", "da": "dan", "no": "nor", "fi": "fin", "ro": "ron",
    "hu": "hun", "el": "ell", "ar": "ara", "he": "heb", "hi": "hin", "ja": "jpn", "ko": "kor",
    "zh": "chi_sim", "th": "tha", "vi": "vie", "id": "ind",
}
_LAT2CYR = str.maketrans("AaBCcEeHKMOoPpTXxy", "АаВСсЕеНКМОоРрТХху")
_CYR2LAT = str.maketrans("АаВСсЕеНКМОоРрТХху", "AaBCcEeHKMOoPpTXxy")
_CYR = re.compile(r"[\u0400-\u04FF]")
_LAT = re.compile(r"[A-Za-z\u00C0-\u024F]")


@dataclass
class OcrResult:
    """Text read from the frames."""

    text: str = ""
    """Unique lines in order of appearance, one per line."""
    language: str | None = None
    """ISO 639-1 code of the text, where it can be told."""
    lines: list[tuple[float, str, float]] = field(default_factory=list)
    """(frame time s, line, mean word confidence 0-100) of each kept line."""
    frames_read: int = 0
    """Frames that had text-like regions and were read."""


def require_tesseract() -> str:
    """Path of the tesseract program, or MissingDependencyError with how to install it."""
    try:
        import pytesseract  # noqa: F401
    except ImportError:
        raise MissingDependencyError("OCR needs the pytesseract package: pip install pytesseract, "
                                     "or turn OCR off (ocr=False / --no-ocr)") from None
    exe = shutil.which("tesseract")
    if exe is None:
        raise MissingDependencyError("OCR needs the tesseract program: install it (Debian/Ubuntu: "
                                     "apt-get install tesseract-ocr tesseract-ocr-rus), or turn "
                                     "OCR off (ocr=False / --no-ocr)")
    return exe


@functools.lru_cache(maxsize=1)
def installed_languages() -> frozenset[str]:
    """Tesseract language packs present on this machine (e.g. {"eng", "rus"})."""
    import pytesseract

    require_tesseract()
    try:
        return frozenset(pytesseract.get_languages(config=""))
    except Exception:  # noqa: BLE001 - an old tesseract without --list-langs
        return frozenset({"eng"})


def tesseract_languages(hint: str | None = None) -> str:
    """The ``-l`` argument: eng first, then the hinted language, then Russian (if installed)."""
    have = installed_languages()
    langs = ["eng"] if "eng" in have else []
    code = _TESS_CODES.get((hint or "").lower())
    for c in (code, "rus"):
        if c and c in have and c not in langs:
            langs.append(c)
    if not langs:
        raise MissingDependencyError("tesseract has no language packs: apt-get install "
                                     "tesseract-ocr-eng tesseract-ocr-rus")
    return "+".join(langs[:3])


def read_text(frames: Sequence[np.ndarray], times_s: Sequence[float] | None = None,
              language_hint: str | None = None) -> OcrResult:
    """Read on-screen text from RGB frames (a video's sampled frames or a post's images)."""
    require_tesseract()
    if not frames:
        return OcrResult()
    from interestmap.media.frames import representatives

    times = list(times_s) if times_s is not None else [0.0] * len(frames)
    bands: list[_Band] = []
    frames_with_text: set[int] = set()
    reps = representatives(frames)
    for i, frame in enumerate(frames):
        if reps[i] != i:  # the same picture as an earlier frame: its bands are known
            continue
        for band in _text_bands(frame):
            if not any(band.same_as(b) for b in bands):
                band.frame, band.time = i, float(times[i])
                bands.append(band)
                frames_with_text.add(i)
    if not bands:
        return OcrResult()
    lines = _ocr_bands(bands, tesseract_languages(language_hint))
    kept: list[tuple[float, str, float]] = []
    seen: set[str] = set()
    for t, text, conf in lines:
        key = re.sub(r"\W+", " ", text.casefold()).strip()
        if key and key not in seen:
            seen.add(key)
            kept.append((t, text, conf))
    text = "\n".join(t for _, t, _ in kept)
    from interestmap.signals.language import detect_language

    lang, _ = detect_language(text)
    return OcrResult(text=text, language=lang, lines=kept, frames_read=len(frames_with_text))


# --- finding text bands --------------------------------------------------------------


@dataclass
class _Band:
    mask: np.ndarray
    """Binarised crop: text black (0) on white (255)."""
    frame: int = 0
    time: float = 0.0

    def same_as(self, other: _Band) -> bool:
        (h1, w1), (h2, w2) = self.mask.shape, other.mask.shape
        if abs(h1 - h2) > max(4, 0.1 * h1) or abs(w1 - w2) > max(8, 0.1 * w1):
            return False
        h, w = min(h1, h2), min(w1, w2)
        a = self.mask[:h, :w] < 128
        b = other.mask[:h, :w] < 128
        union = np.logical_or(a, b).sum()
        return union == 0 or np.logical_and(a, b).sum() / union > 0.8


def _working_grey(frame: np.ndarray) -> np.ndarray:
    import cv2

    grey = cv2.cvtColor(np.ascontiguousarray(frame), cv2.COLOR_RGB2GRAY)
    h = grey.shape[0]
    if h < 480:
        f = 480 / h
        grey = cv2.resize(grey, None, fx=f, fy=f, interpolation=cv2.INTER_CUBIC)
    elif h > 1080:
        f = 1080 / h
        grey = cv2.resize(grey, None, fx=f, fy=f, interpolation=cv2.INTER_AREA)
    return grey


def _text_bands(frame: np.ndarray) -> list[_Band]:
    """Binarised crops of the text-like lines of a frame (bright and dark text)."""
    grey = _working_grey(frame)
    out = []
    for ink in (grey >= BRIGHT_LUMA, grey <= DARK_LUMA):
        out.extend(_bands_of_mask(ink))
    return out


def _bands_of_mask(ink: np.ndarray) -> list[_Band]:
    import cv2

    H, W = ink.shape
    n, labels, stats, _ = cv2.connectedComponentsWithStats(ink.astype(np.uint8), connectivity=8)
    if n <= 1 or n > 20000:
        return []
    x, y, w, h, area = (stats[:, k].astype(np.float64) for k in range(5))
    keep = (h <= 0.2 * H) & (w <= 0.4 * W) & (area >= 4)
    keep[0] = False
    letter = keep & (h >= max(8, 0.012 * H)) & (h <= 0.12 * H) & (w <= 2.5 * h) & \
        (area >= 0.1 * w * h)
    idx = np.flatnonzero(letter)
    if idx.size < 4 or idx.size > 3000:
        return []
    boxes = []
    for group in _group_lines(x[idx], y[idx], w[idx], h[idx]):
        g = idx[group]
        mh = float(np.median(h[g]))
        x0, x1 = max(0, int(x[g].min() - mh)), min(W, int((x[g] + w[g]).max() + mh))
        y0, y1 = max(0, int(y[g].min() - 0.4 * mh)), min(H, int((y[g] + h[g]).max() + 0.4 * mh))
        # the line's letters, plus small marks fully inside its box (dots, commas, accents)
        small = keep & (h <= 0.5 * mh) & (w <= 0.5 * mh) & (x >= x0) & (x + w <= x1) & \
            (y >= y0) & (y + h <= y1)
        boxes.append(([x0, y0, x1, y1], set(g.tolist()) | set(np.flatnonzero(small).tolist())))
    bands = []
    for (x0, y0, x1, y1), ids in _merge_boxes(boxes):
        ink_crop = np.isin(labels[y0:y1, x0:x1], np.fromiter(ids, dtype=labels.dtype))
        bands.append(_Band(mask=np.where(ink_crop, 0, 255).astype(np.uint8)))
    return bands


def _group_lines(x: np.ndarray, y: np.ndarray, w: np.ndarray, h: np.ndarray) -> list[np.ndarray]:
    """Groups (indices) of >= 4 letter-sized shapes that sit side by side on one line."""
    top, bot = y[:, None], (y + h)[:, None]
    overlap = np.minimum(bot, bot.T) - np.maximum(top, top.T)
    hmin = np.minimum(h[:, None], h[None, :])
    hmax = np.maximum(h[:, None], h[None, :])
    gap = np.maximum(x[:, None], x[None, :]) - np.minimum((x + w)[:, None], (x + w)[None, :])
    near = (overlap >= 0.5 * hmin) & (hmax <= 2.0 * hmin) & (gap <= 1.2 * hmax)
    np.fill_diagonal(near, False)
    # connected components of the "near" graph
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import connected_components

    _, comp = connected_components(csr_matrix(near), directed=False)
    groups = []
    for c in np.unique(comp):
        g = np.flatnonzero(comp == c)
        if g.size >= MIN_LINE_SHAPES and _is_text_line(x[g], y[g], w[g], h[g]):
            groups.append(g)
    return groups


def _is_text_line(x: np.ndarray, y: np.ndarray, w: np.ndarray, h: np.ndarray) -> bool:
    """Shapes that look like one line of print: one row, letter heights (x-height to
    capitals), most of them on a shared baseline, and wider than tall. Textures (grass,
    leaves) chain into slanted or ragged groups and fail this."""
    cap = float(np.percentile(h, 90))
    width = (x + w).max() - x.min()
    height = (y + h).max() - y.min()
    if width < 2.5 * cap or height > 2.0 * cap:
        return False
    if np.mean((h >= 0.4 * cap) & (h <= 1.25 * cap)) < 0.8:
        return False
    bottoms = y + h
    return bool(np.mean(np.abs(bottoms - np.median(bottoms)) <= 0.12 * cap) >= 0.6)


def _merge_boxes(boxes: list[tuple[list[int], set[int]]]
                 ) -> list[tuple[tuple[int, int, int, int], set[int]]]:
    """Merge boxes that overlap (two lines of one subtitle become one band)."""
    merged: list[tuple[list[int], set[int]]] = []
    for b, ids in sorted(boxes, key=lambda bi: (bi[0][1], bi[0][0])):
        for m, mids in merged:
            if b[0] < m[2] and m[0] < b[2] and b[1] < m[3] and m[1] < b[3]:
                m[0], m[1] = min(m[0], b[0]), min(m[1], b[1])
                m[2], m[3] = max(m[2], b[2]), max(m[3], b[3])
                mids |= ids
                break
        else:
            merged.append((list(b), set(ids)))
    return [((m[0], m[1], m[2], m[3]), ids) for m, ids in merged]


# --- reading -------------------------------------------------------------------------


def _ocr_bands(bands: list[_Band], langs: str) -> list[tuple[float, str, float]]:
    """Stack bands into pages, OCR each page once, and map lines back to frame times."""
    lines: list[tuple[float, str, float]] = []
    page: list[_Band] = []
    height = 0
    for band in bands:
        if page and height + band.mask.shape[0] > _MAX_PAGE_H:
            lines += _ocr_page(page, langs)
            page, height = [], 0
        page.append(band)
        height += band.mask.shape[0] + 40
    if page:
        lines += _ocr_page(page, langs)
    return lines


def _ocr_page(bands: list[_Band], langs: str) -> list[tuple[float, str, float]]:
    gap = 40
    width = max(b.mask.shape[1] for b in bands) + 2 * gap
    height = sum(b.mask.shape[0] + gap for b in bands) + gap
    page = np.full((height, width), 255, dtype=np.uint8)
    offsets = []
    y = gap
    for b in bands:
        bh, bw = b.mask.shape
        page[y:y + bh, gap:gap + bw] = b.mask
        offsets.append((y, y + bh))
        y += bh + gap
    data = _tesseract_data(page, langs)
    if data is None:
        return []
    rows: dict[tuple[int, int, int, int], list[tuple[str, float, int]]] = {}
    for i, word in enumerate(data["text"]):
        word = str(word or "").strip()
        conf = float(data["conf"][i])
        if not word or conf < 0:
            continue
        key = (data["page_num"][i], data["block_num"][i], data["par_num"][i], data["line_num"][i])
        centre = data["top"][i] + data["height"][i] // 2
        rows.setdefault(key, []).append((word, conf, centre))
    out = []
    for words in rows.values():
        centre = int(np.median([c for _, _, c in words]))
        band = next((k for k, (a, b) in enumerate(offsets) if a - gap // 2 <= centre < b + gap // 2),
                    None)
        line, conf = _clean_line([(w, c) for w, c, _ in words])
        if line and band is not None:
            out.append((centre, bands[band].time, line, conf))
    out.sort(key=lambda r: r[0])
    return [(t, line, conf) for _, t, line, conf in out]


def _tesseract_data(page: np.ndarray, langs: str) -> dict[str, list] | None:
    """Tesseract's word table (``--psm 6``) for one page, or None when it fails.

    The page goes in through stdin and the table comes back on stdout. Tesseract runs
    with ``OMP_THREAD_LIMIT=1``: its OpenMP threads spin against each other and against
    the rest of the pipeline, and on 2 cores one thread reads the same page 3-4x faster
    (same output: threading does not change what it reads).
    """
    import subprocess

    import cv2
    from pytesseract.pytesseract import file_to_dict

    ok, png = cv2.imencode(".png", page)
    if not ok:
        return None
    cmd = [require_tesseract(), "stdin", "stdout", "-l", langs, "--psm", "6",
           "-c", "tessedit_create_tsv=1"]
    env = {**os.environ, "OMP_THREAD_LIMIT": "1"}
    try:
        proc = subprocess.run(cmd, input=png.tobytes(), capture_output=True, env=env,
                              timeout=_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        log.warning("tesseract gave up on a page of %d px after %d s", page.shape[0],
                    _TIMEOUT_S)
        return None
    except OSError as e:
        log.warning("tesseract could not run: %s", e)
        return None
    if proc.returncode != 0:
        log.warning("tesseract failed (%d): %s", proc.returncode,
                    proc.stderr.decode(errors="replace").strip()[-300:])
        return None
    return file_to_dict(proc.stdout.decode("utf-8", errors="replace"), "\t", -1)


def _good_word(word: str, conf: float) -> bool:
    core = word.strip(".,:;!?\"'«»“”„‘’()[]{}-–—…*·|/\\")
    if conf < MIN_WORD_CONF or not core:
        return False
    letters = sum(ch.isalpha() for ch in core)
    digits = sum(ch.isdigit() for ch in core)
    if letters >= 2 and letters / len(core) >= 0.6:
        return True
    return digits >= 2 and (digits + letters) / len(core) >= 0.6 and conf >= 80


def _clean_line(words: list[tuple[str, float]]) -> tuple[str, float]:
    """Keep the trustworthy words of an OCR line; ("", 0) when nothing is left."""
    good = [(w, c) for w, c in words if _good_word(w, c)]
    letters = sum(ch.isalpha() for w, _ in good for ch in w)
    if not good or letters < 3:
        return "", 0.0
    conf = float(np.mean([c for _, c in good]))
    if conf < MIN_LINE_CONF:
        return "", 0.0
    text = " ".join(w for w, _ in good)
    cyr, lat = len(_CYR.findall(text)), len(_LAT.findall(text))
    table = _LAT2CYR if cyr > lat else _CYR2LAT
    foreign = _LAT if cyr > lat else _CYR
    homoglyphs = set("AaBCcEeHKMOoPpTXxy" if cyr > lat else "АаВСсЕеНКМОоРрТХху")
    fixed = []
    for w, _ in good:
        # a word whose letters of the other script all have look-alikes was misread
        others = foreign.findall(w)
        if others and all(ch in homoglyphs for ch in others):
            w = w.translate(table)
        fixed.append(w)
    return " ".join(fixed), conf
