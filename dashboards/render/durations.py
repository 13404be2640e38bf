"""Prometheus durations <-> minutes, for computing promtool evaluation times."""

from __future__ import annotations

import re

_UNITS = {"m": 1, "h": 60, "d": 1440, "w": 10080}
_RE = re.compile(r"(\d+)([mhdw])")


def minutes(duration: str) -> int:
    """Whole minutes of a Prometheus duration made of m/h/d/w parts ("1h30m" -> 90); anything else fails."""
    parts = _RE.findall(duration)
    if not parts or "".join(n + u for n, u in parts) != duration:
        raise ValueError(f"duration {duration!r} is not whole minutes in m/h/d/w units")
    return sum(int(n) * _UNITS[u] for n, u in parts)


def fmt(total_minutes: int) -> str:
    """Minutes as a promtool duration ("90m")."""
    return f"{total_minutes}m"
