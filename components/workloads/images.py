"""The API and MLflow images: built from the checkout (the build contexts __main__.py names) and pushed to the
Foundation's registry, or taken from a configured registry. Either way the reference is pinned (a digest after a
build, a tag or digest otherwise)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pulumi
import pulumi_docker_build as docker_build

from components.config import ImagesConfig
from components.foundations.contract import RegistryRef


@dataclass(frozen=True)
class ImageSource:
    """Where an image is built from."""

    context: Path
    """The build context."""
    dockerfile: Path
    """The Dockerfile."""


@dataclass(frozen=True)
class ImagesArgs:
    config: ImagesConfig
    """Validated image settings."""
    registry: RegistryRef | None
    """Where to push when building; None when the Foundation has no registry."""
    api: ImageSource
    """The API's build (app/Dockerfile, from the repository root: the uv workspace and its lock file live there)."""
    mlflow: ImageSource
    """MLflow's build (images/mlflow/)."""


def pinned(repository: str, tag: str) -> str:
    """`repo:tag` or `repo@sha256:...`."""
    return f"{repository}@{tag}" if tag.startswith("sha256:") else f"{repository}:{tag}"


class Images(pulumi.ComponentResource):
    """Exposes `api` and `mlflow`: the image references the Deployments use."""

    api: pulumi.Output[str]
    mlflow: pulumi.Output[str]

    def __init__(self, name: str, args: ImagesArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("maestro:kubernetes:Images", name, None, opts)
        cfg = args.config
        if cfg.build:
            if args.registry is None:
                raise ValueError("maestro:images.build: this Foundation has no registry to push to")
            self.api = self._build(f"{name}-api", args.api, args.registry.api_repository, cfg.api_tag, args.registry)
            self.mlflow = self._build(
                f"{name}-mlflow", args.mlflow, args.registry.mlflow_repository, cfg.mlflow_tag, args.registry
            )
        else:
            assert cfg.registry is not None  # validated in components.config
            self.api = pulumi.Output.from_input(pinned(f"{cfg.registry}/maestro-api", cfg.api_tag))
            self.mlflow = pulumi.Output.from_input(pinned(f"{cfg.registry}/maestro-mlflow", cfg.mlflow_tag))
        self.register_outputs({"api": self.api, "mlflow": self.mlflow})

    def _build(
        self,
        resource_name: str,
        source: ImageSource,
        repository: pulumi.Output[str],
        tag: str,
        registry: RegistryRef,
    ) -> pulumi.Output[str]:
        image = docker_build.Image(
            resource_name,
            context={"location": str(source.context)},
            dockerfile={"location": str(source.dockerfile)},
            platforms=[docker_build.Platform.LINUX_AMD64],
            push=True,
            tags=[repository.apply(lambda r: pinned(r, tag))],
            registries=[{"address": registry.server, "username": registry.username, "password": registry.password}],
            opts=pulumi.ResourceOptions(parent=self),
        )
        # `ref` is `repo@sha256:...` of what was pushed: the Deployment pins the exact bytes that were built.
        ref: pulumi.Output[str] = image.ref
        return ref
