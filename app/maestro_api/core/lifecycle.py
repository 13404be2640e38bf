"""Extension points for parts built on the core (the registry): readiness checks and lifespan hooks.

A part registers at import time of its routes module::

    from maestro_api.core.lifecycle import register_lifespan, register_readiness_check

    register_readiness_check("mlflow", check_mlflow)   # async def check_mlflow(app: FastAPI) -> None; raise = not ready
    register_lifespan(mlflow_client_lifespan)           # (app: FastAPI) -> async context manager, entered at startup
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fastapi import FastAPI

ReadinessCheck = Callable[["FastAPI"], Awaitable[None]]
LifespanHook = Callable[["FastAPI"], AbstractAsyncContextManager[None]]

READINESS_CHECKS: dict[str, ReadinessCheck] = {}
LIFESPAN_HOOKS: list[LifespanHook] = []


def register_readiness_check(name: str, check: ReadinessCheck) -> None:
    """``/readyz`` runs every registered check; one that raises (or times out) makes the service not ready."""
    READINESS_CHECKS[name] = check


def register_lifespan(hook: LifespanHook) -> None:
    """Entered in registration order after the core's resources (engine, Redis, HTTP client) exist."""
    if hook not in LIFESPAN_HOOKS:
        LIFESPAN_HOOKS.append(hook)
