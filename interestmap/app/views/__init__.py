"""What each tab of the app shows, as plain functions over library calls (one module per tab).

The Gradio layer (:mod:`interestmap.app.handlers`, :mod:`interestmap.app.blocks`) only wires
these to components; they take plain values (an index choice, texts, file paths), return
figures, Markdown and paths, and raise :class:`~interestmap.errors.InterestmapError` with a
one-line message when the user asks for something that cannot be done. Tests call them
directly.
"""
