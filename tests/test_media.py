"""load_media on real files: the shared video, scene photos, ESC-50 sounds, and broken or
unusual files made on the fly with ffmpeg and PIL."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from helpers.media import ffmpeg
from PIL import Image

from interestmap.errors import ConfigError, MediaError
from interestmap.media.decode import load_media


@pytest.fixture(scope="session")
def photos(data: Path) -> list[Path]:
    return sorted((data / "scenes" / "sea").glob("*.jpg"))[:3]


@pytest.fixture(scope="session")
def rain(data: Path) -> Path:
    return data / "esc50" / "audio" / "4-160999-A-10.flac"


def _error(path: Path | list[Path], **kw) -> str:
    with pytest.raises(MediaError) as info:
        load_media(path, **kw)
    msg = str(info.value)
    assert "\n" not in msg and msg, "a media error is one line"
    return msg


# --- good inputs ---------------------------------------------------------------------


def test_video_decodes_to_frames_and_sound(bunny: Path) -> None:
    m = load_media(bunny)
    assert m.kind == "video" and m.missing == {} and m.notes == []
    assert 8 <= len(m.frames) <= 16 and len(m.frame_times_s) == len(m.frames)
    for f in m.frames:
        assert f.dtype == np.uint8 and f.shape == (720, 1280, 3)
    assert m.frame_times_s == sorted(m.frame_times_s)
    assert m.frame_times_s[0] == 0.0 and m.frame_times_s[-1] < m.duration_s
    assert m.frame_times_s[-1] > 0.7 * m.duration_s, "samples cover the whole clip"
    assert m.duration_s == pytest.approx(5.31, abs=0.05)
    assert m.audio is not None and m.audio.dtype == np.float32 and m.audio.ndim == 1
    assert m.sample_rate == 48000
    assert m.audio.size / 48000 == pytest.approx(m.duration_s, abs=0.1)
    assert 0.01 < np.abs(m.audio).max() <= 1.0


def test_frame_budget_and_sample_rate(bunny: Path) -> None:
    m = load_media(bunny, max_frames=3, sample_rate=16000)
    assert len(m.frames) == 3 and m.frame_times_s[0] == 0.0
    assert m.audio is not None and m.audio.size / 16000 == pytest.approx(5.31, abs=0.1)


def test_scene_changes_are_sampled(tmp_path: Path) -> None:
    """A 1-second blue shot between two long shots is kept even with 4 frames."""
    out = tmp_path / "cuts.mp4"
    ffmpeg("-f", "lavfi", "-i", "color=red:s=320x180:r=25:d=7",
           "-f", "lavfi", "-i", "color=blue:s=320x180:r=25:d=1",
           "-f", "lavfi", "-i", "color=green:s=320x180:r=25:d=3",
           "-filter_complex", "[0][1][2]concat=n=3:v=1:a=0", "-c:v", "libx264",
           "-pix_fmt", "yuv420p", out)
    m = load_media(out, max_frames=4)
    assert len(m.frames) == 4
    dominant = {int(np.argmax(f.reshape(-1, 3).mean(axis=0))) for f in m.frames}
    assert dominant == {0, 1, 2}, "red, green and blue shots all sampled"


def test_rotated_phone_video_is_upright(tmp_path: Path) -> None:
    src, rot = tmp_path / "land.mp4", tmp_path / "rot.mp4"
    ffmpeg("-f", "lavfi", "-i", "color=white:s=320x180:r=25:d=1", "-c:v", "libx264",
           "-pix_fmt", "yuv420p", src)
    ffmpeg("-i", src, "-c", "copy", "-metadata:s:v:0", "rotate=90", rot)
    m = load_media(rot)
    assert m.frames[0].shape[:2] == (320, 180)


def test_image_carousel_and_photo_with_sound(photos: list[Path], rain: Path) -> None:
    one = load_media(photos[0])
    assert one.kind == "image" and len(one.frames) == 1 and one.audio is None
    assert "audio" in one.missing and one.frames[0].shape == (100, 100, 3)
    three = load_media(photos)
    assert three.kind == "carousel" and len(three.frames) == 3
    assert not np.array_equal(three.frames[0], three.frames[1])
    with_sound = load_media([*photos, rain])
    assert with_sound.kind == "carousel" and with_sound.audio is not None
    assert with_sound.duration_s == pytest.approx(5.0, abs=0.05) and "audio" not in with_sound.missing


def test_carousel_longer_than_budget_is_cut_with_a_note(photos: list[Path]) -> None:
    m = load_media(photos, max_frames=2)
    assert len(m.frames) == 2 and any("first 2" in n for n in m.notes)


def test_exif_orientation_is_applied(tmp_path: Path, photos: list[Path]) -> None:
    img = Image.open(photos[0]).convert("RGB").resize((200, 100))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 CW on display
    path = tmp_path / "phone.jpg"
    img.save(path, exif=exif)
    assert load_media(path).frames[0].shape == (200, 100, 3)


def test_audio_file(rain: Path) -> None:
    m = load_media(rain)
    assert m.kind == "audio" and not m.frames and "visual" in m.missing
    assert m.audio is not None and m.audio.size == pytest.approx(5 * 48000, abs=480)


def test_animated_gif_is_a_video(tmp_path: Path, bunny: Path) -> None:
    gif = tmp_path / "loop.gif"
    ffmpeg("-i", bunny, "-t", "2", "-vf", "fps=5,scale=160:-1", gif)
    m = load_media(gif)
    assert m.kind == "video" and len(m.frames) >= 5 and "audio" in m.missing


def test_no_media_is_a_caption_only_post() -> None:
    m = load_media(None)
    assert m.kind == "none" and not m.frames and m.audio is None
    assert set(m.missing) == {"visual", "audio"}


# --- missing modalities --------------------------------------------------------------


def test_video_without_sound_reports_audio_missing(tmp_path: Path, bunny: Path) -> None:
    silent = tmp_path / "silent.mp4"
    ffmpeg("-i", bunny, "-an", "-c", "copy", silent)
    m = load_media(silent)
    assert m.kind == "video" and m.frames and m.audio is None
    assert m.missing == {"audio": "the video has no sound track"}


def test_sound_only_mp4_reports_visual_missing(tmp_path: Path, bunny: Path) -> None:
    sound = tmp_path / "sound.mp4"
    ffmpeg("-i", bunny, "-vn", "-c", "copy", sound)
    m = load_media(sound)
    assert m.kind == "audio" and m.audio is not None and not m.frames
    assert "visual" in m.missing
    assert any("sound.mp4" in n and "audio" in n for n in m.notes), "the odd extension is noted"


# --- bad inputs ----------------------------------------------------------------------


def test_missing_file(tmp_path: Path) -> None:
    assert "no such file" in _error(tmp_path / "nope.mp4")


def test_folder(tmp_path: Path) -> None:
    assert "folder" in _error(tmp_path)


def test_zero_byte_file(tmp_path: Path) -> None:
    p = tmp_path / "empty.mp4"
    p.touch()
    msg = _error(p)
    assert "empty.mp4" in msg and "0 bytes" in msg


def test_garbage_bytes_with_video_extension(tmp_path: Path) -> None:
    p = tmp_path / "garbage.mp4"
    p.write_bytes(np.random.default_rng(0).integers(0, 256, 200_000, dtype=np.uint8).tobytes())
    msg = _error(p)
    assert "garbage.mp4" in msg and "not a video, image or audio file" in msg


def test_text_file_renamed_to_mp4(tmp_path: Path) -> None:
    p = tmp_path / "notes.mp4"
    p.write_text("Shopping list: milk, eggs, bread.\nCall mum on Sunday.\n", encoding="utf-8")
    msg = _error(p)
    assert "notes.mp4" in msg and "text file" in msg


def test_truncated_mp4_with_index_at_the_end(tmp_path: Path, bunny: Path) -> None:
    """The shared mp4 keeps its index (moov) after the data: half of it cannot be opened."""
    p = tmp_path / "half.mp4"
    raw = bunny.read_bytes()
    p.write_bytes(raw[: len(raw) // 2])
    msg = _error(p)
    assert "half.mp4" in msg and "cut short" in msg


def test_truncated_streamable_mp4_keeps_what_decoded(tmp_path: Path, bunny: Path) -> None:
    """With the index first (faststart), the first half decodes: used, with a note."""
    full, half = tmp_path / "fast.mp4", tmp_path / "fast_half.mp4"
    ffmpeg("-i", bunny, "-c", "copy", "-movflags", "+faststart", full)
    raw = full.read_bytes()
    half.write_bytes(raw[: len(raw) // 2])
    m = load_media(half)
    assert m.kind == "video" and m.frames
    assert 1.0 < m.duration_s < 4.0 and max(m.frame_times_s) < m.duration_s
    assert any("cut short" in n for n in m.notes)


def test_container_without_picture_or_sound(tmp_path: Path) -> None:
    srt, mp4 = tmp_path / "s.srt", tmp_path / "subs_only.mp4"
    srt.write_text("1\n00:00:00,000 --> 00:00:02,000\nHello\n", encoding="utf-8")
    ffmpeg("-i", srt, "-c:s", "mov_text", mp4)
    msg = _error(mp4)
    assert "subs_only.mp4" in msg and "neither pictures nor sound" in msg


def test_too_long_video_is_refused_with_the_setting_named(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    p = tmp_path / "long.mp4"
    ffmpeg("-f", "lavfi", "-i", "color=black:s=64x36:r=0.01", "-t", "1200", "-c:v", "libx264", p)
    msg = _error(p)
    assert "long.mp4" in msg and "20.0 min" in msg and "INTERESTMAP_MAX_DURATION_S" in msg
    monkeypatch.setenv("INTERESTMAP_MAX_DURATION_S", "1500")
    m = load_media(p, max_frames=4)
    assert m.kind == "video" and m.duration_s == pytest.approx(1200, abs=1)
    assert m.frame_times_s[-1] > 600


def test_duration_limit_parameter(bunny: Path) -> None:
    assert "max_duration_s" in _error(bunny, max_duration_s=2.0)


def test_bad_duration_setting(monkeypatch: pytest.MonkeyPatch, bunny: Path) -> None:
    monkeypatch.setenv("INTERESTMAP_MAX_DURATION_S", "ten minutes")
    with pytest.raises(ConfigError, match="INTERESTMAP_MAX_DURATION_S"):
        load_media(bunny)


def test_video_and_image_cannot_be_mixed(bunny: Path, photos: list[Path]) -> None:
    assert "cannot combine" in _error([bunny, photos[0]])


def test_image_with_video_extension_is_read_as_image(tmp_path: Path, photos: list[Path]) -> None:
    p = tmp_path / "photo.mp4"
    p.write_bytes(photos[0].read_bytes())
    m = load_media(p)
    assert m.kind == "image" and any("photo.mp4" in n for n in m.notes)
