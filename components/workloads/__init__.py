"""The cloud-agnostic workloads. They take only the validated config and the Foundation's contract
(components/foundations/contract.py): no Foundation, no cloud SDK here.

- security.py      Pod Security Standards labels, restricted security contexts, requests/limits
- namespaces.py    the platform's namespaces
- network.py       default-deny NetworkPolicies and the explicit allows between components
- images.py        the API and MLflow images: built and pushed, or taken from a registry; always pinned
- postgres.py      Zalando postgres-operator and the Patroni cluster with WAL-G backups
- redis.py         the in-cluster Redis StatefulSet with AUTH (when the Foundation has no managed Redis)
- mlflow.py        MLflow: migration Job, Deployment, internal Service
- api.py           the Maestro API: migration Job, Deployment, Service, HPA, PDB, ingress with the WAF
- observability.py kube-prometheus-stack, Jaeger, ServiceMonitors, our dashboards and rules

Their components keep the type tokens `maestro:kubernetes:<Name>` (the resources' URNs carry them).
"""
