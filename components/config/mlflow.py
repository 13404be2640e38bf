"""`maestro:mlflow`: the MLflow tracking server."""

from __future__ import annotations

from pydantic import Field

from components.config.base import EnvironmentDefaults, Model


class MlflowConfig(Model):
    """The MLflow tracking server."""

    replicas: int = Field(ge=1, le=10)
    """Deployment replicas (dev 1, prod 2)."""
    workers: int = Field(default=4, ge=1, le=16)
    """gunicorn sync workers per pod (measured: faster than the default uvicorn bridge)."""


DEFAULTS: EnvironmentDefaults = {"dev": {"replicas": 1}, "prod": {"replicas": 2}}
