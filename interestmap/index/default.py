"""Where named indexes live, and the embedded default index (the declared-topic atlas)
that the app, the API and ``interestmap analyze`` open when no index is named."""

from __future__ import annotations

import os
from pathlib import Path

from interestmap.errors import EncoderMismatchError, IndexBusyError, IndexError_
from interestmap.index.build import Progress, build_index
from interestmap.index.interest_index import InterestIndex

DEFAULT_INDEX_NAME = "default"


def indexes_root() -> Path:
    """Folder of named indexes: ``$INTERESTMAP_INDEXES``, else ``indexes/`` of a source
    checkout, else ``~/.cache/interestmap/indexes``."""
    env = os.environ.get("INTERESTMAP_INDEXES")
    if env:
        return Path(env).expanduser()
    repo = Path(__file__).resolve().parents[2]
    if (repo / "pyproject.toml").is_file() and os.access(repo, os.W_OK):
        return repo / "indexes"
    return Path(os.environ.get("INTERESTMAP_HOME", "~/.cache/interestmap")).expanduser() / "indexes"


def ensure_default_index(index_dir: str | Path | None = None,
                         progress: Progress | None = None) -> InterestIndex:
    """Open the embedded default index (the declared-topic atlas), building it first if
    it does not exist yet, was built from another recipe or with other encoders than
    today's defaults, or has no stored topic-example vectors (no corpus needed; one to two
    minutes on two cores, mostly encoding the atlas's example posts;
    ``INTERESTMAP_ATLAS_DATA`` adds real posts, see :mod:`interestmap.index.atlas`)."""
    from interestmap.encoders.pipeline import ClipEncoder
    from interestmap.index.atlas import atlas_clips, atlas_data_dir, atlas_recipe, atlas_sources

    d = Path(index_dir) if index_dir else indexes_root() / DEFAULT_INDEX_NAME
    data = atlas_data_dir()
    recipe = atlas_recipe(data=data)
    encoder = ClipEncoder()
    try:
        idx = InterestIndex.open(d)
    except IndexBusyError:
        raise  # open elsewhere: building it again would not help
    except IndexError_:
        idx = None
    if idx is not None:
        try:
            idx.check_encoder(encoder)
            # an index built before it stored the topic examples' vectors is rebuilt
            # once (from its encode cache), so scoring topics need not encode them
            if (idx.manifest.get("about", {}).get("atlas_recipe") == recipe
                    and idx.topic_example_vectors is not None):
                return idx
        except EncoderMismatchError:
            pass  # built with an older default encoder: the atlas is rebuilt below
        idx.close()
    return build_index(atlas_clips(data=data), d, encoder=encoder, audiences="labels",
                       progress=progress,
                       about={"atlas_recipe": recipe, "sources": atlas_sources(data)})
