"""codemod (being built)."""
