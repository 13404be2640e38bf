"""Filters of the maestro.platform collection (the roles call them by their full name).

`maestro_bcrypt(password, seed)`: a bcrypt hash ($2b$) for the HTTP basic auth of Prometheus, Alertmanager and the
exporters (their web config takes bcrypt only). The salt is derived from `seed` (a host and purpose, never the
password), so a second run renders the same file and changes nothing. Filters run on the controller, never on the
hosts; the hash comes from the `bcrypt` library (PyPI `bcrypt`, Debian `python3-bcrypt`), because Python's `crypt`
module is gone from Python 3.13 (Debian 13's) and Ansible's own password_hash needs passlib.
"""

from __future__ import annotations

import hashlib
from typing import Any

_ALPHABET = "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
MIN_ROUNDS = 10
MAX_ROUNDS = 14
MAX_BYTES = 72
"""bcrypt reads at most 72 bytes of a password; a longer one is refused rather than silently cut."""


class MaestroCryptError(ValueError):
    """The input cannot be hashed; the message says which input."""


def maestro_bcrypt(password: Any, seed: Any, rounds: int = 10) -> str:
    """bcrypt of `password` with a 22-character salt derived from `seed`, at cost `rounds` (10-14)."""
    try:
        import bcrypt
    except ImportError as exc:
        raise MaestroCryptError(
            "maestro_bcrypt: the controller's Python needs the bcrypt library (pip install bcrypt, or python3-bcrypt)"
        ) from exc
    if not isinstance(password, str) or not password:
        raise MaestroCryptError("maestro_bcrypt: the password must be a non-empty string")
    if len(password.encode()) > MAX_BYTES:
        raise MaestroCryptError(f"maestro_bcrypt: the password is longer than bcrypt's {MAX_BYTES} bytes")
    if not isinstance(seed, str) or not seed:
        raise MaestroCryptError("maestro_bcrypt: the seed must name the host and purpose")
    if not MIN_ROUNDS <= int(rounds) <= MAX_ROUNDS:
        raise MaestroCryptError(f"maestro_bcrypt: rounds must be {MIN_ROUNDS}-{MAX_ROUNDS}")
    digest = hashlib.sha256(seed.encode()).digest()
    # 21 characters carry 126 bits; the 22nd holds bcrypt's 2 spare bits, which must be zero ('.').
    salt = "".join(_ALPHABET[b % 64] for b in digest[:21]) + "."
    hashed: bytes = bcrypt.hashpw(password.encode(), f"$2b${int(rounds):02d}${salt}".encode())
    return hashed.decode()


class FilterModule:
    """Ansible's entry point for filter plugins."""

    def filters(self) -> dict[str, Any]:
        return {"maestro_bcrypt": maestro_bcrypt}
