"""`maestro:postgres`: the Zalando-operated Patroni cluster."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator, model_validator

from components.config.base import EnvironmentDefaults, Model

# The live cluster's `postgresql` object; the operator wants cluster names prefixed with the team id.
POSTGRES_CLUSTER = "maestro-pg"
POSTGRES_TEAM = "maestro"

_K8S_QUANTITY = re.compile(r"^[0-9]+(\.[0-9]+)?(Ki|Mi|Gi|Ti|m)?$")


class PostgresConfig(Model):
    """The Zalando-operated Patroni cluster."""

    instances: int = Field(ge=1, le=9)
    """Patroni members (dev 1, prod 3)."""
    synchronous: bool
    """Patroni synchronous mode (dev false, prod true); needs at least 2 members."""
    version: Literal["15", "16", "17"] = "16"
    """PostgreSQL major version."""
    volume_size: str = "20Gi"
    """Data volume per member."""
    backup_retention_days: int = Field(ge=1, le=3650)
    """Days of base backups and WAL kept in the backup bucket (dev 7, prod 35)."""
    backup_schedule: str = "0 1 * * *"
    """Cron schedule of WAL-G base backups (UTC)."""
    cpu: str = "500m"
    """CPU request per member (the limit is twice this)."""
    memory: str = "1Gi"
    """Memory request and limit per member."""
    endpoint: Literal["primary", "restore"] = "primary"
    """Which cluster the platform's database URLs (API, MLflow) point at: `primary` (`maestro-pg`) or `restore`
    (the point-in-time clone that `maestro:restore` creates next to it). `maestro restore --stack S --switch`
    sets `restore` once the clone is verified; `restore` needs `maestro:restore`."""

    @field_validator("volume_size", "cpu", "memory")
    @classmethod
    def _quantity(cls, v: str) -> str:
        if not _K8S_QUANTITY.match(v):
            raise ValueError(f"{v!r} is not a Kubernetes quantity (e.g. 500m, 1Gi)")
        return v

    @model_validator(mode="after")
    def _sync_needs_replica(self) -> PostgresConfig:
        if self.synchronous and self.instances < 2:
            raise ValueError("synchronous: synchronous mode needs at least 2 instances")
        return self


# Prod: 3 members with synchronous replication and 35 days of backups.
DEFAULTS: EnvironmentDefaults = {
    "dev": {"instances": 1, "synchronous": False, "backupRetentionDays": 7},
    "prod": {"instances": 3, "synchronous": True, "backupRetentionDays": 35, "cpu": "1", "memory": "4Gi"},
}
