"""Root-cause diagnosis (being built)."""
