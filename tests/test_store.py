"""IndexStore on a real embedded Qdrant (and on a server when QDRANT_URL is set).

Vectors are random unit blocks fused by the real Fuser: these tests check storage and
search mechanics (exact nearest, filters, missing blocks, persistence), not model quality.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from helpers.vectors import ACCOUNTS, DIMS, make_corpus

from interestmap.encoders.fusion import BLOCKS, FusionLayout
from interestmap.errors import ConfigError, EncoderMismatchError, IndexError_
from interestmap.store.interface import IndexStore
from interestmap.store.schema import StoreSettings, point_id

REPO = Path(__file__).resolve().parents[1]


def cosine_top(fused: np.ndarray, q: np.ndarray, mask: np.ndarray, k: int) -> list[int]:
    norms = np.linalg.norm(fused, axis=1)
    sims = np.where(norms > 0, fused @ q / np.maximum(norms, 1e-12) / np.linalg.norm(q), -np.inf)
    sims = np.where(mask, sims, -np.inf)
    order = np.argsort(-sims, kind="stable")
    return [int(i) for i in order[:k] if np.isfinite(sims[i])]


pytestmark = pytest.mark.filterwarnings(
    "ignore:.*(have no effect in the local Qdrant|Local mode performs exact).*:UserWarning")

BACKENDS = ["edge", "server-emulated", "server"]
"""``edge``: the embedded Qdrant engine (Qdrant Edge). ``server``: a real Qdrant server at
$QDRANT_URL (skipped without one). ``server-emulated``: the server backend's own code
(filters, payloads, metadata, search parameters) run on qdrant-client's in-memory
emulation of the server API, so that code is exercised even where no server runs."""


def open_store(kind: str, tmp_path: Path) -> IndexStore:
    if kind == "edge":
        return IndexStore(path=tmp_path / "qdrant")
    if kind == "server-emulated":
        from qdrant_client import QdrantClient

        return IndexStore.on_client(QdrantClient(location=":memory:"), prefix="emu_")
    url = os.environ.get("QDRANT_URL")
    if not url:
        pytest.skip("set QDRANT_URL (e.g. http://localhost:6333) to run the store tests "
                    "against a real Qdrant server")
    return IndexStore(url=url, api_key=os.environ.get("QDRANT_API_KEY"),
                      prefix=f"imtest{secrets.token_hex(3)}_")


@pytest.fixture(params=BACKENDS)
def store(request, tmp_path):
    """A fresh store on each backend (a server store under a random prefix)."""
    s = open_store(request.param, tmp_path)
    yield s
    if request.param == "server":
        s.drop()
    s.close()


@pytest.fixture(scope="module")
def corpus():
    return make_corpus(240)


def load(store: IndexStore, c: dict) -> None:
    store.create(c["layout"])
    n = store.upsert_clips(c["ids"], c["fused"], c["blocks"], c["presence"], c["payloads"],
                           batch_size=64)
    assert n == len(c["ids"])


def test_search_returns_exact_nearest(store, corpus):
    load(store, corpus)
    assert store.count() == 240
    rng = np.random.default_rng(1)
    for qi in rng.choice(240, size=5, replace=False):
        q = corpus["fused"][qi] + 0.05 * rng.normal(size=corpus["fused"].shape[1])
        hits = store.search_clips(q, k=10)
        want = cosine_top(corpus["fused"], q, np.ones(240, bool), 10)
        assert [h["id"] for h in hits] == [corpus["ids"][i] for i in want]
        assert hits[0]["id"] == corpus["ids"][qi]
        cos = corpus["fused"][want[0]] @ q / np.linalg.norm(q)
        assert hits[0]["score"] == pytest.approx(float(cos), abs=1e-4)
        assert hits[0]["payload"]["account"] == ACCOUNTS[want[0] % 3]


def test_fused_vectors_come_back_with_hits(store, corpus):
    load(store, corpus)
    q = corpus["fused"][17]
    for filters in (None, {"account": ACCOUNTS[17 % 3]}):
        hits = store.search_clips(q, k=4, filters=filters, with_fused=True)
        assert hits[0]["id"] == corpus["ids"][17]
        for h in hits:
            want = corpus["fused"][corpus["ids"].index(h["id"])]
            np.testing.assert_allclose(h["fused"], want / np.linalg.norm(want), atol=1e-6)
            assert h["score"] == pytest.approx(float(h["fused"] @ q / np.linalg.norm(q)),
                                               abs=1e-5)


def test_every_filter_uses_a_payload_index(store, corpus):
    # a filtered search narrows candidates through payload indexes, never by a scan
    from interestmap.store.filters import parse_filters
    from interestmap.store.schema import PAYLOAD_INDEXES

    load(store, corpus)
    if store.url != "(client)":  # the in-memory emulation keeps no payload indexes
        assert set(PAYLOAD_INDEXES) <= store.indexed_fields()
    every = {"account": "bob", "language": "en", "media_kind": "video", "labels": "food",
             "audience": 1, "since": "2024-01-01", "until": "2025-01-01",
             "near": {"lat": 0, "lon": 0, "radius_km": 1}, "has_block": "speech"}
    keys = {c.key for c in parse_filters(every).must}
    assert keys <= set(PAYLOAD_INDEXES), keys - set(PAYLOAD_INDEXES)


def test_graph_search_after_optimize_matches_exact_search(tmp_path):
    # past the engine's full-scan size the search walks an HNSW graph over quantised
    # vectors and re-scores its candidates: compare with the exact scan
    c = make_corpus(3000, seed=11)
    settings = StoreSettings(full_scan_kb=10, indexing_threshold_kb=10)
    with IndexStore(path=tmp_path / "q", settings=settings) as s:
        s.create(c["layout"])
        s.upsert_clips(c["ids"], c["fused"], None, None, c["payloads"])
        s.optimize()
        assert s.stats()["indexed_vectors"] == 3000
        rng = np.random.default_rng(2)
        recall = []
        for qi in rng.choice(3000, size=20, replace=False):
            q = c["fused"][qi] + 0.05 * rng.normal(size=c["fused"].shape[1])
            got = [h["id"] for h in s.search_clips(q, k=10)]
            exact = [h["id"] for h in s.search_clips(q, k=10, exact=True)]
            want = [c["ids"][i] for i in cosine_top(c["fused"], q, np.ones(3000, bool), 10)]
            assert exact == want
            recall.append(len(set(got) & set(want)) / 10)
            assert got[0] == c["ids"][qi]
        assert np.mean(recall) >= 0.98


def test_block_search_scores_are_the_block_cosine(store, corpus):
    load(store, corpus)
    q = corpus["blocks"]["caption"][3] + 0.3 * corpus["blocks"]["caption"][4]
    hits = store.search_block("caption", q, k=12, filters={"language": ["en", "es"]})
    unit = corpus["blocks"]["caption"] / np.linalg.norm(corpus["blocks"]["caption"], axis=1,
                                                        keepdims=True)
    cos = unit @ (q / np.linalg.norm(q))
    mask = np.array([p["language"] in ("en", "es") for p in corpus["payloads"]])
    want = [corpus["ids"][i] for i in np.argsort(-np.where(mask, cos, -np.inf))[:12]]
    assert [h["id"] for h in hits] == want
    for h in hits:
        assert h["score"] == pytest.approx(float(cos[corpus["ids"].index(h["id"])]), abs=1e-4)


def test_filters_match_brute_force(store, corpus):
    load(store, corpus)
    p = corpus["payloads"]
    ts = np.array([np.datetime64(x["published_at"].rstrip("Z")) for x in p])
    cases = {
        "account": ({"account": "bob"}, [x["account"] == "bob" for x in p]),
        "accounts": ({"account": ["bob", "carla"]}, [x["account"] != "alice" for x in p]),
        "language": ({"language": "ja"}, [x["language"] == "ja" for x in p]),
        "audience": ({"audience": 2}, [int(x["audience"]) == 2 for x in p]),
        "media_kind": ({"media_kind": ["video", "audio"]},
                       [x["media_kind"] in ("video", "audio") for x in p]),
        "labels": ({"labels": "food"}, ["food" in x["labels"] for x in p]),
        "time": ({"since": "2024-03-01", "until": "2024-06-30T23:59:59Z"},
                 list((ts >= np.datetime64("2024-03-01")) &
                      (ts <= np.datetime64("2024-06-30T23:59:59")))),
        "near": ({"near": {"lat": 38.7, "lon": -9.1, "radius_km": 50}},
                 [x["geo"]["name"] == "Lisbon" for x in p]),
        "has_block": ({"has_block": "speech"}, list(corpus["presence"][:, 2])),
        "combined": ({"account": "alice", "language": "en", "audience": [0, 1]},
                     [x["account"] == "alice" and x["language"] == "en"
                      and int(x["audience"]) in (0, 1) for x in p]),
    }
    q = corpus["fused"][7]
    for name, (flt, mask) in cases.items():
        mask = np.array(mask)
        assert mask.any() and not mask.all(), name
        hits = store.search_clips(q, k=8, filters=flt)
        want = cosine_top(corpus["fused"], q, mask, 8)
        assert [h["id"] for h in hits] == [corpus["ids"][i] for i in want], name
        assert store.count(flt) == int(mask.sum()), name
    excl = store.search_clips(q, k=3, filters={"exclude_ids": [corpus["ids"][7]]})
    assert corpus["ids"][7] not in [h["id"] for h in excl]
    only = store.search_clips(q, k=10, filters={"ids": corpus["ids"][:4]})
    assert sorted(h["id"] for h in only) == sorted(corpus["ids"][:4])
    with pytest.raises(ConfigError, match="unknown filter"):
        store.search_clips(q, filters={"acount": "bob"})
    with pytest.raises(ConfigError, match="not a date"):
        store.search_clips(q, filters={"since": "last tuesday"})


def test_missing_blocks_are_not_stored_as_vectors(store, corpus):
    load(store, corpus)
    speech = BLOCKS.index("speech")
    hits = store.search_block("speech", corpus["blocks"]["speech"][0], k=240)
    have = {corpus["ids"][i] for i in np.flatnonzero(corpus["presence"][:, speech])}
    assert {h["id"] for h in hits} == have  # clips without speech never come back
    ids = corpus["ids"][:20]
    fused, blocks = store.get_clip_vectors(ids)
    np.testing.assert_allclose(fused, corpus["fused"][:20], atol=1e-6)
    for j, b in enumerate(BLOCKS):
        stored = np.linalg.norm(blocks[b], axis=1) > 0
        assert (stored == corpus["presence"][:20, j]).all(), b
        unit = corpus["blocks"][b][:20] / np.linalg.norm(corpus["blocks"][b][:20], axis=1,
                                                         keepdims=True)
        np.testing.assert_allclose(blocks[b][stored], unit[stored], atol=1e-6)
    payload = store.get_clips([ids[0]])[0]
    assert payload["blocks"] == [b for j, b in enumerate(BLOCKS) if corpus["presence"][0, j]]


def test_clip_with_no_content_is_kept_but_never_matches(store):
    c = make_corpus(6, seed=3)
    c["presence"][2] = False
    c["fused"][2] = 0.0
    load(store, c)
    assert store.count() == 6
    assert c["ids"][2] not in [h["id"] for h in store.search_clips(c["fused"][0], k=6)]
    fused, _ = store.get_clip_vectors([c["ids"][2]])
    assert not fused.any()
    with pytest.raises(ConfigError, match="query vector is empty"):
        store.search_clips(np.zeros(c["fused"].shape[1]))


def test_payload_updates_and_unknown_ids(store, corpus):
    load(store, corpus)
    ids = corpus["ids"][:3]
    store.set_payload(ids, [{"audience": np.int64(9), "x": 1.5, "y": -2.0},
                            {"audience": 9, "x": 0.0, "y": 0.0},
                            {"audience": 8, "x": 3.0, "y": 3.0}])
    assert store.count({"audience": 9}) == 2
    got = store.get_clips(ids)
    assert [g["audience"] for g in got] == [9, 9, 8]
    assert got[0]["x"] == 1.5 and got[0]["caption"] == "post 0 #travel"  # others kept
    store.set_payload(ids, {"audience": 7})
    assert store.count({"audience": 7}) == 3
    with pytest.raises(IndexError_, match="not in this index"):
        store.set_payload(["no such clip"], {"audience": 1})
    with pytest.raises(ConfigError, match="id cannot be changed"):
        store.set_payload(ids[:1], [{"id": "renamed"}])
    with pytest.raises(IndexError_, match="not in this index"):
        store.get_clip_vectors([ids[0], "nope"])
    store.delete_clips(ids)
    assert store.count() == len(corpus["ids"]) - 3


def test_audiences_and_topics(store, corpus):
    load(store, corpus)
    rng = np.random.default_rng(5)
    centroids = rng.normal(size=(4, corpus["fused"].shape[1])).astype(np.float32)
    payloads = [{"label": f"audience {i}", "keywords": ["travel", "food"], "size": 60,
                 "top_topics": [{"topic": "travel", "share": 0.5}],
                 "account_shares": {"alice": 0.4, "bob": 0.6},
                 "exemplars": corpus["ids"][i:i + 3]} for i in range(4)]
    store.upsert_audiences(np.arange(4), centroids, payloads)
    hits = store.search_audiences(centroids[2] + 0.01, k=2)
    assert hits[0]["id"] == 2 and hits[0]["payload"]["label"] == "audience 2"
    store.upsert_audiences([0, 1], centroids[:2], payloads[:2])  # a new clustering replaces
    got = store.get_audiences()
    assert [a["id"] for a in got] == [0, 1]
    np.testing.assert_allclose(got[1]["centroid"], centroids[1] / np.linalg.norm(centroids[1]),
                               atol=1e-6)
    tv = rng.normal(size=(3, DIMS["caption"])).astype(np.float32)
    store.upsert_topics(["travel", "food", "music"], tv,
                        [{"name": n, "description": f"posts about {n}"}
                         for n in ("travel", "food", "music")])
    assert store.search_topics(tv[1], k=1)[0]["id"] == "food"
    store.upsert_topics(["gaming"], tv[:1], [{"name": "gaming"}])  # added, not replacing
    assert [t["id"] for t in store.get_topics(with_vectors=False)] == \
        ["food", "gaming", "music", "travel"]
    with pytest.raises(EncoderMismatchError):
        store.search_topics(np.ones(5))


def test_create_refuses_other_encoder_sizes(store, corpus):
    load(store, corpus)
    store.create(corpus["layout"])  # same layout: kept as is
    assert store.count() == 240
    other = FusionLayout(dims={**DIMS, "caption": 32})
    with pytest.raises(IndexError_, match="other sizes"):
        store.create(other)
    store.create(other, recreate=True)
    assert store.count() == 0
    with pytest.raises(EncoderMismatchError, match="index's encoders"):
        store.search_clips(corpus["fused"][0])


def test_scroll_and_arbitrary_string_ids(store):
    c = make_corpus(5, seed=4)
    c["ids"] = ["Ünïcode/ñ id.mp4", "with spaces", "a|b", "1234", "https://x.com/p/1?x=2"]
    load(store, c)
    items = list(store.scroll_clips(with_vectors=True, batch_size=2))
    assert sorted(i["id"] for i in items) == sorted(c["ids"])
    for item in items:
        row = c["ids"].index(item["id"])
        np.testing.assert_allclose(item["fused"], c["fused"][row], atol=1e-6)
        assert set(item["blocks"]) == {b for j, b in enumerate(BLOCKS) if c["presence"][row, j]}
    assert point_id("clip", "1234") == point_id("clip", "1234") != point_id("topic", "1234")
    with pytest.raises(ConfigError, match="given twice"):
        store.upsert_clips(["x", "x"], c["fused"][:2], {}, c["presence"][:2],
                           c["payloads"][:2])


def test_reopen_keeps_data(tmp_path):
    c = make_corpus(30, seed=2)
    with IndexStore(path=tmp_path / "q") as s:
        load(s, c)
    with IndexStore(path=tmp_path / "q") as s:
        assert s.count() == 30
        assert s.search_clips(c["fused"][11], k=1)[0]["id"] == c["ids"][11]
        assert s.get_clips([c["ids"][3]])[0]["published_at"] == "2024-04-04T12:00:00+00:00"


def test_same_folder_shares_one_client_in_a_process(tmp_path):
    c = make_corpus(10, seed=6)
    a = IndexStore(path=tmp_path / "q")
    b = IndexStore(path=tmp_path / "sub" / ".." / "q")  # same folder, other spelling
    assert a._backend is b._backend
    load(a, c)
    assert b.count() == 10
    a.close()
    assert b.count() == 10  # still open for the other user
    b.close()
    with pytest.raises(IndexError_, match="closed"):
        b.count()
    with IndexStore(path=tmp_path / "q") as again:
        assert again.count() == 10


def test_folder_open_in_another_process_is_refused(tmp_path):
    path = tmp_path / "q"
    IndexStore(path=path).close()
    code = textwrap.dedent(f"""
        import sys, time
        from interestmap.store.interface import IndexStore
        s = IndexStore(path={str(path)!r})
        print("open", flush=True)
        time.sleep(60)
    """)
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=REPO, stdout=subprocess.PIPE,
                            text=True, env={**os.environ, "PYTHONPATH": str(REPO)})
    try:
        assert proc.stdout.readline().strip() == "open"
        with pytest.raises(IndexError_, match="open in another program"):
            IndexStore(path=path)
    finally:
        proc.kill()
        proc.wait(timeout=30)
    deadline = time.time() + 10
    while True:  # the lock goes with the process
        try:
            IndexStore(path=path).close()
            break
        except IndexError_:
            if time.time() > deadline:
                raise
            time.sleep(0.2)


def test_constructor_checks():
    with pytest.raises(ConfigError, match="either a folder"):
        IndexStore()
    with pytest.raises(ConfigError, match="either a folder"):
        IndexStore(path="x", url="http://localhost:6333")
    with pytest.raises(ConfigError, match="prefix"):
        IndexStore(url="http://localhost:6333", prefix="bad prefix!")


def test_store_errors_are_plain(tmp_path):
    with IndexStore(path=tmp_path / "empty") as s:
        assert not s.exists()
        with pytest.raises(IndexError_, match="build the index first"):
            s.count()
    s = IndexStore(url="http://127.0.0.1:9", timeout_s=5)  # nothing listens there
    with pytest.raises(IndexError_, match="cannot reach the Qdrant server at "
                                          "http://127.0.0.1:9"):
        s.count()
    s.close()


def test_threads_share_an_embedded_store(tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    c = make_corpus(60, seed=8)
    with IndexStore(path=tmp_path / "q") as s:
        load(s, c)

        def work(i: int) -> str:  # e.g. API requests served from a thread pool
            if i % 4 == 0:
                s.set_payload([c["ids"][i]], {"audience": 99})
            return s.search_clips(c["fused"][i], k=1)[0]["id"]

        with ThreadPoolExecutor(max_workers=6) as pool:
            got = list(pool.map(work, range(60)))
        assert got == c["ids"]
        assert s.count({"audience": 99}) == 15


def test_clip_payload_of_an_encoded_clip_is_searchable(tmp_path):
    from interestmap.clip import Clip, EncodedClip, GeoPoint, Signals
    from interestmap.store.payloads import clip_payload

    c = make_corpus(2, seed=9)
    rows = [{b: c["blocks"][b][i] if c["presence"][i, j] else None
             for j, b in enumerate(BLOCKS)} for i in range(2)]
    encoded = [EncodedClip(
        clip=Clip(media=[Path("/clips/porto.mp4")], caption="Francesinha night #porto",
                  geo="Porto", id="porto-1", account="dana",
                  published_at="2024-06-01T20:00:00+00:00", labels=["food"]),
        signals=Signals(language="pt", geo=GeoPoint(lat=41.15, lon=-8.61, name="Porto",
                                                    country="PT")),
        blocks=rows[0], fused=c["fused"][0], media_kind="video",
        missing={"speech": "no speech was heard"}),
        EncodedClip(clip=Clip(caption="Caption only", id="cap-1", account="dana"),
                    signals=Signals(), blocks=rows[1], fused=c["fused"][1])]
    payloads = [clip_payload(e, audience=np.int64(3), x=np.float32(0.5), y=-1.0)
                for e in encoded]
    assert payloads[0]["geo"] == {"name": "Porto", "lat": 41.15, "lon": -8.61,
                                  "country": "PT"}
    assert payloads[0]["language"] == "pt" and payloads[0]["media"] == ["/clips/porto.mp4"]
    with IndexStore(path=tmp_path / "q") as s:
        s.create(c["layout"])
        s.upsert_clips(["porto-1", "cap-1"], c["fused"], c["blocks"], c["presence"], payloads)
        near = s.search_clips(c["fused"][1], k=5,
                              filters={"near": {"lat": 41.1, "lon": -8.6, "radius_km": 20},
                                       "language": "pt", "since": "2024-06-01"})
        assert [h["id"] for h in near] == ["porto-1"]
        got = s.get_clips(["cap-1"])[0]
        assert got["audience"] == 3 and got["x"] == 0.5 and got["geo"] is None
        assert got["media_kind"] == "none" and got["published_at"] is None
