"""Serving an index: the HTTP API, the server (API + app in one process), the CLI."""
