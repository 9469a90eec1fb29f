"""Quality of the map of a corpus on real data (moved from tests/test_index.py): audience
purity and outliers of a real build, and the same topic in other languages sharing
audiences. The build is the session's ``big_build`` (tests/conftest.py)."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

pytestmark = [pytest.mark.slow, pytest.mark.quality]


def test_build_reports_purity_and_few_outliers(big_build) -> None:
    report, idx, rows = big_build
    print(f"\nX-Topic build: {report.n_clips} clips, {report.n_audiences} audiences, "
          f"outliers raw {report.raw_outlier_share:.1%} -> {report.outlier_share:.1%}, "
          f"purity {report.purity}, NMI {report.nmi}, timings {report.timings_s}")
    assert report.n_clips == len(rows)
    assert report.problems == []
    assert report.n_audiences >= 5
    assert report.outlier_share <= 0.15
    assert report.purity is not None and report.purity > 0.4
    info = idx.info()
    assert info["outlier_share"] == pytest.approx(report.outlier_share)
    assert info["encoders"]["caption"]["name"]
    for a in info["audiences"]:
        assert a["label"] and a["size"] > 0 and a["top_topics"]
        assert sum(a["account_shares"].values()) == pytest.approx(1.0, abs=1e-3)



def test_same_topic_in_other_languages_shares_audiences(big_build) -> None:
    """The audiences holding English sports tweets (each at least a tenth of them) also
    gather the Spanish and Japanese sports tweets: far more of them than of those
    languages' other tweets. (Sports may split, e.g. soccer and American football, with
    tiny numeric differences between machines: hence audiences, not one audience.)"""
    _, idx, rows = big_build
    aud = {c["id"]: c["audience"] for c in idx.clips_frame()}
    en_sports = Counter(aud[r["id"]] for r in rows
                        if r["id"].startswith("en-") and "sports" in r["labels"])
    home = {a for a, n in en_sports.items()
            if a is not None and a >= 0 and n >= 0.1 * sum(en_sports.values())}
    assert home, en_sports
    # Sports often splits in two (e.g. "Sports" and "Football"), and which of them the
    # Spanish tweets join moves with tiny changes: one hashtag read as "#4" instead of
    # "4" in one of 1,600 captions sent es from 0.46 to 0.07 with the 20 % bar for a
    # "home" audience. With 10 %, measured: es 0.54 vs 0.083 of other es tweets (the
    # Football audience also holds es tweets labelled otherwise), ja 0.125 vs 0.003
    # (~24 sports tweets). Earlier builds: es 0.57 / 0.64, ja 0.17 / 0.29.
    for lang, least, times in (("es", 0.35, 5), ("ja", 0.05, 5)):
        sports = [aud[r["id"]] in home for r in rows
                  if r["id"].startswith(f"{lang}-") and "sports" in r["labels"]]
        other = [aud[r["id"]] in home for r in rows
                 if r["id"].startswith(f"{lang}-") and "sports" not in r["labels"]]
        share, base = float(np.mean(sports)), float(np.mean(other))
        print(f"\n{lang}: {share:.0%} of sports tweets vs {base:.1%} of others in the "
              f"English sports audiences")
        assert len(sports) >= 10
        assert share >= least and share >= times * max(base, 0.01), (lang, share, base)
