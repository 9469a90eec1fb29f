"""What-if edits: what moves, by how much, why; only the edited part is re-encoded."""

from __future__ import annotations

import json

import numpy as np
import pytest
from helpers.clips import BUSINESS_SPEECH, SPANISH_CAPTION, speech_only, workdir

from interestmap.analysis.analyze import analyze, analyze_encoded
from interestmap.analysis.whatif import Edit, apply_edits, distance_by_block, drop_blocks, whatif
from interestmap.clip import Clip
from interestmap.encoders.fusion import BLOCKS
from interestmap.errors import ConfigError

pytestmark = pytest.mark.slow

CAPTION = "Summer holiday at the beach 🌊 the sea is so blue #travel #beach #vacation"


@pytest.fixture(scope="module")
def index(default_index):
    return default_index


@pytest.fixture(scope="module")
def caption_only(index):
    return analyze(Clip(caption=CAPTION), index)


@pytest.fixture(scope="module")
def video(encoded_clip, index):
    return analyze_encoded(encoded_clip("coherent"), index)


def _unchanged(a, b, blocks) -> None:
    for blk in blocks:
        va, vb = a.encoded.blocks[blk], b.encoded.blocks[blk]
        assert (va is None) == (vb is None), blk
        if va is not None:
            assert np.array_equal(va, vb), blk


def test_translated_caption_keeps_the_topic_and_moves_by_language(caption_only, index):
    """Acceptance: same top declared topic; the language block's attribution changes."""
    rep = whatif(caption_only, [Edit("caption", SPANISH_CAPTION)], index)
    v = rep.variants[0]
    assert v.analysis.encoded.signals.language == "es"
    assert v.topic_kept and v.top_topic_after["id"] == "travel"
    change = v.attribution_delta["original_top_audience"]["change"]
    # 0.021 since the atlas has 5+ Spanish posts per topic (above 0.05 with 2): its
    # audiences are less English than they were
    assert abs(change["language"]) > 0.015, change
    assert abs(change["language"]) > abs(change["caption"])
    assert v.attribution_delta["original_top_audience"]["main_change"] == "language"
    # most of the move is the language block: the caption says the same thing in Spanish
    assert v.distance_by_block["language"] > 2 * v.distance_by_block["caption"] > 0
    assert "still Travel" in v.summary and "language" in v.summary


def test_the_move_splits_exactly_into_blocks(caption_only, index):
    rep = whatif(caption_only, [Edit("caption", SPANISH_CAPTION), Edit("language", "ru"),
                                Edit("geo", "Tokyo"), Edit("drop", "language")], index)
    assert len(rep.variants) == 4
    for v in rep.variants:
        assert sum(v.distance_by_block.values()) == pytest.approx(v.fused_distance, abs=2e-4)
        assert v.fused_distance > 0.01
        assert min(v.distance_by_block.values()) > -1e-6
    combined = whatif(caption_only, [Edit("language", "ru"), Edit("geo", "Tokyo")], index,
                      combine=True).variants
    assert len(combined) == 1 and len(combined[0].edits) == 2
    a = caption_only.encoded.fused
    assert distance_by_block(a, a, index.fuser) == {b: 0.0 for b in BLOCKS}


def test_language_and_geo_edits_keep_the_topic_and_the_map_place(caption_only, index):
    rep = whatif(caption_only, [Edit("language", "ru"), Edit("geo", "Madrid, Spain")], index)
    lang, geo = rep.variants
    for v, blk in ((lang, "language"), (geo, "geo")):
        assert v.topic_kept
        # the map shows topics: the point stays put. Not exactly 0: two encodes of one
        # text differ by ~1e-7 and UMAP's placement of a new point amplifies that.
        assert v.map_distance == pytest.approx(0.0, abs=1e-3)
        _unchanged(caption_only, v.analysis, [b for b in BLOCKS if b != blk])
        moved = max(v.distance_by_block, key=v.distance_by_block.get)
        assert moved == blk
    assert lang.analysis.encoded.signals.language_source == "given"
    assert geo.analysis.encoded.signals.geo.country == "ES"
    assert lang.attribution_delta["original_top_audience"]["change"]["language"] < -0.05


def test_edit_errors_are_plain():
    with pytest.raises(ConfigError, match="cannot drop 'nonsense'"):
        Edit("drop", "nonsense")
    with pytest.raises(ConfigError, match="unknown edit"):
        Edit("colour", "red")
    with pytest.raises(ConfigError, match="needs a value"):
        Edit("geo", " ")
    assert drop_blocks("visuals") == ("visual", "visual_semantics")
    assert Edit("caption", "").describe() == "caption removed"


def test_unknown_place_and_no_edits_are_refused(caption_only, index):
    with pytest.raises(ConfigError):
        whatif(caption_only, [Edit("geo", "Atlantis-on-the-Moon")], index)
    with pytest.raises(ConfigError, match="no edits given"):
        whatif(caption_only, [], index)


