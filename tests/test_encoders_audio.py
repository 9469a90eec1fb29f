"""aisfx on real ESC-50 sounds; CLAP plumbing with a small random model (never quality)."""

from __future__ import annotations

import copy
import csv
import sys
from pathlib import Path

import numpy as np
import pytest

from interestmap.encoders.audio_aisfx import AisfxAudio, windows
from interestmap.errors import MediaError, MissingDependencyError, ModelLoadError

CATEGORIES = ("dog", "rain", "church_bells", "crying_baby", "chainsaw", "sea_waves")


def _esc50(data: Path, categories=CATEGORIES, per_category: int = 6):
    import librosa
    import soundfile as sf

    rows = list(csv.DictReader((data / "esc50" / "esc50.csv").open()))
    waves, labels = [], []
    for i, cat in enumerate(categories):
        files = sorted(r["filename"] for r in rows if r["category"] == cat)[:per_category]
        assert len(files) == per_category, cat
        for name in files:
            y, sr = sf.read(data / "esc50" / "audio" / name, dtype="float32", always_2d=True)
            y = y.mean(axis=1)
            if sr != 44100:
                y = librosa.resample(y, orig_sr=sr, target_sr=44100)
            waves.append(y)
            labels.append(i)
    return waves, np.array(labels)


@pytest.fixture(scope="module")
def aisfx() -> AisfxAudio:
    pytest.importorskip("aisfx", reason="aisfx is installed with "
                        "`pip install --no-deps aisfx==0.1.2`")
    return AisfxAudio()


@pytest.mark.slow
def test_aisfx_same_category_sounds_are_closer(aisfx, data):
    waves, labels = _esc50(data)
    vecs = aisfx.encode(waves)
    assert vecs.shape == (len(waves), 512) and vecs.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)
    sims = vecs @ vecs.T
    same = labels[:, None] == labels[None, :]
    np.fill_diagonal(same, False)
    within, across = sims[same].mean(), sims[labels[:, None] != labels[None, :]].mean()
    print(f"aisfx ESC-50 cosine: same category {within:.3f}, different {across:.3f}")
    assert within > across + 0.03
    closer = 0
    for i in range(len(CATEGORIES)):
        mine = labels == i
        within = (vecs[mine] @ vecs[mine].T)[~np.eye(mine.sum(), dtype=bool)].mean()
        closer += within > (vecs[mine] @ vecs[~mine].T).mean()
    assert closer >= len(CATEGORIES) - 1, closer


@pytest.mark.slow
def test_aisfx_any_length_and_layout(aisfx, data):
    waves, _ = _esc50(data, categories=("dog", "rain"), per_category=1)
    long = np.concatenate([waves[0], waves[1], waves[0]])      # 15 s: several windows
    short = waves[0][: 44100 // 4]                             # 0.25 s: padded to one
    stereo = np.stack([waves[1], waves[1]])                    # (channels, samples)
    vecs = aisfx.encode([long, short, stereo, waves[1]])
    assert vecs.shape == (4, 512) and np.all(np.isfinite(vecs))
    np.testing.assert_allclose(vecs[2], vecs[3], atol=1e-5)   # stereo mixed down
    assert aisfx.window_embeddings(long).shape[0] > aisfx.window_embeddings(waves[0]).shape[0]
    with pytest.raises(MediaError):
        aisfx.encode([np.zeros(0, dtype=np.float32)])
    assert aisfx.encode([]).shape == (0, 512)


def test_windows_cover_the_whole_clip():
    spec = np.arange(260 * 2, dtype=np.float32).reshape(260, 2)
    w = windows(spec)
    assert w.shape == (5, 100, 2)                               # starts 0, 50, 100, 150, 160
    assert w[-1, -1, 0] == spec[-1, 0]
    one = windows(spec[:30])
    assert one.shape == (1, 100, 2) and one[0, 30:].sum() == 0


def test_aisfx_missing_says_how_to_install(monkeypatch):
    from interestmap.encoders import audio_aisfx

    monkeypatch.setitem(sys.modules, "aisfx", None)
    monkeypatch.setitem(sys.modules, "aisfx.models.cnn2d", None)
    with pytest.raises(MissingDependencyError, match=r"pip install --no-deps aisfx==0\.1\.2"):
        audio_aisfx._load_model()


# CLAP --------------------------------------------------------------------------------
TINY_CLAP = "interestmap-test-tiny-clap"


@pytest.fixture(scope="module")
def clap_module():
    from interestmap.encoders.audio_clap import _clap_module

    try:
        return _clap_module()
    except MissingDependencyError as e:
        pytest.skip(str(e))


def _tiny_checkpoint(clap_module, tmp: Path, fusion: bool) -> Path:
    """A randomly initialised CLAP (real HTSAT-tiny audio branch, 1-layer text) on disk."""
    import torch

    from interestmap.encoders.audio_clap import add_clap_model_config

    cfg = copy.deepcopy(clap_module.factory._MODEL_CONFIGS["HTSAT-tiny"])
    cfg["text_cfg"] = dict(context_length=77, vocab_size=49408, width=64, heads=2, layers=1)
    add_clap_model_config(TINY_CLAP, cfg)
    torch.manual_seed(0)
    model, _ = clap_module.create_model(TINY_CLAP, "transformer", precision="fp32",
                                        device="cpu", enable_fusion=fusion,
                                        fusion_type="aff_2d" if fusion else "None")
    path = tmp / f"tiny-{'fusion' if fusion else 'plain'}.pt"
    # as LAION saves them: wrapped in "state_dict", DataParallel "module." prefixes
    torch.save({"epoch": 1, "state_dict": {f"module.{k}": v
                                           for k, v in model.state_dict().items()}}, path)
    return path


@pytest.fixture(scope="module")
def tiny_clap(clap_module, tmp_path_factory):
    from interestmap.encoders.audio_clap import ClapAudio

    path = _tiny_checkpoint(clap_module, tmp_path_factory.mktemp("clap"), fusion=False)
    return ClapAudio(checkpoint=path, amodel=TINY_CLAP, tmodel="transformer")


@pytest.mark.slow
def test_clap_plumbing_audio_and_text(tiny_clap):
    rng = np.random.default_rng(0)
    sr = tiny_clap.sample_rate
    assert sr == 48000
    clips = [0.1 * rng.standard_normal(3 * sr).astype(np.float32),    # short: repeat-padded
             0.1 * rng.standard_normal(12 * sr).astype(np.float32),   # long: 2 windows
             0.1 * rng.standard_normal((2, sr)).astype(np.float32)]   # stereo
    vecs = tiny_clap.encode(clips)
    assert vecs.shape == (3, 512) and vecs.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(tiny_clap.encode(clips[:1]), vecs[:1], atol=1e-5)  # deterministic
    assert tiny_clap.has_text_side
    texts = tiny_clap.encode_text(["a dog barking", "rain on a roof", ""])
    assert texts.shape == (3, 512)
    np.testing.assert_allclose(np.linalg.norm(texts, axis=1), 1.0, atol=1e-5)
    assert not np.allclose(texts[0], texts[1])
    info = tiny_clap.info
    assert info.name == f"clap:{TINY_CLAP}" and info.dim == 512 and info.modality == "audio"
    with pytest.raises(MediaError):
        tiny_clap.encode([np.zeros(0, dtype=np.float32)])


@pytest.mark.slow
def test_clap_fusion_checkpoint_is_detected(clap_module, tmp_path):
    from interestmap.encoders.audio_clap import ClapAudio

    path = _tiny_checkpoint(clap_module, tmp_path, fusion=True)
    enc = ClapAudio(checkpoint=path, amodel=TINY_CLAP, tmodel="transformer")
    rng = np.random.default_rng(1)
    vecs = enc.encode([0.1 * rng.standard_normal(4 * 48000).astype(np.float32),
                       0.1 * rng.standard_normal(15 * 48000).astype(np.float32)])
    assert vecs.shape == (2, 512)
    np.testing.assert_allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)
    with pytest.raises(ModelLoadError, match="fusion"):
        ClapAudio(checkpoint=path, amodel=TINY_CLAP, tmodel="transformer",
                  enable_fusion=False).encode([np.ones(48000, dtype=np.float32)])


