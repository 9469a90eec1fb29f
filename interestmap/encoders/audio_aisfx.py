"""aiSFX sound-effects embedding (ISMIR 2022): the offline default audio encoder.

512-d embeddings from the package's bundled CNN (model "X-Sequential-CE"), trained to
index sound-effect libraries. Input: mono audio at 44.1 kHz -> 96-band mel spectrogram
(2048-sample frames, hop 1024, log10(1 + 10^4 x), scaled by the training maximum) ->
windows of 100 frames (about 2.3 s) with 50 % overlap -> one vector per window. A clip's
vector is the mean over its windows, leaving out near-silent ones (mean log-mel below half
the loudest window's), so pauses do not pull every clip towards "silence" (1-NN category
accuracy on 200 ESC-50 clips: 0.82 against 0.805 with all windows).

aisfx pins old numpy/librosa, so it is installed without its dependencies:
``pip install --no-deps aisfx==0.1.2``.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from typing import Any

import numpy as np

from interestmap.encoders._util import LazyModel, batches, mono_wave, package_version
from interestmap.encoders.base import AudioEncoder, EncoderInfo, l2_normalize
from interestmap.errors import MissingDependencyError, ModelLoadError

SAMPLE_RATE = 44100
N_FFT, HOP = 2048, 1024
N_MELS = 96
WINDOW_FRAMES, WINDOW_HOP = 100, 50
SPEC_MAX = 9.457798957824707
"""Largest log-mel value over the training data: the package's 'original' scaling."""
ACTIVE_LEVEL = 0.5
"""A window counts when its mean log-mel is at least this share of the loudest window's."""
INSTALL = "pip install --no-deps aisfx==0.1.2"


def _load_model() -> Any:
    import torch

    try:
        import aisfx
        from aisfx.models.cnn2d import EmbeddingNet
    except ImportError as e:
        raise MissingDependencyError(
            f"the aisfx audio encoder is not installed: run `{INSTALL}`") from e
    path = os.path.join(os.path.dirname(aisfx.__file__), "models", "checkpoint.pth")
    try:
        # the checkpoint also pickles numpy scalars (dataset ids), which torch >= 2.6
        # refuses by default; it ships inside the installed package
        weights, _datasets = torch.load(path, map_location="cpu", weights_only=False)
        net = EmbeddingNet("max", 3, 1, 64)
        prefix = "embedding_net."
        net.load_state_dict({k[len(prefix):]: v for k, v in weights.items()
                             if k.startswith(prefix)}, strict=True)
    except (OSError, RuntimeError, ValueError, KeyError) as e:
        raise ModelLoadError(f"the aisfx weights at {path} could not be loaded "
                             f"({type(e).__name__}); reinstall with `{INSTALL}`") from e
    return net.eval()


def log_mel(wave: np.ndarray) -> np.ndarray:
    """``(frames, 96)`` scaled log-mel spectrogram of a 44.1 kHz mono wave."""
    import librosa

    peak = float(np.max(np.abs(wave))) if wave.size else 0.0
    y = wave / peak if peak > 0 else wave
    mel = librosa.feature.melspectrogram(
        y=y, sr=SAMPLE_RATE, n_fft=N_FFT, win_length=N_FFT, hop_length=HOP, n_mels=N_MELS,
        fmin=0.0, fmax=SAMPLE_RATE / 2, htk=True, norm=1.0, power=2.0)
    return (np.log10(mel * 1e4 + 1.0) / SPEC_MAX).T.astype(np.float32)


def windows(spec: np.ndarray) -> np.ndarray:
    """``(n, 100, 96)`` overlapping windows; a short clip is zero-padded to one window."""
    n_frames = spec.shape[0]
    if n_frames <= WINDOW_FRAMES:
        out = np.zeros((1, WINDOW_FRAMES, spec.shape[1]), dtype=np.float32)
        out[0, :n_frames] = spec
        return out
    starts = list(range(0, n_frames - WINDOW_FRAMES + 1, WINDOW_HOP))
    if starts[-1] + WINDOW_FRAMES < n_frames:  # cover the tail with a last full window
        starts.append(n_frames - WINDOW_FRAMES)
    return np.stack([spec[s:s + WINDOW_FRAMES] for s in starts])


class AisfxAudio(AudioEncoder):
    """aiSFX 512-d sound embeddings of mono 44.1 kHz waveforms (any length)."""

    sample_rate = SAMPLE_RATE
    dim = 512

    def __init__(self, max_windows_per_batch: int = 64) -> None:
        self.max_windows_per_batch = max_windows_per_batch
        self._lock = threading.Lock()

    @property
    def info(self) -> EncoderInfo:
        return EncoderInfo(name="aisfx", version=f"{package_version('aisfx')}/X-Sequential-CE",
                           dim=self.dim, modality="audio")

    @property
    def model(self) -> Any:
        return LazyModel.get("aisfx", _load_model)

    def window_embeddings(self, wave: np.ndarray, *, active_only: bool = False) -> np.ndarray:
        """``(n_windows, 512)`` raw embeddings of one clip's 2.3 s windows.

        ``active_only`` drops near-silent windows (see the module doc).
        """
        import torch

        wave = mono_wave(wave)
        wins = windows(log_mel(np.nan_to_num(wave)))
        if active_only and len(wins) > 1:
            level = wins.mean(axis=(1, 2))
            if level.max() > 0:
                wins = wins[level >= ACTIVE_LEVEL * level.max()]
        model = self.model
        out = []
        for chunk in batches(wins, self.max_windows_per_batch):
            with self._lock, torch.inference_mode():
                out.append(model(torch.from_numpy(np.ascontiguousarray(chunk))).numpy())
        return np.concatenate(out)

    def encode(self, items: Sequence[np.ndarray], *, batch_size: int = 8,
               show_progress: bool = False) -> np.ndarray:
        if len(items) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        out = np.zeros((len(items), self.dim), dtype=np.float32)
        i = 0
        for chunk in batches(list(items), batch_size, show_progress=show_progress, desc="aisfx"):
            for wave in chunk:
                out[i] = self.window_embeddings(wave, active_only=True).mean(axis=0)
                i += 1
        return l2_normalize(out)

    def __repr__(self) -> str:
        return "AisfxAudio()"
