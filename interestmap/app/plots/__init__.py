"""Plotly figures for the app (one module per kind of figure).

Every function takes plain data (clip payloads, ``{name: score}`` mappings) and returns a
``plotly.graph_objects.Figure``; none of them computes anything about clips.
"""
