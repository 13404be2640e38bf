"""The Maestro API service."""
