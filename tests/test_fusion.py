"""Fusion: the fused cosine is the weighted mean of block cosines, missing blocks explicit."""

from __future__ import annotations

import numpy as np
import pytest

from interestmap.encoders.base import EncoderInfo
from interestmap.encoders.fusion import BLOCKS, DEFAULT_WEIGHTS, Fuser, FusionLayout
from interestmap.errors import ConfigError, EncoderMismatchError

DIMS = {"caption": 16, "ocr": 16, "speech": 16, "visual": 12, "visual_semantics": 16,
        "audio": 8, "audio_semantics": 16, "language": 6, "geo": 5}


def _unit(rng: np.random.Generator, d: int) -> np.ndarray:
    v = rng.normal(size=d)
    return v / np.linalg.norm(v)


def _clip(rng: np.random.Generator, drop: tuple[str, ...] = ()) -> dict[str, np.ndarray | None]:
    return {b: None if b in drop else _unit(rng, DIMS[b]) for b in BLOCKS}


@pytest.fixture()
def fuser() -> Fuser:
    return Fuser().fit(DIMS)


def test_fused_vectors_are_unit_length(fuser: Fuser) -> None:
    rng = np.random.default_rng(0)
    X = fuser.transform([_clip(rng), _clip(rng, drop=("speech", "visual", "audio"))])
    assert np.linalg.norm(X, axis=1) == pytest.approx([1.0, 1.0], abs=1e-6)


def test_cosine_is_weighted_sum_of_block_cosines(fuser: Fuser) -> None:
    rng = np.random.default_rng(1)
    a, b = _clip(rng), _clip(rng)
    fa, fb = fuser.transform([a, b])
    expected = sum(DEFAULT_WEIGHTS[k] * float(a[k] @ b[k]) for k in BLOCKS)
    assert float(fa @ fb) == pytest.approx(expected, abs=1e-5)
    assert float(fuser.similarity(fa, fb)[0, 0]) == pytest.approx(expected, abs=1e-5)
    contrib = fuser.attribution(fa, fb)[0, 0]
    for i, k in enumerate(BLOCKS):
        assert contrib[i] == pytest.approx(DEFAULT_WEIGHTS[k] * float(a[k] @ b[k]), abs=1e-5)


def test_missing_block_does_not_drag_similarity_down(fuser: Fuser) -> None:
    """A caption-only post that matches a full clip's caption exactly is not penalised."""
    rng = np.random.default_rng(2)
    full = _clip(rng)
    caption_only = {b: (full[b] if b in ("caption", "language", "geo") else None)
                    for b in BLOCKS}
    f_full, f_cap = fuser.transform([full, caption_only])
    assert float(f_full @ f_cap) < 0.8  # the raw dot product would be dragged down...
    assert float(fuser.similarity(f_cap, f_full)[0, 0]) == pytest.approx(1.0, abs=1e-5)
    sims = fuser.block_similarities(f_cap, f_full)[0, 0]
    assert np.isnan(sims[BLOCKS.index("speech")])  # ...a missing block is NaN, said explicitly
    assert fuser.presence(f_cap)[0].tolist() == [b in ("caption", "language", "geo")
                                                 for b in BLOCKS]


def test_zero_or_nonfinite_block_counts_as_missing(fuser: Fuser) -> None:
    rng = np.random.default_rng(3)
    c = _clip(rng)
    c["audio"] = np.zeros(DIMS["audio"])
    c["visual"] = np.full(DIMS["visual"], np.nan)
    f = fuser.transform([c])
    pres = dict(zip(BLOCKS, fuser.presence(f)[0], strict=True))
    assert not pres["audio"] and not pres["visual"] and pres["caption"]
    assert np.all(np.isfinite(f))


def test_split_recovers_blocks(fuser: Fuser) -> None:
    rng = np.random.default_rng(4)
    c = _clip(rng, drop=("ocr",))
    parts = fuser.split(fuser.transform([c]))
    assert parts["caption"][0] == pytest.approx(c["caption"], abs=1e-5)
    assert not np.any(parts["ocr"])


def test_wrong_dimension_is_refused(fuser: Fuser) -> None:
    rng = np.random.default_rng(5)
    c = _clip(rng)
    c["caption"] = _unit(rng, 7)
    with pytest.raises(EncoderMismatchError, match="caption"):
        fuser.transform([c])


def test_weights_are_validated() -> None:
    with pytest.raises(ConfigError, match="unknown block"):
        Fuser({"captions": 1.0}).fit(DIMS)
    with pytest.raises(ConfigError, match=">= 0"):
        Fuser({"caption": -1.0}).fit(DIMS)
    with pytest.raises(ConfigError, match="not fitted"):
        Fuser().transform([{}])


def test_layout_refuses_other_encoders() -> None:
    info = {b: EncoderInfo("enc-a", "1", DIMS[b], "text") for b in BLOCKS}
    other = dict(info, caption=EncoderInfo("enc-b", "1", DIMS["caption"], "text"))
    a = Fuser().fit(info).layout_
    b = Fuser().fit(other).layout_
    a.check_compatible(FusionLayout.from_dict(a.as_dict()))
    with pytest.raises(EncoderMismatchError, match="caption.*enc-b"):
        a.check_compatible(b)


def test_text_view_is_weighted_mean_of_text_blocks(fuser: Fuser) -> None:
    rng = np.random.default_rng(6)
    dims = dict(DIMS, ocr=16, speech=16, visual_semantics=16)
    f = Fuser().fit(dims)
    c = _clip(rng, drop=("ocr",))
    view = f.text_view(f.transform([c]))[0]
    w = DEFAULT_WEIGHTS
    expected = w["caption"] * c["caption"] + w["speech"] * c["speech"] + \
        w["visual_semantics"] * c["visual_semantics"] + w["audio_semantics"] * c["audio_semantics"]
    assert view == pytest.approx(expected / np.linalg.norm(expected), abs=1e-5)
    # a sound-only clip has a text view through what it sounds like, not through aiSFX
    heard = {b: (c[b] if b in ("audio", "audio_semantics") else None) for b in BLOCKS}
    assert f.text_view(f.transform([heard]))[0] == pytest.approx(c["audio_semantics"], abs=1e-5)
    audio_only = {b: (c[b] if b == "audio" else None) for b in BLOCKS}
    assert not np.any(f.text_view(f.transform([audio_only])))
