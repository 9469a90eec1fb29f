"""The audience mirror: an interest portrait from engaged clips, and a feed order."""

from __future__ import annotations

import json

import numpy as np
import pytest

from interestmap.analysis.mirror import feed_scores, mirror, portrait_of, rank_clips, resolve_items
from interestmap.clip import Clip
from interestmap.errors import ConfigError

pytestmark = pytest.mark.slow

FAN = ["football-0", "football-1", "football-2", "football-4"]
"""Atlas clips (ids of the default index) a football fan engaged with."""


@pytest.fixture(scope="module")
def index(default_index):
    return default_index


@pytest.fixture(scope="module")
def fan(index):
    return portrait_of(FAN, index)


def test_portrait_of_a_football_fan(fan):
    assert fan.topics[0]["id"] == "football" and fan.topics[0]["weight"] > 0.5
    assert fan.audiences[0]["label"].startswith("Football")
    assert sum(a["weight"] for a in fan.audiences) <= 1.0 + 1e-6
    assert [a["weight"] for a in fan.audiences] == sorted((a["weight"] for a in fan.audiences),
                                                          reverse=True)
    assert [e["key"] for e in fan.engaged] == FAN
    assert all(e["top_topic"]["id"] == "football" for e in fan.engaged)
    assert fan.x is not None and abs(float(np.linalg.norm(fan.vector)) - 1) < 1e-4


def test_football_clips_are_shown_to_the_fan_first(fan, index):
    candidates = ["cooking-0", "football-5", "travel-1", "football-6", "gaming-2",
                  Clip(caption="Ruta en bici por los Pirineos 🚴 #ciclismo", id="mine")]
    ranking = rank_clips(fan, candidates, index)
    keys = [r["key"] for r in ranking]
    assert set(keys[:2]) == {"football-5", "football-6"}, ranking
    assert [r["rank"] for r in ranking] == list(range(1, len(candidates) + 1))
    assert all(ranking[i]["score"] >= ranking[i + 1]["score"] for i in range(len(ranking) - 1))
    top = ranking[0]
    assert top["score"] == pytest.approx(top["interest"] * top["reach"], abs=1e-3)
    assert "caption" in top["why"] and top["topic_weight_in_portrait"] > 0.5
    mine = next(r for r in ranking if r["key"] == "mine")
    assert mine["source"] == "file"


def test_a_clip_sharing_only_its_language_does_not_rank_on_it(fan, index):
    en_caption = Clip(caption="Goal of the season, the stadium exploded ⚽ #football", id="c",
                      language="en")
    lang_only = Clip(caption="", id="l", language="en")
    items = resolve_items([en_caption, lang_only], index)
    assert items[1].blocks["caption"] is None
    score, interest, reach, _ = feed_scores(np.stack([i.fused for i in items]), fan.vector,
                                            index.fuser)
    assert interest[1] == pytest.approx(0.0, abs=1e-6) and score[1] < score[0]
    assert reach[1] == pytest.approx(reach[0], abs=1e-6)


def test_account_ranking_and_plain_errors(index):
    # The atlas's clips are spread over made-up accounts: rank the football fan's account.
    frame = index.clips_frame()
    account = next(c["account"] for c in frame if c["id"] == FAN[0])
    theirs = {c["id"] for c in frame if c["account"] == account} - set(FAN[:2])
    rep = mirror(FAN[:2], [], index, account=account, k=3)
    keys = [r["key"] for r in rep.ranking]
    assert len(theirs) >= 5 and set(keys) == theirs and len(keys) == len(theirs)
    assert rep.ranking[0]["top_topic"]["id"] in ("football", "sports")
    with pytest.raises(ConfigError, match="neither a clip id in the index nor a file"):
        portrait_of(["football-0", "no-such-clip"], index)
    with pytest.raises(ConfigError, match="no engaged clips"):
        portrait_of([], index)
    with pytest.raises(ConfigError, match="no clips of account"):
        mirror(FAN[:1], [], index, account="nobody")


def test_cli_mirror(capsys):
    from interestmap.serve.cli import main

    rc = main(["mirror", "--engaged", *FAN, "--clips", "cooking-0", "football-5", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert rc == 0 and out["portrait"]["topics"][0]["id"] == "football"
    assert [r["key"] for r in out["ranking"]] == ["football-5", "cooking-0"]
    rc = main(["mirror", "--engaged", *FAN])
    text = capsys.readouterr().out
    assert rc == 0 and text.startswith("Interest portrait:") and "Football" in text
