"""The plain-Kubernetes Foundation (kind, k3s, on-prem): an existing cluster, the WAF in-cluster.

- foundation.py  `build`: the provider of the configured context and the contract (no bucket, no managed Redis)
- edge.py        ingress-nginx with ModSecurity and the OWASP CRS, in a default-deny namespace
"""

from components.foundations.kubernetes.foundation import build

__all__ = ["build"]
