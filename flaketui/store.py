"""store (being built)."""
