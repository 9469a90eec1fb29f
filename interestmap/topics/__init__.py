"""Declared topics: the shipped atlas, zero-shot matching and trained classifiers."""
