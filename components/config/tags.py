"""`maestro:tags`: the ownership tags and labels put on every taggable resource."""

from __future__ import annotations

from pydantic import Field

from components.config.base import Model


class TagsConfig(Model):
    """Ownership tags/labels put on every taggable resource (AWS default tags, Kubernetes labels)."""

    owner: str = Field(default="maestro-platform", min_length=1)
    """Team that owns the deployment."""
    cost_center: str = Field(default="maestro", min_length=1)
    """Cost center to bill."""
