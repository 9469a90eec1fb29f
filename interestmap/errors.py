"""Errors a user can read: one line, what went wrong and what to do."""

from __future__ import annotations


class InterestmapError(Exception):
    """Base class for every error interestmap raises on purpose.

    The message is one line written for a creator, not an ML engineer.
    """


class MediaError(InterestmapError):
    """A media file cannot be read (missing, empty, corrupt, unsupported, too long)."""


class ConfigError(InterestmapError, ValueError):
    """A setting is missing or has an invalid value (a ``ValueError``, as Python and
    scikit-learn code expect for a bad argument)."""


class MissingDependencyError(InterestmapError):
    """An optional package or system tool that a feature needs is not installed."""


class ModelLoadError(InterestmapError):
    """A model or checkpoint could not be loaded (missing file, broken weights)."""


class EncoderMismatchError(InterestmapError):
    """Vectors made by one encoder are compared with vectors made by another."""


class IndexError_(InterestmapError):
    """An index is missing, half-built, or from an incompatible version."""


class CorpusError(InterestmapError):
    """A corpus (folder or manifest of clips) is missing, empty, or unreadable as a whole."""


class IndexBusyError(IndexError_):
    """An index is open in another program (only one process may open it at a time)."""
