"""Relationship types: cold, potential, current, regular (and lapsed) — tracked and reported."""
