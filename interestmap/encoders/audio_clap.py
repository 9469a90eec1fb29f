"""LAION-CLAP audio encoder with a text side, from a checkpoint the user provides.

No package registry ships CLAP weights: give a checkpoint file (e.g. LAION's
``630k-audioset-best.pt``) as ``clap:/path/ckpt.pt`` or in ``INTERESTMAP_CLAP_CHECKPOINT``.
Audio is taken at 48 kHz. Non-fusion models see 10 s windows (shorter clips are repeated
to fill one, as in training; longer ones are averaged over consecutive windows); fusion
models see the whole clip (global view plus front/middle/back 10 s views, picked
deterministically).

The text side uses the roberta-base tokenizer. laion-clap loads it from the Hugging Face
hub and, offline, transformers silently returns an *empty* tokenizer (5 tokens) that
turns every text into the same vector; that case is detected and refused. The roberta
network itself is built from its known configuration (its weights are in the CLAP
checkpoint), so only the tokenizer (about 1 MB) is ever fetched.

laion-clap pins numpy<2, so it is installed without its dependencies:
``pip install --no-deps laion-clap==1.1.7`` plus ``pip install torchlibrosa h5py
braceexpand webdataset wget`` (and ftfy, regex, pandas, librosa, soundfile, transformers).
"""

from __future__ import annotations

import importlib
import os
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from interestmap._compat import ALLOW_DOWNLOADS_ENV, ensure_torchvision, hub_offline
from interestmap.encoders._util import (
    LazyModel,
    batches,
    encode_in_batches,
    mono_wave,
    package_version,
)
from interestmap.encoders.base import AudioEncoder, EncoderInfo, l2_normalize
from interestmap.errors import ConfigError, MissingDependencyError, ModelLoadError

CHECKPOINT_ENV = "INTERESTMAP_CLAP_CHECKPOINT"
SAMPLE_RATE = 48000
WINDOW_SAMPLES = 480000  # 10 s at 48 kHz: what CLAP was trained on
INSTALL = ("pip install --no-deps laion-clap==1.1.7 && pip install torchlibrosa h5py "
           "braceexpand webdataset wget ftfy")
MIN_TOKENIZER_VOCAB = 1000

_ROBERTA_BASE = dict(vocab_size=50265, hidden_size=768, num_hidden_layers=12,
                     num_attention_heads=12, intermediate_size=3072,
                     max_position_embeddings=514, type_vocab_size=1, layer_norm_eps=1e-5,
                     pad_token_id=1, bos_token_id=0, eos_token_id=2)
"""roberta-base's configuration: the network CLAP's text branch fine-tuned."""


def _clap_module() -> Any:
    """laion-clap's ``clap_module`` package, imported offline (tokenizers load on import)."""
    ensure_torchvision()
    try:
        with hub_offline():
            import laion_clap  # noqa: F401 (puts clap_module on sys.path, loads tokenizers)

            clap_module = importlib.import_module("clap_module")
    except ImportError as e:
        raise MissingDependencyError(
            f"the CLAP audio encoder needs laion-clap ({e.name or e} is missing): "
            f"run `{INSTALL}`") from e
    return clap_module


def add_clap_model_config(name: str, config: dict[str, Any]) -> None:
    """Register a CLAP architecture (``embed_dim``, ``audio_cfg``, ``text_cfg``) by name."""
    if not all(k in config for k in ("embed_dim", "audio_cfg", "text_cfg")):
        raise ConfigError("a CLAP model config needs embed_dim, audio_cfg and text_cfg")
    _clap_module().factory._MODEL_CONFIGS[name] = dict(config)


def check_tokenizer(tokenizer: Any, name: str = "roberta-base") -> Any:
    """Return ``tokenizer``, or raise :class:`ModelLoadError` if it is an empty stand-in."""
    size = getattr(tokenizer, "vocab_size", None)
    if size is None:
        try:
            size = len(tokenizer)
        except TypeError:
            size = 0
    if int(size) < MIN_TOKENIZER_VOCAB:
        raise ModelLoadError(
            f"the CLAP text side needs the {name} tokenizer, which is not on this machine "
            f"(an empty one with {size} tokens was found): run once with "
            f"{ALLOW_DOWNLOADS_ENV}=1 on a machine with internet to fetch it (about 1 MB)")
    return tokenizer


