"""`maestro:images`: where the API and MLflow images come from (no per-environment default: a stack names them)."""

from __future__ import annotations

import re

from pydantic import field_validator

from components.config.base import Model

_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")


class ImagesConfig(Model):
    """Where the API and MLflow images come from."""

    build: bool
    """Build app/Dockerfile and images/mlflow/Dockerfile and push them to the Foundation's registry
    (true on clouds). False takes them from `registry`."""
    registry: str | None = None
    """Registry prefix to pull from when `build` is false, e.g. `ghcr.io/acme` (pushes go to the cloud registry)."""
    api_tag: str
    """Tag (or `sha256:` digest) of the API image; `latest` is refused."""
    mlflow_tag: str
    """Tag (or digest) of the MLflow image."""

    @field_validator("api_tag", "mlflow_tag")
    @classmethod
    def _pinned(cls, v: str) -> str:
        if v == "latest":
            raise ValueError("images must be pinned by tag or digest, not 'latest'")
        if not (_TAG.match(v) or _DIGEST.match(v)):
            raise ValueError(f"{v!r} is neither a tag nor a sha256 digest")
        return v
