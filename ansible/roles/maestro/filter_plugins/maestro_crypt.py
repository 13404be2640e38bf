"""Filters every Maestro role can use (each depends on the maestro role).

`maestro_bcrypt(password, seed)`: a bcrypt hash ($2b$) for the HTTP basic auth of Prometheus, Alertmanager and the
exporters (their web config takes bcrypt only). The salt is derived from `seed` (a host and purpose, never the
password), so a second run renders the same file and changes nothing. Hashing uses the controller's crypt(3)
(libxcrypt on Debian) through Python's `crypt` module, present up to Python 3.12: Ansible's own password_hash needs
passlib, which the controller does not have.
"""

from __future__ import annotations

import hashlib
import warnings
from typing import Any

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import crypt

_ALPHABET = "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
MIN_ROUNDS, MAX_ROUNDS = 10, 14


class MaestroCryptError(ValueError):
    """The input cannot be hashed; the message says which input."""


def maestro_bcrypt(password: Any, seed: Any, rounds: int = 10) -> str:
    """bcrypt of `password` with a 22-character salt derived from `seed`, at cost `rounds` (10-14)."""
    if not isinstance(password, str) or not password:
        raise MaestroCryptError("maestro_bcrypt: the password must be a non-empty string")
    if not isinstance(seed, str) or not seed:
        raise MaestroCryptError("maestro_bcrypt: the seed must name the host and purpose")
    if not MIN_ROUNDS <= int(rounds) <= MAX_ROUNDS:
        raise MaestroCryptError(f"maestro_bcrypt: rounds must be {MIN_ROUNDS}-{MAX_ROUNDS}")
    digest = hashlib.sha256(seed.encode()).digest()
    # 21 characters carry 126 bits; the 22nd holds bcrypt's 2 spare bits, which must be zero ('.').
    salt = "".join(_ALPHABET[b % 64] for b in digest[:21]) + "."
    hashed = crypt.crypt(password, f"$2b${int(rounds):02d}${salt}")
    if not hashed or not hashed.startswith("$2b$"):
        raise MaestroCryptError("maestro_bcrypt: this controller's crypt(3) has no bcrypt")
    return hashed


class FilterModule:
    """Ansible's entry point for filter plugins."""

    def filters(self) -> dict[str, Any]:
        return {"maestro_bcrypt": maestro_bcrypt}
