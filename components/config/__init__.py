"""Typed stack configuration with secure per-environment defaults: a leaf (it imports nothing else of components/).

Only `__main__.py` reads `pulumi.Config`; it hands the raw values to `load_config`, which merges them over the
defaults of the stack's environment, validates them and returns a frozen `MaestroConfig`. Any error is a
`ConfigError` whose message starts with the offending key, e.g. `maestro:postgres.instances: ...`.

Keys (namespace `maestro:`), each an object unless noted, each documented in its module (fields camelCase in the
stack files, snake_case here):

- base.py           `Model` (the one base), `TargetConfig`, `ConfigError`
- stack.py          `MaestroConfig`, `load_config`, `load_restore`, `TOP_LEVEL_KEYS`; `environment`, `cloud`
                    (strings) and `deletionProtection` (bool)
- postgres.py, redis.py, api.py, mlflow.py, images.py, waf.py, observability.py, restore.py, tags.py
                    the platform's objects, each with its per-environment `DEFAULTS`
- aws.py, gcp.py, azure.py, kubernetes.py
                    one per deployment target (`cloud.py`: what GCP and Azure share)
- ports.py          `Ports` and `load_ports`: config/ports.yaml, the port map
"""

from components.config.api import ApiConfig
from components.config.aws import AwsConfig
from components.config.azure import AzureConfig
from components.config.base import ConfigError, Model, TargetConfig
from components.config.gcp import GcpConfig
from components.config.images import ImagesConfig
from components.config.kubernetes import KubernetesConfig
from components.config.mlflow import MlflowConfig
from components.config.observability import ObservabilityConfig
from components.config.ports import Ports, load_ports
from components.config.postgres import POSTGRES_CLUSTER, POSTGRES_TEAM, PostgresConfig
from components.config.redis import RedisConfig
from components.config.restore import RestoreConfig
from components.config.stack import TOP_LEVEL_KEYS, MaestroConfig, load_config, load_restore
from components.config.tags import TagsConfig
from components.config.waf import WafConfig

__all__ = [
    "POSTGRES_CLUSTER",
    "POSTGRES_TEAM",
    "TOP_LEVEL_KEYS",
    "ApiConfig",
    "AwsConfig",
    "AzureConfig",
    "ConfigError",
    "GcpConfig",
    "ImagesConfig",
    "KubernetesConfig",
    "MaestroConfig",
    "MlflowConfig",
    "Model",
    "ObservabilityConfig",
    "Ports",
    "PostgresConfig",
    "RedisConfig",
    "RestoreConfig",
    "TagsConfig",
    "TargetConfig",
    "WafConfig",
    "load_config",
    "load_ports",
    "load_restore",
]
