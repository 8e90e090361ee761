"""Verification engine (being built)."""
