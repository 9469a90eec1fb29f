"""The one hashtag rule: what signals, advice and the text encoder all read as a tag."""

from __future__ import annotations

import pytest

from interestmap.encoders.pipeline import caption_text
from interestmap.signals.hashtags import parse_hashtags, spell_out_hashtags


@pytest.mark.parametrize(("caption", "tags"), [
    ("Матч дня! #футбол #RealMadrid", ["футбол", "realmadrid"]),
    ("今日の #料理 と #ラーメン", ["料理", "ラーメン"]),
    ("Paris #café #Café #cafe\u0301", ["café"]),  # one tag: case and NFD folded
    ("#हिंदी #العربية #ελληνικά", ["हिंदी", "العربية", "ελληνικά"]),  # combining marks
    ("#football_skills #2024 #1st", ["football_skills", "1st"]),
    ("great!#wow", ["wow"]),
])
def test_multilingual_hashtags(caption: str, tags: list[str]) -> None:
    assert parse_hashtags(caption) == tags


@pytest.mark.parametrize("caption", [
    "#café! #café, #café. #café? #café) (#café) «#café» #café…",
    "#café:#café;",
])
def test_trailing_punctuation_ends_a_tag(caption: str) -> None:
    assert parse_hashtags(caption) == ["café"]


@pytest.mark.parametrize("caption", [
    "a#b", "x@y #", "&#39;", "https://example.com/#top", "C# and F#", "#1 #2024", "##",
])
def test_not_hashtags(caption: str) -> None:
    assert parse_hashtags(caption) == []


def test_the_text_encoder_reads_the_same_tags_as_words() -> None:
    caption = "Golazo! #RealMadrid #football_skills #футбол #1 a#b"
    assert spell_out_hashtags(caption) == "Golazo! Real Madrid football skills футбол #1 a#b"
    assert caption_text(caption) == spell_out_hashtags(caption)
