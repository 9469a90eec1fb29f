"""The HTTP API against a real running server (``interestmap serve`` in a subprocess).

The index is built in a temporary folder from real X-Topic captions on three topics
(sports, food, music), one audience per topic. Every bad input must get a 4xx with a
one-line message; the token and loopback rules are checked on real sockets.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import requests
from helpers.corpus import PER_TOPIC, TOPICS
from helpers.server import HTTP_TIMEOUT, Server, copy_index

from interestmap.serve.bodies import parse_json_strict
from interestmap.serve.errors import validation_problems

TOKEN = "test-token-0123456789abcdef"
EN_FOOTBALL = "What a goal in the last minute! The football derby was incredible #football"
RU_FOOTBALL = "Какой гол на последней минуте! Футбольное дерби было невероятным #футбол"


# Fixtures: a small real index and servers over it -------------------------------------------


@pytest.fixture(scope="module")
def server(labelled_index: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    s = Server(labelled_index, log=tmp_path_factory.mktemp("logs") / "server.log")
    try:
        yield s.url
    finally:
        s.stop()
    # uvicorn shuts down gracefully, then re-raises SIGTERM so the exit status tells it
    assert s.proc.returncode in (0, -signal.SIGTERM), s.log.read_text()[-2000:]
    assert "Application shutdown complete" in s.log.read_text()


@pytest.fixture(scope="module")
def token_server(labelled_index: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A second server with a token and a 1 MB upload limit, over a copy of the index."""
    tmp = tmp_path_factory.mktemp("token")
    s = Server(copy_index(labelled_index, tmp), "--max-upload-mb", "1", log=tmp / "server.log",
               env={"INTERESTMAP_API_TOKEN": TOKEN})
    try:
        yield s.url
    finally:
        s.stop()


def _post(url: str, **kw) -> requests.Response:
    return requests.post(url, timeout=HTTP_TIMEOUT, **kw)


def _sports_audience(server: str) -> int:
    auds = requests.get(f"{server}/v1/audiences", timeout=HTTP_TIMEOUT).json()["audiences"]
    return next(a["id"] for a in auds if all(e.startswith("sports-") for e in a["exemplars"]))


# Fast checks: no server, no models -----------------------------------------------------------
@pytest.mark.parametrize("raw", [b'{"k": NaN}', b'{"vector": [Infinity]}', b'[-Infinity]',
                                 b'{"vector": [1e999]}', b'{"caption": "x",', b"",
                                 b"\xff\xfe\x00", b"[" * 100_000])
def test_strict_json_refuses_what_json_cannot_carry(raw: bytes) -> None:
    from interestmap.serve.errors import ApiError

    with pytest.raises(ApiError) as e:
        parse_json_strict(raw)
    assert e.value.status == 400
    assert "\n" not in e.value.detail


def test_strict_json_keeps_ordinary_numbers() -> None:
    assert parse_json_strict(b'{"vector": [0.5, -1e-3, 2], "k": 3}') == {
        "vector": [0.5, -0.001, 2], "k": 3}


def test_validation_problems_name_the_field_and_refuse_paths_in_words() -> None:
    from pydantic import ValidationError

    from interestmap.serve.schemas import NearestAudienceRequest

    with pytest.raises(ValidationError) as e:
        NearestAudienceRequest.model_validate({"path": "/etc/passwd", "k": 0,
                                               "vector": [1.0, float("nan")]})
    problems = {p["field"]: p["message"] for p in validation_problems(e.value.errors())}
    assert "never opens files" in problems["path"]
    assert "'k'" in problems["k"]
    assert "finite" in problems["vector[1]"]


def test_serve_refuses_a_public_address_without_a_token(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "INTERESTMAP_API_TOKEN"}
    r = subprocess.run([sys.executable, "-m", "interestmap.serve.cli", "serve", "--host", "0.0.0.0",
                        "--index", str(tmp_path / "nothing")],
                       capture_output=True, text=True, timeout=120, env=env)
    assert r.returncode == 2
    assert "refusing to listen on 0.0.0.0 without a token" in r.stderr
    assert "Traceback" not in r.stderr
    weak = subprocess.run([sys.executable, "-m", "interestmap.serve.cli", "serve", "--host",
                           "0.0.0.0", "--token", "short"],
                          capture_output=True, text=True, timeout=120, env=env)
    assert weak.returncode == 2 and "at least 16" in weak.stderr


