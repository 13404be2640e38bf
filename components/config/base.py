"""The one base of every config model, and the error every invalid value raises."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

EnvironmentDefaults = dict[str, dict[str, Any]]
"""Per-environment defaults of one stack object: environment -> camelCase fields merged under the stack's values."""


class ConfigError(ValueError):
    """Invalid stack configuration; the message starts with the config key."""


class Model(BaseModel):
    """A stack-file object: camelCase fields, unknown fields refused, values frozen."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True)


class TargetConfig(Model):
    """The stack object of a deployment target (`maestro:aws`, `maestro:gcp`, `maestro:azure`, `maestro:kubernetes`):
    what its Foundation needs, plus the rules that depend on the rest of the stack."""

    pushes_images: ClassVar[bool] = False
    """Whether the target's Foundation has a registry the program pushes built images to."""
    no_registry: ClassVar[str] = "this target has no registry to push to; set false"
    """Why `images.build` is refused where `pushes_images` is false."""

    def check(self, environment: str, region: str | None) -> None:
        """Rules across the stack; a ValueError whose message starts with the full key below `maestro:` (or with
        another namespace's key, e.g. `aws:region`)."""
