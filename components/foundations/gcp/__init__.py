"""The GCP Foundation: each module creates one concern's resources under `maestro:gcp:Foundation` (a `Scope`).

- foundation.py  `build`: the parts below, in order, and the contract
- args.py        `GcpFoundationArgs`: what the Foundation receives
- network.py     VPC, the nodes' private subnet with secondary ranges and flow logs, Cloud NAT
- keys.py        Cloud KMS key ring and rotating keys, one per purpose, each for its service agent only
- cluster.py     private regional GKE, its node pool and node account, the Kubernetes provider, the CMEK StorageClass
- buckets.py     backup and artifact buckets (retention policy in prod, dual-region), Data Access audit logs
- redis.py       Memorystore (HA, AUTH, TLS, CMEK)
- edge.py        the public edge: GCE Ingress -> ingress-nginx (NEG, BackendConfig with Cloud Armor) -> the API
- waf.py         the Cloud Armor policy and its rules
- identity.py    Workload Identity: one Google service account per Kubernetes service account, one bucket each
"""

from components.foundations.gcp.foundation import build

__all__ = ["build"]
