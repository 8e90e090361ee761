"""discover (being built)."""
