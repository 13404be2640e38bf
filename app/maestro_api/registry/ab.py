"""Deterministic weighted A/B routing: the same key always gets the same variant of a deployment.

A key is hashed with BLAKE2b together with the deployment's id into one of ``BUCKETS`` (10,000) buckets; each
variant owns a contiguous range of ``weight * 100`` buckets, in the deployment's variant order. The hash is
stable across processes and releases (no Python ``hash()``, which is salted per process), so routing is sticky
per key; mixing in the deployment id keeps two deployments' splits independent. Changing weights moves only the
keys whose bucket changes owner.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

BUCKETS = 10_000
TOTAL_WEIGHT = 100
_PER_WEIGHT = BUCKETS // TOTAL_WEIGHT


@dataclass(frozen=True, slots=True)
class Variant:
    """One arm of a deployment."""

    name: str
    weight: int


def validate_weights(weights: Sequence[int]) -> None:
    """Weights are integers 0..100 summing to exactly 100, at least one variant. Raises ValueError otherwise."""
    if not weights:
        raise ValueError("a deployment needs at least one variant")
    if any(not isinstance(w, int) or isinstance(w, bool) or w < 0 or w > TOTAL_WEIGHT for w in weights):
        raise ValueError("weights must be integers between 0 and 100")
    if sum(weights) != TOTAL_WEIGHT:
        raise ValueError(f"weights must sum to 100, not {sum(weights)}")


def bucket(deployment_id: str, key: str) -> int:
    """The key's bucket in 0..BUCKETS-1 for this deployment."""
    digest = hashlib.blake2b(f"{deployment_id}\x00{key}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % BUCKETS


def choose(deployment_id: str, key: str, variants: Sequence[Variant]) -> Variant:
    """The variant serving ``key``."""
    validate_weights([v.weight for v in variants])
    b = bucket(deployment_id, key)
    upper = 0
    for variant in variants:
        upper += variant.weight * _PER_WEIGHT
        if b < upper:
            return variant
    raise AssertionError("weights sum to 100, so the last range ends at BUCKETS")  # pragma: no cover
