"""A corpus of clips: read it, encode it once (the encode cache), locally or on Ray."""
