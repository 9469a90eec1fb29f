"""Where an index's vectors live: one store interface, one backend per file."""
