"""A flood of guessed API keys, as a process of its own (``python -m tests.app.flood URL CLIENTS``): CLIENTS clients
at once, each sending one well-formed key that does not exist; prints their statuses as JSON (0: no HTTP answer).
Its own process, so the flood's client work does not slow down the measuring client (tests/app/core/
test_preauth_flood_servers.py)."""

from __future__ import annotations

import asyncio
import json
import secrets
import string
import sys
from collections import Counter

import httpx

_PREFIX = string.ascii_lowercase + string.digits


def guessed_key() -> str:
    """A well-formed API key that does not exist (the shape passes; only a lookup can tell)."""
    return f"mst_{''.join(secrets.choice(_PREFIX) for _ in range(8))}_{secrets.token_urlsafe(32)}"


async def flood(url: str, clients: int) -> Counter[int]:
    statuses: Counter[int] = Counter()
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=120) as client:

        async def attacker() -> None:
            try:
                r = await client.get("/v1/users", headers={"Authorization": f"Bearer {guessed_key()}"})
                statuses[r.status_code] += 1
            except httpx.HTTPError:
                statuses[0] += 1

        await asyncio.gather(*(attacker() for _ in range(clients)))
    return statuses


if __name__ == "__main__":
    print(json.dumps(asyncio.run(flood(sys.argv[1], int(sys.argv[2])))))
