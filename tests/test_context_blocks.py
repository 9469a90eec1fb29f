"""The language and geo blocks: their cosines are the similarities we promise."""

from __future__ import annotations

import numpy as np
import pytest

from interestmap.clip import GeoPoint
from interestmap.encoders.base import Encoder
from interestmap.encoders.context import (
    LANGUAGE_GROUPS,
    GeoEncoder,
    LanguageEncoder,
    geo_coefficients,
    geo_kernel,
    language_names,
    normalize_language,
    supported_languages,
)
from interestmap.encoders.fusion import BLOCKS, Fuser
from interestmap.errors import ConfigError
from interestmap.signals.geo import haversine_km, resolve_geo

EARTH_RADIUS_KM = 6371.0088


@pytest.fixture(scope="module")
def lang() -> LanguageEncoder:
    return LanguageEncoder()


@pytest.fixture(scope="module")
def geo() -> GeoEncoder:
    return GeoEncoder()


# --- language ------------------------------------------------------------------------------

def test_language_encoder_follows_the_encoder_contract(lang):
    assert isinstance(lang, Encoder)
    info = lang.info
    # one dimension per language: the fewest that hold every cosine exactly
    assert info.modality == "language" and info.dim == len(supported_languages()) == 83
    v = lang.encode(["en", "ru", None])
    assert v.shape == (3, info.dim) and v.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(v[:2], axis=1), 1.0, atol=1e-6)
    assert len(supported_languages()) >= 60


def test_same_language_is_one_whatever_the_spelling(lang):
    for a, b in [("en", "en-US"), ("pt_BR", "pt"), ("zh-cn", "ZH"), ("en", "eng"),
                 ("de", "German"), ("he", "iw"), ("no", "nb")]:
        assert lang.similarity(a, b) == pytest.approx(1.0, abs=1e-6), (a, b)


@pytest.mark.parametrize("a, b, expected", [
    ("es", "it", 0.25),   # Romance
    ("fr", "ro", 0.25),
    ("en", "de", 0.25),   # Germanic
    ("ru", "pl", 0.25),   # Slavic, different scripts
    ("es", "pt", 0.60),   # Romance + mutually intelligible
    ("sv", "da", 0.60),
    ("ru", "uk", 0.75),   # Slavic + East Slavic + Cyrillic
    ("ru", "kk", 0.15),   # Cyrillic only
    ("zh", "ja", 0.15),   # Han characters only
    ("ar", "fa", 0.15),   # Arabic script only
])
def test_related_languages_share_a_documented_part(lang, a, b, expected):
    s = lang.similarity(a, b)
    assert 0 < s < 1
    assert s == pytest.approx(expected, abs=1e-5)


@pytest.mark.parametrize("a, b", [("en", "ja"), ("ru", "es"), ("el", "it"), ("ar", "ko"),
                                  ("tr", "de"), ("hi", "zh")])
def test_unrelated_languages_are_orthogonal(lang, a, b):
    assert lang.similarity(a, b) == pytest.approx(0.0, abs=1e-6)


def test_unknown_or_missing_language_is_a_zero_row(lang):
    v = lang.encode([None, "", "xx", "klingon", "en"])
    assert not v[:4].any()
    assert normalize_language("xx") is None and normalize_language(None) is None
    assert normalize_language("haw") is None  # a language, but not one the block knows


def test_block_reads_codes_and_names_like_the_signals():
    assert [normalize_language(x) for x in ("pt_BR", "ENG", "German", "русский", "nb", "yue")] \
        == ["pt", "en", "de", "ru", "no", "zh"]
    names = language_names()
    assert len(names) == len(supported_languages()) == 83
    assert names["es"] == "Spanish" and names["ru"] == "Russian"


def test_every_group_member_is_a_known_language():
    known = set(supported_languages())
    for groups in LANGUAGE_GROUPS.values():
        for members in groups.values():
            assert set(members) <= known


