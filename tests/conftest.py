"""Fixtures the test files share, and the session's guard rails.

- **Real data**: the shared data set in ``../shared/data`` (or ``$INTERESTMAP_DATA``);
  tests that need it skip with a clear message when it is absent.
- **No test writes into the repository's** ``indexes/``: for the whole session
  ``INTERESTMAP_INDEXES`` names a temporary folder (so the built-in default index is
  built there, once per session), and the session fails if ``indexes/`` changed anyway.
- **Indexes and models built once per session** and shared by several files: the
  default index, a small index of 60 real captions, the big mixed build, the X-Topic
  audiences, the topic spaces and the English-trained classifier.

Helpers that are not fixtures (making real media, the X-Topic sample, real clips) live
in ``tests/helpers/``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]
_DEFAULT_DATA = REPO.parent / "shared" / "data"


def data_dir() -> Path | None:
    """The shared real-data folder, or None when it is absent."""
    p = Path(os.environ.get("INTERESTMAP_DATA", _DEFAULT_DATA))
    return p if p.is_dir() else None


@pytest.fixture(scope="session")
def data() -> Path:
    """Path to the real data; skips the test with a clear message when absent."""
    p = data_dir()
    if p is None:
        pytest.skip(f"real data not found at {_DEFAULT_DATA}: set INTERESTMAP_DATA to the "
                    "shared data folder (see ../shared/data/README.md) to run this test")
    return p


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    """Folder for test artifacts (screenshots, rendered fixtures), git-ignored."""
    p = REPO / "test-artifacts"
    p.mkdir(exist_ok=True)
    return p


# The repository's indexes/ stays as it was ---------------------------------------------------
def _listing(folder: Path) -> dict[str, tuple[int, int]]:
    """Every file under ``folder`` (relative path -> size, modification time)."""
    if not folder.is_dir():
        return {}
    out = {}
    for p in folder.rglob("*"):
        try:
            if p.is_file():
                st = p.stat()
                out[str(p.relative_to(folder))] = (st.st_size, st.st_mtime_ns)
        except OSError:  # removed while we looked
            continue
    return out


@pytest.fixture(scope="session", autouse=True)
def session_indexes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The folder of named indexes for this session (``INTERESTMAP_INDEXES``): a temporary
    one, inherited by the servers and CLIs the tests start. Fails the session if a test
    wrote into the repository's ``indexes/`` all the same."""
    repo_indexes = REPO / "indexes"
    before = _listing(repo_indexes)
    root = tmp_path_factory.mktemp("indexes")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("INTERESTMAP_INDEXES", str(root))
        yield root
    after = _listing(repo_indexes)
    if after != before:
        changed = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
        pytest.fail(f"the tests wrote into {repo_indexes} ({len(changed)} file(s) changed, e.g. "
                    f"{', '.join(changed[:5])}): a test must build or open indexes under "
                    "INTERESTMAP_INDEXES or a tmp_path", pytrace=False)


# Indexes ------------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def default_index(session_indexes: Path) -> Iterator[Any]:
    """The embedded default index (the declared-topic atlas), built once per session in
    the session's indexes folder, open for the whole session."""
    from interestmap.index.default import ensure_default_index

    idx = ensure_default_index()
    yield idx
    idx.close()


XTOPIC_PER_LANG = 15


