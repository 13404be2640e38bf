"""The lab's shape: its hosts and their groups, the bridge and subnet, the names, and where its files live."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

import yaml

from maestro.lab.system import LabError
from maestro.paths import ROOT

LAB_DIR = ROOT / ".lab"
"""Everything the lab creates on the outer machine: images, caches, overlays, keys, secrets, endpoints."""
INVENTORY_DIR = ROOT / "ansible" / "inventories" / "lab"
"""The generated (git-ignored) inventory the playbooks run with."""
INVENTORY = INVENTORY_DIR / "hosts.yml"

BRIDGE = "maestro0"
NETWORK = ipaddress.ip_network("10.77.41.0/24")
GATEWAY = "10.77.41.1"
NFT_TABLE = "maestro_lab"
DOMAIN = "maestro.lab"
S3_HOST = f"s3.{DOMAIN}"
# The S3 endpoint is a lab-only service (production points at a real object store), so its port is the lab's own.
S3_PORT = 9443
S3_BUCKETS = ("maestro-backups", "maestro-artifacts")


@dataclass(frozen=True)
class Host:
    """One lab host: its name, address and the inventory groups it belongs to."""

    name: str
    ip: str
    groups: tuple[str, ...]


HOSTS: tuple[Host, ...] = (
    Host("db1", "10.77.41.11", ("etcd", "postgres", "redis")),
    Host("db2", "10.77.41.12", ("etcd", "postgres", "redis")),
    Host("db3", "10.77.41.13", ("etcd", "postgres", "redis")),
    Host("app1", "10.77.41.21", ("haproxy", "mlflow", "api")),
    Host("edge1", "10.77.41.31", ("edge",)),
    Host("mon1", "10.77.41.41", ("monitoring", "grafana", "idp")),
    # Restores and drills go here (`maestro drill`): PostgreSQL and pgBackRest's configuration, no cluster.
    Host("dr1", "10.77.41.51", ("postgres_restore",)),
)


def host_by_name(name: str) -> Host:
    """The lab host called `name`; a LabError lists the hosts when there is none."""
    for h in HOSTS:
        if h.name == name:
            return h
    raise LabError(f"no lab host named {name!r}; hosts: {', '.join(h.name for h in HOSTS)}")


def platform_ports() -> dict[str, int]:
    """The platform's port map (config/ports.yaml), shared by both engines."""
    data: dict[str, int] = yaml.safe_load((ROOT / "config" / "ports.yaml").read_text())
    return data