def test_language_shares_are_validated_and_change_the_version():
    assert LanguageEncoder(family_share=0.1).info.version != LanguageEncoder().info.version
    assert LanguageEncoder(family_share=0.1).similarity("es", "it") == pytest.approx(0.1)
    with pytest.raises(ConfigError, match="shares"):
        LanguageEncoder(family_share=0.6, close_share=0.5).encode(["en"])


# --- geo -----------------------------------------------------------------------------------

def _destination(lat: float, lon: float, bearing: float, km: float) -> tuple[float, float]:
    """The point ``km`` away from (lat, lon) along ``bearing`` (radians)."""
    la1, lo1, d = np.radians(lat), np.radians(lon), km / EARTH_RADIUS_KM
    la2 = np.arcsin(np.sin(la1) * np.cos(d) + np.cos(la1) * np.sin(d) * np.cos(bearing))
    lo2 = lo1 + np.arctan2(np.sin(bearing) * np.sin(d) * np.cos(la1),
                           np.cos(d) - np.sin(la1) * np.sin(la2))
    return float(np.degrees(la2)), float((np.degrees(lo2) + 540) % 360 - 180)


def test_geo_encoder_follows_the_encoder_contract(geo):
    assert isinstance(geo, Encoder)
    info = geo.info
    assert info.modality == "geo" and info.dim == geo.dim
    v = geo.encode([GeoPoint(55.75, 37.62), (48.86, 2.35), "Tokyo", None])
    assert v.shape == (4, info.dim) and v.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(v[:3], axis=1), 1.0, atol=1e-5)
    assert not v[3].any()
    # deterministic: a fresh encoder gives the same vectors
    np.testing.assert_array_equal(GeoEncoder().encode(["Tokyo"])[0], v[2])


def test_geo_similarity_orders_real_city_pairs(geo):
    s = {name: geo.similarity("Moscow", name)
         for name in ("Moscow", "Saint Petersburg", "Paris", "Sydney", "New York")}
    assert s["Moscow"] == pytest.approx(1.0, abs=1e-5)
    assert s["Saint Petersburg"] > s["Paris"] > s["Sydney"]
    assert 0.6 < s["Saint Petersburg"] < 0.9
    assert 0.1 < s["Paris"] < 0.4
    assert s["Sydney"] < 0.01 and s["New York"] < 0.01     # other continents ~ 0


def test_geo_decay_curve_matches_the_documented_bandwidth(geo):
    """Averaged over 120 origins and directions, the cosine at each distance sits in band."""
    rng = np.random.default_rng(7)
    origins = list(zip(rng.uniform(-60, 70, 120), rng.uniform(-180, 180, 120), strict=True))
    bands = {0: (0.999, 1.0), 100: (0.97, 1.0), 300: (0.85, 0.97), 1500: (0.3, 0.5),
             5000: (0.0, 0.06), 10000: (0.0, 0.005)}
    base = geo.encode(origins)
    for km, (lo, hi) in bands.items():
        moved = [_destination(la, lo_, b, km)
                 for (la, lo_), b in zip(origins, rng.uniform(0, 2 * np.pi, 120), strict=True)]
        cos = (base * geo.encode(moved)).sum(1)
        assert lo <= cos.mean() <= hi, (km, cos.mean())
        assert cos.max() - cos.min() < 0.15, (km, "similarity depends too much on direction")


@pytest.mark.parametrize("origin", ["Moscow", "Sydney", "Quito", "Reykjavík", "Tokyo"])
def test_geo_similarity_never_rises_as_you_move_away(geo, origin):
    p = resolve_geo(origin)
    for bearing in np.linspace(0, 2 * np.pi, 6, endpoint=False):
        path = [_destination(p.lat, p.lon, bearing, km) for km in range(0, 8001, 25)]
        v = geo.encode([(p.lat, p.lon), *path])
        cos = v[1:] @ v[0]
        assert np.all(np.diff(cos) <= 1e-6), (origin, bearing)
        # distances along the path really grow (sanity of the helper)
        assert haversine_km(p, path[-1]) == pytest.approx(8000, rel=1e-3)


