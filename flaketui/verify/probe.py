"""The probe plugin (being built)."""
