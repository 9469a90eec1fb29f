"""Helpers the tests share that are not fixtures: real media made on the fly, the real
X-Topic sample with its vectors, and real clips for the analysis tests. Fixtures live in
``tests/conftest.py``."""
