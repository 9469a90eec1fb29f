"""Where a clip was posted: a place name or "lat,lon" -> :class:`GeoPoint`.

Places come from the gazetteer shipped in ``interestmap/data/gazetteer.csv``: every
sovereign country (at its capital, except the United States, placed at its mean centre
of population), four territories, a hundred regions (US states, Canadian provinces,
Australian states, UK nations, popular islands and areas) and about five hundred cities
(every capital plus the biggest and most-posted cities). Names match case- and
accent-insensitively, in English, native script and common local spellings
("Москва", "München", "NYC"), and as "Place, Country" or "City, State" pairs.
"""

from __future__ import annotations

import csv
import difflib
import math
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from interestmap.clip import GeoPoint
from interestmap.errors import ConfigError

KINDS: tuple[str, ...] = ("country", "territory", "region", "city")
"""Kinds of gazetteer rows; countries and territories carry their own ISO code."""

EARTH_RADIUS_KM = 6371.0088

_HELP = 'use a major city or country name, or "lat,lon"'


@dataclass(frozen=True)
class Place:
    """One gazetteer row."""

    name: str
    aliases: tuple[str, ...]
    kind: str
    country: str
    """ISO 3166-1 alpha-2 code of the country (or territory) the place is in."""
    lat: float
    lon: float
    population: int

    def point(self) -> GeoPoint:
        return GeoPoint(lat=self.lat, lon=self.lon, name=self.name, country=self.country)


# --- loading -----------------------------------------------------------------------------

@lru_cache(maxsize=1)
def load_gazetteer() -> tuple[Place, ...]:
    """Every row of the shipped gazetteer, validated (loaded once per process)."""
    text = resources.files("interestmap").joinpath("data/gazetteer.csv").read_text("utf-8")
    places = []
    for line_no, row in enumerate(csv.DictReader(text.splitlines()), start=2):
        try:
            place = Place(
                name=row["name"].strip(),
                aliases=tuple(a.strip() for a in (row["aliases"] or "").split("|") if a.strip()),
                kind=row["kind"].strip(),
                country=row["country"].strip().upper(),
                lat=float(row["lat"]),
                lon=float(row["lon"]),
                population=int(row["population"] or 0),
            )
        except (KeyError, TypeError, ValueError) as e:
            raise ConfigError(f"gazetteer.csv line {line_no} is malformed ({e}): "
                              "reinstall interestmap") from None
        if (not place.name or place.kind not in KINDS or len(place.country) != 2
                or not -90 <= place.lat <= 90 or not -180 <= place.lon <= 180):
            raise ConfigError(f"gazetteer.csv line {line_no} has an invalid value "
                              f"({place.name!r}): reinstall interestmap")
        places.append(place)
    return tuple(places)


def normalize_place_name(text: str) -> str:
    """Lower-case, accent-free, punctuation-free form used to match place names.

    "St. Petersburg" -> "saint petersburg", "Côte d'Ivoire" -> "cote divoire",
    "São Paulo" -> "sao paulo", "Москва" -> "москва".
    """
    text = unicodedata.normalize("NFKD", text)
    text = "".join(ch for ch in text if unicodedata.category(ch) != "Mn").casefold()
    text = re.sub(r"[.'’ʻ`´]", "", text)  # U.S. -> us, Sana'a -> sanaa
    text = re.sub(r"[^\w]+", " ", text).strip()
    tokens = ["saint" if t == "st" else "sainte" if t == "ste" else t for t in text.split()]
    return " ".join(tokens)


@lru_cache(maxsize=1)
def _index() -> dict[str, list[tuple[int, Place]]]:
    """Normalised name -> [(tier, place)], the lower tier the better.

    Tier 0: the place's own name; 1: an alias or a country's ISO code; 2: a region's
    short code ("TX", "NSW"), so that a bare "AL" or "CA" means the country.
    """
    index: dict[str, list[tuple[int, Place]]] = {}
    for place in load_gazetteer():
        keys = [(0, place.name)] + [
            (2 if place.kind == "region" and _is_code(a) else 1, a) for a in place.aliases]
        if place.kind in ("country", "territory"):
            keys.append((1, place.country))
        seen = set()
        for tier, key in keys:
            k = normalize_place_name(key)
            if k and k not in seen:
                seen.add(k)
                index.setdefault(k, []).append((tier, place))
    return index


def _is_code(alias: str) -> bool:
    return len(alias) <= 3 and alias.isascii() and alias.isalpha() and alias.isupper()


@lru_cache(maxsize=1)
def _spellings() -> dict[str, str]:
    """Normalised key -> a readable spelling of it (for "did you mean" suggestions)."""
    out: dict[str, str] = {}
    for place in load_gazetteer():
        for s in (place.name, *place.aliases):
            out.setdefault(normalize_place_name(s), s)
    return out


@lru_cache(maxsize=1)
def _country_names() -> dict[str, str]:
    return {p.country: p.name for p in load_gazetteer() if p.kind in ("country", "territory")}


# --- lookup -------------------------------------------------------------------------------

def _ranked(candidates: list[tuple[int, Place]]) -> list[Place]:
    """Best first: a place's own name before an alias, then the bigger population."""
    best: dict[int, tuple[int, Place]] = {}
    for tier, place in candidates:
        if id(place) not in best or tier < best[id(place)][0]:
            best[id(place)] = (tier, place)
    return [p for _, p in sorted(best.values(), key=lambda tp: (tp[0], -tp[1].population))]


def _candidates(text: str) -> list[Place]:
    return _ranked(_index().get(normalize_place_name(text), []))


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
    parts = [p.strip() for p in re.split(r"[,;/]|\s[-–—]\s|\(|\)", text) if p.strip()]
    if not parts:
        return None
    if len(parts) == 1:
        cands = _candidates(parts[0])
        if cands:
            return cands[0]
        # "Paris France", "Lyon Frankreich": try a split into place + area on a space
        words = parts[0].split()
        for cut in range(len(words) - 1, 0, -1):
            head, tail = " ".join(words[:cut]), " ".join(words[cut:])
            if _candidates(head) and _candidates(tail):
                return _with_context([head, tail])
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
    """Every place, readable and resolvable, for a dropdown: "France", "Paris, France"."""
    names = _country_names()
    out = set()
    for p in load_gazetteer():
        if p.kind in ("country", "territory"):
            out.add(p.name)
        else:
            out.add(f"{p.name}, {names.get(p.country, p.country)}")
    return sorted(out, key=lambda s: normalize_place_name(s))


def country_name(code: str) -> str:
    """English name of a country from its ISO alpha-2 code (the code itself if unknown)."""
    return _country_names().get(code.upper(), code)


def haversine_km(a: GeoPoint | tuple[float, float], b: GeoPoint | tuple[float, float]) -> float:
    """Great-circle distance between two points in kilometres."""
    (lat1, lon1), (lat2, lon2) = (_latlon(a), _latlon(b))
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


def _latlon(p: GeoPoint | tuple[float, float]) -> tuple[float, float]:
    return (p.lat, p.lon) if isinstance(p, GeoPoint) else (float(p[0]), float(p[1]))
