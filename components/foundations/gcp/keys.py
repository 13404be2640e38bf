"""Cloud KMS: one key ring per environment and one rotating key per purpose, each usable only by the Google service
agent that encrypts with it."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp

from components.foundations.cloud import Scope
from components.foundations.gcp.args import GcpFoundationArgs

# One key per purpose, so each service agent can use only its own key and each key can be revoked alone.
KEY_PURPOSES = ("cluster", "storage", "redis", "disk")
# The Google service agents that encrypt with the keys (service-<project number>@<domain>).
SERVICE_AGENTS: dict[str, str] = {
    "cluster": "container-engine-robot.iam.gserviceaccount.com",
    "storage": "gs-project-accounts.iam.gserviceaccount.com",
    "redis": "cloud-redis.iam.gserviceaccount.com",
    "disk": "compute-system.iam.gserviceaccount.com",
}


@dataclass(frozen=True)
class Keys:
    keys: dict[str, gcp.kms.CryptoKey]
    """The keys by purpose (`KEY_PURPOSES`)."""
    grants: list[pulumi.Resource]
    """Each service agent's grant on its key: a service can encrypt only after it, so dependents wait for these."""


def keys(scope: Scope[GcpFoundationArgs]) -> Keys:
    name, cfg = scope.name, scope.args.config
    ring = gcp.kms.KeyRing(
        f"{name}-keyring",
        project=cfg.project,
        location=cfg.region,
        name=f"maestro-{scope.args.environment}",
        opts=scope.protected,  # key rings cannot be deleted; protect them in prod like the keys
    )
    made = Keys(keys={}, grants=[])
    for purpose in KEY_PURPOSES:
        key = gcp.kms.CryptoKey(
            f"{name}-key-{purpose}",
            key_ring=ring.id,
            name=f"maestro-{purpose}",
            purpose="ENCRYPT_DECRYPT",
            rotation_period=f"{cfg.key_rotation_days * 86400}s",
            version_template={"algorithm": "GOOGLE_SYMMETRIC_ENCRYPTION", "protection_level": "SOFTWARE"},
            labels=scope.tags,
            opts=scope.protected,
        )
        grant = gcp.kms.CryptoKeyIAMMember(
            f"{name}-key-{purpose}-agent",
            crypto_key_id=key.id,
            role="roles/cloudkms.cryptoKeyEncrypterDecrypter",
            member=f"serviceAccount:service-{cfg.project_number}@{SERVICE_AGENTS[purpose]}",
            opts=scope.child,
        )
        made.keys[purpose] = key
        made.grants.append(grant)
    return made