@contextmanager
def _roberta_from_config(model_module: Any) -> Iterator[None]:
    """Inside this block CLAP builds roberta-base from its config instead of downloading it."""
    from transformers import RobertaConfig, RobertaModel

    class _Offline:
        @staticmethod
        def from_pretrained(*_args: Any, **_kw: Any) -> Any:
            return RobertaModel(RobertaConfig(**_ROBERTA_BASE))

    saved = getattr(model_module, "RobertaModel", None)
    model_module.RobertaModel = _Offline
    try:
        yield
    finally:
        model_module.RobertaModel = saved


def _load_state(path: str) -> dict[str, Any]:
    import torch

    try:
        try:
            ckpt = torch.load(path, map_location="cpu", weights_only=True)
        except Exception:  # LAION checkpoints also pickle training arguments
            ckpt = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as e:
        raise ModelLoadError(f"cannot read the CLAP checkpoint {path}: {type(e).__name__}: "
                             f"{str(e).splitlines()[0] if str(e) else ''}") from e
    state = ckpt.get("state_dict", ckpt) if isinstance(ckpt, dict) else None
    if not isinstance(state, dict) or not state:
        raise ModelLoadError(f"{path} is not a CLAP checkpoint (no weights inside)")
    state = {(k[7:] if k.startswith("module.") else k): v for k, v in state.items()}
    state.pop("text_branch.embeddings.position_ids", None)  # not a parameter any more
    return state


def _is_fusion(state: dict[str, Any]) -> bool:
    return any("fusion_model" in k or "mel_conv2d" in k for k in state)


