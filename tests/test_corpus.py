"""Reading a corpus: folders, CSV / TSV / JSONL / JSON manifests, and their bad rows."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest

from interestmap.corpus.read import normalize_published_at, read_corpus
from interestmap.errors import CorpusError


@pytest.fixture
def media(data, tmp_path) -> dict[str, Path]:
    """Small real files copied from the shared data: two photos, a sound, a video."""
    src = {
        "sea": sorted((data / "scenes" / "sea").glob("*.jpg"))[0],
        "forest": sorted((data / "scenes" / "forest").glob("*.jpg"))[0],
        "dog": data / "esc50" / "audio" / next(
            r["filename"] for r in csv.DictReader(
                (data / "esc50" / "esc50.csv").read_text().splitlines())
            if r["category"] == "dog"),
        "bunny": data / "video" / "bigbuckbunny.mp4",
    }
    folder = tmp_path / "files"
    folder.mkdir()
    out = {}
    for name, p in src.items():
        out[name] = folder / f"{name}{p.suffix}"
        shutil.copyfile(p, out[name])
    return out


def by_id(clips):
    return {c.id: c for c in clips}


def test_folder_of_clips(media, tmp_path):
    root = tmp_path / "corpus"
    (root / "alice" / "trip").mkdir(parents=True)
    (root / "bob").mkdir()
    (root / ".thumbnails").mkdir()
    shutil.copyfile(media["sea"], root / "alice" / "sea.jpg")
    (root / "alice" / "sea.txt").write_text("Calm sea this morning #travel\n", "utf-8")
    shutil.copyfile(media["forest"], root / "alice" / "trip" / "forest.jpg")
    shutil.copyfile(media["dog"], root / "bob" / "dog.flac")
    (root / "bob" / "dog.json").write_text(json.dumps({
        "language": "es", "geo": "Madrid", "published_at": "2024-05-01",
        "labels": "pets|dogs"}), "utf-8")
    shutil.copyfile(media["bunny"], root / "bunny.mp4")
    (root / "idea.txt").write_text("¿Qué hacemos hoy? #brunch", "utf-8")  # caption-only
    (root / "README.txt").write_text("how this folder is organised", "utf-8")
    (root / ".thumbnails" / "x.jpg").write_bytes(media["sea"].read_bytes())
    (root / ".DS_Store").write_bytes(b"\0")
    (root / "bob" / "empty.mp4").write_bytes(b"")
    shutil.copyfile(media["forest"], root / "bob" / "broken.jpg")
    (root / "bob" / "broken.json").write_text("{language: es", "utf-8")

    clips, problems = read_corpus(root)
    got = by_id(clips)
    assert sorted(got) == ["alice/sea.jpg", "alice/trip/forest.jpg", "bob/dog.flac",
                           "bunny.mp4", "idea.txt"]
    sea = got["alice/sea.jpg"]
    assert sea.account == "alice" and sea.caption == "Calm sea this morning #travel"
    assert sea.media == [root / "alice" / "sea.jpg"] and sea.language is None
    assert got["alice/trip/forest.jpg"].account == "alice"
    assert got["alice/trip/forest.jpg"].caption == ""
    dog = got["bob/dog.flac"]
    assert (dog.account, dog.language, dog.geo) == ("bob", "es", "Madrid")
    assert dog.published_at == "2024-05-01T00:00:00+00:00" and dog.labels == ["pets", "dogs"]
    assert got["bunny.mp4"].account == "me"
    assert got["idea.txt"].media == [] and got["idea.txt"].caption.startswith("¿Qué")
    assert {p.where: p.message for p in problems} == {
        "bob/broken.jpg": "broken.json is not valid JSON (line 1: Expecting property name "
                          "enclosed in double quotes)",
        "bob/empty.mp4": "the file is empty",
    }
    assert [c.id for c in clips] == sorted(c.id for c in clips)  # stable order


def write_csv(path: Path, rows: list[dict], delimiter: str = ",") -> None:
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]), delimiter=delimiter)
        w.writeheader()
        w.writerows(rows)


def manifest_rows(media: dict[str, Path]) -> list[dict]:
    files = media["sea"].parent.name  # paths are relative to the manifest's folder
    row = {"id": "", "account": "", "caption": "", "media": "", "language": "", "geo": "",
           "published_at": "", "labels": ""}
    return [
        {**row, "id": "p1", "account": "alice", "caption": "Sunset #travel",
         "media": f"{files}/sea.jpg", "language": "EN", "geo": "Lisbon",
         "published_at": "2024-05-01T18:00:00Z", "labels": "travel|sunset"},
        {**row, "id": "p2", "account": "alice", "caption": "carousel",
         "media": f"{files}/sea.jpg|{files}/forest.jpg", "language": "pt-BR",
         "geo": "38.72, -9.14", "labels": '["nature", "nature", "sea"]'},
        {**row, "id": "p3", "account": "bob", "caption": "bunny",
         "media": json.dumps([f"{files}/bunny.mp4"]), "published_at": "1714586400"},
        {**row, "id": "p4", "account": "bob", "caption": "just words, no media"},
        {**row, "id": "p5", "caption": "gone", "media": f"{files}/missing.mp4"},
        {**row, "id": "p6", "caption": "when?", "published_at": "last tuesday"},
        {**row, "id": "p1", "caption": "same id again"},
        {**row, "id": "p8", "caption": "lang", "language": "english please"},
        {**row, "id": "p9"},
        {**row, "id": "p10", "caption": "far away", "geo": "95,10"},
        {**row, "id": "", "account": "carla", "caption": "no id given"},
    ]


def check_manifest_result(clips, problems, manifest: Path, media) -> None:
    got = by_id(clips)
    assert sorted(got) == sorted(["p1", "p2", "p3", "p4", f"{manifest.stem}-11"])
    p1 = got["p1"]
    assert (p1.account, p1.language, p1.geo) == ("alice", "en", "Lisbon")
    assert p1.media == [media["sea"]] and p1.labels == ["travel", "sunset"]
    assert p1.published_at == "2024-05-01T18:00:00+00:00"
    p2 = got["p2"]
    assert p2.media == [media["sea"], media["forest"]] and p2.language == "pt"
    assert p2.geo == "38.72,-9.14" and p2.labels == ["nature", "sea"]
    assert got["p3"].media == [media["bunny"]]
    assert got["p3"].published_at == "2024-05-01T18:00:00+00:00"
    assert got["p4"].media == [] and got["p4"].account == "bob"
    assert got[f"{manifest.stem}-11"].account == "carla"
    assert all(c.account for c in clips) and got["p1"].account == "alice"
    msgs = {p.where.rsplit(" ", 1)[-1]: p.message for p in problems}
    assert set(msgs) == {"6", "7", "8", "9", "10", "11"}  # rows 6..11 (header is row 1)
    assert msgs["6"].startswith("media file not found: files/missing.mp4 (looked for ")
    assert "'last tuesday' is not a date" in msgs["7"]
    assert msgs["8"].startswith("id 'p1' was already used")
    assert "not a language code" in msgs["9"]
    assert msgs["10"] == "it has neither a caption nor media"
    assert "outside the globe" in msgs["11"]
    assert all(p.where.startswith(manifest.name) for p in problems)


def test_csv_manifest(media, tmp_path):
    manifest = tmp_path / "corpus.csv"
    write_csv(manifest, manifest_rows(media))
    clips, problems = read_corpus(manifest)
    check_manifest_result(clips, problems, manifest, media)


def test_semicolon_csv_and_tsv(media, tmp_path):
    for name, delim in (("excel.csv", ";"), ("sheet.tsv", "\t")):
        manifest = tmp_path / name
        write_csv(manifest, manifest_rows(media), delimiter=delim)
        clips, problems = read_corpus(manifest)
        check_manifest_result(clips, problems, manifest, media)


def test_jsonl_manifest_from_another_working_directory(media, tmp_path, monkeypatch):
    manifest = tmp_path / "corpus.jsonl"
    rows = manifest_rows(media)
    lines = [json.dumps({k: v for k, v in r.items() if v != ""}) for r in rows]
    lines.insert(3, "")  # blank lines are skipped, not counted as rows
    manifest.write_text("\n".join(lines) + "\n{not json}\n[1, 2]\n", "utf-8")
    monkeypatch.chdir(tmp_path.parent)
    clips, problems = read_corpus(manifest)
    assert len(clips) == 5
    where = [p.where for p in problems]
    assert where[-2:] == ["corpus.jsonl line 13", "corpus.jsonl line 14"]
    assert problems[-2].message.startswith("not valid JSON")
    assert problems[-1].message == "each line must be one JSON object"


def test_json_values_in_jsonl(media, tmp_path):
    files = media["sea"].parent.name
    manifest = tmp_path / "c.jsonl"
    manifest.write_text("\n".join(json.dumps(r) for r in [
        {"id": 17, "text": "a tweet", "topics": ["Music", "Gaming"],
         "geo": {"lat": 40.4, "lon": -3.7}, "published_at": 1714586400000},
        {"id": 18, "caption": "two", "media": [f"{files}/sea.jpg"], "geo": {"name": "Paris"},
         "labels": []},
    ]), "utf-8")
    clips, problems = read_corpus(manifest)
    assert problems == []
    a, b = clips
    assert (a.id, a.caption, a.labels, a.geo) == ("17", "a tweet", ["Music", "Gaming"],
                                                  "40.4,-3.7")
    assert a.published_at == "2024-05-01T18:00:00+00:00"  # milliseconds
    assert b.geo == "Paris" and b.media == [media["sea"]]


def test_real_xtopic_file_reads_as_caption_only_corpus(data):
    clips, problems = read_corpus(data / "xtopic" / "en" / "en_1000.jsonl")
    assert len(clips) == 1000 and problems == []
    assert all(c.caption and not c.media and c.account == "me" for c in clips)
    assert all(c.labels for c in clips)  # the "topics" key becomes labels
    assert len({c.id for c in clips}) == 1000
    # the Spanish file stores ids as floats, so some of them collide: reported, not merged
    clips, problems = read_corpus(data / "xtopic" / "es" / "es_1000.jsonl")
    assert len(clips) + len(problems) == 1000 and len(clips) > 900
    assert problems and all("was already used" in p.message for p in problems)
    assert len({c.id for c in clips}) == len(clips)


def test_unusable_sources_are_refused(tmp_path):
    with pytest.raises(CorpusError, match="no corpus at"):
        read_corpus(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.md").write_text("nothing to see")
    with pytest.raises(CorpusError, match="is empty"):
        read_corpus(tmp_path / "empty")
    (tmp_path / "clips.xlsx").write_bytes(b"PK")
    with pytest.raises(CorpusError, match="neither a folder of clips nor a manifest"):
        read_corpus(tmp_path / "clips.xlsx")
    (tmp_path / "wrong.csv").write_text("name,url\nx,http://a\n")
    with pytest.raises(CorpusError, match="no 'caption' or 'media' column"):
        read_corpus(tmp_path / "wrong.csv")
    (tmp_path / "header_only.csv").write_text("id,caption\n")
    with pytest.raises(CorpusError, match="has no rows"):
        read_corpus(tmp_path / "header_only.csv")
    (tmp_path / "latin1.csv").write_bytes("id,caption\n1,caf\xe9\n".encode("latin-1"))
    with pytest.raises(CorpusError, match="not UTF-8"):
        read_corpus(tmp_path / "latin1.csv")


def test_ragged_csv_row_is_reported(tmp_path):
    (tmp_path / "c.csv").write_text("id,caption\n1,hello, world\n2,fine\n", "utf-8")
    clips, problems = read_corpus(tmp_path / "c.csv")
    assert [c.id for c in clips] == ["2"]
    assert problems[0].where == "c.csv row 2" and "quote cells" in problems[0].message


def test_dates_are_normalised_to_utc():
    assert normalize_published_at("2024-05-01T20:00:00+02:00") == "2024-05-01T18:00:00+00:00"
    assert normalize_published_at("2024/5/1") == "2024-05-01T00:00:00+00:00"
    assert normalize_published_at("2024-05-01 18:00") == "2024-05-01T18:00:00+00:00"
    with pytest.raises(ValueError):
        normalize_published_at("01/05/2024")
