"""The Gradio app, a thin skin over the library.

- ``views/``: what each tab shows, as plain functions (one module per tab, plus the
  opened indexes and plain words);
- ``plots/``: the Plotly figures (the map, its density shading, bars, shared style);
- ``map_page.py`` + ``static/map_page.js``: the map's clips described for the page, which
  recolours and filters the map itself;
- ``handlers.py``: Gradio events -> views; ``layout.py``: the components of each tab;
  ``blocks.py``: the app's ``gr.Blocks`` wired together, mounted or launched.
"""
