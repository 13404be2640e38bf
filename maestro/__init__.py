"""Maestro operator tooling: the operator CLI, offline preview and the lab."""
