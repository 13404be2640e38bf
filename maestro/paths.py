"""Where the checkout's files are: the one place that knows the repository layout."""

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
"""The repository root (this package sits at its top level)."""
