"""interestmap: see which audiences and declared topics a short clip will reach, before posting."""

__version__ = "0.1.0"
