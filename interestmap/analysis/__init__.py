"""One clip against an index: analysis, advice, what-if, mirror, competitors."""