class ClapAudio(AudioEncoder):
    """A LAION-CLAP model: 512-d audio vectors and texts in the same space.

    ``enable_fusion=None`` reads it from the checkpoint. ``tmodel`` is the text branch
    of the architecture (``"roberta"`` for every released checkpoint).
    """

    sample_rate = SAMPLE_RATE

    def __init__(self, checkpoint: str | Path | None = None, amodel: str = "HTSAT-tiny",
                 enable_fusion: bool | None = None, tmodel: str = "roberta",
                 device: str = "cpu") -> None:
        self.checkpoint = None if checkpoint is None else str(checkpoint)
        self.amodel = amodel
        self.enable_fusion = enable_fusion
        self.tmodel = tmodel
        self.device = device
        self._lock = threading.Lock()

    # Resolution ------------------------------------------------------------------------
    def resolved_checkpoint(self) -> str:
        """The checkpoint file to load; raises a clear error when none is set or found."""
        value = self.checkpoint or os.environ.get(CHECKPOINT_ENV, "").strip() or None
        if value is None:
            raise ModelLoadError(
                f"CLAP has no weights on this machine: set {CHECKPOINT_ENV} to a LAION-CLAP "
                "checkpoint file (e.g. 630k-audioset-best.pt), or use the encoder name "
                "clap:/path/to/checkpoint.pt")
        path = Path(value).expanduser()
        if not path.is_file():
            raise ModelLoadError(f"no CLAP checkpoint file at {value}: check the path or "
                                 f"{CHECKPOINT_ENV}")
        return str(path)

    @property
    def info(self) -> EncoderInfo:
        ckpt = Path(self.resolved_checkpoint()).name
        return EncoderInfo(name=f"clap:{self.amodel}",
                           version=f"{package_version('laion-clap')}/{self.amodel}/{ckpt}",
                           dim=self.dim, modality="audio")

    @property
    def dim(self) -> int:
        cfg = _clap_module().factory._MODEL_CONFIGS.get(self.amodel, {})
        return int(cfg.get("joint_embed_shape", 512))  # CLAP's default joint space

    # Model ------------------------------------------------------------------------------
    @property
    def _bundle(self) -> tuple[Any, dict[str, Any], bool]:
        path = self.resolved_checkpoint()
        key = ("clap", path, self.amodel, self.tmodel, self.enable_fusion, self.device)
        return LazyModel.get(key, lambda: self._load(path))

    def _load(self, path: str) -> tuple[Any, dict[str, Any], bool]:
        cm = _clap_module()
        state = _load_state(path)
        fusion = _is_fusion(state)
        if self.enable_fusion is not None and bool(self.enable_fusion) != fusion:
            raise ModelLoadError(
                f"{Path(path).name} is a {'fusion' if fusion else 'non-fusion'} CLAP model "
                f"but enable_fusion={self.enable_fusion}: leave enable_fusion unset")
        if self.amodel not in cm.factory._MODEL_CONFIGS:
            raise ConfigError(f"unknown CLAP audio architecture '{self.amodel}'; e.g. "
                              "HTSAT-tiny, HTSAT-base, PANN-14")
        try:
            with _roberta_from_config(sys.modules["clap_module.model"]):
                model, cfg = cm.create_model(
                    self.amodel, self.tmodel, precision="fp32", device=self.device,
                    enable_fusion=fusion, fusion_type="aff_2d" if fusion else "None")
            missing, unexpected = model.load_state_dict(state, strict=False)
        except (RuntimeError, ValueError, KeyError) as e:
            raise ModelLoadError(
                f"{Path(path).name} does not fit CLAP {self.amodel}/{self.tmodel} "
                f"({str(e).splitlines()[0][:160]}); released checkpoints use HTSAT-tiny, "
                "the music ones HTSAT-base: name it clap:HTSAT-base@/path/to/ckpt.pt") from e
        if missing or unexpected:
            example = (missing or unexpected)[0]
            raise ModelLoadError(
                f"{Path(path).name} does not fit CLAP {self.amodel}/{self.tmodel}: "
                f"{len(missing)} weights missing, {len(unexpected)} unexpected (e.g. "
                f"{example}); released checkpoints use HTSAT-tiny, the music ones HTSAT-base")
        model.eval()
        return model, cfg, fusion

    # Audio ------------------------------------------------------------------------------
    @staticmethod
    def _prepare(wave: np.ndarray) -> np.ndarray:
        wave = mono_wave(wave)
        # CLAP was trained on 16-bit audio: quantise the same way
        q = (np.clip(np.nan_to_num(wave), -1.0, 1.0) * 32767.0).astype(np.int16)
        return (q / 32767.0).astype(np.float32)

    @staticmethod
    def _repeat_pad(wave: np.ndarray) -> np.ndarray:
        reps = max(1, WINDOW_SAMPLES // len(wave))
        out = np.zeros(WINDOW_SAMPLES, dtype=np.float32)
        tiled = np.tile(wave, reps)[:WINDOW_SAMPLES]
        out[:len(tiled)] = tiled
        return out

    def _windows(self, wave: np.ndarray) -> list[np.ndarray]:
        if len(wave) <= WINDOW_SAMPLES:
            return [self._repeat_pad(wave)]
        starts = list(range(0, len(wave) - WINDOW_SAMPLES + 1, WINDOW_SAMPLES))
        if starts[-1] + WINDOW_SAMPLES < len(wave):
            starts.append(len(wave) - WINDOW_SAMPLES)
        return [wave[s:s + WINDOW_SAMPLES] for s in starts]

    def _log_mel(self, wave: np.ndarray, cfg: dict[str, Any]) -> np.ndarray:
        """``(T, mel_bins)`` dB mel spectrogram as laion-clap computes it for fusion."""
        import librosa

        mel = librosa.feature.melspectrogram(
            y=wave, sr=cfg["sample_rate"], n_fft=cfg["window_size"],
            win_length=cfg["window_size"], hop_length=cfg["hop_size"], center=True,
            pad_mode="reflect", power=2.0, n_mels=cfg["mel_bins"], norm=None, htk=True,
            fmin=cfg["fmin"], fmax=cfg["fmax"])
        return (10.0 * np.log10(np.maximum(mel, 1e-10))).T.astype(np.float32)

    def _fusion_input(self, wave: np.ndarray, cfg: dict[str, Any]) -> dict[str, Any]:
        import torch

        if len(wave) <= WINDOW_SAMPLES:
            wave = self._repeat_pad(wave)
            mel = torch.from_numpy(self._log_mel(wave, cfg))
            return {"mel_fusion": torch.stack([mel] * 4), "longer": torch.tensor([False]),
                    "waveform": torch.from_numpy(wave)}
        mel = torch.from_numpy(self._log_mel(wave, cfg))
        chunk = WINDOW_SAMPLES // cfg["hop_size"] + 1
        total = mel.shape[0]
        last = max(total - chunk, 0)
        starts = [0, last // 2, last]  # front, middle, back (laion-clap picks at random)
        views = [mel[s:s + chunk] for s in starts]
        shrink = torch.nn.functional.interpolate(
            mel[None, None], size=(chunk, cfg["mel_bins"]), mode="bilinear",
            align_corners=False)[0, 0]
        return {"mel_fusion": torch.stack([shrink, *views]), "longer": torch.tensor([True]),
                "waveform": torch.from_numpy(wave[:WINDOW_SAMPLES].copy())}

    def encode(self, items: Sequence[np.ndarray], *, batch_size: int = 8,
               show_progress: bool = False) -> np.ndarray:
        import torch

        model, cfg, fusion = self._bundle
        audio_cfg = cfg["audio_cfg"]
        out = np.zeros((len(items), self.dim), dtype=np.float32)
        if len(items) == 0:
            return out
        # one model input per 10 s window (non-fusion) or per clip (fusion)
        inputs: list[dict[str, Any]] = []
        owner: list[int] = []
        for i, wave in enumerate(items):
            wave = self._prepare(wave)
            if fusion:
                inputs.append(self._fusion_input(wave, audio_cfg))
                owner.append(i)
            else:
                for w in self._windows(wave):
                    inputs.append({"waveform": torch.from_numpy(w),
                                   "longer": torch.tensor([False])})
                    owner.append(i)
        vecs = []
        for chunk in batches(inputs, batch_size, show_progress=show_progress, desc="clap"):
            with self._lock, torch.inference_mode():
                vecs.append(model.get_audio_embedding(list(chunk)).float().cpu().numpy())
        emb = np.concatenate(vecs)
        np.add.at(out, np.asarray(owner), emb)
        return l2_normalize(out)

    # Text -------------------------------------------------------------------------------
    @property
    def has_text_side(self) -> bool:
        return True

    @property
    def tokenizer(self) -> Any:
        """The text tokenizer of this model's text branch (checked to be a real one)."""
        if self.tmodel == "transformer":
            return _clap_module().tokenize

        def build() -> Any:
            from transformers import AutoTokenizer

            name = {"roberta": "roberta-base", "bert": "bert-base-uncased",
                    "bart": "facebook/bart-base"}.get(self.tmodel, self.tmodel)
            try:
                with hub_offline():
                    tok = AutoTokenizer.from_pretrained(name)
            except Exception as e:
                raise ModelLoadError(
                    f"the CLAP text side needs the {name} tokenizer, which is not on this "
                    f"machine: run once with {ALLOW_DOWNLOADS_ENV}=1 on a machine with "
                    "internet to fetch it (about 1 MB)") from e
            return check_tokenizer(tok, name)

        return LazyModel.get(("clap-tokenizer", self.tmodel), build)

    def _tokenize(self, texts: list[str]) -> Any:
        tok = self.tokenizer
        if self.tmodel == "transformer":
            return tok(texts)
        return dict(tok(texts, padding="max_length", truncation=True, max_length=77,
                        return_tensors="pt"))

    def encode_text(self, texts: Sequence[str], *, batch_size: int = 32,
                    show_progress: bool = False) -> np.ndarray:
        """Texts in the audio space (unit rows), comparable with :meth:`encode`."""
        import torch

        model = self._bundle[0]
        device = self.device

        def run(chunk: Sequence[str]) -> np.ndarray:
            data = self._tokenize([str(t or "") for t in chunk])
            with self._lock, torch.inference_mode():
                return model.encode_text(data, device=device).float().cpu().numpy()

        return encode_in_batches(list(texts), run, self.dim, batch_size, show_progress,
                                 "clap text")

    def __repr__(self) -> str:
        return f"ClapAudio(checkpoint={self.checkpoint!r}, amodel={self.amodel!r})"