def test_serve_says_plainly_when_the_port_is_taken(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        r = subprocess.run([sys.executable, "-m", "interestmap.serve.cli", "serve", "--port",
                            str(port), "--index", str(tmp_path / "nothing")],
                           capture_output=True, text=True, timeout=120)
    assert r.returncode == 2
    assert f"cannot listen on 127.0.0.1:{port}" in r.stderr
    assert "Traceback" not in r.stderr


def test_the_listening_socket_answers_without_delayed_acks() -> None:
    """asyncio turns Nagle off only on TCP-protocol sockets; with it on, every keep-alive
    reply waits for the client's delayed ACK (~40 ms)."""
    from interestmap.serve.server import bind_socket

    sock = bind_socket("127.0.0.1", 0)
    with sock, socket.create_connection(sock.getsockname()[:2], timeout=5):
        conn, _ = sock.accept()
        with conn:
            assert conn.proto == socket.IPPROTO_TCP
            assert conn.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)


# Against a running server -------------------------------------------------------------------
@pytest.mark.slow
def test_healthz_audiences_and_topics(server: str, labelled_index: Path) -> None:
    from interestmap.index.interest_index import InterestIndex  # noqa: F401  (the index is served, not opened)

    h = requests.get(f"{server}/healthz", timeout=30).json()
    assert h["status"] == "ok" and h["auth"] is False
    assert h["index"]["clips"] == len(TOPICS) * PER_TOPIC
    assert h["index"]["audiences"] == len(TOPICS)
    assert h["index"]["vector_dim"] == sum(h["index"]["blocks"].values())
    auds = requests.get(f"{server}/v1/audiences", timeout=HTTP_TIMEOUT).json()
    assert auds["count"] == len(TOPICS)
    assert sorted(a["size"] for a in auds["audiences"]) == [PER_TOPIC] * len(TOPICS)
    topics = requests.get(f"{server}/v1/topics", timeout=HTTP_TIMEOUT).json()
    assert topics["count"] == len(topics["topics"]) >= 20
    assert all(t["name"] for t in topics["topics"])
    doc = requests.get(f"{server}/openapi.json", timeout=30).json()
    assert {"/v1/nearest-audience", "/v1/analyze", "/v1/whatif", "/v1/audiences",
            "/v1/topics", "/healthz", "/v1/nearest-audience/upload", "/v1/analyze/upload",
            "/v1/whatif/upload"} <= set(doc["paths"])
    for path in ("/v1/nearest-audience", "/v1/analyze", "/v1/whatif"):
        json_body = doc["paths"][path]["post"]["requestBody"]["content"]
        form_body = doc["paths"][f"{path}/upload"]["post"]["requestBody"]["content"]
        assert set(json_body) == {"application/json"}
        assert set(form_body) == {"multipart/form-data"}
        assert doc["paths"][path]["post"]["security"] == [{"bearer": []}]
    schemas = doc["components"]["schemas"]
    assert schemas["NearestAudienceRequest"]["additionalProperties"] is False
    assert schemas["NearestAudienceForm"]["additionalProperties"] is False
    assert "file" in schemas["NearestAudienceForm"]["required"]
    assert {"edit_media", "edit_frames", "edit_audio", "edits"} <= set(
        schemas["WhatIfForm"]["properties"])


