"""Encoder backends behind ``base.py``: one file per model, resolved by name in ``registry.py``.

text: ``text_use`` (default), ``text_e5``, ``text_st`` · image: ``visual_efficientnet``
(default), ``visual_openclip`` · audio: ``audio_aisfx`` (default), ``audio_clap`` ·
``semantics``: images into the text space through the image encoder's labels.
Nothing heavy is imported here; models load on first use.
"""
