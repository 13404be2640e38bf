"""The tenant-scoped model registry on MLflow: REST client, scoping, SSRF guard, read cache, A/B deployments.

- ``mlflow_client``: pooled, time-bounded MLflow REST client; maps MLflow errors to problem+json.
- ``scoping``: one MLflow workspace per tenant; responses rebuilt from whitelisted fields.
- ``ssrf``: a model version's source must lie under the tenant's artifact root.
- ``cache``: tenant-keyed Redis read cache, invalidated by every write, bounded TTL.
- ``ab``: deterministic weighted routing of keys to deployment variants.
- ``service``: the registry operations the routes call.
- ``deployments``: the deployment table and its service.
"""