@pytest.mark.slow
def test_football_in_english_and_russian_reaches_the_sports_audience(server: str) -> None:
    sports = _sports_audience(server)
    tops = []
    for caption, lang in ((EN_FOOTBALL, "en"), (RU_FOOTBALL, "ru")):
        r = _post(f"{server}/v1/nearest-audience",
                  json={"caption": caption, "language": lang, "k": 3})
        assert r.status_code == 200, r.text
        res = r.json()
        top = res["audiences"][0]
        tops.append(top["id"])
        assert abs(sum(top["attribution"].values()) - top["similarity"]) < 2e-3
        assert top["attribution"]["caption"] > 0
        assert res["query"]["kind"] == "caption" and res["query"]["language"] == lang
        assert {"caption", "language"} <= set(res["query"]["blocks"])
        assert res["clips"] and res["x"] is not None
    assert tops == [sports, sports]
    only_music = _post(f"{server}/v1/nearest-audience",
                       json={"caption": EN_FOOTBALL, "filters": {"account": "@musicfan"}})
    assert only_music.status_code == 200, only_music.text
    clips = only_music.json()["clips"]
    assert clips and {c["account"] for c in clips} == {"@musicfan"}


@pytest.mark.slow
def test_a_vector_from_encode_out_gives_the_same_answer(server: str, tmp_path: Path) -> None:
    out = tmp_path / "v.npy"
    r = subprocess.run([sys.executable, "-m", "interestmap.serve.cli", "encode", "--caption",
                        EN_FOOTBALL, "--language", "en", "--out", str(out)],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    vec = np.load(out)
    by_vector = _post(f"{server}/v1/nearest-audience",
                      json={"vector": vec.tolist(), "k": 3}).json()
    by_caption = _post(f"{server}/v1/nearest-audience",
                       json={"caption": EN_FOOTBALL, "language": "en", "k": 3}).json()
    assert [a["id"] for a in by_vector["audiences"]] == [a["id"] for a in
                                                          by_caption["audiences"]]
    for a, b in zip(by_vector["audiences"], by_caption["audiences"], strict=True):
        assert a["similarity"] == pytest.approx(b["similarity"], abs=1e-3)
    assert by_vector["query"]["kind"] == "vector"
    assert by_vector["query"]["blocks"] == by_caption["query"]["blocks"]


@pytest.mark.slow
def test_upload_a_real_photo(server: str, data: Path) -> None:
    photo = sorted((data / "scenes" / "sea").glob("*.jpg"))[0]
    with photo.open("rb") as f:
        r = _post(f"{server}/v1/nearest-audience/upload",
                  files={"file": (photo.name, f, "image/jpeg")},
                  data={"caption": "Sunset swim at the beach", "language": "en", "k": "2"})
    assert r.status_code == 200, r.text
    res = r.json()
    assert res["query"]["kind"] == "upload" and res["query"]["media_kind"] == "image"
    assert {"visual", "visual_semantics", "caption"} <= set(res["query"]["blocks"])
    assert len(res["audiences"]) == 2


@pytest.mark.slow
def test_upload_the_real_video_while_healthz_stays_up(server: str, data: Path) -> None:
    video = data / "video" / "bigbuckbunny.mp4"
    result: dict[str, requests.Response] = {}

    def upload() -> None:
        with video.open("rb") as f:
            result["r"] = _post(f"{server}/v1/nearest-audience/upload",
                                files={"file": ("bunny.mp4", f, "video/mp4")},
                                data={"caption": "A giant rabbit wakes up in the forest",
                                      "ocr": "false"})

    worker = threading.Thread(target=upload)
    worker.start()
    health = []
    while worker.is_alive():  # the encode runs in a worker thread: /healthz still answers
        h = requests.get(f"{server}/healthz", timeout=30)
        health.append((h.status_code, h.json()["encodes_running"]))
        time.sleep(0.2)
    worker.join()
    assert health and all(code == 200 for code, _ in health)
    assert any(running == 1 for _, running in health)
    r = result["r"]
    assert r.status_code == 200, r.text
    q = r.json()["query"]
    assert q["media_kind"] == "video"
    assert {"visual", "audio"} <= set(q["blocks"])
    assert "ocr" in q["missing"]  # skipped on request


BAD_JSON = [
    (b'{"caption": "football",', 400, "not valid JSON"),
    (b'{"caption": "football", "k": NaN}', 400, "NaN"),
    (b'{"vector": [NaN, 1.0]}', 400, "NaN"),
    (b'{"vector": [Infinity, 1.0]}', 400, "Infinity"),
    (b'{"vector": [-Infinity, 1.0]}', 400, "Infinity"),
    (b'{"vector": [1e999, 1.0]}', 400, "finite"),
    (b'["caption"]', 422, "JSON object"),
    (b"", 400, "empty"),
]


@pytest.mark.slow
@pytest.mark.parametrize(("body", "status", "words"), BAD_JSON)
def test_malformed_json_gets_a_4xx(server: str, body: bytes, status: int, words: str) -> None:
    for endpoint in ("nearest-audience", "analyze", "whatif"):
        r = _post(f"{server}/v1/{endpoint}", data=body,
                  headers={"Content-Type": "application/json"})
        assert r.status_code == status, (endpoint, r.text)
        assert words in r.json()["detail"]


@pytest.mark.slow
def test_invalid_fields_get_a_422_naming_them(server: str) -> None:
    dim = requests.get(f"{server}/healthz", timeout=30).json()["index"]["vector_dim"]
    url = f"{server}/v1/nearest-audience"
    cases = [
        ({"caption": "football", "colour": "red"}, "unknown field 'colour'"),
        ({"path": "/etc/passwd"}, "unknown field 'path'"),
        ({"caption": "football", "media": ["/etc/passwd"]}, "unknown field 'media'"),
        ({"vector": [0.1] * 10}, f"has 10 dimensions, but this index's fused vectors have {dim}"),
        ({"vector": [0.0] * dim}, "all zeros"),
        ({"vector": ["NaN"] + [0.1] * (dim - 1)}, "finite"),
        ({"vector": [0.1] * dim, "caption": "football"}, "not both"),
        ({"caption": "   "}, "nothing to analyse"),
        ({"caption": "football", "k": 0}, "'k'"),
        ({"caption": "football", "k": "many"}, "'k'"),
        ({"caption": "football", "filters": {"owner": "x"}}, "unknown field 'owner'"),
        ({"caption": "football", "geo": "Nowhereville Zzz"}, "unknown place"),
        ({"caption": "football", "filters": {"since": "someday"}}, "not a date"),
        ({"caption": "football", "language": "not a language!"}, "not a language code"),
    ]
    for body, words in cases:
        r = _post(url, json=body)
        assert r.status_code == 422, (body, r.text)
        detail = r.json()["detail"]
        assert words in detail and "\n" not in detail and "Traceback" not in detail
        assert "root:" not in r.text  # /etc/passwd was never read
    r = _post(url, data="caption=football", headers={"Content-Type": "text/plain"})
    assert r.status_code == 415
    r = _post(url, files={"file": ("p.jpg", b"...")}, data={"caption": "x"})
    assert r.status_code == 415 and "/v1/nearest-audience/upload" in r.json()["detail"]
    r = _post(f"{url}/upload", json={"caption": "football"})
    assert r.status_code == 415 and "send JSON to /v1/nearest-audience" in r.json()["detail"]
    assert requests.get(url, timeout=30).status_code == 405
    assert requests.get(f"{server}/v1/nope", timeout=30).json()["detail"].startswith(
        "no such endpoint")


@pytest.mark.slow
def test_uploads_never_open_client_paths(server: str, data: Path) -> None:
    url = f"{server}/v1/nearest-audience/upload"
    photo = sorted((data / "scenes" / "forest").glob("*.jpg"))[0].read_bytes()
    r = _post(url, files={"file": ("p.jpg", photo)}, data={"path": "/etc/passwd"})
    assert r.status_code == 422 and "unknown field 'path'" in r.json()["detail"]
    # a file name that is a path is only a name: the uploaded bytes are what is read
    r = _post(url, files={"file": ("../../../../etc/passwd", photo)},
              data={"caption": "forest walk"})
    assert r.status_code == 200, r.text
    assert r.json()["query"]["media_kind"] == "image"
    r = _post(url, files={"file": ("clip.mp4", b"this is not a video at all" * 50)},
              data={"caption": "x"})
    assert r.status_code == 422, r.text
    assert "clip.mp4" in r.json()["detail"] and "interestmap-upload" not in r.text
    r = _post(url, files={"other": ("p.jpg", photo)})
    assert r.status_code == 422 and "'file'" in r.json()["detail"]
    r = _post(url, data={"caption": "x"}, files={"file": ("", b"")})
    assert r.status_code in (400, 422)
    r = _post(url, files={"file": ("p.jpg", photo)}, data={"vector": "[0.1]"})
    assert r.status_code == 422 and "JSON body" in r.json()["detail"]
    r = _post(url, files={"file": ("notes.txt", b"hello", "text/plain")})
    assert r.status_code == 415 and "notes.txt" in r.json()["detail"]


@pytest.mark.slow
def test_analyze_a_caption_and_a_photo(server: str, data: Path) -> None:
    sports = _sports_audience(server)
    r = _post(f"{server}/v1/analyze", json={"caption": EN_FOOTBALL, "language": "en", "k": 3})
    assert r.status_code == 200, r.text
    a = r.json()
    assert 0 <= a["clarity"]["score"] <= 100 and a["clarity"]["reason"]
    assert a["audiences"][0]["id"] == sports
    top_topic = a["modalities"]["top_topic"]["id"]
    assert top_topic in {"football", "sports"}, a["modalities"]
    assert a["index"] == "index"  # the index's name, not its path on the server
    photo = sorted((data / "scenes" / "sea").glob("*.jpg"))[0]
    r = _post(f"{server}/v1/analyze/upload", files={"file": ("my beach.jpg", photo.read_bytes())},
              data={"caption": "Sunset swim at the beach", "language": "en"})
    assert r.status_code == 200, r.text
    clip = r.json()["clip"]
    assert clip["media_kind"] == "image" and clip["media"] == ["my beach.jpg"]
    assert clip["blocks"]["visual"] is True
    assert "interestmap-upload" not in r.text
    r = _post(f"{server}/v1/analyze", json={"caption": "x", "path": "/etc/passwd"})
    assert r.status_code == 422 and "unknown field 'path'" in r.json()["detail"]


@pytest.mark.slow
def test_whatif_a_translation_keeps_the_topic_and_moves_the_language(server: str,
                                                                     data: Path) -> None:
    r = _post(f"{server}/v1/whatif", json={
        "caption": EN_FOOTBALL, "language": "en",
        "edits": [{"kind": "caption", "value": RU_FOOTBALL}, {"kind": "language", "value": "ru"}],
        "combine": True})
    assert r.status_code == 200, r.text
    (v,) = r.json()["variants"]
    assert v["top_topic"]["kept"] is True
    assert v["distance_by_block"]["language"] > 0
    assert v["attribution_delta"]["original_top_audience"]["change"]["language"] != 0
    assert v["summary"]
    # a media swap is an upload; its file name stands in for the temporary path
    photo = sorted((data / "scenes" / "forest").glob("*.jpg"))[0].read_bytes()
    r = _post(f"{server}/v1/whatif/upload",
              files={"file": ("beach.jpg", sorted((data / "scenes" / "sea").glob("*.jpg"))[0]
                              .read_bytes()), "edit_frames": ("forest.jpg", photo)},
              data={"caption": "A day out", "edits": '[{"kind": "geo", "value": "Lisbon"}]'})
    assert r.status_code == 200, r.text
    variants = r.json()["variants"]
    assert [v["edits"][0]["kind"] for v in variants] == ["geo", "frames"]
    assert variants[1]["edits"][0]["value"] == "forest.jpg"
    assert variants[1]["distance_by_block"]["visual"] > 0
    assert "interestmap-upload" not in r.text and "upload-1" not in r.text
    for body, words in (
        ({"caption": "x", "edits": [{"kind": "frames", "value": "/etc/passwd"}]},
         "upload the new file"),
        ({"caption": "x", "edits": []}, "no edits"),
        ({"caption": "x", "edits": [{"kind": "drop", "value": "nose"}]}, "cannot drop"),
        ({"caption": "x", "edits": [{"kind": "teleport", "value": "Mars"}]}, "edits[0].kind"),
    ):
        r = _post(f"{server}/v1/whatif", json=body)
        assert r.status_code == 422, (body, r.text)
        assert words in r.json()["detail"] and "root:" not in r.text


@pytest.mark.slow
def test_the_token_guards_v1_but_not_healthz(token_server: str) -> None:
    h = requests.get(f"{token_server}/healthz", timeout=30)
    assert h.status_code == 200 and h.json()["auth"] is True
    for headers in ({}, {"Authorization": "Bearer wrong-token-0123456789"},
                    {"Authorization": TOKEN}, {"Authorization": f"Basic {TOKEN}"}):
        r = requests.get(f"{token_server}/v1/topics", headers=headers, timeout=30)
        assert r.status_code == 401, headers
        assert r.headers["WWW-Authenticate"] == "Bearer"
    for endpoint in ("nearest-audience", "analyze", "whatif"):
        r = _post(f"{token_server}/v1/{endpoint}", json={"caption": "football"})
        assert r.status_code == 401
        r = _post(f"{token_server}/v1/{endpoint}/upload", data={"caption": "football"},
                  files={"file": ("p.jpg", b"...")})
        assert r.status_code == 401
    ok = requests.get(f"{token_server}/v1/topics", timeout=30,
                      headers={"Authorization": f"Bearer {TOKEN}"})
    assert ok.status_code == 200 and ok.json()["count"] > 0


@pytest.mark.slow
def test_oversized_uploads_get_413(token_server: str) -> None:
    auth = {"Authorization": f"Bearer {TOKEN}"}
    big = np.random.default_rng(0).bytes(3 * 1024 * 1024)
    r = _post(f"{token_server}/v1/nearest-audience/upload", headers=auth,
              files={"file": ("big.mp4", big)}, data={"caption": "x"})
    assert r.status_code == 413
    assert "limit of 1 MB" in r.json()["detail"]
    # the same without a Content-Length (chunked): refused while streaming
    boundary = "----interestmap-test"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
            f"filename=\"big.mp4\"\r\nContent-Type: video/mp4\r\n\r\n").encode() + big + \
        f"\r\n--{boundary}--\r\n".encode()
    chunks = (body[i:i + 65536] for i in range(0, len(body), 65536))
    r = _post(f"{token_server}/v1/nearest-audience/upload", data=chunks,
              headers=auth | {"Content-Type": f"multipart/form-data; boundary={boundary}"})
    assert r.status_code == 413 and "limit of 1 MB" in r.json()["detail"]
    huge_json = b'{"caption": "' + b"a" * (5 * 1024 * 1024) + b'"}'
    r = _post(f"{token_server}/v1/nearest-audience", data=huge_json,
              headers=auth | {"Content-Type": "application/json"})
    assert r.status_code == 413 and "larger than 4 MB" in r.json()["detail"]
    # the token is checked before a body is read
    r = _post(f"{token_server}/v1/nearest-audience/upload", files={"file": ("big.mp4", big)})
    assert r.status_code == 401


@pytest.mark.slow
def test_unexpected_failures_are_a_500_with_a_reference_and_a_log_line(
        labelled_index: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    from fastapi.testclient import TestClient

    from interestmap.serve.api import create_app

    app = create_app(index_dir=copy_index(labelled_index, tmp_path), warm_up=False)
    with TestClient(app, raise_server_exceptions=False) as client:
        idx = app.state.service.index

        def boom() -> None:
            raise RuntimeError("secret internals")

        idx.info = boom
        with caplog.at_level("ERROR", logger="interestmap.serve"):
            r = client.get("/v1/audiences")
    assert r.status_code == 500
    assert "secret internals" not in r.text and "reference" in r.json()["detail"]
    assert any("secret internals" in rec.getMessage() for rec in caplog.records)
