"""Casework: shared infrastructure (settings, logging, the embedded stack)."""