@pytest.mark.slow
def test_clap_checkpoint_that_does_not_fit_is_refused(tiny_clap):
    from interestmap.encoders.audio_clap import ClapAudio

    wrong = ClapAudio(checkpoint=tiny_clap.checkpoint, amodel=TINY_CLAP, tmodel="roberta")
    with pytest.raises(ModelLoadError, match="does not fit"):
        wrong.encode([np.ones(48000, dtype=np.float32)])


def test_clap_missing_checkpoint_names_the_setting(monkeypatch, tmp_path):
    from interestmap.encoders.audio_clap import CHECKPOINT_ENV, ClapAudio

    monkeypatch.delenv(CHECKPOINT_ENV, raising=False)
    with pytest.raises(ModelLoadError, match=CHECKPOINT_ENV):
        ClapAudio().encode([np.ones(48000, dtype=np.float32)])
    with pytest.raises(ModelLoadError, match="no CLAP checkpoint file"):
        ClapAudio(checkpoint=tmp_path / "nope.pt").info  # noqa: B018
    monkeypatch.setenv(CHECKPOINT_ENV, str(tmp_path / "gone.pt"))
    with pytest.raises(ModelLoadError, match=CHECKPOINT_ENV):
        ClapAudio().resolved_checkpoint()
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    from interestmap.encoders.audio_clap import _load_state

    with pytest.raises(ModelLoadError, match="cannot read"):
        _load_state(str(bad))


def test_empty_tokenizer_is_refused():
    from interestmap.encoders.audio_clap import check_tokenizer

    class Empty:  # what transformers returns offline for roberta-base: 5 special tokens
        vocab_size = 5

    with pytest.raises(ModelLoadError, match="empty one with 5 tokens"):
        check_tokenizer(Empty())

    class Real:
        vocab_size = 50265

    assert isinstance(check_tokenizer(Real()), Real)


@pytest.mark.slow
def test_real_offline_roberta_tokenizer_is_refused(clap_module, monkeypatch):
    """The real pitfall: offline, transformers hands back an empty roberta tokenizer."""
    from transformers import RobertaTokenizer

    from interestmap._compat import hub_offline
    from interestmap.encoders.audio_clap import ClapAudio, check_tokenizer

    monkeypatch.delenv("INTERESTMAP_ALLOW_DOWNLOADS", raising=False)
    with hub_offline():
        try:
            tok = RobertaTokenizer.from_pretrained("roberta-base")
        except OSError:
            tok = None
    if tok is not None and tok.vocab_size >= 1000:
        pytest.skip("roberta-base is in this machine's Hugging Face cache")
    if tok is not None:
        with pytest.raises(ModelLoadError):
            check_tokenizer(tok)
    with pytest.raises(ModelLoadError, match="INTERESTMAP_ALLOW_DOWNLOADS"):
        ClapAudio(checkpoint="unused.pt").tokenizer  # noqa: B018
