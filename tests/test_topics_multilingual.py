"""Declared topics across languages with the default text encoder (USE-m3 + e5-small).

Real captions and their faithful translations (``tests/data/translations.jsonl``: en with
ru/it/pt/uk/el) and the multilingual held-out set of ``benchmarks/data`` (the same
sentences in 14 languages). Accuracy figures live in ``benchmarks/topic_accuracy.py``;
these tests check properties that must hold; the quality thresholds on these captions
are in tests/quality/test_topics_multilingual_quality.py.
"""

from __future__ import annotations

import numpy as np
import pytest

from interestmap.encoders.registry import DEFAULT_TEXT_ENCODER, get_text_encoder


def test_the_default_is_the_routed_ensemble(encoder):
    assert DEFAULT_TEXT_ENCODER == "use-m3+e5-small" == encoder.info.name
    assert encoder.info.dim == 896 and "centre-" in encoder.info.version
    assert get_text_encoder("use-e5") is not None  # the short alias resolves too
    texts = ["Our team won the final last night!", "Наша команда вчора виграла фінал!",
             "Η ομάδα μας κέρδισε χθες τον τελικό!", "昨日の決勝戦でチームが勝った！"]
    v = encoder.encode(texts)
    assert v.shape == (4, 896) and np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    use_half = np.linalg.norm(v[:, :512], axis=1)
    # English and Japanese are USE languages: both halves, equal weight
    assert use_half[0] == pytest.approx(2 ** -0.5, abs=1e-3)
    assert use_half[3] == pytest.approx(2 ** -0.5, abs=1e-3)
    # Ukrainian and Greek are not: their USE half would be noise, so it is dropped
    assert use_half[1] == 0.0 and use_half[2] == 0.0
    # a repeated text is encoded once; batching and routing do not change any vector
    again = encoder.encode([texts[2], texts[0], texts[2], texts[3]])
    assert np.array_equal(again[0], again[2])
    assert np.allclose(again, v[[2, 0, 2, 3]], atol=1e-6)
    assert np.allclose(encoder.encode([texts[1]])[0], v[1], atol=1e-6)


@pytest.mark.slow
def test_an_index_of_an_older_text_encoder_refuses_new_queries_and_the_default_is_rebuilt(
        tmp_path):
    from interestmap.encoders.pipeline import ClipEncoder
    from interestmap.errors import EncoderMismatchError
    from interestmap.index.atlas import atlas_clips
    from interestmap.index.build import build_index
    from interestmap.index.default import ensure_default_index
    from interestmap.index.interest_index import InterestIndex

    old = ClipEncoder(text_encoder="use-m3", ocr=False, asr=False)
    build_index(atlas_clips()[:40], tmp_path / "old", encoder=old, audiences="labels").close()
    with InterestIndex.open(tmp_path / "old") as idx:
        assert idx.manifest["encoder_config"]["text"] == "use-m3"
        with pytest.raises(EncoderMismatchError, match="use-m3"):
            idx.check_encoder(ClipEncoder())
        idx.check_encoder(old)  # the index's own encoder still works
    # the embedded default index, built by an older interestmap, is rebuilt on open
    build_index(atlas_clips()[:40], tmp_path / "default", encoder=old,
                audiences="labels").close()
    with ensure_default_index(tmp_path / "default") as idx:
        assert idx.manifest["encoder_config"]["text"] == DEFAULT_TEXT_ENCODER
        assert idx.manifest["counts"]["clips"] == len(atlas_clips())