def test_new_frames_reencode_only_the_picture(video, index, data, monkeypatch):
    import interestmap.signals.asr as asr

    def no_asr(*a, **k):
        raise AssertionError("ASR ran for a picture edit")

    monkeypatch.setattr(asr, "transcribe", no_asr)
    forest = sorted((data / "scenes" / "forest").glob("*.jpg"))[3]
    v = whatif(video, [Edit("frames", str(forest))], index).variants[0]
    after = v.analysis
    _unchanged(video, after, ["caption", "speech", "audio", "language", "geo"])
    assert after.encoded.signals.transcript == video.encoded.signals.transcript
    assert not np.array_equal(after.encoded.blocks["visual"], video.encoded.blocks["visual"])
    assert after.topics.block_top("visual_semantics")[0].id == "nature-outdoors"
    assert after.encoded.media_kind == "video"
    moved = {b for b, x in v.distance_by_block.items() if x > 1e-4}
    assert moved <= {"visual", "visual_semantics", "ocr"}
    assert after.clarity.score < video.clarity.score


def test_new_audio_reencodes_only_the_sound(video, index, monkeypatch):
    import interestmap.signals.ocr as ocr

    def no_ocr(*a, **k):
        raise AssertionError("OCR ran for a sound edit")

    monkeypatch.setattr(ocr, "read_text", no_ocr)
    wav = speech_only(BUSINESS_SPEECH, "business")
    v = whatif(video, [Edit("audio", str(wav))], index).variants[0]
    after = v.analysis
    _unchanged(video, after, ["caption", "visual", "visual_semantics", "ocr", "geo"])
    assert "business" in after.encoded.signals.transcript.lower()
    assert after.topics.block_top("speech")[0].id == "business-finance"
    assert "speech" in after.agreement.disagreeing
    assert max(v.distance_by_block, key=v.distance_by_block.get) == "speech"
    with pytest.raises(ConfigError, match="has no pictures"):
        apply_edits(video.encoded, [Edit("frames", str(wav))], index)
    assert workdir().is_dir()


def test_cli_whatif(capsys):
    from interestmap.serve.cli import main

    rc = main(["whatif", "--caption", CAPTION, "--set-language", "es", "--set-geo", "Madrid",
               "--json"])
    out = json.loads(capsys.readouterr().out)
    assert rc == 0 and len(out["variants"]) == 2
    assert [v["edits"][0]["kind"] for v in out["variants"]] == ["language", "geo"]
    assert all(v["top_topic"]["kept"] for v in out["variants"])
    rc = main(["whatif", "--caption", CAPTION, "--set-language", "es", "--drop", "geo",
               "--combine"])
    text = capsys.readouterr().out
    assert rc == 0 and text.count("\n1. ") == 1 and "\n2. " not in text
    assert main(["whatif", "--caption", CAPTION]) == 2
    assert "no edits given" in capsys.readouterr().err


def test_sound_change_moves_what_the_clip_sounds_like(index, data):
    """A caption over a barking dog: dropping the "sound" drops both sound blocks, and
    another sound (a crying baby) re-encodes what the clip sounds like, not its caption."""
    import csv

    rows = list(csv.DictReader((data / "esc50" / "esc50.csv").open()))

    def esc50(cat: str) -> str:
        name = sorted(r["filename"] for r in rows if r["category"] == cat)[0]
        return str(data / "esc50" / "audio" / name.replace(".wav", ".flac"))

    base = analyze(Clip.of(esc50("dog"), caption="Sunday afternoon with my best friend"),
                   index)
    assert base.encoded.blocks["audio_semantics"] is not None
    assert base.topics.block_top("audio_semantics")[0].id == "pets"
    heard = next(r for r in base.agreement.blocks if r.block == "audio_semantics")
    assert heard.words == "sound (what it sounds like)"
    assert heard.evidence.startswith("sounds like") and ("dog" in heard.evidence
                                                         or "bark" in heard.evidence)
    assert drop_blocks("sound") == ("audio", "audio_semantics")
    rep = whatif(base, [Edit("drop", "sound"), Edit("audio", esc50("crying_baby"))], index)
    dropped, rain = rep.variants
    assert dropped.analysis.encoded.blocks["audio_semantics"] is None
    assert dropped.distance_by_block["audio_semantics"] > 0
    assert "sound (what it sounds like)" in dropped.summary or \
        "sound (what it sounds like)" in dropped.edits[0].describe()
    after = rain.analysis
    _unchanged(base, after, ["caption", "visual", "visual_semantics", "ocr", "geo"])
    print(rain.distance_by_block, dropped.distance_by_block)
    assert max(rain.distance_by_block, key=rain.distance_by_block.get) == "audio_semantics"
    assert after.topics.block_top("audio_semantics")[0].id == "parenting"
