"""Alembic migrations of the Maestro API (one core revision; the registry adds its own after it)."""
