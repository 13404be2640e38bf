"""`maestro:restore`: a point-in-time clone of a backed-up Postgres cluster, created next to the live one."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field, field_validator, model_validator

from components.config.base import Model
from components.config.postgres import POSTGRES_CLUSTER, POSTGRES_TEAM

# A DNS-1035 label, short enough that the operator's derived names (`<cluster>-repl`, `<cluster>-config`, our
# `<cluster>-metrics`) stay within the 63 characters of a Service name.
_CLUSTER_NAME = r"^[a-z]([-a-z0-9]*[a-z0-9])?$"


class RestoreConfig(Model):
    """Disaster recovery: a second Postgres cluster, created as a point-in-time clone of a backed-up one next to
    the live cluster (which stays untouched); `postgres.endpoint` decides which of the two the platform uses."""

    source_cluster: str = Field(pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
    """Name of the cluster whose backups to restore from (e.g. `maestro-pg`)."""
    source_uid: str = Field(pattern=r"^[0-9a-f-]{36}$")
    """Kubernetes UID of the source `postgresql` object (WAL-G's backup path contains it)."""
    timestamp: str
    """Target time, ISO 8601 with a UTC offset, e.g. `2026-11-27T23:00:00+00:00`."""
    cluster_name: str = Field(default="maestro-pg-restore", pattern=_CLUSTER_NAME, max_length=50)
    """Name of the clone's `postgresql` object: a DNS label starting with `maestro-` (the operator's team
    prefix), different from the live cluster `maestro-pg` and from `sourceCluster`."""

    @field_validator("timestamp")
    @classmethod
    def _tz(cls, v: str) -> str:
        try:
            parsed = datetime.fromisoformat(v)
        except ValueError as e:
            raise ValueError(f"{v!r} is not an ISO 8601 timestamp") from e
        if parsed.tzinfo is None:
            raise ValueError("the timestamp needs a UTC offset (e.g. +00:00)")
        return v

    @model_validator(mode="after")
    def _next_to_the_live_cluster(self) -> RestoreConfig:
        if not self.cluster_name.startswith(f"{POSTGRES_TEAM}-"):
            raise ValueError(f"clusterName: must start with {POSTGRES_TEAM}- (the operator's team prefix)")
        if self.cluster_name == POSTGRES_CLUSTER:
            raise ValueError(
                f"clusterName: must differ from the live cluster {POSTGRES_CLUSTER} (the clone is created next to it)"
            )
        if self.cluster_name == self.source_cluster:
            raise ValueError("clusterName: must differ from sourceCluster (the clone is created next to its source)")
        return self
