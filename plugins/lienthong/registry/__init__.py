"""Provincial civil-status registries (SOURCES.md §2): connection and windowed extraction."""