@pytest.fixture(scope="session")
def small_index(data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real index of 60 X-Topic captions (15 each of en, es, gr, ja), three accounts."""
    from interestmap.index.build import build_index

    root = tmp_path_factory.mktemp("app-index")
    rows = []
    for j, lang in enumerate(("en", "es", "gr", "ja")):
        with open(data / "xtopic" / lang / f"{lang}_1000.jsonl", encoding="utf-8") as f:
            for i, line in enumerate(f):
                if i >= XTOPIC_PER_LANG:
                    break
                r = json.loads(line)
                rows.append({"id": f"{lang}-{i}", "account": ["alice", "bob", "cara"][
                    (i + j) % 3], "caption": r["text"], "language": "el" if lang == "gr" else lang,
                    "published_at": f"2024-0{1 + i % 6}-15T12:00:00Z",
                    "labels": r["topics"][:1]})
    manifest = root / "clips.jsonl"
    manifest.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows),
                        encoding="utf-8")
    index_dir = root / "small"
    build_index(manifest, index_dir).close()
    return index_dir


@pytest.fixture(scope="session")
def labelled_index(data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real index of 48 X-Topic captions (en, es) on three topics, one audience per
    topic (``audiences="labels"``): the API and reliability tests serve it."""
    from helpers.corpus import TOPICS, labelled_clips

    from interestmap.index.build import build_index

    d = tmp_path_factory.mktemp("api") / "index"
    with build_index(labelled_clips(data), d, audiences="labels") as built:
        report = built.build_report
    assert report.n_audiences == len(TOPICS)
    return d


@pytest.fixture(scope="session")
def big_build(data: Path, tmp_path_factory: pytest.TempPathFactory
              ) -> Iterator[tuple[SimpleNamespace, Any, list[dict]]]:
    """One build over 4 x 400 X-Topic tweets + 15 photos + 9 sounds: its report, the
    opened index and the manifest rows (the index tests and their quality thresholds)."""
    from helpers.corpus import LANGS, media_rows, write_jsonl, xtopic_tweets

    from interestmap.index.interest_index import InterestIndex

    tmp = tmp_path_factory.mktemp("bigindex")
    rows = [r for lang in LANGS for r in xtopic_tweets(data, lang, 400)]
    rows += media_rows(data, n_scenes=5, n_sounds=3)
    manifest = write_jsonl(tmp / "corpus.jsonl", rows)
    # Built in a fresh process, as `interestmap index build` would: audiences found by
    # UMAP + HDBSCAN can shift with process state left by earlier tests (thread pools).
    code = ("import json; from interestmap.index.build import build_index; "
            f"print(json.dumps(build_index({str(manifest)!r}, {str(tmp / 'index')!r})"
            ".build_report.as_dict()))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=1800, check=True)
    report = SimpleNamespace(**json.loads(out.stdout.strip().splitlines()[-1]))
    idx = InterestIndex.open(tmp / "index")
    yield report, idx, rows
    idx.close()


# Real clips and media -----------------------------------------------------------------------
@pytest.fixture(scope="session")
def encoded_clip(data: Path, default_index: Any) -> Callable[[str], Any]:
    """``encoded_clip("coherent" | "disagreeing")``: that real clip (tests/helpers/clips.py)
    encoded with the default index's encoder, once per session."""
    from helpers.clips import COHERENT, DISAGREEING, clip

    done: dict[str, Any] = {}

    def encoded(which: str) -> Any:
        if which not in done:
            spec = {"coherent": COHERENT, "disagreeing": DISAGREEING}[which]
            done[which] = default_index.encoder.encode(clip(data, spec, which))
        return done[which]

    return encoded


@pytest.fixture(scope="session")
def bunny(data: Path) -> Path:
    """The shared real video with sound (Big Buck Bunny)."""
    p = data / "video" / "bigbuckbunny.mp4"
    if not p.is_file():
        pytest.skip(f"{p} is missing from the shared data")
    return p


# Real posts and the models over them --------------------------------------------------------
@pytest.fixture(scope="session")
def tweets(data: Path) -> Any:
    """300 X-Topic tweets each of en, es, gr and ja with their USE-m3 vectors
    (:class:`helpers.xtopic.Tweets`)."""
    from helpers.xtopic import xtopic

    return xtopic(data)


@pytest.fixture(scope="session")
def fitted(tweets: Any) -> Any:
    """The audiences of ``tweets``: an :class:`~interestmap.learn.clusters.AudienceClusterer`
    fitted on their vectors (test_projection.py has a ``fitted`` map of its own)."""
    from interestmap.learn.clusters import AudienceClusterer

    return AudienceClusterer().fit(tweets.vectors)


@pytest.fixture(scope="session")
def image_encoder() -> Any:
    """The bundled EfficientNet-Lite0 image encoder."""
    from interestmap.encoders.registry import get_image_encoder
    from interestmap.encoders.visual_efficientnet import EfficientNetLite0Image

    enc = get_image_encoder("efficientnet-lite0")
    assert isinstance(enc, EfficientNetLite0Image)
    return enc


@pytest.fixture(scope="session")
def semantics(image_encoder: Any) -> Any:
    """The visual-semantics bridge: ``image_encoder``'s classes read by the default text
    encoder (:class:`~interestmap.encoders.semantics.VisualSemantics`)."""
    from interestmap.encoders.registry import get_text_encoder
    from interestmap.encoders.semantics import VisualSemantics

    return VisualSemantics(image_encoder, get_text_encoder())


@pytest.fixture(scope="session")
def encoder() -> Any:
    """The default text encoder (the routed USE-m3 + e5-small ensemble)."""
    from interestmap.encoders.registry import get_text_encoder

    return get_text_encoder()


@pytest.fixture(scope="session")
def topics() -> Any:
    """The shipped declared-topic atlas (``load_topics()``)."""
    from interestmap.topics.catalog import load_topics

    return load_topics()


@pytest.fixture(scope="session")
def space() -> Any:
    """The shipped atlas as a :class:`~interestmap.topics.catalog.TopicSpace` over USE-m3."""
    from interestmap.encoders.registry import get_text_encoder
    from interestmap.topics.catalog import load_topics
    from interestmap.topics.scoring import TopicSpace

    return TopicSpace(load_topics(), get_text_encoder("use-m3"))


@pytest.fixture(scope="session")
def xtopic_setup(data: Path) -> tuple[Any, Any]:
    """``(space, clf)``: the 10 X-Topic labels as a topic space over USE-m3, and a
    :class:`~interestmap.topics.classifier.TopicClassifier` trained on the 180 English
    X-Topic training posts with that space as its zero-shot prior."""
    from helpers.xtopic import xtopic_split

    from interestmap.encoders.registry import get_text_encoder
    from interestmap.topics.catalog import XTOPIC_LABELS, Topic, xtopic_label
    from interestmap.topics.classifier import TopicClassifier
    from interestmap.topics.scoring import TopicSpace

    text_encoder = get_text_encoder("use-m3")
    names = [Topic(id=x, name=x.title(), description=x.title()) for x in XTOPIC_LABELS]
    space = TopicSpace(names, text_encoder)
    train = xtopic_split(data, "en", "train")
    labels = [[xtopic_label(t) for t in r["topics"]] for r in train]
    clf = TopicClassifier(text_encoder=text_encoder).fit([r["text"] for r in train], labels,
                                                         zero_shot=space)
    return space, clf