def test_language_cosines_are_exact_for_every_pair(lang):
    # the compact (Cholesky) encoding keeps the documented cosine of every pair of the
    # 83 languages: 1 for itself, the sum of the shares of the groups two languages share
    langs = supported_languages()
    v = lang.encode(langs)
    shares = {"family": 0.25, "close": 0.35, "script": 0.15}
    want = np.eye(len(langs))
    for kind, groups in LANGUAGE_GROUPS.items():
        for members in groups.values():
            for a in members:
                for b in members:
                    if a != b:
                        want[langs.index(a), langs.index(b)] += shares[kind]
    np.testing.assert_allclose(v @ v.T, want, atol=2e-6)


def test_geo_cosine_follows_the_kernel_everywhere_on_earth(geo):
    """1,000 pairs at random places and distances (oceans and poles too): the cosine is the
    documented kernel within 0.026, whatever the place or direction; 529 dims."""
    rng = np.random.default_rng(11)
    u = rng.normal(size=(1000, 3))
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    lat, lon = np.degrees(np.arcsin(u[:, 2])), np.degrees(np.arctan2(u[:, 1], u[:, 0]))
    km = rng.uniform(0, 12000, 1000)
    moved = [_destination(a, o, b, d) for a, o, b, d in
             zip(lat, lon, rng.uniform(0, 2 * np.pi, 1000), km, strict=True)]
    cos = (geo.encode(list(zip(lat, lon, strict=True))) * geo.encode(moved)).sum(1)
    assert geo.dim == 529
    assert np.abs(cos - geo_kernel(km)).max() < 0.026
    far = km > 6000  # where the kernel is ~0, the encoding keeps at most 0.003 more
    assert cos.min() > -1e-6 and (cos[far] - geo_kernel(km[far])).max() < 0.0031


def test_geo_weights_are_the_stored_solution():
    # the stored weights are what the linear programme gives on this machine
    np.testing.assert_allclose(geo_coefficients(1500.0, stored=False),
                               geo_coefficients(1500.0), atol=2e-5)
    assert sum(geo_coefficients(1500.0)) == pytest.approx(1.0, abs=1e-5)


def test_geo_bandwidth_is_a_parameter(geo):
    wide = GeoEncoder(bandwidth_km=4000)
    assert wide.info != geo.info and wide.dim < geo.dim
    assert wide.similarity("Moscow", "Paris") > geo.similarity("Moscow", "Paris") + 0.2
    with pytest.raises(ConfigError, match="bandwidth_km"):
        GeoEncoder(bandwidth_km=50).encode([(0, 0)])


def test_geo_rejects_bad_positions(geo):
    with pytest.raises(ConfigError, match="out of range"):
        geo.encode([(95.0, 0.0)])
    with pytest.raises(ConfigError, match="cannot read"):
        geo.encode([object()])
    with pytest.raises(ConfigError, match="unknown place"):
        geo.encode(["Atlantis-on-the-Moon"])


def test_context_blocks_fuse_with_their_exact_cosines(lang, geo):
    """Through the fuser, two clips that share only language and geo score their weighted mean."""
    dims = {b: 4 for b in BLOCKS}
    fuser = Fuser().fit({**dims, "language": lang.info, "geo": geo.info})
    a = {"language": lang.encode(["es"])[0], "geo": geo.encode(["Madrid"])[0]}
    b = {"language": lang.encode(["pt"])[0], "geo": geo.encode(["Lisbon"])[0]}
    fa, fb = fuser.transform([a]), fuser.transform([b])
    w = fuser.layout_.weights
    expected = (w["language"] * 0.60 + w["geo"] * geo.similarity("Madrid", "Lisbon")) / (
        w["language"] + w["geo"])
    assert fuser.similarity(fa, fb)[0, 0] == pytest.approx(expected, abs=1e-4)
