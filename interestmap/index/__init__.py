"""An index: build it from a corpus, open it, and its folder's manifest."""
